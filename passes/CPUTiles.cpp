//===- CPUTiles.cpp - attention tiles on the CPU --------------------------===//
// One query tile against its key tiles: Q K^T and P V micro-kernels, masks
// on partial tiles, the lane-wise online softmax, and the epilogue (store,
// or log-sum-exp merge for dilated phases).
//===----------------------------------------------------------------------===//
#include "passes/CPUCodegen.h"

using namespace mlir;
using namespace mlir::attn;

namespace mlir::attn::cpucg {

/// 2^x on a vector, x <= 127 (the softmax passes x <= 0): 2^n for the
/// nearest integer n built in the exponent bits, times a polynomial of the
/// remainder f = x - n in [-0.5, 0.5]. Adding 1.5 * 2^23 + 127 rounds x to
/// n (to nearest even) and leaves n + 127 in the sum's low mantissa bits,
/// which a shift moves into the exponent field; subtracting the constant
/// again gives n as a float. Four instructions where floor, a conversion to
/// integers, an add and a clamp above took six. x is clamped below at
/// -127: the exponent bits are then 0, so 2^-inf is exactly 0, which the
/// masked softmax relies on. `degree` 5: relative error 1.6e-7 (f32
/// evaluation); 3: 1.0e-4, for probabilities rounded to bf16 (a half ulp
/// is 3.9e-3) right after. Exact at integers.
Value TileCodegen::exp2(Value x, int degree) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  auto splatF = [&](double c) { return e.splat(e.f32(c), vec); };
  x = arith::MaximumFOp::create(b, loc, x, splatF(-127.0));
  Value magic = splatF(12582912.0 + 127.0);
  Value t = arith::AddFOp::create(b, loc, x, magic);
  Value n = arith::SubFOp::create(b, loc, t, magic);
  Value f = arith::SubFOp::create(b, loc, x, n);
  // 1 + f (a1 + a2 f + ...), minimax relative error on [-0.5, 0.5] (Lawson
  // iterations), highest first. The constant is exactly 1 so that
  // 2^0 == 1: the online softmax rescales by 2^0 at every key tile, and a
  // factor 1 - 1e-7 compounds into a visible bias of the LSE after
  // thousands of tiles.
  static const double deg5[] = {0.001326472955031889, 0.009671513454096458,
                                0.05550733745098266,  0.2402224207296518,
                                0.6931469775930926,   1.0};
  static const double deg3[] = {0.055008961248226906, 0.2422110348756412,
                                0.6932829321617625, 1.0};
  assert((degree == 3 || degree == 5) && "exp2: degree 3 or 5");
  ArrayRef<double> coeffs = degree == 3 ? ArrayRef<double>(deg3)
                                        : ArrayRef<double>(deg5);
  Value poly = splatF(coeffs[0]);
  for (double c : coeffs.drop_front())
    poly = vector::FMAOp::create(b, loc, poly, f, splatF(c));
  Value bits = arith::ShLIOp::create(
      b, loc, arith::BitcastOp::create(b, loc, ivec, t),
      e.splat(arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(23)), ivec));
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
  // Query row i sits at position nk - nq + i (GQA-packed rows: row i is
  // query i mod nq of its head, nq = q.packNq; the tile has nq x group).
  Value shift = e.sub(nk, q.packNq ? q.packNq : nq);
  Value lastRow = e.sub(nq, e.idx(1));

  // Pack the query tile transposed and scaled; rows past nq repeat the last
  // row (their results are never stored). Bounds per row, clamped to keys.
  // Scores in log2 units: exp2 is cheaper than exp, the epilogue converts.
  Value scaleV = e.f32(scale * M_LOG2E);
  // A tile of a few rows (a decode step, with decode rows on) runs them row
  // by row (emitDecodeRows), which needs only their bounds: the transposed
  // queries of the whole tile, its m, l and O^T are for the key-tile path.
  Value few, tiled; // (decodeRows only)
  if (decodeRows) {
    few = e.cmp(arith::CmpIPredicate::sle, valid, e.idx(decodeRows));
    tiled = e.cmp(arith::CmpIPredicate::sgt, valid, e.idx(decodeRows));
  }
  auto forTiles = [&](function_ref<void()> body) {
    if (decodeRows)
      e.ifThen(tiled, body);
    else
      body();
  };
  Value packRows = decodeRows ? e.select(few, valid, e.idx(bm)) : e.idx(bm);
  e.forLoop(e.idx(0), packRows, e.idx(1), [&](Value i) {
    Value row = e.min(e.add(m0, i), lastRow);
    Value pos = e.add(shift, q.packNq ? e.rem(row, q.packNq) : row);
    if (landmarkBlock) {
      // Landmark rows keep their position and the start of their block.
      Value own = e.mul(arith::FloorDivSIOp::create(e.b, e.loc, pos,
                                                    e.idx(landmarkBlock)),
                        e.idx(landmarkBlock));
      e.store(e.toI32(pos), s.lo, {i});
      e.store(e.toI32(own), s.hi, {i});
    } else {
      auto [lo, hi] = pattern.buildClampedRowBounds(e.b, e.loc, pos, nk);
      e.store(e.toI32(lo), s.lo, {i});
      e.store(e.toI32(hi), s.hi, {i});
    }
    forTiles([&] {
      if (amx) // Q^T in the VNNI layout, bf16 as it is
        return emitQueriesAMX(s, q, row, i);
      e.forLoop(0, d, 1, [&](Value c) {
        Value x = e.toF32(q.load(e, row, c));
        e.store(arith::MulFOp::create(e.b, e.loc, x, scaleV), s.qT, {c, i});
      });
      // bf16 dot: the unscaled bf16 pairs (rounding Q after scaling would
      // add an error; the scale multiplies the f32 sums instead).
      if (bf16Dot)
        e.forLoop(0, d / 2, 1, [&](Value c2) {
          e.store(loadPair(q, row, e.mul(c2, e.idx(2))), s.qP, {c2, i});
        });
    });
  });
  forTiles([&] {
    e.forLoop(0, bm, w, [&](Value i) {
      e.vstore(e.splat(negInf(), vec), s.m, {i});
      e.vstore(e.splat(e.f32(0), vec), s.l, {i});
    });
    if (amx) // row-major O
      e.forLoop(0, bm, 1, [&](Value i) {
        e.forLoop(0, dv, w, [&](Value c) {
          e.vstore(e.splat(e.f32(0), vec), s.oT, {i, c});
        });
      });
    else
      e.forLoop(0, dv, 1, [&](Value c) {
        e.forLoop(0, bm, w, [&](Value i) {
          e.vstore(e.splat(e.f32(0), vec), s.oT, {c, i});
        });
      });
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
  auto keyTiles = [&] {
    Value pLast = e.add(shift, e.add(m0, e.sub(valid, e.idx(1))));
    KeyTileBounds tiles =
        pattern.buildKeyTiles(e.b, e.loc, pFirst, pLast, nk);
    e.forLoop(tiles.first, tiles.last, e.idx(bn), [&](Value n0) {
      emitScores(s, k, n0, nk);
      Value partial =
          e.logicalNot(pattern.buildTileIsFull(e.b, e.loc, tiles, n0, bn));
      e.ifThen(partial, [&] { emitMask(s, n0); });
      emitSoftmax(s);
      emitValues(s, v, n0, nk);
    });
  };
  if (!decodeRows) {
    keyTiles();
  } else {
    // A tile of a few rows (a decode step): row by row, keys across the
    // lanes, instead of lanes that would mostly hold no query.
    e.ifThen(few, [&] { emitDecodeRows(s, q, k, v, m0, valid); });
    e.ifThen(tiled, keyTiles);
  }

  emitEpilogue(s, o, lse, m0, valid, epilogue);
}

/// S^T[n][i] = sum_d K[n0 + n][d] * Q^T[d][i]: mrKeys broadcast keys times
/// two query vectors per block, accumulators in registers across D.
Value TileCodegen::loadPair(const RowView &x, Value t, Value col) {
  auto pairType = VectorType::get({2}, e.b.getBF16Type());
  Value pair = vector::LoadOp::create(
      e.b, e.loc, pairType, x.mem,
      x.at(e, t, col));
  Value word = vector::BitCastOp::create(
      e.b, e.loc, VectorType::get({1}, e.b.getI32Type()), pair);
  return vector::ExtractOp::create(e.b, e.loc, word, ArrayRef<int64_t>{0});
}

/// S^T = K Q^T by vdpbf16ps: per pair of head-dim columns, each lane (a
/// query) multiplies its bf16 pair with the key's broadcast pair and adds
/// both products to its f32 sum; then the sums are scaled (log2 units).
void TileCodegen::emitScoresBF16(const Scratch &s, const RowView &k, Value n0,
                                 Value nk) {
  int64_t mr = opt.mrKeys, w = opt.vectorWidth;
  Value lastKey = e.sub(nk, e.idx(1));
  auto bf16x32 = VectorType::get({2 * w}, e.b.getBF16Type());
  Value scaleV = e.splat(e.f32(scale * M_LOG2E), vec);
  e.forLoop(0, opt.blockN, mr, [&](Value kb) {
    SmallVector<Value> keyRows;
    for (int64_t r = 0; r < mr; ++r)
      keyRows.push_back(e.min(e.add(n0, e.add(kb, e.idx(r))), lastKey));
    e.forLoop(0, opt.blockM, qBlock, [&](Value qb) {
      Value zero = e.splat(e.f32(0), vec);
      SmallVector<Value> init(mr * 2, zero);
      Value qb1 = e.add(qb, e.idx(w));
      SmallVector<Value> acc = e.forLoop(
          e.idx(0), e.idx(d / 2), e.idx(1), init,
          [&](Value c2, ValueRange carried) {
            Value qv[2];
            Value qbs[2] = {qb, qb1};
            for (int64_t j = 0; j < 2; ++j)
              qv[j] = vector::BitCastOp::create(
                  e.b, e.loc, bf16x32, e.vload(ivec, s.qP, {c2, qbs[j]}));
            Value col = e.mul(c2, e.idx(2));
            SmallVector<Value> next;
            for (int64_t r = 0; r < mr; ++r) {
              Value kv = vector::BitCastOp::create(
                  e.b, e.loc, bf16x32,
                  e.splat(loadPair(k, keyRows[r], col), ivec));
              for (int64_t j = 0; j < 2; ++j)
                next.push_back(x86vector::DotBF16Op::create(
                    e.b, e.loc, vec, carried[r * 2 + j], kv, qv[j]));
            }
            return next;
          });
      for (int64_t r = 0; r < mr; ++r) {
        Value row = e.add(kb, e.idx(r));
        e.vstore(arith::MulFOp::create(e.b, e.loc, acc[r * 2], scaleV), s.sT,
                 {row, qb});
        e.vstore(arith::MulFOp::create(e.b, e.loc, acc[r * 2 + 1], scaleV),
                 s.sT, {row, qb1});
      }
    });
  });
}

void TileCodegen::emitScores(const Scratch &s, const RowView &k, Value n0,
                             Value nk) {
  if (amx)
    return emitScoresAMX(s, k, n0, nk);
  if (bf16Dot)
    return emitScoresBF16(s, k, n0, nk);
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

/// Online softmax, lane-wise: new max, rescale factor, probabilities in
/// place of the scores, running sums. A row that has seen no key keeps
/// max -inf and subtracts 0, so exp(-inf) = 0 and nothing becomes NaN.
void TileCodegen::emitSoftmax(const Scratch &s) {
  int64_t w = opt.vectorWidth;
  Value ninf = e.splat(negInf(), vec);
  Value zero = e.splat(e.f32(0), vec);
  // The AMX path leaves the scores unscaled: the scale (> 0) multiplies
  // their maximum and goes into the exponent's FMA instead of a pass of
  // its own.
  Value scaleV = amx ? e.splat(e.f32(scale * M_LOG2E), vec) : Value();
  // The key loops carry kChains independent accumulators (maxima, then
  // sums), combined after the loop, instead of one loop-carried chain of
  // vmaxps or vaddps (4 cycles each) over all blockN keys. Keys past a
  // multiple of kChains go to chain 0. (No whole-kernel change measured on
  // Zen 3 f32 or Sapphire Rapids AMX: docs/cpu-bf16.md.)
  constexpr int64_t kChains = 4;
  int64_t main = opt.blockN / kChains * kChains;
  // `value(n)` of every key, each combined into its chain; `each` gets
  // the values of an iteration's keys (kChains from n0, or one).
  auto chains = [&](Value init, function_ref<Value(Value n)> value,
                    function_ref<Value(Value, Value)> combine,
                    function_ref<void(Value n0, ArrayRef<Value>)> each) {
    SmallVector<Value> acc(kChains, init);
    if (main > 0)
      acc = e.forLoop(e.idx(0), e.idx(main), e.idx(kChains), acc,
                      [&](Value n0, ValueRange a) -> SmallVector<Value> {
                        SmallVector<Value> vals, next;
                        for (int64_t c = 0; c < kChains; ++c) {
                          vals.push_back(value(e.add(n0, e.idx(c))));
                          next.push_back(combine(a[c], vals.back()));
                        }
                        if (each)
                          each(n0, vals);
                        return next;
                      });
    if (main < opt.blockN)
      acc[0] = e.forLoop(e.idx(main), e.idx(opt.blockN), e.idx(1), {acc[0]},
                         [&](Value n, ValueRange a) -> SmallVector<Value> {
                           Value x = value(n);
                           if (each)
                             each(n, {x});
                           return {combine(a[0], x)};
                         })[0];
    for (int64_t width = kChains / 2; width > 0; width /= 2)
      for (int64_t c = 0; c < width; ++c)
        acc[c] = combine(acc[c], acc[c + width]);
    return acc[0];
  };
  auto maxOf = [&](Value a, Value b) {
    return e.select(e.cmpf(arith::CmpFPredicate::OGT, a, b), a, b);
  };
  auto addOf = [&](Value a, Value b) -> Value {
    return arith::AddFOp::create(e.b, e.loc, a, b);
  };
  // AMX: the key tile is a multiple of 32 keys, so every iteration has
  // kChains keys (configure checked: amxFits).
  assert((!amx || main == opt.blockN) && "AMX key tiles of whole chains");
  e.forLoop(0, opt.blockM, w, [&](Value i) {
    Value mOld = e.vload(vec, s.m, {i});
    Value mNew = chains(
        amx ? ninf : mOld,
        [&](Value n) { return e.vload(vec, s.sT, {n, i}); },
        [&](Value mx, Value x) { return maxOf(x, mx); }, nullptr);
    if (amx)
      mNew = arith::MaximumFOp::create(
          e.b, e.loc, mOld, arith::MulFOp::create(e.b, e.loc, mNew, scaleV));
    Value empty = e.cmpf(arith::CmpFPredicate::OEQ, mNew, ninf);
    Value mUse = e.select(empty, zero, mNew);
    Value alpha = exp2(arith::SubFOp::create(e.b, e.loc, mOld, mUse));
    Value negM = amx ? arith::NegFOp::create(e.b, e.loc, mUse) : Value();
    Value sum = chains(
        zero,
        [&](Value n) -> Value {
          Value sc = e.vload(vec, s.sT, {n, i});
          Value x = amx ? vector::FMAOp::create(e.b, e.loc, sc, scaleV, negM)
                              .getResult()
                        : arith::SubFOp::create(e.b, e.loc, sc, mUse)
                              .getResult();
          // P rounded to bf16 next (AMX, bf16 pairs): the cheaper
          // polynomial's error is 40x under that rounding's.
          return exp2(x, amx || bf16Dot ? 3 : 5);
        },
        addOf,
        [&](Value n0, ArrayRef<Value> p) {
          if (!amx) {
            for (auto [c, pc] : llvm::enumerate(p))
              e.vstore(pc, s.sT, {e.add(n0, e.idx(int64_t(c))), i});
            return;
          }
          // AMX: the probabilities leave as bf16 pairs of keys, the words
          // P's transposes read (no f32 store and reload).
          Value n2 = e.div(n0, e.idx(2));
          for (size_t c = 0; c < p.size(); c += 2)
            e.vstore(bf16Pairs(p[c], p[c + 1]), s.pW,
                     {e.add(n2, e.idx(int64_t(c / 2))), i});
        });
    Value l = e.vload(vec, s.l, {i});
    l = vector::FMAOp::create(e.b, e.loc, l, alpha, sum);
    e.vstore(mNew, s.m, {i});
    e.vstore(l, s.l, {i});
    e.vstore(alpha, s.alpha, {i});
  });
}

Value TileCodegen::toBF16(Value x) {
  auto t = cast<VectorType>(x.getType());
  auto to = VectorType::get(t.getShape(), e.b.getBF16Type());
  if (nativeBF16 && t.getRank() == 1 &&
      (t.getNumElements() == 8 || t.getNumElements() == 16))
    return x86vector::CvtPackedF32ToBF16Op::create(e.b, e.loc, to, x);
  return arith::TruncFOp::create(e.b, e.loc, to, x);
}

Value TileCodegen::bf16Pairs(Value even, Value odd) {
  int64_t w = cast<VectorType>(even.getType()).getNumElements();
  SmallVector<int64_t> interleave;
  for (int64_t i = 0; i < w; ++i) {
    interleave.push_back(i);
    interleave.push_back(w + i);
  }
  Value ab = vector::ShuffleOp::create(e.b, e.loc, toBF16(even), toBF16(odd),
                                       interleave);
  return vector::BitCastOp::create(
      e.b, e.loc, VectorType::get({w}, e.b.getI32Type()), ab);
}

/// O^T = alpha * O^T + V^T P^T in blocks of mrValues output columns (and
/// one block of the remainder).
void TileCodegen::emitPackProbabilities(const Scratch &s) {
  int64_t w = opt.vectorWidth;
  e.forLoop(0, opt.blockN / 2, 1, [&](Value n2) {
    Value n = e.mul(n2, e.idx(2));
    Value n1 = e.add(n, e.idx(1));
    e.forLoop(0, opt.blockM, w, [&](Value i) {
      e.vstore(bf16Pairs(e.vload(vec, s.sT, {n, i}),
                         e.vload(vec, s.sT, {n1, i})),
               s.pP, {n2, i});
    });
  });
}

Value TileCodegen::valuePair(const RowView &v, Value key, Value col) {
  Value lo = v.load(e, key, col);
  Value hi = v.load(e, e.add(key, e.idx(1)), col);
  Value pair = vector::FromElementsOp::create(
      e.b, e.loc, VectorType::get({2}, e.b.getBF16Type()), ValueRange{lo, hi});
  Value word = vector::BitCastOp::create(
      e.b, e.loc, VectorType::get({1}, e.b.getI32Type()), pair);
  return vector::ExtractOp::create(e.b, e.loc, word, ArrayRef<int64_t>{0});
}

void TileCodegen::emitValues(const Scratch &s, const RowView &v, Value n0,
                             Value nk) {
  if (amx)
    return emitValuesAMX(s, v, n0, nk);
  // Keys past nk have probability 0: stop at the last real key instead of
  // clamping every row index.
  nk = e.min(e.idx(opt.blockN), e.sub(nk, n0));
  if (bf16Dot)
    emitPackProbabilities(s);
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
    // One key at a time in f32 FMAs (every key without the bf16 dot; the
    // odd last one with it).
    auto singleKeys = [&](Value from, ValueRange start) {
      return e.forLoop(
          from, nValid, e.idx(1), SmallVector<Value>(start),
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
    };
    SmallVector<Value> acc;
    if (!bf16Dot) {
      acc = singleKeys(e.idx(0), init);
    } else {
      // Pairs of keys by vdpbf16ps: each lane (a query) multiplies its
      // bf16 pair of probabilities with the broadcast pair of values.
      auto bf16x32 = VectorType::get({2 * w}, e.b.getBF16Type());
      Value pairs = arith::DivUIOp::create(e.b, e.loc, nValid, e.idx(2));
      acc = e.forLoop(
          e.idx(0), pairs, e.idx(1), init,
          [&](Value n2, ValueRange carried) {
            Value key = e.add(n0, e.mul(n2, e.idx(2)));
            Value pv[2];
            Value qbs[2] = {qb, qb1};
            for (int64_t j = 0; j < 2; ++j)
              pv[j] = vector::BitCastOp::create(
                  e.b, e.loc, bf16x32, e.vload(ivec, s.pP, {n2, qbs[j]}));
            SmallVector<Value> next;
            for (int64_t r = 0; r < rows; ++r) {
              Value vv = vector::BitCastOp::create(
                  e.b, e.loc, bf16x32,
                  e.splat(valuePair(v, key, cols[r]), ivec));
              for (int64_t j = 0; j < 2; ++j)
                next.push_back(x86vector::DotBF16Op::create(
                    e.b, e.loc, vec, carried[r * 2 + j], vv, pv[j]));
            }
            return next;
          });
      acc = singleKeys(e.mul(pairs, e.idx(2)), acc);
    }
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
      SmallVector<Value, 2> at = amx ? SmallVector<Value, 2>{i, c}
                                     : SmallVector<Value, 2>{c, i};
      Value acc = arith::MulFOp::create(e.b, e.loc, e.load(s.oT, at), wNew);
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

} // namespace mlir::attn::cpucg
