#!/usr/bin/env python3
"""A/B decode speed of two tandem builds (e.g. before and after a kernel change) and llama.cpp on
one GGUF file, interleaved: each round runs every engine once per thread count, one right after
the other, so a burst of load on this noisy box hits all of them. Prints each round and a Markdown
table of medians (min-max).

    cp .build/release/tandem /tmp/tandem-before   # before rebuilding
    swift build -c release --product tandem
    python3 bench/ab_decode.py --before /tmp/tandem-before models/SmolLM2-135M-Instruct.Q4_1.gguf

Options: --after (default .build/release/tandem), --threads 1,2, --rounds 5, --generate 128, --prompt 0
(N > 0: prefill of N tokens timed in the same runs, a second table),
--weights native, --llama-bin (default .peer/llama.cpp-build/bin; the llama.cpp column is left
out when llama-bench is missing).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tandem_run(binary, model, threads, generate, weights, prompt=0):
    """(tg t/s, pp t/s or None) of one bench-model run."""
    out = subprocess.run([binary, "bench-model", "--model", model, "--weights", weights, "--threads", str(threads),
                          "--prompt", str(prompt), "--generate", str(generate), "--repeats", "1", "--json"],
                         capture_output=True, text=True, errors="replace", timeout=600, cwd=ROOT)
    if out.returncode != 0:
        sys.exit(f"{binary} bench-model failed ({out.returncode}): {out.stderr[-2000:]}")
    o = json.loads(out.stdout.strip().splitlines()[-1])
    return o["tg_tokens_per_s"], o.get("pp_tokens_per_s")


def llama_run(llama_bin, model, threads, generate, prompt=0):
    """(tg t/s, pp t/s or None) of one llama-bench run."""
    out = subprocess.run([os.path.join(llama_bin, "llama-bench"), "-m", model, "-p", str(prompt), "-n", str(generate),
                          "-r", "1", "-t", str(threads), "-o", "json"],
                         capture_output=True, text=True, errors="replace", timeout=600, cwd=ROOT)
    if out.returncode != 0:
        sys.exit(f"llama-bench failed ({out.returncode}): {out.stderr[-2000:]}")
    rows = json.loads(out.stdout)
    tg = next(r["avg_ts"] for r in rows if r.get("n_gen", 0) > 0)
    pp = next((r["avg_ts"] for r in rows if r.get("n_prompt", 0) > 0), None)
    return tg, pp


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--before", required=True, help="the tandem binary to compare against")
    ap.add_argument("--after", default=os.path.join(ROOT, ".build/release/tandem"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--generate", type=int, default=128)
    ap.add_argument("--prompt", type=int, default=0, help="also time prefill of this many tokens (0: decode only)")
    ap.add_argument("--weights", default="native")
    ap.add_argument("--llama-bin", default=os.path.join(ROOT, ".peer/llama.cpp-build/bin"))
    a = ap.parse_args()
    for b in (a.before, a.after):
        if not os.access(b, os.X_OK):
            sys.exit(f"{b}: not an executable tandem binary")
    if not os.path.isfile(a.model):
        sys.exit(f"{a.model}: no such model file")
    threads = [int(t) for t in a.threads.split(",")]
    with_llama = os.access(os.path.join(a.llama_bin, "llama-bench"), os.X_OK) and a.weights == "native"
    engines = ["before", "after"] + (["llama.cpp"] if with_llama else [])
    runs = {(e, t): [] for e in engines for t in threads}
    pp_runs = {(e, t): [] for e in engines for t in threads}
    load_before = open("/proc/loadavg").read().split()[:3]
    for r in range(1, a.rounds + 1):
        for t in threads:
            got = {"before": tandem_run(a.before, a.model, t, a.generate, a.weights, a.prompt),
                   "after": tandem_run(a.after, a.model, t, a.generate, a.weights, a.prompt)}
            if with_llama:
                got["llama.cpp"] = llama_run(a.llama_bin, a.model, t, a.generate, a.prompt)
            for e, (tg, pp) in got.items():
                runs[(e, t)].append(tg)
                if pp is not None:
                    pp_runs[(e, t)].append(pp)
            print(f"round {r} threads {t}: " + "  ".join(f"{e} tg {tg:.1f}" + (f" pp {pp:.1f}" if pp else "")
                                                          for e, (tg, pp) in got.items()), flush=True)
    load_after = open("/proc/loadavg").read().split()[:3]
    print()
    print(f"<!-- {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}; {os.cpu_count()} cores; {a.rounds} rounds; "
          f"load before {' '.join(load_before)}, after {' '.join(load_after)} -->")
    print(f"| threads | " + " | ".join(f"{e} tg{a.generate} t/s" for e in engines) + " | after / before |")
    print("| ---: | " + " | ".join("---:" for _ in engines) + " | ---: |")
    for t in threads:
        med = {e: statistics.median(runs[(e, t)]) for e in engines}
        cells = [f"{med[e]:.1f} ({min(runs[(e, t)]):.1f}-{max(runs[(e, t)]):.1f})" for e in engines]
        print(f"| {t} | " + " | ".join(cells) + f" | {med['after'] / med['before']:.2f} |")
    if a.prompt:
        print()
        print(f"| threads | " + " | ".join(f"{e} pp{a.prompt} t/s" for e in engines) + " | after / before |")
        print("| ---: | " + " | ".join("---:" for _ in engines) + " | ---: |")
        for t in threads:
            med = {e: statistics.median(pp_runs[(e, t)]) for e in engines}
            cells = [f"{med[e]:.1f} ({min(pp_runs[(e, t)]):.1f}-{max(pp_runs[(e, t)]):.1f})" for e in engines]
            print(f"| {t} | " + " | ".join(cells) + f" | {med['after'] / med['before']:.2f} |")


if __name__ == "__main__":
    main()
