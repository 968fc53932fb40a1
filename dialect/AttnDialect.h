//===- AttnDialect.h - the attn dialect, its attributes and ops -*- C++ -*-===//
// Umbrella header: include this to use anything of the attn dialect.
//===----------------------------------------------------------------------===//
#ifndef ATTN_DIALECT_ATTNDIALECT_H
#define ATTN_DIALECT_ATTNDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <cstdint>
#include <optional>

namespace mlir::attn {

/// How a (query tile, key tile) pair must be computed.
enum class TileKind {
  Skip,    ///< no allowed pair: do not visit
  Full,    ///< every pair has multiplicity 1: no mask
  Partial, ///< apply the element predicate
};

/// A half-open range of key indices [first, last).
struct KeyRange {
  int64_t first = 0;
  int64_t last = 0;
  bool empty() const { return first >= last; }
};

/// Floor division and modulo for possibly negative positions (query rows of
/// Nq > Nk sit at negative positions).
inline int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
inline int64_t floorMod(int64_t a, int64_t b) { return a - floorDiv(a, b) * b; }

/// ALiBi slopes for H heads as SPEC.md defines them (lightning's default).
void defaultLightningSlopes(int64_t numHeads, double *slopes);

/// The key tiles a query tile of an interval pattern visits, as IR: keys
/// [first, last) from the bounds of the tile's first and last query
/// (clamped to [0, numKeys)); loLast and hiFirst decide which tiles need no
/// mask. Null values for other patterns.
struct KeyTileBounds {
  Value first, last, loLast, hiFirst;
};

/// The rows one segment keeps for one head (RowsAttr::buildSegmentRows):
/// row t is start + offset + rate * t, for t < count.
struct SegmentRows {
  Value start, offset, count;
};

class PatternAttrInterface;
namespace detail {
// Interface defaults for interval patterns, derived from rowBounds.
int64_t intervalMultiplicity(PatternAttrInterface attr, int64_t p, int64_t j,
                             int64_t numKeys);
TileKind intervalClassifyTile(PatternAttrInterface attr, int64_t p0,
                              int64_t p1, int64_t n0, int64_t n1,
                              int64_t numKeys);
KeyRange intervalKeyRange(PatternAttrInterface attr, int64_t p0, int64_t p1,
                          int64_t numKeys);
// The same, as IR (the code the tilers generate): one template with the
// integer versions above.
std::pair<Value, Value> intervalBuildClampedRowBounds(PatternAttrInterface attr,
                                                      OpBuilder &b,
                                                      Location loc, Value p,
                                                      Value numKeys);
KeyTileBounds intervalBuildKeyTiles(PatternAttrInterface attr, OpBuilder &b,
                                    Location loc, Value pFirst, Value pLast,
                                    Value numKeys);
Value intervalBuildTileIsFull(OpBuilder &b, Location loc,
                              const KeyTileBounds &tiles, Value n0,
                              int64_t bn);
} // namespace detail

} // namespace mlir::attn

#include "dialect/AttnDialect.h.inc"
#include "dialect/AttnEnums.h.inc"
#include "dialect/AttnInterfaces.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/AttnAttrs.h.inc"

#define GET_OP_CLASSES
#include "dialect/AttnOps.h.inc"

#endif // ATTN_DIALECT_ATTNDIALECT_H
