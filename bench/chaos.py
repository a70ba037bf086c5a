#!/usr/bin/env python3
"""Fault injection under load: `tandem up` on a small two-deployment topology (127.0.0.1 only),
steady chat traffic through the gateway, and faults injected at random (seeded, bounded in
count and time): SIGKILL or SIGSTOP (SIGCONT after a while) of a coordinator (rank 0) or of a
worker rank. Reports how every client request ended: with an answer, with an explicit error
(an HTTP error status, or an error event in a stream), or never (no end within the client
timeout, which is well above the gateway's deadline: must be 0); crashes of the gateway (must be
0); and, per fault kind, the time from the fault until that model answered again (a request
started after the fault). Stops by itself and leaves no process behind.

    python3 bench/chaos.py --faults 200 --seed 1          # ~10-15 min on 2 cores
    python3 bench/chaos.py --faults 3 --seed 1            # smoke (~1 min)

Needs the tandem binary (TANDEM_BIN, else `swift build --show-bin-path`), mpirun, and the model
(TANDEM_SMOLLM2_PATH, else models/SmolLM2-135M-Instruct.Q4_1.gguf). Not part of CI.
"""
import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from tandemkit import ROOT, SMOLLM2, free_port, stop, tandem_bin  # noqa: E402

KEY = "sk-demo-change-me"  # gateway/keys.example.json, tenant demo
KINDS = ["kill-coordinator", "stop-coordinator", "kill-rank", "stop-rank"]


def write_topology(path, model, ports, gw_port, args):
    """Two deployments of the model: `duo` (TP=2: a coordinator and a worker rank) and `solo` (TP=1)."""
    def placement(nodes, port):
        return (f"placement: {{nodes: [{', '.join(nodes)}], port: {port}, kv_mib: 32, block_size: 16, max_running: 4, "
                f"step_timeout_s: {args.step_timeout}, max_batched_tokens: 256}}")
    path.write_text(f"""version: 1
nodes:
  - {{name: local, host: 127.0.0.1, address: 127.0.0.1, cores: 2, memory_gib: 8}}
transport: {{kind: mpi, mode: preferred}}
models:
  - name: duo
    source: {model}
    {placement(["local", "local"], ports["duo"])}
  - name: solo
    source: {model}
    {placement(["local"], ports["solo"])}
gateway:
  node: local
  listen: {{host: 127.0.0.1, port: {gw_port}}}
  keys_file: {ROOT / "gateway" / "keys.example.json"}
  limits: {{max_body_bytes: 1048576, request_timeout_ms: {args.deadline_ms}}}
  upstream: {{connect_timeout_ms: 1000, read_timeout_ms: {args.read_timeout_ms}}}
  health: {{failure_threshold: 1, cooldown_ms: 1000, probe_timeout_ms: 1000}}
  tenants:
    demo: {{requests_per_minute: 100000, tokens_per_minute: 100000000, max_concurrent: 64, allowed_models: ["*"]}}
    trial: {{requests_per_minute: 20, tokens_per_minute: 20000, max_concurrent: 2, allowed_models: [solo]}}
""")


def cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def serve_processes(port):
    """{rank: pid} of the `tandem serve` processes of the deployment on `port` (not mpirun)."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        argv = cmdline(int(d.name))
        if len(argv) < 2 or b"serve" not in argv or str(port).encode() not in argv or b"mpirun" in argv[0]:
            continue
        try:
            env = (d / "environ").read_bytes().split(b"\0")
            state = (d / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if state == "Z":
            continue
        rank = next((int(e.split(b"=")[1]) for e in env if e.startswith(b"OMPI_COMM_WORLD_RANK=")), 0)
        out[rank] = int(d.name)
    return out


class Load:
    """Client threads sending chat requests (half streamed) to both models, recording outcomes."""

    def __init__(self, url, models, threads, client_timeout, seed):
        self.url, self.models, self.client_timeout = url, models, client_timeout
        self.records = []  # (model, start, end, outcome, detail)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(random.Random(seed * 1000 + i),), daemon=True) for i in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(self.client_timeout + 10)

    def run(self, rng):
        with httpx.Client(timeout=httpx.Timeout(self.client_timeout, connect=5)) as client:
            while not self.stop.is_set():
                model = rng.choice(self.models)
                stream = rng.random() < 0.5
                body = {"model": model, "max_tokens": rng.randint(4, 16), "stream": stream,
                        "messages": [{"role": "user", "content": f"Name {rng.randint(2, 9)} colors."}]}
                t0 = time.time()
                outcome, detail = self.one(client, body, stream, t0)
                with self.lock:
                    self.records.append((model, t0, time.time(), outcome, detail))
                if outcome != "answer":
                    time.sleep(0.2)  # an error comes back fast; do not spin

    def one(self, client, body, stream, t0):
        headers = {"Authorization": f"Bearer {KEY}"}
        try:
            if not stream:
                r = client.post(self.url + "/v1/chat/completions", json=body, headers=headers)
                if r.status_code == 200 and r.json()["choices"][0]["finish_reason"]:
                    return "answer", 200
                return "error", r.status_code
            with client.stream("POST", self.url + "/v1/chat/completions", json=body, headers=headers) as r:
                if r.status_code != 200:
                    r.read()
                    return "error", r.status_code
                done, error = False, False
                for line in r.iter_lines():
                    if time.time() - t0 > self.client_timeout:
                        return "never", "stream"
                    if line == "data: [DONE]":
                        done = True
                    elif line.startswith("data: ") and '"error"' in line[:20]:
                        error = True
                if error:
                    return "error", "stream-error-event"
                return ("answer", 200) if done else ("error", "stream-cut")
        except httpx.TimeoutException:
            return "never", "client-timeout"
        except httpx.HTTPError as e:
            return "error", f"connection: {type(e).__name__}"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--faults", type=int, default=200, help="faults to inject")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--interval", type=float, default=2.0, help="least seconds between faults")
    p.add_argument("--stop-min", type=float, default=1.0, help="shortest SIGSTOP, seconds")
    p.add_argument("--stop-max", type=float, default=10.0, help="longest SIGSTOP, seconds (above --step-timeout a stopped worker is a failed step)")
    p.add_argument("--max-time", type=float, default=1500, help="stop injecting after this many seconds")
    p.add_argument("--recover-timeout", type=float, default=90, help="a model not answering this long after a fault counts as not recovered")
    p.add_argument("--threads", type=int, default=4, help="client threads")
    p.add_argument("--deadline-ms", type=int, default=20000, help="gateway request deadline")
    p.add_argument("--read-timeout-ms", type=int, default=6000, help="gateway upstream read timeout")
    p.add_argument("--step-timeout", type=int, default=6, help="coordinator step timeout, seconds")
    p.add_argument("--client-timeout", type=float, default=60, help="client timeout (well above the deadline); hitting it counts as 'never'")
    p.add_argument("--json", help="write the summary here")
    p.add_argument("--run-dir", help="keep logs here (default: a temporary folder)")
    args = p.parse_args()
    rng = random.Random(args.seed)
    model = Path(SMOLLM2).resolve()
    run_dir = Path(args.run_dir or tempfile.mkdtemp(prefix="tandem-chaos-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    ports = {"duo": free_port(), "solo": free_port()}
    gw_port = free_port()
    topo = run_dir / "chaos.yaml"
    write_topology(topo, model, ports, gw_port, args)
    up_log = run_dir / "up.log"
    # A private copy: a rebuild during the run must not swap (or lock: ETXTBSY) the binary `up` restarts.
    binary = run_dir / "tandem"
    shutil.copy2(tandem_bin(), binary)
    up = subprocess.Popen([str(binary), "up", str(topo), "--run-dir", str(run_dir / "run"), "--ready-timeout", "300",
                           "--max-restarts", "1000", "--restart-window", "5"],
                          cwd=ROOT, stdout=open(up_log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    stopped = {}  # pid -> (time to SIGCONT, the fault)
    stopped_lock = threading.Lock()
    interrupted = []
    signal.signal(signal.SIGTERM, lambda *_: interrupted.append(1))
    signal.signal(signal.SIGINT, lambda *_: interrupted.append(1))
    faults = []  # dicts: kind, model, at, recovered_at
    load = None
    gateway_pids = set()
    summary = {}
    try:
        deadline = time.time() + 300
        while "ready: the OpenAI-compatible API" not in up_log.read_text():
            if up.poll() is not None or time.time() > deadline or interrupted:
                raise SystemExit(f"tandem up did not become ready:\n{up_log.read_text()[-3000:]}")
            time.sleep(0.5)
        url = f"http://127.0.0.1:{gw_port}"

        def gateway_pid():
            for c in subprocess.run(["pgrep", "-P", str(up.pid)], capture_output=True, text=True).stdout.split():
                if b"gateway" in cmdline(int(c)):
                    return int(c)
            return None

        gateway_pids.add(gateway_pid())
        load = Load(url, ["duo", "solo"], args.threads, args.client_timeout, args.seed)
        load.start()

        def resume_due():
            now = time.time()
            with stopped_lock:
                for pid, (at, fault) in list(stopped.items()):
                    if at <= now:
                        try:
                            os.kill(pid, signal.SIGCONT)
                        except ProcessLookupError:
                            pass
                        fault["resumed_at"] = time.time()
                        del stopped[pid]

        def served_since(m, t):
            with load.lock:
                return min((end for (mm, start, end, outcome, _) in load.records if mm == m and outcome == "answer" and start >= t),
                           default=None)

        start = time.time()
        last_fault = {m: None for m in ports}
        while len(faults) < args.faults and time.time() - start < args.max_time and not interrupted:
            resume_due()
            gateway_pids.add(gateway_pid())
            if up.poll() is not None:
                break
            # A model is a target once it answered again after its last fault (or the wait ran out).
            for f in faults:
                if f["recovered_at"] is None and not f.get("gave_up"):
                    r = served_since(f["model"], f["at"])
                    if r is not None:
                        f["recovered_at"] = r
                    elif time.time() - f["at"] > args.recover_timeout:
                        f["gave_up"] = True
            ready_models = [m for m in ports if all(f["recovered_at"] is not None or f.get("gave_up") for f in faults if f["model"] == m)]
            if not ready_models or (faults and time.time() - faults[-1]["at"] < args.interval):
                time.sleep(0.1)
                continue
            m = rng.choice(sorted(ready_models))
            kinds = KINDS if m == "duo" else KINDS[:2]
            kind = rng.choice(kinds)
            procs = serve_processes(ports[m])
            rank = 0 if kind.endswith("coordinator") else 1
            pid = procs.get(rank)
            if pid is None:
                time.sleep(0.2)
                continue
            with stopped_lock:
                if pid in stopped:
                    continue
                fault = {"kind": kind, "model": m, "at": time.time(), "recovered_at": None}
                if kind.startswith("kill"):
                    os.kill(pid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGSTOP)
                    stopped[pid] = (time.time() + rng.uniform(args.stop_min, args.stop_max), fault)
            faults.append(fault)
            last_fault[m] = time.time()
            print(f"[{time.time() - start:7.1f}s] fault {len(faults)}/{args.faults}: {kind} on {m} (pid {pid})", flush=True)

        # Let the last faults heal (resume stopped processes), then stop the load.
        end_wait = time.time() + args.recover_timeout
        while time.time() < end_wait and not interrupted:
            resume_due()
            pending = [f for f in faults if f["recovered_at"] is None and not f.get("gave_up")]
            for f in pending:
                f["recovered_at"] = served_since(f["model"], f["at"])
            if not [f for f in faults if f["recovered_at"] is None] and not stopped:
                break
            time.sleep(0.2)
        gateway_pids.add(gateway_pid())
    finally:
        with stopped_lock:
            for pid, (_, fault) in stopped.items():
                fault["resumed_at"] = time.time()
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            stopped.clear()
        if load:
            load.finish()
        up_text_before_stop = up_log.read_text()
        stop(up, timeout=60, kill_group=True)  # `up` stops its deployments on SIGTERM
        time.sleep(0.5)
        left = [pid for port in ports.values() for pid in serve_processes(port).values()]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        binary.unlink(missing_ok=True)

    records = load.records if load else []
    outcomes = {k: sum(1 for r in records if r[3] == k) for k in ["answer", "error", "never"]}
    errors = {}
    for r in records:
        if r[3] == "error":
            errors[str(r[4])] = errors.get(str(r[4]), 0) + 1
    per_kind = {}
    for kind in KINDS:
        done = [f for f in faults if f["kind"] == kind and f["recovered_at"] is not None]
        times = [f["recovered_at"] - f["at"] for f in done]
        entry = {"faults": sum(1 for f in faults if f["kind"] == kind),
                 "not_recovered": sum(1 for f in faults if f["kind"] == kind and f["recovered_at"] is None),
                 "median_s": round(statistics.median(times), 2) if times else None,
                 "max_s": round(max(times), 2) if times else None}
        if kind.startswith("stop"):
            # From SIGCONT (0 when the model answered again before it: the deployment was restarted).
            after = [max(0.0, f["recovered_at"] - f["resumed_at"]) for f in done if "resumed_at" in f]
            stops = [f["resumed_at"] - f["at"] for f in faults if f["kind"] == kind and "resumed_at" in f]
            entry.update(stopped_median_s=round(statistics.median(stops), 2) if stops else None,
                         after_sigcont_median_s=round(statistics.median(after), 2) if after else None,
                         after_sigcont_max_s=round(max(after), 2) if after else None)
        per_kind[kind] = entry
    gateway_pids.discard(None)
    summary = {
        "faults": len(faults), "requests": len(records), **outcomes, "errors_by_status": errors,
        "gateway_crashes": up_text_before_stop.count("gateway exited") + max(0, len(gateway_pids) - 1),
        "up_exit_status": up.returncode, "processes_left": len(left), "recovery": per_kind,
        "duration_s": round(max((r[2] for r in records), default=0) - min((r[1] for r in records), default=0), 1),
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    ok = outcomes["never"] == 0 and summary["gateway_crashes"] == 0 and not left and up.returncode == 0
    print(f"logs in {run_dir}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
