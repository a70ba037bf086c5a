#!/usr/bin/env python3
"""Tracing overhead: the same small request through two gateway + coordinator pairs on one box,
one with OTLP tracing (sample ratio 1, both processes exporting to a receiver in this script)
and one without, interleaved request by request; p50/p99 end-to-end latency of both and their
difference, and the spans the receiver got per traced request.

  TANDEM_BIN=.build/release/tandem python3 bench/tracing_overhead.py --requests 300
"""
import argparse
import json
import os
import sys
import tempfile
import threading
import time
from hashlib import sha256
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from tandemkit import STORIES260K as STORIES, Deployment, Gateway  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def receiver():
    """An OTLP/HTTP sink counting the spans it is sent."""
    count = [0]

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            count[0] += sum(len(ss["spans"]) for rs in body["resourceSpans"] for ss in rs["scopeSpans"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_address[1]}", count


def pair(model, tracing):
    coord = Deployment(model, 1, extra=("--otlp-endpoint", tracing) if tracing else ())
    d = Path(tempfile.mkdtemp(prefix="tandem-trace-bench-"))
    (d / "keys.json").write_text(json.dumps({"keys": [{"id": "k", "tenant": "bench", "sha256": sha256(b"sk-bench").hexdigest()}]}))
    config = {
        "listen": {"host": "127.0.0.1", "port": 0}, "keys_file": "keys.json",
        "tenants": {"bench": {"requests_per_minute": 100000, "tokens_per_minute": 100000000, "max_concurrent": 8, "allowed_models": ["*"]}},
        "models": [{"name": "m", "deployments": [{"url": f"http://127.0.0.1:{coord.port}", "kind": "coordinator"}]}],
    }
    if tracing:
        config["tracing"] = {"otlp_endpoint": tracing, "sample_ratio": 1}
    return coord, Gateway(config, d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--model", default=STORIES)
    ap.add_argument("--max-tokens", type=int, default=8)
    a = ap.parse_args()
    import httpx
    url, spans = receiver()
    plain, traced = pair(a.model, None), pair(a.model, url)
    body = {"model": "m", "prompt": "Once upon a time", "max_tokens": a.max_tokens, "temperature": 0}
    times = {"off": [], "on": []}
    try:
        with httpx.Client(timeout=30) as c:
            for i in range(a.requests + 10):
                for name, (_, gw) in (("off", plain), ("on", traced)):
                    t0 = time.perf_counter()
                    r = c.post(f"{gw.url}/v1/completions", json=body, headers={"Authorization": "Bearer sk-bench"})
                    dt = time.perf_counter() - t0
                    assert r.status_code == 200, r.text
                    if i >= 10:
                        times[name].append(dt * 1000)
        time.sleep(2.5)  # the exporters send about once a second
    finally:
        for coord, gw in (plain, traced):
            gw.stop()
            coord.stop()
    off, on = times["off"], times["on"]
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}; {a.requests} requests each, interleaved, "
          f"max_tokens={a.max_tokens}, model {os.path.basename(a.model)}")
    print("| path | p50 ms | p99 ms |")
    print("| --- | --- | --- |")
    print(f"| gateway + coordinator, no tracing | {pct(off, 50):.2f} | {pct(off, 99):.2f} |")
    print(f"| gateway + coordinator, every request traced | {pct(on, 50):.2f} | {pct(on, 99):.2f} |")
    print(f"| added by tracing | {pct(on, 50) - pct(off, 50):.2f} | {pct(on, 99) - pct(off, 99):.2f} |")
    print(f"spans received: {spans[0]} ({spans[0] / (a.requests + 10):.1f} per traced request)")


if __name__ == "__main__":
    main()
