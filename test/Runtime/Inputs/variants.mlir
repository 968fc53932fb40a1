// One kernel, two schedules: the op for Nk < 64 and the op for Nk >= 64
// (what a tuner writes for two ranges of sequence lengths). In
// @wrong_from_64 the second op has another scale, so its results are wrong
// exactly where it runs.
!t = memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>
func.func @causal_variants(%q: !t, %k: !t, %v: !t, %o: !t) {
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.cpu_schedule<block_m = 16, block_n = 24, vector_width = 8, mr_keys = 6, mr_values = 6, keys_hi = 64>}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.cpu_schedule<block_m = 32, block_n = 48, vector_width = 8, mr_keys = 6, mr_values = 6, keys_lo = 64>}
  return
}
func.func @wrong_from_64(%q: !t, %k: !t, %v: !t, %o: !t) {
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.cpu_schedule<block_m = 16, block_n = 24, vector_width = 8, mr_keys = 6, mr_values = 6, keys_hi = 64>}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {scale = 0.5 : f32, attn.schedule = #attn.cpu_schedule<block_m = 32, block_n = 48, vector_width = 8, mr_keys = 6, mr_values = 6, keys_lo = 64>}
  return
}
// The op for Nk >= 64 on one worker thread (`threads`: what the tuner picks
// where the work is too small to share).
func.func @one_thread(%q: !t, %k: !t, %v: !t, %o: !t) {
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.cpu_schedule<block_m = 16, block_n = 24, vector_width = 8, mr_keys = 6, mr_values = 6, keys_hi = 64>}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.cpu_schedule<block_m = 32, block_n = 48, vector_width = 8, mr_keys = 6, mr_values = 6, keys_lo = 64, threads = 1>}
  return
}
