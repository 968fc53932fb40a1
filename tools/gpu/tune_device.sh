#!/bin/bash
# Runs on the GPU machine from the folder tools/gpu/tune_gpu.py makes:
#   bash gpu-tune/tune_device.sh measure   attn-tune-measure on every plan
#   bash gpu-tune/tune_device.sh bench     tuned vs default vs cuDNN vs Flex
# Logs and results go to $OUT (the device tool's folder) when set, else to
# ./gpu-logs.
set -o pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LOG=${OUT:-$PWD/gpu-logs}
mkdir -p "$LOG"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv | tee "$LOG/device.txt"
case "${1:-measure}" in
  measure)
    shift
    "$HERE/attn-tune-measure" "$HERE"/plans/*/plan.json -o "$LOG/gpu-tune-results.json" "$@" \
      > "$LOG/measure.log" 2>&1
    rc=$?
    grep -E "attn-tune-measure|error" "$LOG/measure.log" | tail -n 60
    exit $rc ;;
  bench)
    shift
    python3 "$HERE/bench_tuned.py" "$HERE" --out "$LOG" "$@" 2>&1 | tee "$LOG/bench.log" ;;
  *)
    echo "usage: tune_device.sh measure|bench" >&2; exit 2 ;;
esac
