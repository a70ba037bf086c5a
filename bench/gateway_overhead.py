#!/usr/bin/env python3
"""Gateway overhead: the same small request sent straight to a coordinator (`tandem serve`) and
through `tandem gateway` in front of it, interleaved in one run; p50/p99 of end-to-end latency
and their difference, and the context switches per request of both processes (from
/proc/PID/task/*/status: every hand-off between threads is one, and each costs a scheduling delay
on a loaded machine).

  TANDEM_BIN=.build/debug/tandem python3 bench/gateway_overhead.py --requests 200
"""
import argparse
import glob
import json
import os
import statistics
import sys
import tempfile
import time
from hashlib import sha256
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from tandemkit import STORIES260K as STORIES, Deployment, Gateway  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def switches(pid):
    """Voluntary context switches of all threads of a process so far."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            for line in open(path):
                if line.startswith("voluntary_ctxt_switches"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--model", default=STORIES)
    a = ap.parse_args()
    import httpx
    coord = Deployment(a.model, 1)
    d = Path(tempfile.mkdtemp(prefix="tandem-gw-bench-"))
    (d / "keys.json").write_text(json.dumps({"keys": [{"id": "k", "tenant": "bench", "sha256": sha256(b"sk-bench").hexdigest()}]}))
    gw = Gateway({
        "listen": {"host": "127.0.0.1", "port": 0}, "keys_file": "keys.json",
        "tenants": {"bench": {"requests_per_minute": 100000, "tokens_per_minute": 100000000, "max_concurrent": 8, "allowed_models": ["*"]}},
        "models": [{"name": "m", "deployments": [{"url": f"http://127.0.0.1:{coord.port}", "kind": "coordinator"}]}],
    }, d)
    body = {"model": "m", "prompt": "Once upon a time", "max_tokens": 1, "temperature": 0}
    direct, via = [], []
    try:
        with httpx.Client(timeout=30) as c:
            for i in range(a.requests + 10):
                for url, headers, out in ((f"http://127.0.0.1:{coord.port}/v1/completions", {}, direct),
                                          (f"{gw.url}/v1/completions", {"Authorization": "Bearer sk-bench"}, via)):
                    t0 = time.perf_counter()
                    r = c.post(url, json=body, headers=headers)
                    dt = time.perf_counter() - t0
                    assert r.status_code == 200, r.text
                    if i >= 10:
                        out.append(dt * 1000)
                if i == 9:
                    gw0, coord0 = switches(gw.proc.pid), switches(coord.proc.pid)
        gw_switches, coord_switches = switches(gw.proc.pid) - gw0, switches(coord.proc.pid) - coord0
    finally:
        gw.stop()
        coord.stop()
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}; {a.requests} requests each, interleaved, max_tokens=1")
    print("| path | p50 ms | p99 ms |")
    print("| --- | --- | --- |")
    print(f"| direct to coordinator | {pct(direct, 50):.2f} | {pct(direct, 99):.2f} |")
    print(f"| through gateway | {pct(via, 50):.2f} | {pct(via, 99):.2f} |")
    print(f"| added by gateway | {pct(via, 50) - pct(direct, 50):.2f} | {pct(via, 99) - pct(direct, 99):.2f} |")
    print(f"voluntary context switches per request: gateway {gw_switches / len(via):.1f} (per request through it), "
          f"coordinator {coord_switches / (len(via) + len(direct)):.1f} (per request, both paths)")


if __name__ == "__main__":
    main()
