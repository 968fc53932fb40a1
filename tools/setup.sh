#!/usr/bin/env bash
# Installs what the build needs (only what is missing, quietly), configures
# and builds the project into build/. Idempotent: a second run only rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS="llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools libomp-22-dev ninja-build cmake g++"
missing=""
for p in $PKGS; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing$missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
if ! python3 -c 'import numpy' >/dev/null 2>&1; then
  echo "setup: installing numpy (test references)"
  python3 -m pip install -q numpy 2>&1 | grep -v -i 'warning' || true
fi

PREFIX=$(llvm-config-22 --prefix)
if [ ! -f build/build.ninja ]; then
  echo "setup: configuring build/ against $(llvm-config-22 --version) at $PREFIX"
  cmake -G Ninja -B build -S . -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR="$PREFIX/lib/cmake/mlir" \
    -DLLVM_EXTERNAL_LIT="$PREFIX/bin/lit" >/dev/null
fi
echo "setup: building (ninja -j${ATTN_JOBS:-$(nproc)})"
ninja -C build -j"${ATTN_JOBS:-$(nproc)}" | grep -v -E '^\[[0-9]+/[0-9]+\]' || true
test -x build/bin/attn-opt || { echo "setup: build failed" >&2; exit 1; }
