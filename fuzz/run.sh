#!/usr/bin/env bash
# Fuzzes every reader of outside bytes with libFuzzer for a bounded time each:
#   bash fuzz/run.sh [SECONDS_PER_TARGET] [TARGET ...]     (default 15 s; all six targets)
# Builds tandem-fuzz with -sanitize=fuzzer into .build/fuzz, then runs each target over its seed
# corpus (fuzz/corpus/<target>, read-only) and the inputs kept from earlier crashes
# (fuzz/regressions/<target>). New interesting inputs go to a temporary folder; a crash, a trap
# or an input that takes more than 10 s stops the run, saves the input under
# fuzz/regressions/<target>/ (commit it once fixed: e2e/test_fuzz_corpus.py replays them all)
# and exits non-zero. SEED (default 1) makes runs repeatable.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
seconds="${1:-15}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf safetensors llama2c topology request wire)

flags=(--product tandem-fuzz --build-path .build/fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -DTANDEM_LIBFUZZER)
echo "== building tandem-fuzz with libFuzzer (.build/fuzz)"
if ! swift build "${flags[@]}" >/tmp/tandem-fuzz-build.log 2>&1; then
  grep -E 'error:' /tmp/tandem-fuzz-build.log | head -20 >&2 || true
  tail -20 /tmp/tandem-fuzz-build.log >&2
  exit 1
fi
bin="$(swift build "${flags[@]}" --show-bin-path)/tandem-fuzz"

status=0
for t in "${targets[@]}"; do
  work="$(mktemp -d)"
  mkdir -p "fuzz/regressions/$t"
  echo "== fuzz $t for ${seconds} s"
  set +e
  # SWIFT_BACKTRACE off: Swift's own crash handler would take the signal before libFuzzer saves
  # the input that caused it.
  SWIFT_BACKTRACE=enable=no TANDEM_FUZZ_TARGET="$t" "$bin" -seed="${SEED:-1}" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="fuzz/regressions/$t/" \
    "$work" "fuzz/corpus/$t" "fuzz/regressions/$t" >"/tmp/tandem-fuzz-$t.log" 2>&1
  rc=$?
  set -e
  grep -E '^stat::number_of_executed_units|^stat::new_units_added' "/tmp/tandem-fuzz-$t.log" | tr '\n' ' ' || true
  echo
  if [ "$rc" != 0 ]; then
    echo "fuzz $t: FAILED (exit $rc); input saved under fuzz/regressions/$t/; log /tmp/tandem-fuzz-$t.log" >&2
    grep -E 'ERROR|Fatal error|SUMMARY|deadly signal|timeout' "/tmp/tandem-fuzz-$t.log" | head -10 >&2 || true
    status=1
  fi
  rm -rf "$work"
done
exit "$status"
