//===- AttnInterfaces.td - the pattern interface ----------------*- tablegen -*-===//
// The one interface every softmax pattern attribute implements: the mask and
// the tile structure, answered analytically. Tilers on every target ask it.
//===----------------------------------------------------------------------===//
#ifndef ATTN_INTERFACES_TD
#define ATTN_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Attn_PatternAttrInterface : AttrInterface<"PatternAttrInterface"> {
  let cppNamespace = "::mlir::attn";
  let description = [{
    A softmax attention pattern. Positions are absolute: query row `i` of
    `Nq` sits at `p = Nk - Nq + i` (bottom-right alignment). Heads matter only
    to patterns whose mask depends on the head (dilated offsets).
  }];
  let methods = [
    InterfaceMethod<[{
        Multiplicity m(p, j) of the pair (query position p, key j) for query
        head `head` of `numHeads`, for a sequence of `numKeys` keys.
        For landmark patterns: 1 when the query reads key j at all (its
        score enters the top-level or a block-local softmax), else 0.
      }], "int64_t", "multiplicity",
      (ins "int64_t":$p, "int64_t":$j, "int64_t":$head, "int64_t":$numHeads,
           "int64_t":$numKeys), "",
      "return ::mlir::attn::detail::intervalMultiplicity($_attr, p, j, numKeys);">,
    InterfaceMethod<[{
        Classifies the tile of query positions [p0, p1) and keys [n0, n1):
        Skip (no allowed pair), Full (every pair has m = 1, no mask needed) or
        Partial (apply the element predicate).
      }], "::mlir::attn::TileKind", "classifyTile",
      (ins "int64_t":$p0, "int64_t":$p1, "int64_t":$n0, "int64_t":$n1,
           "int64_t":$head, "int64_t":$numHeads, "int64_t":$numKeys), "",
      "return ::mlir::attn::detail::intervalClassifyTile($_attr, p0, p1, n0, n1, numKeys);">,
    InterfaceMethod<[{
        The half-open range of keys [first, last) a query tile with positions
        [p0, p1) may touch, clamped to [0, numKeys). Every allowed key lies in
        it; tiles inside it may still be skipped by classifyTile.
      }], "::mlir::attn::KeyRange", "keyRange",
      (ins "int64_t":$p0, "int64_t":$p1, "int64_t":$head, "int64_t":$numHeads,
           "int64_t":$numKeys), "",
      "return ::mlir::attn::detail::intervalKeyRange($_attr, p0, p1, numKeys);">,
    InterfaceMethod<[{
        For interval patterns (each query position p reads exactly the keys
        lo(p) <= j <= hi(p), multiplicity 1, lo and hi nondecreasing in p):
        sets the inclusive bounds, unclamped, and returns true. Other patterns
        return false.
      }], "bool", "rowBounds",
      (ins "int64_t":$p, "int64_t":$numKeys, "int64_t &":$lo, "int64_t &":$hi),
      "", "return false;">,
    InterfaceMethod<[{
        The same bounds as IR (index values) for a query position `p` that is
        only known at run time; null values for non-interval patterns. This
        and rowBounds are one template, so the generated masks are the ones
        the unit tests check.
      }], "std::pair<::mlir::Value, ::mlir::Value>", "buildRowBounds",
      (ins "::mlir::OpBuilder &":$b, "::mlir::Location":$loc,
           "::mlir::Value":$p, "::mlir::Value":$numKeys),
      "", "return {};">,
    InterfaceMethod<[{
        The inclusive bounds [lo, hi] of query position `p`, clamped to
        [0, numKeys - 1], as IR; null values for non-interval patterns.
      }], "std::pair<::mlir::Value, ::mlir::Value>", "buildClampedRowBounds",
      (ins "::mlir::OpBuilder &":$b, "::mlir::Location":$loc,
           "::mlir::Value":$p, "::mlir::Value":$numKeys),
      "", "return ::mlir::attn::detail::intervalBuildClampedRowBounds($_attr, b, loc, p, numKeys);">,
    InterfaceMethod<[{
        The key tiles a query tile with positions [pFirst, pLast] visits, as
        IR: the code keyRange is (one template). Null values for
        non-interval patterns.
      }], "::mlir::attn::KeyTileBounds", "buildKeyTiles",
      (ins "::mlir::OpBuilder &":$b, "::mlir::Location":$loc,
           "::mlir::Value":$pFirst, "::mlir::Value":$pLast,
           "::mlir::Value":$numKeys),
      "", "return ::mlir::attn::detail::intervalBuildKeyTiles($_attr, b, loc, pFirst, pLast, numKeys);">,
    InterfaceMethod<[{
        Whether key tile [n0, n0 + bn) of `tiles` needs no mask (i1): the
        code classifyTile's Full answer is (one template).
      }], "::mlir::Value", "buildTileIsFull",
      (ins "::mlir::OpBuilder &":$b, "::mlir::Location":$loc,
           "const ::mlir::attn::KeyTileBounds &":$tiles, "::mlir::Value":$n0,
           "int64_t":$bn),
      "", "return ::mlir::attn::detail::intervalBuildTileIsFull(b, loc, tiles, n0, bn);">,
    InterfaceMethod<[{
        Keys come in blocks of this many, the last key of each a landmark
        that stands for its block (Landmark attention): the code generators
        give every block a key tile of its own. 0 for other patterns.
      }], "int64_t", "getKeyBlock", (ins), "", "return 0;">,
    InterfaceMethod<[{
        Blocks each query retrieves by its landmark scores (top-k); 0 when
        it reads every block allowed (or the pattern has no blocks).
      }], "int64_t", "getRetrievedBlocks", (ins), "", "return 0;">,
  ];
}

#endif // ATTN_INTERFACES_TD
