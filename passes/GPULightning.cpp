//===- GPULightning.cpp - lightning attention kernels ---------------------===//
// Lightning attention on the GPU: Lightning-Attention-2 blocks on mma.sync,
// the f32 state in registers, one CTA per (batch, head, V column slice).
//===----------------------------------------------------------------------===//
#include "passes/GPUCodegen.h"

using namespace mlir;
using namespace mlir::attn;

namespace mlir::attn::gpucg {

/// One CTA walks the blocks of 64 rows of one (batch, head) in order, for a
/// slice of ev columns of V (slices are independent: O[:, e] and KV[:, e]
/// need V[:, e] only). Per block t, warp w owns rows [16w, 16w + 16):
///   O = c l^(i+1) Q KV  +  ((c Q K^T) * l^(i-j) [j <= i]) V      (mma.sync)
/// then KV = l^len KV + (K * l^(len-1-j))^T V, with the f32 state KV [D][ev]
/// in registers (warp w owns rows [w D/4, (w+1) D/4)) and a copy rounded to
/// the input type in shared memory, from which every warp reads Q KV's B
/// operand. Q, K and the V slice of block t+1 load by cp.async while block t
/// computes. Decay powers are 2^(x log2 l) for 0 <= x <= 64: l^-t never
/// appears.
void KernelCodegen::emitLightning(const KernelArgs &a, Value smemBase,
                                  const TileWork &w, Value e0, int64_t ev,
                                  Value log2l) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Type f32 = b.getF32Type();
  int64_t bl = c.blockM, eb = c.elt.getIntOrFloatBitWidth() / 8;
  auto smemView = [&](ArrayRef<int64_t> shape, int64_t byteOffset) {
    return tileView(smemBase, shape, byteOffset);
  };
  int64_t qkBytes = 2 * bl * (c.d + kPad) * eb;
  sQ = smemView({2, bl, c.d + kPad}, 0);
  sK = smemView({2, bl, c.d + kPad}, qkBytes);
  sV = smemView({2, bl, ev + kPad}, 2 * qkBytes);
  Value sKV = smemView({c.d, ev + kPad}, 2 * qkBytes + 2 * bl * (ev + kPad) * eb);
  Value batch = w.batch, head = w.head, kvHead = w.kvHead, n = w.nq;
  Value numBlocks = e.ceilDiv(n, e.idx(bl));
  Value zeroI = e.idx(0), one = e.idx(1);
  auto pow = [&](Value x) { // l^x for an index x
    Value xf = arith::SIToFPOp::create(
        b, loc, f32, arith::IndexCastOp::create(b, loc, b.getI64Type(), x));
    return exp2(mulf(xf, log2l));
  };
  auto load = [&](Value t) {
    Value stage = e.rem(t, e.idx(2));
    Value r0 = e.mul(t, e.idx(bl));
    e.ifThen(e.cmp(arith::CmpIPredicate::slt, t, numBlocks), [&] {
      copyTile(a.q, batch, head, r0, n, zeroI, one, bl, c.d, sQ, stage);
      copyTile(a.k, batch, kvHead, r0, n, zeroI, one, bl, c.d, sK, stage);
      copyTile(a.v, batch, kvHead, r0, n, zeroI, one, bl, ev, sV, stage, e0);
    });
  };
  auto tokenType = nvgpu::DeviceAsyncTokenType::get(b.getContext());
  auto commit = [&] {
    return nvgpu::DeviceAsyncCreateGroupOp::create(b, loc, tokenType,
                                                   ValueRange{})
        .getResult();
  };

  // The state fragments of this warp: (D / 64) m16 tiles x (ev / 8) n8.
  int64_t mTiles = c.d / 64, nTiles = ev / 8;
  VectorType accT = vec({2, 2}, f32);
  auto kvRow = [&](int64_t mt, int64_t hf) {
    return e.add(e.mul(warp, e.idx(c.d / 4)),
                 e.add(e.idx(mt * 16 + 8 * hf), groupRow));
  };
  auto kvCol = [&](int64_t j) {
    return e.add(e.idx(8 * j), e.mul(quadCol, e.idx(2)));
  };
  SmallVector<Value> kv0;
  for (int64_t mt = 0; mt < mTiles; ++mt)
    for (int64_t j = 0; j < nTiles; ++j) {
      Value frag = zeros(accT);
      if (a.stateIn)
        for (int64_t hf = 0; hf < 2; ++hf) {
          Value pair = vector::LoadOp::create(
              b, loc, vec({2}, f32), a.stateIn,
              ValueRange{batch, head, kvRow(mt, hf), e.add(e0, kvCol(j))});
          frag = insert(pair, frag, {hf});
        }
      kv0.push_back(frag);
    }
  auto storeKV = [&](ArrayRef<Value> kv) {
    for (int64_t mt = 0; mt < mTiles; ++mt)
      for (int64_t j = 0; j < nTiles; ++j)
        for (int64_t hf = 0; hf < 2; ++hf) {
          Value pair = arith::TruncFOp::create(
              b, loc, vec({2}, c.elt), extract(kv[mt * nTiles + j], {hf}));
          vector::StoreOp::create(b, loc, pair, sKV,
                                  ValueRange{kvRow(mt, hf), kvCol(j)});
        }
  };

  load(zeroI);
  commit();
  storeKV(kv0);
  // ldmatrix lane roles (see loadQFragments and the P V code of emit()).
  Value mi = e.div(lane, e.idx(8));
  Value aRow = e.add(e.mul(e.rem(mi, e.idx(2)), e.idx(8)), e.rem(lane, e.idx(8)));
  Value aCol = e.mul(e.div(mi, e.idx(2)), e.idx(8));
  Value scaleV = e.f32(c.scale);
  SmallVector<Value> kvFinal = e.forLoop(
      zeroI, numBlocks, one, kv0, [&](Value t, ValueRange carried) {
        SmallVector<Value> kv(carried.begin(), carried.end());
        load(e.add(t, one));
        Value tok = commit();
        nvgpu::DeviceAsyncWaitOp::create(b, loc, tok, b.getI32IntegerAttr(1));
        gpu::BarrierOp::create(b, loc);
        Value stage = e.rem(t, e.idx(2));
        Value row0 = e.mul(t, e.idx(bl));
        Value len = e.min(e.idx(bl), e.sub(n, row0));

        // Q fragments of this warp's rows.
        SmallVector<Value> qa;
        Value qRow = e.add(e.mul(warp, e.idx(16)), aRow);
        for (int64_t kk = 0; kk < c.d / 16; ++kk)
          qa.push_back(nvgpu::LdMatrixOp::create(
              b, loc, vec({4, 2}, c.elt), sQ,
              ValueRange{stage, qRow, e.add(aCol, e.idx(kk * 16))}, false, 4));
        // Inter-block: O = Q KV, then rows times c l^(i+1).
        SmallVector<Value> o(nTiles, zeros(accT));
        for (int64_t kk = 0; kk < c.d / 16; ++kk)
          for (int64_t dd = 0; dd < ev / 16; ++dd) {
            Value frag = nvgpu::LdMatrixOp::create(
                b, loc, vec({4, 2}, c.elt), sKV,
                ValueRange{e.add(aRow, e.idx(kk * 16)),
                           e.add(aCol, e.idx(dd * 16))},
                true, 4);
            for (int64_t hf = 0; hf < 2; ++hf) {
              Value bFrag = halfOf(frag, hf);
              o[2 * dd + hf] = mma(qa[kk], bFrag, o[2 * dd + hf]);
            }
          }
        Value rowIdx[2], rowScale[2];
        for (int64_t hf = 0; hf < 2; ++hf) {
          rowIdx[hf] = e.add(e.mul(warp, e.idx(16)),
                             e.add(groupRow, e.idx(8 * hf)));
          rowScale[hf] = mulf(scaleV, pow(e.add(rowIdx[hf], one)));
        }
        Value rowScaleV = vector::FromElementsOp::create(
            b, loc, accT,
            ValueRange{rowScale[0], rowScale[0], rowScale[1], rowScale[1]});
        for (Value &oj : o)
          oj = arith::MulFOp::create(b, loc, oj, rowScaleV);

        // Intra-block: S = c Q K^T times the decay mask, then O += S V.
        SmallVector<Value> sc = scores(qa, stage);
        for (int64_t j = 0; j < bl / 8; ++j)
          for (int64_t hf = 0; hf < 2; ++hf)
            for (int64_t x = 0; x < 2; ++x) {
              Value key = e.add(e.idx(8 * j + x), e.mul(quadCol, e.idx(2)));
              Value dist = e.sub(rowIdx[hf], key);
              Value decay = mulf(scaleV, pow(e.max(dist, zeroI)));
              Value v = mulf(extract(sc[j], {hf, x}), decay);
              v = e.select(e.cmp(arith::CmpIPredicate::sge, dist, zeroI), v,
                           e.f32(0));
              sc[j] = insert(v, sc[j], {hf, x});
            }
        VectorType half2 = vec({2}, c.elt);
        auto vFrags = [&](int64_t kk, int64_t dd) {
          Value frag = nvgpu::LdMatrixOp::create(
              b, loc, vec({4, 2}, c.elt), sV,
              ValueRange{stage, e.add(aRow, e.idx(kk * 16)),
                         e.add(aCol, e.idx(dd * 16))},
              true, 4);
          return SmallVector<Value>{halfOf(frag, 0), halfOf(frag, 1)};
        };
        for (int64_t kk = 0; kk < bl / 16; ++kk) {
          Value pa = zeros(vec({4, 2}, c.elt));
          for (int64_t blk = 0; blk < 2; ++blk)
            for (int64_t hf = 0; hf < 2; ++hf)
              pa = insert(arith::TruncFOp::create(b, loc, half2,
                                                  extract(sc[2 * kk + blk], {hf})),
                          pa, {2 * blk + hf});
          for (int64_t dd = 0; dd < ev / 16; ++dd) {
            SmallVector<Value> bf = vFrags(kk, dd);
            for (int64_t hf = 0; hf < 2; ++hf)
              o[2 * dd + hf] = mma(pa, bf[hf], o[2 * dd + hf]);
          }
        }
        // Rows inside the sequence.
        for (int64_t hf = 0; hf < 2; ++hf) {
          Value row = e.add(row0, rowIdx[hf]);
          e.ifThen(e.cmp(arith::CmpIPredicate::slt, row, n), [&] {
            for (int64_t j = 0; j < nTiles; ++j) {
              Value pair = extract(o[j], {hf});
              if (!c.outElt.isF32())
                pair = arith::TruncFOp::create(b, loc, vec({2}, c.outElt), pair);
              vector::StoreOp::create(b, loc, pair, a.o,
                                      ValueRange{batch, head, row,
                                                 e.add(e0, kvCol(j))});
            }
          });
        }

        // State: KV = l^len KV + (K * l^(len-1-j))^T V. A = K^T by
        // transposed ldmatrix of K's rows (matrix mi: d half mi % 2, key
        // half mi / 2); keys at or past len are zero rows.
        Value lLen = pow(len);
        Value lLenV = vector::BroadcastOp::create(b, loc, accT, lLen);
        for (Value &f : kv)
          f = arith::MulFOp::create(b, loc, f, lLenV);
        Value aKey = e.add(e.mul(e.div(mi, e.idx(2)), e.idx(8)),
                           e.rem(lane, e.idx(8)));
        Value aD = e.mul(e.rem(mi, e.idx(2)), e.idx(8));
        for (int64_t kk = 0; kk < bl / 16; ++kk) {
          // Decay of the 4 key pairs of this thread's A fragment: element
          // (r, x) is key 16 kk + 8 (r / 2) + 2 t + x.
          Value coef[2][2];
          for (int64_t kh = 0; kh < 2; ++kh)
            for (int64_t x = 0; x < 2; ++x) {
              Value key = e.add(e.idx(16 * kk + 8 * kh + x),
                                e.mul(quadCol, e.idx(2)));
              Value expo = e.sub(e.sub(len, one), key);
              coef[kh][x] = e.select(e.cmp(arith::CmpIPredicate::sge, expo, zeroI),
                                     pow(e.max(expo, zeroI)), e.f32(0));
            }
          SmallVector<SmallVector<Value>> bfs;
          for (int64_t dd = 0; dd < ev / 16; ++dd)
            bfs.push_back(vFrags(kk, dd));
          for (int64_t mt = 0; mt < mTiles; ++mt) {
            Value dRow = e.add(e.mul(warp, e.idx(c.d / 4)),
                               e.add(e.idx(mt * 16), aD));
            Value frag = nvgpu::LdMatrixOp::create(
                b, loc, vec({4, 2}, c.elt), sK,
                ValueRange{stage, e.add(aKey, e.idx(kk * 16)), dRow}, true, 4);
            for (int64_t r = 0; r < 4; ++r) {
              Value row = arith::ExtFOp::create(b, loc, vec({2}, f32),
                                                extract(frag, {r}));
              Value cv = vector::FromElementsOp::create(
                  b, loc, vec({2}, f32),
                  ValueRange{coef[r / 2][0], coef[r / 2][1]});
              row = arith::MulFOp::create(b, loc, row, cv);
              frag = insert(arith::TruncFOp::create(b, loc, vec({2}, c.elt), row),
                            frag, {r});
            }
            for (int64_t dd = 0; dd < ev / 16; ++dd)
              for (int64_t hf = 0; hf < 2; ++hf) {
                int64_t j = mt * nTiles + 2 * dd + hf;
                kv[j] = mma(frag, bfs[dd][hf], kv[j]);
              }
          }
        }
        // Every warp is done with this stage and with the state copy.
        gpu::BarrierOp::create(b, loc);
        storeKV(kv);
        return kv;
      });
  if (a.stateOut)
    for (int64_t mt = 0; mt < mTiles; ++mt)
      for (int64_t j = 0; j < nTiles; ++j)
        for (int64_t hf = 0; hf < 2; ++hf)
          vector::StoreOp::create(
              b, loc, extract(kvFinal[mt * nTiles + j], {hf}), a.stateOut,
              ValueRange{batch, head, kvRow(mt, hf), e.add(e0, kvCol(j))});
}

} // namespace mlir::attn::gpucg
