//===- CPUDecode.cpp - query tiles of a few rows, keys across the lanes ---===//
// A decode step has one query row per head (or the few query heads of a
// KV head packed as rows). The tile code puts one query in each vector lane,
// so such a tile would fill 1 to 4 of 16 lanes and broadcast every key
// element. Here (cpu_schedule decode_rows) each row runs alone with the keys
// across the lanes instead:
//
//   per block of 4 w keys: scores by D-long FMA chains per key, the w
//   chains of w keys summed across the lanes by one shuffle tree; the
//   row's online softmax on the block (a max and a sum reduction); then
//   O += p_j V[j] with p_j broadcast and V's rows read contiguously.
//
// It leaves m, l and O^T in the tile's scratch as the key-tile loop does,
// so the shared epilogue stores (or merges) the rows. Bounds: the row's
// [lo, hi] from the tile prologue; keys past hi are masked.
//===----------------------------------------------------------------------===//
#include "passes/CPUCodegen.h"

using namespace mlir;
using namespace mlir::attn;

namespace mlir::attn::cpucg {

void TileCodegen::emitDecodeRows(const Scratch &s, const RowView &q,
                                 const RowView &k, const RowView &v, Value m0,
                                 Value valid) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  int64_t w = opt.vectorWidth, blk = 4 * w;
  Type i32t = b.getI32Type();
  auto ivecT = VectorType::get({w}, i32t);
  auto load = [&](const RowView &x, Value t, int64_t col) -> Value {
    Type elt = cast<MemRefType>(x.mem.getType()).getElementType();
    Value raw = vector::LoadOp::create(b, loc, VectorType::get({w}, elt), x.mem,
                                       x.at(e, t, e.idx(col)));
    return elt.isF32() ? raw : arith::ExtFOp::create(b, loc, vec, raw);
  };
  auto toIndex = [&](Value i32) {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), i32);
  };
  SmallVector<int32_t> lanes;
  for (int64_t i = 0; i < w; ++i)
    lanes.push_back(int32_t(i));
  Value iota = arith::ConstantOp::create(
      b, loc, ivecT, DenseElementsAttr::get(ivecT, ArrayRef<int32_t>(lanes)));
  Value ninfS = negInf(), ninf = e.splat(ninfS, vec),
        zero = e.splat(e.f32(0), vec);
  Value scaleV = e.splat(e.f32(scale * M_LOG2E), vec);
  int64_t dChunks = d / w, vChunks = dv / w;

  // The w scores of w keys from their w partial-sum vectors, by a
  // transpose-and-add tree (log2 w levels of two shuffles and an add per
  // pair) instead of one reduction per key: level h = w/2, w/4, ..., 1
  // adds, for each pair (x, y), the lanes [i, i + h) of every 2h-lane chunk
  // to the lanes [i + h, i + 2h), x's sums to the chunk's first half and
  // y's to its second. Which vector ends in which lane is a bit reversal:
  // order[s] is the key that goes in as vector s.
  auto sumTree = [&](SmallVector<Value> cur) {
    for (int64_t h = w / 2; h >= 1; h /= 2) {
      SmallVector<int64_t> lo, hi;
      for (int64_t base = 0; base < w; base += 2 * h)
        for (int64_t half = 0; half < 2; ++half)
          for (int64_t i = 0; i < h; ++i) {
            int64_t from = half * w + base;
            lo.push_back(from + i);
            hi.push_back(from + h + i);
          }
      SmallVector<Value> next;
      for (size_t i = 0; i < cur.size(); i += 2) {
        Value x = cur[i], y = cur[i + 1];
        next.push_back(arith::AddFOp::create(
            b, loc, vector::ShuffleOp::create(b, loc, x, y, lo),
            vector::ShuffleOp::create(b, loc, x, y, hi)));
      }
      cur = std::move(next);
    }
    return cur.front();
  };
  SmallVector<int64_t> order;
  for (int64_t s = 0; s < w; ++s) {
    int64_t r = 0;
    for (int64_t bit = 1, rb = w / 2; bit < w; bit *= 2, rb /= 2)
      if (s & bit)
        r |= rb;
    order.push_back(r);
  }

  // Each row's query in log2 units, its running max and sum, and O = 0;
  // the key range of all rows.
  Value maxI = e.idx(std::numeric_limits<int32_t>::max());
  SmallVector<Value> range = e.forLoop(
      e.idx(0), valid, e.idx(1), {maxI, e.idx(-1)},
      [&](Value r, ValueRange lohi) -> SmallVector<Value> {
        for (int64_t c = 0; c < dChunks; ++c)
          e.vstore(arith::MulFOp::create(b, loc, load(q, e.add(m0, r), c * w),
                                         scaleV),
                   s.dQ, {r, e.idx(c * w)});
        for (int64_t c = 0; c < vChunks; ++c)
          e.vstore(zero, s.dO, {r, e.idx(c * w)});
        e.store(ninfS, s.m, {r});
        e.store(e.f32(0), s.l, {r});
        Value lo = toIndex(e.load(s.lo, {r})), hi = toIndex(e.load(s.hi, {r}));
        Value has = e.cmp(arith::CmpIPredicate::sle, lo, hi);
        return {e.select(has, e.min(lohi[0], lo), lohi[0]),
                e.select(has, e.max(lohi[1], hi), lohi[1])};
      });
  Value first = range[0], end = e.max(range[0], e.add(range[1], e.idx(1)));

  // Key blocks outermost, the rows inside: a block's K/V rows are read from
  // memory once and from the cache by the other rows (the query heads of
  // one KV head when the rows are GQA-packed).
  e.forLoop(first, end, e.idx(blk), [&](Value n0) {
    e.forLoop(e.idx(0), valid, e.idx(1), [&](Value r) {
      Value loI32 = e.load(s.lo, {r}), hiI32 = e.load(s.hi, {r});
      Value lo = toIndex(loI32), hi = toIndex(hiI32);
      Value meets = arith::AndIOp::create(
          b, loc,
          arith::AndIOp::create(b, loc,
                                e.cmp(arith::CmpIPredicate::sle, lo, hi),
                                e.cmp(arith::CmpIPredicate::sle, n0, hi)),
          e.cmp(arith::CmpIPredicate::sgt, e.add(n0, e.idx(blk)), lo));
      e.ifThen(meets, [&] {
        SmallVector<Value> qv;
        for (int64_t c = 0; c < dChunks; ++c)
          qv.push_back(e.vload(vec, s.dQ, {r, e.idx(c * w)}));
        Value m = e.load(s.m, {r}), l = e.load(s.l, {r});
        // Scores of the block, masked outside [lo, hi], into s.dS; their max.
        Value bmax = ninf;
        for (int64_t kb = 0; kb < blk; kb += w) {
          // The w keys' dot products chunk by chunk (w independent FMA
          // chains in program order, not one dependent chain per key after
          // another); slot s of the tree holds key order[s], so that lane j
          // of the sums is key j.
          SmallVector<Value> rowOf, acc;
          for (int64_t slot = 0; slot < w; ++slot)
            rowOf.push_back(e.min(
                e.max(e.add(n0, e.idx(kb + order[size_t(slot)])), lo), hi));
          auto kAt = [&](int64_t slot, int64_t col) {
            return load(k, rowOf[size_t(slot)], col);
          };
          for (int64_t slot = 0; slot < w; ++slot)
            acc.push_back(arith::MulFOp::create(b, loc, qv[0], kAt(slot, 0)));
          for (int64_t c = 1; c < dChunks; ++c)
            for (int64_t slot = 0; slot < w; ++slot)
              acc[size_t(slot)] = vector::FMAOp::create(
                  b, loc, qv[c], kAt(slot, c * w), acc[size_t(slot)]);
          Value sv = sumTree(acc);
          Value keys = arith::AddIOp::create(
              b, loc, e.splat(e.toI32(e.add(n0, e.idx(kb))), ivecT), iota);
          Value ok = arith::AndIOp::create(
              b, loc,
              e.cmp(arith::CmpIPredicate::sle, keys, e.splat(hiI32, ivecT)),
              e.cmp(arith::CmpIPredicate::sge, keys, e.splat(loI32, ivecT)));
          sv = e.select(ok, sv, ninf);
          e.vstore(sv, s.dS, {e.idx(kb)});
          bmax = arith::MaximumFOp::create(b, loc, bmax, sv);
        }
        Value mb = vector::ReductionOp::create(
            b, loc, vector::CombiningKind::MAXIMUMF, bmax);
        Value mNew = arith::MaximumFOp::create(b, loc, m, mb);
        Value empty = e.cmpf(arith::CmpFPredicate::OEQ, mNew, ninfS);
        Value mUse = e.select(empty, e.f32(0), mNew);
        Value mUseV = e.splat(mUse, vec);
        Value alpha = vector::ExtractOp::create(
            b, loc, exp2(arith::SubFOp::create(b, loc, e.splat(m, vec), mUseV)),
            ArrayRef<int64_t>{0});
        // Probabilities in place, their sum.
        Value psum = zero;
        for (int64_t kb = 0; kb < blk; kb += w) {
          Value p = exp2(arith::SubFOp::create(
              b, loc, e.vload(vec, s.dS, {e.idx(kb)}), mUseV));
          e.vstore(p, s.dS, {e.idx(kb)});
          psum = arith::AddFOp::create(b, loc, psum, p);
        }
        Value lNew = arith::AddFOp::create(
            b, loc, arith::MulFOp::create(b, loc, l, alpha),
            vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD,
                                        psum));
        // O = alpha O + sum_j p_j V[j] over the block's keys in [lo, hi].
        SmallVector<Value> o;
        Value alphaV = e.splat(alpha, vec);
        for (int64_t c = 0; c < vChunks; ++c)
          o.push_back(arith::MulFOp::create(
              b, loc, e.vload(vec, s.dO, {r, e.idx(c * w)}), alphaV));
        Value jLo = e.max(e.sub(lo, n0), e.idx(0));
        Value nKeys = e.min(e.idx(blk), e.sub(e.add(hi, e.idx(1)), n0));
        o = e.forLoop(jLo, nKeys, e.idx(1), o,
                      [&](Value j, ValueRange oc) -> SmallVector<Value> {
                        Value key = e.add(n0, j);
                        Value pj = e.splat(e.load(s.dS, {j}), vec);
                        SmallVector<Value> next;
                        for (int64_t c = 0; c < vChunks; ++c)
                          next.push_back(vector::FMAOp::create(
                              b, loc, pj, load(v, key, c * w), oc[c]));
                        return next;
                      });
        for (int64_t c = 0; c < vChunks; ++c)
          e.vstore(o[c], s.dO, {r, e.idx(c * w)});
        e.store(mNew, s.m, {r});
        e.store(lNew, s.l, {r});
      });
    });
  });
  // The rows' O where the epilogue reads it.
  e.forLoop(e.idx(0), valid, e.idx(1), [&](Value r) {
    for (int64_t c = 0; c < vChunks; ++c) {
      Value oc = e.vload(vec, s.dO, {r, e.idx(c * w)});
      for (int64_t t = 0; t < w; ++t)
        e.store(vector::ExtractOp::create(b, loc, oc, ArrayRef<int64_t>{t}),
                s.oT,
                amx ? ValueRange{r, e.idx(c * w + t)}
                    : ValueRange{e.idx(c * w + t), r});
    }
  });
}

} // namespace mlir::attn::cpucg
