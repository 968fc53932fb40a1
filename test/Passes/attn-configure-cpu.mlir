// attn-configure-cpu's decisions: tiles fitted to L1 by head dim, the
// options' vector shape and CPU, lightning blocks, a schedule already there
// (a tuner's) kept, and the options' errors.
// RUN: attn-opt %s --attn-configure-cpu | FileCheck %s
// RUN: attn-opt %s --attn-configure-cpu="vector-width=16 mr-keys=12 mr-values=12 target-cpu=znver4 target-features=avx2,avx512f" | FileCheck %s --check-prefix=W16
// RUN: attn-opt %s --attn-configure-cpu="block-m=32 block-n=48" | FileCheck %s --check-prefix=FIXED
// RUN: not attn-opt %s --attn-configure-cpu="block-m=40" 2>&1 | FileCheck %s --check-prefix=BADM
// RUN: not attn-opt %s --attn-configure-cpu="vector-width=4" 2>&1 | FileCheck %s --check-prefix=BADW
// RUN: not attn-opt %s --attn-configure-cpu="block-n=50" 2>&1 | FileCheck %s --check-prefix=BADN

!t64 = memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>
!t128 = memref<?x?x?x128xf32, strided<[?, ?, ?, 1], offset: ?>>
!t24 = memref<?x?x?x24xf32, strided<[?, ?, ?, 1], offset: ?>>

// D = 64: Q^T 64 x 64 x 4 B = 16 KB, K 96 x 64 x 4 B = 24 KB.
// CHECK-LABEL: func.func @d64
// CHECK: attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 96, vector_width = 8, mr_keys = 6, mr_values = 6, decode_rows = 4>
// W16-LABEL: func.func @d64
// W16: attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 96, vector_width = 16, mr_keys = 12, mr_values = 12, cpu = "znver4", features = "avx2,avx512f", decode_rows = 4>
// FIXED-LABEL: func.func @d64
// FIXED: attn.schedule = #attn.cpu_schedule<block_m = 32, block_n = 48, vector_width = 8, mr_keys = 6, mr_values = 6, decode_rows = 4>
func.func @d64(%q: !t64, %k: !t64, %v: !t64, %o: !t64) {
  attn.attention #attn.causal ins(%q, %k, %v : !t64, !t64, !t64) outs(%o : !t64)
  return
}

// D = 128: half the rows, half the keys.
// CHECK-LABEL: func.func @d128
// CHECK: #attn.cpu_schedule<block_m = 32, block_n = 48, vector_width = 8
// W16-LABEL: func.func @d128
// W16: #attn.cpu_schedule<block_m = 32, block_n = 48, vector_width = 16, mr_keys = 12
func.func @d128(%q: !t128, %k: !t128, %v: !t128, %o: !t128) {
  attn.attention #attn.sliding_window<window = 256> ins(%q, %k, %v : !t128, !t128, !t128) outs(%o : !t128)
  return
}

// Small D: capped at 128 query rows and 384 keys.
// CHECK-LABEL: func.func @d24
// CHECK: #attn.cpu_schedule<block_m = 128, block_n = 252, vector_width = 8
func.func @d24(%q: !t24, %k: !t24, %v: !t24, %o: !t24) {
  attn.attention #attn.full ins(%q, %k, %v : !t24, !t24, !t24) outs(%o : !t24)
  return
}

// Lightning: square blocks of 64 rows.
// CHECK-LABEL: func.func @lightning
// CHECK: #attn.cpu_schedule<block_m = 64, block_n = 64, vector_width = 8
func.func @lightning(%q: !t64, %k: !t64, %v: !t64, %o: !t64) {
  attn.lightning ins(%q, %k, %v : !t64, !t64, !t64) outs(%o : !t64)
  return
}

// A schedule already there (a tuner's) is kept whatever the options say.
// CHECK-LABEL: func.func @tuned
// CHECK: #attn.cpu_schedule<block_m = 16, block_n = 12, vector_width = 8, mr_keys = 4, mr_values = 4>
// W16-LABEL: func.func @tuned
// W16: #attn.cpu_schedule<block_m = 16, block_n = 12, vector_width = 8, mr_keys = 4, mr_values = 4>
func.func @tuned(%q: !t64, %k: !t64, %v: !t64, %o: !t64) {
  attn.attention #attn.causal ins(%q, %k, %v : !t64, !t64, !t64) outs(%o : !t64) {attn.schedule = #attn.cpu_schedule<block_m = 16, block_n = 12, vector_width = 8, mr_keys = 4, mr_values = 4>}
  return
}

// BADM: cpu_schedule: block_m must be a multiple of 2 * vector_width and block_n a multiple of mr_keys, got block_m = 40
// BADW: cpu_schedule 'vector_width' must be 8 or 16, got 4
// BADN: cpu_schedule: block_m must be a multiple of 2 * vector_width and block_n a multiple of mr_keys, got block_m = {{[0-9]+}}, block_n = 50
