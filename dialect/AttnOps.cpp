//===- AttnOps.cpp - verifiers of the attn operations ---------------------===//
// Shape, dtype and parameter rules of SPEC.md, each diagnostic naming the
// operand or parameter at fault.
//===----------------------------------------------------------------------===//
#include "dialect/AttnDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;

#define GET_OP_CLASSES
#include "dialect/AttnOps.cpp.inc"

namespace {
/// Checks shared by the ops: ranks, positive static sizes, equal dims.
struct ShapeChecker {
  Operation *op;

  MemRefType type(Value v) { return cast<MemRefType>(v.getType()); }

  LogicalResult rank(Value v, StringRef name, int64_t rank,
                     StringRef layout) {
    MemRefType t = type(v);
    if (t.getRank() != rank)
      return op->emitOpError() << "operand '" << name << "' must have rank "
                               << rank << " (" << layout << "), got rank "
                               << t.getRank();
    for (int64_t d = 0; d < rank; ++d)
      if (!ShapedType::isDynamic(t.getDimSize(d)) && t.getDimSize(d) <= 0)
        return op->emitOpError() << "operand '" << name << "' dimension " << d
                                 << " must be positive, got "
                                 << t.getDimSize(d);
    return success();
  }

  /// Dims that must agree when both are static.
  LogicalResult same(Value a, StringRef aName, int64_t aDim, Value b,
                     StringRef bName, int64_t bDim, StringRef what) {
    int64_t x = type(a).getDimSize(aDim), y = type(b).getDimSize(bDim);
    if (!ShapedType::isDynamic(x) && !ShapedType::isDynamic(y) && x != y)
      return op->emitOpError()
             << what << " mismatch: '" << aName << "' has " << x << " but '"
             << bName << "' has " << y;
    return success();
  }

  /// H % Hk == 0 when both are static (Hk: dimension `kvDim` of k).
  LogicalResult gqa(Value q, Value k, unsigned kvDim = 1) {
    int64_t h = type(q).getDimSize(1), hk = type(k).getDimSize(kvDim);
    if (!ShapedType::isDynamic(h) && !ShapedType::isDynamic(hk) && h % hk != 0)
      return op->emitOpError() << "number of query heads H = " << h
                               << " must be a multiple of the number of kv "
                                  "heads Hk = "
                               << hk;
    return success();
  }

  LogicalResult inputTypes(Value q, Value k, Value v) {
    Type e = type(q).getElementType();
    if (!e.isF32() && !e.isF16() && !e.isBF16())
      return op->emitOpError() << "operand 'q' element type must be f32, f16 "
                                  "or bf16, got "
                               << e;
    if (type(k).getElementType() != e || type(v).getElementType() != e)
      return op->emitOpError() << "operands 'q', 'k' and 'v' must have the "
                                  "same element type, got "
                               << e << ", " << type(k).getElementType()
                               << " and " << type(v).getElementType();
    return success();
  }

  LogicalResult outputType(Value out, StringRef name, Type input) {
    Type e = type(out).getElementType();
    if (e != input && !e.isF32())
      return op->emitOpError() << "operand '" << name
                               << "' element type must be the input type "
                               << input << " or f32, got " << e;
    return success();
  }

  LogicalResult i32(Value v, StringRef name) {
    if (!type(v).getElementType().isSignlessInteger(32))
      return op->emitOpError() << "operand '" << name
                               << "' element type must be i32, got "
                               << type(v).getElementType();
    return success();
  }

  LogicalResult f32(Value v, StringRef name) {
    if (!type(v).getElementType().isF32())
      return op->emitOpError() << "operand '" << name
                               << "' element type must be f32, got "
                               << type(v).getElementType();
    return success();
  }

  LogicalResult scale(std::optional<APFloat> s) {
    if (s && !s->isFinite())
      return op->emitOpError() << "'scale' must be finite";
    return success();
  }
};
} // namespace

LogicalResult AttentionOp::verify() {
  ShapeChecker c{getOperation()};
  Value q = getQ(), k = getK(), v = getV(), o = getOut();
  if (bool(getBlockTable()) != bool(getKvLens()))
    return emitOpError() << "a paged cache takes both 'block_table' and "
                            "'kv_lens'";
  bool paged = isPaged();
  unsigned hd = kvHeadDim();
  if (failed(c.rank(q, "q", 4, "[B, H, Nq, D]")) ||
      failed(c.rank(k, "k", 4,
                    paged ? "[pages, page size, Hk, D]" : "[B, Hk, Nk, D]")) ||
      failed(c.rank(v, "v", 4,
                    paged ? "[pages, page size, Hk, Dv]" : "[B, Hk, Nk, Dv]")) ||
      failed(c.rank(o, "out", 4, "[B, H, Nq, Dv]")))
    return failure();
  if (failed(c.inputTypes(q, k, v)) ||
      failed(c.outputType(o, "out", c.type(q).getElementType())))
    return failure();
  if (failed(c.same(q, "q", 0, o, "out", 0, "batch size B")) ||
      failed(c.same(k, "k", hd, v, "v", hd, "kv heads Hk")) ||
      failed(c.same(q, "q", 1, o, "out", 1, "query heads H")) ||
      failed(c.same(q, "q", 2, o, "out", 2, "query length Nq")) ||
      failed(c.same(q, "q", 3, k, "k", 3, "head dim D")) ||
      failed(c.same(v, "v", 3, o, "out", 3, "value head dim Dv")) ||
      failed(c.gqa(q, k, hd)))
    return failure();
  if (!paged &&
      (failed(c.same(q, "q", 0, k, "k", 0, "batch size B")) ||
       failed(c.same(q, "q", 0, v, "v", 0, "batch size B")) ||
       failed(c.same(k, "k", 2, v, "v", 2, "key length Nk"))))
    return failure();
  if (paged) {
    Value table = getBlockTable(), lens = getKvLens();
    if (failed(c.same(k, "k", 0, v, "v", 0, "number of pages")) ||
        failed(c.same(k, "k", 1, v, "v", 1, "page size")) ||
        failed(c.rank(table, "block_table", 2, "[B, pages per sequence]")) ||
        failed(c.rank(lens, "kv_lens", 1, "[B]")) ||
        failed(c.i32(table, "block_table")) || failed(c.i32(lens, "kv_lens")) ||
        failed(c.same(q, "q", 0, table, "block_table", 0, "batch size B")) ||
        failed(c.same(q, "q", 0, lens, "kv_lens", 0, "batch size B")))
      return failure();
    int64_t lo, hi;
    if (getRows() || getAccumulate() || !getPattern().rowBounds(0, 1, lo, hi))
      return emitOpError()
             << "a paged cache ('paged') needs an interval pattern (full, "
                "causal, sliding_window or block_causal) without 'rows' or "
                "'accumulate', got "
             << getPattern();
  }
  if (Value lse = getLse()) {
    if (failed(c.rank(lse, "lse", 3, "[B, H, Nq]")) ||
        failed(c.f32(lse, "lse")) ||
        failed(c.same(q, "q", 0, lse, "lse", 0, "batch size B")) ||
        failed(c.same(q, "q", 1, lse, "lse", 1, "query heads H")) ||
        failed(c.same(q, "q", 2, lse, "lse", 2, "query length Nq")))
      return failure();
  }
  if (failed(c.scale(getScale())))
    return failure();
  if (isa<DilatedAttr>(getPattern()))
    if (failed(c.same(q, "q", 2, k, "k", 2,
                      "dilated attention needs Nq == Nk; query/key length")))
      return failure();
  if (getRows()) {
    if (failed(c.same(q, "q", 2, k, "k", 2,
                      "strided rows need Nq == Nk; query/key length")))
      return failure();
    int64_t lo, hi;
    if (!getPattern().rowBounds(0, 1, lo, hi))
      return emitOpError() << "'rows' needs an interval pattern (full, "
                              "causal, sliding_window or block_causal), got "
                           << getPattern();
  }
  if (getAccumulate() && !getLse())
    return emitOpError() << "'accumulate' needs an lse operand (the results "
                            "merge through it)";
  return success();
}

std::optional<double> AttentionOp::getEffectiveScale() {
  if (std::optional<APFloat> s = getScale())
    return s->convertToDouble();
  int64_t d = cast<MemRefType>(getQ().getType()).getDimSize(3);
  if (ShapedType::isDynamic(d))
    return std::nullopt;
  return 1.0 / std::sqrt(double(d));
}

LogicalResult LightningOp::verify() {
  ShapeChecker c{getOperation()};
  Value q = getQ(), k = getK(), v = getV(), o = getOut();
  if (failed(c.rank(q, "q", 4, "[B, H, N, D]")) ||
      failed(c.rank(k, "k", 4, "[B, Hk, N, D]")) ||
      failed(c.rank(v, "v", 4, "[B, Hk, N, Dv]")) ||
      failed(c.rank(o, "out", 4, "[B, H, N, Dv]")))
    return failure();
  if (failed(c.inputTypes(q, k, v)) ||
      failed(c.outputType(o, "out", c.type(q).getElementType())))
    return failure();
  if (failed(c.same(q, "q", 0, k, "k", 0, "batch size B")) ||
      failed(c.same(q, "q", 0, v, "v", 0, "batch size B")) ||
      failed(c.same(q, "q", 0, o, "out", 0, "batch size B")) ||
      failed(c.same(k, "k", 1, v, "v", 1, "kv heads Hk")) ||
      failed(c.same(q, "q", 1, o, "out", 1, "query heads H")) ||
      failed(c.same(q, "q", 2, k, "k", 2,
                    "lightning attention is causal over one sequence; length "
                    "N")) ||
      failed(c.same(k, "k", 2, v, "v", 2, "key length N")) ||
      failed(c.same(q, "q", 2, o, "out", 2, "query length N")) ||
      failed(c.same(q, "q", 3, k, "k", 3, "head dim D")) ||
      failed(c.same(v, "v", 3, o, "out", 3, "value head dim Dv")) ||
      failed(c.gqa(q, k)))
    return failure();
  if (Value s = getSlopes()) {
    if (failed(c.rank(s, "slopes", 1, "[H]")) || failed(c.f32(s, "slopes")) ||
        failed(c.same(s, "slopes", 0, q, "q", 1,
                      "slopes length must equal the number of query heads; "
                      "length")))
      return failure();
  }
  for (auto [state, name] : {std::pair(getStateIn(), "state_in"),
                             std::pair(getStateOut(), "state_out")}) {
    if (!state)
      continue;
    if (failed(c.rank(state, name, 4, "[B, H, D, Dv]")) ||
        failed(c.f32(state, name)) ||
        failed(c.same(state, name, 0, q, "q", 0, "batch size B")) ||
        failed(c.same(state, name, 1, q, "q", 1, "query heads H")) ||
        failed(c.same(state, name, 2, q, "q", 3, "head dim D")) ||
        failed(c.same(state, name, 3, v, "v", 3, "value head dim Dv")))
      return failure();
  }
  return c.scale(getScale());
}

LogicalResult ClearOp::verify() {
  ShapeChecker c{getOperation()};
  Value o = getOut(), l = getLse();
  if (failed(c.rank(o, "out", 4, "[B, H, Nq, Dv]")) ||
      failed(c.rank(l, "lse", 3, "[B, H, Nq]")) || failed(c.f32(l, "lse")))
    return failure();
  for (int64_t d = 0; d < 3; ++d)
    if (failed(c.same(o, "out", d, l, "lse", d, "shape")))
      return failure();
  Type e = c.type(o).getElementType();
  if (!e.isF32() && !e.isF16() && !e.isBF16())
    return emitOpError() << "operand 'out' element type must be f32, f16 or "
                            "bf16, got "
                         << e;
  return success();
}
