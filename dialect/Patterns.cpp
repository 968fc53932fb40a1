//===- Patterns.cpp - pattern attributes: syntax, checks, block structure -===//
// The pattern interface of every softmax pattern of SPEC.md: the element
// multiplicity m(p, j), tile classification and the key range of a query
// tile, all analytic. Both the CPU and the GPU tilers ask these.
//===----------------------------------------------------------------------===//
#include "dialect/AttnDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace mlir::attn;

#define GET_ATTRDEF_CLASSES
#include "dialect/AttnAttrs.cpp.inc"

void AttnDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/AttnAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

/// Sizes beyond 2^40 are rejected so position arithmetic cannot overflow.
static constexpr int64_t kMaxSize = int64_t(1) << 40;
/// Most landmark blocks a query retrieves (topk); see LandmarkAttr::verify.
static constexpr int64_t kMaxLandmarkTopk = 256;

static LogicalResult checkSize(function_ref<InFlightDiagnostic()> emitError,
                               StringRef what, int64_t value) {
  if (value <= 0)
    return emitError() << what << " must be positive, got " << value;
  if (value > kMaxSize)
    return emitError() << what << " must be at most " << kMaxSize << ", got "
                       << value;
  return success();
}

static KeyRange clampRange(int64_t first, int64_t last, int64_t numKeys) {
  first = std::max<int64_t>(first, 0);
  last = std::min<int64_t>(last, numKeys);
  if (last < first)
    last = first;
  return {first, last};
}

void mlir::attn::defaultLightningSlopes(int64_t numHeads, double *slopes) {
  auto pow2Slopes = [](int64_t n, int64_t i) {
    return std::pow(2.0, -8.0 * double(i + 1) / double(n));
  };
  int64_t closest = 1;
  while (closest * 2 <= numHeads)
    closest *= 2;
  for (int64_t h = 0; h < std::min(numHeads, closest); ++h)
    slopes[h] = pow2Slopes(closest, h);
  // The remaining heads take the even-indexed slopes of twice as many heads.
  for (int64_t h = closest, i = 0; h < numHeads; ++h, i += 2)
    slopes[h] = pow2Slopes(2 * closest, i);
}

//===----------------------------------------------------------------------===//
// Interval patterns: one formula per pattern for lo(p) and hi(p), written once
// over an integer domain that is either int64_t (the analytic interface) or
// index values in IR (the generated masks and key ranges).
//===----------------------------------------------------------------------===//

namespace {
/// An index value under construction, with the arithmetic the bounds use.
struct IrInt {
  OpBuilder *b;
  Location loc;
  Value v;
  IrInt make(Value x) const { return {b, loc, x}; }
};
IrInt lit(IrInt like, int64_t c) {
  return like.make(arith::ConstantIndexOp::create(*like.b, like.loc, c));
}
int64_t lit(int64_t, int64_t c) { return c; }
IrInt operator-(IrInt x, IrInt y) {
  return x.make(arith::SubIOp::create(*x.b, x.loc, x.v, y.v));
}
IrInt operator+(IrInt x, IrInt y) {
  return x.make(arith::AddIOp::create(*x.b, x.loc, x.v, y.v));
}
IrInt min(IrInt x, IrInt y) {
  return x.make(arith::MinSIOp::create(*x.b, x.loc, x.v, y.v));
}
IrInt max(IrInt x, IrInt y) {
  return x.make(arith::MaxSIOp::create(*x.b, x.loc, x.v, y.v));
}
int64_t min(int64_t x, int64_t y) { return std::min(x, y); }
int64_t max(int64_t x, int64_t y) { return std::max(x, y); }
/// x >= y && z <= w, as i1 or bool.
Value geAndLe(IrInt x, IrInt y, IrInt z, IrInt w) {
  OpBuilder &b = *x.b;
  return arith::AndIOp::create(
      b, x.loc,
      arith::CmpIOp::create(b, x.loc, arith::CmpIPredicate::sge, x.v, y.v),
      arith::CmpIOp::create(b, x.loc, arith::CmpIPredicate::sle, z.v, w.v));
}
bool geAndLe(int64_t x, int64_t y, int64_t z, int64_t w) {
  return x >= y && z <= w;
}
IrInt operator*(IrInt x, int64_t c) {
  return x.make(arith::MulIOp::create(*x.b, x.loc, x.v, lit(x, c).v));
}
IrInt floorDivC(IrInt x, int64_t c) {
  return x.make(arith::FloorDivSIOp::create(*x.b, x.loc, x.v, lit(x, c).v));
}
int64_t floorDivC(int64_t x, int64_t c) { return floorDiv(x, c); }

template <typename I> std::pair<I, I> fullBounds(I, I numKeys) {
  return {lit(numKeys, 0), numKeys - lit(numKeys, 1)};
}
template <typename I> std::pair<I, I> causalBounds(I p, I) {
  return {lit(p, 0), p};
}
template <typename I> std::pair<I, I> windowBounds(I p, I, int64_t w) {
  return {p - lit(p, w), p};
}
/// Own block causally plus the whole previous block.
template <typename I> std::pair<I, I> blockCausalBounds(I p, I, int64_t b) {
  return {(floorDivC(p, b) - lit(p, 1)) * b, p};
}

std::pair<Value, Value> toValues(std::pair<IrInt, IrInt> bounds) {
  return {bounds.first.v, bounds.second.v};
}

/// Bounds of row `p` clamped to [0, numKeys - 1]; `bounds(p)` gives them
/// unclamped.
template <typename I, typename Bounds>
std::pair<I, I> clampedBounds(Bounds bounds, I p, I numKeys) {
  auto [lo, hiRaw] = bounds(p);
  I hi = min(hiRaw, numKeys - lit(numKeys, 1));
  return {max(lo, lit(lo, 0)), hi};
}

/// The key tiles of query positions [pFirst, pLast]: keys [first, last)
/// and the bounds that decide which tiles are full. lo and hi grow with p,
/// so the extremes sit at the first and the last query.
template <typename I> struct Tiles {
  I first, last, loLast, hiFirst;
};
template <typename I, typename Bounds>
Tiles<I> keyTiles(Bounds bounds, I pFirst, I pLast, I numKeys) {
  auto [first, hiFirst] = clampedBounds(bounds, pFirst, numKeys);
  auto [loLast, hiLast] = clampedBounds(bounds, pLast, numKeys);
  I last = hiLast + lit(hiLast, 1);
  return Tiles<I>{first, last, loLast, hiFirst};
}
/// Tile [n0, n0 + bn) needs no mask: every query sees every key of it.
template <typename I> auto tileIsFull(const Tiles<I> &t, I n0, int64_t bn) {
  I n1 = n0 + lit(n0, bn);
  return geAndLe(n0, t.loLast, n1 - lit(n1, 1), t.hiFirst);
}
} // namespace

int64_t mlir::attn::detail::intervalMultiplicity(PatternAttrInterface attr, int64_t p,
                                     int64_t j, int64_t numKeys) {
  int64_t lo, hi;
  if (!attr.rowBounds(p, numKeys, lo, hi))
    return 0;
  return j >= 0 && j < numKeys && j >= lo && j <= hi;
}

/// The pattern's unclamped row bounds on integers (false for non-interval
/// patterns).
static auto intBounds(PatternAttrInterface attr, int64_t numKeys, bool &ok) {
  return [attr, numKeys, &ok](int64_t p) {
    int64_t lo = 0, hi = -1;
    ok = ok && attr.rowBounds(p, numKeys, lo, hi);
    return std::pair<int64_t, int64_t>{lo, hi};
  };
}
static auto irRowBounds(PatternAttrInterface attr, IrInt numKeys) {
  return [attr, numKeys](IrInt p) {
    auto [lo, hi] = attr.buildRowBounds(*p.b, p.loc, p.v, numKeys.v);
    return std::pair<IrInt, IrInt>{p.make(lo), p.make(hi)};
  };
}

/// The key tiles of query positions [p0, p1) on integers; false for a
/// non-interval pattern.
static bool intKeyTiles(PatternAttrInterface attr, int64_t p0, int64_t p1,
                        int64_t numKeys, Tiles<int64_t> &t) {
  bool ok = true;
  t = keyTiles<int64_t>(intBounds(attr, numKeys, ok), p0, p1 - 1, numKeys);
  return ok;
}

TileKind mlir::attn::detail::intervalClassifyTile(PatternAttrInterface attr,
                                                  int64_t p0, int64_t p1,
                                                  int64_t n0, int64_t n1,
                                                  int64_t numKeys) {
  Tiles<int64_t> t;
  if (!intKeyTiles(attr, p0, p1, numKeys, t))
    return TileKind::Partial;
  if (n1 <= t.first || n0 >= t.last)
    return TileKind::Skip;
  // The generated code's test (tiles past the sequence are never full).
  if (tileIsFull<int64_t>(t, n0, n1 - n0))
    return TileKind::Full;
  return TileKind::Partial;
}

KeyRange mlir::attn::detail::intervalKeyRange(PatternAttrInterface attr,
                                              int64_t p0, int64_t p1,
                                              int64_t numKeys) {
  Tiles<int64_t> t;
  if (!intKeyTiles(attr, p0, p1, numKeys, t))
    return {0, numKeys};
  return {t.first, std::max(t.last, t.first)};
}

std::pair<Value, Value> mlir::attn::detail::intervalBuildClampedRowBounds(
    PatternAttrInterface attr, OpBuilder &b, Location loc, Value p,
    Value numKeys) {
  int64_t lo, hi;
  if (!attr.rowBounds(0, 1, lo, hi)) // not an interval pattern
    return {};
  IrInt n{&b, loc, numKeys};
  return toValues(clampedBounds(irRowBounds(attr, n), n.make(p), n));
}

KeyTileBounds mlir::attn::detail::intervalBuildKeyTiles(
    PatternAttrInterface attr, OpBuilder &b, Location loc, Value pFirst,
    Value pLast, Value numKeys) {
  int64_t lo, hi;
  if (!attr.rowBounds(0, 1, lo, hi)) // not an interval pattern
    return {};
  IrInt n{&b, loc, numKeys};
  Tiles<IrInt> t =
      keyTiles(irRowBounds(attr, n), n.make(pFirst), n.make(pLast), n);
  return {t.first.v, t.last.v, t.loLast.v, t.hiFirst.v};
}

Value mlir::attn::detail::intervalBuildTileIsFull(OpBuilder &b, Location loc,
                                                  const KeyTileBounds &tiles,
                                                  Value n0, int64_t bn) {
  IrInt x{&b, loc, n0};
  Tiles<IrInt> t{x.make(tiles.first), x.make(tiles.last),
                 x.make(tiles.loLast), x.make(tiles.hiFirst)};
  return tileIsFull(t, x, bn);
}

/// Evaluates one bounds formula on integers or on IR values.
template <typename Bounds>
static bool scalarBounds(Bounds bounds, int64_t p, int64_t numKeys,
                         int64_t &lo, int64_t &hi) {
  std::tie(lo, hi) = bounds(p, numKeys);
  return true;
}
template <typename Bounds>
static std::pair<Value, Value> irBounds(Bounds bounds, OpBuilder &b,
                                        Location loc, Value p, Value numKeys) {
  return toValues(bounds(IrInt{&b, loc, p}, IrInt{&b, loc, numKeys}));
}

bool FullAttr::rowBounds(int64_t p, int64_t n, int64_t &lo, int64_t &hi) const {
  return scalarBounds([](auto p, auto n) { return fullBounds(p, n); }, p, n,
                      lo, hi);
}
std::pair<Value, Value> FullAttr::buildRowBounds(OpBuilder &b, Location loc,
                                                 Value p, Value n) const {
  return irBounds([](auto p, auto n) { return fullBounds(p, n); }, b, loc, p,
                  n);
}
bool CausalAttr::rowBounds(int64_t p, int64_t n, int64_t &lo,
                           int64_t &hi) const {
  return scalarBounds([](auto p, auto n) { return causalBounds(p, n); }, p, n,
                      lo, hi);
}
std::pair<Value, Value> CausalAttr::buildRowBounds(OpBuilder &b, Location loc,
                                                   Value p, Value n) const {
  return irBounds([](auto p, auto n) { return causalBounds(p, n); }, b, loc,
                  p, n);
}
bool SlidingWindowAttr::rowBounds(int64_t p, int64_t n, int64_t &lo,
                                  int64_t &hi) const {
  int64_t w = getWindow();
  return scalarBounds([w](auto p, auto n) { return windowBounds(p, n, w); },
                      p, n, lo, hi);
}
std::pair<Value, Value>
SlidingWindowAttr::buildRowBounds(OpBuilder &b, Location loc, Value p,
                                  Value n) const {
  int64_t w = getWindow();
  return irBounds([w](auto p, auto n) { return windowBounds(p, n, w); }, b,
                  loc, p, n);
}
bool BlockCausalAttr::rowBounds(int64_t p, int64_t n, int64_t &lo,
                                int64_t &hi) const {
  int64_t blk = getBlock();
  return scalarBounds(
      [blk](auto p, auto n) { return blockCausalBounds(p, n, blk); }, p, n, lo,
      hi);
}
std::pair<Value, Value> BlockCausalAttr::buildRowBounds(OpBuilder &b,
                                                        Location loc, Value p,
                                                        Value n) const {
  int64_t blk = getBlock();
  return irBounds(
      [blk](auto p, auto n) { return blockCausalBounds(p, n, blk); }, b, loc,
      p, n);
}

LogicalResult
SlidingWindowAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                          int64_t window) {
  return checkSize(emitError, "sliding_window 'window'", window);
}

LogicalResult
BlockCausalAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        int64_t block) {
  return checkSize(emitError, "block_causal 'block'", block);
}

/// The parameterless patterns: `#attn.full`, `#attn.causal`; anything after
/// the name (`#attn.causal<window = 4>`) is refused rather than dropped.
template <typename A>
static Attribute parseBare(AsmParser &parser, StringRef name) {
  if (succeeded(parser.parseOptionalLess())) {
    parser.emitError(parser.getCurrentLocation(),
                     "#attn." + name + " takes no parameters");
    return {};
  }
  return A::get(parser.getContext());
}
Attribute FullAttr::parse(AsmParser &parser, Type) {
  return parseBare<FullAttr>(parser, "full");
}
Attribute CausalAttr::parse(AsmParser &parser, Type) {
  return parseBare<CausalAttr>(parser, "causal");
}
void FullAttr::print(AsmPrinter &) const {}
void CausalAttr::print(AsmPrinter &) const {}

//===----------------------------------------------------------------------===//
// dilated
//===----------------------------------------------------------------------===//

Attribute DilatedAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<int64_t> segments, rates;
  auto parseList = [&](StringRef name, SmallVectorImpl<int64_t> &out) {
    return ParseResult(failure(
        parser.parseKeyword(name) || parser.parseEqual() ||
        parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, [&] {
          return parser.parseInteger(out.emplace_back());
        })));
  };
  if (parser.parseLess() || parseList("segments", segments) ||
      parser.parseComma() || parseList("rates", rates))
    return {};
  bool causal = true;
  OffsetMode offsets = OffsetMode::interleaved;
  while (succeeded(parser.parseOptionalComma())) {
    SMLoc keyLoc = parser.getCurrentLocation();
    StringRef key, value;
    if (parser.parseKeyword(&key))
      return {};
    if (key != "causal" && key != "offsets") {
      parser.emitError(keyLoc, "unknown dilated parameter '")
          << key << "' (expected causal or offsets)";
      return {};
    }
    if (parser.parseEqual())
      return {};
    SMLoc valueLoc = parser.getCurrentLocation();
    if (parser.parseOptionalKeyword(&value))
      value = "";
    if (key == "causal") {
      if (value != "true" && value != "false") {
        parser.emitError(valueLoc, "dilated 'causal' must be true or false");
        return {};
      }
      causal = value == "true";
      continue;
    }
    std::optional<OffsetMode> mode = symbolizeOffsetMode(value);
    if (!mode) {
      parser.emitError(valueLoc,
                       "dilated 'offsets' must be interleaved or grouped");
      return {};
    }
    offsets = *mode;
  }
  if (parser.parseGreater())
    return {};
  return parser.getChecked<DilatedAttr>(loc, parser.getContext(), segments,
                                        rates, causal, offsets);
}

void DilatedAttr::print(AsmPrinter &printer) const {
  printer << "<segments = [";
  llvm::interleaveComma(getSegments(), printer);
  printer << "], rates = [";
  llvm::interleaveComma(getRates(), printer);
  printer << "]";
  if (!getCausal())
    printer << ", causal = false";
  if (getOffsets() != OffsetMode::interleaved)
    printer << ", offsets = " << stringifyOffsetMode(getOffsets());
  printer << ">";
}

LogicalResult DilatedAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                  ArrayRef<int64_t> segments,
                                  ArrayRef<int64_t> rates, bool,
                                  OffsetMode) {
  if (segments.empty())
    return emitError() << "dilated 'segments' must not be empty";
  if (segments.size() != rates.size())
    return emitError() << "dilated 'segments' and 'rates' must have the same "
                          "length, got "
                       << segments.size() << " and " << rates.size();
  for (size_t k = 0; k < segments.size(); ++k) {
    if (failed(checkSize(emitError, "dilated 'segments'", segments[k])) ||
        failed(checkSize(emitError, "dilated 'rates'", rates[k])))
      return failure();
    if (k > 0 && segments[k] <= segments[k - 1])
      return emitError() << "dilated 'segments' must be strictly increasing, "
                            "got "
                         << segments[k - 1] << " then " << segments[k];
    if (k > 0 && rates[k] < rates[k - 1])
      return emitError() << "dilated 'rates' must not decrease, got "
                         << rates[k - 1] << " then " << rates[k];
    if (segments[k] % rates[k] != 0)
      return emitError() << "dilated segment length " << segments[k]
                         << " is not a multiple of its rate " << rates[k]
                         << " (index " << k << ")";
  }
  return success();
}

int64_t DilatedAttr::offsetFor(size_t k, int64_t head, int64_t numHeads) const {
  int64_t r = getRates()[k];
  if (getOffsets() == OffsetMode::interleaved)
    return head % r;
  int64_t headsPerOffset = (numHeads + r - 1) / r;
  return head / headsPerOffset;
}

int64_t DilatedAttr::multiplicity(int64_t p, int64_t j, int64_t head,
                                  int64_t numHeads, int64_t numKeys) const {
  if (p < 0 || p >= numKeys || j < 0 || j >= numKeys)
    return 0;
  if (getCausal() && j > p)
    return 0;
  int64_t m = 0;
  for (size_t k = 0; k < getSegments().size(); ++k) {
    int64_t w = getSegments()[k], r = getRates()[k];
    int64_t o = offsetFor(k, head, numHeads);
    m += (p / w == j / w) && (p % w) % r == o && (j % w) % r == o;
  }
  return m;
}

/// Whether pattern k has an allowed pair among query positions [p0, p1) and
/// keys [n0, n1). Because w % r == 0, t is selected iff t mod r == o.
static bool dilatedPatternHits(int64_t w, int64_t r, int64_t o, bool causal,
                               int64_t p0, int64_t p1, int64_t n0, int64_t n1) {
  int64_t sFirst = std::max(p0 / w, n0 / w);
  int64_t sLast = std::min((p1 - 1) / w, (n1 - 1) / w);
  for (int64_t s = sFirst; s <= sLast; ++s) {
    int64_t qa = std::max(p0, s * w), qb = std::min(p1 - 1, s * w + w - 1);
    int64_t ka = std::max(n0, s * w), kb = std::min(n1 - 1, s * w + w - 1);
    int64_t jMin = ka + floorMod(o - ka, r); // first selected key
    int64_t pMax = qb - floorMod(qb - o, r); // last selected query
    if (jMin <= kb && pMax >= qa && (!causal || jMin <= pMax))
      return true;
  }
  return false;
}

TileKind DilatedAttr::classifyTile(int64_t p0, int64_t p1, int64_t n0,
                                   int64_t n1, int64_t head, int64_t numHeads,
                                   int64_t numKeys) const {
  p0 = std::max<int64_t>(p0, 0);
  p1 = std::min(p1, numKeys);
  n1 = std::min(n1, numKeys);
  if (p0 >= p1 || n0 >= n1)
    return TileKind::Skip;
  unsigned hits = 0;
  for (size_t k = 0; k < getSegments().size(); ++k)
    hits += dilatedPatternHits(getSegments()[k], getRates()[k],
                               offsetFor(k, head, numHeads), getCausal(), p0,
                               p1, n0, n1);
  if (hits == 0)
    return TileKind::Skip;
  // A single dense pattern within one segment needs no mask.
  if (getSegments().size() == 1 && getRates()[0] == 1) {
    int64_t w = getSegments()[0];
    bool oneSegment = p0 / w == (p1 - 1) / w && n0 / w == p0 / w &&
                      (n1 - 1) / w == p0 / w;
    if (oneSegment && (!getCausal() || n1 - 1 <= p0))
      return TileKind::Full;
  }
  return TileKind::Partial;
}

KeyRange DilatedAttr::keyRange(int64_t p0, int64_t p1, int64_t, int64_t,
                               int64_t numKeys) const {
  p0 = std::max<int64_t>(p0, 0);
  p1 = std::min(p1, numKeys);
  if (p0 >= p1)
    return {0, 0};
  int64_t first = numKeys, last = 0;
  for (int64_t w : getSegments()) {
    first = std::min(first, (p0 / w) * w);
    last = std::max(last, getCausal() ? p1 : ((p1 - 1) / w + 1) * w);
  }
  return clampRange(first, last, numKeys);
}

//===----------------------------------------------------------------------===//
// landmark
//===----------------------------------------------------------------------===//

Attribute LandmarkAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  int64_t block = 0, topk = 0;
  if (parser.parseLess() || parser.parseKeyword("block") ||
      parser.parseEqual() || parser.parseInteger(block))
    return {};
  if (succeeded(parser.parseOptionalComma())) {
    SMLoc valueLoc;
    if (parser.parseKeyword("topk") || parser.parseEqual())
      return {};
    valueLoc = parser.getCurrentLocation();
    if (parser.parseInteger(topk))
      return {};
    if (topk < 1) {
      parser.emitError(valueLoc, "landmark 'topk' must be at least 1, got ")
          << topk;
      return {};
    }
  }
  if (parser.parseGreater())
    return {};
  return parser.getChecked<LandmarkAttr>(loc, parser.getContext(), block, topk);
}

void LandmarkAttr::print(AsmPrinter &printer) const {
  printer << "<block = " << getBlock();
  if (getTopk() > 0)
    printer << ", topk = " << getTopk();
  printer << ">";
}

LogicalResult
LandmarkAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                     int64_t block, int64_t topk) {
  if (block < 2)
    return emitError() << "landmark 'block' must be at least 2 (one key and "
                          "its landmark), got "
                       << block;
  if (block > kMaxSize)
    return emitError() << "landmark 'block' must be at most " << kMaxSize
                       << ", got " << block;
  if (topk < 0)
    return emitError() << "landmark 'topk' must be at least 1, got " << topk;
  // The CPU code generator unrolls its per-query selection over topk: past
  // 256 compile time and code size explode (1024: 8 s, 4000: 48 s).
  if (topk > kMaxLandmarkTopk)
    return emitError() << "landmark 'topk' must be at most " << kMaxLandmarkTopk
                       << " (the retrieval is unrolled at compile time), got "
                       << topk;
  return success();
}

int64_t LandmarkAttr::getKeyBlock() const { return getBlock(); }

int64_t LandmarkAttr::getRetrievedBlocks() const { return getTopk(); }

int64_t LandmarkAttr::multiplicity(int64_t p, int64_t j, int64_t, int64_t,
                                   int64_t numKeys) const {
  int64_t b = getBlock();
  if (p < 0 || j < 0 || j >= numKeys || j > p)
    return 0;
  if (floorDiv(j, b) < floorDiv(p, b))
    return 1; // earlier block: landmark or block-local softmax member
  return j % b != b - 1; // own block, never its own landmark
}

TileKind LandmarkAttr::classifyTile(int64_t p0, int64_t p1, int64_t n0,
                                    int64_t n1, int64_t, int64_t,
                                    int64_t) const {
  if (p1 <= 0 || n0 > p1 - 1)
    return TileKind::Skip;
  // Keys all in blocks before the first query's block: read whole.
  if (p0 >= 0 && n1 <= floorDiv(p0, getBlock()) * getBlock())
    return TileKind::Full;
  return TileKind::Partial;
}

KeyRange LandmarkAttr::keyRange(int64_t, int64_t p1, int64_t, int64_t,
                                int64_t numKeys) const {
  return clampRange(0, p1, numKeys);
}
