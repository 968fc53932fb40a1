// Schedules attn-configure-cpu refuses, with a diagnostic each.
// RUN: attn-opt %s --attn-configure-cpu -split-input-file -verify-diagnostics

!t = memref<1x2x16x64xf32>
func.func @not_a_cpu_schedule(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @+1 {{has an attn.schedule that is no #attn.cpu_schedule}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = "fast"}
  return
}

// -----

!t = memref<1x2x16x64xf32>
func.func @tile_not_a_multiple(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @+1 {{block_m must be a multiple of 2 * vector_width and block_n a multiple of mr_keys, got block_m = 24, block_n = 48, vector_width = 8, mr_keys = 6}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.cpu_schedule<block_m = 24, block_n = 48, vector_width = 8, mr_keys = 6, mr_values = 6>}
  return
}

// -----

!t = memref<1x2x16x64xf32>
func.func @lightning_not_square(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @+1 {{lightning blocks are square (block_m = block_n), got 64 and 32}}
  attn.lightning ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 32, vector_width = 8, mr_keys = 6, mr_values = 6>}
  return
}

// -----

!t = memref<1x2x16x64xf32>
func.func @bad_vector_width(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @+1 {{cpu_schedule 'vector_width' must be 8 or 16, got 12}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.cpu_schedule<block_m = 24, block_n = 48, vector_width = 12, mr_keys = 6, mr_values = 6>}
  return
}
