// A schedule that asks for AMX tiles where they fit, and the refusals.
!b = memref<?x?x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>
func.func @given(%q: !b, %k: !b, %v: !b, %o: !b) {
  attn.attention #attn.causal ins(%q, %k, %v : !b, !b, !b) outs(%o : !b) {attn.schedule = #attn.cpu_schedule<block_m = 32, block_n = 96, vector_width = 16, mr_keys = 12, mr_values = 12, cpu = "sapphirerapids", features = "avx512f,avx512bf16,amx-tile,amx-bf16", amx = true>}
  return
}

// -----

!f = memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>
func.func @f32(%q: !f, %k: !f, %v: !f, %o: !f) {
  // expected-error @+1 {{cpu_schedule: amx needs an attention op (not landmark) with bf16 Q, K and V, D a multiple of 32 and Dv of 16, vector_width = 16, block_m a multiple of 16, block_n of 32 and the amx-bf16 and amx-tile features}}
  attn.attention #attn.causal ins(%q, %k, %v : !f, !f, !f) outs(%o : !f) {attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 64, vector_width = 16, mr_keys = 12, mr_values = 12, features = "amx-tile,amx-bf16", amx = true>}
  return
}

// -----

!b = memref<?x?x?x48xbf16, strided<[?, ?, ?, 1], offset: ?>>
func.func @odd_head_dim(%q: !b, %k: !b, %v: !b, %o: !b) {
  // expected-error @+1 {{cpu_schedule: amx needs}}
  attn.attention #attn.causal ins(%q, %k, %v : !b, !b, !b) outs(%o : !b) {attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 64, vector_width = 16, mr_keys = 12, mr_values = 12, features = "amx-tile,amx-bf16", amx = true>}
  return
}

// -----

!b = memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>
func.func @partial_tiles(%q: !b, %k: !b, %v: !b, %o: !b) {
  // expected-error @+1 {{cpu_schedule: amx needs}}
  attn.attention #attn.causal ins(%q, %k, %v : !b, !b, !b) outs(%o : !b) {attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 48, vector_width = 16, mr_keys = 12, mr_values = 12, features = "amx-tile,amx-bf16", amx = true>}
  return
}

// -----

!b = memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>
func.func @no_feature(%q: !b, %k: !b, %v: !b, %o: !b) {
  // expected-error @+1 {{cpu_schedule: amx needs}}
  attn.attention #attn.causal ins(%q, %k, %v : !b, !b, !b) outs(%o : !b) {attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 64, vector_width = 16, mr_keys = 12, mr_values = 12, features = "avx512f,avx512bf16", amx = true>}
  return
}

// -----

!b = memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>
func.func @both(%q: !b, %k: !b, %v: !b, %o: !b) {
  // expected-error @+1 {{cpu_schedule: 'bf16_dot' and 'amx' exclude each other}}
  attn.attention #attn.causal ins(%q, %k, %v : !b, !b, !b) outs(%o : !b) {attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 64, vector_width = 16, mr_keys = 12, mr_values = 12, features = "avx512bf16,amx-tile,amx-bf16", bf16_dot = true, amx = true>}
  return
}
