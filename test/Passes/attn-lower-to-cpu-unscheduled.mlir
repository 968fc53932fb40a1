// attn-lower-to-cpu decides nothing: an op without a schedule is an error.
// RUN: attn-opt %s --attn-lower-to-cpu -verify-diagnostics

!t = memref<1x2x16x8xf32>
func.func @no_schedule(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @+1 {{has no CPU schedule (attn.schedule): run attn-configure-cpu first}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
  return
}
