// A persistent warp-specialized kernel (as attn-configure-gpu="chip=sm_90a
// persistent=1" writes it for causal128-gpu.mlir).
func.func @causal128(%arg0: memref<?x?x?x128xbf16>, %arg1: memref<?x?x?x128xbf16>, %arg2: memref<?x?x?x128xbf16>, %arg3: memref<?x?x?x128xbf16>, %arg4: memref<?x?x?xf32>) attributes {attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 128, rate = 1>]} {
  attn.attention #attn.causal ins(%arg0, %arg1, %arg2 : memref<?x?x?x128xbf16>, memref<?x?x?x128xbf16>, memref<?x?x?x128xbf16>) outs(%arg3 : memref<?x?x?x128xbf16>) lse(%arg4 : memref<?x?x?xf32>) {attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = [<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 1, tma = true, wgmma = true, wgmma_pv = true, warp_specialize = true, persistent = true>]>}
  return
}
