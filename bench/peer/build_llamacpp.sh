#!/usr/bin/env bash
# Builds the llama.cpp peer (llama-bench, llama-server, llama-quantize) from the PyPI sdist of
# llama-cpp-python, whose vendor/llama.cpp is a full llama.cpp tree (no GitHub needed).
# Idempotent: each step is skipped when its output already exists. ~10 minutes on 2 cores.
#
#   bash bench/peer/build_llamacpp.sh          # binaries land in .peer/llama.cpp-build/bin/
#
# Environment: VERSION (llama-cpp-python version, default 0.3.36), JOBS (default 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=${VERSION:-0.3.36}
JOBS=${JOBS:-2}
PEER=.peer
SRC=$PEER/llama_cpp_python-$VERSION/vendor/llama.cpp
BUILD=$PEER/llama.cpp-build
TARGETS=(llama-bench llama-server llama-quantize)

if ! command -v cmake >/dev/null 2>&1; then
  echo "installing cmake (apt)" >&2
  apt-get install -y cmake || { apt-get update && apt-get install -y cmake; }
fi

mkdir -p "$PEER/dl"
SDIST=$PEER/dl/llama_cpp_python-$VERSION.tar.gz
if [[ ! -f $SDIST ]]; then
  # --no-binary for this package only: `--no-binary :all:` would also force the sdist build deps
  # (cmake, ninja from PyPI) to compile from source, which takes far longer than llama.cpp itself.
  python3 -m pip download --no-binary llama-cpp-python --no-deps "llama-cpp-python==$VERSION" -d "$PEER/dl"
fi
if [[ ! -f $SRC/CMakeLists.txt ]]; then
  tar -xzf "$SDIST" -C "$PEER"
fi

# Option names checked against this llama.cpp's CMakeLists.txt: LLAMA_CURL is deprecated (no-op,
# warns), HTTPS is LLAMA_OPENSSL, the server web UI is LLAMA_BUILD_UI / LLAMA_USE_PREBUILT_UI
# (the latter would download the UI from the HF hub at build time).
if [[ ! -f $BUILD/CMakeCache.txt ]]; then
  cmake -S "$SRC" -B "$BUILD" \
    -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=ON \
    -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF \
    -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_SERVER=ON \
    -DLLAMA_BUILD_COMMON=ON
fi

need=0
for t in "${TARGETS[@]}"; do [[ -x $BUILD/bin/$t ]] || need=1; done
# Always run the build (cheap no-op when up to date) unless every binary is present.
if (( need )); then
  cmake --build "$BUILD" --config Release -j "$JOBS" --target "${TARGETS[@]}"
fi
for t in "${TARGETS[@]}"; do ls -l "$BUILD/bin/$t"; done
