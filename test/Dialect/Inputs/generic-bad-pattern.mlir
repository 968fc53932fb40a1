func.func @f(%q: memref<1x1x4x8xf32>, %o: memref<1x1x4x8xf32>) {
  "attn.attention"(%q, %q, %q, %o) <{pattern = 3 : i64}> : (memref<1x1x4x8xf32>, memref<1x1x4x8xf32>, memref<1x1x4x8xf32>, memref<1x1x4x8xf32>) -> ()
  return
}
