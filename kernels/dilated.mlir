// LongNet dilated attention: segment lengths w and dilation rates r, mixed
// by softmax denominators.
// Kernels take strided views: [B, H, N, D] with any outer strides, so
// [B, N, H, D] storage works without a copy. B, H and N are dynamic; the
// head dim is static (it sets the register blocking).

// LongNet's schedule with power-of-two rates (every w divisible by its r).
func.func @longnet_f32_d64(
    %q: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.dilated<segments = [2048, 4096, 8192, 16384, 32768], rates = [1, 2, 4, 8, 16]>
      ins(%q, %k, %v : memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @longnet_f32_d128(
    %q: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.dilated<segments = [2048, 4096, 8192, 16384, 32768], rates = [1, 2, 4, 8, 16]>
      ins(%q, %k, %v : memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @longnet_f16_d64(
    %q: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.dilated<segments = [2048, 4096, 8192, 16384, 32768], rates = [1, 2, 4, 8, 16]>
      ins(%q, %k, %v : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @longnet_f16_d128(
    %q: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.dilated<segments = [2048, 4096, 8192, 16384, 32768], rates = [1, 2, 4, 8, 16]>
      ins(%q, %k, %v : memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @longnet_bf16_d64(
    %q: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.dilated<segments = [2048, 4096, 8192, 16384, 32768], rates = [1, 2, 4, 8, 16]>
      ins(%q, %k, %v : memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

func.func @longnet_bf16_d128(
    %q: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.dilated<segments = [2048, 4096, 8192, 16384, 32768], rates = [1, 2, 4, 8, 16]>
      ins(%q, %k, %v : memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

// The paper's rates {1, 2, 4, 6, 12}, segments fixed to divide (16380/6,
// 32760/12): the paper's own 16384/6 and 32768/12 are rejected (SPEC.md).
func.func @longnet_paper_f16_d64(
    %q: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.dilated<segments = [2048, 4096, 8192, 16380, 32760], rates = [1, 2, 4, 6, 12]>
      ins(%q, %k, %v : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

// Head offsets as microsoft/torchscale assigns them, to run its weights.
func.func @longnet_torchscale_f16_d64(
    %q: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.dilated<segments = [2048, 4096, 8192, 16384, 32768], rates = [1, 2, 4, 8, 16], offsets = grouped>
      ins(%q, %k, %v : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}

// Encoder (non-causal) dilated attention.
func.func @longnet_bidirectional_f16_d64(
    %q: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %lse: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>) {
  attn.attention #attn.dilated<segments = [2048, 4096, 8192, 16384, 32768], rates = [1, 2, 4, 8, 16], causal = false>
      ins(%q, %k, %v : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      lse(%lse : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>)
  return
}
