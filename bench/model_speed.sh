#!/usr/bin/env bash
# Model speed side by side in one run: for each GGUF file and thread count, `tandem bench-model`
# (prefill of P tokens as one chunk, then N tokens one at a time, from position 0) and llama.cpp's
# `llama-bench -p P -n N` on the same file, one right after the other. Optional TP=2 rows: the same
# `bench-model` under mpirun with 1 thread per rank. Prints one Markdown table (tokens/s, medians).
#
#   bash bench/model_speed.sh models/peer/smollm2-135m-q8_0.gguf models/SmolLM2-135M-Instruct.Q4_1.gguf
#
# Environment: TANDEM (default .build/release/tandem), LLAMA_BIN (default .peer/llama.cpp-build/bin;
# rows without the peer if missing), THREADS (default "1 2"), P/N/R (default 512/128/3),
# TP2=1 adds TP=2 rows (PARALLEL="tensor expert" adds expert-parallel EP=2 rows for MoE files),
# WEIGHTS (default "native"; e.g. "native fp8" re-quantises for tandem only).
# A file given as PATH@W1,W2 uses those weights instead of WEIGHTS (e.g. model.gguf@fp8,nvfp4).
set -euo pipefail
cd "$(dirname "$0")/.."
TANDEM=${TANDEM:-.build/release/tandem}
LLAMA_BIN=${LLAMA_BIN:-.peer/llama.cpp-build/bin}
THREADS=${THREADS:-1 2}
P=${P:-512}; N=${N:-128}; R=${R:-3}
WEIGHTS=${WEIGHTS:-native}
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none --mca mpi_yield_when_idle 1 -np 2)

echo "<!-- $(date -u +%FT%TZ); $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg) -->"
echo "| file | engine | weights | ranks x threads | pp$P t/s | tg$N t/s | all-reduce µs/call (tg) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
ALL_WEIGHTS=$WEIGHTS
for arg in "$@"; do
  f=${arg%%@*}
  WEIGHTS=$ALL_WEIGHTS
  [[ $arg == *@* ]] && WEIGHTS=${arg#*@} && WEIGHTS=${WEIGHTS//,/ }
  [[ -f $f ]] || { echo "missing $f" >&2; exit 1; }
  name=$(basename "$f" .gguf)
  for t in $THREADS; do
    for w in $WEIGHTS; do
      "$TANDEM" bench-model --model "$f" --weights "$w" --threads "$t" --prompt "$P" --generate "$N" --repeats "$R" --json \
        | python3 -c "import json,sys; o=json.load(sys.stdin); print(f\"| $name | tandem | $w | 1x$t | {o.get('pp_tokens_per_s',0):.1f} | {o.get('tg_tokens_per_s',0):.1f} | - |\")"
    done
    if [[ -x $LLAMA_BIN/llama-bench ]]; then
      "$LLAMA_BIN/llama-bench" -m "$f" -p "$P" -n "$N" -r "$R" -t "$t" -o json 2>/dev/null \
        | python3 -c "
import json,sys
rows=json.load(sys.stdin); pp=[r['avg_ts'] for r in rows if r['n_prompt']>0]; tg=[r['avg_ts'] for r in rows if r['n_gen']>0]
print(f\"| $name | llama.cpp | {rows[0]['type_k'] and rows[0].get('model_type','')} | 1x$t | {pp[0] if pp else 0:.1f} | {tg[0] if tg else 0:.1f} | - |\")"
    fi
  done
  if [[ ${TP2:-0} = 1 ]]; then
    for w in $WEIGHTS; do
      for par in ${PARALLEL:-tensor}; do
        label="TP=2"; [[ $par = expert ]] && label="EP=2"
        "${MPIRUN[@]}" "$TANDEM" bench-model --model "$f" --weights "$w" --parallel "$par" --threads 1 --prompt "$P" --generate "$N" --repeats "$R" --json 2>/dev/null \
          | python3 -c "import json,sys; o=json.loads(sys.stdin.read().strip().splitlines()[-1]); ('$par' == 'tensor' or 'parallel' in o) and print(f\"| $name | tandem $label ({o['transport']}) | $w | 2x1 | {o.get('pp_tokens_per_s',0):.1f} | {o.get('tg_tokens_per_s',0):.1f} | {o.get('tg_allreduce_us_per_call',0):.0f} |\")"
      done
    done
  fi
done
echo "<!-- load after: $(cut -d' ' -f1-3 /proc/loadavg) -->"
