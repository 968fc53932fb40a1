//===- AttnOps.td - attn dialect operations ---------------------*- tablegen -*-===//
// attn.attention (softmax patterns), attn.lightning (linear attention with
// decay) and attn.merge (log-sum-exp combination of partial results).
//===----------------------------------------------------------------------===//
#ifndef ATTN_OPS_TD
#define ATTN_OPS_TD

include "AttnBase.td"
include "AttnAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpBase.td"

def Attn_AttentionOp : Attn_Op<"attention"> {
  let summary = "softmax attention with a pattern of allowed (query, key) pairs";
  let description = [{
    Computes `O = softmax_m(scale * Q K^T) V` for the pattern attribute's
    multiplicity m, and optionally the row log-sum-exp (natural log, f32).
    Q: `[B, H, Nq, D]`, K: `[B, Hk, Nk, D]`, V: `[B, Hk, Nk, Dv]`,
    O: `[B, H, Nq, Dv]`, LSE: `[B, H, Nq]`; `H % Hk == 0` (GQA); query row i
    sits at position `Nk - Nq + i`. `scale` defaults to `1/sqrt(D)`.

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
    OptionalAttr<F32Attr>:$scale);
  let assemblyFormat = [{
    $pattern `ins` `(` $q `,` $k `,` $v `:` type($q) `,` type($k) `,` type($v) `)`
    `outs` `(` $out `:` type($out) `)`
    (`lse` `(` $lse^ `:` type($lse) `)`)? attr-dict
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The scale to apply: the attribute, or 1/sqrt(D) when D is static.
    std::optional<double> getEffectiveScale();
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

def Attn_MergeOp : Attn_Op<"merge"> {
  let summary = "combine two (O, LSE) partial results over disjoint key sets";
  let description = [{
    `LSE = ln(e^LSE_a + e^LSE_b)`, `O = e^(LSE_a - LSE) O_a + e^(LSE_b - LSE) O_b`;
    a side with `LSE = -inf` contributes nothing; both -inf gives O = 0.
  }];
  let arguments = (ins
    Arg<AnyMemRef, "first output", [MemRead]>:$out_a,
    Arg<AnyMemRef, "first LSE", [MemRead]>:$lse_a,
    Arg<AnyMemRef, "second output", [MemRead]>:$out_b,
    Arg<AnyMemRef, "second LSE", [MemRead]>:$lse_b,
    Arg<AnyMemRef, "merged output", [MemWrite]>:$out,
    Arg<AnyMemRef, "merged LSE", [MemWrite]>:$lse);
  let assemblyFormat = [{
    `ins` `(` $out_a `,` $lse_a `,` $out_b `,` $lse_b `:` type($out_a) `,`
        type($lse_a) `,` type($out_b) `,` type($lse_b) `)`
    `outs` `(` $out `,` $lse `:` type($out) `,` type($lse) `)` attr-dict
  }];
  let hasVerifier = 1;
}

#endif // ATTN_OPS_TD
