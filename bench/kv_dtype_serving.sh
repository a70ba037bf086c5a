#!/usr/bin/env bash
# Serving throughput with the KV cache in f32 vs FP8, under a tight and a roomy KV budget: the
# `concurrency` scenario at one level (default 16) against `tandem serve --kv-dtype f32|fp8
# --kv-mib M`, alternated within each round so load bursts hit both. Prints one Markdown table
# (median over rounds of output tok/s, TTFT p50, preemptions from the server's /metrics).
#
#   bash bench/kv_dtype_serving.sh                      # KV_MIBS="64 1024", ROUNDS=2, LEVEL=16
#
# Environment: TANDEM_BIN (default .build/release/tandem), MODEL (default the shipped SmolLM2 Q4_1),
# THREADS (default 2), KV_MIBS, ROUNDS, LEVEL, REQUESTS (default 32), OUT (default
# bench/out/kv-dtype-<time>).
set -euo pipefail
cd "$(dirname "$0")/.."
TANDEM_BIN=${TANDEM_BIN:-.build/release/tandem}
MODEL=${MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
THREADS=${THREADS:-2}
KV_MIBS=${KV_MIBS:-64 1024}
ROUNDS=${ROUNDS:-2}
LEVEL=${LEVEL:-16}
REQUESTS=${REQUESTS:-32}
OUT=${OUT:-bench/out/kv-dtype-$(date -u +%Y%m%dT%H%M%SZ)}
[[ -f "$MODEL" ]] || { echo "model not found: $MODEL" >&2; exit 1; }
[[ -x "$TANDEM_BIN" ]] || { echo "tandem not built: $TANDEM_BIN (swift build -c release)" >&2; exit 1; }
mkdir -p "$OUT"

free_port() { python3 tools/tandemkit.py free-port; }
SERVER=""
cleanup() { [[ -n $SERVER ]] && { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }; }
trap cleanup EXIT

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$ROUNDS"); do
  for mib in $KV_MIBS; do
    for dtype in f32 fp8; do
      port=$(free_port)
      run="$OUT/r$round-$mib-$dtype"
      TANDEM_THREADS=$THREADS "$TANDEM_BIN" serve --model "$MODEL" --model-name m --port "$port" --kv-mib "$mib" \
        --kv-dtype "$dtype" >"$run-serve.log" 2>&1 &
      SERVER=$!
      for _ in $(seq 1 240); do
        kill -0 "$SERVER" 2>/dev/null || { echo "tandem serve exited: $run-serve.log" >&2; exit 1; }
        curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
        sleep 0.5
      done
      "$TANDEM_BIN" bench --base-url "http://127.0.0.1:$port" --model m --scenario concurrency \
        --concurrency "$LEVEL" --requests "$REQUESTS" --out "$run" --quiet >/dev/null
      curl -sf "http://127.0.0.1:$port/metrics" >"$run-metrics.txt"
      cleanup; SERVER=""
      echo "round $round kv_mib $mib $dtype done" >&2
    done
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$OUT" "$ROUNDS" "$LEVEL" "$KV_MIBS" "$LOAD_BEFORE" "$LOAD_AFTER" <<'EOF'
import json, re, statistics, sys, time
out, rounds, level, mibs, before, after = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split(), sys.argv[5], sys.argv[6]

def level_stats(path):
    report = json.load(open(path))
    levels = report["levels"]
    if len(levels) != 1:
        sys.exit(f"{path}: expected one load level, found {len(levels)}")
    return levels[0]

def metric(path, name):
    total = 0.0
    for line in open(path):
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total

print(f"<!-- {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}; {rounds} rounds; load before {before}, after {after} -->")
print(f"| kv_mib | kv dtype | output tok/s at c={level} | TTFT p50 ms | requests ok | preemptions (server) |")
print("| ---: | --- | ---: | ---: | ---: | ---: |")
for mib in mibs:
    for dtype in ("f32", "fp8"):
        tps, ttft, ok, pre = [], [], [], []
        for r in range(1, rounds + 1):
            run = f"{out}/r{r}-{mib}-{dtype}"
            s = level_stats(f"{run}/results.json")
            tps.append(s["outputThroughput"])
            ttft.append(s["ttft"]["p50"] * 1000)
            ok.append(s["succeeded"])
            pre.append(metric(f"{run}-metrics.txt", "tandem_engine_preemptions_total"))
        fmt = lambda v: f"{statistics.median(v):.1f} ({min(v):.1f}-{max(v):.1f})"
        print(f"| {mib} | {dtype} | {fmt(tps)} | {fmt(ttft)} | {min(ok)}-{max(ok)} | {fmt(pre)} |")
EOF
