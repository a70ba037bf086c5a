#!/usr/bin/env bash
# Installs the Debian packages Tandem builds against (only those missing) and the Python
# packages the test suite uses. Idempotent; safe to run on every start.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

packages=(pkg-config libopenmpi-dev openmpi-bin libibverbs-dev librdmacm-dev libopenblas-dev
          libprotobuf-c-dev protobuf-c-compiler iproute2 unzip)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "tandem: installing Debian packages: ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "tandem: the Swift toolchain (6.0 or newer) is not on PATH; install it from swift.org first." >&2
  exit 1
fi

# Python packages for the reference scripts and the end-to-end tests.
if ! python3 -c "import numpy, gguf, yaml" >/dev/null 2>&1 || [ "${TANDEM_PIP_FORCE:-0}" = 1 ]; then
  echo "tandem: installing Python test packages (tools/requirements.txt)" >&2
  python3 -m pip install -q --disable-pip-version-check -r "$here/../tools/requirements.txt" 2>&1 | grep -v 'Running pip as' >&2 || true
fi
