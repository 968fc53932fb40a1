func.func @f(%q: memref<1x1x4x8xf32>, %o: memref<1x1x4x8xf32>) {
  "attn.attention"(%q, %q, %q, %o) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0, 0>}> : (memref<1x1x4x8xf32>, memref<1x1x4x8xf32>, memref<1x1x4x8xf32>, memref<1x1x4x8xf32>) -> ()
  return
}
