"""The operator's deployment files (deploy/systemd, deploy/slurm, deploy/kubernetes, deploy/ROCE.md)
checked against the real `tandem` binary ($TANDEM_BIN):

* every `tandem SUBCOMMAND --flag` they run (systemd Exec lines, the Slurm script, the
  LeaderWorkerSet's container scripts, shell blocks in ROCE.md and the systemd README) exists in
  `tandem SUBCOMMAND --help`;
* `systemd-analyze verify` accepts each unit (binary path pointed at the real build), and the
  units agree with how `tandem up` and `tandem gateway` start, reload and stop;
* the Slurm script passes `bash -n` and runs end to end with stand-ins for scontrol/srun/mpirun
  (`tandem up` in --dry-run), producing a topology `tandem topology check` accepts;
* the Kubernetes manifest parses, has the LeaderWorkerSet shape Tandem needs, its leader script
  renders a valid topology from LWS_LEADER_ADDRESS, and its probe paths are answered by a running
  gateway.
Nothing here needs root, systemd as PID 1, Slurm or Kubernetes.
"""
import json
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tandemkit import ROOT, free_port, http_status, tandem_bin, wait_http

DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
UNITS = sorted(SYSTEMD.glob("*.service"))
CLUSTER_UNIT = SYSTEMD / "tandem-cluster@.service"
GATEWAY_UNIT = SYSTEMD / "tandem-gateway.service"
SBATCH = DEPLOY / "slurm" / "tandem.sbatch"
SLURM_TEMPLATE = DEPLOY / "slurm" / "topology.template.yaml"
LWS = DEPLOY / "kubernetes" / "tandem-lws.yaml"
ROCE = DEPLOY / "ROCE.md"
SYSTEMD_README = SYSTEMD / "README.md"
INSTALLED_BIN = "/opt/tandem/bin/tandem"
MODELS_DIR = Path(os.environ.get("TANDEM_MODELS_DIR", ROOT / "models"))
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
KEYS_EXAMPLE = ROOT / "gateway" / "keys.example.json"

needs_model = pytest.mark.skipif(not (MODELS_DIR / MODEL_FILE).exists(),
                                 reason=f"default model missing at {MODELS_DIR / MODEL_FILE} (deploy/fetch-model.sh)")


# ---------------------------------------------------------------------------------------------
# The binary and its --help


@pytest.fixture(scope="session")
def tandem():
    path = str(Path(tandem_bin()).resolve())
    if not os.access(path, os.X_OK):
        pytest.fail(f"tandem binary not found or not executable: {path} (set TANDEM_BIN)")
    return path


_help_cache = {}


def cli_help(tandem, path):
    """(flags, subcommands) of `tandem PATH... --help`, or None when that command does not exist."""
    key = tuple(path)
    if key not in _help_cache:
        r = subprocess.run([tandem, *path, "--help"], capture_output=True, text=True, errors="replace", timeout=30)
        if r.returncode != 0:
            _help_cache[key] = None
        else:
            text = r.stdout
            flags = set(re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)", text))
            subs = set()
            if "SUBCOMMANDS:" in text:
                block = text.split("SUBCOMMANDS:", 1)[1]
                subs = set(re.findall(r"^  ([a-z][a-z0-9-]*)", block, flags=re.M))
            _help_cache[key] = (flags, subs)
    return _help_cache[key]


def check_invocation(tandem, args):
    """Problems with `tandem ARGS...`: unknown subcommand path or unknown --flags."""
    top = cli_help(tandem, [])
    assert top is not None, "tandem --help failed"
    path, rest = [], list(args)
    subs = top[1]
    while rest and subs:
        word = rest[0]
        if word not in subs:
            return [f"unknown subcommand {' '.join(path + [word])!r} (tandem {' '.join(path)} has: {', '.join(sorted(subs))})"]
        path.append(rest.pop(0))
        info = cli_help(tandem, path)
        if info is None:
            return [f"`tandem {' '.join(path)} --help` fails"]
        subs = info[1]
    if not path:
        return [f"no subcommand in tandem {' '.join(args)}"]
    flags = cli_help(tandem, path)[0]
    problems = []
    for token in rest:
        if token.startswith("--") and len(token) > 2:
            name = token.split("=", 1)[0]
            if name not in flags:
                problems.append(f"`tandem {' '.join(path)}` has no option {name} (it has {', '.join(sorted(flags))})")
    return problems


# ---------------------------------------------------------------------------------------------
# Finding `tandem ...` command lines in units, shell scripts, manifests and Markdown


def is_operator(token):
    return bool(token) and all(c in "();<>|&" for c in token)


def is_tandem(token):
    return token in ("$TANDEM_BIN", "${TANDEM_BIN}") or os.path.basename(token) == "tandem"


def shell_tokens(line):
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    # `#` starts a comment at a word boundary in bash but anywhere in shlex: keep `${x#y}` quoted.
    lexer.commenters = "#"
    return list(lexer)


def invocations_in_tokens(tokens, command_first=False):
    """Argument lists following each `tandem` (or $TANDEM_BIN) command word, up to a shell operator.
    Every tandem command starts with a subcommand word, so a tandem path followed by an option, a
    path or nothing is an argument of something else (`--tandem-bin /opt/tandem/bin/tandem
    --ready-timeout 600`, `install .../tandem /opt/tandem/bin/tandem`, `--run-dir /var/run/tandem`,
    `useradd ... tandem`); so is the bare word `tandem` right after an option (`sudo -u tandem
    ssh ...`). With command_first (systemd Exec lines) argv[0] is a command whatever follows."""
    found = []
    for i, token in enumerate(tokens):
        if not is_tandem(token):
            continue
        rest = []
        for t in tokens[i + 1:]:
            if is_operator(t):
                break
            rest.append(t)
        if command_first and i == 0:
            found.append(rest)
            continue
        if token == "tandem" and i > 0 and tokens[i - 1].startswith("-") and not is_operator(tokens[i - 1]):
            continue
        if rest and re.fullmatch(r"[a-z][a-z0-9-]*", rest[0]):  # a subcommand-like word
            found.append(rest)
    return found


def shell_lines(script):
    """Logical lines of a shell script: continuations joined, comment lines dropped."""
    script = re.sub(r"\\\n", " ", script)
    return [l for l in script.splitlines() if l.strip() and not l.lstrip().startswith("#")]


def script_invocations(script, where):
    found = []
    for line in shell_lines(script):
        try:
            tokens = shell_tokens(line)
        except ValueError as e:
            pytest.fail(f"{where}: cannot tokenise {line!r}: {e}")
        found += [(where, line.strip(), args) for args in invocations_in_tokens(tokens)]
    return found


def unit_entries(path):
    """[(section, key, value)] of a systemd unit, in order (keys may repeat)."""
    entries, section = [], None
    text = re.sub(r"\\\n", " ", path.read_text())
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def unit_values(path, key, section="Service"):
    return [v for s, k, v in unit_entries(path) if s == section and k == key]


def exec_argv(value):
    """An Exec*= value as argv, without systemd's prefix characters (@ - : + !)."""
    value = value.lstrip("@-:+!|")
    return shlex.split(value)


def unit_invocations(path):
    found = []
    for section, key, value in unit_entries(path):
        if section == "Service" and key.startswith("Exec"):
            argv = exec_argv(value)
            found += [(f"{path.name} {key}", value, args) for args in invocations_in_tokens(argv, command_first=True)]
    return found


def lws_docs():
    return list(yaml.safe_load_all(LWS.read_text()))


def lws_doc(kind):
    docs = [d for d in lws_docs() if d and d.get("kind") == kind]
    assert len(docs) == 1, f"{LWS.name}: expected one {kind}, found {len(docs)}"
    return docs[0]


def pod_containers(lws, role):
    return lws["spec"]["leaderWorkerTemplate"][f"{role}Template"]["spec"]["containers"]


def container_script(container):
    """The shell script a container runs (`bash -c SCRIPT`), or its argv joined."""
    command = list(container.get("command", [])) + list(container.get("args", []))
    if len(command) >= 3 and os.path.basename(command[0]) in ("bash", "sh") and command[1] == "-c":
        return command[2]
    return shlex.join(command)


def manifest_invocations():
    lws = lws_doc("LeaderWorkerSet")
    found = []
    for role in ("leader", "worker"):
        for c in pod_containers(lws, role):
            found += script_invocations(container_script(c), f"{LWS.name} {role} container {c['name']}")
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                command = c.get(probe, {}).get("exec", {}).get("command")
                if command:
                    found += [(f"{LWS.name} {role} {probe}", shlex.join(command), a) for a in invocations_in_tokens(command)]
    return found


def markdown_invocations(path):
    found = []
    for block in re.findall(r"^```(?:sh|bash|shell)\n(.*?)^```", path.read_text(), flags=re.M | re.S):
        found += script_invocations(block, path.name)
    return found


INVOCATION_SOURCES = {
    **{u.name: (lambda u=u: unit_invocations(u)) for u in UNITS},
    SBATCH.name: lambda: script_invocations(SBATCH.read_text(), SBATCH.name),
    LWS.name: manifest_invocations,
    ROCE.name: lambda: markdown_invocations(ROCE),
    "systemd/README.md": lambda: markdown_invocations(SYSTEMD_README),
}


@pytest.mark.parametrize("source", sorted(INVOCATION_SOURCES))
def test_every_tandem_subcommand_and_flag_exists(tandem, source):
    invocations = INVOCATION_SOURCES[source]()
    assert invocations, f"{source}: no `tandem ...` command found (the parser or the file changed)"
    problems = []
    for where, line, args in invocations:
        problems += [f"{where}: {p}\n    in: {line}" for p in check_invocation(tandem, args)]
    assert not problems, "\n".join(problems)


def test_the_files_run_the_commands_they_are_for():
    def subcommands(invocations):
        return {" ".join(a[:2]) if a[0] == "topology" else a[0] for _, _, a in invocations}

    assert subcommands(unit_invocations(CLUSTER_UNIT)) >= {"up", "topology check"}
    assert subcommands(unit_invocations(GATEWAY_UNIT)) >= {"gateway"}
    assert subcommands(script_invocations(SBATCH.read_text(), SBATCH.name)) >= {
        "up", "topology check", "topology hostfile", "probe", "comm-check"}
    assert subcommands(manifest_invocations()) >= {"up", "topology check"}
    assert subcommands(markdown_invocations(ROCE)) >= {"probe", "comm-check"}


# ---------------------------------------------------------------------------------------------
# systemd


def systemd_analyze():
    exe = shutil.which("systemd-analyze") or ("/usr/bin/systemd-analyze" if os.path.exists("/usr/bin/systemd-analyze") else None)
    if not exe:
        pytest.skip("systemd-analyze is not installed")
    return exe


@pytest.fixture(scope="session")
def verify_works(tmp_path_factory):
    """systemd-analyze verify must run here and must report a bad key; otherwise its silence
    would prove nothing."""
    exe = systemd_analyze()
    d = tmp_path_factory.mktemp("verify-probe")
    good = d / "tandem-probe-good.service"
    good.write_text("[Unit]\nDescription=probe\n[Service]\nType=exec\nExecStart=/bin/true\n")
    r = subprocess.run([exe, "verify", "--man=no", str(good)], capture_output=True, text=True, errors="replace", timeout=60)
    if r.returncode != 0 or str(good) in r.stderr:
        pytest.skip(f"systemd-analyze verify cannot run in this container: {r.stderr.strip()[:300]}")
    bad = d / "tandem-probe-bad.service"
    bad.write_text("[Unit]\nDescription=probe\n[Service]\nType=exec\nExecStart=/bin/true\nNoSuchKey=1\n")
    r = subprocess.run([exe, "verify", "--man=no", str(bad)], capture_output=True, text=True, errors="replace", timeout=60)
    if "NoSuchKey" not in r.stderr:
        pytest.skip(f"systemd-analyze verify does not report unknown keys here: {r.stderr.strip()[:300]}")
    return exe


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_analyze_verify(verify_works, tandem, unit, tmp_path):
    text = unit.read_text()
    assert INSTALLED_BIN in text, f"{unit.name} should run {INSTALLED_BIN}"
    # /opt/tandem/bin/tandem does not exist here: point the unit at the real build, and verify a
    # concrete instance of a template (only instances get their executables checked).
    name = unit.name.replace("@.service", "@two-node.service")
    copy = tmp_path / name
    copy.write_text(text.replace(INSTALLED_BIN, tandem))
    r = subprocess.run([verify_works, "verify", "--man=no", str(copy)], capture_output=True, text=True, errors="replace", timeout=60)
    ours = [l for l in (r.stdout + r.stderr).splitlines() if name in l or str(tmp_path) in l]
    assert r.returncode == 0 and not ours, f"systemd-analyze verify {unit.name} (exit {r.returncode}):\n" + "\n".join(ours or [r.stderr])


def supervisor_stop_seconds():
    """How long `tandem up` may take to stop after SIGTERM: Supervisor.stopAll's grace, then its
    wait after SIGKILL (read from the source, so a change there fails this test)."""
    src = (ROOT / "Sources" / "TandemTopology" / "Supervisor.swift").read_text()
    grace = re.search(r"func stopAll\(grace: Double = (\d+(?:\.\d+)?)\)", src)
    hard = re.search(r"let hard = Date\(\)\.addingTimeInterval\((\d+(?:\.\d+)?)\)", src)
    assert grace and hard, "Supervisor.stopAll changed shape; update this test"
    return float(grace.group(1)) + float(hard.group(1))


def seconds(value):
    m = re.fullmatch(r"(\d+)\s*(s|sec|min|m)?", value)
    assert m, f"unsupported time span {value!r}"
    return int(m.group(1)) * (60 if m.group(2) in ("min", "m") else 1)


def common_unit_checks(unit):
    assert "network-online.target" in " ".join(unit_values(unit, "After", "Unit")), f"{unit.name}: After=network-online.target"
    assert "network-online.target" in " ".join(unit_values(unit, "Wants", "Unit")), f"{unit.name}: Wants=network-online.target"
    assert unit_values(unit, "User") and unit_values(unit, "User")[0] not in ("", "root"), f"{unit.name}: User= (not root)"
    assert unit_values(unit, "Restart") == ["on-failure"], f"{unit.name}: Restart=on-failure"
    assert unit_values(unit, "RestartSec"), f"{unit.name}: RestartSec="
    assert "multi-user.target" in unit_values(unit, "WantedBy", "Install"), f"{unit.name}: WantedBy=multi-user.target"
    assert "PrivateDevices=yes" not in unit.read_text() or unit == GATEWAY_UNIT, f"{unit.name}: PrivateDevices hides /dev/infiniband"


def test_cluster_unit_matches_how_tandem_up_runs_and_stops():
    unit = CLUSTER_UNIT
    common_unit_checks(unit)
    [start] = unit_values(unit, "ExecStart")
    argv = exec_argv(start)
    assert argv[:3] == [INSTALLED_BIN, "up", "/etc/tandem/%i.yaml"], argv
    # The run directory (logs, hostfiles, gateway.json) must be writable under the hardening:
    # inside the unit's StateDirectory.
    run_dir = argv[argv.index("--run-dir") + 1]
    states = " ".join(unit_values(unit, "StateDirectory")).split()
    assert any(run_dir.startswith(f"/var/lib/{s}/") for s in states), f"--run-dir {run_dir} is not under StateDirectory={states}"
    # The deployments must run the same path on every node, not this node's resolved /proc/self/exe.
    assert argv[argv.index("--tandem-bin") + 1] == INSTALLED_BIN
    # Refuse a broken topology before starting anything.
    assert any(exec_argv(v)[:4] == [INSTALLED_BIN, "topology", "check", "/etc/tandem/%i.yaml"]
               for v in unit_values(unit, "ExecStartPre")), "ExecStartPre=... topology check /etc/tandem/%i.yaml"
    # RDMA pins memory.
    assert unit_values(unit, "LimitMEMLOCK") == ["infinity"]
    # SIGTERM to `tandem up` only; it stops its process groups itself, then systemd may SIGKILL.
    assert unit_values(unit, "KillMode") == ["mixed"]
    assert unit_values(unit, "KillSignal") in ([], ["SIGTERM"])
    stop = supervisor_stop_seconds()
    assert seconds(unit_values(unit, "TimeoutStopSec")[0]) > stop, f"TimeoutStopSec must exceed tandem up's {stop:.0f} s stop"
    # `tandem up` applies an edited topology on SIGHUP (e2e/test_topology_up.py): a reload sends it
    # to `tandem up` alone, not to the deployments' process groups.
    src = (ROOT / "Sources" / "tandem" / "Commands" / "UpCommand.swift").read_text()
    assert "signal(SIGHUP) { _ in reloadSignal = 1 }" in src, "UpCommand's SIGHUP handling changed; revisit ExecReload"
    assert [exec_argv(v) for v in unit_values(unit, "ExecReload")] == [["/bin/kill", "-HUP", "$MAINPID"]]
    env = " ".join(unit_values(unit, "Environment"))
    assert "TANDEM_THREADS=" in env and "TANDEM_MODELS_DIR=" in env
    # Ranks on the other node get only what mpirun exports.
    exported = re.search(r"OMPI_MCA_mca_base_env_list=([^\"\s]+)", env)
    assert exported and "TANDEM_THREADS" in exported.group(1).split(";")


def test_gateway_unit_matches_how_tandem_gateway_runs():
    unit = GATEWAY_UNIT
    common_unit_checks(unit)
    [start] = unit_values(unit, "ExecStart")
    argv = exec_argv(start)
    assert argv[:2] == [INSTALLED_BIN, "gateway"]
    config = argv[argv.index("--config") + 1]
    assert any(exec_argv(v) == [INSTALLED_BIN, "gateway", "--config", config, "--check"]
               for v in unit_values(unit, "ExecStartPre")), "ExecStartPre=... gateway --config SAME --check"
    # The gateway reloads on SIGHUP (gateway/README.md).
    [reload] = unit_values(unit, "ExecReload")
    assert "-HUP" in reload and "$MAINPID" in reload
    assert seconds(unit_values(unit, "TimeoutStopSec")[0]) >= 10


def materialise(argv, mapping):
    """argv with /opt, /etc and /var/lib paths mapped into the test's directories."""
    out = []
    for a in argv:
        for src, dst in mapping:
            a = a.replace(src, dst)
        out.append(a)
    return out


def two_node_copy(etc):
    """topology/two-node.yaml as /etc/tandem/two-node.yaml would be: keys file beside it."""
    etc.mkdir(parents=True, exist_ok=True)
    shutil.copy(KEYS_EXAMPLE, etc / "keys.json")
    text = (ROOT / "topology" / "two-node.yaml").read_text().replace("../gateway/keys.example.json", "keys.json")
    assert "keys_file: keys.json" in text
    (etc / "two-node.yaml").write_text(text)
    return etc / "two-node.yaml"


@needs_model
def test_cluster_unit_exec_lines_run_against_two_node_yaml(tandem, tmp_path):
    etc, state = tmp_path / "etc", tmp_path / "state"
    two_node_copy(etc)
    mapping = [("%i", "two-node"), ("/etc/tandem/", f"{etc}/"), ("/var/lib/", f"{state}/")]
    env = {**os.environ, "TANDEM_MODELS_DIR": str(MODELS_DIR)}
    for value in unit_values(CLUSTER_UNIT, "ExecStartPre"):
        argv = materialise(exec_argv(value), mapping)
        argv[0] = tandem
        r = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=120, env=env)
        assert r.returncode == 0, f"ExecStartPre {value}:\n{r.stdout}{r.stderr}"
    argv = materialise(exec_argv(unit_values(CLUSTER_UNIT, "ExecStart")[0]), mapping)
    argv[0] = tandem
    r = subprocess.run(argv + ["--dry-run", "--node", "spark"], capture_output=True, text=True, errors="replace", timeout=120, env=env)
    assert r.returncode == 0, f"ExecStart --dry-run:\n{r.stdout}{r.stderr}"
    run_dir = f"{state}/tandem/two-node"
    assert f"# run directory: {run_dir}" in r.stdout
    assert f"--hostfile {run_dir}/hostfile-smollm2" in r.stdout
    # Every process it would start runs the installed path (--tandem-bin), the same on spark and dark.
    assert f"-np 2 {INSTALLED_BIN} serve --model {MODELS_DIR / MODEL_FILE}" in r.stdout
    assert f"{INSTALLED_BIN} gateway --config {run_dir}/gateway.json" in r.stdout


def wait_status(url, proc, log, want=lambda s: True, timeout=30.0):
    """The first status URL answers (want(status) true) while PROC runs; fails the test with the log otherwise."""
    try:
        return wait_http(url, timeout=timeout, proc=proc, log=log, ok=want, request_timeout=15.0)
    except RuntimeError as e:
        pytest.fail(str(e))


def gateway_config(tandem, topology, dest, port):
    """`tandem topology gateway-config` of TOPOLOGY, listening on 127.0.0.1:PORT, written to DEST."""
    r = subprocess.run([tandem, "topology", "gateway-config", str(topology)], capture_output=True, text=True, errors="replace", timeout=120,
                       env={**os.environ, "TANDEM_MODELS_DIR": str(MODELS_DIR)})
    assert r.returncode == 0, r.stderr
    config = json.loads(r.stdout)
    config["listen"] = {"host": "127.0.0.1", "port": port}
    dest.write_text(json.dumps(config))
    return dest


@needs_model
def test_gateway_unit_starts_reloads_and_stops_as_declared(tandem, tmp_path):
    """ExecStartPre (--check) passes on a generated config; ExecStart serves /health; the
    ExecReload signal (SIGHUP) keeps it serving; SIGTERM stops it with status 0 within
    TimeoutStopSec (a non-zero status would make Restart=on-failure restart a stopped unit)."""
    etc = tmp_path / "etc"
    port = free_port()
    gateway_config(tandem, two_node_copy(etc), etc / "gateway.json", port)
    mapping = [("/etc/tandem/", f"{etc}/")]
    for value in unit_values(GATEWAY_UNIT, "ExecStartPre"):
        argv = materialise(exec_argv(value), mapping)
        argv[0] = tandem
        r = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=60)
        assert r.returncode == 0, f"ExecStartPre {value}:\n{r.stdout}{r.stderr}"
    argv = materialise(exec_argv(unit_values(GATEWAY_UNIT, "ExecStart")[0]), mapping)
    argv[0] = tandem
    log = tmp_path / "gateway.log"
    proc = subprocess.Popen(argv, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_status(f"{base}/health", proc, log) == 200
        assert "-HUP" in unit_values(GATEWAY_UNIT, "ExecReload")[0]
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert proc.poll() is None, f"gateway exited on SIGHUP:\n{log.read_text()}"
        assert wait_status(f"{base}/health", proc, log) == 200
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=seconds(unit_values(GATEWAY_UNIT, "TimeoutStopSec")[0]))
        assert code == 0, f"gateway exit status {code} after SIGTERM:\n{log.read_text()}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


# ---------------------------------------------------------------------------------------------
# Slurm


def test_sbatch_is_valid_bash_with_the_right_allocation():
    r = subprocess.run(["bash", "-n", str(SBATCH)], capture_output=True, text=True, errors="replace", timeout=30)
    assert r.returncode == 0, r.stderr
    text = SBATCH.read_text()
    directives = dict(re.findall(r"^#SBATCH\s+--([a-z-]+)(?:=(\S+))?", text, flags=re.M))
    assert directives.get("nodes") == "2"
    assert directives.get("ntasks-per-node") == "1"
    assert "exclusive" in directives
    assert "SLURM_JOB_NODELIST" in " ".join(shell_lines(text)), "the hostfile must come from the job's nodes"
    last = shell_lines(text)[-1].strip()
    assert last.startswith("exec ") and " up " in last, f"the script should end by becoming `tandem up`: {last}"


def write_exe(path, body):
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@needs_model
def test_sbatch_runs_end_to_end_with_stand_ins_for_slurm(tandem, tmp_path):
    """The script with scontrol/srun/mpirun/hostname stand-ins and `tandem up` in --dry-run:
    it renders a topology from SLURM_JOB_NODELIST that the binary accepts, runs the preflight,
    and the generated mpirun puts rank 0 on the batch node and rank 1 on the other."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.log"
    write_exe(bin_dir / "scontrol", f'[ "$1 $2" = "show hostnames" ] && [ "$3" = "gx[07-08]" ] && printf "gx07\\ngx08\\n" && exit 0\necho "scontrol $*" >&2; exit 1\n')
    write_exe(bin_dir / "hostname", 'echo gx08\n')  # the batch runs on the second node: the script must swap
    write_exe(bin_dir / "srun", f'echo "srun $*" >> {calls}\n')
    write_exe(bin_dir / "mpirun", f'echo "mpirun $*" >> {calls}\n')
    wrapper = write_exe(bin_dir / "tandem-wrapper",
                        f'echo "tandem $*" >> {calls}\nif [ "$1" = up ]; then exec {tandem} "$@" --dry-run; fi\nexec {tandem} "$@"\n')
    run_dir = tmp_path / "run"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_NODELIST": "gx[07-08]",
           "SLURM_JOB_ID": "42", "SLURM_SUBMIT_DIR": str(tmp_path), "TANDEM_BIN": str(wrapper),
           "TANDEM_TEMPLATE": str(SLURM_TEMPLATE), "TANDEM_KEYS_FILE": str(KEYS_EXAMPLE),
           "TANDEM_MODELS_DIR": str(MODELS_DIR), "TANDEM_RUN_DIR": str(run_dir), "TANDEM_IFACE": "enp1s0f0np0"}
    r = subprocess.run(["bash", str(SBATCH)], capture_output=True, text=True, errors="replace", timeout=180, env=env, cwd=tmp_path)
    assert r.returncode == 0, f"tandem.sbatch failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    topology = (run_dir / "topology.yaml").read_text()
    assert "@" not in re.sub(r"#.*", "", topology), "a placeholder was left in the rendered topology"
    assert (run_dir / "hostfile").read_text() == "gx08 slots=1\ngx07 slots=1\n"
    log = calls.read_text()
    assert re.search(r"^tandem topology check ", log, flags=re.M)
    assert re.search(r"^srun .*--ntasks-per-node=1 .*probe$", log, flags=re.M), log
    assert re.search(rf"^mpirun .*--hostfile {run_dir}/hostfile .*-np 2 \S+ comm-check --transport mpi", log, flags=re.M), log
    assert re.search(r"^tandem up \S+ --node node0 ", log, flags=re.M), log
    # `tandem up --dry-run`'s plan: rank 0 (coordinator) on the batch node gx08.
    assert "#   gx08 slots=1\n#   gx07 slots=1" in r.stdout, r.stdout
    # Rank 0 shares its node with the gateway: the coordinator listens on loopback only.
    assert "serve --model" in r.stdout and "--host 127.0.0.1 --port 8102" in r.stdout, r.stdout


# ---------------------------------------------------------------------------------------------
# Kubernetes (LeaderWorkerSet)


def test_lws_manifest_structure():
    docs = [d for d in lws_docs() if d]
    kinds = [d["kind"] for d in docs]
    for kind in ("ConfigMap", "LeaderWorkerSet", "Service"):
        assert kind in kinds, f"{LWS.name} has no {kind}"
    lws = lws_doc("LeaderWorkerSet")
    assert lws["apiVersion"] == "leaderworkerset.x-k8s.io/v1"
    spec = lws["spec"]
    template = spec["leaderWorkerTemplate"]
    assert template["size"] == 2, "leader (rank 0) + one worker (rank 1)"
    # MPI cannot replace one rank of a running job: recreate the group.
    assert template.get("restartPolicy") == "RecreateGroupOnPodRestart"
    # The leader only gets ready once rank 1 runs in the worker: the worker must not wait for it.
    assert spec.get("startupPolicy", "LeaderCreated") == "LeaderCreated"

    [leader] = pod_containers(lws, "leader")
    [worker] = pod_containers(lws, "worker")
    for role, c in (("leader", leader), ("worker", worker)):
        assert "IPC_LOCK" in c.get("securityContext", {}).get("capabilities", {}).get("add", []), f"{role}: IPC_LOCK"
        assert c.get("resources", {}).get("requests") and c["resources"].get("limits"), f"{role}: resources"
    script = container_script(leader)
    assert "LWS_LEADER_ADDRESS" in script, "the leader finds the ranks from LWS_LEADER_ADDRESS"

    # The topology ConfigMap is mounted in the leader where its script reads it.
    cm = lws_doc("ConfigMap")
    leader_spec = template["leaderTemplate"]["spec"]
    volumes = {v["name"]: v for v in leader_spec["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in leader["volumeMounts"]}
    cm_volumes = [n for n, v in volumes.items() if v.get("configMap", {}).get("name") == cm["metadata"]["name"]]
    assert cm_volumes, "the topology ConfigMap is not a volume of the leader pod"
    assert any(n in mounts for n in cm_volumes), "the topology ConfigMap volume is not mounted in the leader container"
    mount = next(mounts[n] for n in cm_volumes if n in mounts)
    assert any(f"{mount}/{key}" in script for key in cm["data"]), f"the leader script reads no file of {mount}"
    for v in volumes.values():
        for ref in ("configMap", "secret"):
            if ref in v:
                name = v[ref].get("name") or v[ref].get("secretName")
                defined = [d for d in docs if d["kind"] == ("ConfigMap" if ref == "configMap" else "Secret")
                           and d["metadata"]["name"] == name]
                assert defined or name == "tandem-ssh", f"volume {v['name']} refers to undefined {ref} {name}"

    # The Service reaches the leader pods' gateway port, which is the topology's gateway port.
    topology = yaml.safe_load(next(iter(cm["data"].values())).replace("@", "x"))
    gateway_port = topology["gateway"]["listen"]["port"]
    ports = {p["name"]: p["containerPort"] for p in leader["ports"]}
    service = lws_doc("Service")
    selector = service["spec"]["selector"]
    assert selector.get("leaderworkerset.sigs.k8s.io/name") == lws["metadata"]["name"]
    assert selector.get("leaderworkerset.sigs.k8s.io/worker-index") == "0", "only leaders run the gateway"
    [sp] = service["spec"]["ports"]
    target = sp["targetPort"]
    assert ports.get(target, target) == gateway_port, f"Service targetPort {target} is not the gateway's {gateway_port}"
    for probe in ("readinessProbe", "livenessProbe"):
        get = leader[probe]["httpGet"]
        assert ports.get(get["port"], get["port"]) == gateway_port, f"{probe} does not probe the gateway port"
    assert leader["readinessProbe"]["httpGet"]["path"] == "/ready", "readiness = every model's coordinator answers"


def gateway_routes():
    text = "".join(p.read_text() for p in (ROOT / "Sources" / "TandemAPI").rglob("*.swift"))
    return set(re.findall(r'router\.get\("([^"]+)"\)', text))


def simulate_leader_pod(tmp_path, tandem, leader_address):
    """Runs the leader container's script as the pod would: volumes materialised under tmp_path,
    ssh answering, `tandem up` in --dry-run. Returns (completed process, rendered topology path)."""
    lws = lws_doc("LeaderWorkerSet")
    [leader] = pod_containers(lws, "leader")
    volumes = {v["name"]: v for v in lws["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["volumes"]}
    docs = {(d["kind"], d["metadata"]["name"]): d for d in lws_docs() if d}
    root = tmp_path / "pod"
    paths = []  # (absolute path in the pod, path here), longest first
    for m in leader["volumeMounts"]:
        here = root / m["mountPath"].lstrip("/")
        here.mkdir(parents=True, exist_ok=True)
        paths.append((m["mountPath"], str(here)))
        v = volumes[m["name"]]
        data = {}
        if "configMap" in v:
            data = docs[("ConfigMap", v["configMap"]["name"])].get("data", {})
        elif "secret" in v and ("Secret", v["secret"]["secretName"]) in docs:
            data = docs[("Secret", v["secret"]["secretName"])].get("stringData", {})
        for key, value in data.items():
            (here / key).write_text(value)
    paths.append(("/tmp/", f"{root}/tmp/"))
    (root / "tmp").mkdir(exist_ok=True)
    paths.sort(key=lambda p: -len(p[0]))

    pattern = re.compile("|".join(re.escape(p) for p, _ in paths))
    lookup = dict(paths)

    def localise(text):  # one pass: replaced text (under /tmp itself) is not rewritten again
        return pattern.sub(lambda m: lookup[m.group(0)], text)

    for pod_path, here in paths:  # files from ConfigMaps/Secrets may name other mounted paths
        for f in Path(here).glob("*"):
            if f.is_file():
                f.write_text(localise(f.read_text()))
    (root / "opt/tandem/models").mkdir(parents=True, exist_ok=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    write_exe(bin_dir / "ssh", "exit 0\n")
    wrapper = write_exe(bin_dir / "tandem",
                        f'if [ "$1" = up ]; then exec {tandem} "$@" --dry-run; fi\nexec {tandem} "$@"\n')
    script = localise(container_script(leader)).replace(INSTALLED_BIN, str(wrapper))
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "LWS_LEADER_ADDRESS": leader_address,
           "LWS_GROUP_SIZE": "2", "LWS_WORKER_INDEX": "0"}
    for e in leader.get("env", []):
        if "value" in e:
            env[e["name"]] = str(e["value"])
    env["TANDEM_MODELS_DIR"] = str(MODELS_DIR)  # the hostPath volume, here
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, errors="replace", timeout=180, env=env, cwd=tmp_path)
    rendered = [Path(localise(t)) for t in re.findall(r"> (\S+\.yaml)", container_script(leader))]
    return r, rendered


@needs_model
def test_lws_leader_script_renders_a_topology_tandem_accepts(tandem, tmp_path):
    r, rendered = simulate_leader_pod(tmp_path, tandem, "tandem-0.tandem.default")
    assert r.returncode == 0, f"leader script failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    assert rendered and rendered[0].exists()
    topology = yaml.safe_load(rendered[0].read_text())
    hosts = {n["name"]: n["host"] for n in topology["nodes"]}
    assert hosts == {"leader": "tandem-0.tandem.default", "worker": "tandem-0-1.tandem.default"}, hosts
    # `tandem up --dry-run`: rank 0 on the leader pod, rank 1 on the worker pod, gateway local.
    assert "#   tandem-0.tandem.default slots=1\n#   tandem-0-1.tandem.default slots=1" in r.stdout, r.stdout
    assert "--host 127.0.0.1 --port 8102" in r.stdout  # rank 0 shares the leader pod with the gateway
    assert "# local nodes: leader" in r.stdout


@needs_model
def test_lws_probe_paths_are_served_by_the_gateway(tandem, tmp_path):
    """Each httpGet probe path is a gateway route (Sources/TandemAPI) and a gateway built from
    the manifest's own topology answers it (not 404)."""
    lws = lws_doc("LeaderWorkerSet")
    probes = []
    for role in ("leader", "worker"):
        for c in pod_containers(lws, role):
            for name in ("startupProbe", "readinessProbe", "livenessProbe"):
                if "httpGet" in c.get(name, {}):
                    probes.append((f"{role} {name}", c[name]["httpGet"]["path"]))
    assert probes
    routes = gateway_routes()
    assert routes, "no router.get routes found in Sources/TandemAPI"
    for where, path in probes:
        assert path in routes, f"{where} probes {path}, which the gateway does not serve ({sorted(routes)})"

    r, rendered = simulate_leader_pod(tmp_path, tandem, "localhost")
    assert r.returncode == 0, r.stderr
    port = free_port()
    config = gateway_config(tandem, rendered[0], tmp_path / "gateway.json", port)
    log = tmp_path / "gateway.log"
    proc = subprocess.Popen([tandem, "gateway", "--config", str(config)], stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_status(f"http://127.0.0.1:{port}/health", proc, log)
        for where, path in probes:
            status = http_status(f"http://127.0.0.1:{port}{path}", timeout=15.0)
            assert status is not None and status != 404, f"{where}: GET {path} -> {status}"
            if path == "/health":
                assert status == 200
            if path == "/ready":  # no coordinator runs here: not ready, but answered
                assert status == 503
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
