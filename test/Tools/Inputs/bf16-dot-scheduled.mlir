!b = memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>
func.func @given(%q: !b, %k: !b, %v: !b, %o: !b) {
  attn.attention #attn.causal ins(%q, %k, %v : !b, !b, !b) outs(%o : !b) {attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 96, vector_width = 16, mr_keys = 12, mr_values = 12, cpu = "sapphirerapids", features = "avx512f,avx512bf16,amx-bf16", bf16_dot = true>}
  return
}

// -----

!h = memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>
func.func @f16(%q: !h, %k: !h, %v: !h, %o: !h) {
  // expected-error @+1 {{cpu_schedule: bf16_dot needs an attention op (not landmark) with bf16 Q, K and V, an even D, vector_width = 16, an even block_n and the avx512bf16 feature}}
  attn.attention #attn.causal ins(%q, %k, %v : !h, !h, !h) outs(%o : !h) {attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 96, vector_width = 16, mr_keys = 12, mr_values = 12, features = "avx512f,avx512bf16", bf16_dot = true>}
  return
}

// -----

!b2 = memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>
func.func @no_feature(%q: !b2, %k: !b2, %v: !b2, %o: !b2) {
  // expected-error @+1 {{cpu_schedule: bf16_dot needs}}
  attn.attention #attn.causal ins(%q, %k, %v : !b2, !b2, !b2) outs(%o : !b2) {attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 96, vector_width = 16, mr_keys = 12, mr_values = 12, features = "avx512f", bf16_dot = true>}
  return
}
