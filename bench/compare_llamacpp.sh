#!/usr/bin/env bash
# Peer comparison: the same `tandem bench` scenario against `tandem serve` and llama.cpp's server
# (`llama-server`, built from the vendored llama.cpp of PyPI's llama-cpp-python sdist by
# bench/peer/build_llamacpp.sh), same GGUF weights, same prompts and output lengths, same thread
# count, one after the other in one run. Never run in CI (building the peer compiles llama.cpp).
#
#   bash bench/compare_llamacpp.sh [scenario] [threads] [extra tandem-bench args...]   # default: smoke 2
#
# Environment: TANDEM_BIN (default .build/release/tandem), MODEL (default
# models/SmolLM2-135M-Instruct.Q4_1.gguf), OUT (default bench/out/compare-<scenario>-<time>),
# LLAMA_BIN (default .peer/llama.cpp-build/bin), SLOTS (llama-server --parallel, default 16),
# KV_MIB (tandem serve --kv-mib, default 1024: about as many tokens as llama-server's 32k context).
# Both servers bind 127.0.0.1 on free ports and are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO=${1:-smoke}
THREADS=${2:-2}
shift $(( $# > 2 ? 2 : $# ))
EXTRA=("$@")
MODEL=${MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
OUT=${OUT:-bench/out/compare-$SCENARIO-$(date -u +%Y%m%dT%H%M%SZ)}
LLAMA_BIN=${LLAMA_BIN:-.peer/llama.cpp-build/bin}
SLOTS=${SLOTS:-16}
KV_MIB=${KV_MIB:-1024}
TANDEM_BIN=${TANDEM_BIN:-.build/release/tandem}
[[ -f "$MODEL" ]] || { echo "model not found: $MODEL" >&2; exit 1; }
[[ -x "$TANDEM_BIN" ]] || { echo "tandem not built: $TANDEM_BIN (swift build -c release)" >&2; exit 1; }
[[ -x "$LLAMA_BIN/llama-server" ]] || bash bench/peer/build_llamacpp.sh

free_port() { python3 tools/tandemkit.py free-port; }
wait_ready() {  # url pid
  for _ in $(seq 1 240); do
    kill -0 "$2" 2>/dev/null || { echo "server exited" >&2; return 1; }
    curl -sf "$1" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "server not ready: $1" >&2; return 1
}
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
mkdir -p "$OUT"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# Tandem: one rank, THREADS kernel threads.
TP=$(free_port)
TANDEM_THREADS=$THREADS "$TANDEM_BIN" serve --model "$MODEL" --model-name m --port "$TP" --kv-mib "$KV_MIB" \
  >"$OUT/tandem-serve.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$TP/health" "${PIDS[-1]}"
"$TANDEM_BIN" bench --base-url "http://127.0.0.1:$TP" --model m --scenario "$SCENARIO" --out "$OUT/tandem" "${EXTRA[@]}" \
  > "$OUT/tandem.md"
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

# llama.cpp: same weights, same threads, SLOTS slots (continuous batching), prompt-cache reuse on.
LP=$(free_port)
"$LLAMA_BIN/llama-server" -m "$MODEL" -a m --host 127.0.0.1 --port "$LP" -t "$THREADS" --parallel "$SLOTS" \
  -c $((SLOTS * 2048)) --cont-batching --cache-reuse 256 --no-webui >"$OUT/llamacpp-serve.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$LP/health" "${PIDS[-1]}"
"$TANDEM_BIN" bench --base-url "http://127.0.0.1:$LP" --model m --scenario "$SCENARIO" --out "$OUT/llamacpp" "${EXTRA[@]}" \
  > "$OUT/llamacpp.md"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

{
  echo "# $SCENARIO: tandem vs llama.cpp ($(basename "$MODEL"), $THREADS threads, $(date -u +%FT%TZ); load before $LOAD_BEFORE, after $LOAD_AFTER)"
  echo
  # The per-level table of each summary: its header, its separator, its rows.
  levels() { awk '/^\| level /{on=1; print; getline; print; next} on && /^\| (concurrency|rate)=/{print; next} on{exit}' "$1"; }
  echo "## tandem serve"; levels "$OUT/tandem.md"
  echo
  echo "## llama.cpp (llama-server from the llama-cpp-python 0.3.36 sdist)"; levels "$OUT/llamacpp.md"
} > "$OUT/compare.md"
cat "$OUT/compare.md"
python3 bench/compare_plot.py "$OUT" "${PLOTS:-$OUT}"
