// Which ops get decode_rows: attention with D and Dv multiples of the
// vector width, not landmark.
!f = memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>
!g = memref<?x?x?x72xf32, strided<[?, ?, ?, 1], offset: ?>>
func.func @causal(%q: !f, %k: !f, %v: !f, %o: !f) {
  attn.attention #attn.causal ins(%q, %k, %v : !f, !f, !f) outs(%o : !f)
  return
}
func.func @odd_d(%q: !g, %k: !g, %v: !g, %o: !g) {
  attn.attention #attn.causal ins(%q, %k, %v : !g, !g, !g) outs(%o : !g)
  return
}
func.func @landmark(%q: !f, %k: !f, %v: !f, %o: !f) {
  attn.attention #attn.landmark<block = 16> ins(%q, %k, %v : !f, !f, !f) outs(%o : !f)
  return
}
