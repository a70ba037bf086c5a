#!/usr/bin/env bash
# Derives the F16/Q8_0/Q4_0/MXFP4 GGUFs that both engines benchmark, with llama.cpp's
# llama-quantize (build it first: bench/peer/build_llamacpp.sh). Idempotent: existing outputs
# are kept (FORCE=1 redoes them).
#
#   bash bench/peer/requantize.sh            # both sets below
#   bash bench/peer/requantize.sh smollm2    # models/peer/smollm2-135m-{f16,q8_0,q4_0,mxfp4}.gguf
#   bash bench/peer/requantize.sh synth1b    # models/synthetic-1b/llama1b-{q8_0,q4_0,mxfp4}.gguf
#                                            # (from llama1b-f16.gguf, made by bench/synthetic_model.py)
#   bash bench/peer/requantize.sh synthmoe   # models/synthetic-moe/moe32x4-mxfp4.gguf (gpt-oss-20b's
#                                            # 32 experts, 4 per token, scaled; see synthetic_model.py)
#
# Tensor types (Tandem reads F32/F16/BF16/Q8_0/Q4_0/Q4_1/MXFP4, no K-quants), so every quantized
# file is made with --pure (no Q6_K/Q4_K mixes) and the (tied) token embedding is Q8_0 (EMBD_TYPE),
# like the original SmolLM2 Q4_1 file:
#   f16   : ftype F16: matrices F16 (norms stay F32)
#   q8_0  : ftype Q8_0 --pure: all matrices Q8_0
#   q4_0  : ftype Q4_0 --pure --token-embedding-type $EMBD_TYPE
#   mxfp4 : ftype MXFP4_MOE --pure --token-embedding-type $EMBD_TYPE: all matrices MXFP4 (without
#           --pure MXFP4_MOE would only make MoE expert tensors MXFP4 and everything else Q8_0)
#   mxfp4moe: ftype MXFP4_MOE: expert tensors MXFP4, everything else Q8_0 (as gpt-oss ships)
# SmolLM2 starts from models/SmolLM2-135M-Instruct.Q4_1.gguf (--allow-requantize: dequantized Q4_1
# values are re-quantized; F16 holds them exactly).
# Environment: BIN (default .peer/llama.cpp-build/bin), THREADS (default 2), EMBD_TYPE (q8_0), FORCE.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.peer/llama.cpp-build/bin}
THREADS=${THREADS:-2}
EMBD_TYPE=${EMBD_TYPE:-q8_0}
Q=$BIN/llama-quantize
[[ -x $Q ]] || { echo "missing $Q: run bench/peer/build_llamacpp.sh" >&2; exit 1; }

quant() {  # src dst kind
  local src=$1 dst=$2 kind=$3 args
  if [[ -f $dst && -z ${FORCE:-} ]]; then echo "exists: $dst"; return 0; fi
  [[ -f $src ]] || { echo "missing source $src" >&2; return 1; }
  case $kind in
    f16)   args=(F16) ;;
    q8_0)  args=(--pure Q8_0) ;;
    q4_0)  args=(--pure --token-embedding-type "$EMBD_TYPE" Q4_0) ;;
    mxfp4) args=(--pure --token-embedding-type "$EMBD_TYPE" MXFP4_MOE) ;;
    mxfp4moe) args=(MXFP4_MOE) ;;
    *) echo "unknown kind $kind" >&2; return 1 ;;
  esac
  mkdir -p "$(dirname "$dst")"
  local t=${args[-1]}; unset 'args[-1]'
  echo "+ $Q --allow-requantize ${args[*]} $src $dst.part $t $THREADS"
  "$Q" --allow-requantize "${args[@]}" "$src" "$dst.part" "$t" "$THREADS" > "$dst.log" 2>&1 \
    || { tail -20 "$dst.log" >&2; rm -f "$dst.part"; return 1; }
  mv "$dst.part" "$dst"
  ls -l "$dst"
}

sets=("$@"); (( ${#sets[@]} )) || sets=(smollm2 synth1b)
for s in "${sets[@]}"; do
  case $s in
    smollm2)
      for k in f16 q8_0 q4_0 mxfp4; do
        quant models/SmolLM2-135M-Instruct.Q4_1.gguf "models/peer/smollm2-135m-$k.gguf" "$k"
      done ;;
    synth1b)
      src=models/synthetic-1b/llama1b-f16.gguf
      if [[ ! -f $src ]]; then
        echo "making $src (random weights, ~2.5 GB)"
        python3 bench/synthetic_model.py --out "$src" --seed 0
      fi
      for k in q8_0 q4_0 mxfp4; do quant "$src" "models/synthetic-1b/llama1b-$k.gguf" "$k"; done ;;
    synthmoe)
      src=models/synthetic-moe/moe32x4-f16.gguf
      if [[ ! -f $src ]]; then
        echo "making $src (random weights, ~2.5 GB)"
        python3 bench/synthetic_model.py --out "$src" --seed 0 --dim 1024 --layers 12 --heads 16 --kv-heads 4 \
          --ffn 1024 --vocab 32000 --experts 32 --experts-used 4
      fi
      quant "$src" models/synthetic-moe/moe32x4-mxfp4.gguf mxfp4moe ;;
    *) echo "unknown set $s (smollm2, synth1b, synthmoe)" >&2; exit 1 ;;
  esac
done
