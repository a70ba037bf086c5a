#!/bin/sh
# Weight-format accuracy (bench/RESULTS.md, "Weight formats: accuracy"): every format's logits
# against the full-precision (F32) run on stories260K and SmolLM2, with the fastest kernels
# (auto) and with exact dequantisation (portable), appended as Markdown to $OUT.
# Usage: bench/accuracy/run.sh   (env: OUT, TANDEM_STORIES260K_DIR, TANDEM_SMOLLM2_PATH)
set -eu
cd "$(dirname "$0")/../.."
swift build -c release --product tandem >&2
BIN="$(swift build -c release --show-bin-path)/tandem"
OUT="${OUT:-bench/out/accuracy.md}"
mkdir -p "$(dirname "$OUT")"
STORIES="${TANDEM_STORIES260K_DIR:-../shared/models/stories260K}/stories260K.bin"
SMOL="${TANDEM_SMOLLM2_PATH:-models/SmolLM2-135M-Instruct.Q4_1.gguf}"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for kernels in auto portable; do
    "$BIN" accuracy --model "$STORIES" --formats native,fp8,nvfp4,mxfp4 --kernels "$kernels" --markdown "$OUT"
    "$BIN" accuracy --model "$SMOL" --formats native,fp8,nvfp4,mxfp4 --kernels "$kernels" --markdown "$OUT"
done
echo "appended to $OUT" >&2
