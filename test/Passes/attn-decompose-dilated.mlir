// attn-decompose-dilated: a dilated op becomes attn.clear and one strided
// attention per (segment, rate) accumulating into O and LSE; other ops stay.
// RUN: attn-opt %s --attn-decompose-dilated -split-input-file -verify-diagnostics | FileCheck %s

!t = memref<?x?x?x64xf16>
!l = memref<?x?x?xf32>
// CHECK-LABEL: func.func @dilated
// CHECK-SAME: attributes {attn.source_pattern = #attn.dilated<segments = [512, 1024], rates = [1, 2], offsets = grouped>}
// CHECK-NEXT: attn.clear outs(%arg3 : memref<?x?x?x64xf16>) lse(%arg4 : memref<?x?x?xf32>)
// CHECK-NEXT: attn.attention #attn.causal ins(%arg0, %arg1, %arg2 : {{.*}}) outs(%arg3 : {{.*}}) lse(%arg4 : {{.*}}) {accumulate, rows = #attn.rows<segment = 512, rate = 1, offsets = grouped>, scale = 1.250000e-01 : f32}
// CHECK-NEXT: attn.attention #attn.causal ins(%arg0, %arg1, %arg2 : {{.*}}) outs(%arg3 : {{.*}}) lse(%arg4 : {{.*}}) {accumulate, rows = #attn.rows<segment = 1024, rate = 2, offsets = grouped>, scale = 1.250000e-01 : f32}
// CHECK-NEXT: return
func.func @dilated(%q: !t, %k: !t, %v: !t, %o: !t, %lse: !l) {
  attn.attention #attn.dilated<segments = [512, 1024], rates = [1, 2], offsets = grouped> ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%lse : !l) {scale = 0.125 : f32}
  return
}

// -----

// Non-causal dilated attention: full attention over each piece's rows, the
// default scale left to the pieces (1/sqrt(D) of the same D).
!t = memref<?x?x?x64xf16>
!l = memref<?x?x?xf32>
// CHECK-LABEL: func.func @noncausal
// CHECK: attn.clear
// CHECK-NEXT: attn.attention #attn.full {{.*}} {accumulate, rows = #attn.rows<segment = 256, rate = 4, offsets = interleaved>}
// CHECK-NOT: scale
func.func @noncausal(%q: !t, %k: !t, %v: !t, %o: !t, %lse: !l) {
  attn.attention #attn.dilated<segments = [256], rates = [4], causal = false> ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%lse : !l)
  return
}

// -----

// Other patterns are left alone.
!t = memref<?x?x?x64xf16>
// CHECK-LABEL: func.func @causal
// CHECK-NOT: attn.source_pattern
// CHECK-NEXT: attn.attention #attn.causal
func.func @causal(%q: !t, %k: !t, %v: !t, %o: !t) {
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
  return
}

// -----

!t = memref<?x?x?x64xf16>
func.func @no_lse(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @below {{dilated attention needs an lse operand (its patterns merge through it)}}
  attn.attention #attn.dilated<segments = [16], rates = [2]> ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
  return
}

// -----

!t = memref<?x?x?x64xf16>
!l = memref<?x?x?xf32>
func.func @accumulate(%q: !t, %k: !t, %v: !t, %o: !t, %lse: !l) {
  // expected-error @below {{a dilated op cannot itself take 'rows' or 'accumulate'}}
  attn.attention #attn.dilated<segments = [16], rates = [2]> ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%lse : !l) {accumulate}
  return
}

// -----

// A CPU schedule for a range of Nk (a tuned variant) goes to every piece and
// to the clear, so that the variant clears only where it runs; a GPU
// schedule stays with the pieces (the clear has its own kernel).
!t = memref<?x?x?x64xf32>
!l = memref<?x?x?xf32>
// CHECK-LABEL: func.func @variant
// CHECK: attn.clear {{.*}} {attn.schedule = #attn.cpu_schedule<{{.*}}keys_lo = 64, keys_hi = 128>}
// CHECK-NEXT: attn.attention #attn.causal {{.*}}attn.schedule = #attn.cpu_schedule<{{.*}}keys_lo = 64, keys_hi = 128>
// CHECK-NEXT: attn.attention #attn.causal {{.*}}attn.schedule = #attn.cpu_schedule<{{.*}}keys_lo = 64, keys_hi = 128>
// CHECK-NEXT: return
func.func @variant(%q: !t, %k: !t, %v: !t, %o: !t, %lse: !l) {
  attn.attention #attn.dilated<segments = [32, 64], rates = [1, 2]> ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%lse : !l) {attn.schedule = #attn.cpu_schedule<block_m = 32, block_n = 24, vector_width = 8, mr_keys = 6, mr_values = 6, keys_lo = 64, keys_hi = 128>}
  return
}
