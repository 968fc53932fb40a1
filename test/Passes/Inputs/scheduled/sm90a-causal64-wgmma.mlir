// A schedule given by hand: two warpgroups, wgmma Q K^T, cp.async.
// (As attn-configure-gpu="chip=sm_90a warps=8 tma=false" writes it for causal64-gpu.mlir.)
func.func @causal(%arg0: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, %arg1: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, %arg2: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, %arg3: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, %arg4: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.causal ins(%arg0, %arg1, %arg2 : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>) outs(%arg3 : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>) lse(%arg4 : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = [<warps = 8, block_n = 64, stages = 2, ctas_per_sm = 1, wgmma = true>]>}
  return
}
