// Landmark attention (Mohtashami & Jaggi): a landmark token ends every block.
// Kernels take strided views: [B, H, N, D] with any outer strides, so
// [B, N, H, D] storage works without a copy. B, H and N are dynamic; the
// head dim is static (it sets the register blocking).

// Landmark attention, block 64 (63 tokens + 1 landmark, the reference
// Triton kernel's setting): grouped softmax for training and prefill.
func.func @landmark64_f32_d64(
    %q: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.landmark<block = 64>
      ins(%q, %k, %v : memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @landmark64_f32_d128(
    %q: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.landmark<block = 64>
      ins(%q, %k, %v : memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @landmark64_f16_d64(
    %q: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.landmark<block = 64>
      ins(%q, %k, %v : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @landmark64_f16_d128(
    %q: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.landmark<block = 64>
      ins(%q, %k, %v : memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @landmark64_bf16_d64(
    %q: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.landmark<block = 64>
      ins(%q, %k, %v : memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @landmark64_bf16_d128(
    %q: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.landmark<block = 64>
      ins(%q, %k, %v : memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

// Retrieval at inference: the 4 best earlier blocks plus the own block.
func.func @landmark64_top4_f32_d64(
    %q: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.landmark<block = 64, topk = 4>
      ins(%q, %k, %v : memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @landmark64_top4_f32_d128(
    %q: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.landmark<block = 64, topk = 4>
      ins(%q, %k, %v : memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @landmark64_top4_f16_d64(
    %q: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.landmark<block = 64, topk = 4>
      ins(%q, %k, %v : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @landmark64_top4_f16_d128(
    %q: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.landmark<block = 64, topk = 4>
      ins(%q, %k, %v : memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}
