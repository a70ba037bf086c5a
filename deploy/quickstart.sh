#!/usr/bin/env bash
# README's first command: installs what is missing (Debian packages, the default model),
# builds Tandem in release mode and runs the main job.
#
# The main job today is one chat generation with the default model (SmolLM2-135M-Instruct);
# the cluster and the OpenAI-compatible gateway replace it as they land (see README "Status").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash deploy/install-deps.sh
model="$(bash deploy/fetch-model.sh)"
echo "== building tandem (release)" >&2
swift build -c release --product tandem 2>&1 | grep -E 'error|warning: unre|Compiling tandem|Build' >&2 || true
bin="$(swift build -c release --show-bin-path)/tandem"
[ -x "$bin" ] || { echo "tandem: release build failed; run 'swift build -c release' to see why" >&2; exit 1; }
echo "== $bin probe" >&2
"$bin" probe || true
prompt="${TANDEM_PROMPT:-What are the three primary colors? Answer in one sentence.}"
echo "== $bin generate --model $model --chat --prompt \"$prompt\"" >&2
exec "$bin" generate --model "$model" --chat --prompt "$prompt" --max-tokens "${TANDEM_MAX_TOKENS:-96}"
