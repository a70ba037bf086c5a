"""The AArch64 GEMV kernels (Sources/CTandemKernels/gemv_neon.c) run for real: the kernel C sources
and e2e/arm/kernel_check.c cross-compiled with aarch64-linux-gnu-gcc and run under qemu's user-mode
emulator, on a CPU model with every feature (-cpu max: the int8 GEMM through smmla), on one with
the dot product but not I8MM (-cpu cortex-a76: the same GEMM through sdot, which must give the same
bits) and on one without the dot product (-cpu cortex-a57). kernel_check compares every Arm path (GEMV, the prefill GEMM, the step attention over f32 and FP8
K/V) with the portable path and with float64 references (its header states the tolerances). A second build with TK_TEST_BREAK_LANE (each Arm
kernel negates one lane) must fail for every kernel, so the check is shown to catch a broken lane.

On an AArch64 host the same program is built with the native compiler and run directly.
deploy/install-deps.sh installs the cross compiler and qemu on x86-64; without them the tests skip,
except under CI, where they fail.
"""
import os
import platform
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KERNELS = ROOT / "Sources" / "CTandemKernels"
CHECK = ROOT / "e2e" / "arm" / "kernel_check.c"
NATIVE = platform.machine() in ("aarch64", "arm64")
CC = "cc" if NATIVE else "aarch64-linux-gnu-gcc"
QEMU = "qemu-aarch64-static"
FORMATS = ["fp8_e4m3", "q4_1", "q8_0", "q4_0", "mxfp4", "nvfp4", "q4_k", "q5_k", "q6_k", "q2_k", "q3_k", "iq4_nl"]
# kernel_check's lines per path: the GEMV kernel and the GEMM of each format, the step attention
# over an f32 and an FP8 K/V cache.
KERNELS_PER_PATH = FORMATS + [f"gemm_{f}" for f in FORMATS] + ["attention", "attention_fp8"]
BROKEN = ("gemv_neon", "gemm_neon", "gemm_int_neon", "attention_neon", "attention_fp8_neon")
CFLAGS = ["-O2", "-fno-math-errno", "-Wall", f"-I{KERNELS / 'include'}"]


def _tools_missing():
    return [t for t in ([CC] if NATIVE else [CC, QEMU]) if shutil.which(t) is None]


@pytest.fixture(scope="module")
def binaries(tmp_path_factory):
    missing = _tools_missing()
    if missing:
        reason = f"{', '.join(missing)} not installed (deploy/install-deps.sh installs them on x86-64)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("arm")
    sources = sorted(KERNELS.glob("*.c"))

    def compile_one(args):
        src, obj, extra = args
        r = subprocess.run([CC, *CFLAGS, *extra, "-c", str(src), "-o", str(obj)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{src.name}: {r.stderr[-3000:]}"
        return obj

    jobs = [(s, out / f"{s.stem}.o", []) for s in sources]
    jobs += [(KERNELS / f"{b}.c", out / f"{b}_broken.o", ["-DTK_TEST_BREAK_LANE"]) for b in BROKEN]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        objs = list(pool.map(compile_one, jobs))
    good_objs = [str(o) for o in objs[:len(sources)]]
    broken_objs = [str(o) for o in objs if o.stem not in BROKEN]  # the *_broken objects in their place
    built = {}
    for name, objects in (("check", good_objs), ("check_broken", broken_objs)):
        exe = out / name
        r = subprocess.run([CC, *CFLAGS, str(CHECK), *objects, "-lm", "-lpthread", "-static", "-o", str(exe)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-3000:]
        built[name] = exe
    return built


def run_check(exe, cpu="max", seed=0):
    cmd = [str(exe), str(seed)] if NATIVE else [QEMU, "-cpu", cpu, str(exe), str(seed)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    kernels = dict(re.findall(r"^kernel (\S+): (\S+)$", r.stdout, re.M))
    return r, kernels


def field(stdout, name):
    m = re.search(rf"^{name}: (.*)$", stdout, re.M)
    assert m, stdout
    return m.group(1)


@pytest.mark.parametrize("seed", [0, 1])
def test_every_arm_path_matches_portable_and_references(binaries, seed):
    r, kernels = run_check(binaries["check"], "max", seed)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    paths = ["neon", "dotprod"] if not NATIVE or "dotprod" in field(r.stdout, "features").split() else ["neon"]
    assert kernels == {**{f"{p}/{f}": "ok" for p in paths for f in KERNELS_PER_PATH},
                       **({} if "dotprod" in paths else {"dotprod/refused": "ok"})}, r.stdout
    assert re.search(r"^\d+ passed, 0 failed$", r.stdout, re.M)
    if not NATIVE:  # qemu's max CPU has the dot product (and i8mm, BF16, SVE2)
        assert {"asimd", "dotprod", "i8mm"} <= set(field(r.stdout, "features").split())
        assert field(r.stdout, "best path") == "dotprod"


@pytest.mark.skipif(NATIVE, reason="picks CPU models through qemu")
def test_the_smmla_gemm_gives_the_bits_of_the_sdot_gemm(binaries):
    # -cpu max has FEAT_I8MM: the dot-product path's int8 GEMM runs smmla; a Cortex-A76 has the dot
    # product without it: the same path runs sdot. Both pass every check, and their GEMM outputs
    # (digests of the bits, same seed) are equal.
    r_max, k_max = run_check(binaries["check"], "max", 3)
    r_a76, k_a76 = run_check(binaries["check"], "cortex-a76", 3)
    for r in (r_max, r_a76):
        assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "i8mm" in field(r_max.stdout, "features").split()
    assert field(r_a76.stdout, "features").split() == ["asimd", "dotprod"]
    assert k_a76 == k_max and set(k_max.values()) == {"ok"}
    digests = lambda out: dict(re.findall(r"^digest (\S+): (\S+)$", out, re.M))
    d_max, d_a76 = digests(r_max.stdout), digests(r_a76.stdout)
    assert {f"dotprod/gemm_{f}" for f in ("q4_0", "mxfp4", "nvfp4")} <= set(d_max)
    assert d_max == d_a76


@pytest.mark.skipif(NATIVE, reason="picks a CPU model through qemu")
def test_cpu_without_dot_product_runs_neon_and_refuses_dotprod(binaries):
    r, kernels = run_check(binaries["check"], "cortex-a57")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert field(r.stdout, "features").split() == ["asimd"]
    assert field(r.stdout, "best path") == "neon"
    assert field(r.stdout, "path dotprod") == "not supported"
    assert kernels == {**{f"neon/{f}": "ok" for f in KERNELS_PER_PATH}, "dotprod/refused": "ok"}, r.stdout


def test_a_broken_lane_fails_every_kernel(binaries):
    r, kernels = run_check(binaries["check_broken"], "max")
    assert r.returncode == 1, r.stdout[-4000:]
    paths = [p for p in ("neon", "dotprod") if f"{p}/q4_0" in kernels]
    assert "neon" in paths
    run = {k: v for k, v in kernels.items() if not k.endswith("/refused")}
    assert run == {f"{p}/{f}": "FAIL" for p in paths for f in KERNELS_PER_PATH}, r.stdout
