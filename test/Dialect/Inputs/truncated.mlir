// Dense and causal attention: the baseline every pattern is measured against.
// Kernels take strided views: [B, H, N, D] with any outer strides, so
// [B, N, H, D] storage works without a copy. B, H and N are dynamic; the
// head dim is static (it sets the register blocking).

func.func @full_f32_d64(
    %q: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.full
      ins(%q, %k, %v : memref<?x?x?x64xf32, strid