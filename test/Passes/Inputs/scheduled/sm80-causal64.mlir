// A schedule given by hand: sm_80 defaults: 4 warps, mma.sync, cp.async, key tiles of 64, two CTAs per SM.
// (As attn-configure-gpu="" writes it for causal64-gpu.mlir.)
func.func @causal(%arg0: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, %arg1: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, %arg2: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, %arg3: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, %arg4: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.causal ins(%arg0, %arg1, %arg2 : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>) outs(%arg3 : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>) lse(%arg4 : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>}
  return
}
