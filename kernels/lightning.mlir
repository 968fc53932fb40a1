// Lightning attention (TransNormerLLM / Lightning Attention-2): causal linear
// attention with per-head decay, prefill and decode.
// Kernels take strided views: [B, H, N, D] with any outer strides, so
// [B, N, H, D] storage works without a copy. B, H and N are dynamic; the
// head dim is static (it sets the register blocking).

// Prefill with ALiBi slopes (the default), returning the final KV state.
func.func @lightning_prefill_f32_d64(
    %q: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %kv: memref<?x?x64x64xf32>) {
  attn.lightning ins(%q, %k, %v : memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>)
      state_out(%kv : memref<?x?x64x64xf32>)
  return
}

func.func @lightning_prefill_f32_d128(
    %q: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %kv: memref<?x?x128x128xf32>) {
  attn.lightning ins(%q, %k, %v : memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>)
      state_out(%kv : memref<?x?x128x128xf32>)
  return
}

func.func @lightning_prefill_f16_d64(
    %q: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %kv: memref<?x?x64x64xf32>) {
  attn.lightning ins(%q, %k, %v : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      state_out(%kv : memref<?x?x64x64xf32>)
  return
}

func.func @lightning_prefill_f16_d128(
    %q: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %kv: memref<?x?x128x128xf32>) {
  attn.lightning ins(%q, %k, %v : memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x128xf16, strided<[?, ?, ?, 1], offset: ?>>)
      state_out(%kv : memref<?x?x128x128xf32>)
  return
}

func.func @lightning_prefill_bf16_d64(
    %q: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %kv: memref<?x?x64x64xf32>) {
  attn.lightning ins(%q, %k, %v : memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      state_out(%kv : memref<?x?x64x64xf32>)
  return
}

func.func @lightning_prefill_bf16_d128(
    %q: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>,
    %kv: memref<?x?x128x128xf32>) {
  attn.lightning ins(%q, %k, %v : memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>)
      state_out(%kv : memref<?x?x128x128xf32>)
  return
}

// One decoding step: the recurrent form, state in and state out, with
// per-layer slopes supplied by the caller (TransNormerLLM scales them).
func.func @lightning_decode_f32_d64(
    %q: memref<?x?x1x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x1x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x1x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x1x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %slopes: memref<?xf32>,
    %kv_in: memref<?x?x64x64xf32>,
    %kv_out: memref<?x?x64x64xf32>) {
  attn.lightning ins(%q, %k, %v : memref<?x?x1x64xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x1x64xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x1x64xf32, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x1x64xf32, strided<[?, ?, ?, 1], offset: ?>>)
      slopes(%slopes : memref<?xf32>)
      state_in(%kv_in : memref<?x?x64x64xf32>)
      state_out(%kv_out : memref<?x?x64x64xf32>)
  return
}

func.func @lightning_decode_f32_d128(
    %q: memref<?x?x1x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x1x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x1x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x1x128xf32, strided<[?, ?, ?, 1], offset: ?>>,
    %slopes: memref<?xf32>,
    %kv_in: memref<?x?x128x128xf32>,
    %kv_out: memref<?x?x128x128xf32>) {
  attn.lightning ins(%q, %k, %v : memref<?x?x1x128xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x1x128xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x1x128xf32, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x1x128xf32, strided<[?, ?, ?, 1], offset: ?>>)
      slopes(%slopes : memref<?xf32>)
      state_in(%kv_in : memref<?x?x128x128xf32>)
      state_out(%kv_out : memref<?x?x128x128xf32>)
  return
}

func.func @lightning_decode_f16_d64(
    %q: memref<?x?x1x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x1x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x1x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x1x64xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %slopes: memref<?xf32>,
    %kv_in: memref<?x?x64x64xf32>,
    %kv_out: memref<?x?x64x64xf32>) {
  attn.lightning ins(%q, %k, %v : memref<?x?x1x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x1x64xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x1x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x1x64xf16, strided<[?, ?, ?, 1], offset: ?>>)
      slopes(%slopes : memref<?xf32>)
      state_in(%kv_in : memref<?x?x64x64xf32>)
      state_out(%kv_out : memref<?x?x64x64xf32>)
  return
}

func.func @lightning_decode_f16_d128(
    %q: memref<?x?x1x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %k: memref<?x?x1x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %v: memref<?x?x1x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %o: memref<?x?x1x128xf16, strided<[?, ?, ?, 1], offset: ?>>,
    %slopes: memref<?xf32>,
    %kv_in: memref<?x?x128x128xf32>,
    %kv_out: memref<?x?x128x128xf32>) {
  attn.lightning ins(%q, %k, %v : memref<?x?x1x128xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x1x128xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x1x128xf16, strided<[?, ?, ?, 1], offset: ?>>)
      outs(%o : memref<?x?x1x128xf16, strided<[?, ?, ?, 1], offset: ?>>)
      slopes(%slopes : memref<?xf32>)
      state_in(%kv_in : memref<?x?x128x128xf32>)
      state_out(%kv_out : memref<?x?x128x128xf32>)
  return
}
