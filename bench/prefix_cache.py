#!/usr/bin/env python3
"""Prefix cache, side by side in one run (serving-engine issue, benchmarks a and b).

(a) TTFT with prefix reuse vs without: one ~1,000-token system prompt shared by many short
    questions, one request at a time; `tandem serve --prefix-cache on` against `--prefix-cache off`.
(b) The same kind of workload under memory pressure, prefix-aware eviction against plain LRU:
    G system prompts served round robin (g0q0, g1q0, ..., g0q1, ...), one request at a time, each
    with a long unique question, in a KV pool that holds every system prompt but not G whole
    requests. With S blocks per prompt, F full blocks per request after it and p = 1 partial
    block, a pool of C blocks with (G-1)(S+F) + S + p <= C < G(S+F) + p keeps every prompt under
    prefix-aware eviction and none under LRU (the group served next is always the least recently
    used one, and LRU takes its prompt's first block; see EvictionPolicy.swift). The script first
    runs the workload in an ample pool (the no-pressure ceiling, and the measured S and F), picks
    C in the middle of that window, then runs `--eviction lru` and `--eviction prefix-aware`.
    Prefix hit rate = cached prompt tokens / prompt tokens, from usage.

Every server is a real `tandem serve` on 127.0.0.1 driven by `tandem bench` over HTTP; the
harness's results.json is read back. Prints Markdown tables (append them to bench/RESULTS.md).

  python3 bench/prefix_cache.py --tandem .build/release/tandem [--model models/SmolLM2-135M-Instruct.Q4_1.gguf]
  python3 bench/prefix_cache.py --skip a --ranks 2     # (b) with tensor parallelism: serve under mpirun -np 2
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from tandemkit import free_port, mpirun_argv, start, stop  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


class Server:
    ranks = 1   # > 1: `tandem serve` under mpirun with that many ranks (tensor parallel), 1 thread each

    def __init__(self, tandem, model, extra, log):
        # free_port() can race with other processes on a shared machine: retry a lost bind.
        for attempt in range(3):
            if self._start(tandem, model, extra, log):
                return
        raise RuntimeError(f"tandem serve could not bind a port in 3 tries; log: {log}")

    def _start(self, tandem, model, extra, log):
        self.port = free_port()
        self.log_path = log
        launch = [] if Server.ranks == 1 else mpirun_argv(Server.ranks, btl=None)
        try:
            self.proc = start(launch + [tandem, "serve", "--model", model, "--model-name", "m", "--port", str(self.port)] + extra,
                              log, f"http://127.0.0.1:{self.port}/health", timeout=300, ok=lambda status: status < 400,
                              interval=0.5, request_timeout=2, tail=3000, name="tandem serve", stop_timeout=30)
            return True
        except RuntimeError:
            with open(log, errors="replace") as f:
                if "Address already in use" in f.read():
                    return False
            raise

    def kv_blocks(self):
        """The pool size the coordinator logged when it became ready."""
        with open(self.log_path, errors="replace") as f:
            m = re.search(r"kv_blocks=(\d+)", f.read())
        return int(m.group(1)) if m else None

    def stop(self):
        stop(self.proc, timeout=30)


def bench(tandem, port, out, args):
    cmd = [tandem, "bench", "--base-url", f"http://127.0.0.1:{port}", "--model", "m", "--workload", "shared-prefix",
           "--out", out, "--temperature", "0", "--request-timeout", "600"] + args
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "results.json")) as f:
        return json.load(f)


def run(tandem, model, serve_extra, bench_args, work, name, blocks=None):
    s = Server(tandem, model, serve_extra, os.path.join(work, f"{name}.log"))
    try:
        result = bench(tandem, s.port, os.path.join(work, name), bench_args)
        if blocks is not None:
            blocks.append(s.kv_blocks())
        return result
    finally:
        s.stop()


def p50(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tandem", default=os.path.join(ROOT, ".build/release/tandem"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--prefix-words", type=int, default=750, help="system prompt words (~1,000 tokens for SmolLM2)")
    ap.add_argument("--questions", type=int, default=12)
    ap.add_argument("--pressure-groups", type=int, default=4, help="(b): system prompts G")
    ap.add_argument("--pressure-questions", type=int, default=5, help="(b): rounds over the G prompts")
    ap.add_argument("--pressure-prefix-words", type=int, default=300, help="(b): words per system prompt")
    ap.add_argument("--pressure-question-words", type=int, default=150,
                    help="(b): words per question; F must be a few blocks so the window is wide enough")
    ap.add_argument("--pressure-kv-mib", type=int, default=0,
                    help="(b): KV pool per rank; 0: the middle of the separating window, measured in an ample pool")
    ap.add_argument("--ample-kv-mib", type=int, default=256, help="(b): pool of the no-pressure run")
    ap.add_argument("--block-size", type=int, default=16, help="serve's KV block size (tokens)")
    ap.add_argument("--skip", choices=["a", "b"], action="append", default=[])
    ap.add_argument("--ranks", type=int, default=1, help="tensor-parallel ranks of each server (mpirun -np)")
    args = ap.parse_args()
    Server.ranks = args.ranks
    work = tempfile.mkdtemp(prefix="tandem-prefix-")
    print(f"<!-- work dir {work}; {args.ranks} rank(s) per server; load average {os.getloadavg()[0]:.1f} at start -->")

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
        G, B = args.pressure_groups, args.block_size
        common = ["--groups", str(G), "--questions", str(args.pressure_questions),
                  "--prefix-len", str(args.pressure_prefix_words), "--question-len", str(args.pressure_question_words),
                  "--output-len", "8", "--concurrency", "1", "--requests", str(G * args.pressure_questions),
                  "--duration", "1800", "--warmup", "0", "--seed", "11"]

        def row(name, r, blocks):
            lvl = r["levels"][0]
            later = [x["ttft"] for x in r["records"][G:] if x.get("error") is None and x.get("ttft") is not None]
            return (name, blocks, lvl["promptTokens"], lvl["cachedTokens"], lvl["ttft"]["p50"], p50(later), lvl["failed"])

        # No pressure: the ceiling, and the block arithmetic of this workload on this model.
        seen = []
        ample = run(args.tandem, args.model, ["--prefix-cache", "on", "--eviction", "prefix-aware",
                                              "--kv-mib", str(args.ample_kv_mib)], common, work, "b-ample", seen)
        rows = [row("prefix-aware, ample pool", ample, seen[0])]
        recs = [x for x in ample["records"] if x.get("error") is None]
        S = max(x["cachedTokens"] for x in recs) // B           # whole blocks of the shared prompt
        written = [x["promptTokens"] + x["outputTokens"] - 1 for x in recs]   # K/V positions per request
        F_min = min(w // B for w in written) - S
        F_max = max(w // B for w in written) - S
        p_any = 1 if any(w % B for w in written) else 0   # a partial last block (uncached, back to the free list)
        p_all = 1 if all(w % B for w in written) else 0
        lo = (G - 1) * (S + F_max) + S + p_any    # prefix-aware keeps every prompt from here
        hi = G * (S + F_min) + p_all - 1          # LRU keeps none up to here
        if seen[0] is None:
            sys.exit("could not read kv_blocks from the serve log")
        block_bytes = args.ample_kv_mib * 2**20 / seen[0]   # upper bound: blocks = floor(budget / bytes per block)
        kv = args.pressure_kv_mib
        if kv == 0:
            kv = max(1, -(-((lo + hi) // 2) * int(block_bytes) // 2**20))
        rows_p = []
        for ev in ["lru", "prefix-aware"]:
            got = []
            r = run(args.tandem, args.model, ["--prefix-cache", "on", "--eviction", ev, "--kv-mib", str(kv)], common,
                    work, f"b-{ev}", got)
            rows_p.append(row(ev, r, got[0]))
        C = rows_p[0][1]
        print(f"\n### (b) Prefix hit rate under memory pressure ({G} system prompts of {args.pressure_prefix_words} words "
              f"x {args.pressure_questions} rounds, questions of {args.pressure_question_words} words, round robin, one at a time)\n")
        print(f"Measured in the ample pool: S = {S} prompt blocks, F = {F_min}..{F_max} further full blocks per request, "
              f"p = {p_all}..{p_any}; window {lo} <= C <= {hi} blocks; pressure pool --kv-mib {kv} = {C} blocks"
              + ("" if C is not None and lo <= C <= hi else " (OUTSIDE the window)") + ".\n")
        print("| eviction | KV blocks | prompt tokens | cached tokens | hit rate | TTFT p50 s (all) | TTFT p50 s (after round 1) | failed |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for name, blocks, pt, c, t, tl, f in rows_p + rows:
            print(f"| {name} | {blocks} | {pt} | {c} | {c / max(pt, 1):.1%} | {t:.3f} | {tl:.3f} | {f} |")
    print(f"\n<!-- load average {os.getloadavg()[0]:.1f} at end -->")


if __name__ == "__main__":
    sys.exit(main())
