//===- CPULightning.cpp - lightning attention on the CPU ------------------===//
// Lightning attention: Lightning-Attention-2 blocks with a KV state carried
// across blocks in f32; any head dims (masked tails, padded state).
//===----------------------------------------------------------------------===//
#include "passes/CPUCodegen.h"

using namespace mlir;
using namespace mlir::attn;

namespace mlir::attn::cpucg {

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

} // namespace mlir::attn::cpucg
