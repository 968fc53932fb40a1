func.func @f(%q: memref<1x1x4x8xf32>, %o: memref<1x1x4x8xf32>) {
  attn.attention #attn.dilated<segments = [99999999999999999999999], rates = [1]> ins(%q, %q, %q : memref<1x1x4x8xf32>, memref<1x1x4x8xf32>, memref<1x1x4x8xf32>) outs(%o : memref<1x1x4x8xf32>)
  return
}
