// Every op and pattern attribute of the attn dialect prints and parses back.
// RUN: attn-opt %s | attn-opt | FileCheck %s
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt | FileCheck %s

!q = memref<2x8x100x64xf16>
!kv = memref<2x2x100x64xf16>
!lse = memref<2x8x100xf32>

// CHECK-LABEL: func @patterns
func.func @patterns(%q: !q, %k: !kv, %v: !kv, %o: !q, %lse: !lse) {
  // CHECK: attn.attention #attn.full ins(%{{.*}}, %{{.*}}, %{{.*}} : memref<2x8x100x64xf16>, memref<2x2x100x64xf16>, memref<2x2x100x64xf16>) outs(%{{.*}} : memref<2x8x100x64xf16>)
  attn.attention #attn.full ins(%q, %k, %v : !q, !kv, !kv) outs(%o : !q)
  // CHECK: attn.attention #attn.causal {{.*}} lse(%{{.*}} : memref<2x8x100xf32>)
  attn.attention #attn.causal ins(%q, %k, %v : !q, !kv, !kv) outs(%o : !q) lse(%lse : !lse)
  // CHECK: attn.attention #attn.sliding_window<window = 16> {{.*}} {scale = 5.000000e-01 : f32}
  attn.attention #attn.sliding_window<window = 16> ins(%q, %k, %v : !q, !kv, !kv) outs(%o : !q) {scale = 0.5 : f32}
  // CHECK: attn.attention #attn.block_causal<block = 32>
  attn.attention #attn.block_causal<block = 32> ins(%q, %k, %v : !q, !kv, !kv) outs(%o : !q)
  // CHECK: attn.attention #attn.dilated<segments = [4, 8, 16], rates = [1, 2, 4]> ins
  attn.attention #attn.dilated<segments = [4, 8, 16], rates = [1, 2, 4]> ins(%q, %k, %v : !q, !kv, !kv) outs(%o : !q)
  // CHECK: attn.attention #attn.dilated<segments = [8], rates = [2], causal = false, offsets = grouped> ins
  attn.attention #attn.dilated<segments = [8], rates = [2], causal = false, offsets = grouped> ins(%q, %k, %v : !q, !kv, !kv) outs(%o : !q)
  // The defaults are not printed.
  // CHECK: attn.attention #attn.dilated<segments = [8], rates = [2]> ins
  attn.attention #attn.dilated<segments = [8], rates = [2], causal = true, offsets = interleaved> ins(%q, %k, %v : !q, !kv, !kv) outs(%o : !q)
  // CHECK: attn.attention #attn.landmark<block = 64> ins
  attn.attention #attn.landmark<block = 64> ins(%q, %k, %v : !q, !kv, !kv) outs(%o : !q)
  // CHECK: attn.attention #attn.landmark<block = 64, topk = 4> ins
  attn.attention #attn.landmark<block = 64, topk = 4> ins(%q, %k, %v : !q, !kv, !kv) outs(%o : !q)
  return
}

// Dynamic shapes, strided views ([B, N, H, D] storage), f32 output of f16 inputs.
// CHECK-LABEL: func @strided
func.func @strided(%q: memref<?x?x?x128xbf16, strided<[?, 128, ?, 1], offset: ?>>,
                   %k: memref<?x?x?x128xbf16, strided<[?, 128, ?, 1], offset: ?>>,
                   %v: memref<?x?x?x96xbf16, strided<[?, 96, ?, 1], offset: ?>>,
                   %o: memref<?x?x?x96xf32>) {
  // CHECK: attn.attention #attn.causal ins({{.*}}) outs(%{{.*}} : memref<?x?x?x96xf32>)
  attn.attention #attn.causal ins(%q, %k, %v : memref<?x?x?x128xbf16, strided<[?, 128, ?, 1], offset: ?>>, memref<?x?x?x128xbf16, strided<[?, 128, ?, 1], offset: ?>>, memref<?x?x?x96xbf16, strided<[?, 96, ?, 1], offset: ?>>) outs(%o : memref<?x?x?x96xf32>)
  return
}

// CHECK-LABEL: func @lightning
func.func @lightning(%q: memref<1x4x256x64xf32>, %k: memref<1x4x256x64xf32>,
                     %v: memref<1x4x256x32xf32>, %o: memref<1x4x256x32xf32>,
                     %s: memref<4xf32>, %kv0: memref<1x4x64x32xf32>,
                     %kv1: memref<1x4x64x32xf32>) {
  // CHECK: attn.lightning ins(%{{.*}}, %{{.*}}, %{{.*}} : memref<1x4x256x64xf32>, memref<1x4x256x64xf32>, memref<1x4x256x32xf32>) outs(%{{.*}} : memref<1x4x256x32xf32>){{$}}
  attn.lightning ins(%q, %k, %v : memref<1x4x256x64xf32>, memref<1x4x256x64xf32>, memref<1x4x256x32xf32>) outs(%o : memref<1x4x256x32xf32>)
  // CHECK: attn.lightning {{.*}} slopes(%{{.*}} : memref<4xf32>) state_in(%{{.*}} : memref<1x4x64x32xf32>) state_out(%{{.*}} : memref<1x4x64x32xf32>) {scale = 2.500000e-01 : f32}
  attn.lightning ins(%q, %k, %v : memref<1x4x256x64xf32>, memref<1x4x256x64xf32>, memref<1x4x256x32xf32>) outs(%o : memref<1x4x256x32xf32>) slopes(%s : memref<4xf32>) state_in(%kv0 : memref<1x4x64x32xf32>) state_out(%kv1 : memref<1x4x64x32xf32>) {scale = 0.25 : f32}
  // CHECK: attn.lightning {{.*}} state_out(%{{.*}} : memref<1x4x64x32xf32>){{$}}
  attn.lightning ins(%q, %k, %v : memref<1x4x256x64xf32>, memref<1x4x256x64xf32>, memref<1x4x256x32xf32>) outs(%o : memref<1x4x256x32xf32>) state_out(%kv1 : memref<1x4x64x32xf32>)
  return
}

// CHECK-LABEL: func @pieces
func.func @pieces(%q: memref<1x8x100x64xf16>, %k: memref<1x8x100x64xf16>,
                  %v: memref<1x8x100x64xf16>, %o: memref<1x8x100x64xf16>,
                  %l: memref<1x8x100xf32>) {
  // CHECK: attn.clear outs(%{{.*}} : memref<1x8x100x64xf16>) lse(%{{.*}} : memref<1x8x100xf32>)
  attn.clear outs(%o : memref<1x8x100x64xf16>) lse(%l : memref<1x8x100xf32>)
  // CHECK: attn.attention #attn.full {{.*}} {accumulate, rows = #attn.rows<segment = 64, rate = 4, offsets = grouped>}
  attn.attention #attn.full ins(%q, %k, %v : memref<1x8x100x64xf16>, memref<1x8x100x64xf16>, memref<1x8x100x64xf16>) outs(%o : memref<1x8x100x64xf16>) lse(%l : memref<1x8x100xf32>) {accumulate, rows = #attn.rows<segment = 64, rate = 4, offsets = grouped>}
  return
}

// Schedules: what attn-configure-<target> writes (and a tuner may).
// CHECK-LABEL: func @schedules
// CHECK-SAME: attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 1>]
// CHECK: attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = [<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 2, tma = true, wgmma = true, wgmma_pv = true, keys_hi = 3968>, <suffix = "__long", warps = 8, block_n = 128, stages = 2, ctas_per_sm = 1, tma = true, wgmma = true, wgmma_pv = true, warp_specialize = true, kv_box_rows = 64, keys_lo = 3968>]>
// CHECK: attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 96, vector_width = 8, mr_keys = 6, mr_values = 6>}
func.func @schedules(%q: memref<1x8x100x128xf16>, %o: memref<1x8x100x128xf16>)
    attributes {attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 1>]} {
  attn.attention #attn.causal ins(%q, %q, %q : memref<1x8x100x128xf16>, memref<1x8x100x128xf16>, memref<1x8x100x128xf16>) outs(%o : memref<1x8x100x128xf16>) {attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = [#attn.gpu_kernel<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 2, tma = true, wgmma = true, wgmma_pv = true, keys_hi = 3968>, #attn.gpu_kernel<suffix = "__long", warps = 8, block_n = 128, stages = 2, ctas_per_sm = 1, tma = true, wgmma = true, wgmma_pv = true, warp_specialize = true, kv_box_rows = 64, keys_lo = 3968>]>}
  attn.attention #attn.causal ins(%q, %q, %q : memref<1x8x100x128xf16>, memref<1x8x100x128xf16>, memref<1x8x100x128xf16>) outs(%o : memref<1x8x100x128xf16>) {attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 96, vector_width = 8, mr_keys = 6, mr_values = 6>}
  return
}

// A paged K/V cache.
// CHECK-LABEL: func @paged
func.func @paged(%q: memref<2x8x1x64xf16>, %k: memref<10x16x2x64xf16>, %v: memref<10x16x2x64xf16>, %t: memref<2x4xi32>, %l: memref<2xi32>, %o: memref<2x8x1x64xf16>, %lse: memref<2x8x1xf32>) {
  // CHECK: attn.attention #attn.causal {{.*}} lse(%{{.*}} : memref<2x8x1xf32>) paged(%{{.*}}, %{{.*}} : memref<2x4xi32>, memref<2xi32>)
  attn.attention #attn.causal ins(%q, %k, %v : memref<2x8x1x64xf16>, memref<10x16x2x64xf16>, memref<10x16x2x64xf16>) outs(%o : memref<2x8x1x64xf16>) lse(%lse : memref<2x8x1xf32>) paged(%t, %l : memref<2x4xi32>, memref<2xi32>)
  return
}
