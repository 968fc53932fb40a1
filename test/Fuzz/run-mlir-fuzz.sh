#!/bin/sh
# Builds one of the MLIR-side libFuzzer harnesses (clang with ASan and UBSan;
# the attn dialect compiled into it with coverage, libMLIR.so linked as is)
# and runs it for a bounded time:
#   run-mlir-fuzz.sh pattern|kernel [SECONDS] [WORKDIR]
# pattern: arbitrary bytes as one attribute (mlir::parseAttribute);
# kernel: arbitrary bytes as a kernel file (parsed and verified).
# ATTN_BUILD: the build directory with the dialect's generated .inc files
# (default build/). Exit status: 0 when no crash or sanitizer report.
set -eu
which=$1
seconds=${2:-60}
work=${3:-${TMPDIR:-/tmp}/attn-$which-fuzz}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${ATTN_BUILD:-$src/build}
cxx=${CXX_FUZZ:-$(command -v clang++-14 || command -v clang++)}
llvm=$(llvm-config-22 --prefix)
case $which in pattern | kernel) ;; *) echo "usage: $0 pattern|kernel [SECONDS] [WORKDIR]" >&2; exit 2 ;; esac
flags="-std=c++17 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined
  -include $src/tools/sanitize/llvm-allocator.h
  -D_GNU_SOURCE -D__STDC_CONSTANT_MACROS -D__STDC_FORMAT_MACROS
  -D__STDC_LIMIT_MACROS -I$src -I$build -isystem $llvm/include"
mkdir -p "$work/obj" "$work/corpus"
# The dialect (its parsers and verifiers are what is fuzzed) with coverage;
# rebuilt only when a source or generated file is newer than its object.
objs=""
for f in AttnDialect AttnOps Patterns Schedules; do
  o="$work/obj/$f.o"
  newer=$(find "$src/dialect" "$build/dialect" "$src/tools/sanitize" -maxdepth 1 \
    \( -name '*.cpp' -o -name '*.h' -o -name '*.inc' \) -newer "$o" 2>/dev/null | head -1)
  if [ ! -f "$o" ] || [ -n "$newer" ]; then
    # shellcheck disable=SC2086
    "$cxx" $flags -fsanitize=fuzzer-no-link -c "$src/dialect/$f.cpp" -o "$o"
  fi
  objs="$objs $o"
done
# shellcheck disable=SC2086
"$cxx" $flags -fsanitize=fuzzer "$src/test/Fuzz/$which-fuzz.cpp" $objs \
  -L"$llvm/lib" -Wl,-rpath,"$llvm/lib" -lMLIR -lLLVM -o "$work/$which-fuzz"
# Seeds: the kernel files and the dialect tests' cases (split at `// -----`),
# or every attn attribute they spell.
rm -rf "$work/seeds" && mkdir -p "$work/seeds"
python3 - "$src" "$work/seeds" "$which" <<'PY'
import glob, os, re, sys
src, out, which = sys.argv[1:]
files = sorted(glob.glob(src + "/kernels/*.mlir") + glob.glob(src + "/test/Dialect/*.mlir")
               + glob.glob(src + "/test/Dialect/Inputs/*.mlir"))
seen = set()
for path in files:
    text = open(path, encoding="utf-8", errors="replace").read()
    parts = text.split("// -----") if which == "kernel" else \
        re.findall(r"#attn\.[a-z_]+(?:<[^>]*>)?", text)
    for part in parts:
        if part not in seen:
            seen.add(part)
            open(os.path.join(out, "%04d" % len(seen)), "w").write(part)
PY
exec "$work/$which-fuzz" -max_total_time="$seconds" -rss_limit_mb=4096 \
  -max_len=8192 -print_final_stats=1 -artifact_prefix="$work/" \
  -dict="$src/test/Fuzz/mlir.dict" "$work/corpus" "$work/seeds"
