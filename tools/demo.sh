#!/usr/bin/env bash
# The main job for a new user: set up, then show the kernel library parsed,
# verified and printed by attn-opt.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
for f in kernels/*.mlir; do
  n=$(grep -c '^func.func' "$f")
  echo "== $f: $n kernels, verified by attn-opt"
  build/bin/attn-opt "$f" > /dev/null
done
echo "== kernels/dilated.mlir, the LongNet schedule, as attn-opt prints it:"
build/bin/attn-opt kernels/dilated.mlir | sed -n '/@longnet_f16_d64/,/return/p'
