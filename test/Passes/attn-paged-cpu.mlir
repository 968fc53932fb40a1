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
// The page size S is K's dim 1, prepared once per work item for division
// by multiplication (c = (2^64 - 1) / S + 1); the pages are K's dim 0.
// CHECK: %[[S:.*]] = memref.dim %arg1, %c1{{[_0-9]*}} :
// CHECK: %[[S64:.*]] = arith.index_castui %[[S]] : index to i64
// CHECK: %[[C0:.*]] = arith.divui %c-1_i64, %[[S64]] : i64
// CHECK: %[[C:.*]] = arith.addi %[[C0]], %c1_i64
// CHECK: %[[P:.*]] = memref.dim %arg1, %c0{{[_0-9]*}} :
// CHECK: %[[LAST:.*]] = arith.subi %[[P]], %c1{{[_0-9]*}} :
// Per key row r: slot = high(c * r), page = table[b, slot] clamped, row in
// page = r - slot * S; no division in the key loop.
// CHECK: %{{.*}}, %[[HI:.*]] = arith.mului_extended %[[C]], %{{.*}} : i64
// CHECK-NOT: arith.divui
// CHECK: %[[Q:.*]] = arith.index_castui %[[HI]] : i64 to index
// CHECK: %[[SLOT:.*]] = arith.select %{{.*}}, %{{.*}}, %[[Q]] : index
// CHECK: %[[E:.*]] = memref.load %arg3[%[[B]], %[[SLOT]]] : memref<?x?xi32>
// CHECK: %[[PAGE:.*]] = arith.index_cast %[[E]]
// CHECK: %[[PAGE0:.*]] = arith.maxsi %[[PAGE]], %c0{{[_0-9]*}} :
// CHECK: %[[PAGE1:.*]] = arith.minsi %[[PAGE0]], %[[LAST]]
// CHECK: %[[QS:.*]] = arith.muli %[[SLOT]], %[[S]]
// CHECK: %[[ROW:.*]] = arith.subi %{{.*}}, %[[QS]] : index
// CHECK: vector.load %arg1[%[[PAGE1]], %[[ROW]], %{{.*}}, %{{.*}}]
func.func @paged(%q: !t, %k: !t, %v: !t, %table: memref<?x?xi32>,
                 %lens: memref<?xi32>, %o: !t) {
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
      paged(%table, %lens : memref<?x?xi32>, memref<?xi32>)
  return
}

