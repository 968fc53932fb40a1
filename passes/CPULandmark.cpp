//===- CPULandmark.cpp - landmark tiles on the CPU ------------------------===//
// Landmark attention as one softmax over adjusted scores, and top-k
// retrieval chosen per query in a first pass over the landmarks.
//===----------------------------------------------------------------------===//
#include "passes/CPUCodegen.h"

using namespace mlir;
using namespace mlir::attn;

namespace mlir::attn::cpucg {

/// Landmark attention as one softmax over adjusted scores. For a query whose
/// block comes later, an earlier block is one top-level member with score
/// s(landmark) spread over the block's other keys by their block-local
/// softmax: key j gets s_j - lse_block + s(landmark), so the block's weights
/// sum to e^s(landmark). In the query's own block, keys j <= p other than
/// the landmark keep their score. Everything else is -inf.
/// The scores of the queries of lane vector i against key row `key`, with
/// one fixed order of operations: top-k selection compares these values for
/// equality between its two passes.
Value TileCodegen::landmarkScore(const Scratch &s, const RowView &k,
                                 Value key, Value i) {
  Value zero = e.splat(e.f32(0), vec);
  return e.forLoop(e.idx(0), e.idx(d), e.idx(1), {zero},
                   [&](Value c, ValueRange acc) -> SmallVector<Value> {
                     Value kv = e.splat(e.toF32(k.load(e, key, c)), vec);
                     return {vector::FMAOp::create(
                         e.b, e.loc, kv, e.vload(vec, s.qT, {c, i}), acc[0])};
                   })[0];
}

/// Top-k retrieval, first pass: per query, the k largest landmark scores of
/// its earlier blocks, kept sorted by insertion (a later block displaces an
/// entry only when strictly larger, so ties go to the earlier block), then
/// the k-th score and how many blocks scoring exactly that are in the top k.
void TileCodegen::emitTopkSelection(const Scratch &s, const RowView &k,
                                    Value last) {
  int64_t w = opt.vectorWidth, lb = landmarkBlock;
  Value ninf = e.splat(negInf(), vec);
  e.forLoop(0, opt.blockM, w, [&](Value i) {
    for (int64_t j = 0; j < landmarkTopk; ++j)
      e.vstore(ninf, s.best, {e.idx(j), i});
  });
  e.forLoop(e.idx(0), last, e.idx(lb), [&](Value n0) {
    Value blockEnd = e.splat(e.toI32(e.add(n0, e.idx(lb))), ivec);
    e.forLoop(0, opt.blockM, w, [&](Value i) {
      Value own = e.vload(ivec, s.hi, {i});
      Value earlier = e.cmp(arith::CmpIPredicate::sle, blockEnd, own);
      Value score = landmarkScore(s, k, e.add(n0, e.idx(lb - 1)), i);
      Value cand = e.select(earlier, score, ninf);
      for (int64_t j = 0; j < landmarkTopk; ++j) {
        Value cur = e.vload(vec, s.best, {e.idx(j), i});
        Value gt = e.cmpf(arith::CmpFPredicate::OGT, cand, cur);
        e.vstore(e.select(gt, cand, cur), s.best, {e.idx(j), i});
        cand = e.select(gt, cur, cand);
      }
    });
  });
  Value one = e.splat(arith::ConstantOp::create(e.b, e.loc,
                                                e.b.getI32IntegerAttr(1)),
                      ivec);
  Value zeroI = e.splat(arith::ConstantOp::create(e.b, e.loc,
                                                  e.b.getI32IntegerAttr(0)),
                        ivec);
  e.forLoop(0, opt.blockM, w, [&](Value i) {
    Value thr = e.vload(vec, s.best, {e.idx(landmarkTopk - 1), i});
    Value ties = zeroI;
    for (int64_t j = 0; j < landmarkTopk; ++j) {
      Value eq = e.cmpf(arith::CmpFPredicate::OEQ,
                        e.vload(vec, s.best, {e.idx(j), i}), thr);
      ties = arith::AddIOp::create(e.b, e.loc, ties, e.select(eq, one, zeroI));
    }
    e.vstore(thr, s.threshold, {i});
    e.vstore(ties, s.tiesAllowed, {i});
    e.vstore(zeroI, s.tiesTaken, {i});
  });
}

/// Top-k retrieval, second pass, once per block: which queries retrieve the
/// earlier block at n0 (score above their k-th best, or equal to it while
/// tie slots remain, earlier blocks first). Returns whether any query of
/// the tile retrieves it or has its own block there.
Value TileCodegen::emitTopkKeep(const Scratch &s, const RowView &k, Value n0) {
  int64_t w = opt.vectorWidth, lb = landmarkBlock;
  auto i32 = [&](int32_t c) {
    return e.splat(arith::ConstantOp::create(e.b, e.loc,
                                             e.b.getI32IntegerAttr(c)),
                   ivec);
  };
  Value n0v = e.splat(e.toI32(n0), ivec);
  Value blockEnd = e.splat(e.toI32(e.add(n0, e.idx(lb))), ivec);
  Value none = arith::ConstantOp::create(e.b, e.loc, e.b.getBoolAttr(false));
  return e.forLoop(
      e.idx(0), e.idx(opt.blockM), e.idx(w), {none},
      [&](Value i, ValueRange any) -> SmallVector<Value> {
        Value own = e.vload(ivec, s.hi, {i});
        Value earlier = e.cmp(arith::CmpIPredicate::sle, blockEnd, own);
        Value score = landmarkScore(s, k, e.add(n0, e.idx(lb - 1)), i);
        Value thr = e.vload(vec, s.threshold, {i});
        Value taken = e.vload(ivec, s.tiesTaken, {i});
        Value tie = arith::AndIOp::create(
            e.b, e.loc, e.cmpf(arith::CmpFPredicate::OEQ, score, thr),
            e.cmp(arith::CmpIPredicate::slt, taken,
                  e.vload(ivec, s.tiesAllowed, {i})));
        tie = arith::AndIOp::create(e.b, e.loc, tie, earlier);
        e.vstore(e.select(tie, arith::AddIOp::create(e.b, e.loc, taken, i32(1)),
                          taken),
                 s.tiesTaken, {i});
        Value keep = arith::AndIOp::create(
            e.b, e.loc, earlier,
            arith::OrIOp::create(
                e.b, e.loc, e.cmpf(arith::CmpFPredicate::OGT, score, thr),
                tie));
        e.vstore(e.select(keep, i32(1), i32(0)), s.keep, {i});
        Value visit = arith::OrIOp::create(
            e.b, e.loc, keep, e.cmp(arith::CmpIPredicate::eq, n0v, own));
        Value anyHere = vector::ReductionOp::create(
            e.b, e.loc, vector::CombiningKind::OR, visit);
        return {arith::OrIOp::create(e.b, e.loc, any[0], anyHere)};
      })[0];
}

void TileCodegen::emitLandmarkScores(const Scratch &s, Value n0) {
  int64_t w = opt.vectorWidth, lb = landmarkBlock;
  Value ninf = e.splat(negInf(), vec);
  Value n0v = e.splat(e.toI32(n0), ivec);
  Value blockEnd = e.splat(e.toI32(e.add(n0, e.idx(lb))), ivec);
  e.forLoop(0, opt.blockM, w, [&](Value i) {
    Value pos = e.vload(ivec, s.lo, {i});
    Value own = e.vload(ivec, s.hi, {i});
    Value earlier = e.cmp(arith::CmpIPredicate::sle, blockEnd, own);
    Value isOwn = e.cmp(arith::CmpIPredicate::eq, n0v, own);
    if (landmarkTopk) // retrieved by this query (emitTopkKeep)
      earlier = e.cmp(arith::CmpIPredicate::ne, e.vload(ivec, s.keep, {i}),
                      e.splat(arith::ConstantOp::create(
                                  e.b, e.loc, e.b.getI32IntegerAttr(0)),
                              ivec));
    // Block-local log2-sum-exp over the non-landmark keys.
    Value mx = e.forLoop(e.idx(0), e.idx(lb - 1), e.idx(1), {ninf},
                         [&](Value n, ValueRange m) -> SmallVector<Value> {
                           Value sc = e.vload(vec, s.sT, {n, i});
                           Value gt = e.cmpf(arith::CmpFPredicate::OGT, sc,
                                             m[0]);
                           return {e.select(gt, sc, m[0])};
                         })[0];
    Value zero = e.splat(e.f32(0), vec);
    Value sum = e.forLoop(e.idx(0), e.idx(lb - 1), e.idx(1), {zero},
                          [&](Value n, ValueRange acc) -> SmallVector<Value> {
                            Value sc = e.vload(vec, s.sT, {n, i});
                            return {arith::AddFOp::create(
                                e.b, e.loc, acc[0],
                                exp2(arith::SubFOp::create(e.b, e.loc, sc,
                                                           mx)))};
                          })[0];
    Value lse2 = arith::AddFOp::create(e.b, e.loc, mx,
                                       math::Log2Op::create(e.b, e.loc, sum));
    Value landmark = e.vload(vec, s.sT, {e.idx(lb - 1), i});
    Value shiftV = arith::SubFOp::create(e.b, e.loc, landmark, lse2);
    e.forLoop(0, opt.blockN, 1, [&](Value n) {
      Value key = e.splat(e.toI32(e.add(n0, n)), ivec);
      Value inBlock = e.splat(e.cmp(arith::CmpIPredicate::slt, n,
                                    e.idx(lb - 1)),
                              VectorType::get({w}, e.b.getI1Type()));
      Value ownOk = arith::AndIOp::create(
          e.b, e.loc, isOwn, e.cmp(arith::CmpIPredicate::sle, key, pos));
      ownOk = arith::AndIOp::create(e.b, e.loc, ownOk, inBlock);
      Value earlierOk = arith::AndIOp::create(e.b, e.loc, earlier, inBlock);
      Value sc = e.vload(vec, s.sT, {n, i});
      Value adjusted = arith::AddFOp::create(e.b, e.loc, sc, shiftV);
      e.vstore(e.select(earlierOk, adjusted, e.select(ownOk, sc, ninf)), s.sT,
               {n, i});
    });
  });
}

} // namespace mlir::attn::cpucg
