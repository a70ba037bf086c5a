#!/usr/bin/env bash
# The one command for a real AArch64 host (a DGX Spark's Grace CPU, say): installs what is missing,
# runs the Arm kernel checks natively, then measures the kernels and the default model, and writes
# one Markdown report an operator can paste into bench/RESULTS.md.
#   1. e2e/arm/kernel_check.c built with the host compiler and run natively: every Arm GEMV path
#      (neon, dotprod) against the portable path and float64 references (e2e/test_arm_kernels.py).
#   2. The Swift kernel tests (TandemKernelsTests; on AArch64 they run the real NEON kernels).
#   3. `tandem probe` (the CPU features), `tandem bench-kernels` on every GEMV path this CPU has,
#      `tandem bench-model` on SmolLM2-135M (Q4_1 as shipped, and re-quantised to MXFP4 and NVFP4)
#      at 1 thread and at every core.
# Usage: deploy/arm-check.sh [REPORT.md]   (default bench/results/arm-check-HOST-DATE.md)
# Environment: ARM_CHECK_QUICK=1 shrinks the benchmarks (for a first look: a minute or two).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
arch="$(uname -m)"
if [ "$arch" != aarch64 ] && [ "$arch" != arm64 ]; then
  echo "arm-check: run this on an AArch64 host (this one is $arch); on x86-64, e2e/test_arm_kernels.py runs the kernels under qemu" >&2
  exit 1
fi
report="${1:-$root/bench/results/arm-check-$(hostname -s)-$(date +%Y-%m-%d).md}"
mkdir -p "$(dirname "$report")"
cores="$(nproc)"
quick="${ARM_CHECK_QUICK:-0}"
if [ "$quick" = 1 ]; then
  kernel_args=(--rows 2048 --cols 4096 --repeats 3 --stream-mib 64); model_args=(--prompt 64 --generate 16 --repeats 1)
else
  kernel_args=(--rows 8192 --cols 16384 --repeats 9); model_args=(--prompt 512 --generate 128 --repeats 3)
fi

bash deploy/install-deps.sh
if [ -x "$root/.venv/bin/python3" ]; then export PATH="$root/.venv/bin:$PATH"; fi
model="$(bash deploy/fetch-model.sh)"

echo "== kernel_check (native)"
python3 -m pytest -q e2e/test_arm_kernels.py

echo "== swift test TandemKernelsTests (debug build with tests)"
swift build --build-tests 2>&1 | tail -1
swift test --skip-build --filter TandemKernelsTests 2>&1 | tail -3

echo "== release build"
swift build -c release --product tandem 2>&1 | tail -1
tandem="$(swift build -c release --show-bin-path)/tandem"

paths="auto,portable,neon,dotprod"
{
  echo "## AArch64 check: $(hostname -s), $(date +%Y-%m-%d)"
  echo
  echo "Commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'); \`deploy/arm-check.sh\`$([ "$quick" = 1 ] && echo ' (ARM_CHECK_QUICK=1)'); $cores cores;"
  echo "CPU: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)."
  echo
  echo '```'
  "$tandem" probe
  echo '```'
  echo
  echo "### GEMV bandwidth per path (\`tandem bench-kernels ${kernel_args[*]} --paths $paths --threads 1,$cores\`)"
  echo
} >"$report"

echo "== bench-kernels"
"$tandem" bench-kernels "${kernel_args[@]}" --paths "$paths" --threads "1,$cores" --markdown "$report" >/dev/null

{
  echo
  echo "### SmolLM2-135M decode and prefill (\`tandem bench-model ${model_args[*]}\`, GEMV path auto)"
  echo
  echo "| model | weights | ranks | threads | pp tokens/s | tg tokens/s | all-reduce µs |"
  echo "|---|---|---|---|---|---|---|"
} >>"$report"
echo "== bench-model"
for weights in native mxfp4 nvfp4; do
  for t in 1 "$cores"; do
    "$tandem" bench-model --model "$model" --weights "$weights" --threads "$t" "${model_args[@]}" | grep '^|' >>"$report"
  done
done
echo "arm-check: wrote $report"
