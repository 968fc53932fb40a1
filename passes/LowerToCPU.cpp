//===- LowerToCPU.cpp - attn ops to tiled vector micro-kernels ------------===//
// The CPU code generator: FlashAttention-style tiling with the online softmax
// in transposed form (one vector lane per query), register-blocked
// broadcast-FMA micro-kernels, key tiles chosen by the pattern interface.
//===----------------------------------------------------------------------===//
#include "dialect/AttnDialect.h"
#include "passes/Emitter.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERTOCPU
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Rows of a 4-D [B, H, N, X] operand seen by one work item: physical row of
/// local row t is base + stride * t (stride > 1 for dilated segments).
struct RowView {
  Value mem, batch, head, base, stride;
  Value row(Emitter &e, Value t) const {
    return e.add(base, e.mul(stride, t));
  }
  /// Element (t, col) of a 4-D operand, or element t of 3-D LSE rows when
  /// col is null.
  Value load(Emitter &e, Value t, Value col) const {
    if (!col)
      return e.load(mem, {batch, head, row(e, t)});
    return e.load(mem, {batch, head, row(e, t), col});
  }
  void store(Emitter &e, Value v, Value t, Value col) const {
    if (!col)
      return e.store(v, mem, {batch, head, row(e, t)});
    e.store(v, mem, {batch, head, row(e, t), col});
  }
};

/// Per-thread scratch of the tile code, allocated once per run function.
struct Scratch {
  Value qT;    // [D][BM] f32: queries of the tile, transposed and scaled
  Value sT;    // [BN][BM] f32: scores, then probabilities, transposed
  Value oT;    // [Dv][BM] f32: unnormalised output accumulator, transposed
  Value m, l;  // [BM] f32: running row max and row sum
  Value alpha; // [BM] f32: rescale factor of the current key tile
  Value lo, hi; // [BM] i32: first and last allowed key of each query row
  // Landmark top-k only: the k best landmark scores per query (sorted,
  // [k][BM]), the k-th of them, how many blocks scoring exactly that may
  // still be taken, and how many were.
  Value best, threshold, tiesAllowed, tiesTaken;
  Value keep; // [BM] i32: the current earlier block is retrieved
};

/// How a tile's result reaches the output.
enum class Epilogue { Store, Merge };

class TileCodegen {
public:
  TileCodegen(OpBuilder &b, Location loc, const CPUOptions &opt, int64_t d,
              int64_t dv, Type outType, double scale)
      : e{b, loc}, opt(opt), d(d), dv(dv), outType(outType), scale(scale) {
    f32 = b.getF32Type();
    vec = VectorType::get({opt.vectorWidth}, f32);
    ivec = VectorType::get({opt.vectorWidth}, b.getI32Type());
    qBlock = 2 * opt.vectorWidth;
  }

  /// Landmark attention: key tiles are the landmark blocks of this size.
  void setLandmarkBlock(int64_t block, int64_t topk) {
    landmarkBlock = block;
    landmarkTopk = topk;
  }

  Scratch allocScratch() {
    auto alloc = [&](ArrayRef<int64_t> shape, Type t) -> Value {
      auto type = MemRefType::get(shape, t);
      return memref::AllocaOp::create(e.b, e.loc, type, ValueRange{},
                                      e.b.getI64IntegerAttr(64));
    };
    Scratch s;
    s.qT = alloc({d, opt.blockM}, f32);
    s.sT = alloc({opt.blockN, opt.blockM}, f32);
    s.oT = alloc({dv, opt.blockM}, f32);
    s.m = alloc({opt.blockM}, f32);
    s.l = alloc({opt.blockM}, f32);
    s.alpha = alloc({opt.blockM}, f32);
    s.lo = alloc({opt.blockM}, e.b.getI32Type());
    s.hi = alloc({opt.blockM}, e.b.getI32Type());
    if (landmarkTopk) {
      s.best = alloc({landmarkTopk, opt.blockM}, f32);
      s.threshold = alloc({opt.blockM}, f32);
      s.tiesAllowed = alloc({opt.blockM}, e.b.getI32Type());
      s.tiesTaken = alloc({opt.blockM}, e.b.getI32Type());
      s.keep = alloc({opt.blockM}, e.b.getI32Type());
    }
    return s;
  }

  /// One query tile `qt` of local length nq against nk local keys, with the
  /// interval pattern giving each local query position its key bounds.
  void emitTile(const Scratch &s, PatternAttrInterface pattern,
                const RowView &q, const RowView &k, const RowView &v,
                const RowView &o, std::optional<RowView> lse, Value qt,
                Value nq, Value nk, Epilogue epilogue);

private:
  Emitter e;
  const CPUOptions &opt;
  int64_t d, dv;
  Type outType, f32;
  double scale;
  VectorType vec, ivec;
  int64_t qBlock;
  int64_t landmarkBlock = 0, landmarkTopk = 0;

  Value negInf() { return e.f32(-std::numeric_limits<double>::infinity()); }
  Value exp2(Value x);
  void emitScores(const Scratch &s, const RowView &k, Value n0, Value nk);
  void emitMask(const Scratch &s, Value n0);
  void emitLandmarkScores(const Scratch &s, Value n0);
  Value landmarkScore(const Scratch &s, const RowView &k, Value key, Value i);
  void emitTopkSelection(const Scratch &s, const RowView &k, Value last);
  Value emitTopkKeep(const Scratch &s, const RowView &k, Value n0);
  void emitSoftmax(const Scratch &s);
  void emitValues(const Scratch &s, const RowView &v, Value n0, Value nk);
  /// nValid: keys of the tile that exist (the rest have probability 0).
  void emitValueBlock(const Scratch &s, const RowView &v, Value n0,
                      Value nValid, Value col0, int64_t rows);
  void emitEpilogue(const Scratch &s, const RowView &o,
                    std::optional<RowView> lse, Value m0, Value valid,
                    Epilogue epilogue);
};

/// 2^x on a vector: 2^floor(x) from the exponent bits times a degree-5
/// polynomial of the fraction (relative error 1.2e-7, exact at integers). x is clamped to
/// [-127, 127]; at -127 the exponent bits are 0, so 2^-inf is exactly 0,
/// which the masked softmax relies on.
Value TileCodegen::exp2(Value x) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  auto splatF = [&](double c) { return e.splat(e.f32(c), vec); };
  x = arith::MaximumFOp::create(b, loc, x, splatF(-127.0));
  x = arith::MinimumFOp::create(b, loc, x, splatF(127.0));
  Value fl = math::FloorOp::create(b, loc, x);
  Value f = arith::SubFOp::create(b, loc, x, fl);
  // 1 + f (a1 + ... + a5 f^4), least squares at Chebyshev nodes, highest
  // first. The constant is exactly 1 so that 2^0 == 1: the online softmax
  // rescales by 2^0 at every key tile, and a factor 1 - 1e-7 compounds into
  // a visible bias of the LSE after thousands of tiles.
  const double coeffs[] = {0.001885403786492268, 0.008972899303729368,
                           0.05583659802186705,  0.24015244462069452,
                           0.6931525352660035,   1.0};
  Value poly = splatF(coeffs[0]);
  for (double c : ArrayRef<double>(coeffs).drop_front())
    poly = vector::FMAOp::create(b, loc, poly, f, splatF(c));
  Value i = arith::FPToSIOp::create(b, loc, ivec, fl);
  Value biased = arith::AddIOp::create(
      b, loc, i, e.splat(arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(127)), ivec));
  Value bits = arith::ShLIOp::create(
      b, loc, biased, e.splat(arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(23)), ivec));
  Value pow2 = arith::BitcastOp::create(b, loc, vec, bits);
  return arith::MulFOp::create(b, loc, poly, pow2);
}

void TileCodegen::emitTile(const Scratch &s, PatternAttrInterface pattern,
                           const RowView &q, const RowView &k,
                           const RowView &v, const RowView &o,
                           std::optional<RowView> lse, Value qt, Value nq,
                           Value nk, Epilogue epilogue) {
  int64_t bm = opt.blockM, bn = opt.blockN, w = opt.vectorWidth;
  Value m0 = e.mul(qt, e.idx(bm));
  Value valid = e.min(e.idx(bm), e.sub(nq, m0));
  Value shift = e.sub(nk, nq); // query row i sits at position nk - nq + i
  Value lastRow = e.sub(nq, e.idx(1));

  // Pack the query tile transposed and scaled; rows past nq repeat the last
  // row (their results are never stored). Bounds per row, clamped to keys.
  // Scores in log2 units: exp2 is cheaper than exp, the epilogue converts.
  Value scaleV = e.f32(scale * M_LOG2E);
  e.forLoop(0, bm, 1, [&](Value i) {
    Value row = e.min(e.add(m0, i), lastRow);
    Value pos = e.add(shift, row);
    if (landmarkBlock) {
      // Landmark rows keep their position and the start of their block.
      Value own = e.mul(arith::FloorDivSIOp::create(e.b, e.loc, pos,
                                                    e.idx(landmarkBlock)),
                        e.idx(landmarkBlock));
      e.store(e.toI32(pos), s.lo, {i});
      e.store(e.toI32(own), s.hi, {i});
    } else {
      Value hi;
      Value lo = clampedRowBounds(e, pattern, pos, nk, hi);
      e.store(e.toI32(lo), s.lo, {i});
      e.store(e.toI32(hi), s.hi, {i});
    }
    e.forLoop(0, d, 1, [&](Value c) {
      Value x = e.toF32(q.load(e, row, c));
      e.store(arith::MulFOp::create(e.b, e.loc, x, scaleV), s.qT, {c, i});
    });
  });
  e.forLoop(0, bm, w, [&](Value i) {
    e.vstore(e.splat(negInf(), vec), s.m, {i});
    e.vstore(e.splat(e.f32(0), vec), s.l, {i});
  });
  e.forLoop(0, dv, 1, [&](Value c) {
    e.forLoop(0, bm, w,
              [&](Value i) { e.vstore(e.splat(e.f32(0), vec), s.oT, {c, i}); });
  });

  Value pFirst = e.add(shift, m0);
  Value pLast0 = e.add(shift, e.add(m0, e.sub(valid, e.idx(1))));
  if (landmarkBlock) {
    // Every block up to the last query's own one, a block per key tile.
    Value last = e.max(e.min(e.add(pLast0, e.idx(1)), nk), e.idx(0));
    if (landmarkTopk)
      emitTopkSelection(s, k, last);
    e.forLoop(e.idx(0), last, e.idx(landmarkBlock), [&](Value n0) {
      auto body = [&] {
        emitScores(s, k, n0, nk);
        emitLandmarkScores(s, n0);
        emitSoftmax(s);
        emitValues(s, v, n0, nk);
      };
      if (!landmarkTopk)
        return body();
      // Retrieval: a block no query of the tile retrieves (and no query's
      // own block) costs one landmark score per query, nothing more.
      e.ifThen(emitTopkKeep(s, k, n0), body);
    });
    emitEpilogue(s, o, lse, m0, valid, epilogue);
    return;
  }

  // The key tiles from the bounds of the tile's first and last query (the
  // schedule the GPU target shares).
  Value pLast = e.add(shift, e.add(m0, e.sub(valid, e.idx(1))));
  KeyTiles tiles = keyTilesOf(e, pattern, pFirst, pLast, nk);

  e.forLoop(tiles.first, tiles.last, e.idx(bn), [&](Value n0) {
    emitScores(s, k, n0, nk);
    Value partial = arith::XOrIOp::create(
        e.b, e.loc, tiles.isFull(e, n0, bn),
        arith::ConstantOp::create(e.b, e.loc, e.b.getBoolAttr(true)));
    e.ifThen(partial, [&] { emitMask(s, n0); });
    emitSoftmax(s);
    emitValues(s, v, n0, nk);
  });

  emitEpilogue(s, o, lse, m0, valid, epilogue);
}

/// S^T[n][i] = sum_d K[n0 + n][d] * Q^T[d][i]: mrKeys broadcast keys times
/// two query vectors per block, accumulators in registers across D.
void TileCodegen::emitScores(const Scratch &s, const RowView &k, Value n0,
                             Value nk) {
  int64_t mr = opt.mrKeys, w = opt.vectorWidth;
  Value lastKey = e.sub(nk, e.idx(1));
  e.forLoop(0, opt.blockN, mr, [&](Value kb) {
    SmallVector<Value> keyRows;
    for (int64_t r = 0; r < mr; ++r)
      keyRows.push_back(e.min(e.add(n0, e.add(kb, e.idx(r))), lastKey));
    e.forLoop(0, opt.blockM, qBlock, [&](Value qb) {
      Value zero = e.splat(e.f32(0), vec);
      SmallVector<Value> init(mr * 2, zero);
      Value qb1 = e.add(qb, e.idx(w));
      SmallVector<Value> acc = e.forLoop(
          e.idx(0), e.idx(d), e.idx(1), init,
          [&](Value c, ValueRange carried) {
            Value qv[2] = {e.vload(vec, s.qT, {c, qb}),
                           e.vload(vec, s.qT, {c, qb1})};
            SmallVector<Value> next;
            for (int64_t r = 0; r < mr; ++r) {
              Value kv = e.splat(e.toF32(k.load(e, keyRows[r], c)), vec);
              for (int64_t j = 0; j < 2; ++j)
                next.push_back(vector::FMAOp::create(e.b, e.loc, kv, qv[j],
                                                     carried[r * 2 + j]));
            }
            return next;
          });
      for (int64_t r = 0; r < mr; ++r) {
        Value row = e.add(kb, e.idx(r));
        e.vstore(acc[r * 2], s.sT, {row, qb});
        e.vstore(acc[r * 2 + 1], s.sT, {row, qb1});
      }
    });
  });
}

/// Partial tiles only: scores outside [lo, hi] of their query become -inf.
void TileCodegen::emitMask(const Scratch &s, Value n0) {
  int64_t w = opt.vectorWidth;
  e.forLoop(0, opt.blockN, 1, [&](Value n) {
    Value key = e.splat(e.toI32(e.add(n0, n)), ivec);
    e.forLoop(0, opt.blockM, w, [&](Value i) {
      Value lo = e.vload(ivec, s.lo, {i});
      Value hi = e.vload(ivec, s.hi, {i});
      Value ok = arith::AndIOp::create(
          e.b, e.loc, e.cmp(arith::CmpIPredicate::sge, key, lo),
          e.cmp(arith::CmpIPredicate::sle, key, hi));
      Value sc = e.vload(vec, s.sT, {n, i});
      e.vstore(e.select(ok, sc, e.splat(negInf(), vec)), s.sT, {n, i});
    });
  });
}

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

/// Online softmax, lane-wise: new max, rescale factor, probabilities in
/// place of the scores, running sums. A row that has seen no key keeps
/// max -inf and subtracts 0, so exp(-inf) = 0 and nothing becomes NaN.
void TileCodegen::emitSoftmax(const Scratch &s) {
  int64_t w = opt.vectorWidth;
  Value ninf = e.splat(negInf(), vec);
  Value zero = e.splat(e.f32(0), vec);
  e.forLoop(0, opt.blockM, w, [&](Value i) {
    Value mOld = e.vload(vec, s.m, {i});
    Value mNew = e.forLoop(e.idx(0), e.idx(opt.blockN), e.idx(1), {mOld},
                           [&](Value n, ValueRange mx) -> SmallVector<Value> {
                             Value sc = e.vload(vec, s.sT, {n, i});
                             Value gt = e.cmpf(arith::CmpFPredicate::OGT, sc,
                                               mx[0]);
                             return {e.select(gt, sc, mx[0])};
                           })[0];
    Value empty = e.cmpf(arith::CmpFPredicate::OEQ, mNew, ninf);
    Value mUse = e.select(empty, zero, mNew);
    Value alpha = exp2(arith::SubFOp::create(e.b, e.loc, mOld, mUse));
    Value sum = e.forLoop(e.idx(0), e.idx(opt.blockN), e.idx(1), {zero},
                          [&](Value n, ValueRange acc) -> SmallVector<Value> {
                            Value sc = e.vload(vec, s.sT, {n, i});
                            Value p = exp2(
                                arith::SubFOp::create(e.b, e.loc, sc, mUse));
                            e.vstore(p, s.sT, {n, i});
                            return {arith::AddFOp::create(e.b, e.loc, acc[0],
                                                          p)};
                          })[0];
    Value l = e.vload(vec, s.l, {i});
    l = vector::FMAOp::create(e.b, e.loc, l, alpha, sum);
    e.vstore(mNew, s.m, {i});
    e.vstore(l, s.l, {i});
    e.vstore(alpha, s.alpha, {i});
  });
}

/// O^T = alpha * O^T + V^T P^T in blocks of mrValues output columns (and
/// one block of the remainder).
void TileCodegen::emitValues(const Scratch &s, const RowView &v, Value n0,
                             Value nk) {
  // Keys past nk have probability 0: stop at the last real key instead of
  // clamping every row index.
  nk = e.min(e.idx(opt.blockN), e.sub(nk, n0));
  int64_t mr = opt.mrValues;
  int64_t main = dv / mr * mr;
  if (main > 0)
    e.forLoop(0, main, mr,
              [&](Value col0) { emitValueBlock(s, v, n0, nk, col0, mr); });
  if (dv > main)
    emitValueBlock(s, v, n0, nk, e.idx(main), dv - main);
}

void TileCodegen::emitValueBlock(const Scratch &s, const RowView &v, Value n0,
                                 Value nValid, Value col0, int64_t rows) {
  int64_t w = opt.vectorWidth;
  SmallVector<Value> cols;
  for (int64_t r = 0; r < rows; ++r)
    cols.push_back(e.add(col0, e.idx(r)));
  e.forLoop(0, opt.blockM, qBlock, [&](Value qb) {
    Value qb1 = e.add(qb, e.idx(w));
    Value alpha[2] = {e.vload(vec, s.alpha, {qb}),
                      e.vload(vec, s.alpha, {qb1})};
    SmallVector<Value> init;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < 2; ++j)
        init.push_back(arith::MulFOp::create(
            e.b, e.loc, e.vload(vec, s.oT, {cols[r], j ? qb1 : qb}),
            alpha[j]));
    SmallVector<Value> acc = e.forLoop(
        e.idx(0), nValid, e.idx(1), init,
        [&](Value n, ValueRange carried) {
          Value key = e.add(n0, n);
          Value pv[2] = {e.vload(vec, s.sT, {n, qb}),
                         e.vload(vec, s.sT, {n, qb1})};
          SmallVector<Value> next;
          for (int64_t r = 0; r < rows; ++r) {
            Value vv = e.splat(e.toF32(v.load(e, key, cols[r])), vec);
            for (int64_t j = 0; j < 2; ++j)
              next.push_back(vector::FMAOp::create(e.b, e.loc, vv, pv[j],
                                                   carried[r * 2 + j]));
          }
          return next;
        });
    for (int64_t r = 0; r < rows; ++r) {
      e.vstore(acc[r * 2], s.oT, {cols[r], qb});
      e.vstore(acc[r * 2 + 1], s.oT, {cols[r], qb1});
    }
  });
}

/// O = O^T / l (0 for rows without keys), LSE = m + ln l (-inf then); in
/// merge mode the result is combined with what the output already holds.
void TileCodegen::emitEpilogue(const Scratch &s, const RowView &o,
                               std::optional<RowView> lse, Value m0,
                               Value valid, Epilogue epilogue) {
  Value zero = e.f32(0), one = e.f32(1), ninf = negInf();
  e.forLoop(e.idx(0), valid, e.idx(1), [&](Value i) {
    Value row = e.add(m0, i);
    Value l = e.load(s.l, {i});
    Value m = e.load(s.m, {i});
    Value has = e.cmpf(arith::CmpFPredicate::OGT, l, zero);
    Value inv =
        e.select(has, arith::DivFOp::create(e.b, e.loc, one, l), zero);
    Value safeL = e.select(has, l, one);
    Value lseNew = e.select(
        has,
        arith::AddFOp::create(
            e.b, e.loc, arith::MulFOp::create(e.b, e.loc, m, e.f32(M_LN2)),
            math::LogOp::create(e.b, e.loc, safeL)),
        ninf);
    Value wOld = zero, wNew = inv, lseOut = lseNew;
    if (epilogue == Epilogue::Merge) {
      // ln(e^a + e^b) with -inf on either or both sides.
      Value lseOld = lse->load(e, row, Value());
      Value mx = arith::MaximumFOp::create(e.b, e.loc, lseOld, lseNew);
      Value none = e.cmpf(arith::CmpFPredicate::OEQ, mx, ninf);
      Value mxSafe = e.select(none, zero, mx);
      Value ea = math::ExpOp::create(
          e.b, e.loc, arith::SubFOp::create(e.b, e.loc, lseOld, mxSafe));
      Value eb = math::ExpOp::create(
          e.b, e.loc, arith::SubFOp::create(e.b, e.loc, lseNew, mxSafe));
      Value sum = arith::AddFOp::create(e.b, e.loc, ea, eb);
      Value any = e.cmpf(arith::CmpFPredicate::OGT, sum, zero);
      Value sumSafe = e.select(any, sum, one);
      Value rcp = arith::DivFOp::create(e.b, e.loc, one, sumSafe);
      wOld = e.select(any, arith::MulFOp::create(e.b, e.loc, ea, rcp), zero);
      wNew = e.select(
          any,
          arith::MulFOp::create(e.b, e.loc,
                                arith::MulFOp::create(e.b, e.loc, eb, rcp),
                                inv),
          zero);
      lseOut = e.select(
          any,
          arith::AddFOp::create(e.b, e.loc, mxSafe,
                                math::LogOp::create(e.b, e.loc, sumSafe)),
          ninf);
    }
    e.forLoop(0, dv, 1, [&](Value c) {
      Value acc = arith::MulFOp::create(e.b, e.loc, e.load(s.oT, {c, i}), wNew);
      if (epilogue == Epilogue::Merge) {
        Value old = e.toF32(o.load(e, row, c));
        acc = arith::AddFOp::create(
            e.b, e.loc, acc, arith::MulFOp::create(e.b, e.loc, old, wOld));
      }
      o.store(e, e.fromF32(acc, outType), row, c);
    });
    if (lse)
      lse->store(e, lseOut, row, Value());
  });
}

//===----------------------------------------------------------------------===//
// Kernel ABI: phases of work items
//===----------------------------------------------------------------------===//

/// Operands of the kernel function, by role (null when absent).
/// The two functions of one phase, as the ABI emitter builds them.
struct PhaseFns {
  std::function<Value(Emitter &, const KernelArgs &)> count;
  std::function<void(Emitter &, const KernelArgs &, Value begin, Value end)>
      run;
};


/// One phase: how many items, and how to run one.
struct Phase {
  std::function<Value(Emitter &, const KernelArgs &)> count;
  std::function<void(Emitter &, TileCodegen &, const Scratch &,
                     const KernelArgs &, Value item)>
      run;
  bool needsScratch = true;
};

RowView view(Value mem, Value batch, Value head, Value base, Value stride) {
  return RowView{mem, batch, head, base, stride};
}

/// Operands must be the function's arguments (the ABI passes them through)
/// and the attn op the function's only operation.
LogicalResult checkKernelShape(func::FuncOp func, Operation *op) {
  Block &entry = func.getBody().front();
  for (Value operand : op->getOperands())
    if (!isa<BlockArgument>(operand) ||
        cast<BlockArgument>(operand).getOwner() != &entry)
      return op->emitOpError()
             << "the CPU target lowers kernels whose attn op works on the "
                "function's arguments";
  if (!llvm::all_of(entry.without_terminator(),
                    [&](Operation &o) { return &o == op; }))
    return func.emitError() << "the CPU target lowers kernel functions whose "
                               "body is one attn op";
  return success();
}

class LowerToCPU : public attn::impl::AttnLowerToCPUBase<LowerToCPU> {
public:
  using Base::Base;
  void runOnOperation() override;

private:
  LogicalResult lowerKernel(func::FuncOp func, AttentionOp op);
  LogicalResult lowerLightning(func::FuncOp func, LightningOp op);
  /// Metadata naming the CPU the code is for and the ISA extensions a host
  /// needs to run it.
  static attnmeta::KernelMeta targetMeta(CPUScheduleAttr s) {
    attnmeta::KernelMeta meta;
    meta.cpu = s.getCpu().str();
    llvm::SmallVector<StringRef> features;
    s.getFeatures().split(features, ',', -1, false);
    for (StringRef f : features)
      meta.features.push_back(f.str());
    return meta;
  }
  /// The op's schedule, checked; null after an error.
  static CPUScheduleAttr scheduleOf(Operation *op) {
    CPUScheduleAttr s = getCPUSchedule(op);
    if (!s) {
      op->emitOpError() << "has no CPU schedule (attn.schedule): run "
                           "attn-configure-cpu first";
      return {};
    }
    return succeeded(checkCPUSchedule(op, s)) ? s : CPUScheduleAttr();
  }
};

} // namespace

static void emitKernelABI(func::FuncOp func, Operation *op, StringRef opName,
                          StringRef pattern, const KernelArgs &operands,
                          ArrayRef<PhaseFns> phases,
                          const attnmeta::KernelMeta &targetMeta);

LogicalResult LowerToCPU::lowerKernel(func::FuncOp func, AttentionOp op) {
  CPUScheduleAttr sched = scheduleOf(op);
  if (!sched)
    return failure();
  CPUOptions opt{sched.getBlockM(),    sched.getBlockN(),
                 sched.getVectorWidth(), sched.getMrKeys(),
                 sched.getMrValues(),  sched.getCpu().str(),
                 sched.getFeatures().str()};
  auto qType = cast<MemRefType>(op.getQ().getType());
  auto vType = cast<MemRefType>(op.getV().getType());
  auto oType = cast<MemRefType>(op.getOut().getType());
  int64_t d = qType.getDimSize(3), dv = vType.getDimSize(3);
  if (ShapedType::isDynamic(d) || ShapedType::isDynamic(dv))
    return op.emitOpError() << "the CPU target needs static head dims D and "
                               "Dv (they set the register blocking)";
  double scale = *op.getEffectiveScale();

  if (failed(checkKernelShape(func, op)))
    return failure();

  auto pattern = op.getPattern();
  int64_t bm = opt.blockM;

  SmallVector<Phase> phases;
  int64_t landmarkBlock = 0, landmarkTopk = 0;
  // Head bookkeeping shared by the phases: (b, h) from a flat index.
  auto headsOf = [](Emitter &e, const KernelArgs &a) {
    return std::pair(e.dim(a.q, 1), e.dim(a.k, 1));
  };
  if (auto lm = dyn_cast<LandmarkAttr>(pattern)) {
    landmarkBlock = lm.getBlock();
    landmarkTopk = lm.getTopk();
    // A key tile holds one whole block (rounded up to the micro-kernel).
    opt.blockN = (landmarkBlock + opt.mrKeys - 1) / opt.mrKeys * opt.mrKeys;
  }
  int64_t unusedLo, unusedHi;
  if (landmarkBlock || pattern.rowBounds(0, 1, unusedLo, unusedHi)) {
    // Interval and landmark patterns: items are (batch, head, query tile),
    // the last tile of each head first so the dynamic scheduler starts with
    // the longest rows.
    Phase p;
    p.count = [bm](Emitter &e, const KernelArgs &a) {
      Value tiles = e.ceilDiv(e.dim(a.q, 2), e.idx(bm));
      return e.mul(e.mul(e.dim(a.q, 0), e.dim(a.q, 1)), tiles);
    };
    p.run = [=](Emitter &e, TileCodegen &tc, const Scratch &s,
                const KernelArgs &a, Value item) {
      Value nq = e.dim(a.q, 2), nk = e.dim(a.k, 2);
      auto [h, hk] = headsOf(e, a);
      Value tiles = e.ceilDiv(nq, e.idx(bm));
      Value bh = e.div(item, tiles);
      Value qt = e.sub(e.sub(tiles, e.idx(1)), e.rem(item, tiles));
      Value batch = e.div(bh, h), head = e.rem(bh, h);
      Value kvHead = e.div(head, e.div(h, hk));
      Value zero = e.idx(0), one = e.idx(1);
      std::optional<RowView> lse;
      if (a.lse)
        lse = view(a.lse, batch, head, zero, one);
      tc.emitTile(s, pattern, view(a.q, batch, head, zero, one),
                  view(a.k, batch, kvHead, zero, one),
                  view(a.v, batch, kvHead, zero, one),
                  view(a.o, batch, head, zero, one), lse, qt, nq, nk,
                  Epilogue::Store);
    };
    phases.push_back(std::move(p));
  } else if (auto dil = dyn_cast<DilatedAttr>(pattern)) {
    if (!op.getLse())
      return op.emitOpError() << "the CPU target needs an lse operand for "
                                 "dilated attention (it merges patterns "
                                 "through it)";
    // Phase 0: clear O and LSE; items are (batch, head).
    Phase init;
    init.needsScratch = false;
    init.count = [](Emitter &e, const KernelArgs &a) {
      return e.mul(e.dim(a.q, 0), e.dim(a.q, 1));
    };
    init.run = [dv, oType](Emitter &e, TileCodegen &, const Scratch &,
                           const KernelArgs &a, Value item) {
      Value h = e.dim(a.q, 1);
      Value batch = e.div(item, h), head = e.rem(item, h);
      Value zero = e.fromF32(e.f32(0), oType.getElementType());
      Value ninf = e.f32(-std::numeric_limits<double>::infinity());
      e.forLoop(e.idx(0), e.dim(a.q, 2), e.idx(1), [&](Value row) {
        e.forLoop(0, dv, 1,
                  [&](Value c) { e.store(zero, a.o, {batch, head, row, c}); });
        e.store(ninf, a.lse, {batch, head, row});
      });
    };
    phases.push_back(std::move(init));
    Attribute local = dil.getCausal() ? Attribute(CausalAttr::get(op.getContext()))
                                      : Attribute(FullAttr::get(op.getContext()));
    auto localPattern = cast<PatternAttrInterface>(local);
    bool grouped = dil.getOffsets() == OffsetMode::grouped;
    for (auto [w, r] : llvm::zip(dil.getSegments(), dil.getRates())) {
      int64_t tilesPerSeg = (w / r + bm - 1) / bm;
      Phase p;
      p.count = [=](Emitter &e, const KernelArgs &a) {
        Value segs = e.ceilDiv(e.dim(a.q, 2), e.idx(w));
        return e.mul(e.mul(e.mul(e.dim(a.q, 0), e.dim(a.q, 1)), segs),
                     e.idx(tilesPerSeg));
      };
      p.run = [=](Emitter &e, TileCodegen &tc, const Scratch &s,
                  const KernelArgs &a, Value item) {
        Value n = e.dim(a.q, 2);
        auto [h, hk] = headsOf(e, a);
        Value segs = e.ceilDiv(n, e.idx(w));
        Value qt = e.rem(item, e.idx(tilesPerSeg));
        Value rest = e.div(item, e.idx(tilesPerSeg));
        Value seg = e.rem(rest, segs);
        Value bh = e.div(rest, segs);
        Value batch = e.div(bh, h), head = e.rem(bh, h);
        Value kvHead = e.div(head, e.div(h, hk));
        // Offset of this head: h mod r, or h / ceil(H / r) (torchscale).
        Value rV = e.idx(r);
        Value off = grouped ? e.div(head, e.ceilDiv(h, rV)) : e.rem(head, rV);
        Value start = e.mul(seg, e.idx(w));
        Value len = e.min(e.idx(w), e.sub(n, start));
        // Selected rows of the segment: start + off + r * t, t < count.
        Value count = e.select(
            e.cmp(arith::CmpIPredicate::sgt, len, off),
            e.ceilDiv(e.sub(len, off), rV), e.idx(0));
        Value base = e.add(start, off);
        e.ifThen(e.cmp(arith::CmpIPredicate::slt, e.mul(qt, e.idx(bm)), count),
                 [&] {
                   RowView lse = view(a.lse, batch, head, base, rV);
                   tc.emitTile(s, localPattern, view(a.q, batch, head, base, rV),
                               view(a.k, batch, kvHead, base, rV),
                               view(a.v, batch, kvHead, base, rV),
                               view(a.o, batch, head, base, rV), lse, qt,
                               count, count, Epilogue::Merge);
                 });
      };
      phases.push_back(std::move(p));
    }
  } else {
    return op.emitOpError() << "pattern " << pattern
                            << " is not supported by the CPU target yet";
  }

  Type outElt = oType.getElementType();
  SmallVector<PhaseFns> fns;
  for (Phase &phase : phases) {
    PhaseFns f;
    f.count = [&phase](Emitter &e, const KernelArgs &a) {
      return phase.count(e, a);
    };
    f.run = [&, outElt](Emitter &e, const KernelArgs &a, Value begin,
                        Value end) {
      TileCodegen tc(e.b, e.loc, opt, d, dv, outElt, scale);
      tc.setLandmarkBlock(landmarkBlock, landmarkTopk);
      Scratch s;
      if (phase.needsScratch)
        s = tc.allocScratch();
      e.forLoop(begin, end, e.idx(1),
                [&](Value item) { phase.run(e, tc, s, a, item); });
    };
    fns.push_back(std::move(f));
  }
  std::string patternText;
  llvm::raw_string_ostream(patternText) << pattern;
  emitKernelABI(func, op, "attention", patternText,
                KernelArgs{op.getQ(), op.getK(), op.getV(), op.getOut(),
                           op.getLse()},
                fns, targetMeta(sched));
  return success();
}

/// Builds F__count<p>, F__run<p>, F__phases, the metadata global and the
/// serial driver F, then erases the attn op.
static void emitKernelABI(func::FuncOp func, Operation *op, StringRef opName,
                          StringRef pattern, const KernelArgs &operands,
                          ArrayRef<PhaseFns> phases,
                          const attnmeta::KernelMeta &targetMeta) {
  OpBuilder b(func);
  Location loc = func.getLoc();
  MLIRContext *ctx = func.getContext();
  Block &entry = func.getBody().front();
  auto argTypes = func.getFunctionType().getInputs();
  auto unitAttr = UnitAttr::get(ctx);
  // The op's operands are arguments of F; each phase function takes the
  // same arguments in the same positions.
  auto bindArgs = [&](Block &block) {
    KernelArgs a;
    for (auto [name, member] : kRoles)
      if (Value v = operands.*member)
        a.*member = block.getArgument(cast<BlockArgument>(v).getArgNumber());
    return a;
  };
  SmallVector<func::FuncOp> countFns, runFns;
  for (auto [pi, phase] : llvm::enumerate(phases)) {
    std::string suffix = std::to_string(pi);
    auto countFn = func::FuncOp::create(
        b, loc, (func.getName() + "__count" + suffix).str(),
        FunctionType::get(ctx, argTypes, {b.getIndexType()}));
    countFn->setAttr("llvm.emit_c_interface", unitAttr);
    {
      OpBuilder::InsertionGuard g(b);
      Block *block = countFn.addEntryBlock();
      b.setInsertionPointToStart(block);
      Emitter e{b, loc};
      Value n = phase.count(e, bindArgs(*block));
      func::ReturnOp::create(b, loc, n);
    }
    SmallVector<Type> runTypes(argTypes.begin(), argTypes.end());
    runTypes.push_back(b.getIndexType());
    runTypes.push_back(b.getIndexType());
    auto runFn = func::FuncOp::create(
        b, loc, (func.getName() + "__run" + suffix).str(),
        FunctionType::get(ctx, runTypes, {}));
    runFn->setAttr("llvm.emit_c_interface", unitAttr);
    {
      OpBuilder::InsertionGuard g(b);
      Block *block = runFn.addEntryBlock();
      b.setInsertionPointToStart(block);
      Emitter e{b, loc};
      phase.run(e, bindArgs(*block), block->getArgument(argTypes.size()),
                block->getArgument(argTypes.size() + 1));
      func::ReturnOp::create(b, loc);
    }
    countFns.push_back(countFn);
    runFns.push_back(runFn);
  }
  auto phasesFn = func::FuncOp::create(
      b, loc, (func.getName() + "__phases").str(),
      FunctionType::get(ctx, {}, {b.getIndexType()}));
  phasesFn->setAttr("llvm.emit_c_interface", unitAttr);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(phasesFn.addEntryBlock());
    func::ReturnOp::create(
        b, loc,
        ValueRange{arith::ConstantIndexOp::create(b, loc, phases.size())});
  }

  // Metadata for the runtime core.
  emitMetaGlobal(b, loc, (func.getName() + "__attn_meta").str(),
                 kernelMetaText(opName, pattern, phases.size(), argTypes,
                                argRoles(entry, operands), targetMeta));

  // The kernel itself: every phase in order, serially.
  op->erase();
  b.setInsertionPoint(entry.getTerminator());
  SmallVector<Value> args(entry.getArguments());
  for (auto [countFn, runFn] : llvm::zip(countFns, runFns)) {
    Value n = func::CallOp::create(b, loc, countFn, args).getResult(0);
    SmallVector<Value> runArgs = args;
    runArgs.push_back(arith::ConstantIndexOp::create(b, loc, 0));
    runArgs.push_back(n);
    func::CallOp::create(b, loc, runFn, runArgs);
  }
  func->setAttr("llvm.emit_c_interface", unitAttr);
}


//===----------------------------------------------------------------------===//
// Lightning attention: Lightning-Attention-2 blocks with a carried KV state
//===----------------------------------------------------------------------===//

/// One (batch, head) of attn.lightning: blocks of `bl` rows in order; the
/// intra-block product with the decay mask, the inter-block product with the
/// f32 state KV [D][Dv], then the state update. Decay powers come from a
/// table of lambda^x for 0 <= x <= bl, so lambda^-t never appears.
class LightningCodegen {
public:
  LightningCodegen(Emitter &e, int64_t w, int64_t bl, int64_t d, int64_t dv,
                   Type outType, double scale)
      : e(e), w(w), bl(bl), d(d), dv(dv), dvp((dv + w - 1) / w * w),
        outType(outType), scale(scale) {
    vec = VectorType::get({w}, e.b.getF32Type());
  }

  struct Scratch {
    Value kv, s, pw;
  };
  /// The state's columns are padded to whole vectors (zeros past Dv), so
  /// only the operands' last vector of a row needs a mask.
  Scratch alloc() {
    auto f32 = e.b.getF32Type();
    auto mk = [&](ArrayRef<int64_t> shape) -> Value {
      return memref::AllocaOp::create(e.b, e.loc, MemRefType::get(shape, f32),
                                      ValueRange{}, e.b.getI64IntegerAttr(64));
    };
    return {mk({d, dvp}), mk({bl, bl}), mk({bl + 1})};
  }

  void emitItem(const Scratch &sc, const KernelArgs &a, Value item);

private:
  Emitter &e;
  int64_t w, bl, d, dv, dvp;
  Type outType;
  double scale;
  VectorType vec;

  /// Lanes [0, lanes) of a vector at mem[idx], widened to f32; lanes past
  /// `lanes` read as 0 and touch no memory.
  Value vload(Value mem, ValueRange idx, int64_t lanes) {
    auto t = cast<MemRefType>(mem.getType()).getElementType();
    auto vt = VectorType::get({w}, t);
    Value x;
    if (lanes >= w) {
      x = e.vload(vt, mem, idx);
    } else {
      Value zero = arith::ConstantOp::create(
          e.b, e.loc, vt, DenseElementsAttr::get(vt, e.b.getZeroAttr(t)));
      x = vector::MaskedLoadOp::create(e.b, e.loc, vt, mem, idx, mask(lanes),
                                       zero);
    }
    if (t.isF32())
      return x;
    return arith::ExtFOp::create(e.b, e.loc, vec, x);
  }
  /// Stores lanes [0, lanes) of x at mem[idx].
  void vstore(Value x, Value mem, ValueRange idx, int64_t lanes) {
    if (lanes >= w)
      return e.vstore(x, mem, idx);
    vector::MaskedStoreOp::create(e.b, e.loc, mem, idx, mask(lanes), x);
  }
  Value mask(int64_t lanes) {
    return vector::ConstantMaskOp::create(
        e.b, e.loc, VectorType::get({w}, e.b.getI1Type()),
        ArrayRef<int64_t>{lanes});
  }
  /// body(c, lanes) for the vectors of a row of n columns: a loop over the
  /// whole vectors, then the tail (lanes < w) once.
  void forColumns(int64_t n, function_ref<void(Value, int64_t)> body) {
    int64_t whole = n / w * w;
    if (whole > 0)
      e.forLoop(0, whole, w, [&](Value c) { body(c, w); });
    if (whole < n)
      body(e.idx(whole), n - whole);
  }
  Value mulf(Value x, Value y) {
    return arith::MulFOp::create(e.b, e.loc, x, y);
  }
  Value fma(Value a, Value x, Value acc) {
    return vector::FMAOp::create(e.b, e.loc, a, x, acc);
  }
  Value defaultSlope(Value head, Value numHeads);
};

Value LightningCodegen::defaultSlope(Value head, Value numHeads) {
  return math::Exp2Op::create(e.b, e.loc, alibiSlopeLog2(e, head, numHeads));
}

void LightningCodegen::emitItem(const Scratch &sc, const KernelArgs &a,
                                Value item) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value numHeads = e.dim(a.q, 1), n = e.dim(a.q, 2);
  Value batch = e.div(item, numHeads), head = e.rem(item, numHeads);
  Value kvHead = e.div(head, e.div(numHeads, e.dim(a.k, 1)));
  Value slope = a.slopes ? e.load(a.slopes, {head})
                         : defaultSlope(head, numHeads);
  // lambda^x = 2^(x * log2 lambda), log2 lambda = -slope * log2(e).
  Value log2l = mulf(slope, e.f32(-M_LOG2E));
  e.forLoop(0, bl + 1, 1, [&](Value x) {
    Value xi = arith::IndexCastOp::create(b, loc, b.getI64Type(), x);
    Value xf = arith::SIToFPOp::create(b, loc, b.getF32Type(), xi);
    e.store(math::Exp2Op::create(b, loc, mulf(xf, log2l)), sc.pw, {x});
  });
  Value zero = e.splat(e.f32(0), vec);
  e.forLoop(0, d, 1, [&](Value r) {
    if (dvp > dv) // the padding columns stay 0 through every update
      e.vstore(zero, sc.kv, {r, e.idx(dvp - w)});
    forColumns(dv, [&](Value c, int64_t lanes) {
      Value init = a.stateIn ? vload(a.stateIn, {batch, head, r, c}, lanes)
                             : zero;
      vstore(init, sc.kv, {r, c}, lanes);
    });
  });
  Value scaleV = e.f32(scale);
  int64_t chunk = std::min<int64_t>(dvp / w, 4); // accumulator vectors
  // Lanes of the vector at column c0 + x * w that lie inside Dv.
  auto lanesAt = [&](int64_t col) { return std::min(w, dv - col); };
  e.forLoop(e.idx(0), n, e.idx(bl), [&](Value t0) {
    Value len = e.min(e.idx(bl), e.sub(n, t0));
    // Intra-block scores with the decay mask: S[i][j] = c q_i.k_j l^(i-j).
    e.forLoop(e.idx(0), len, e.idx(1), [&](Value i) {
      Value qi = e.add(t0, i);
      e.forLoop(e.idx(0), e.add(i, e.idx(1)), e.idx(1), [&](Value j) {
        Value kj = e.add(t0, j);
        Value acc = zero;
        int64_t whole = d / w * w;
        if (whole > 0)
          acc = e.forLoop(e.idx(0), e.idx(whole), e.idx(w), {zero},
                          [&](Value c, ValueRange v) -> SmallVector<Value> {
                            return {fma(vload(a.q, {batch, head, qi, c}, w),
                                        vload(a.k, {batch, kvHead, kj, c}, w),
                                        v[0])};
                          })[0];
        if (whole < d)
          acc = fma(vload(a.q, {batch, head, qi, e.idx(whole)}, d - whole),
                    vload(a.k, {batch, kvHead, kj, e.idx(whole)}, d - whole),
                    acc);
        Value dot = vector::ReductionOp::create(
            b, loc, vector::CombiningKind::ADD, acc);
        Value decay = e.load(sc.pw, {e.sub(i, j)});
        e.store(mulf(mulf(dot, scaleV), decay), sc.s, {i, j});
      });
    });
    // Output rows: inter-block c l^(i+1) q_i KV, plus intra-block S V.
    e.forLoop(e.idx(0), len, e.idx(1), [&](Value i) {
      Value qi = e.add(t0, i);
      Value qScale = mulf(scaleV, e.load(sc.pw, {e.add(i, e.idx(1))}));
      for (int64_t c0 = 0; c0 < dvp; c0 += chunk * w) {
        int64_t nv = std::min(chunk, (dvp - c0) / w);
        SmallVector<Value> init(nv, zero);
        SmallVector<Value> acc = e.forLoop(
            e.idx(0), e.idx(d), e.idx(1), init,
            [&](Value r, ValueRange v) {
              Value qv = mulf(e.toF32(e.load(a.q, {batch, head, qi, r})),
                              qScale);
              Value qb = e.splat(qv, vec);
              SmallVector<Value> next;
              for (int64_t x = 0; x < nv; ++x)
                next.push_back(fma(qb, e.vload(vec, sc.kv,
                                               {r, e.idx(c0 + x * w)}),
                                   v[x]));
              return next;
            });
        acc = e.forLoop(e.idx(0), e.add(i, e.idx(1)), e.idx(1), acc,
                        [&](Value j, ValueRange v) {
                          Value sb = e.splat(e.load(sc.s, {i, j}), vec);
                          Value kj = e.add(t0, j);
                          SmallVector<Value> next;
                          for (int64_t x = 0; x < nv; ++x)
                            next.push_back(fma(
                                sb,
                                vload(a.v,
                                      {batch, kvHead, kj, e.idx(c0 + x * w)},
                                      lanesAt(c0 + x * w)),
                                v[x]));
                          return next;
                        });
        for (int64_t x = 0; x < nv; ++x) {
          Value out = acc[x];
          if (!outType.isF32())
            out = arith::TruncFOp::create(
                b, loc, VectorType::get({w}, outType), out);
          vstore(out, a.o, {batch, head, qi, e.idx(c0 + x * w)},
                 lanesAt(c0 + x * w));
        }
      }
    });
    // State: KV = l^len KV + sum_j l^(len-1-j) k_j^T v_j.
    Value lLen = e.splat(e.load(sc.pw, {len}), vec);
    e.forLoop(0, d, 1, [&](Value r) {
      for (int64_t c0 = 0; c0 < dvp; c0 += chunk * w) {
        int64_t nv = std::min(chunk, (dvp - c0) / w);
        SmallVector<Value> init;
        for (int64_t x = 0; x < nv; ++x)
          init.push_back(
              mulf(e.vload(vec, sc.kv, {r, e.idx(c0 + x * w)}), lLen));
        SmallVector<Value> acc = e.forLoop(
            e.idx(0), len, e.idx(1), init, [&](Value j, ValueRange v) {
              Value kj = e.add(t0, j);
              Value coef = mulf(
                  e.load(sc.pw, {e.sub(e.sub(len, e.idx(1)), j)}),
                  e.toF32(e.load(a.k, {batch, kvHead, kj, r})));
              Value cb = e.splat(coef, vec);
              SmallVector<Value> next;
              for (int64_t x = 0; x < nv; ++x)
                next.push_back(fma(
                    cb,
                    vload(a.v, {batch, kvHead, kj, e.idx(c0 + x * w)},
                          lanesAt(c0 + x * w)),
                    v[x]));
              return next;
            });
        for (int64_t x = 0; x < nv; ++x)
          e.vstore(acc[x], sc.kv, {r, e.idx(c0 + x * w)});
      }
    });
  });
  if (a.stateOut)
    e.forLoop(0, d, 1, [&](Value r) {
      forColumns(dv, [&](Value c, int64_t lanes) {
        vstore(e.vload(vec, sc.kv, {r, c}), a.stateOut, {batch, head, r, c},
               lanes);
      });
    });
}

LogicalResult LowerToCPU::lowerLightning(func::FuncOp func, LightningOp op) {
  if (failed(checkKernelShape(func, op)))
    return failure();
  auto qType = cast<MemRefType>(op.getQ().getType());
  auto vType = cast<MemRefType>(op.getV().getType());
  auto oType = cast<MemRefType>(op.getOut().getType());
  int64_t d = qType.getDimSize(3), dv = vType.getDimSize(3);
  CPUScheduleAttr sched = scheduleOf(op);
  if (!sched)
    return failure();
  int64_t w = sched.getVectorWidth();
  // Head dims that are not whole vectors take masked tails.
  if (ShapedType::isDynamic(d) || ShapedType::isDynamic(dv))
    return op.emitOpError() << "the CPU target needs static head dims D and "
                               "Dv";
  for (Value st : {op.getStateIn(), op.getStateOut()})
    if (st && cast<MemRefType>(st.getType()).getLayout() &&
        !cast<MemRefType>(st.getType()).getLayout().isIdentity())
      return op.emitOpError() << "the CPU target needs contiguous states";
  double scale = op.getScale() ? op.getScale()->convertToDouble() : 1.0;
  int64_t bl = sched.getBlockM();
  Type outElt = oType.getElementType();
  PhaseFns phase;
  phase.count = [](Emitter &e, const KernelArgs &a) {
    return e.mul(e.dim(a.q, 0), e.dim(a.q, 1));
  };
  phase.run = [=](Emitter &e, const KernelArgs &a, Value begin, Value end) {
    LightningCodegen lc(e, w, bl, d, dv, outElt, scale);
    auto sc = lc.alloc();
    e.forLoop(begin, end, e.idx(1),
              [&](Value item) { lc.emitItem(sc, a, item); });
  };
  emitKernelABI(func, op, "lightning", "",
                KernelArgs{op.getQ(), op.getK(), op.getV(), op.getOut(),
                           Value(), op.getSlopes(), op.getStateIn(),
                           op.getStateOut()},
                {phase}, targetMeta(sched));
  return success();
}

void LowerToCPU::runOnOperation() {
  SmallVector<std::pair<func::FuncOp, Operation *>> work;
  bool failedAny = false;
  getOperation().walk([&](func::FuncOp func) {
    func.walk([&](Operation *op) {
      if (isa<AttentionOp, LightningOp>(op))
        work.emplace_back(func, op);
      else if (isa<MergeOp>(op)) {
        op->emitOpError() << "is not supported by the CPU target yet";
        failedAny = true;
      }
    });
  });
  for (auto [func, op] : work) {
    LogicalResult r = isa<AttentionOp>(op)
                          ? lowerKernel(func, cast<AttentionOp>(op))
                          : lowerLightning(func, cast<LightningOp>(op));
    failedAny |= failed(r);
  }
  if (failedAny)
    signalPassFailure();
}
