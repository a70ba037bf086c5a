#!/usr/bin/env bash
# README's first command: installs what is missing (Debian packages, the default model),
# builds Tandem in release mode and runs the main job.
#
# The main job: `tandem up topology/local.yaml` — the default model (SmolLM2-135M-Instruct) over two
# local tensor-parallel ranks behind the OpenAI-compatible gateway on 127.0.0.1:8080. Ctrl-C stops it.
# TANDEM_TOPOLOGY picks another topology file.
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
topology="${TANDEM_TOPOLOGY:-topology/local.yaml}"
echo "== $bin topology check $topology" >&2
"$bin" topology check "$topology" >&2
cat >&2 <<MSG
== $bin up $topology
   once it prints "ready", from another shell:
   curl -s http://127.0.0.1:8080/v1/chat/completions -H 'Authorization: Bearer sk-demo-change-me' \\
     -H 'Content-Type: application/json' \\
     -d '{"model": "smollm2", "messages": [{"role": "user", "content": "Name three colors."}], "max_tokens": 40}'
MSG
exec "$bin" up "$topology"
