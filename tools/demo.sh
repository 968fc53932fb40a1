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
  [ "$name" = gpu ] && continue
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
echo "== attnc: the GPU kernel library to PTX (no CUDA toolkit needed)"
for t in sm_80 sm_90a; do
  $bin/attnc kernels/gpu.mlir --target=$t --emit=ptx -o "$work/gpu-$t.ptx"
  echo "   kernels/gpu.mlir -> gpu-$t.ptx ($(grep -c '^.visible .entry' "$work/gpu-$t.ptx") kernels," \
       "$(grep -c 'mma.sync.aligned.m16n8k16' "$work/gpu-$t.ptx") mma.sync," \
       "$(grep -c 'wgmma.mma_async' "$work/gpu-$t.ptx") wgmma," \
       "$(grep -c 'cp.async.bulk.tensor' "$work/gpu-$t.ptx") TMA copies)"
done
if [ -e /dev/nvidia0 ]; then
  echo "== attn-run --target cuda: JIT for the GPU, check against float64"
  $bin/attn-run --target cuda --pattern '#attn.causal' --q "$work/q.npy" \
    --k "$work/k.npy" --v "$work/v.npy" --out "$work/o.npy" --dtype bf16 --check | sed 's/^/   /'
else
  echo "   (no GPU here: tools/gpu/bundle.py packs the GPU checks for a GPU machine)"
fi
if [ -x $bin/attn-model ] && [ -f build/models/smollm2-135m-instruct.safetensors ]; then
  echo "== attn-model: SmolLM2-135M generating on the attn kernels (CPU, f32)"
  if python3 -c 'import transformers' >/dev/null 2>&1; then
    tools/attn-model/generate.py "The three primary colors are" \
      --max-new-tokens 24 --threads 2 2>"$work/report" | sed 's/^/   /'
    sed 's/^/   /' "$work/report"
  else # no tokenizer without transformers: token ids in and out
    echo -n "   ids: "
    $bin/attn-model --model build/models/smollm2-135m-instruct.safetensors \
      --prompt "504 1296 3003 4683 359" --max-new-tokens 24 --threads 2 \
      2>"$work/report" | tr '\n' ' '
    echo
    sed 's/^/   /' "$work/report"
  fi
fi
echo "== done: outputs match the reference (see PASS above)"
