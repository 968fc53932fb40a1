// bf16 and f16 causal attention, D = 64: the CPU's 16-bit paths.
!b = memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>
!h = memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>
func.func @causal_bf16(%q: !b, %k: !b, %v: !b, %o: !b) {
  attn.attention #attn.causal ins(%q, %k, %v : !b, !b, !b) outs(%o : !b)
  return
}
func.func @causal_f16(%q: !h, %k: !h, %v: !h, %o: !h) {
  attn.attention #attn.causal ins(%q, %k, %v : !h, !h, !h) outs(%o : !h)
  return
}
