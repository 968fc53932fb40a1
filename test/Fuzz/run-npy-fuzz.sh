#!/bin/sh
# Builds the .npy reader's libFuzzer harness (clang with ASan and UBSan) and
# runs it for a bounded time: run-npy-fuzz.sh [SECONDS] [WORKDIR].
# Exit status: 0 when no crash or sanitizer report, else libFuzzer's.
set -eu
seconds=${1:-60}
work=${2:-${TMPDIR:-/tmp}/attn-npy-fuzz}
src=$(cd "$(dirname "$0")/../.." && pwd)
cxx=${CXX_FUZZ:-$(command -v clang++-14 || command -v clang++)}
mkdir -p "$work/corpus"
"$cxx" -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -I"$src" \
  "$src/test/Fuzz/npy-fuzz.cpp" "$src/tools/attn-run/Npy.cpp" \
  -o "$work/npy-fuzz"
python3 "$src/test/Fuzz/make-npy-corpus.py" "$work/seeds"
# New inputs go to corpus/; the seeds are read, not written.
exec "$work/npy-fuzz" -max_total_time="$seconds" -rss_limit_mb=2048 \
  -max_len=4096 -print_final_stats=1 -artifact_prefix="$work/" \
  "$work/corpus" "$work/seeds"
