#!/usr/bin/env python3
"""Speculative decoding on vs off, same build, same model, interleaved rounds: `tandem serve`
without speculation ("off"), with `--speculative prompt-lookup` and its start-up cost model ("on"),
and with drafting in every step ("always": `--spec-cost-model off`), greedy chat requests over HTTP (streamed, so each
request's time per output token is measured after its first token), at several concurrencies, on
workloads where an answer quotes its input (extraction, code editing, summarising) and on the
council prompts (free writing). Each round starts each server in turn (order rotating) and runs
every workload and concurrency on each; the tables are medians over rounds (min-max).

    swift build -c release --product tandem
    python3 bench/spec_decode.py --model models/SmolLM2-135M-Instruct.Q4_1.gguf --rounds 3

Figures per (workload, concurrency): decode tokens/s (completion tokens after the first, over the
wall time from the first request's first token to the last request's end), TPOT (median over
requests of (last - first token time) / (tokens - 1)), and the acceptance rate and draft tokens
per verification from the server's `tandem_spec_*` counters. Modes `llama-off` and `llama-lookup`
run llama.cpp's llama-server on the same file, plain and with its n-gram lookup drafting
(`--spec-type ngram-simple`), for the side-by-side. Options: --bin (default
.build/release/tandem), --modes off,on,always[,llama-off,llama-lookup], --concurrency 1,4,16, --max-tokens 128, --spec-tokens 4,
--spec-max-batch 0, --threads (kernel threads, default: serve's), --workloads extraction,code,summary,council.
"""
import argparse
import json
import os
import re
import statistics
import sys
import textwrap
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
from tandemkit import ROOT, Deployment  # noqa: E402

RECORD = ("Order 48213: customer Jane Marlowe, 14 Birch Lane, Leeds LS6 2QT; items: 2x ceramic mug (blue), "
          "1x walnut cutting board, 3x linen napkin set (sage); paid by card ending 4417 on 2026-11-03; "
          "delivery: standard, expected 2026-11-08; note: leave the parcel with the neighbour at number 16.")
CODE = '''def total_price(items, tax_rate):
    subtotal = 0
    for item in items:
        subtotal = subtotal + item["price"] * item["quantity"]
    tax = subtotal * tax_rate
    return subtotal + tax


def cheapest(items):
    best = None
    for item in items:
        if best is None or item["price"] < best["price"]:
            best = item
    return best
'''
ARTICLE = ("The city council approved the new cycling plan on Tuesday. The plan adds 40 kilometres of "
           "protected bike lanes over three years, starting with the route between the railway station and "
           "the university. The council will pay for the first phase from the transport budget, and apply "
           "for a national grant for the rest. Shop owners on Market Street asked for loading zones, and the "
           "council agreed to keep two of them. The first lanes should open in the spring.")

WORKLOADS = {
    "extraction": [f"Here is an order record:\n{RECORD}\nCopy the customer's name, the address and every item, "
                   "exactly as written in the record, one per line.",
                   f"{RECORD}\nRepeat the delivery note and the payment details word for word."],
    "code": [f"{CODE}\nRewrite this code with the variable `subtotal` renamed to `net`. Output the whole code.",
             f"{CODE}\nAdd a docstring to each function and output the whole file."],
    "summary": [f"{ARTICLE}\nSummarise the article in three sentences, keeping its wording where you can.",
                f"{ARTICLE}\nList the facts in the article as bullet points."],
}


def council_prompts():
    path = os.path.join(str(ROOT), "Sources", "TandemBench", "CouncilTasks.swift")
    if not os.path.exists(path):
        return ["Break the task of moving a small team's services to a new server into steps.",
                "Summarise the priorities for a two-person support team this week."]
    text = open(path).read()
    prompts = re.findall(r'prompt:\s*"""\n(.*?)\n\s*"""', text, re.S)
    # Swift string continuations (a backslash at the end of a line) join lines.
    return [textwrap.dedent(p).replace("\\\n", "") for p in prompts] or ["Write a short plan."]


def counters(url):
    import httpx
    text = httpx.get(url + "/metrics", timeout=10).text
    out = {}
    for name in ["tandem_spec_proposed_tokens_total", "tandem_spec_accepted_tokens_total", "tandem_spec_skipped_steps_total",
                 "tandem_engine_steps_total"]:
        m = re.search(rf"^{name}\{{[^}}]*\}} (\d+)", text, re.M)
        out[name] = int(m.group(1)) if m else 0
    m = re.search(r"^tandem_spec_acceptance_length_count\{[^}]*\} (\d+)", text, re.M)
    out["verifications"] = int(m.group(1)) if m else 0
    return out


def one_request(client, prompt, max_tokens, out, i):
    start = time.monotonic()
    times, tokens = [], 0
    stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens,
                                            temperature=0, stream=True, stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            times.append(time.monotonic())
        if chunk.usage:
            tokens = chunk.usage.completion_tokens
    # A server that sends no usage chunk: one content chunk per token.
    out[i] = (start, times, tokens or len(times))


def run_level(dep, prompts, concurrency, max_tokens):
    client = dep.client()
    out = [None] * concurrency
    threads = [threading.Thread(target=one_request, args=(client, prompts[i % len(prompts)], max_tokens, out, i)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    firsts = [o[1][0] for o in out if o[1]]
    lasts = [o[1][-1] for o in out if o[1]]
    decoded = sum(max(o[2] - 1, 0) for o in out)
    span = max(lasts) - min(firsts) if firsts else 0
    tpots = [(o[1][-1] - o[1][0]) / (o[2] - 1) for o in out if o[1] and o[2] > 1]
    return {"tok_s": decoded / span if span > 0 else 0, "tpot_ms": 1000 * statistics.median(tpots) if tpots else 0,
            "tokens": sum(o[2] for o in out)}


class LlamaServer:
    """llama.cpp's llama-server on the same file (the peer, bench/peer/build_llamacpp.sh): plain
    ("llama-off") or with its n-gram lookup drafting ("llama-lookup": --spec-type ngram-simple, as
    many draft tokens as --spec-tokens), the same thread count and 16 slots."""

    def __init__(self, model, lookup, args):
        import subprocess
        import urllib.request
        from tandemkit import free_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [str(ROOT / ".peer" / "llama.cpp-build" / "bin" / "llama-server"), "-m", model, "--port", str(self.port),
               "-t", str(args.threads or os.cpu_count()), "-np", "16", "-c", str(16 * 1024), "--no-warmup"]
        if lookup:
            cmd += ["--spec-type", "ngram-simple", "--spec-draft-n-max", str(args.spec_tokens),
                    "--spec-ngram-simple-size-n", "3", "--spec-ngram-simple-size-m", str(args.spec_tokens)]
        self.log = open(f"/tmp/llama-server-{self.port}.log", "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(600):
            try:
                urllib.request.urlopen(self.url + "/health", timeout=1)
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("llama-server exited: " + open(self.log.name).read()[-2000:])
                time.sleep(0.1)
        raise RuntimeError("llama-server did not become ready")

    def client(self):
        from openai import OpenAI
        return OpenAI(base_url=self.url + "/v1", api_key="none", timeout=300, max_retries=0)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()


def serve(bin_path, model, mode, args):
    if mode.startswith("llama-"):
        return LlamaServer(model, mode == "llama-lookup", args)
    os.environ["TANDEM_BIN"] = bin_path
    extra = ["--max-running", "16", "--kv-mib", "256"]
    if mode != "off":
        extra += ["--speculative", "prompt-lookup", "--spec-tokens", str(args.spec_tokens), "--spec-max-batch", str(args.spec_max_batch),
                  "--spec-cost-model", "on" if mode == "on" else "off"]
    if args.threads:
        os.environ["TANDEM_THREADS"] = str(args.threads)
    return Deployment(model, 1, step_timeout=120, extra=extra)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=str(ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--bin", default=str(ROOT / ".build" / "release" / "tandem"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--concurrency", default="1,4,16")
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--spec-tokens", type=int, default=4)
    p.add_argument("--spec-max-batch", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--workloads", default="extraction,code,summary,council")
    p.add_argument("--modes", default="off,on,always")
    args = p.parse_args()
    modes = args.modes.split(",")
    levels = [int(c) for c in args.concurrency.split(",")]
    workloads = {w: (WORKLOADS[w] if w != "council" else council_prompts()) for w in args.workloads.split(",")}
    results = {}  # (mode, workload, level) -> [dict]
    accept = {m: [] for m in modes}
    for r in range(args.rounds):
        for spec in modes[r % len(modes):] + modes[:r % len(modes)]:
            dep = serve(args.bin, args.model, spec, args)
            tandem = not spec.startswith("llama-")
            try:
                before = counters(dep.url) if tandem else {}
                for w, prompts in workloads.items():
                    for c in levels:
                        res = run_level(dep, prompts, c, args.max_tokens)
                        results.setdefault((spec, w, c), []).append(res)
                        print(f"round {r + 1} {spec} {w} c={c}: {res['tok_s']:.1f} tok/s, "
                              f"TPOT {res['tpot_ms']:.1f} ms, {res['tokens']} tokens", flush=True)
                if tandem:
                    after = counters(dep.url)
                    accept[spec].append({k: after[k] - before[k] for k in after})
            finally:
                dep.stop()

    def cell(values, fmt):
        return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"

    print(f"\nModel {os.path.basename(args.model)}, {args.rounds} interleaved rounds, max_tokens {args.max_tokens}, "
          f"--spec-tokens {args.spec_tokens} --spec-max-batch {args.spec_max_batch}\n")
    # Each speculating mode against its own engine's plain mode.
    def base(m):
        return "llama-off" if m.startswith("llama-") else "off"
    others = [m for m in modes if m not in ("off", "llama-off")]
    print("| workload | concurrency | " + " | ".join(f"decode tok/s {m}" for m in modes) + " | "
          + " | ".join(f"{m} / {base(m)}" for m in others) + " | " + " | ".join(f"TPOT ms {m}" for m in modes) + " |")
    print("|" + " --- |" * (2 + 2 * len(modes) + len(others)))
    for w in workloads:
        for c in levels:
            rows = {m: results[(m, w, c)] for m in modes}
            med = {m: statistics.median(o["tok_s"] for o in rows[m]) for m in modes}
            print(f"| {w} | {c} | " + " | ".join(cell([o["tok_s"] for o in rows[m]], "{:.1f}") for m in modes) + " | "
                  + " | ".join(f"{med[m] / max(med.get(base(m), med[m]), 1e-9):.2f}x" for m in others) + " | "
                  + " | ".join(cell([o["tpot_ms"] for o in rows[m]], "{:.1f}") for m in modes) + " |")
    for m in others:
        tot = {k: sum(a[k] for a in accept[m]) for k in accept[m][0]} if accept[m] else {}
        if tot.get("tandem_spec_proposed_tokens_total"):
            rate = tot["tandem_spec_accepted_tokens_total"] / tot["tandem_spec_proposed_tokens_total"]
            per = tot["tandem_spec_accepted_tokens_total"] / max(tot["verifications"], 1)
            print(f"\n{m}: {tot['tandem_spec_proposed_tokens_total']} draft tokens, {rate:.0%} accepted, "
                  f"{per:.2f} accepted per verification, {tot['tandem_engine_steps_total']} steps, "
                  f"{tot['tandem_spec_skipped_steps_total']} steps without drafts by the cost model")
        elif tot:
            print(f"\n{m}: no draft tokens verified ({tot['tandem_engine_steps_total']} steps)")
    print("\ncommand: python3 " + " ".join(sys.argv))
    json.dump({f"{k[0]}/{k[1]}/{k[2]}": v for k, v in results.items()},
              open("/tmp/spec_decode.json", "w"), indent=1)


if __name__ == "__main__":
    main()
