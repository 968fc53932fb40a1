#!/usr/bin/env bash
# Sets up (tools/setup.sh), installs the Python package from this clone as a
# user would (tools/python-check.sh: pip install ., with torch and pytest) and
# runs every test: lit (dialect, passes, unit and numerical tests, and the
# Python package's pytest). Exit status is the tests' verdict.
# tools/check.sh --sanitize: the same suite against an ASan + UBSan build of
# the runtime, the tools and the tests in build-asan/ (tools/sanitize/).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
LIT="$(llvm-config-22 --prefix)/bin/lit"
if [ "${1:-}" != "--sanitize" ]; then
  tools/python-check.sh
  exec "$LIT" -sv build/test
fi

PREFIX=$(llvm-config-22 --prefix)
# UBSan's vptr check is off: LLVM and MLIR are built without RTTI, so the
# dynamic type of every object of theirs (and of ours, which derive from
# theirs: passes, options) has no type_info to check against, and each
# virtual call on one is reported ("does not point to an object of type").
SAN="-fsanitize=address,undefined -fno-sanitize=vptr -fno-omit-frame-pointer"
if [ ! -f build-asan/build.ninja ] || ! grep -q -- "$SAN" build-asan/CMakeCache.txt; then
  echo "check: configuring build-asan/ (ASan + UBSan)"
  # LLVM and MLIR are not instrumented: the forced header keeps the inlined
  # copies of LLVM's allocator from poisoning memory libMLIR also allocates
  # from (tools/sanitize/llvm-allocator.h says why).
  cmake -G Ninja -B build-asan -S . -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="$SAN" \
    -DCMAKE_CXX_FLAGS="$SAN -include $PWD/tools/sanitize/llvm-allocator.h" \
    -DCMAKE_EXE_LINKER_FLAGS="$SAN" -DCMAKE_SHARED_LINKER_FLAGS="$SAN" \
    -DMLIR_DIR="$PREFIX/lib/cmake/mlir" \
    -DLLVM_EXTERNAL_LIT="$LIT" >/dev/null
fi
echo "check: building build-asan/ (ninja -j${ATTN_JOBS:-$(nproc)})"
ninja -C build-asan -j"${ATTN_JOBS:-$(nproc)}" | grep -v -E '^\[[0-9]+/[0-9]+\]' || true
test -x build-asan/bin/attn-opt || { echo "check: sanitized build failed" >&2; exit 1; }
source tools/sanitize/options.sh
exec "$LIT" -sv build-asan/test
