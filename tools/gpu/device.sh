#!/bin/bash
# Runs on the GPU machine from a bundle made by tools/gpu/bundle.py:
#   bash gpu-bundle/device.sh [matrix|bench|decode|decode-profile|sanitize|ncu|all] [extra args]
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
if [ "$what" = ncu ]; then
  # Where the time goes, for the configurations of the missed bars: the
  # second launch of each (the first warms up), SOL, compute, warp states.
  for cfg in "sm_90a causal_bf16_d128 16384 causal_bf16_d128__long" \
             "sm_90a full_bf16_d64 16384 full_bf16_d64" \
             "sm_90a longnet_bf16_d128 32768 longnet_bf16_d128__phase5"; do
    set -- $cfg
    ncu --clock-control none -k "regex:^$4\$" --launch-skip 1 --launch-count 1 \
      --section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
      --section WarpStateStats --section Occupancy \
      --metrics sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active \
      python3 "$HERE/profile_gpu.py" "$HERE" $1 $2 $3 2>&1 | tee "$LOG/ncu-$1-$4.txt" | tail -n 60 || rc=1
  done
fi
if [ "$what" = decode-profile ]; then
  # A decoding step's kernels: per-kernel times (attn's split and merge,
  # cuDNN's), then ncu on attn's kernels at two B = 1 shapes.
  python3 "$HERE/profile_decode.py" "$HERE" "$@" 2>&1 | tee "$LOG/decode-profile.log" || rc=1
  for run in sm_90a_dec_kernel:128:32:8:1:32768 sm_90a_dec_fused:128:32:8:1:32768 \
             sm_90a_dec_kernel:64:32:8:1:4096 sm_90a_dec_fused:128:32:8:16:32768; do
    folder=${run%%:*}; shape=${run#*:}
    [ -d "$HERE/$folder" ] || continue
    ncu --clock-control none -k "regex:__(decode|merge)" --launch-skip 0 --launch-count 4 \
      --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats \
      --section Occupancy --section LaunchStats --section SchedulerStats \
      python3 "$HERE/profile_decode.py" "$HERE" --folder=$folder --ncu-shape=$shape 2>&1 \
      > "$LOG/ncu-decode-$folder-${shape//:/_}.txt" || rc=1
    grep -E "causal|Duration|DRAM Throughput|Memory Throughput|Registers Per|Achieved Occupancy|Grid Size|Block Size" \
      "$LOG/ncu-decode-$folder-${shape//:/_}.txt" | head -n 40
  done
fi
if [ "$what" = decode ] || [ "$what" = all ]; then
  python3 "$HERE/bench_decode.py" "$HERE" --out "$LOG" "$@" 2>&1 | tee "$LOG/decode.log" || rc=1
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
  python3 "$HERE/bench_gpu.py" "$HERE" --out "$LOG" "$@" 2>&1 | tee "$LOG/bench.log" || rc=1
fi
exit $rc
