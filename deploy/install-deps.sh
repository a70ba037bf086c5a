#!/usr/bin/env bash
# Installs the Debian packages Tandem builds against (only those missing) and the Python
# packages the test suite uses. Idempotent; safe to run on every start.
# Python: any python3 with pip. A distribution Python that refuses pip installs (PEP 668, as
# Debian 12's /usr/bin/python3 does) gets the test packages in .venv/ instead; deploy/test.sh
# puts .venv/bin first on PATH when it exists.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
externally_managed() {
  python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["stdlib"], "EXTERNALLY-MANAGED")))' 2>/dev/null
}

# libsimde-dev: header-only portable x86 intrinsics, for the tests that run the AVX-512 kernels on
# CPUs without AVX-512 (Sources/CTandemKernelsEmulated); the product does not use it.
# chromium and tesseract-ocr: the test that renders the gateway's /status page headless and reads
# its screenshot back (e2e/test_status_page.py); the product does not use them.
packages=(pkg-config libopenmpi-dev openmpi-bin libibverbs-dev librdmacm-dev libopenblas-dev
          libprotobuf-c-dev protobuf-c-compiler iproute2 unzip libsimde-dev chromium tesseract-ocr tesseract-ocr-eng)
# On x86-64 only: the aarch64 cross compiler and qemu's user-mode emulator, for the test that runs
# the Arm kernels under emulation (e2e/test_arm_kernels.py, e2e/arm/kernel_check.c).
if [ "$(uname -m)" = x86_64 ]; then
  packages+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu qemu-user-static)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1 || missing+=(python3 python3-pip)
if ! command -v python3 >/dev/null 2>&1 || { externally_managed && ! python3 -c 'import ensurepip, venv' 2>/dev/null; }; then
  missing+=(python3-venv)
fi
command -v git >/dev/null 2>&1 || missing+=(git)
dpkg -s ca-certificates >/dev/null 2>&1 || missing+=(ca-certificates)
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
py=python3
if externally_managed; then
  [ -x "$root/.venv/bin/python3" ] || { echo "tandem: $(command -v python3) is externally managed; making $root/.venv" >&2; python3 -m venv "$root/.venv"; }
  py="$root/.venv/bin/python3"
fi
if ! "$py" -c "import numpy, gguf, yaml, openai, pytest, jsonschema, pydantic, agents, opentelemetry.proto" >/dev/null 2>&1 || [ "${TANDEM_PIP_FORCE:-0}" = 1 ]; then
  echo "tandem: installing Python test packages (tools/requirements.txt) for $py" >&2
  "$py" -m pip install -q --disable-pip-version-check -r "$here/../tools/requirements.txt" 2>&1 | grep -v 'Running pip as' >&2 || true
fi
