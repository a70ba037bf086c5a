#!/usr/bin/env bash
# Regenerates the committed protobuf-c code from tandem_cluster.proto (needs protobuf-c-compiler).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/../../Sources/CTandemWire"
mkdir -p "$out/include"
cd "$here"
protoc-c --c_out="$out" tandem_cluster.proto
mv "$out/tandem_cluster.pb-c.h" "$out/include/"
sed -i 's|#include "tandem_cluster.pb-c.h"|#include "include/tandem_cluster.pb-c.h"|' "$out/tandem_cluster.pb-c.c"
echo "generated into $out"
