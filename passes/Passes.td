//===- Passes.td - the attn compiler passes ---------------------*- tablegen -*-===//
// Every pass of the attn pipeline: one def here, one .cpp, one test file
// named after the pass argument.
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_TD
#define ATTN_PASSES_TD

include "mlir/Pass/PassBase.td"

def AttnDecomposeDilated : Pass<"attn-decompose-dilated", "ModuleOp"> {
  let summary = "Rewrite LongNet's dilated attention as attentions over "
                "strided rows that accumulate by log-sum-exp";
  let description = [{
    Every `attn.attention #attn.dilated<segments = [w...], rates = [r...]>`
    (which must have an lse operand) becomes `attn.clear` of its O and LSE
    and one full (or causal) attention per (w, r) over
    `rows = #attn.rows<segment = w, rate = r, offsets = ...>` with
    `accumulate`. The function keeps the dilated pattern as
    `attn.source_pattern` for the kernel's metadata. No target sees
    `#attn.dilated`.

    Before:
    ```mlir
    attn.attention #attn.dilated<segments = [512, 1024], rates = [1, 2]>
        ins(%q, %k, %v : ...) outs(%o : ...) lse(%l : ...)
    ```
    After:
    ```mlir
    attn.clear outs(%o : ...) lse(%l : ...)
    attn.attention #attn.causal ins(%q, %k, %v : ...) outs(%o : ...)
        lse(%l : ...) {accumulate, rows = #attn.rows<segment = 512,
        rate = 1, offsets = interleaved>}
    attn.attention #attn.causal ins(%q, %k, %v : ...) outs(%o : ...)
        lse(%l : ...) {accumulate, rows = #attn.rows<segment = 1024,
        rate = 2, offsets = interleaved>}
    ```
  }];
  let dependentDialects = ["::mlir::attn::AttnDialect"];
}

def AttnConfigureCPU : Pass<"attn-configure-cpu", "ModuleOp"> {
  let summary = "Decide the CPU schedule of every attn op (tile sizes, vector "
                "width, micro-kernel shape, the CPU) as an attribute";
  let description = [{
    Writes `attn.schedule = #attn.cpu_schedule<...>` on every `attn.attention`
    and `attn.lightning` that has none (an op that has one, from a tuner or
    by hand, keeps it, checked). The options fix a value; a 0 leaves it to
    the rule: query tiles of about 16 KB of Q^T and key tiles of about 24 KB
    (measured best on a 2-core AVX2 machine at D = 64 and 128), lightning
    blocks of 64 rows.

    Before:
    ```mlir
    attn.attention #attn.causal ins(%q, %k, %v : ...) outs(%o : ...)
    ```
    After (`vector-width=16 mr-keys=12 mr-values=12`, D = 64):
    ```mlir
    attn.attention #attn.causal ins(%q, %k, %v : ...) outs(%o : ...)
        {attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 96,
         vector_width = 16, mr_keys = 12, mr_values = 12>}
    ```
  }];
  let options = [
    Option<"blockM", "block-m", "int64_t", "0",
           "query rows per tile (a multiple of vector-width * 2; 0: fit "
           "Q^T in about 16 KB)">,
    Option<"blockN", "block-n", "int64_t", "0",
           "keys per tile (a multiple of mr-keys; 0: fit a K tile in about "
           "24 KB)">,
    Option<"vectorWidth", "vector-width", "int64_t", "8",
           "f32 lanes per vector register (8: AVX2, 16: AVX-512)">,
    Option<"mrKeys", "mr-keys", "int64_t", "6",
           "keys per QK micro-kernel block (registers: mr * 2 + 3 <= regs)">,
    Option<"mrValues", "mr-values", "int64_t", "6",
           "value columns per PV micro-kernel block">,
    Option<"targetCpu", "target-cpu", "std::string", "\"\"",
           "LLVM name of the CPU the code is for (kernel metadata 'cpu')">,
    Option<"targetFeatures", "target-features", "std::string", "\"\"",
           "ISA extensions the code may use, comma-separated (kernel "
           "metadata 'features': a host without one refuses the kernel)">,
  ];
  let dependentDialects = ["::mlir::attn::AttnDialect"];
}

def AttnLowerToCPU : Pass<"attn-lower-to-cpu", "ModuleOp"> {
  let summary = "Tile attn ops FlashAttention-style into vector micro-kernels "
                "for the CPU";
  let description = [{
    Rewrites every kernel function whose body is attn ops on its arguments
    (one `attn.attention` or `attn.lightning`, or the pieces of a dilated op)
    into a kernel ABI of phases, one or more per op. Phase `p` is a pair of functions:
    `F__count<p>(args) -> index` gives the number of independent work items
    and `F__run<p>(args, begin, end)` runs items [begin, end); the runtime
    spreads the items of a phase over its threads and runs phases in order.
    `F` itself becomes a serial driver of all phases; `F__phases()` returns
    their number.

    A work item is one query tile of one (batch, head): the query tile is
    packed transposed and scaled (`[D][BM]`), then the key tiles the pattern
    interface allows are visited in order. Each computes `S^T = K Q^T` with a
    register-blocked broadcast-FMA micro-kernel (MR keys x NV query vectors),
    masks it only when the interface's bounds say the tile is partial, runs
    the online softmax lane-wise (one lane per query: no horizontal
    reductions) and accumulates `O^T += V^T P^T` with a second micro-kernel.
    No `Nq x Nk` buffer exists: scratch is O(BM * (D + BN + Dv)) per thread.
    Tile sizes, vector width and micro-kernel shape come from each op's
    `attn.schedule` (`#attn.cpu_schedule`, written by attn-configure-cpu or
    a tuner); this pass decides nothing.

    Strided rows (`#attn.rows`, from attn-decompose-dilated) are addressing,
    not gathers: the same tile code runs over rows `seg * w + o + r * t` of
    each segment, and `accumulate` merges its (O, LSE) into the output by
    log-sum-exp; `attn.clear` is a phase of its own.

    Before:
    ```mlir
    func.func @causal(%q: memref<?x?x?x64xf32>, ...) {
      attn.attention #attn.causal ins(%q, %k, %v : ...) outs(%o : ...)
          {attn.schedule = #attn.cpu_schedule<block_m = 64, block_n = 96,
           vector_width = 8, mr_keys = 6, mr_values = 6>}
      return
    }
    ```
    After: `@causal__phases`, `@causal__count0`, `@causal__run0` (scf loops
    over vector.fma micro-kernels) and `@causal` calling them in order.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::x86vector::X86VectorDialect",
                           "::mlir::amx::AMXDialect",
                           "::mlir::LLVM::LLVMDialect"];
}

def AttnConfigureGPU : Pass<"attn-configure-gpu", "ModuleOp"> {
  let summary = "Decide the GPU schedule of every attn op (CTA, instructions, "
                "kernels and their launch conditions, tensor maps) as "
                "attributes";
  let description = [{
    Writes `attn.schedule = #attn.gpu_schedule<chip, kernels = [...]>` on
    every `attn.attention`, `attn.lightning` and `attn.clear` that has none,
    and `attn.tensor_maps = [#attn.tensor_map<...>]` on kernel functions
    whose kernels load by TMA. An op that has a schedule (by hand or from a
    tuner) keeps it; a function without `attn.tensor_maps` then gets the
    maps its TMA kernels load through (one per distinct box and rate). attn-lower-to-gpu only reads them.

    The rules, each measured on an H100 (docs/gpu-performance-notes.md):
    sm_80 and cp.async kernels get 4 warps (mma.sync); sm_90a with TMA (D
    and Dv multiples of 64, unit row strides, no top-k) 8 warps in two
    warpgroups with wgmma for both products. At D = 64 key tiles of 128
    with two CTAs per SM. At D = Dv = 128 a warp-specialized CTA (producer
    warpgroup, `setmaxnreg`) where the query tiles read `ws-min-keys` keys
    or more on average, else two plain CTAs per SM; full and causal
    attention get both kernels, the second (`__long`) launched from the
    number of keys where the averages cross (`keys_lo`). Strided rows
    (`#attn.rows`, from attn-decompose-dilated) of rate r > 1 read by TMA
    through 5-D maps when r divides N (`divides = r`), with a cp.async
    kernel for the other N (`_rows`, `divides = -r`). Lightning: one kernel
    per column slice of 64, 32 and 16 that divides Dv, launched by the
    grid's CTAs (`ctas_lo`, `ctas_hi`). The options below fix a choice.
  }];
  let options = [
    Option<"chip", "chip", "std::string", "\"sm_80\"",
           "target: sm_80 (mma.sync, cp.async; runs on sm_80+) or sm_90a">,
    Option<"blockM", "block-m", "int64_t", "0",
           "query rows per CTA (16 * warps; 0: that)">,
    Option<"blockN", "block-n", "int64_t", "0",
           "keys per tile (a multiple of 16; 0: 128 for warp-specialized "
           "kernels, else 64)">,
    Option<"warps", "warps", "int64_t", "0",
           "warps per CTA that compute (a warp-specialized CTA adds a "
           "producer warpgroup; 0: 8 on sm_90a where TMA applies, else 4; on "
           "sm_90a, 8 or more use wgmma)">,
    Option<"stages", "stages", "int64_t", "2",
           "shared-memory buffers of the K/V pipeline (2 to 4)">,
    Option<"tma", "tma", "bool", "true",
           "sm_90a: load Q/K/V tiles by TMA onto mbarriers where D and Dv "
           "are multiples of 64 (false: cp.async)">,
    Option<"wgmmaPv", "wgmma-pv", "bool", "true",
           "sm_90a with wgmma and TMA: O += P V by register-A wgmma (inline "
           "PTX) instead of mma.sync">,
    Option<"asyncQk", "async-qk", "bool", "false",
           "sm_90a with wgmma and TMA: issue the next key tile's S = Q K^T "
           "before this tile's softmax (needs at least 3 stages)">,
    Option<"warpSpecialize", "warp-specialize", "bool", "true",
           "sm_90a with wgmma, TMA and wgmma-pv, D = Dv = 128, 8 warps (where "
           "it measured faster): a producer warpgroup issues the TMA loads onto "
           "full/empty mbarrier pairs and gives its registers to the "
           "consumers, which overlap P V with the next tile's Q K^T "
           "(async-qk turns it off)">,
    Option<"pingpong", "pingpong", "bool", "false",
           "with warp-specialize: the consumer warpgroups take turns "
           "issuing their wgmma (named barriers; no effect where warp "
           "specialisation does not apply)">,
    Option<"persistent", "persistent", "bool", "true",
           "sm_90a, warp-specialized kernels over whole sequences (no "
           "paged cache, accumulate or landmark blocks): a persistent grid "
           "of one CTA per SM looping over the (query tile, head, batch) "
           "items, the producer loading the next item's Q and key tiles "
           "while the consumers finish the last, at every length where "
           "rows can be long (full, causal); patterns whose rows stay "
           "shorter than ws-min-keys keep the two-CTA kernel; pingpong "
           "kernels are not persistent (its turns do not carry over from "
           "one item to the next)">,
    Option<"wsOverlap", "ws-overlap", "bool", "false",
           "with warp-specialize: the softmax of the next key tile runs "
           "while this tile's P V is in flight (no effect where warp "
           "specialisation does not apply)">,
    Option<"ctasPerSm", "ctas-per-sm", "int64_t", "0",
           "CTAs per SM the register allocation must leave room for "
           "(nvvm.minctasm: at most 64K / (CTAs x threads) registers each; "
           "0: 2 for CTAs of up to 128 threads, else 1)">,
    Option<"wsMinKeys", "ws-min-keys", "int64_t", "2048",
           "sm_90a, D = Dv = 128: warp-specialize only query tiles that "
           "read at least this many keys on average; shorter ones run two "
           "CTAs of the plain kernel per SM. Full and causal attention get "
           "both kernels, chosen at launch by the number of keys "
           "(0: always warp-specialize)">,
    Option<"stridedTma", "strided-tma", "bool", "true",
           "sm_90a with TMA: dilated phases of rate r > 1 read their rows "
           "r apart by TMA (a 5-D tensor map) on the dense CTA when r "
           "divides N, and keep a cp.async kernel for the other N (false: "
           "cp.async always)">,
    Option<"decodeRows", "decode-rows", "int64_t", "16",
           "split-KV decoding for full, causal, window and block-causal "
           "attention: where Nq * H / Hk (the query rows of one KV head) is at "
           "most this, a kernel packing those rows into one CTA splits the "
           "keys over CTAs and a second merges the splits (a multiple of 16, "
           "at most 64; 0: no decoding kernels)">,
    Option<"splitMinKeys", "split-min-keys", "int64_t", "128",
           "split-KV decoding: the fewest keys one split reads">,
    Option<"decodeBlockN", "decode-block-n", "int64_t", "0",
           "split-KV decoding: keys per tile (0: 16)">,
    Option<"decodeStages", "decode-stages", "int64_t", "0",
           "split-KV decoding: stages of the cp.async pipeline (0: 2)">,
    Option<"decodeMerge", "decode-merge", "std::string", "\"kernel\"",
           "split-KV decoding: where the splits merge: 'kernel' (a second "
           "kernel) or 'fused' (the last CTA of each KV head's splits to "
           "finish, counted by an atomic; one launch)">,
  ];
  let dependentDialects = ["::mlir::attn::AttnDialect"];
}

def AttnLowerToGPU : Pass<"attn-lower-to-gpu", "ModuleOp"> {
  let summary = "Tile attn ops FlashAttention-style into tensor-core GPU "
                "kernels (gpu + nvgpu dialects) as their schedules say";
  let description = [{
    Moves every kernel function whose body is attn ops on its arguments into
    `gpu.module @attn_kernels`: one `gpu.func` per kernel of each op's
    `attn.schedule` (`#attn.gpu_schedule`, written by attn-configure-gpu or
    a tuner; this pass decides nothing), with the function's memref
    arguments and then its `attn.tensor_maps`, plus a global
    `F__attn_meta` holding the metadata the runtime reads (roles, dtypes,
    the launches in order with their grids and conditions, tensor maps).
    The host function is removed. Kernels are named `F` (the first op),
    `F__phase<i>` (op i) and the kernel's `suffix`.

    One CTA computes one query tile of one (batch, head); warp w owns query
    rows [16w, 16w + 16) of it. Q is staged once, K and V tiles go through a
    ring of `stages` shared-memory buffers filled by `nvgpu.device_async_copy`
    (cp.async, zero-filled past the sequence) or by TMA
    (`cp.async.bulk.tensor`, 128-byte swizzle, one thread issuing, one
    mbarrier per stage). S = Q K^T and O += P V use `nvgpu.ldmatrix` and
    `nvgpu.mma.sync` m16n8k16 with f32 accumulators, or on sm_90a
    `nvvm.wgmma.mma_async` chains (Q K^T from shared memory through matrix
    descriptors; P V register-A in inline PTX, MLIR 22's wgmma op taking A
    only from shared memory); the online softmax runs on the accumulator
    fragments in registers with exp2 and quad shuffles. Warp-specialized
    CTAs add a producer warpgroup that issues every load onto full/empty
    mbarrier pairs. Key tiles and the mask-or-not decision come from the
    pattern interface (as on the CPU); strided rows from `#attn.rows`;
    `accumulate` merges into O and LSE by log-sum-exp.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::LLVM::LLVMDialect"];
}

def AttnTensorMapParams : Pass<"attn-tensormap-params"> {
  let summary = "Pass TMA tensor maps to NVVM kernels by value (grid constants)";
  let description = [{
    Runs after `convert-gpu-to-nvvm`. A kernel whose `llvm.func` carries
    `attn.tensormaps = N` takes N `CUtensorMap`s as its last N parameters:
    they become `byval` 128-byte, 64-byte aligned parameters marked
    `nvvm.grid_constant`, so PTX addresses them in the parameter space
    (`cvta.param`) and `cp.async.bulk.tensor` reads them there, as
    `__grid_constant__ const CUtensorMap` does in CUDA. `gpu.func` arguments
    cannot carry these attributes (`convert-gpu-to-nvvm` drops `llvm.byval`,
    and the NVVM verifier accepts `nvvm.grid_constant` on LLVM kernels only),
    hence this separate step.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::NVVM::NVVMDialect"];
}

def AttnApproximateMath : Pass<"attn-approximate-math", "ModuleOp"> {
  let summary = "Replace math.exp by its FMA polynomial approximation";
  let description = [{
    Applies MLIR's polynomial approximation of `math.exp` (f32, scalar and
    vector): a handful of FMAs instead of a libm call. It clamps its input at
    about -87.8, so `exp(-inf)` is exactly 0, which the masked softmax needs.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

#endif // ATTN_PASSES_TD
