#!/usr/bin/env bash
# The main job for a new user: set up and build, compile the kernel library
# ahead of time, then run kernels on random inputs and check each against
# the float64 reference of SPEC.md.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
bin=build/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== attnc: the kernel library to shared objects + C headers"
for f in kernels/*.mlir; do
  name=$(basename "$f" .mlir)
  $bin/attnc "$f" --emit=so -o "$work/lib$name.so"
  $bin/attnc "$f" --emit=header -o "$work/$name.h"
  echo "   $f -> lib$name.so ($(grep -c '^static inline' "$work/$name.h") kernels)"
done

echo "== attn-run: JIT-compile, run on 2 threads, check against float64"
python3 test/Numerics/make_inputs.py "$work" 1 8 2 2000 2000 64
for p in '#attn.causal' '#attn.sliding_window<window = 256>' \
         '#attn.block_causal<block = 512>' \
         '#attn.dilated<segments = [256, 512, 1024], rates = [1, 2, 4]>' \
         '#attn.landmark<block = 64, topk = 4>' \
         '#attn.lightning'; do
  $bin/attn-run --pattern "$p" --q "$work/q.npy" --k "$work/k.npy" \
    --v "$work/v.npy" --out "$work/o.npy" --threads 2 --check --bench 3 |
    sed 's/^/   /'
done
echo "== done: outputs match the reference (see PASS above)"
