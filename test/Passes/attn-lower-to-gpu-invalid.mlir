// What attn-lower-to-gpu refuses in a schedule given by hand (or a tuner),
// and the op checks it repeats whatever the schedule says.
// RUN: attn-opt %s --attn-lower-to-gpu -split-input-file -verify-diagnostics

!t = memref<?x?x?x64xf16>
func.func @unscheduled(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @below {{has no GPU schedule (attn.schedule = #attn.gpu_schedule): run attn-configure-gpu first}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
  return
}

// -----

!t = memref<?x?x?x64xf16>
func.func @tma_without_maps(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @below {{(target sm_90a): kernel '' loads by TMA but attn.tensor_maps has no q, k and v maps of rate 1}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = [<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 2, tma = true, wgmma = true, wgmma_pv = true>]>}
  return
}

// -----

!t = memref<?x?x?x64xf16>
func.func @wrong_boxes(%q: !t, %k: !t, %v: !t, %o: !t) attributes {attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 64, rate = 1>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 64, rate = 1>]} {
  // expected-error @below {{kernel '' needs tensor-map boxes of 128 query rows and 128 key rows (kv_box_rows or block_n)}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = [<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 2, tma = true, wgmma = true, wgmma_pv = true>]>}
  return
}

// -----

!t = memref<?x?x?x64xf16>
func.func @landmark_tiles(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @below {{landmark kernels take one block per key tile: block_n must be 32}}
  attn.attention #attn.landmark<block = 32> ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>}
  return
}

// -----

!t = memref<?x?x?x256xf16>
func.func @too_much_smem(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @below {{the tiles need 473088 bytes of shared memory, more than a CTA can have (227 KB)}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 8, block_n = 128, stages = 3, ctas_per_sm = 1>]>}
  return
}

// -----

!t = memref<?x?x?x64xf32>
func.func @f32(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @below {{(target sm_80): tensor cores take f16 or bf16 inputs, got f32}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>}
  return
}

// -----

// The UB fix's other half: the lowering checks D before it reads the
// default scale (a dynamic D has none).
!dyn = memref<?x?x?x?xf16>
func.func @dynamic_head_dim_no_scale(%q: !dyn, %k: !dyn, %v: !dyn, %o: !dyn) {
  // expected-error @below {{head dims D and Dv must be static multiples of 16, at most 256}}
  attn.attention #attn.causal ins(%q, %k, %v : !dyn, !dyn, !dyn) outs(%o : !dyn) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>}
  return
}

// -----

!t = memref<?x?x?x64xf16>
!l = memref<?x?x?xf32>
func.func @mixed_chips(%q: !t, %k: !t, %v: !t, %o: !t, %l: !l) {
  attn.clear outs(%o : !t) lse(%l : !l) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>}
  // expected-error @below {{is scheduled for sm_90a while the function's other ops are for sm_80}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%l : !l) {accumulate, rows = #attn.rows<segment = 64, rate = 2, offsets = interleaved>, attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>}
  return
}

// -----

!t = memref<?x?x?x64xf16>
!l = memref<?x?x?xf32>
func.func @strided_tma_always(%q: !t, %k: !t, %v: !t, %o: !t, %l: !l) attributes {attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 2>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 128, rate = 2>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 128, rate = 2>]} {
  // expected-error @below {{kernel '': TMA over rows of rate 2 needs divides = 2 (the 5-D map describes the rows when r divides N)}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%l : !l) {accumulate, rows = #attn.rows<segment = 64, rate = 2, offsets = interleaved>, attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = [<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 2, tma = true, wgmma = true, wgmma_pv = true>]>}
  return
}

// -----

!t = memref<?x?x?x64xf16>
func.func @lightning_cols(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @below {{(target sm_80): lightning 'cols' must be a multiple of 16 that divides Dv = 64, got 48}}
  attn.lightning ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, cols = 48>]>}
  return
}

// -----

!t = memref<?x?x?x64xf16>
func.func @lightning_cta(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @below {{lightning kernels take 4 warps, blocks of 64 and 2 stages on mma.sync, launched by 'cols', 'ctas_lo' and 'ctas_hi' only}}
  attn.lightning ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 8, block_n = 64, stages = 2, ctas_per_sm = 2, cols = 64>]>}
  return
}

// -----

!t = memref<?x?x?x64xf16>
func.func @other_ops(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @below {{the GPU target lowers kernel functions whose body is attn ops only, got memref.alloc}}
  %x = memref.alloc() : memref<4xf32>
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>}
  return
}

// -----

!t = memref<?x?x?x64xf16>
!l = memref<?x?x?xf32>
func.func @clear_by_tma(%q: !t, %k: !t, %v: !t, %o: !t, %l: !l) {
  // expected-error @below {{clears O and LSE: its kernel loads nothing by TMA}}
  attn.clear outs(%o : !t) lse(%l : !l) {attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = [<warps = 8, block_n = 64, stages = 2, ctas_per_sm = 1, tma = true>]>}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%l : !l) {accumulate, rows = #attn.rows<segment = 64, rate = 2, offsets = interleaved>, attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>}
  return
}

// -----

!t = memref<?x?x?x64xf16>
!l = memref<?x?x?xf32>
func.func @clear_other(%q: !t, %k: !t, %v: !t, %o: !t, %o2: !t, %l: !l) {
  // expected-error @below {{clears what the function's attentions do not write}}
  attn.clear outs(%o2 : !t) lse(%l : !l) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%l : !l) {accumulate, rows = #attn.rows<segment = 64, rate = 2, offsets = interleaved>, attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>}
  return
}

// -----

!t = memref<?x?x?x64xf16>
!l = memref<?x?x?xf32>
func.func @divides_other_rate(%q: !t, %k: !t, %v: !t, %o: !t, %l: !l) {
  // expected-error @below {{kernel '': 'divides' must be the rows' rate 2 or its negation}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%l : !l) {accumulate, rows = #attn.rows<segment = 64, rate = 2, offsets = interleaved>, attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, divides = 3>]>}
  return
}

// -----

!t = memref<?x?x?x64xf16>
func.func @divides_whole_rows(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @below {{kernel '': 'divides' applies to strided rows}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, divides = 2>]>}
  return
}

// -----

!t = memref<?x?x?x64xf16>
func.func @cols_on_attention(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @below {{'cols', 'ctas_lo' and 'ctas_hi' are lightning's}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, cols = 32>]>}
  return
}

// -----

!t = memref<?x?x?x80xf16>
func.func @tma_d80(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @below {{TMA tiles need D and Dv multiples of 64 and no top-k}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, tma = true>]>}
  return
}

// -----

!t = memref<?x?x?x64xf16>
func.func @wgmma_half_warpgroup(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @below {{wgmma needs whole warpgroups (warps a multiple of 4), block_n a multiple of 8 and no top-k}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = [<warps = 6, block_n = 64, stages = 2, ctas_per_sm = 1, wgmma = true>]>}
  return
}

// -----

!t = memref<?x?x?x64xf16>
// expected-error @below {{attn.tensor_maps: expected #attn.tensor_map of role q, k or v}}
func.func @bad_map(%q: !t, %k: !t, %v: !t, %o: !t) attributes {attn.tensor_maps = [#attn.tensor_map<role = "o", box_cols = 64, box_rows = 64, rate = 1>]} {
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2>]>}
  return
}

// -----

!t = memref<?x?x?x64xf16>
// expected-error @below {{lightning kernels take no tensor maps}}
func.func @lightning_maps(%q: !t, %k: !t, %v: !t, %o: !t) attributes {attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 64, rate = 1>]} {
  attn.lightning ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 4, block_n = 64, stages = 2, ctas_per_sm = 2, cols = 64>]>}
  return
}

// -----

!t = memref<?x?x?x64xf16>
func.func @split_landmark(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error @below {{split-KV decoding takes one attention over whole sequences (no landmark blocks, #attn.rows or accumulate)}}
  attn.attention #attn.landmark<block = 16> ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) {attn.schedule = #attn.gpu_schedule<chip = "sm_80", kernels = [<warps = 1, block_n = 16, stages = 2, ctas_per_sm = 8, rows_hi = 17, split_keys = 256>]>}
  return
}

// -----

!t = memref<?x?x?x128xbf16>
!l = memref<?x?x?xf32>
func.func @persistent_accumulate(%q: !t, %k: !t, %v: !t, %o: !t, %lse: !l) attributes {attn.tensor_maps = [#attn.tensor_map<role = "q", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "k", box_cols = 64, box_rows = 128, rate = 1>, #attn.tensor_map<role = "v", box_cols = 64, box_rows = 128, rate = 1>]} {
  // expected-error @below {{a persistent kernel is warp-specialized, loads by TMA and takes one attention over whole sequences (no #attn.rows, accumulate, paged cache, landmark blocks or pingpong)}}
  attn.attention #attn.causal ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) lse(%lse : !l) {accumulate, attn.schedule = #attn.gpu_schedule<chip = "sm_90a", kernels = [<warps = 8, block_n = 128, stages = 2, ctas_per_sm = 1, tma = true, wgmma = true, wgmma_pv = true, warp_specialize = true, persistent = true>]>}
  return
}
