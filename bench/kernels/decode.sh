#!/bin/sh
# Decode tokens/s of SmolLM2 per weight format (load-time quantisation, --weights) on 1 and 2
# kernel threads (TANDEM_THREADS), `tandem generate` (the serving engine on a one-rank ModelRunner), greedy, 64 new tokens, in one run
# side by side. Prints one line per (format, threads); repeat and take medians on a noisy box.
# Usage: bench/kernels/decode.sh   (env: TANDEM_SMOLLM2_PATH, ROUNDS)
set -eu
cd "$(dirname "$0")/../.."
swift build -c release --product tandem >&2
BIN="$(swift build -c release --show-bin-path)/tandem"
SMOL="${TANDEM_SMOLLM2_PATH:-models/SmolLM2-135M-Instruct.Q4_1.gguf}"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "${ROUNDS:-3}"); do
    for w in native f32 fp8 nvfp4 mxfp4; do
        for t in 1 2; do
            line=$(TANDEM_THREADS=$t "$BIN" generate --model "$SMOL" --weights "$w" --max-tokens 64 \
                --prompt "Once upon a time, in a small village by the sea," 2>&1 >/dev/null | tail -1)
            echo "round $round weights $w threads $t: $line"
        done
    done
done
