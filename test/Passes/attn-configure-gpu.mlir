// attn-configure-gpu: which schedule for which pattern, head dim, chip and
// options (the decisions; the code each schedule gives is
// attn-lower-to-gpu.mlir's test, option errors
// attn-configure-gpu-invalid.mlir's).
// RUN: attn-opt %S/Inputs/causal64-gpu.mlir --attn-configure-gpu="decode-rows=0" | FileCheck %s --check-prefix=CHECK
// RUN: attn-opt %S/Inputs/causal64-gpu.mlir --attn-configure-gpu="decode-rows=0 warps=8 block-n=32 stages=3" | FileCheck %s --check-prefix=CFG
// RUN: attn-opt %S/Inputs/dilated-gpu.mlir --attn-decompose-dilated --attn-configure-gpu="decode-rows=0" | FileCheck %s --check-prefix=DIL
// RUN: attn-opt %S/Inputs/dilated-gpu.mlir --attn-decompose-dilated --attn-configure-gpu="decode-rows=0 chip=sm_90a" | FileCheck %s --check-prefix=DIL90
// RUN: attn-opt %S/Inputs/dilated-gpu.mlir --attn-decompose-dilated --attn-configure-gpu="decode-rows=0 chip=sm_90a strided-tma=0" | FileCheck %s --check-prefix=DILNS
// RUN: attn-opt %S/Inputs/causal64-gpu.mlir --attn-configure-gpu="decode-rows=0 chip=sm_90a warps=8 tma=false" | FileCheck %s --check-prefix=WGMMA
// RUN: attn-opt %S/Inputs/causal64-gpu.mlir --attn-configure-gpu="decode-rows=0 chip=sm_90a warps=8" | FileCheck %s --check-prefix=TMA
// RUN: attn-opt %S/Inputs/causal64-gpu.mlir --attn-configure-gpu="decode-rows=0 chip=sm_90a warps=4" | FileCheck %s --check-prefix=TMA4
// RUN: attn-opt %S/Inputs/causal64-gpu.mlir --attn-configure-gpu="decode-rows=0 chip=sm_90a stages=3 async-qk=1" | FileCheck %s --check-prefix=ASYNC
// RUN: attn-opt %S/Inputs/lightning-gpu.mlir --attn-configure-gpu="decode-rows=0" | FileCheck %s --check-prefix=LIGHT
// RUN: attn-opt %S/Inputs/landmark-topk-gpu.mlir --attn-configure-gpu="decode-rows=0 chip=sm_90a" | FileCheck %s --check-prefix=TOPK
// RUN: attn-opt %S/Inputs/causal128-gpu.mlir --attn-configure-gpu="decode-rows=0 chip=sm_90a persistent=0" | FileCheck %s --check-prefix=WS
// RUN: attn-opt %S/Inputs/causal128-gpu.mlir --attn-configure-gpu="decode-rows=0 chip=sm_90a pingpong=1" | FileCheck %s --check-prefix=PP
// RUN: attn-opt %S/Inputs/causal128-gpu.mlir --attn-configure-gpu="decode-rows=0 chip=sm_90a warp-specialize=0" | FileCheck %s --check-prefix=NOWS
// RUN: attn-opt %S/Inputs/causal128-gpu.mlir --attn-configure-gpu="decode-rows=0 chip=sm_90a ws-overlap=1 persistent=0" | FileCheck %s --check-prefix=OVERLAP
// RUN: attn-opt %S/Inputs/causal128-gpu.mlir --attn-configure-gpu="decode-rows=0 chip=sm_90a stages=4 persistent=0" | FileCheck %s --check-prefix=WS4
// RUN: attn-opt %S/Inputs/dilated128-gpu.mlir --attn-decompose-dilated --attn-configure-gpu="decode-rows=0 chip=sm_90a ws-min-keys=0" | FileCheck %s --check-prefix=DIL128
// RUN: attn-opt %S/Inputs/dilated128-gpu.mlir --attn-decompose-dilated --attn-configure-gpu="decode-rows=0 chip=sm_90a" | FileCheck %s --check-prefix=DIL128S
// RUN: attn-opt %S/Inputs/causal128-gpu.mlir --attn-configure-gpu="decode-rows=0 chip=sm_90a ws-min-keys=0 persistent=0" | FileCheck %s --check-prefix=WSONLY
// RUN: attn-opt %S/Inputs/causal128-gpu.mlir --attn-configure-gpu="decode-rows=0 chip=sm_90a" | FileCheck %s --check-prefix=PERSIST
// RUN: attn-opt %S/Inputs/causal64-gpu.mlir --attn-configure-gpu="decode-rows=0 chip=sm_90a" | FileCheck %s --check-prefix=PERSIST64
// RUN: attn-opt %S/Inputs/window128-gpu.mlir --attn-configure-gpu="decode-rows=0 chip=sm_90a" | FileCheck %s --check-prefix=PERSISTWIN
// RUN: attn-opt %S/Inputs/window128-gpu.mlir --attn-configure-gpu="decode-rows=0 chip=sm_90a ws-min-keys=0" | FileCheck %s --check-prefix=PERSISTWIN0

// RUN: attn-opt %S/Inputs/causal64-gpu.mlir --attn-configure-gpu | FileCheck %s --check-prefix=DEC
// RUN: attn-opt %S/Inputs/causal128-gpu.mlir --attn-configure-gpu="chip=sm_90a decode-rows=32 split-min-keys=512 decode-block-n=64 decode-stages=2" | FileCheck %s --check-prefix=DEC128
// RUN: attn-opt %S/Inputs/causal128-gpu.mlir --attn-configure-gpu="chip=sm_90a decode-merge=fused" | FileCheck %s --check-prefix=DECFUSED
// RUN: not attn-opt %S/Inputs/causal128-gpu.mlir --attn-configure-gpu="decode-merge=last" 2>&1 | FileCheck %s --check-prefix=DECBAD
// RUN: attn-opt %S/Inputs/landmark-topk-gpu.mlir --attn-configure-gpu="chip=sm_90a" | FileCheck %s --check-prefix=DECLM
// RUN: attn-opt %S/Inputs/dilated-gpu.mlir --attn-decompose-dilated --attn-configure-gpu | FileCheck %s --check-prefix=DECDIL

// Split-KV decoding by default (DEC): a one-warp CTA holding the query rows
// of one KV head (up to 16: rows_hi = 17) splits the keys, a 4-warp merge
// combines the splits, and the other kernels run above 16 rows.
// DEC: kernels = {{\[}}<suffix = "__decode", warps = 1, block_n = 16, stages = 2, ctas_per_sm = 8, rows_hi = 17, split_keys = 128>, <suffix = "__merge", warps = 4, block_n = 16, stages = 2, ctas_per_sm = 4, rows_hi = 17, merge = true>, <warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, rows_lo = 17>]>
// The decoding options (DEC128): 32 rows (two warps), 512 keys per split at
// least, tiles of 64 keys, 2 stages; D = 128 leaves room for 2 CTAs per SM.
// DEC128: <suffix = "__decode", warps = 2, block_n = 64, stages = 2, ctas_per_sm = 2, rows_hi = 33, split_keys = 512>
// DEC128-SAME: rows_lo = 33
// decode-merge=fused: the split kernel merges in its last CTA per KV head
// (split_keys and merge on one kernel), no __merge kernel.
// DECFUSED: kernels = {{\[}}<suffix = "__decode", warps = 1, block_n = 16, stages = 2, ctas_per_sm = 8, rows_hi = 17, split_keys = 128, merge = true>, <warps =
// DECFUSED-NOT: __merge
// DECBAD: decode-merge must be 'kernel' or 'fused', got 'last'

// Not for landmark attention (its top-k retrieval decodes) or dilated
// pieces (DECLM, DECDIL).
// DECLM-NOT: __decode
// DECDIL-NOT: __decode

// Sm_80 defaults: 4 warps, mma.sync, cp.async, key tiles of 64, two CTAs per SM (CHECK).
// CHECK-LABEL: func.func @causal(
// CHECK-NOT: attn.tensor_maps
// CHECK: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = {{\[}}<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>

// 8 warps, 3 stages of 32-key tiles (CFG).
// CFG-LABEL: func.func @causal(
// CFG-NOT: attn.tensor_maps
// CFG: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = {{\[}}<warps = 8, block_n = 32, stages = 3, ctas_per_sm = 1>]>

// Decomposed dilated attention on sm_80: every piece on the 4-warp cp.async CTA (DIL).
// DIL-LABEL: func.func @dilated(
// DIL-NOT: attn.tensor_maps
// DIL: attn.clear {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = {{\[}}<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>
// DIL: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = {{\[}}<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>
// DIL: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = {{\[}}<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>
// DIL: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = {{\[}}<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>

// Decomposed dilated attention on sm_90a: TMA pieces (5-D maps for rate > 1 when r divides N) and _rows fallbacks (DIL90).
// DIL90-LABEL: func.func @dilated(
// DIL90-SAME: attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 2>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 128, rate = 2>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 128, rate = 2>, #attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 4>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 128, rate = 4>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 128, rate = 4>]
// DIL90: attn.clear {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>
// DIL90: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 2, tma = true, wgmma = true, wgmma_pv = true>]>
// DIL90: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 2, tma = true, wgmma = true, wgmma_pv = true, divides = 2>, <suffix = "_rows", warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, divides = -2>]>
// DIL90: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 2, tma = true, wgmma = true, wgmma_pv = true, divides = 4>, <suffix = "_rows", warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, divides = -4>]>

// Strided pieces by cp.async only (DILNS).
// DILNS-LABEL: func.func @dilated(
// DILNS-SAME: attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 128, rate = 1>]
// DILNS: attn.clear {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>
// DILNS: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 2, tma = true, wgmma = true, wgmma_pv = true>]>
// DILNS: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>
// DILNS: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>

// Two warpgroups, wgmma Q K^T, cp.async (WGMMA).
// WGMMA-LABEL: func.func @causal(
// WGMMA-NOT: attn.tensor_maps
// WGMMA: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 64, stages = 2, ctas_per_sm = 1, wgmma = true>]>

// TMA, wgmma for both products, key tiles of 128, two CTAs per SM (TMA).
// TMA-LABEL: func.func @causal(
// TMA-SAME: attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 128, rate = 1>]
// TMA: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 2, tma = true, wgmma = true, wgmma_pv = true>]>

// TMA with one warpgroup (mma.sync) (TMA4).
// TMA4-LABEL: func.func @causal(
// TMA4-SAME: attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 64, rate = 1>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 64, rate = 1>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 64, rate = 1>]
// TMA4: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, tma = true>]>

// The next tile's Q K^T in flight during the softmax (ASYNC).
// ASYNC-LABEL: func.func @causal(
// ASYNC-SAME: attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 64, rate = 1>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 64, rate = 1>]
// ASYNC: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 64, stages = 3, ctas_per_sm = 1, tma = true, wgmma = true, wgmma_pv = true, async_qk = true>]>

// Lightning: one kernel per column slice (64, 32, 16), launched by grid size (LIGHT).
// LIGHT-LABEL: func.func @lightning_bf16_d64(
// LIGHT-NOT: attn.tensor_maps
// LIGHT: attn.lightning {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = {{\[}}<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, cols = 64, ctas_lo = 256>, <suffix = "__cols32", warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, cols = 32, ctas_lo = 128, ctas_hi = 512>, <suffix = "__cols16", warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, cols = 16, ctas_hi = 256>]>

// Landmark top-k: mma.sync, cp.async, one key tile per block (TOPK).
// TOPK-LABEL: func.func @topk(
// TOPK-NOT: attn.tensor_maps
// TOPK: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 4, block_n = 32, stages = 2, ctas_per_sm = 2>]>

// Not persistent (persistent=0): short rows on two plain CTAs per SM, long
// rows (keys >= 3968) warp-specialized (WS).
// WS-LABEL: func.func @causal128(
// WS-SAME: attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 64, rate = 1>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 64, rate = 1>]
// WS: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 64, stages = 2, ctas_per_sm = 2, tma = true, wgmma = true, wgmma_pv = true, keys_hi = 3968>, <suffix = "__long", warps = 8, block_n = 128, stages = 2, ctas_per_sm = 1, tma = true, wgmma = true, wgmma_pv = true, warp_specialize = true, kv_box_rows = 64, keys_lo = 3968>]>

// Warp-specialized with ping-pong (PP): not persistent, whatever the
// persistent option says.
// PP-LABEL: func.func @causal128(
// PP-SAME: attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 128, rate = 1>]
// PP: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 1, tma = true, wgmma = true, wgmma_pv = true, warp_specialize = true, pingpong = true>]>

// Two warpgroups without warp specialisation (NOWS).
// NOWS-LABEL: func.func @causal128(
// NOWS-SAME: attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 64, rate = 1>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 64, rate = 1>]
// NOWS: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 64, stages = 2, ctas_per_sm = 1, tma = true, wgmma = true, wgmma_pv = true>]>

// Warp-specialized with the softmax under P V, not persistent (OVERLAP).
// OVERLAP-LABEL: func.func @causal128(
// OVERLAP-SAME: attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 128, rate = 1>]
// OVERLAP: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 1, tma = true, wgmma = true, wgmma_pv = true, warp_specialize = true, ws_overlap = true>]>

// Four stages, not persistent: 64-key tiles (WS4).
// WS4-LABEL: func.func @causal128(
// WS4-SAME: attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 64, rate = 1>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 64, rate = 1>]
// WS4: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 64, stages = 4, ctas_per_sm = 1, tma = true, wgmma = true, wgmma_pv = true, keys_hi = 3968>, <suffix = "__long", warps = 8, block_n = 64, stages = 4, ctas_per_sm = 1, tma = true, wgmma = true, wgmma_pv = true, warp_specialize = true, kv_box_rows = 64, keys_lo = 3968>]>

// Dilated pieces at D = 128 warp-specialized (DIL128).
// DIL128-LABEL: func.func @dilated128(
// DIL128-SAME: attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 2>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 128, rate = 2>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 128, rate = 2>, #attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 4>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 128, rate = 4>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 128, rate = 4>]
// DIL128: attn.clear {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>
// DIL128: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 1, tma = true, wgmma = true, wgmma_pv = true, warp_specialize = true>]>
// DIL128: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 1, tma = true, wgmma = true, wgmma_pv = true, warp_specialize = true, divides = 2>, <suffix = "_rows", warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, divides = -2>]>
// DIL128: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 1, tma = true, wgmma = true, wgmma_pv = true, warp_specialize = true, divides = 4>, <suffix = "_rows", warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, divides = -4>]>

// Dilated pieces at D = 128 on two plain CTAs per SM (DIL128S).
// DIL128S-LABEL: func.func @dilated128(
// DIL128S-SAME: attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 64, rate = 1>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 64, rate = 1>, #attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 2>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 64, rate = 2>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 64, rate = 2>, #attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 4>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 64, rate = 4>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 64, rate = 4>]
// DIL128S: attn.clear {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>
// DIL128S: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 64, stages = 2, ctas_per_sm = 2, tma = true, wgmma = true, wgmma_pv = true>]>
// DIL128S: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 64, stages = 2, ctas_per_sm = 2, tma = true, wgmma = true, wgmma_pv = true, divides = 2>, <suffix = "_rows", warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, divides = -2>]>
// DIL128S: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 64, stages = 2, ctas_per_sm = 2, tma = true, wgmma = true, wgmma_pv = true, divides = 4>, <suffix = "_rows", warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, divides = -4>]>

// One warp-specialized kernel whatever the rows, not persistent (WSONLY).
// WSONLY-LABEL: func.func @causal128(
// WSONLY-SAME: attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 128, rate = 1>]
// WSONLY: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 1, tma = true, wgmma = true, wgmma_pv = true, warp_specialize = true>]>

// Persistent, the sm_90a default (PERSIST): one warp-specialized kernel at
// every length (no short-row kernel); at D = 64, where nothing
// warp-specializes, nothing is persistent (PERSIST64); a sliding window's rows stay short, so it
// keeps the two-CTA kernel (PERSISTWIN) unless ws-min-keys=0 (PERSISTWIN0).
// PERSIST-LABEL: func.func @causal128(
// PERSIST: attn.attention {{.*}}attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 1, tma = true, wgmma = true, wgmma_pv = true, warp_specialize = true, persistent = true>]>
// PERSIST64-LABEL: func.func @causal(
// PERSIST64-NOT: persistent
// PERSISTWIN-LABEL: func.func @window128(
// PERSISTWIN: attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 64, stages = 2, ctas_per_sm = 2, tma = true, wgmma = true, wgmma_pv = true>]>
// PERSISTWIN0-LABEL: func.func @window128(
// PERSISTWIN0: attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = {{\[}}<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 1, tma = true, wgmma = true, wgmma_pv = true, warp_specialize = true, persistent = true>]>
