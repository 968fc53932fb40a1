!f = memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>
func.func @landmark(%q: !f, %k: !f, %v: !f, %o: !f) {
  // expected-error @+1 {{cpu_schedule: decode_rows needs an attention op (not landmark) whose D and Dv are multiples of vector_width (Dv at most 16 vectors)}}
  attn.attention #attn.landmark<block = 16> ins(%q, %k, %v : !f, !f, !f) outs(%o : !f) {attn.schedule = #attn.cpu_schedule<block_m = 32, block_n = 16, vector_width = 16, mr_keys = 8, mr_values = 8, decode_rows = 4>}
  return
}

// -----

!f = memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>
func.func @too_many(%q: !f, %k: !f, %v: !f, %o: !f) {
  // expected-error @+1 {{cpu_schedule 'decode_rows' must be in [0, 64], got 65}}
  attn.attention #attn.causal ins(%q, %k, %v : !f, !f, !f) outs(%o : !f) {attn.schedule = #attn.cpu_schedule<block_m = 32, block_n = 48, vector_width = 16, mr_keys = 12, mr_values = 12, decode_rows = 65>}
  return
}
