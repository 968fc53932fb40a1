// math.exp becomes an FMA polynomial; other math ops are left alone.
// RUN: attn-opt %s --attn-approximate-math | FileCheck %s

// CHECK-LABEL: func.func @exp
// CHECK-NOT: math.exp
// CHECK: math.fma
// CHECK: math.log
func.func @exp(%x: vector<8xf32>, %y: f32) -> (vector<8xf32>, f32) {
  %0 = math.exp %x : vector<8xf32>
  %1 = math.log %y : f32
  return %0, %1 : vector<8xf32>, f32
}
