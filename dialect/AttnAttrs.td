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
}

def Attn_CausalAttr : Attn_IntervalPatternAttr<"Causal", "causal"> {
  let summary = "causal attention: m(p, j) = [j <= p]";
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
    ["multiplicity", "classifyTile", "keyRange"]> {
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

#endif // ATTN_ATTRS_TD
