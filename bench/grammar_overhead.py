#!/usr/bin/env python3
"""Constrained decoding overhead, Tandem and llama.cpp's server side by side: time per output
token (TPOT) with and without a JSON Schema at concurrency 1 and 8, same GGUF file, same
threads, medians over interleaved rounds (each round runs every server × mode × concurrency once,
in an order that rotates). Also the per-step mask time of Tandem's grammar engine (p50/p99, from
`tandem grammar`, masks cold: every state met for the first time is computed).

    python3 bench/grammar_overhead.py [--rounds 3] [--threads 2] [--tokens 64] [--no-llama]

Needs `tandem` (TANDEM_BIN or the debug build) and, unless --no-llama, llama-server
(LLAMA_BIN, default .peer/llama.cpp-build/bin; bash bench/peer/build_llamacpp.sh builds it).
Writes a Markdown table to stdout and bench/results/grammar_overhead.json.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from tandemkit import ROOT, SMOLLM2, free_port, sse_chunks, start, stop, tandem_bin  # noqa: E402

SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["goal", "owner", "steps"],
    "properties": {
        "goal": {"type": "string", "maxLength": 60},
        "owner": {"type": "object", "additionalProperties": False, "required": ["name", "role"],
                  "properties": {"name": {"type": "string", "maxLength": 30}, "role": {"type": "string", "maxLength": 30}}},
        "steps": {"type": "array", "minItems": 1, "maxItems": 3, "items": {
            "type": "object", "additionalProperties": False, "required": ["title", "priority", "minutes"],
            "properties": {"title": {"type": "string", "maxLength": 40}, "priority": {"type": "string", "enum": ["low", "medium", "high"]},
                           "minutes": {"type": "integer", "minimum": 1, "maximum": 600}}}},
    },
}
TASKS = ["bake bread", "move house", "learn to swim", "plan a wedding", "write a novel", "start a garden", "run a marathon",
         "paint a room"]


def one(url, prompt, schema, tokens, out):
    import httpx
    body = {"model": "m", "messages": [{"role": "user", "content": prompt}], "temperature": 0, "max_tokens": tokens,
            "stream": True, "stream_options": {"include_usage": True}}
    if schema:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "plan", "schema": SCHEMA, "strict": True}}
    stamps, usage = [], None
    with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=600) as r:
        r.raise_for_status()
        for chunk in sse_chunks(r):
            if chunk.get("usage"):
                usage = chunk["usage"]
            for c in chunk.get("choices", []):
                if c.get("delta", {}).get("content"):
                    stamps.append(time.perf_counter())
    n = (usage or {}).get("completion_tokens", len(stamps))
    if len(stamps) >= 2 and n >= 2:
        out.append(((stamps[-1] - stamps[0]) / (n - 1), n))


def level(url, schema, concurrency, tokens, round_index):
    tpots = []
    prompts = [f"Make a short plan to {TASKS[(round_index + i) % len(TASKS)]}. Answer in JSON." for i in range(max(concurrency, 4))]
    if concurrency == 1:
        for p in prompts:
            one(url, p, schema, tokens, tpots)
    else:
        threads = [threading.Thread(target=one, args=(url, p, schema, tokens, tpots)) for p in prompts[:concurrency]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return tpots


def mask_times():
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump([{"name": "plan", "schema": SCHEMA}], f)
    out = subprocess.run([tandem_bin(), "grammar", "--model", SMOLLM2, "--schemas", f.name, "--seeds", "8"],
                         capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.splitlines()[0])
    return r["mask_us_p50"], r["mask_us_p99"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--no-llama", action="store_true")
    a = ap.parse_args()
    servers = {}
    procs = []
    try:
        port = free_port()
        env = dict(os.environ, TANDEM_THREADS=str(a.threads))
        procs.append(start([tandem_bin(), "serve", "--model", SMOLLM2, "--model-name", "m", "--port", str(port), "--kv-mib", "256"],
                           Path("/tmp/grammar-bench-tandem.log"), f"http://127.0.0.1:{port}/health", timeout=120,
                           ok=lambda s: s == 200, name="tandem serve", env=env))
        servers["tandem"] = f"http://127.0.0.1:{port}"
        if not a.no_llama:
            llama = Path(os.environ.get("LLAMA_BIN", ROOT / ".peer" / "llama.cpp-build" / "bin")) / "llama-server"
            lport = free_port()
            procs.append(start([str(llama), "-m", SMOLLM2, "-a", "m", "--host", "127.0.0.1", "--port", str(lport), "-t", str(a.threads),
                                "--parallel", "8", "-c", str(8 * 2048), "--cont-batching", "--no-webui"],
                               Path("/tmp/grammar-bench-llama.log"), f"http://127.0.0.1:{lport}/health", timeout=120,
                               ok=lambda s: s == 200, name="llama-server"))
            servers["llama.cpp"] = f"http://127.0.0.1:{lport}"
        runs = [(s, schema, c) for s in servers for schema in (False, True) for c in (1, 8)]
        results = {r: [] for r in runs}
        for k in range(a.rounds):
            order = runs[k % len(runs):] + runs[:k % len(runs)]
            for r in order:
                results[r] += level(servers[r[0]], r[1], r[2], a.tokens, k)
    finally:
        for p in procs:
            stop(p, timeout=20)
    p50, p99 = mask_times()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"# Constrained decoding overhead ({Path(SMOLLM2).name}, {a.threads} threads, {a.rounds} interleaved rounds, "
          f"{a.tokens} max tokens, {cpu}, {time.strftime('%Y-%m-%d')})\n")
    print(f"Tandem mask time per step (cold walks over the schema, `tandem grammar --seeds 8`): p50 {p50:.1f} µs, p99 {p99:.0f} µs\n")
    print("| server | concurrency | TPOT free (ms, median) | TPOT with schema (ms, median) | overhead | tokens per answer, free / schema (mean) |")
    print("| --- | --- | --- | --- | --- | --- |")
    table = []
    for s in servers:
        for c in (1, 8):
            free, sch = results[(s, False, c)], results[(s, True, c)]
            if not free or not sch:
                continue
            f, g = statistics.median(t for t, _ in free) * 1000, statistics.median(t for t, _ in sch) * 1000
            nf, ng = statistics.mean(n for _, n in free), statistics.mean(n for _, n in sch)
            table.append({"server": s, "concurrency": c, "tpot_free_ms": f, "tpot_schema_ms": g, "tokens_free": nf, "tokens_schema": ng,
                          "samples": [len(free), len(sch)]})
            print(f"| {s} | {c} | {f:.1f} | {g:.1f} | {100 * (g / f - 1):+.1f}% | {nf:.0f} / {ng:.0f} |")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "grammar_overhead.json").write_text(json.dumps({"mask_us_p50": p50, "mask_us_p99": p99, "levels": table}, indent=1))


if __name__ == "__main__":
    main()
