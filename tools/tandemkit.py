"""Helpers shared by the end-to-end tests (e2e/) and the benchmark scripts (bench/): find the
`tandem` binary, pick a free port, start a process and wait until it is ready, stop it, and the
mpirun flags every local tensor-parallel launch uses. Also the two processes they all drive: a
`tandem serve` deployment and a `tandem gateway`.

Standard library only at import time (httpx, openai and prometheus_client are imported by the
methods that need them), so a bench script runs without the test dependencies.

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    from tandemkit import Deployment, free_port, tandem_bin

From a shell: `python3 tools/tandemkit.py free-port`, `python3 tools/tandemkit.py tandem-bin`.

Environment: TANDEM_BIN (the binary; else `$(swift build --show-bin-path)/tandem`),
TANDEM_SMOLLM2_PATH (default models/SmolLM2-135M-Instruct.Q4_1.gguf), TANDEM_STORIES260K_DIR
(default ../shared/models/stories260K; the file is stories260K.bin in it).
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Paths of the two models the tests and benches use (strings: they go on command lines as they are).
SMOLLM2 = os.environ.get("TANDEM_SMOLLM2_PATH", os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
STORIES260K = os.path.join(os.environ.get("TANDEM_STORIES260K_DIR", os.path.join(ROOT, "..", "shared", "models", "stories260K")),
                           "stories260K.bin")

# mpirun as every local launch here runs it: as root too, more ranks than cores, no pinning, and
# ranks that yield while they wait (2 cores shared by ranks, clients and the gateway).
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "--mca", "mpi_yield_when_idle", "1"]
MPI_BTL = "self,vader,tcp"  # shared memory and TCP, never a fabric that is not there


def tandem_bin():
    """$TANDEM_BIN, else `tandem` in `swift build --show-bin-path` (no build is started)."""
    env = os.environ.get("TANDEM_BIN")
    if env:
        return env
    out = subprocess.run(["swift", "build", "--show-bin-path"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return str(Path(out.stdout.strip()) / "tandem")


def generate_json(model, prompt, max_tokens, *extra, timeout=300):
    """`tandem generate --json` of PROMPT on MODEL (EXTRA: more generate options), parsed."""
    out = subprocess.run([tandem_bin(), "generate", "--model", model, "--prompt", prompt, "--max-tokens", str(max_tokens),
                          "--json", *extra], capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"tandem generate failed ({out.returncode}): {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (another process may take it before use)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mpirun_argv(ranks, *options, btl=MPI_BTL):
    """`mpirun` with MPIRUN's flags, `--mca btl BTL` (none with btl=None), OPTIONS, then `-np RANKS`:
    put the program's argv after it."""
    argv = list(MPIRUN)
    if btl:
        argv += ["--mca", "btl", btl]
    return argv + list(options) + ["-np", str(ranks)]


def http_status(url, timeout=1.0):
    """The status of GET url (an error status too), or None when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, http.client.HTTPException):  # refused, reset, timed out (URLError is an OSError)
        return None


def answered(status):
    """wait_http's default readiness: an answer that is not a server error."""
    return status < 500


def log_text(log, tail=None):
    """The text of the log file LOG (its last TAIL characters), '' when there is none."""
    if log is None:
        return ""
    try:
        text = Path(log).read_text(errors="replace")
    except OSError:
        return ""
    return text[-tail:] if tail else text


def wait_http(url, timeout=20.0, proc=None, log=None, ok=answered, interval=0.1, request_timeout=1.0, tail=None, name="process"):
    """Polls GET url every INTERVAL s until ok(status); returns that status. Raises RuntimeError
    with the log file LOG (its last TAIL characters) when PROC exits first or TIMEOUT s pass."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}: {log_text(log, tail)}")
        status = http_status(url, timeout=request_timeout)
        if status is not None and ok(status):
            return status
        time.sleep(interval)
    raise RuntimeError(f"{url} did not come up within {timeout}s: {log_text(log, tail)}")


def wait_log(log, text, proc=None, timeout=300.0, interval=0.5, tail=None, name="process"):
    """Waits until the log file LOG holds TEXT; returns the log. Raises RuntimeError with the log
    when PROC exits first or TIMEOUT s pass."""
    deadline = time.time() + timeout
    while True:
        out = log_text(log)
        if text in out:
            return out
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log_text(log, tail)}")
        if time.time() >= deadline:
            raise RuntimeError(f"{name} not ready in time ({timeout}s):\n{log_text(log, tail)}")
        time.sleep(interval)


def start(argv, log, url=None, text=None, timeout=20.0, ok=answered, interval=None, tail=None, name=None,
          request_timeout=1.0, stop_timeout=20, **popen):
    """Starts ARGV with stdout and stderr to the file LOG and returns the Popen once it is ready:
    URL answers ok(status) (wait_http), or LOG holds TEXT (wait_log); neither: at once. When it
    exits first or is not ready within TIMEOUT s it is stopped (its process group with
    start_new_session=True) and RuntimeError carries the log. POPEN goes to subprocess.Popen."""
    name = name or os.path.basename(str(argv[0]))
    with open(log, "w") as f:  # the child holds its own descriptor
        proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, **popen)
    try:
        if url is not None:
            wait_http(url, timeout=timeout, proc=proc, log=log, ok=ok, interval=interval or 0.1,
                      request_timeout=request_timeout, tail=tail, name=name)
        elif text is not None:
            wait_log(log, text, proc=proc, timeout=timeout, interval=interval or 0.5, tail=tail, name=name)
    except BaseException:
        stop(proc, timeout=stop_timeout, group=bool(popen.get("start_new_session")))
        raise
    return proc


def stop(proc, timeout=5, group=False, kill_group=None):
    """SIGTERM to PROC (to its process group with group=True), up to TIMEOUT s to exit, then
    SIGKILL (to the group with kill_group, which defaults to group). Returns the exit status."""
    if kill_group is None:
        kill_group = group
    if proc.poll() is None:
        _signal(proc, signal.SIGTERM, group)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal(proc, signal.SIGKILL, kill_group)
            proc.wait(timeout=timeout)
    return proc.returncode


def _signal(proc, sig, group):
    try:
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    except ProcessLookupError:
        pass


def sse_chunks(response):
    """The JSON chunks of a streamed OpenAI response (an httpx streaming response), `[DONE]` left out."""
    for line in response.iter_lines():
        if line.startswith("data: ") and line != "data: [DONE]":
            yield json.loads(line[6:])


class Deployment:
    """`tandem serve` of MODEL as model `m` on a free 127.0.0.1 port, with RANKS > 1 under mpirun,
    in its own process group; ready (GET /health is 200) when the constructor returns. Its output
    is in the file `log` (/tmp/tandem-serve-PORT.log)."""

    def __init__(self, model, ranks, step_timeout=10, extra=()):
        self.port = free_port()
        cmd = [tandem_bin(), "serve", "--model", model, "--model-name", "m", "--port", str(self.port),
               "--kv-mib", "64", "--step-timeout", str(step_timeout), "--log-level", "info", *extra]
        if ranks > 1:
            cmd = mpirun_argv(ranks) + cmd
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path("/tmp") / f"tandem-serve-{self.port}.log"
        self.proc = start(cmd, self.log, self.url + "/health", timeout=120, ok=lambda s: s == 200, interval=0.3,
                          tail=3000, name="tandem serve", cwd=ROOT, start_new_session=True)

    def client(self):
        from openai import OpenAI
        return OpenAI(base_url=self.url + "/v1", api_key="none", timeout=60, max_retries=0)

    def stop(self):
        stop(self.proc, timeout=20, group=True)


class Gateway:
    """A running `tandem gateway` with the config CONFIG (written to WORKDIR/gateway.json) on a free
    127.0.0.1 port; ENV adds to its environment. Its output is in WORKDIR/gateway.log."""

    def __init__(self, config, workdir, env=None):
        self.workdir = Path(workdir)
        self.config_path = self.workdir / "gateway.json"
        self.write_config(config)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.workdir / "gateway.log"
        self.proc = start([tandem_bin(), "gateway", "--config", str(self.config_path), "--port", str(self.port), "--log-level", "info"],
                          self.log, self.url + "/health", timeout=30, name="tandem gateway", env=dict(os.environ, **(env or {})))

    def write_config(self, config):
        self.config = config
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(config, indent=2))
        tmp.replace(self.config_path)

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)

    def client(self, key="sk-acme", **kw):
        from openai import OpenAI
        return OpenAI(base_url=self.url + "/v1", api_key=key, max_retries=0, timeout=kw.pop("timeout", 20), **kw)

    def metrics(self):
        import httpx
        from prometheus_client.parser import text_string_to_metric_families
        text = httpx.get(self.url + "/metrics", timeout=5).text
        return {f.name: f for f in text_string_to_metric_families(text)}

    def sample(self, family, suffix="", **labels):
        """The value of one sample of a metric family (0 when absent)."""
        fams = self.metrics()
        fam = fams.get(family)
        if fam is None:
            return 0.0
        for s in fam.samples:
            if s.name == family + suffix and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
        return 0.0

    def stop(self):
        stop(self.proc)


def main(argv):
    if argv == ["free-port"]:
        print(free_port())
    elif argv == ["tandem-bin"]:
        print(tandem_bin())
    else:
        sys.exit("usage: tandemkit.py free-port | tandem-bin")


if __name__ == "__main__":
    main(sys.argv[1:])
