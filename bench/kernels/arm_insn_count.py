"""Instructions per 32-value block in the hot loops of the AArch64 GEMV kernels, counted from the
generated assembly (speed cannot be timed without Arm hardware), next to llama.cpp's NEON dot
products for the same formats when its sources are in .peer/ (bench/peer/build_llamacpp.sh
unpacks them).

How it counts: each file is compiled with aarch64-linux-gnu-gcc -O3 (Tandem: the package's flags,
no -march, the dot-product kernels carry their own target attribute; llama.cpp: -march=armv8-a for
its plain-NEON branch, armv8.2-a+dotprod for its sdot branch) and disassembled with
aarch64-linux-gnu-objdump -d. In each kernel function, a loop is a backward branch and the
instructions from its target to it; the hot loop is the innermost loop that holds the kernel's
signature instruction (sdot, smull/smlal, fcvtl or ucvtf, fmla) and advances the weight pointer by
the expected stride (checked: an `add` of that many bytes, or a post-indexed load, is in the loop). Instructions per block =
loop length x 32 / values per iteration (the stride in values). Per-row and per-call work (x
quantisation, the horizontal sum) is not counted: it is O(cols) per call or O(1) per row.

Usage: python3 bench/kernels/arm_insn_count.py [--markdown]
"""
import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KERNELS = ROOT / "Sources" / "CTandemKernels"
CC, OBJDUMP = "aarch64-linux-gnu-gcc", "aarch64-linux-gnu-objdump"

# (function, values per loop iteration, weight bytes the loop advances by, signature mnemonics)
TANDEM = {
    "fp8_e4m3": {"neon": ("tk__gemv_fp8_neon", 16, 16, {"fcvtl", "fcvtl2"}), "dotprod": None},
    "q4_1": {"neon": ("tk__gemv_q4_1_neon", 32, 20, {"ucvtf"}), "dotprod": None},
    "q8_0": {"neon": ("tk__gemv_q8_0_int16_neon", 64, 68, {"smlal", "smlal2"}), "dotprod": None},
    "q4_0": {"neon": ("tk__gemv_q4_0_int_neon", 64, 36, {"smull", "smlal"}),
             "dotprod": ("tk__gemv_q4_0_int_dot", 64, 36, {"sdot"})},
    "mxfp4": {"neon": ("tk__gemv_mxfp4_int_neon", 64, 34, {"smull", "smlal"}),
              "dotprod": ("tk__gemv_mxfp4_int_dot", 64, 34, {"sdot"})},
    "nvfp4": {"neon": ("tk__gemv_nvfp4_int_neon", 64, 32, {"smull", "smlal"}),
              "dotprod": ("tk__gemv_nvfp4_int_dot", 64, 32, {"sdot"})},
}
# llama.cpp's ggml_vec_dot_<w>_<x> (x quantised to int8 per 32, Q8_0 or Q8_1 blocks): function,
# bytes and values per weight block (its NVFP4 is ggml's own layout: 4 E4M3 scales + 32 bytes per 64).
LLAMA = {
    "q4_0": ("ggml_vec_dot_q4_0_q8_0", 18, 32), "q4_1": ("ggml_vec_dot_q4_1_q8_1", 20, 32),
    "q8_0": ("ggml_vec_dot_q8_0_q8_0", 34, 32), "mxfp4": ("ggml_vec_dot_mxfp4_q8_0", 17, 32),
    "nvfp4": ("ggml_vec_dot_nvfp4_q8_0", 36, 64),
}
LLAMA_SIGNATURE = {"neon": {"smull", "smlal", "smull2", "smlal2", "saddlp", "sadalp"}, "dotprod": {"sdot"}}


def disassemble(src, flags, out):
    obj = Path(out) / (src.stem + "-" + str(abs(hash(tuple(flags)))) + ".o")
    subprocess.run([CC, "-O3", "-fno-math-errno", *flags, "-c", str(src), "-o", str(obj)], check=True)
    text = subprocess.run([OBJDUMP, "-d", "--no-show-raw-insn", str(obj)], check=True, capture_output=True, text=True).stdout
    funcs, name = {}, None
    for line in text.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if m:
            name = m.group(1)
            funcs[name] = []
            continue
        m = re.match(r"^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$", line)
        if m and name:
            funcs[name].append((int(m.group(1), 16), m.group(2), m.group(3)))
    return funcs


def loops(insns):
    """(start, end) index pairs of backward branches within the function."""
    index = {a: i for i, (a, _, _) in enumerate(insns)}
    found = []
    for i, (addr, op, args) in enumerate(insns):
        if op == "b" or op.startswith("b.") or op in ("cbnz", "cbz", "tbnz", "tbz"):
            m = re.match(r"([0-9a-f]+) <", args.split(",")[-1].strip())
            if m and int(m.group(1), 16) < addr and int(m.group(1), 16) in index:
                found.append((index[int(m.group(1), 16)], i))
    return found


def hot_loop(insns, signature, stride):
    """The innermost loop holding a signature instruction and an add of `stride` bytes."""
    best = None
    for s, e in loops(insns):
        body = insns[s:e + 1]
        ops = {op for _, op, _ in body}
        strides = any((op == "add" or op.startswith("ld")) and re.search(rf"#(0x{stride:x}|{stride})\b", args)
                      for _, op, args in body)
        nested = any(s < s2 and e2 <= e and (s2, e2) != (s, e) for s2, e2 in loops(insns))
        if ops & signature and strides and not nested and (best is None or e - s > best[1] - best[0]):
            best = (s, e)
    return None if best is None else best[1] - best[0] + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    ours = disassemble(KERNELS / "gemv_neon.c", [f"-I{KERNELS / 'include'}"], tmp)
    quants = next(iter(sorted((ROOT / ".peer").glob("llama_cpp_python-*/vendor/llama.cpp/ggml/src/ggml-cpu/arch/arm/quants.c"))), None)
    theirs = {}
    if quants:
        ggml = quants.parents[4]
        inc = [f"-I{ggml / 'include'}", f"-I{ggml / 'src'}", f"-I{ggml / 'src' / 'ggml-cpu'}"]
        theirs["neon"] = disassemble(quants, ["-march=armv8-a", *inc], tmp)
        theirs["dotprod"] = disassemble(quants, ["-march=armv8.2-a+dotprod", *inc], tmp)
    rows = []
    for fmt, paths in TANDEM.items():
        row = [fmt]
        for path in ("neon", "dotprod"):
            spec = paths[path] or paths["neon"]
            fn, values, stride, sig = spec
            n = hot_loop(ours[fn], sig, stride)
            row.append("?" if n is None else f"{n * 32 / values:.1f}" + ("" if paths[path] else " (same kernel)"))
        for path in ("neon", "dotprod"):
            if fmt in LLAMA and path in theirs and LLAMA[fmt][0] in theirs[path]:
                fn, block, values = LLAMA[fmt]
                insns = theirs[path][fn]
                # llama.cpp unrolls two blocks per iteration for most formats: find its stride.
                for blocks in (2, 1, 4):
                    n = hot_loop(insns, LLAMA_SIGNATURE[path], blocks * block)
                    if n is not None:
                        row.append(f"{n * 32 / (values * blocks):.1f}")
                        break
                else:
                    row.append("?")
            else:
                row.append("-")
        rows.append(row)
    header = ["format", "Tandem NEON", "Tandem dotprod", "llama.cpp NEON (armv8-a)", "llama.cpp dotprod"]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        for r in [header, *rows]:
            print("  ".join(f"{c:>26}" for c in r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
