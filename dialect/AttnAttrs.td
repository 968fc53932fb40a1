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
                        StringRefParameter<"ISA extensions", "\"\"">:$features);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // ATTN_ATTRS_TD
