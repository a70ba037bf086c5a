#!/bin/sh
# Decode-GEMV roofline (bench/RESULTS.md, "Weight formats: GEMV roofline"): effective GB/s of
# each weight format's multiply on an 8192 x 16384 matrix (larger than the L3 in every format)
# against STREAM-style read and triad bandwidth measured in the same run, 1 and 2 threads,
# SIMD and portable paths. Appends Markdown to $OUT. The machine is shared: check the load
# average printed in the table and repeat.
# Usage: bench/kernels/run.sh   (env: OUT, REPEATS)
set -eu
cd "$(dirname "$0")/../.."
swift build -c release --product tandem >&2
BIN="$(swift build -c release --show-bin-path)/tandem"
OUT="${OUT:-bench/out/kernels.md}"
mkdir -p "$(dirname "$OUT")"
"$BIN" bench-kernels --threads 1,2 --paths auto,portable --repeats "${REPEATS:-9}" --markdown "$OUT"
echo "appended to $OUT" >&2
