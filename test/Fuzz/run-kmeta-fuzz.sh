#!/bin/sh
# Builds the kernel-metadata parser's libFuzzer harness (clang with ASan and
# UBSan) and runs it for a bounded time: run-kmeta-fuzz.sh [SECONDS] [WORKDIR].
# Exit status: 0 when no crash or sanitizer report, else libFuzzer's.
set -eu
seconds=${1:-60}
work=${2:-${TMPDIR:-/tmp}/attn-kmeta-fuzz}
src=$(cd "$(dirname "$0")/../.." && pwd)
cxx=${CXX_FUZZ:-$(command -v clang++-14 || command -v clang++)}
mkdir -p "$work/corpus"
"$cxx" -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -I"$src" \
  "$src/test/Fuzz/kmeta-fuzz.cpp" "$src/runtime/core/KernelMeta.cpp" \
  -o "$work/kmeta-fuzz"
# New inputs go to corpus/; the seeds (kmeta-seeds/, metadata attnc wrote,
# and near misses) are read, not written.
exec "$work/kmeta-fuzz" -max_total_time="$seconds" -rss_limit_mb=2048 \
  -max_len=4096 -print_final_stats=1 -artifact_prefix="$work/" \
  -dict="$src/test/Fuzz/kmeta.dict" "$work/corpus" "$src/test/Fuzz/kmeta-seeds"
