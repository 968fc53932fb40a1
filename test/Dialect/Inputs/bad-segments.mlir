func.func @f(%q: memref<1x1x4x8xf32>, %s: memref<1xf32>) {
  "attn.lightning"(%q, %q, %q, %q, %s) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 3, 0, 0>}> : (memref<1x1x4x8xf32>, memref<1x1x4x8xf32>, memref<1x1x4x8xf32>, memref<1x1x4x8xf32>, memref<1xf32>) -> ()
  return
}
