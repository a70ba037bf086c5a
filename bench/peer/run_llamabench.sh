#!/usr/bin/env bash
# llama.cpp's own throughput figures (llama-bench) for the peer GGUFs, 1 and 2 threads, markdown
# into bench/out/peer/llamabench-<model>.md (one file per model; bench/out is gitignored).
# Needs bench/peer/build_llamacpp.sh and bench/peer/requantize.sh first.
#
#   bash bench/peer/run_llamabench.sh              # smollm2 + synth1b
#   bash bench/peer/run_llamabench.sh smollm2      # models/peer/smollm2-135m-*.gguf  (-p 512 -n 128 -r 3)
#   bash bench/peer/run_llamabench.sh synth1b      # models/synthetic-1b/llama1b-*.gguf (-p $P1B -n $N1B -r $R1B)
#
# Environment: BIN, OUT (default bench/out/peer), THREADS (default "1,2"), P/N/R for SmolLM2
# (512/128/3), P1B/N1B/R1B for the 1B model (512/128/3; 128/32/2 when time presses).
# Each file records the machine load before the run: figures taken under load are not comparable.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.peer/llama.cpp-build/bin}
OUT=${OUT:-bench/out/peer}
THREADS=${THREADS:-1,2}
P=${P:-512}; N=${N:-128}; R=${R:-3}
P1B=${P1B:-512}; N1B=${N1B:-128}; R1B=${R1B:-3}
[[ -x $BIN/llama-bench ]] || { echo "missing $BIN/llama-bench: run bench/peer/build_llamacpp.sh" >&2; exit 1; }
mkdir -p "$OUT"

bench() {  # model p n r
  local m=$1 out
  [[ -f $m ]] || { echo "missing $m (bench/peer/requantize.sh)" >&2; return 1; }
  out=$OUT/llamabench-$(basename "$m" .gguf).md
  {
    echo "# llama-bench $(basename "$m")"
    echo
    echo "- date: $(date -u +%FT%TZ); host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
    echo "- load before run: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- command: \`$BIN/llama-bench -m $m -p $2 -n $3 -r $4 -t $THREADS -o md\`"
    echo
    "$BIN/llama-bench" -m "$m" -p "$2" -n "$3" -r "$4" -t "$THREADS" -o md 2>/dev/null
    echo
    echo "- load after run: $(cut -d' ' -f1-3 /proc/loadavg)"
  } > "$out.part"
  mv "$out.part" "$out"
  cat "$out"
}

sets=("$@"); (( ${#sets[@]} )) || sets=(smollm2 synth1b)
for s in "${sets[@]}"; do
  case $s in
    smollm2) for k in f16 q8_0 q4_0 mxfp4; do bench "models/peer/smollm2-135m-$k.gguf" "$P" "$N" "$R"; done ;;
    synth1b) for k in f16 q8_0 q4_0 mxfp4; do bench "models/synthetic-1b/llama1b-$k.gguf" "$P1B" "$N1B" "$R1B"; done ;;
    *) echo "unknown set $s (smollm2, synth1b)" >&2; exit 1 ;;
  esac
done
