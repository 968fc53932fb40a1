// RUN: attn-opt %s --attn-configure-gpu -split-input-file -verify-diagnostics
// RUN: not attn-opt %s --attn-configure-gpu="chip=sm_70" -split-input-file 2>&1 | FileCheck %s --check-prefix=CHIP
// RUN: not attn-opt %s --attn-configure-gpu="stages=5" -split-input-file 2>&1 | FileCheck %s --check-prefix=STAGES
// RUN: not attn-opt %s --attn-configure-gpu="chip=sm_90a async-qk=1" -split-input-file 2>&1 | FileCheck %s --check-prefix=ASYNC
// RUN: not attn-opt %s --attn-configure-gpu="chip=sm_90a pingpong=1 warp-specialize=0" -split-input-file 2>&1 | FileCheck %s --check-prefix=PINGPONG
// RUN: not attn-opt %s --attn-configure-gpu="block-n=24" -split-input-file 2>&1 | FileCheck %s --check-prefix=BLOCKN
// RUN: not attn-opt %s --attn-configure-gpu="chip=sm_90a ws-overlap=1 warp-specialize=0" -split-input-file 2>&1 | FileCheck %s --check-prefix=OVERLAP
// RUN: not attn-opt %s --attn-configure-gpu="ctas-per-sm=33" -split-input-file 2>&1 | FileCheck %s --check-prefix=CTAS
// RUN: not attn-opt %s --attn-configure-gpu="ws-min-keys=70000" -split-input-file 2>&1 | FileCheck %s --check-prefix=WSMIN
// RUN: not attn-opt %S/Inputs/causal128-gpu.mlir --attn-configure-gpu="chip=sm_90a ctas-per-sm=2" 2>&1 | FileCheck %s --check-prefix=WSCTAS
// RUN: not attn-opt %s --attn-configure-gpu="decode-rows=20" -split-input-file 2>&1 | FileCheck %s --check-prefix=DECROWS
// RUN: not attn-opt %s --attn-configure-gpu="split-min-keys=0" -split-input-file 2>&1 | FileCheck %s --check-prefix=SPLITKEYS
// RUN: not attn-opt %s --attn-configure-gpu="decode-block-n=24" -split-input-file 2>&1 | FileCheck %s --check-prefix=DECBN
// RUN: not attn-opt %s --attn-configure-gpu="decode-stages=5" -split-input-file 2>&1 | FileCheck %s --check-prefix=DECSTAGES
// RUN: not attn-opt %S/Inputs/causal128-gpu.mlir --attn-configure-gpu="decode-block-n=256 decode-stages=4" 2>&1 | FileCheck %s --check-prefix=DECSMEM

// CHIP: attn-configure-gpu: unknown chip 'sm_70' (expected sm_80 or sm_90a)
// STAGES: stages must be 2, 3 or 4
// ASYNC: async-qk needs stages >= 3
// PINGPONG: pingpong needs warp-specialize
// OVERLAP: ws-overlap needs warp-specialize
// CTAS: ctas-per-sm must be in [1, 32] (0: chosen per CTA size)
// WSMIN: ws-min-keys must be in [0, 65536] (0: always warp-specialize)
// WSCTAS: gpu_kernel a warp-specialized CTA takes the whole register file (setmaxnreg): 'ctas_per_sm' must be 1
// BLOCKN: block-n must be a multiple of 16 in [16, 256] (0: chosen per target and head dim)
// DECROWS: decode-rows must be a multiple of 16 in [0, 64] (0: no split-KV decoding kernels)
// SPLITKEYS: split-min-keys must be positive
// DECBN: decode-block-n must be a multiple of 16 in [16, 256] (0: 16)
// DECSTAGES: decode-stages must be 2, 3 or 4 (0: 2)
// DECSMEM: (target sm_80): the split-KV decoding tiles need 561408 bytes of shared memory (lower decode-block-n or decode-stages)

func.func @f32(%q: memref<?x?x?x64xf32>, %k: memref<?x?x?x64xf32>,
               %v: memref<?x?x?x64xf32>, %o: memref<?x?x?x64xf32>) {
  // expected-error @below {{(target sm_80): tensor cores take f16 or bf16 inputs, got f32}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<?x?x?x64xf32>, memref<?x?x?x64xf32>, memref<?x?x?x64xf32>) outs(%o : memref<?x?x?x64xf32>)
  return
}

// -----

func.func @d40(%q: memref<?x?x?x40xf16>, %k: memref<?x?x?x40xf16>,
               %v: memref<?x?x?x40xf16>, %o: memref<?x?x?x40xf16>) {
  // expected-error @below {{head dims D and Dv must be static multiples of 16, at most 256}}
  attn.attention #attn.full ins(%q, %k, %v : memref<?x?x?x40xf16>, memref<?x?x?x40xf16>, memref<?x?x?x40xf16>) outs(%o : memref<?x?x?x40xf16>)
  return
}

// -----

func.func @landmark(%q: memref<?x?x?x64xf16>, %k: memref<?x?x?x64xf16>,
                    %v: memref<?x?x?x64xf16>, %o: memref<?x?x?x64xf16>) {
  // expected-error @below {{landmark top-k on the GPU keeps at most 16 blocks per query, got topk = 17}}
  attn.attention #attn.landmark<block = 64, topk = 17> ins(%q, %k, %v : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%o : memref<?x?x?x64xf16>)
  return
}

// -----

func.func @lightning_d32(%q: memref<?x?x?x32xf16>, %k: memref<?x?x?x32xf16>,
                         %v: memref<?x?x?x32xf16>, %o: memref<?x?x?x32xf16>) {
  // expected-error @below {{lightning on the GPU needs a static D that is a multiple of 64 (at most 256) and a static Dv that is a multiple of 16 (at most 256)}}
  attn.lightning ins(%q, %k, %v : memref<?x?x?x32xf16>, memref<?x?x?x32xf16>, memref<?x?x?x32xf16>) outs(%o : memref<?x?x?x32xf16>)
  return
}

// -----

func.func @lightning_f32(%q: memref<?x?x?x64xf32>, %k: memref<?x?x?x64xf32>,
                         %v: memref<?x?x?x64xf32>, %o: memref<?x?x?x64xf32>) {
  // expected-error @below {{tensor cores take f16 or bf16 inputs, got f32}}
  attn.lightning ins(%q, %k, %v : memref<?x?x?x64xf32>, memref<?x?x?x64xf32>, memref<?x?x?x64xf32>) outs(%o : memref<?x?x?x64xf32>)
  return
}

// -----

func.func @landmark_block(%q: memref<?x?x?x64xf16>, %k: memref<?x?x?x64xf16>,
                          %v: memref<?x?x?x64xf16>, %o: memref<?x?x?x64xf16>) {
  // expected-error @below {{landmark blocks on the GPU must be multiples of 16 up to 128 (one key tile per block), got 50}}
  attn.attention #attn.landmark<block = 50> ins(%q, %k, %v : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%o : memref<?x?x?x64xf16>)
  return
}

// -----

func.func @lightning_strided_state(%q: memref<?x?x?x64xf16>, %k: memref<?x?x?x64xf16>,
                                   %v: memref<?x?x?x64xf16>, %o: memref<?x?x?x64xf16>,
                                   %kv: memref<?x?x64x64xf32, strided<[?, ?, 128, 1]>>) {
  // expected-error @below {{the GPU target needs contiguous states}}
  attn.lightning ins(%q, %k, %v : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%o : memref<?x?x?x64xf16>) state_out(%kv : memref<?x?x64x64xf32, strided<[?, ?, 128, 1]>>)
  return
}

// -----

// A dynamic head dim without a scale attribute has no default scale: the
// head-dim check comes first (the scale was once read before it, in the
// lowering, which checks the op again: attn-lower-to-gpu-invalid.mlir).
!dyn = memref<?x?x?x?xf16>
func.func @dynamic_head_dim_no_scale(%q: !dyn, %k: !dyn, %v: !dyn, %o: !dyn) {
  // expected-error @below {{head dims D and Dv must be static multiples of 16, at most 256}}
  attn.attention #attn.causal ins(%q, %k, %v : !dyn, !dyn, !dyn) outs(%o : !dyn)
  return
}

// -----

func.func @dilated_not_decomposed(%q: memref<?x?x?x64xf16>, %k: memref<?x?x?x64xf16>,
                                  %v: memref<?x?x?x64xf16>, %o: memref<?x?x?x64xf16>,
                                  %l: memref<?x?x?xf32>) {
  // expected-error @below {{is not supported by the GPU target (run attn-decompose-dilated first)}}
  attn.attention #attn.dilated<segments = [16], rates = [2]> ins(%q, %k, %v : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%o : memref<?x?x?x64xf16>) lse(%l : memref<?x?x?xf32>)
  return
}

// -----

!t = memref<?x?x?x64xf16>
!l = memref<?x?x?xf32>
func.func @partly_scheduled(%q: !t, %k: !t, %v: !t, %o: !t, %l: !l) {
  attn.clear outs(%o : !t) lse(%l : !l) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>}
  // expected-error @below {{has no attn.schedule while other ops of its kernel function have one: schedule all or none}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%l : !l) {accumulate, rows = #attn.rows<segment = 64, rate = 2, offsets = interleaved>}
  return
}

// -----

!t = memref<?x?x?x64xf16>
// expected-error @below {{the GPU target lowers kernel functions of one attn op, or the pieces of a dilated op}}
func.func @two_ops(%q: !t, %k: !t, %v: !t, %o: !t) {
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
  attn.attention #attn.full ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
  return
}

// -----

!t = memref<?x?x?x64xf16>
!l = memref<?x?x?xf32>
func.func @pieces_without_rows(%q: !t, %k: !t, %v: !t, %o: !t, %l: !l) {
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%l : !l) {accumulate, rows = #attn.rows<segment = 64, rate = 2, offsets = interleaved>}
  // expected-error @below {{the GPU target lowers dilated pieces together: every attention of the function needs #attn.rows}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%l : !l) {accumulate}
  return
}
