// A paged K/V cache on the CPU: each work item reads its sequence's length
// from kv_lens (clamped to pages per sequence x page size), and every key
// row's address goes through the block table (page = table[b, j / S],
// clamped to the cache's pages; row j mod S; the kv head is K's dim 2).
// RUN: attn-opt %s --attn-configure-cpu --attn-lower-to-cpu | FileCheck %s

!t = memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>

// CHECK-LABEL: func.func @paged__run0(
// CHECK-SAME: %arg1: memref<?x?x?x64xf32, {{.*}}, %arg3: memref<?x?xi32>, %arg4: memref<?xi32>
// CHECK: memref.load %arg4[%[[B:.*]]] : memref<?xi32>
// CHECK: arith.maxsi
// CHECK: arith.minsi
// The page size S is K's dim 1, the pages its dim 0.
// CHECK: %[[S:.*]] = memref.dim %arg1, %c1{{[_0-9]*}} :
// CHECK: %[[P:.*]] = memref.dim %arg1, %c0{{[_0-9]*}} :
// CHECK: %[[LAST:.*]] = arith.subi %[[P]], %c1{{[_0-9]*}} :
// CHECK: %[[SLOT:.*]] = arith.divui %{{.*}}, %[[S]] : index
// CHECK: %[[E:.*]] = memref.load %arg3[%[[B]], %[[SLOT]]] : memref<?x?xi32>
// CHECK: %[[PAGE:.*]] = arith.index_cast %[[E]]
// CHECK: %[[PAGE0:.*]] = arith.maxsi %[[PAGE]], %c0{{[_0-9]*}} :
// CHECK: %[[PAGE1:.*]] = arith.minsi %[[PAGE0]], %[[LAST]]
// CHECK: %[[ROW:.*]] = arith.remui %{{.*}}, %[[S]] : index
// CHECK: vector.load %arg1[%[[PAGE1]], %[[ROW]], %{{.*}}, %{{.*}}]
func.func @paged(%q: !t, %k: !t, %v: !t, %table: memref<?x?xi32>,
                 %lens: memref<?xi32>, %o: !t) {
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
      paged(%table, %lens : memref<?x?xi32>, memref<?xi32>)
  return
}

