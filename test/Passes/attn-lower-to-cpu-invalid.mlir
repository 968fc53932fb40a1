// What the CPU tiler refuses, with a diagnostic each.
// RUN: attn-opt %s --attn-configure-cpu --attn-lower-to-cpu -split-input-file -verify-diagnostics

!t = memref<?x?x?x?xf32>
func.func @dynamic_head_dim(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @+1 {{the CPU target needs static head dims D and Dv}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
  return
}

// -----

!t = memref<1x2x16x8xf32>
func.func @dilated_without_lse(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @+1 {{needs an lse operand for dilated attention}}
  attn.attention #attn.dilated<segments = [8], rates = [2]> ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
  return
}

// -----

!t = memref<1x2x16x8xf32>
func.func @not_arguments(%q: !t, %k: !t, %v: !t) {
  %o = memref.alloc() : !t
  // expected-error @+1 {{works on the function's arguments}}
  attn.attention #attn.full ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
  return
}

// -----

!t = memref<1x2x16x?xf32>
func.func @lightning_dynamic_head_dim(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @+1 {{the CPU target needs static head dims D and Dv}}
  attn.lightning ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
  return
}

