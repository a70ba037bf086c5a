#!/usr/bin/env bash
# Peer comparison: the same `tandem bench` scenario against `tandem serve` and llama.cpp's server
# (PyPI llama-cpp-python[server]), same GGUF weights, same prompts and output lengths, same thread
# count, one after the other in one run. Never run in CI: installing the peer compiles llama.cpp
# (6-10 minutes on 2 cores; see /work/shared/docs/PEERS.md).
#
#   bash bench/compare_llamacpp.sh [scenario] [threads]      # default: smoke 2
#
# Environment: TANDEM_BIN (default .build-transport/debug/tandem, else `swift build` bin path),
# MODEL (default models/SmolLM2-135M-Instruct.Q4_1.gguf), OUT (default bench/out/compare-<time>),
# VENV (default .venv-llamacpp; the peer is installed there if missing).
# Both servers bind 127.0.0.1 on free ports and are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO=${1:-smoke}
THREADS=${2:-2}
MODEL=${MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
OUT=${OUT:-bench/out/compare-$(date -u +%Y%m%dT%H%M%SZ)}
VENV=${VENV:-.venv-llamacpp}
if [[ -z "${TANDEM_BIN:-}" ]]; then
  if [[ -x .build-transport/debug/tandem ]]; then TANDEM_BIN=.build-transport/debug/tandem
  else TANDEM_BIN="$(swift build -c release --show-bin-path)/tandem"; fi
fi
[[ -f "$MODEL" ]] || { echo "model not found: $MODEL" >&2; exit 1; }

if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
  echo "installing llama-cpp-python[server] into $VENV (compiles llama.cpp: 6-10 minutes)" >&2
  python3 -m venv "$VENV"
  CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_OPENSSL=OFF" \
    "$VENV/bin/pip" install --no-cache-dir "llama-cpp-python[server]"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
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

# Tandem: one rank. Threads: the kernels use the OpenBLAS/OpenMP thread count.
TP=$(free_port)
OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS \
  "$TANDEM_BIN" serve --model "$MODEL" --model-name m --port "$TP" >"$OUT/tandem-serve.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$TP/health" "${PIDS[-1]}"
"$TANDEM_BIN" bench --base-url "http://127.0.0.1:$TP" --model m --scenario "$SCENARIO" --out "$OUT/tandem" \
  > "$OUT/tandem.md"
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

# llama.cpp: same weights, same threads, enough slots for the scenario's concurrency, prompt cache on.
LP=$(free_port)
"$VENV/bin/python" -m llama_cpp.server --model "$MODEL" --model_alias m --host 127.0.0.1 --port "$LP" \
  --n_threads "$THREADS" --n_ctx 4096 >"$OUT/llamacpp-serve.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$LP/v1/models" "${PIDS[-1]}"
"$TANDEM_BIN" bench --base-url "http://127.0.0.1:$LP" --model m --scenario "$SCENARIO" --out "$OUT/llamacpp" \
  > "$OUT/llamacpp.md"

{
  echo "# $SCENARIO: tandem vs llama.cpp ($(basename "$MODEL"), $THREADS threads, $(date -u +%FT%TZ))"
  echo
  echo "## tandem serve"; grep -E '^\| (level|---|concurrency|rate)' "$OUT/tandem.md" | sed -E 's/\| (concurrency|rate)/| \1/'
  echo
  echo "## llama.cpp (llama-cpp-python server)"; grep -E '^\| (level|---|concurrency|rate)' "$OUT/llamacpp.md"
} > "$OUT/compare.md"
cat "$OUT/compare.md"
