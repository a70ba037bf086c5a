#!/usr/bin/env python3
"""Runs bench/model_speed.sh ROUNDS times (R=1 inside each round) and prints one Markdown table of
per-row medians, so tandem and llama.cpp rows are interleaved in time: a burst of load on this
noisy 2-vCPU box hits both engines instead of whichever happened to run then.

    python3 bench/model_speed_rounds.py --rounds 5 -- models/peer/smollm2-135m-q8_0.gguf ...

Environment variables (THREADS, WEIGHTS, P, N, TP2, ...) pass through to model_speed.sh; R is
forced to 1. Each cell is "median (min-max)" over the rounds.
"""
import argparse, os, statistics, subprocess, sys, time


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    env = dict(os.environ, R="1")
    rows: dict = {}
    order: list = []
    header = None
    loads = [open("/proc/loadavg").read().split()[:3]]
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for k in range(a.rounds):
        out = subprocess.run(["bash", "bench/model_speed.sh", *a.files], env=env, capture_output=True, text=True)
        if out.returncode != 0:
            sys.stderr.write(out.stdout + out.stderr)
            return out.returncode
        for line in out.stdout.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not line.startswith("|") or len(cells) != 7 or cells[0] in ("file", "---"):
                if line.startswith("| file"):
                    header = line
                continue
            key = tuple(cells[:4])
            if key not in rows:
                rows[key] = ([], [], [])
                order.append(key)
            for i, col in enumerate((4, 5, 6)):
                try:
                    rows[key][i].append(float(cells[col]))
                except ValueError:
                    pass
        print(f"round {k + 1}/{a.rounds} done", file=sys.stderr)
    loads.append(open("/proc/loadavg").read().split()[:3])

    def cell(values):
        if not values:
            return "-"
        return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"

    print(f"<!-- {started}; {os.cpu_count()} cores; {a.rounds} rounds; load before {' '.join(loads[0])}, after {' '.join(loads[1])} -->")
    print(header or "| file | engine | weights | ranks x threads | pp | tg | all-reduce µs/call (tg) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for key in order:
        pp, tg, ar = rows[key]
        print(f"| {' | '.join(key)} | {cell(pp)} | {cell(tg)} | {cell(ar)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
