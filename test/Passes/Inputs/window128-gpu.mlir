// Sliding-window attention at D = 128 (bf16): rows of about 1K keys at
// every length, so sm_90a keeps the two-CTA kernel.
func.func @window128(%q: memref<?x?x?x128xbf16>, %k: memref<?x?x?x128xbf16>,
                     %v: memref<?x?x?x128xbf16>, %o: memref<?x?x?x128xbf16>,
                     %lse: memref<?x?x?xf32>) {
  attn.attention #attn.sliding_window<window = 1024> ins(%q, %k, %v : memref<?x?x?x128xbf16>, memref<?x?x?x128xbf16>, memref<?x?x?x128xbf16>)
      outs(%o : memref<?x?x?x128xbf16>) lse(%lse : memref<?x?x?xf32>)
  return
}
