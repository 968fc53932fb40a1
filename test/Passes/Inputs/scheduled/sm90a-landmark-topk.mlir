// A schedule given by hand: landmark top-k: mma.sync, cp.async, one key tile per block.
// (As attn-configure-gpu="chip=sm_90a" writes it for landmark-topk-gpu.mlir.)
func.func @topk(%arg0: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, %arg1: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, %arg2: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, %arg3: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>) {
  attn.attention #attn.landmark<block = 32, topk = 3> ins(%arg0, %arg1, %arg2 : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>) outs(%arg3 : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>) {attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = [<warps = 4, block_n = 32, stages = 2, ctas_per_sm = 2>]>}
  return
}
