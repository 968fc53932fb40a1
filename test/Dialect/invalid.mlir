// Every diagnostic of the attn verifiers, one case each.
// RUN: attn-opt %s -split-input-file -verify-diagnostics
func.func @f(%q: memref<8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{operand 'q' must have rank 4 ([B, H, Nq, D]), got rank 3}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>, %lse: memref<8x64xf32>) {
  // expected-error @+1 {{operand 'lse' must have rank 3 ([B, H, Nq]), got rank 2}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>) lse(%lse : memref<8x64xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x0x32xf32>, %v: memref<1x2x0x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{operand 'k' dimension 2 must be positive, got 0}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x0x32xf32>, memref<1x2x0x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<2x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{batch size B mismatch: 'q' has 1 but 'k' has 2}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<2x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x4x64x32xf32>) {
  // expected-error @+1 {{query heads H mismatch: 'q' has 8 but 'out' has 4}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x4x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x4x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{kv heads Hk mismatch: 'k' has 2 but 'v' has 4}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x4x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x32x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{key length Nk mismatch: 'k' has 64 but 'v' has 32}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x32x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x63x32xf32>) {
  // expected-error @+1 {{query length Nq mismatch: 'q' has 64 but 'out' has 63}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x63x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x64xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{head dim D mismatch: 'q' has 32 but 'k' has 64}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x64xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x16xf32>) {
  // expected-error @+1 {{value head dim Dv mismatch: 'v' has 32 but 'out' has 16}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x16xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x3x64x32xf32>, %v: memref<1x3x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{number of query heads H = 8 must be a multiple of the number of kv heads Hk = 3}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x3x64x32xf32>, memref<1x3x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xi32>, %k: memref<1x2x64x32xi32>, %v: memref<1x2x64x32xi32>, %o: memref<1x8x64x32xi32>) {
  // expected-error @+1 {{operand 'q' element type must be f32, f16 or bf16, got 'i32'}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<1x8x64x32xi32>, memref<1x2x64x32xi32>, memref<1x2x64x32xi32>) outs(%o : memref<1x8x64x32xi32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf16>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{operands 'q', 'k' and 'v' must have the same element type, got 'f32', 'f16' and 'f32'}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf16>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xbf16>, %k: memref<1x2x64x32xbf16>, %v: memref<1x2x64x32xbf16>, %o: memref<1x8x64x32xf16>) {
  // expected-error @+1 {{operand 'out' element type must be the input type 'bf16' or f32, got 'f16'}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<1x8x64x32xbf16>, memref<1x2x64x32xbf16>, memref<1x2x64x32xbf16>) outs(%o : memref<1x8x64x32xf16>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>, %lse: memref<1x8x64xf16>) {
  // expected-error @+1 {{operand 'lse' element type must be f32, got 'f16'}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>) lse(%lse : memref<1x8x64xf16>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>, %lse: memref<1x8x32xf32>) {
  // expected-error @+1 {{query length Nq mismatch: 'q' has 64 but 'lse' has 32}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>) lse(%lse : memref<1x8x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{'scale' must be finite}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>) {scale = 0x7F800000 : f32}
  return
}


// -----

func.func @f(%q: memref<1x8x1x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x1x32xf32>) {
  // expected-error @+1 {{dilated attention needs Nq == Nk; query/key length mismatch: 'q' has 1 but 'k' has 64}}
  attn.attention #attn.dilated<segments = [8], rates = [1]> ins(%q, %k, %v : memref<1x8x1x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x1x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{sliding_window 'window' must be positive, got 0}}
  attn.attention #attn.sliding_window<window = 0> ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{block_causal 'block' must be positive, got -4}}
  attn.attention #attn.block_causal<block = -4> ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{dilated 'segments' and 'rates' must have the same length, got 3 and 2}}
  attn.attention #attn.dilated<segments = [4, 8, 16], rates = [1, 2]> ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{dilated 'segments' must be strictly increasing, got 8 then 8}}
  attn.attention #attn.dilated<segments = [8, 8], rates = [1, 2]> ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{dilated 'rates' must not decrease, got 2 then 1}}
  attn.attention #attn.dilated<segments = [8, 16], rates = [2, 1]> ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{dilated segment length 16384 is not a multiple of its rate 6 (index 1)}}
  attn.attention #attn.dilated<segments = [8192, 16384], rates = [4, 6]> ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{dilated 'segments' must be positive, got 0}}
  attn.attention #attn.dilated<segments = [0, 8], rates = [1, 2]> ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{dilated 'rates' must be positive, got 0}}
  attn.attention #attn.dilated<segments = [4, 8], rates = [0, 2]> ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{dilated 'segments' must not be empty}}
  attn.attention #attn.dilated<segments = [], rates = []> ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{dilated 'offsets' must be interleaved or grouped}}
  attn.attention #attn.dilated<segments = [8], rates = [1], offsets = striped> ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{dilated 'causal' must be true or false}}
  attn.attention #attn.dilated<segments = [8], rates = [1], causal = maybe> ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{unknown dilated parameter 'window' (expected causal or offsets)}}
  attn.attention #attn.dilated<segments = [8], rates = [1], window = 4> ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{landmark 'block' must be at least 2 (one key and its landmark), got 1}}
  attn.attention #attn.landmark<block = 1> ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{landmark 'topk' must be at least 1, got 0}}
  attn.attention #attn.landmark<block = 64, topk = 0> ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x8x64x32xf32>, %k: memref<1x2x64x32xf32>, %v: memref<1x2x64x32xf32>, %o: memref<1x8x64x32xf32>) {
  // expected-error @+1 {{landmark 'topk' must be at most 256 (the retrieval is unrolled at compile time), got 100000}}
  attn.attention #attn.landmark<block = 64, topk = 100000> ins(%q, %k, %v : memref<1x8x64x32xf32>, memref<1x2x64x32xf32>, memref<1x2x64x32xf32>) outs(%o : memref<1x8x64x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x4x64x32xf32>, %k: memref<1x4x64x32xf32>, %v: memref<1x4x64x16xf32>, %o: memref<1x4x64x16xf32>, %slopes: memref<3xf32>) {
  // expected-error @+1 {{slopes length must equal the number of query heads; length mismatch: 'slopes' has 3 but 'q' has 4}}
  attn.lightning ins(%q, %k, %v : memref<1x4x64x32xf32>, memref<1x4x64x32xf32>, memref<1x4x64x16xf32>) outs(%o : memref<1x4x64x16xf32>) slopes(%slopes : memref<3xf32>)
  return
}


// -----

func.func @f(%q: memref<1x4x64x32xf32>, %k: memref<1x4x64x32xf32>, %v: memref<1x4x64x16xf32>, %o: memref<1x4x64x16xf32>, %slopes: memref<4xf16>) {
  // expected-error @+1 {{operand 'slopes' element type must be f32, got 'f16'}}
  attn.lightning ins(%q, %k, %v : memref<1x4x64x32xf32>, memref<1x4x64x32xf32>, memref<1x4x64x16xf32>) outs(%o : memref<1x4x64x16xf32>) slopes(%slopes : memref<4xf16>)
  return
}


// -----

func.func @f(%q: memref<1x4x64x32xf32>, %k: memref<1x4x64x32xf32>, %v: memref<1x4x64x16xf32>, %o: memref<1x4x64x16xf32>, %slopes: memref<1x4xf32>) {
  // expected-error @+1 {{operand 'slopes' must have rank 1 ([H]), got rank 2}}
  attn.lightning ins(%q, %k, %v : memref<1x4x64x32xf32>, memref<1x4x64x32xf32>, memref<1x4x64x16xf32>) outs(%o : memref<1x4x64x16xf32>) slopes(%slopes : memref<1x4xf32>)
  return
}


// -----

func.func @f(%q: memref<1x4x64x32xf32>, %k: memref<1x4x64x32xf32>, %v: memref<1x4x64x16xf32>, %o: memref<1x4x64x16xf32>, %state_in: memref<1x4x32x32xf32>) {
  // expected-error @+1 {{value head dim Dv mismatch: 'state_in' has 32 but 'v' has 16}}
  attn.lightning ins(%q, %k, %v : memref<1x4x64x32xf32>, memref<1x4x64x32xf32>, memref<1x4x64x16xf32>) outs(%o : memref<1x4x64x16xf32>) state_in(%state_in : memref<1x4x32x32xf32>)
  return
}


// -----

func.func @f(%q: memref<1x4x64x32xf32>, %k: memref<1x4x64x32xf32>, %v: memref<1x4x64x16xf32>, %o: memref<1x4x64x16xf32>, %state_out: memref<1x4x16x16xf32>) {
  // expected-error @+1 {{head dim D mismatch: 'state_out' has 16 but 'q' has 32}}
  attn.lightning ins(%q, %k, %v : memref<1x4x64x32xf32>, memref<1x4x64x32xf32>, memref<1x4x64x16xf32>) outs(%o : memref<1x4x64x16xf32>) state_out(%state_out : memref<1x4x16x16xf32>)
  return
}


// -----

func.func @f(%q: memref<1x4x64x32xf32>, %k: memref<1x4x64x32xf32>, %v: memref<1x4x64x16xf32>, %o: memref<1x4x64x16xf32>, %state_out: memref<1x4x32x16xbf16>) {
  // expected-error @+1 {{operand 'state_out' element type must be f32, got 'bf16'}}
  attn.lightning ins(%q, %k, %v : memref<1x4x64x32xf32>, memref<1x4x64x32xf32>, memref<1x4x64x16xf32>) outs(%o : memref<1x4x64x16xf32>) state_out(%state_out : memref<1x4x32x16xbf16>)
  return
}


// -----

func.func @f(%q: memref<1x4x1x32xf32>, %k: memref<1x4x64x32xf32>, %v: memref<1x4x64x16xf32>, %o: memref<1x4x1x16xf32>) {
  // expected-error @+1 {{lightning attention is causal over one sequence; length N mismatch: 'q' has 1 but 'k' has 64}}
  attn.lightning ins(%q, %k, %v : memref<1x4x1x32xf32>, memref<1x4x64x32xf32>, memref<1x4x64x16xf32>) outs(%o : memref<1x4x1x16xf32>)
  return
}


// -----

func.func @f(%o: memref<1x8x100x64xf16>, %l: memref<1x8x99xf32>) {
  // expected-error @+1 {{shape mismatch: 'out' has 100 but 'lse' has 99}}
  attn.clear outs(%o : memref<1x8x100x64xf16>) lse(%l : memref<1x8x99xf32>)
  return
}

// -----

func.func @f(%o: memref<1x8x100x64xf16>, %l: memref<1x8x100xf16>) {
  // expected-error @+1 {{operand 'lse' element type must be f32, got 'f16'}}
  attn.clear outs(%o : memref<1x8x100x64xf16>) lse(%l : memref<1x8x100xf16>)
  return
}

// -----

func.func @f(%q: memref<1x8x100x64xf16>, %o: memref<1x8x100x64xf16>) {
  // expected-error @+1 {{'accumulate' needs an lse operand (the results merge through it)}}
  attn.attention #attn.full ins(%q, %q, %q : memref<1x8x100x64xf16>, memref<1x8x100x64xf16>, memref<1x8x100x64xf16>) outs(%o : memref<1x8x100x64xf16>) {accumulate}
  return
}

// -----

func.func @f(%q: memref<1x8x100x64xf16>, %o: memref<1x8x100x64xf16>) {
  // expected-error @+1 {{'rows' needs an interval pattern (full, causal, sliding_window or block_causal), got #attn.landmark<block = 16>}}
  attn.attention #attn.landmark<block = 16> ins(%q, %q, %q : memref<1x8x100x64xf16>, memref<1x8x100x64xf16>, memref<1x8x100x64xf16>) outs(%o : memref<1x8x100x64xf16>) {rows = #attn.rows<segment = 64, rate = 2, offsets = interleaved>}
  return
}

// -----

func.func @f(%q: memref<1x8x100x64xf16>, %k: memref<1x8x90x64xf16>, %o: memref<1x8x100x64xf16>) {
  // expected-error @+1 {{strided rows need Nq == Nk; query/key length mismatch: 'q' has 100 but 'k' has 90}}
  attn.attention #attn.full ins(%q, %k, %k : memref<1x8x100x64xf16>, memref<1x8x90x64xf16>, memref<1x8x90x64xf16>) outs(%o : memref<1x8x100x64xf16>) {rows = #attn.rows<segment = 64, rate = 2, offsets = interleaved>}
  return
}

// -----

func.func @f(%q: memref<1x8x100x64xf16>, %o: memref<1x8x100x64xf16>) {
  // expected-error @+1 {{rows 'segment' (60) must be a multiple of 'rate' (8)}}
  attn.attention #attn.full ins(%q, %q, %q : memref<1x8x100x64xf16>, memref<1x8x100x64xf16>, memref<1x8x100x64xf16>) outs(%o : memref<1x8x100x64xf16>) {rows = #attn.rows<segment = 60, rate = 8, offsets = interleaved>}
  return
}

// -----

func.func @f(%q: memref<1x8x100x64xf16>, %o: memref<1x8x100x64xf16>) {
  // expected-error @+2 {{gpu_kernel 'warps' must be in [1, 16], got 0}}
  // expected-error @+1 {{failed to parse Attn_GPUScheduleAttr parameter 'kernels'}}
  attn.attention #attn.full ins(%q, %q, %q : memref<1x8x100x64xf16>, memref<1x8x100x64xf16>, memref<1x8x100x64xf16>) outs(%o : memref<1x8x100x64xf16>) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 0, block_n = 64, stages = 2, ctas_per_sm = 1>]>}
  return
}

// -----

func.func @f(%q: memref<1x8x100x64xf16>, %o: memref<1x8x100x64xf16>) {
  // expected-error @+2 {{gpu_kernel a warp-specialized CTA takes the whole register file (setmaxnreg): 'ctas_per_sm' must be 1}}
  // expected-error @+1 {{failed to parse Attn_GPUScheduleAttr parameter 'kernels'}}
  attn.attention #attn.full ins(%q, %q, %q : memref<1x8x100x64xf16>, memref<1x8x100x64xf16>, memref<1x8x100x64xf16>) outs(%o : memref<1x8x100x64xf16>) {attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = [<warps = 8, block_n = 64, stages = 2, ctas_per_sm = 2, tma = true, wgmma = true, wgmma_pv = true, warp_specialize = true>]>}
  return
}

// -----

func.func @f(%q: memref<1x8x100x64xf16>, %o: memref<1x8x100x64xf16>) {
  // expected-error @+1 {{gpu_schedule: TMA and wgmma need sm_90a, the chip is sm_80}}
  attn.attention #attn.full ins(%q, %q, %q : memref<1x8x100x64xf16>, memref<1x8x100x64xf16>, memref<1x8x100x64xf16>) outs(%o : memref<1x8x100x64xf16>) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 8, block_n = 64, stages = 2, ctas_per_sm = 1, tma = true>]>}
  return
}

// -----

func.func @f(%q: memref<1x8x100x64xf16>, %o: memref<1x8x100x64xf16>) {
  // expected-error @+1 {{gpu_schedule 'chip' must be sm_80 or sm_90a, got 'sm_70'}}
  attn.attention #attn.full ins(%q, %q, %q : memref<1x8x100x64xf16>, memref<1x8x100x64xf16>, memref<1x8x100x64xf16>) outs(%o : memref<1x8x100x64xf16>) {attn.schedule = #attn.gpu_schedule<chip = "sm_70", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 1>]>}
  return
}

// -----

func.func @f(%q: memref<1x8x100x64xf16>, %o: memref<1x8x100x64xf16>) {
  // expected-error @+1 {{rows 'segment' and 'rate' must be positive, got 64 and 0}}
  attn.attention #attn.full ins(%q, %q, %q : memref<1x8x100x64xf16>, memref<1x8x100x64xf16>, memref<1x8x100x64xf16>) outs(%o : memref<1x8x100x64xf16>) {rows = #attn.rows<segment = 64, rate = 0, offsets = interleaved>}
  return
}

// -----

func.func @f(%q: memref<1x8x100x64xf16>, %o: memref<1x8x100x64xf16>) {
  // A schedule without kernels (verify: "gpu_schedule needs at least one
  // kernel") does not even parse.
  // expected-error @+2 {{expected '<'}}
  // expected-error @+1 {{failed to parse Attn_GPUScheduleAttr parameter 'kernels'}}
  attn.attention #attn.full ins(%q, %q, %q : memref<1x8x100x64xf16>, memref<1x8x100x64xf16>, memref<1x8x100x64xf16>) outs(%o : memref<1x8x100x64xf16>) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = []>}
  return
}

// -----

func.func @f(%q: memref<1x8x100x64xf16>, %o: memref<1x8x100x64xf16>) {
  // expected-error @+1 {{cpu_schedule 'keys_lo' and 'keys_hi' must be non-negative with keys_lo < keys_hi (0: no bound), got 64 and 32}}
  attn.attention #attn.full ins(%q, %q, %q : memref<1x8x100x64xf16>, memref<1x8x100x64xf16>, memref<1x8x100x64xf16>) outs(%o : memref<1x8x100x64xf16>) {attn.schedule = #attn.cpu_schedule<block_m = 16, block_n = 6, vector_width = 8, mr_keys = 6, mr_values = 6, keys_lo = 64, keys_hi = 32>}
  return
}

// -----

func.func @f(%q: memref<1x8x100x64xf16>, %o: memref<1x8x100x64xf16>) {
  // expected-error @+1 {{cpu_schedule 'threads' must be in [0, 1024] (0: all of the context's), got -1}}
  attn.attention #attn.full ins(%q, %q, %q : memref<1x8x100x64xf16>, memref<1x8x100x64xf16>, memref<1x8x100x64xf16>) outs(%o : memref<1x8x100x64xf16>) {attn.schedule = #attn.cpu_schedule<block_m = 16, block_n = 6, vector_width = 8, mr_keys = 6, mr_values = 6, threads = -1>}
  return
}

// -----

func.func @f(%q: memref<1x8x100x64xf16>, %o: memref<1x8x100x64xf16>) {
  // expected-error @+2 {{gpu_kernel a split-KV kernel packs the query rows of one KV head into its CTA: 'rows_hi' must be set and at most 16 * warps + 1 = 17}}
  // expected-error @+1 {{failed to parse Attn_GPUScheduleAttr parameter 'kernels'}}
  attn.attention #attn.full ins(%q, %q, %q : memref<1x8x100x64xf16>, memref<1x8x100x64xf16>, memref<1x8x100x64xf16>) outs(%o : memref<1x8x100x64xf16>) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 1, block_n = 16, stages = 2, ctas_per_sm = 8, split_keys = 256, merge = true>]>}
  return
}

// -----

func.func @f(%q: memref<1x8x100x64xf16>, %o: memref<1x8x100x64xf16>) {
  // expected-error @+2 {{gpu_kernel split-KV decoding kernels run on cp.async and mma.sync: no 'tma', 'wgmma' or 'warp_specialize'}}
  // expected-error @+1 {{failed to parse Attn_GPUScheduleAttr parameter 'kernels'}}
  attn.attention #attn.full ins(%q, %q, %q : memref<1x8x100x64xf16>, memref<1x8x100x64xf16>, memref<1x8x100x64xf16>) outs(%o : memref<1x8x100x64xf16>) {attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = [<warps = 1, block_n = 16, stages = 2, ctas_per_sm = 8, tma = true, rows_hi = 17, split_keys = 256>]>}
  return
}

// -----

func.func @f(%q: memref<1x8x100x64xf16>, %o: memref<1x8x100x64xf16>) {
  // expected-error @+2 {{gpu_kernel a split-KV kernel packs the query rows of one KV head into its CTA: 'rows_hi' must be set and at most 16 * warps + 1 = 17}}
  // expected-error @+1 {{failed to parse Attn_GPUScheduleAttr parameter 'kernels'}}
  attn.attention #attn.full ins(%q, %q, %q : memref<1x8x100x64xf16>, memref<1x8x100x64xf16>, memref<1x8x100x64xf16>) outs(%o : memref<1x8x100x64xf16>) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 1, block_n = 16, stages = 2, ctas_per_sm = 8, split_keys = 256>]>}
  return
}

// -----

func.func @f(%q: memref<1x8x100x64xf16>, %o: memref<1x8x100x64xf16>) {
  // expected-error @+2 {{gpu_kernel split-KV kernels take whole sequences: no 'divides' or 'cols'}}
  // expected-error @+1 {{failed to parse Attn_GPUScheduleAttr parameter 'kernels'}}
  attn.attention #attn.full ins(%q, %q, %q : memref<1x8x100x64xf16>, memref<1x8x100x64xf16>, memref<1x8x100x64xf16>) outs(%o : memref<1x8x100x64xf16>) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 1, block_n = 16, stages = 2, ctas_per_sm = 8, divides = 2, rows_hi = 17, split_keys = 256>]>}
  return
}

// -----

func.func @f(%q: memref<1x8x100x64xf16>, %o: memref<1x8x100x64xf16>) {
  // expected-error @+2 {{gpu_kernel 'rows_lo' must be below 'rows_hi'}}
  // expected-error @+1 {{failed to parse Attn_GPUScheduleAttr parameter 'kernels'}}
  attn.attention #attn.full ins(%q, %q, %q : memref<1x8x100x64xf16>, memref<1x8x100x64xf16>, memref<1x8x100x64xf16>) outs(%o : memref<1x8x100x64xf16>) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, rows_lo = 17, rows_hi = 17>]>}
  return
}

// -----

func.func @f(%q: memref<1x8x100x64xf16>, %o: memref<1x8x100x64xf16>) {
  // expected-error @+2 {{gpu_kernel 'split_keys' must not be negative, got -1}}
  // expected-error @+1 {{failed to parse Attn_GPUScheduleAttr parameter 'kernels'}}
  attn.attention #attn.full ins(%q, %q, %q : memref<1x8x100x64xf16>, memref<1x8x100x64xf16>, memref<1x8x100x64xf16>) outs(%o : memref<1x8x100x64xf16>) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 1, block_n = 16, stages = 2, ctas_per_sm = 8, rows_hi = 17, split_keys = -1>]>}
  return
}

// -----
// A paged K/V cache: K, V [P, S, Hk, D], block table i32 [B, M], lengths i32 [B].

func.func @f(%q: memref<2x8x1x32xf32>, %k: memref<10x16x2x32xf32>, %v: memref<10x16x2x32xf32>, %o: memref<2x8x1x32xf32>, %t: memref<2x4xi64>, %l: memref<2xi32>) {
  // expected-error @+1 {{operand 'block_table' element type must be i32, got 'i64'}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<2x8x1x32xf32>, memref<10x16x2x32xf32>, memref<10x16x2x32xf32>) outs(%o : memref<2x8x1x32xf32>) paged(%t, %l : memref<2x4xi64>, memref<2xi32>)
  return
}

// -----

func.func @f(%q: memref<2x8x1x32xf32>, %k: memref<10x16x2x32xf32>, %v: memref<10x16x2x32xf32>, %o: memref<2x8x1x32xf32>, %t: memref<2x4xi32>, %l: memref<3xi32>) {
  // expected-error @+1 {{batch size B mismatch: 'q' has 2 but 'kv_lens' has 3}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<2x8x1x32xf32>, memref<10x16x2x32xf32>, memref<10x16x2x32xf32>) outs(%o : memref<2x8x1x32xf32>) paged(%t, %l : memref<2x4xi32>, memref<3xi32>)
  return
}

// -----

func.func @f(%q: memref<2x8x1x32xf32>, %k: memref<10x16x2x32xf32>, %v: memref<10x8x2x32xf32>, %o: memref<2x8x1x32xf32>, %t: memref<2x4xi32>, %l: memref<2xi32>) {
  // expected-error @+1 {{page size mismatch: 'k' has 16 but 'v' has 8}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<2x8x1x32xf32>, memref<10x16x2x32xf32>, memref<10x8x2x32xf32>) outs(%o : memref<2x8x1x32xf32>) paged(%t, %l : memref<2x4xi32>, memref<2xi32>)
  return
}

// -----

func.func @f(%q: memref<2x8x1x32xf32>, %k: memref<10x16x3x32xf32>, %v: memref<10x16x3x32xf32>, %o: memref<2x8x1x32xf32>, %t: memref<2x4xi32>, %l: memref<2xi32>) {
  // expected-error @+1 {{number of query heads H = 8 must be a multiple of the number of kv heads Hk = 3}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<2x8x1x32xf32>, memref<10x16x3x32xf32>, memref<10x16x3x32xf32>) outs(%o : memref<2x8x1x32xf32>) paged(%t, %l : memref<2x4xi32>, memref<2xi32>)
  return
}

// -----

func.func @f(%q: memref<2x8x1x32xf32>, %k: memref<10x16x2x32xf32>, %v: memref<10x16x2x32xf32>, %o: memref<2x8x1x32xf32>, %t: memref<2x4xi32>, %l: memref<2x1xi32>) {
  // expected-error @+1 {{operand 'kv_lens' must have rank 1 ([B]), got rank 2}}
  attn.attention #attn.causal ins(%q, %k, %v : memref<2x8x1x32xf32>, memref<10x16x2x32xf32>, memref<10x16x2x32xf32>) outs(%o : memref<2x8x1x32xf32>) paged(%t, %l : memref<2x4xi32>, memref<2x1xi32>)
  return
}

// -----

func.func @f(%q: memref<2x8x1x32xf32>, %k: memref<10x16x2x32xf32>, %v: memref<10x16x2x32xf32>, %o: memref<2x8x1x32xf32>, %t: memref<2x4xi32>, %l: memref<2xi32>) {
  // expected-error @+1 {{a paged cache ('paged') needs an interval pattern (full, causal, sliding_window or block_causal) without 'rows' or 'accumulate', got #attn.landmark<block = 8>}}
  attn.attention #attn.landmark<block = 8> ins(%q, %k, %v : memref<2x8x1x32xf32>, memref<10x16x2x32xf32>, memref<10x16x2x32xf32>) outs(%o : memref<2x8x1x32xf32>) paged(%t, %l : memref<2x4xi32>, memref<2xi32>)
  return
}

// -----

func.func @f(%q: memref<2x8x1x32xf32>, %k: memref<10x16x2x32xf32>, %v: memref<10x16x2x32xf32>, %o: memref<2x8x1x32xf32>, %l: memref<2xi32>) {
  // expected-error @+1 {{a paged cache takes both 'block_table' and 'kv_lens'}}
  "attn.attention"(%q, %k, %v, %o, %l) <{pattern = #attn.causal, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0, 1>}> : (memref<2x8x1x32xf32>, memref<10x16x2x32xf32>, memref<10x16x2x32xf32>, memref<2x8x1x32xf32>, memref<2xi32>) -> ()
  return
}

// -----

func.func @f(%q: memref<1x8x100x128xbf16>, %o: memref<1x8x100x128xbf16>) {
  // expected-error @+2 {{gpu_kernel 'persistent' kernels are warp-specialized kernels over whole sequences: they need 'warp_specialize' and take no 'split_keys', 'merge' or 'divides'}}
  // expected-error @+1 {{failed to parse Attn_GPUScheduleAttr parameter 'kernels'}}
  attn.attention #attn.full ins(%q, %q, %q : memref<1x8x100x128xbf16>, memref<1x8x100x128xbf16>, memref<1x8x100x128xbf16>) outs(%o : memref<1x8x100x128xbf16>) {attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = [<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 1, tma = true, wgmma = true, wgmma_pv = true, persistent = true>]>}
  return
}
