//===- AttnAttrs.td - pattern attributes ------------------------*- tablegen -*-===//
// One attribute per softmax pattern of SPEC.md, each implementing the pattern
// interface. The syntax here is also the CLI's `--pattern` syntax: keep it.
//===----------------------------------------------------------------------===//
#ifndef ATTN_ATTRS_TD
#define ATTN_ATTRS_TD

include "AttnBase.td"
include "AttnInterfaces.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Attn_OffsetInterleaved : I32EnumAttrCase<"interleaved", 0>;
def Attn_OffsetGrouped : I32EnumAttrCase<"grouped", 1>;
def Attn_OffsetMode : I32EnumAttr<"OffsetMode",
    "how dilated attention assigns offsets to heads",
    [Attn_OffsetInterleaved, Attn_OffsetGrouped]> {
  let cppNamespace = "::mlir::attn";
  let genSpecializedAttr = 0;
}

class Attn_PatternAttr<string name, string attrMnemonic,
                       list<string> extra = []>
    : AttrDef<Attn_Dialect, name,
              [DeclareAttrInterfaceMethods<Attn_PatternAttrInterface, extra>]> {
  let mnemonic = attrMnemonic;
}

/// Patterns whose allowed keys per query form one interval [lo(p), hi(p)].
class Attn_IntervalPatternAttr<string name, string attrMnemonic>
    : Attn_PatternAttr<name, attrMnemonic, ["rowBounds", "buildRowBounds"]>;

def Attn_FullAttr : Attn_IntervalPatternAttr<"Full", "full"> {
  let summary = "dense attention: every query sees every key";
  // No parameters: a trailing `<...>` is an error, not ignored.
  let hasCustomAssemblyFormat = 1;
}

def Attn_CausalAttr : Attn_IntervalPatternAttr<"Causal", "causal"> {
  let summary = "causal attention: m(p, j) = [j <= p]";
  // No parameters: a trailing `<...>` is an error, not ignored.
  let hasCustomAssemblyFormat = 1;
}

def Attn_SlidingWindowAttr : Attn_IntervalPatternAttr<"SlidingWindow", "sliding_window"> {
  let summary = "sliding window: m(p, j) = [0 <= p - j <= window]";
  let parameters = (ins "int64_t":$window);
  let assemblyFormat = "`<` `window` `=` $window `>`";
  let genVerifyDecl = 1;
}

def Attn_BlockCausalAttr : Attn_IntervalPatternAttr<"BlockCausal", "block_causal"> {
  let summary = "block-causal: own block causally plus the whole previous block";
  let parameters = (ins "int64_t":$block);
  let assemblyFormat = "`<` `block` `=` $block `>`";
  let genVerifyDecl = 1;
}

def Attn_DilatedAttr : Attn_PatternAttr<"Dilated", "dilated",
    ["multiplicity", "classifyTile", "keyRange"]> {
  let summary = "LongNet dilated attention, mixed by softmax denominators";
  let description = [{
    `#attn.dilated<segments = [w1, ..., wn], rates = [r1, ..., rn]>` with
    optional `causal = false` and `offsets = interleaved|grouped`.
  }];
  let parameters = (ins ArrayRefParameter<"int64_t">:$segments,
                        ArrayRefParameter<"int64_t">:$rates,
                        "bool":$causal,
                        "::mlir::attn::OffsetMode":$offsets);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Offset o of query head `head` of `numHeads` for pattern k.
    int64_t offsetFor(size_t k, int64_t head, int64_t numHeads) const;
  }];
}

def Attn_LandmarkAttr : Attn_PatternAttr<"Landmark", "landmark",
    ["multiplicity", "classifyTile", "keyRange", "getKeyBlock",
     "getRetrievedBlocks"]> {
  let summary = "Landmark attention: grouped softmax, optional top-k retrieval";
  let description = [{
    `#attn.landmark<block = L>` or `#attn.landmark<block = L, topk = k>`.
    Key j is a landmark when `j mod L == L - 1`. `topk = 0` (not printed)
    means all earlier blocks; otherwise 1 <= k <= 256, because the code
    generators unroll the retrieval over k (the GPU target keeps at most
    16).
  }];
  let parameters = (ins "int64_t":$block, "int64_t":$topk);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}


/// The rows one piece of a decomposed dilated op works on.
def Attn_RowsAttr : AttrDef<Attn_Dialect, "Rows"> {
  let mnemonic = "rows";
  let summary = "the strided rows of one (segment, rate) pair of LongNet";
  let description = [{
    `#attn.rows<segment = w, rate = r, offsets = interleaved|grouped>`: the
    sequence is cut into segments of `w` rows; in segment `s`, query head `h`
    keeps rows `s * w + o + r * t` (`t >= 0`, inside the segment and the
    sequence), with offset `o = h mod r` (interleaved) or
    `o = h / ceil(H / r)` (grouped, torchscale's). Queries and keys are the
    same rows; the op's pattern applies to their local indices `t`.
    `attn-decompose-dilated` writes it; the formulas exist once
    (`buildSegmentRows`), for every target.
  }];
  let parameters = (ins "int64_t":$segment, "int64_t":$rate,
                        EnumParameter<Attn_OffsetMode>:$offsets);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Offset of query head `head` of `numHeads`.
    int64_t offsetFor(int64_t head, int64_t numHeads) const;
    /// Rows per segment at most (w / r).
    int64_t maxRowsPerSegment() const { return getSegment() / getRate(); }
    /// Segment `seg` of a sequence of `n` rows for query head `head` of
    /// `numHeads`, as IR: row t of it is start + offset + rate * t, for
    /// t < count (0 when the segment is shorter than the offset).
    ::mlir::attn::SegmentRows
    buildSegmentRows(::mlir::OpBuilder &b, ::mlir::Location loc,
                     ::mlir::Value n, ::mlir::Value seg, ::mlir::Value head,
                     ::mlir::Value numHeads) const;
    /// Segments of a sequence of `n` rows, as IR.
    ::mlir::Value buildNumSegments(::mlir::OpBuilder &b, ::mlir::Location loc,
                                   ::mlir::Value n) const;
  }];
}

//===----------------------------------------------------------------------===//
// Schedules: how a target runs one attn op, decided by attn-configure-<target>
// (or an autotuner) and only read by attn-lower-to-<target>.
//===----------------------------------------------------------------------===//

def Attn_CPUScheduleAttr : AttrDef<Attn_Dialect, "CPUSchedule"> {
  let mnemonic = "cpu_schedule";
  let summary = "the CPU schedule of one attn op (attribute `attn.schedule`)";
  let description = [{
    Attention: `block_m` query rows and `block_n` keys per tile, `vector_width`
    f32 lanes (16 with AVX-512, else 8), `mr_keys` / `mr_values` rows of the
    Q K^T and P V micro-kernels. Lightning: `block_m` rows per
    Lightning-Attention-2 block (`block_n` equal). `cpu` and `features` name
    the LLVM CPU the code is for and the ISA extensions it may use (the
    kernel's metadata: a host without them refuses the kernel).
    `keys_lo` / `keys_hi`: the op runs only when `keys_lo <= Nk < keys_hi`
    (0: no bound), so that one kernel function may hold an op per range of
    sequence lengths, each with its own tiles (tuned variants); together
    they must cover every Nk. `threads`: at most that many of the context's
    worker threads run the op (0: all of them; a tuner lowers it where the
    work is too small to share). `bf16_dot`: bf16 inputs multiply bf16
    pairs by `vdpbf16ps` (AVX512-BF16, 16 lanes) in Q K^T and P V, P
    rounded to bf16, instead of widening every element to f32. `amx`: bf16
    inputs multiply on the AMX tile unit (`tdpbf16ps`, 16x16 f32 tiles) in
    Q K^T and P V, P rounded to bf16; the online softmax stays in AVX-512
    (block_m a multiple of 16, block_n of 32, D of 32, Dv of 16).
    `decode_rows`: a query tile with at most that many rows (decoding, the
    last rows of a prompt) runs row by row with the keys across the vector
    lanes instead of the queries (0: never; D and Dv multiples of the
    vector width).

    ```mlir
    attn.attention #attn.causal ins(...) outs(...) {attn.schedule =
        #attn.cpu_schedule<block_m = 64, block_n = 96, vector_width = 16,
                           mr_keys = 12, mr_values = 12, cpu = "znver4",
                           features = "avx2,avx512f">}
    ```
  }];
  let parameters = (ins "int64_t":$block_m, "int64_t":$block_n,
                        "int64_t":$vector_width, "int64_t":$mr_keys,
                        "int64_t":$mr_values,
                        StringRefParameter<"LLVM CPU name", "\"\"">:$cpu,
                        StringRefParameter<"ISA extensions", "\"\"">:$features,
                        DefaultValuedParameter<"int64_t", "0">:$keys_lo,
                        DefaultValuedParameter<"int64_t", "0">:$keys_hi,
                        DefaultValuedParameter<"int64_t", "0">:$threads,
                        DefaultValuedParameter<"bool", "false">:$bf16_dot,
                        DefaultValuedParameter<"bool", "false">:$amx,
                        DefaultValuedParameter<"int64_t", "0">:$decode_rows);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Attn_GPUKernelAttr : AttrDef<Attn_Dialect, "GPUKernel"> {
  let mnemonic = "gpu_kernel";
  let summary = "one GPU kernel of an attn op's schedule: its CTA and when it runs";
  let description = [{
    The CTA: `warps` (16 query rows each: `block_m = 16 * warps`), `block_n`
    keys per tile, `stages` of the load pipeline, `ctas_per_sm` (what ptxas
    must leave room for). Instructions (sm_90a): `tma` (tiles by TMA through
    the function's `attn.tensor_maps` of the op's row rate), `wgmma` (Q K^T),
    `wgmma_pv` (P V), `async_qk`, `warp_specialize` (a producer warpgroup)
    with `pingpong` / `ws_overlap`, `kv_box_rows` (rows of the K/V maps' box
    when shorter than `block_n`, 0: `block_n`). Lightning: `cols` value
    columns per CTA.

    When the runtime launches it: `keys_lo <= Nk < keys_hi`, `ctas_lo <=`
    the grid's CTAs `< ctas_hi` (a bound of 0: none), and `divides`: `r > 0`
    only when `r` divides N, `-r` only when it does not, 0 always. `suffix`
    is appended to the kernel function's name.

    Split-KV decoding (`rows_lo <=` the packed query rows of one KV head `<
    rows_hi`): `split_keys` splits the keys over CTAs (at least that many
    each), each writing its partial O and LSE to the runtime's workspace;
    `merge` alone is the kernel that combines them; `split_keys` with
    `merge` merges in the split kernel itself, by the last CTA of each
    (batch, KV head) to finish (a counter per pair), with no second launch.

    `persistent` (warp-specialized kernels over whole sequences): a grid of
    `ctas_per_sm` CTAs per SM (at most one per work item), each looping over the
    (query tile, head, batch) work items; its producer loads the next
    item's Q and key tiles while the consumers finish the last one.
  }];
  let parameters = (ins
      StringRefParameter<"entry name suffix", "\"\"">:$suffix,
      "int64_t":$warps, "int64_t":$block_n, "int64_t":$stages,
      "int64_t":$ctas_per_sm,
      DefaultValuedParameter<"bool", "false">:$tma,
      DefaultValuedParameter<"bool", "false">:$wgmma,
      DefaultValuedParameter<"bool", "false">:$wgmma_pv,
      DefaultValuedParameter<"bool", "false">:$async_qk,
      DefaultValuedParameter<"bool", "false">:$warp_specialize,
      DefaultValuedParameter<"bool", "false">:$pingpong,
      DefaultValuedParameter<"bool", "false">:$ws_overlap,
      DefaultValuedParameter<"int64_t", "0">:$kv_box_rows,
      DefaultValuedParameter<"int64_t", "0">:$cols,
      DefaultValuedParameter<"int64_t", "0">:$keys_lo,
      DefaultValuedParameter<"int64_t", "0">:$keys_hi,
      DefaultValuedParameter<"int64_t", "0">:$ctas_lo,
      DefaultValuedParameter<"int64_t", "0">:$ctas_hi,
      DefaultValuedParameter<"int64_t", "0">:$divides,
      DefaultValuedParameter<"int64_t", "0">:$rows_lo,
      DefaultValuedParameter<"int64_t", "0">:$rows_hi,
      DefaultValuedParameter<"int64_t", "0">:$split_keys,
      DefaultValuedParameter<"bool", "false">:$merge,
      DefaultValuedParameter<"bool", "false">:$persistent);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Attn_GPUScheduleAttr : AttrDef<Attn_Dialect, "GPUSchedule"> {
  let mnemonic = "gpu_schedule";
  let summary = "the GPU schedule of one attn op (attribute `attn.schedule`)";
  let description = [{
    The chip (`sm_80` or `sm_90a`) and the op's kernels, launched in order
    where their conditions hold (see `#attn.gpu_kernel`); the first kernel's
    CTA is the one the kernel metadata summarises.

    ```mlir
    attn.attention #attn.causal ins(...) outs(...) {attn.schedule =
        #attn.gpu_schedule<chip = "sm_90a", kernels = [
          #attn.gpu_kernel<warps = 8, block_n = 128, stages = 2,
                           ctas_per_sm = 2, tma = true, wgmma = true,
                           wgmma_pv = true, keys_hi = 2048>,
          #attn.gpu_kernel<suffix = "__long", warps = 8, block_n = 128, ...,
                           warp_specialize = true, keys_lo = 2048>]>}
    ```
  }];
  let parameters = (ins StringRefParameter<"chip">:$chip,
                        ArrayRefParameter<"GPUKernelAttr">:$kernels);
  let assemblyFormat =
      "`<` `chip` `=` $chip `,` `kernels` `=` `[` $kernels `]` `>`";
  let genVerifyDecl = 1;
}

def Attn_TensorMapAttr : AttrDef<Attn_Dialect, "TensorMap"> {
  let mnemonic = "tensor_map";
  let summary = "one TMA tensor map a kernel function's launches share";
  let description = [{
    A function attribute `attn.tensor_maps = [...]` lists them in the order
    the runtime encodes them and passes them (after the tensors): the
    operand (`q`, `k` or `v`), the box (`box_cols` x `box_rows`, 128-byte
    swizzle, zero fill) and the row rate (`rate` > 1: a 5-D map whose rows
    are `rate` apart).
  }];
  let parameters = (ins StringRefParameter<"operand role">:$role,
                        "int64_t":$box_cols, "int64_t":$box_rows,
                        "int64_t":$rate);
  let assemblyFormat = "`<` struct(params) `>`";
}

#endif // ATTN_ATTRS_TD
