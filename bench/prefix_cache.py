#!/usr/bin/env python3
"""Prefix cache, side by side in one run (serving-engine issue, benchmarks a and b).

(a) TTFT with prefix reuse vs without: one ~1,000-token system prompt shared by many short
    questions, one request at a time; `tandem serve --prefix-cache on` against `--prefix-cache off`.
(b) The same kind of workload under memory pressure: G system prompts whose blocks do not all fit
    in a small KV pool, questions interleaved across them; prefix hit rate (cached prompt tokens /
    prompt tokens, from usage) with `--eviction prefix-aware` against `--eviction lru`.

Every server is a real `tandem serve` on 127.0.0.1 driven by `tandem bench` over HTTP; the
harness's results.json is read back. Prints Markdown tables (append them to bench/RESULTS.md).

  python3 bench/prefix_cache.py --tandem .build/release/tandem [--model models/SmolLM2-135M-Instruct.Q4_1.gguf]
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, tandem, model, extra, log):
        self.port = free_port()
        self.log = open(log, "w")
        self.proc = subprocess.Popen([tandem, "serve", "--model", model, "--model-name", "m", "--port", str(self.port)] + extra,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 300
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tandem serve exited ({self.proc.returncode}); log: {log}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2)
                return
            except Exception:
                time.sleep(0.5)
        raise RuntimeError(f"tandem serve not ready in 300 s; log: {log}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def bench(tandem, port, out, args):
    cmd = [tandem, "bench", "--base-url", f"http://127.0.0.1:{port}", "--model", "m", "--workload", "shared-prefix",
           "--out", out, "--temperature", "0", "--request-timeout", "600"] + args
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "results.json")) as f:
        return json.load(f)


def run(tandem, model, serve_extra, bench_args, work, name):
    s = Server(tandem, model, serve_extra, os.path.join(work, f"{name}.log"))
    try:
        return bench(tandem, s.port, os.path.join(work, name), bench_args)
    finally:
        s.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tandem", default=os.path.join(ROOT, ".build/release/tandem"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--prefix-words", type=int, default=750, help="system prompt words (~1,000 tokens for SmolLM2)")
    ap.add_argument("--questions", type=int, default=12)
    ap.add_argument("--pressure-groups", type=int, default=6)
    ap.add_argument("--pressure-questions", type=int, default=4)
    ap.add_argument("--pressure-kv-mib", type=int, default=0,
                    help="KV pool per rank for (b); 0: sized to hold about half the system prompts")
    ap.add_argument("--pressure-question-words", type=int, default=12,
                    help="(b): words per question; long unique questions compete with the shared prompts for blocks")
    ap.add_argument("--skip", choices=["a", "b"], action="append", default=[])
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tandem-prefix-")
    print(f"<!-- work dir {work}; load average {os.getloadavg()[0]:.1f} at start -->")

    if "a" not in args.skip:
        common = ["--groups", "1", "--questions", str(args.questions), "--prefix-len", str(args.prefix_words),
                  "--question-len", "12", "--output-len", "8", "--concurrency", "1", "--requests", str(args.questions), "--duration", "1800",
                  "--warmup", "0", "--seed", "7"]
        rows = []
        for mode in ["off", "on"]:
            r = run(args.tandem, args.model, ["--prefix-cache", mode], common, work, f"a-{mode}")
            lvl = r["levels"][0]
            recs = [x for x in r["records"] if x.get("error") is None]
            ttfts = sorted(x["ttft"] for x in recs if x.get("ttft") is not None)
            # The first request of the group has nothing cached either way: report it apart.
            first = r["records"][0].get("ttft")
            later = sorted(x["ttft"] for x in r["records"][1:] if x.get("ttft") is not None)
            rows.append((mode, lvl["promptTokens"] / max(lvl["requests"], 1), lvl["cachedTokens"], first,
                         later[len(later) // 2] if later else float("nan"), lvl["ttft"]["p50"], len(ttfts)))
        print("\n### (a) TTFT with and without prefix reuse (1 system prompt, one request at a time)\n")
        print("| prefix cache | prompt tokens / request | cached tokens (all) | first request TTFT s | later requests TTFT p50 s | all TTFT p50 s | requests |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for m, p, c, f, l, a, n in rows:
            print(f"| {m} | {p:.0f} | {c} | {f:.3f} | {l:.3f} | {a:.3f} | {n} |")
        print(f"\nTTFT p50 of the requests after the first: off / on = {rows[0][4] / rows[1][4]:.1f}x")

    if "b" not in args.skip:
        kv = args.pressure_kv_mib
        if kv == 0:
            # SmolLM2: 30 layers x 3 KV heads x 64 x 2 (K, V) x 4 bytes = 45 KiB per token; a
            # ~790-token prefix is ~35 MiB. Hold about half the groups' prefixes.
            kv = max(32, int(args.pressure_groups * 35 / 2))
        common = ["--groups", str(args.pressure_groups), "--questions", str(args.pressure_questions),
                  "--prefix-len", str(args.prefix_words), "--question-len", str(args.pressure_question_words), "--output-len", "8",
                  "--concurrency", "1", "--requests", str(args.pressure_groups * args.pressure_questions), "--duration", "1800",
                  "--warmup", "0", "--seed", "11"]
        rows = []
        for ev in ["lru", "prefix-aware"]:
            r = run(args.tandem, args.model, ["--prefix-cache", "on", "--eviction", ev, "--kv-mib", str(kv)], common,
                    work, f"b-{ev}")
            lvl = r["levels"][0]
            rows.append((ev, lvl["promptTokens"], lvl["cachedTokens"], lvl["ttft"]["p50"], lvl["failed"]))
        print(f"\n### (b) Prefix hit rate under memory pressure ({args.pressure_groups} system prompts x "
              f"{args.pressure_questions} questions of {args.pressure_question_words} words interleaved, KV pool {kv} MiB)\n")
        print("| eviction | prompt tokens | cached tokens | hit rate | TTFT p50 s | failed |")
        print("| --- | --- | --- | --- | --- | --- |")
        for ev, p, c, t, f in rows:
            print(f"| {ev} | {p} | {c} | {c / max(p, 1):.1%} | {t:.3f} | {f} |")
    print(f"\n<!-- load average {os.getloadavg()[0]:.1f} at end -->")


if __name__ == "__main__":
    sys.exit(main())
