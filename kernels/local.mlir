// Local patterns: sliding window and block-causal attention.
// Kernels take strided views: [B, H, N, D] with any outer strides, so
// [B, N, H, D] storage works without a copy. B, H and N are dynamic; the
// head dim is static (it sets the register blocking).

// Sliding window of 4096 keys behind each query (Mistral's window;
// FlashAttention window_size=(4096, 0)).
func.func @sliding_window4096_f32_d64(
    %q: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.sliding_window<window = 4096>
      ins(%q, %k, %v : memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @sliding_window4096_f32_d128(
    %q: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.sliding_window<window = 4096>
      ins(%q, %k, %v : memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @sliding_window4096_f16_d64(
    %q: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.sliding_window<window = 4096>
      ins(%q, %k, %v : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @sliding_window4096_f16_d128(
    %q: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.sliding_window<window = 4096>
      ins(%q, %k, %v : memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @sliding_window4096_bf16_d64(
    %q: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.sliding_window<window = 4096>
      ins(%q, %k, %v : memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @sliding_window4096_bf16_d128(
    %q: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.sliding_window<window = 4096>
      ins(%q, %k, %v : memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

// Block-causal attention (BCA) with blocks of half a 4096 training length,
// as LongNet and XPOS use it at inference.
func.func @block_causal2048_f32_d64(
    %q: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.block_causal<block = 2048>
      ins(%q, %k, %v : memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @block_causal2048_f32_d128(
    %q: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.block_causal<block = 2048>
      ins(%q, %k, %v : memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @block_causal2048_f16_d64(
    %q: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.block_causal<block = 2048>
      ins(%q, %k, %v : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @block_causal2048_f16_d128(
    %q: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.block_causal<block = 2048>
      ins(%q, %k, %v : memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @block_causal2048_bf16_d64(
    %q: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.block_causal<block = 2048>
      ins(%q, %k, %v : memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @block_causal2048_bf16_d128(
    %q: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.block_causal<block = 2048>
      ins(%q, %k, %v : memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}
