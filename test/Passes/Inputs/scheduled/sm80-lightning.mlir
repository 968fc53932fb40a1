// A schedule given by hand: lightning: one kernel per column slice (64, 32, 16), launched by grid size.
// (As attn-configure-gpu="" writes it for lightning-gpu.mlir.)
func.func @lightning_bf16_d64(%arg0: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, %arg1: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, %arg2: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, %arg3: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, %arg4: memref<?x?x64x64xf32>) {
  attn.lightning ins(%arg0, %arg1, %arg2 : memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>) outs(%arg3 : memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>) state_out(%arg4 : memref<?x?x64x64xf32>) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, cols = 64, ctas_lo = 256>, <suffix = "__cols32", warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, cols = 32, ctas_lo = 128, ctas_hi = 512>, <suffix = "__cols16", warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, cols = 16, ctas_hi = 256>]>}
  return
}
