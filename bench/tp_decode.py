#!/usr/bin/env python3
"""Tensor-parallel speed, side by side in one run: TP=1 vs TP=2 (`tandem serve` under mpirun),
same model, same prompts, same lengths, over the real HTTP API.

Prefill: time to first token of a ~PROMPT-token prompt (non-streamed part of the TTFT).
Decode: tokens/s after the first token of a greedy NEW-token generation (streamed).
Prints a Markdown table; medians over --repeat runs.

  python3 bench/tp_decode.py --model models/SmolLM2-135M-Instruct.Q4_1.gguf --prompt 512 --new 128 --repeat 3
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from tandemkit import Deployment, sse_chunks  # noqa: E402


def run_once(dep, prompt, new):
    import httpx
    body = {"model": "m", "prompt": prompt, "max_tokens": new, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    t0 = time.perf_counter()
    first = None
    times = []
    usage = None
    with httpx.stream("POST", f"http://127.0.0.1:{dep.port}/v1/completions", json=body, timeout=600) as r:
        for chunk in sse_chunks(r):
            if chunk.get("usage"):
                usage = chunk["usage"]
            if chunk.get("choices") and chunk["choices"][0].get("text"):
                now = time.perf_counter()
                first = first or now
                times.append(now)
    generated = usage["completion_tokens"] if usage else len(times)
    decode = (generated - 1) / (times[-1] - first) if len(times) > 1 else 0
    return first - t0, decode, usage["prompt_tokens"] if usage else 0, generated


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt", type=int, default=512, help="approximate prompt tokens")
    ap.add_argument("--new", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    prompt = ("The quick brown fox jumps over the lazy dog. " * 64)[: a.prompt * 4]
    rows = []
    for ranks in (1, 2):
        dep = Deployment(os.path.abspath(a.model), ranks)
        try:
            run_once(dep, "Hello", 4)  # warm-up
            res = [run_once(dep, prompt + f" {i}", a.new) for i in range(a.repeat)]
        finally:
            dep.stop()
        ttft = statistics.median(r[0] for r in res)
        dec = statistics.median(r[1] for r in res)
        rows.append((ranks, res[0][2], res[0][3], ttft, res[0][2] / ttft, dec))
    print(f"load average at end: {open('/proc/loadavg').read().split()[:3]}")
    print("| TP | prompt tokens | generated | TTFT s (median) | prefill tok/s | decode tok/s (median) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.2f} | {r[4]:.1f} | {r[5]:.1f} |")


if __name__ == "__main__":
    main()
