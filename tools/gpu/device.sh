#!/bin/bash
# Runs on the GPU machine from a bundle made by tools/gpu/bundle.py:
#   bash gpu-bundle/device.sh [matrix|bench|sanitize|all] [extra args]
# Logs go to $OUT (the device tool's folder) when set, else to ./gpu-logs.
set -o pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LOG=${OUT:-$PWD/gpu-logs}
mkdir -p "$LOG"
what=${1:-all}; shift
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv | tee "$LOG/device.txt"
python3 -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__, "cuda", torch.version.cuda)' | tee -a "$LOG/device.txt"
rc=0
if [ "$what" = matrix ] || [ "$what" = all ]; then
  python3 "$HERE/gpu_matrix.py" "$HERE" "$@" 2>&1 | tee "$LOG/matrix.log" || rc=1
fi
if [ "$what" = sanitize ] || [ "$what" = all ]; then
  for tool in memcheck racecheck; do
    compute-sanitizer --tool $tool --error-exitcode 9 python3 "$HERE/gpu_matrix.py" "$HERE" --sanitize 2>&1 \
      | tail -n 40 | tee "$LOG/sanitize-$tool.log" || rc=1
  done
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
  python3 "$HERE/bench_gpu.py" "$HERE" --out "$LOG" "$@" 2>&1 | tee "$LOG/bench.log" || rc=1
fi
exit $rc
