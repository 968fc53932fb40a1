//===- AttnOps.td - attn dialect operations ---------------------*- tablegen -*-===//
// attn.attention (softmax patterns), attn.lightning (linear attention with
// decay) and attn.clear (the start of an accumulation).
//===----------------------------------------------------------------------===//
#ifndef ATTN_OPS_TD
#define ATTN_OPS_TD

include "AttnBase.td"
include "AttnAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpBase.td"

def Attn_AttentionOp : Attn_Op<"attention", [AttrSizedOperandSegments]> {
  let summary = "softmax attention with a pattern of allowed (query, key) pairs";
  let description = [{
    Computes `O = softmax_m(scale * Q K^T) V` for the pattern attribute's
    multiplicity m, and optionally the row log-sum-exp (natural log, f32).
    Q: `[B, H, Nq, D]`, K: `[B, Hk, Nk, D]`, V: `[B, Hk, Nk, Dv]`,
    O: `[B, H, Nq, Dv]`, LSE: `[B, H, Nq]`; `H % Hk == 0` (GQA); query row i
    sits at position `Nk - Nq + i`. `scale` defaults to `1/sqrt(D)`.

    `rows = #attn.rows<...>` restricts the op to strided rows of segments
    (queries and keys alike, Nq == Nk), the pattern applying to their local
    indices; `accumulate` merges the result into what O and LSE hold by
    log-sum-exp (`LSE' = ln(e^LSE + e^lse)`, `O' = e^(LSE - LSE') O +
    e^(lse - LSE') o`) instead of storing it. `attn-decompose-dilated`
    writes both; they need an interval pattern, and `accumulate` an lse.

    `paged(%table, %lens)` reads K and V from a paged cache (vLLM's layout):
    K `[P, S, Hk, D]` and V `[P, S, Hk, Dv]` hold P pages of S key rows,
    `table` (i32 `[B, M]`) lists the pages of each sequence in order and
    `lens` (i32 `[B]`) its key count: key j of batch b is row `j mod S` of
    page `table[b, j / S]`, and batch b attends as if K, V were those
    `Nk_b = lens[b]` rows (query row i at position `Nk_b - Nq + i`). Lengths
    are clamped to `[0, M S]` and page numbers to `[0, P)`. Interval
    patterns only (full, causal, sliding_window, block_causal).

    ```mlir
    attn.attention #attn.causal
        ins(%q, %k, %v : memref<1x8x1024x64xf16>, memref<1x2x1024x64xf16>,
                         memref<1x2x1024x64xf16>)
        outs(%o : memref<1x8x1024x64xf16>)
        lse(%lse : memref<1x8x1024xf32>)
    ```
  }];
  let arguments = (ins
    Attn_PatternAttrInterface:$pattern,
    Arg<AnyMemRef, "queries", [MemRead]>:$q,
    Arg<AnyMemRef, "keys", [MemRead]>:$k,
    Arg<AnyMemRef, "values", [MemRead]>:$v,
    Arg<AnyMemRef, "output", [MemWrite]>:$out,
    Arg<Optional<AnyMemRef>, "row log-sum-exp", [MemWrite]>:$lse,
    Arg<Optional<AnyMemRef>, "paged cache: pages of each sequence", [MemRead]>:$block_table,
    Arg<Optional<AnyMemRef>, "paged cache: keys of each sequence", [MemRead]>:$kv_lens,
    OptionalAttr<F32Attr>:$scale,
    OptionalAttr<Attn_RowsAttr>:$rows,
    UnitAttr:$accumulate);
  let assemblyFormat = [{
    $pattern `ins` `(` $q `,` $k `,` $v `:` type($q) `,` type($k) `,` type($v) `)`
    `outs` `(` $out `:` type($out) `)`
    (`lse` `(` $lse^ `:` type($lse) `)`)?
    (`paged` `(` $block_table^ `,` $kv_lens `:` type($block_table) `,` type($kv_lens) `)`)?
    attr-dict
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The scale to apply: the attribute, or 1/sqrt(D) when D is static.
    std::optional<double> getEffectiveScale();
    /// K and V are pages of a cache (`paged`): [P, S, Hk, D].
    bool isPaged() { return getBlockTable() != nullptr; }
    /// Dimension of K/V holding the kv heads: 1, or 2 when paged.
    unsigned kvHeadDim() { return isPaged() ? 2 : 1; }
  }];
}

def Attn_LightningOp : Attn_Op<"lightning", [AttrSizedOperandSegments]> {
  let summary = "causal linear attention with per-head exponential decay";
  let description = [{
    `O_t = sum_{j <= t} lambda_h^(t - j) <q_t, k_j> v_j` with
    `lambda_h = exp(-slope_h)`, plus the contribution `lambda_h^(t+1) q_t KV0`
    of an initial state. Slopes default to the ALiBi slopes of H heads.
    Q, K: `[B, H|Hk, N, D]`, V: `[B, Hk, N, Dv]`, states `[B, H, D, Dv]` f32.
    `scale` (default 1) multiplies the scores.
  }];
  let arguments = (ins
    Arg<AnyMemRef, "queries", [MemRead]>:$q,
    Arg<AnyMemRef, "keys", [MemRead]>:$k,
    Arg<AnyMemRef, "values", [MemRead]>:$v,
    Arg<AnyMemRef, "output", [MemWrite]>:$out,
    Arg<Optional<AnyMemRef>, "per-head decay slopes", [MemRead]>:$slopes,
    Arg<Optional<AnyMemRef>, "initial KV state", [MemRead]>:$state_in,
    Arg<Optional<AnyMemRef>, "final KV state", [MemWrite]>:$state_out,
    OptionalAttr<F32Attr>:$scale);
  let assemblyFormat = [{
    `ins` `(` $q `,` $k `,` $v `:` type($q) `,` type($k) `,` type($v) `)`
    `outs` `(` $out `:` type($out) `)`
    (`slopes` `(` $slopes^ `:` type($slopes) `)`)?
    (`state_in` `(` $state_in^ `:` type($state_in) `)`)?
    (`state_out` `(` $state_out^ `:` type($state_out) `)`)? attr-dict
  }];
  let hasVerifier = 1;
}

def Attn_ClearOp : Attn_Op<"clear"> {
  let summary = "O = 0 and LSE = -inf: the start of an accumulation";
  let description = [{
    Clears an output and its row log-sum-exp, what a sum of attentions over
    disjoint sets of (query, key) pairs accumulates into
    (`attn.attention {accumulate}`), and what a row that no pair reaches
    keeps. `attn-decompose-dilated` starts every dilated op with it.
  }];
  let arguments = (ins
    Arg<AnyMemRef, "output", [MemWrite]>:$out,
    Arg<AnyMemRef, "row log-sum-exp", [MemWrite]>:$lse);
  let assemblyFormat = [{
    `outs` `(` $out `:` type($out) `)` `lse` `(` $lse `:` type($lse) `)`
    attr-dict
  }];
  let hasVerifier = 1;
}

#endif // ATTN_OPS_TD
