// The CPU tiler: phases, the register-blocked micro-kernels, masks only on
// partial tiles, scratch bounded by the tile sizes (no N x N buffer). Each op
// carries a hand-written schedule (what attn-configure-cpu decides is tested
// in attn-configure-cpu.mlir): the code follows it and decides nothing.
// RUN: attn-opt %s --attn-lower-to-cpu | FileCheck %s
// RUN: attn-opt %s --attn-lower-to-cpu | FileCheck %s --check-prefix=SMALL
// RUN: attn-opt %s --attn-lower-to-cpu | FileCheck %s --check-prefix=W16

!t = memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>
!l = memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>

// CHECK-LABEL: func.func @causal__count0
// CHECK-SAME: -> index attributes {llvm.emit_c_interface}
// CHECK: arith.ceildivui
// CHECK-LABEL: func.func @causal__run0
// CHECK-SAME: %{{.*}}: index, %{{.*}}: index) attributes {llvm.emit_c_interface}
// Scratch: Q^T [D][BM], S^T [BN][BM], O^T [Dv][BM]; nothing sized by N.
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<64x64xf32>
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<96x64xf32>
// CHECK-NOT: memref.alloc(
// The key loop runs from the first allowed key in steps of BN.
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c96
// QK micro-kernel: 6 keys x 2 vectors = 12 accumulators carried over D.
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) {
// CHECK-COUNT-12: vector.fma
// Masks only when the tile is partial.
// CHECK: scf.if
// CHECK: arith.cmpi sge, {{.*}} : vector<8xi32>
// CHECK: arith.select {{.*}} : vector<8xi1>, vector<8xf32>
// Online softmax in exp2 form, lane-wise: 2^round(x) from the bits of
// x + 1.5 * 2^23 + 127 (0x4B40007F), shifted into the exponent field.
// CHECK: arith.constant 0x4B40007F : f32
// CHECK: arith.addf
// CHECK: arith.shli {{.*}} : vector<8xi32>
// PV micro-kernel: 6 value columns x 2 vectors.
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) {
// CHECK: math.log
// CHECK-LABEL: func.func @causal__phases
// CHECK: arith.constant 1 : index
// CHECK: llvm.mlir.global external constant @causal__attn_meta("attn-kernel v1\0Aop attention\0Apattern #attn.causal\0Aphases 1\0Aarg q f32 4 -1 -1 -1 64
// CHECK-LABEL: func.func @causal(
// CHECK: call @causal__count0
// CHECK: call @causal__run0
// CHECK-NOT: attn.attention

func.func @causal(%q: !t, %k: !t, %v: !t, %o: !t, %lse: !l) {
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%lse : !l) {attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 96, vector_width = 8, mr_keys = 6, mr_values = 6>}
  return
}

// Another schedule, other tiles: Q^T [64][32], S^T [48][32].
// SMALL-LABEL: func.func @causal_small__run0
// SMALL-DAG: memref<64x32xf32>
// SMALL-DAG: memref<48x32xf32>
// SMALL: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c48
func.func @causal_small(%q: !t, %k: !t, %v: !t, %o: !t, %lse: !l) {
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%lse : !l) {attn.schedule = #attn.cpu_schedule<block_m = 32, block_n = 48, vector_width = 8, mr_keys = 6, mr_values = 6>}
  return
}

// Dilated, decomposed (attn-decompose-dilated): attn.clear is a phase of
// its own, then each piece over #attn.rows merges into the output through
// the LSE; the metadata names the dilated pattern.
// CHECK-LABEL: func.func @dilated__run0
// CHECK: arith.constant 0xFF800000 : f32
// CHECK-LABEL: func.func @dilated__count1
// CHECK-LABEL: func.func @dilated__run1
// CHECK: arith.remui
// CHECK: arith.maximumf
// CHECK-LABEL: func.func @dilated__count2
// CHECK-LABEL: func.func @dilated__phases
// CHECK: arith.constant 3 : index
// CHECK: pattern #attn.dilated<segments = [64, 256], rates = [1, 4]>
// CHECK-NOT: attn.source_pattern
func.func @dilated(%q: !t, %k: !t, %v: !t, %o: !t, %lse: !l)
    attributes {attn.source_pattern = #attn.dilated<segments = [64, 256], rates = [1, 4]>} {
  attn.clear outs(%o : !t) lse(%lse : !l)
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%lse : !l) {accumulate, rows = #attn.rows<segment = 64, rate = 1, offsets = interleaved>, attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 96, vector_width = 8, mr_keys = 6, mr_values = 6>}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%lse : !l) {accumulate, rows = #attn.rows<segment = 256, rate = 4, offsets = interleaved>, attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 96, vector_width = 8, mr_keys = 6, mr_values = 6>}
  return
}

// Landmark: one key tile per landmark block (rounded up to 6 keys), the
// block-local log2-sum-exp folded into the scores.
// CHECK-LABEL: func.func @landmark__run0
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<66x64xf32>
// CHECK: arith.floordivsi
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c64
// CHECK: math.log2 {{.*}} : vector<8xf32>
func.func @landmark(%q: !t, %k: !t, %v: !t, %o: !t, %lse: !l) {
  attn.attention #attn.landmark<block = 64> ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%lse : !l) {attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 96, vector_width = 8, mr_keys = 6, mr_values = 6>}
  return
}

// Landmark top-k: a first pass keeps the k best landmark scores per query
// by insertion ([k][BM] scratch), the main pass keeps only those blocks.
// CHECK-LABEL: func.func @landmark_top4__run0
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<4x64xf32>
// CHECK: arith.cmpf ogt
// CHECK: arith.cmpf oeq
func.func @landmark_top4(%q: !t, %k: !t, %v: !t, %o: !t, %lse: !l) {
  attn.attention #attn.landmark<block = 64, topk = 4> ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%lse : !l) {attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 96, vector_width = 8, mr_keys = 6, mr_values = 6>}
  return
}

// Lightning: one phase over (batch, head); a decay table, the state in an
// f32 scratch, intra-block scores, state update; no N-sized buffer.
// CHECK-LABEL: func.func @lightning__run0
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<64x32xf32>
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<64x64xf32>
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<65xf32>
// CHECK-NOT: memref.alloc(
// CHECK: math.ctlz
// CHECK: math.exp2
// CHECK: vector.reduction <add>
// CHECK: vector.fma
// CHECK: llvm.mlir.global external constant @lightning__attn_meta("attn-kernel v1\0Aop lightning\0Aphases 1\0Aarg q f32 4 -1 -1 -1 64\0Aarg k f32 4 -1 -1 -1 64\0Aarg v f32 4 -1 -1 -1 32\0Aarg out f32 4 -1 -1 -1 32\0Aarg state_out f32 4 -1 -1 64 32
!lq = memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>
!lv = memref<?x?x?x32xf32, strided<[?, ?, ?, 1], offset: ?>>
func.func @lightning(%q: !lq, %k: !lq, %v: !lv, %o: !lv, %kv: memref<?x?x64x32xf32>) {
  attn.lightning ins(%q, %k, %v : !lq, !lq, !lv) outs(%o : !lv) state_out(%kv : memref<?x?x64x32xf32>) {attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 64, vector_width = 8, mr_keys = 6, mr_values = 6>}
  return
}

// Head dims that are no multiple of the vector width: the state is padded to
// whole vectors, the operands' last vector of a row is masked.
// CHECK-LABEL: func.func @lightning_d12__run0
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<12x16xf32>
// CHECK-DAG: vector.constant_mask [4] : vector<8xi1>
// CHECK: vector.maskedload
// CHECK: vector.maskedstore
!l12 = memref<?x?x?x12xf32, strided<[?, ?, ?, 1], offset: ?>>
func.func @lightning_d12(%q: !l12, %k: !l12, %v: !l12, %o: !l12, %kv: memref<?x?x12x12xf32>) {
  attn.lightning ins(%q, %k, %v : !l12, !l12, !l12) outs(%o : !l12) state_out(%kv : memref<?x?x12x12xf32>) {attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 64, vector_width = 8, mr_keys = 6, mr_values = 6>}
  return
}

// The same at 16 lanes, with the CPU and its extensions in the metadata.
// W16-LABEL: func.func @lightning_d12_w16__run0
// W16-DAG: memref.alloca() {alignment = 64 : i64} : memref<12x16xf32>
// W16-DAG: vector.constant_mask [12] : vector<16xi1>
// W16: llvm.mlir.global external constant @lightning_d12_w16__attn_meta("attn-kernel v1\0Aop lightning\0Aphases 1\0Acpu znver4\0Afeatures avx2,avx512f\0A
func.func @lightning_d12_w16(%q: !l12, %k: !l12, %v: !l12, %o: !l12, %kv: memref<?x?x12x12xf32>) {
  attn.lightning ins(%q, %k, %v : !l12, !l12, !l12) outs(%o : !l12) state_out(%kv : memref<?x?x12x12xf32>) {attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 64, vector_width = 16, mr_keys = 12, mr_values = 12, cpu = "znver4", features = "avx2,avx512f">}
  return
}
