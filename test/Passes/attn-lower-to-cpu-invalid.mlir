// What the CPU tiler refuses, with a diagnostic each.
// RUN: attn-opt %s --attn-configure-cpu --attn-lower-to-cpu -split-input-file -verify-diagnostics

!t = memref<?x?x?x?xf32>
func.func @dynamic_head_dim(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @+1 {{the CPU target needs static head dims D and Dv}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
  return
}

// -----

!t = memref<1x2x16x8xf32>
!l = memref<1x2x16xf32>
func.func @dilated_not_decomposed(%q: !t, %k: !t, %v: !t, %o: !t, %l: !l) {
  // expected-error @+1 {{is not supported by the CPU target (run attn-decompose-dilated first)}}
  attn.attention #attn.dilated<segments = [8], rates = [2]> ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%l : !l)
  return
}

// -----

!t = memref<1x2x16x8xf32>
!l = memref<1x2x16xf32>
// expected-error @+1 {{a kernel function needs an attn.attention or attn.lightning op}}
func.func @clear_only(%o: !t, %l: !l) {
  attn.clear outs(%o : !t) lse(%l : !l)
  return
}

// -----

!t = memref<1x2x16x8xf32>
func.func @other_ops(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @+1 {{whose body is attn ops only, got memref.alloc}}
  %x = memref.alloc() : !t
  attn.attention #attn.full ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
  return
}

// -----

!t = memref<1x2x16x?xf32>
func.func @lightning_dynamic_head_dim(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @+1 {{the CPU target needs static head dims D and Dv}}
  attn.lightning ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
  return
}


// -----

!t = memref<1x2x16x8xf32>
// expected-error @+1 {{the cpu_schedule key ranges leave Nk >= 128 to no op (the last range needs keys_hi = 0)}}
func.func @key_ranges_gap(%q: !t, %k: !t, %v: !t, %o: !t) {
  attn.attention #attn.full ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.cpu_schedule<block_m = 16, block_n = 6, vector_width = 8, mr_keys = 6, mr_values = 6, keys_hi = 64>}
  attn.attention #attn.full ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.cpu_schedule<block_m = 16, block_n = 6, vector_width = 8, mr_keys = 6, mr_values = 6, keys_lo = 64, keys_hi = 128>}
  return
}

// -----

!t = memref<1x2x16x8xf32>
// expected-error @+1 {{the cpu_schedule key ranges of the function's ops must cover every Nk once}}
func.func @key_ranges_overlap(%q: !t, %k: !t, %v: !t, %o: !t) {
  attn.attention #attn.full ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.cpu_schedule<block_m = 16, block_n = 6, vector_width = 8, mr_keys = 6, mr_values = 6, keys_hi = 64>}
  attn.attention #attn.full ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.cpu_schedule<block_m = 16, block_n = 6, vector_width = 8, mr_keys = 6, mr_values = 6, keys_lo = 32>}
  return
}

// -----

!t = memref<1x2x16x8xf32>
// expected-error @+1 {{an op with no keys_lo / keys_hi would run beside ops scheduled for ranges of Nk}}
func.func @key_ranges_and_none(%q: !t, %k: !t, %v: !t, %o: !t) {
  attn.attention #attn.full ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.cpu_schedule<block_m = 16, block_n = 6, vector_width = 8, mr_keys = 6, mr_values = 6, keys_lo = 64>}
  attn.attention #attn.full ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.cpu_schedule<block_m = 16, block_n = 6, vector_width = 8, mr_keys = 6, mr_values = 6>}
  return
}

// -----

!pt = memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>
func.func @paged_ranges(%q: !pt, %k: !pt, %v: !pt, %table: memref<?x?xi32>,
                  %lens: memref<?xi32>, %o: !pt) {
  // expected-error @+1 {{a paged cache has a key count per sequence: its cpu_schedule cannot be for a range of Nk (keys_lo / keys_hi)}}
  attn.attention #attn.causal ins(%q, %k, %v : !pt, !pt, !pt) outs(%o : !pt)
      paged(%table, %lens : memref<?x?xi32>, memref<?xi32>)
      {attn.schedule = #attn.cpu_schedule<block_m = 32, block_n = 64, vector_width = 8, mr_keys = 4, mr_values = 4, cpu = "haswell", features = "avx2,fma", keys_lo = 0, keys_hi = 1024>}
  attn.attention #attn.causal ins(%q, %k, %v : !pt, !pt, !pt) outs(%o : !pt)
      paged(%table, %lens : memref<?x?xi32>, memref<?xi32>)
      {attn.schedule = #attn.cpu_schedule<block_m = 32, block_n = 64, vector_width = 8, mr_keys = 4, mr_values = 4, cpu = "haswell", features = "avx2,fma", keys_lo = 1024>}
  return
}
