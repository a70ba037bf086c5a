#!/usr/bin/env bash
# The test command (README's second command; .ci/run runs it): installs what is missing, then
# builds and runs every test. Exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash deploy/install-deps.sh
# install-deps.sh made .venv when the system Python refuses pip installs (PEP 668).
if [ -x "$root/.venv/bin/python3" ]; then export PATH="$root/.venv/bin:$PATH"; fi
bash deploy/fetch-model.sh >/dev/null
export TANDEM_SMOLLM2_PATH="${TANDEM_SMOLLM2_PATH:-$root/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
export TANDEM_STORIES260K_DIR="${TANDEM_STORIES260K_DIR:-$root/../shared/models/stories260K}"
if [ ! -f "$TANDEM_STORIES260K_DIR/stories260K.bin" ]; then
  echo "tandem: stories260K not found in $TANDEM_STORIES260K_DIR (set TANDEM_STORIES260K_DIR)" >&2
  exit 1
fi

echo "== swift build (debug, with tests)"
if ! swift build --build-tests >/tmp/tandem-build.log 2>&1; then
  grep -E 'error:' /tmp/tandem-build.log | head -40 >&2 || true
  tail -30 /tmp/tandem-build.log >&2
  echo "swift build failed; full log in /tmp/tandem-build.log" >&2
  exit 1
fi
tail -1 /tmp/tandem-build.log
echo "== swift test"
set +e
swift test --skip-build 2>&1 | tee /tmp/tandem-swift-test.log | grep -vE '^(◇|↳|Test Case .* (started|passed)|Test Suite .* (started|passed))'
status=${PIPESTATUS[0]}
set -e
if [ "$status" != 0 ]; then
  echo "swift test failed (exit $status); full log in /tmp/tandem-swift-test.log" >&2
  exit "$status"
fi

# Every reader of outside bytes fuzzed for a bounded time (fuzz/README.md); a finding fails CI.
echo "== fuzz (libFuzzer, ${TANDEM_FUZZ_SECONDS:-15} s per target)"
bash fuzz/run.sh "${TANDEM_FUZZ_SECONDS:-15}"

if compgen -G "e2e/*.py" >/dev/null || compgen -G "e2e/**/*.py" >/dev/null; then
  echo "== python end-to-end tests (pytest, e2e/)"
  swift build --product tandem 2>&1 | tail -1
  set +e
  python3 -m pytest -q e2e
  status=$?
  set -e
  if [ "$status" = 5 ]; then echo "pytest: no tests collected"; status=0; fi
  exit "$status"
fi
