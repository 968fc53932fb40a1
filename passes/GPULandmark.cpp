//===- GPULandmark.cpp - landmark scores and top-k ------------------------===//
// Landmark attention on the GPU: adjusted scores of a landmark block, and
// top-k retrieval (each row's k best blocks, the CTA's tile schedule).
//===----------------------------------------------------------------------===//
#include "passes/GPUCodegen.h"

using namespace mlir;
using namespace mlir::attn;

namespace mlir::attn::gpucg {

SmallVector<Value> KernelCodegen::landmarkScores(ArrayRef<Value> s, Value n0,
                                                Value pos[2]) {
  OpBuilder &b = e.b;
  int64_t L = c.landmark;
  SmallVector<Value> out(s);
  Value scaleLog2 = e.f32(c.scale * M_LOG2E);
  Value tileBlock = e.div(n0, e.idx(L));
  Value colBase = e.mul(quadCol, e.idx(2));
  // The landmark's score is column L - 1: lane 3 of each quad holds it.
  Value lmLane = e.toI32(e.add(e.mul(groupRow, e.idx(4)), e.idx(3)));
  for (int64_t hf = 0; hf < 2; ++hf) {
    Value rowBlock = arith::FloorDivSIOp::create(b, e.loc, pos[hf], e.idx(L));
    // Block-local log-sum-exp over the non-landmark keys, in raw units.
    Value mx = negInf();
    for (int64_t j = 0; j < L / 8; ++j)
      for (int64_t x = 0; x < 2; ++x) {
        Value col = e.add(colBase, e.idx(8 * j + x));
        Value isLm = e.cmp(arith::CmpIPredicate::eq, col, e.idx(L - 1));
        mx = maxf(mx, e.select(isLm, negInf(), extract(s[j], {hf, x})));
      }
    mx = maxf(mx, shuffleXor(mx, 1));
    mx = maxf(mx, shuffleXor(mx, 2));
    Value sum = e.f32(0);
    for (int64_t j = 0; j < L / 8; ++j)
      for (int64_t x = 0; x < 2; ++x) {
        Value col = e.add(colBase, e.idx(8 * j + x));
        Value isLm = e.cmp(arith::CmpIPredicate::eq, col, e.idx(L - 1));
        Value p = exp2(mulf(subf(extract(s[j], {hf, x}), mx), scaleLog2));
        sum = addf(sum, e.select(isLm, e.f32(0), p));
      }
    sum = addf(sum, shuffleXor(sum, 1));
    sum = addf(sum, shuffleXor(sum, 2));
    Value lseBlock = addf(mx, arith::DivFOp::create(b, e.loc, log2(sum),
                                                    scaleLog2));
    Value lmScore = gpu::ShuffleOp::create(b, e.loc, extract(s[L / 8 - 1], {hf, 1}),
                                           lmLane, i32(32),
                                           gpu::ShuffleMode::IDX)
                        .getShuffleResult();
    Value shiftBy = subf(lmScore, lseBlock);
    Value earlier = e.cmp(arith::CmpIPredicate::slt, tileBlock, rowBlock);
    Value own = e.cmp(arith::CmpIPredicate::eq, tileBlock, rowBlock);
    // Top-k: an earlier block counts only when the row retrieved it.
    Value picked = earlier;
    if (c.topk) {
      Value tb = e.toI32(tileBlock);
      Value any = arith::ConstantOp::create(b, e.loc, b.getBoolAttr(false));
      for (Value blk : chosen[hf])
        any = arith::OrIOp::create(
            b, e.loc, any, e.cmp(arith::CmpIPredicate::eq, blk, tb));
      picked = arith::AndIOp::create(b, e.loc, earlier, any);
    }
    for (int64_t j = 0; j < L / 8; ++j)
      for (int64_t x = 0; x < 2; ++x) {
        Value col = e.add(colBase, e.idx(8 * j + x));
        Value key = e.add(n0, col);
        Value isLm = e.cmp(arith::CmpIPredicate::eq, col, e.idx(L - 1));
        Value raw = extract(out[j], {hf, x});
        Value seen = e.cmp(arith::CmpIPredicate::sle, key, pos[hf]);
        Value v = e.select(picked, addf(raw, shiftBy),
                           e.select(arith::AndIOp::create(b, e.loc, own, seen),
                                    raw, negInf()));
        v = e.select(isLm, negInf(), v);
        out[j] = insert(v, out[j], {hf, x});
      }
  }
  return out;
}

/// The landmark keys of blocks [0, blocks) come in tiles of BN (rows L - 1 +
/// L t of K: the strided copy of dilated phases) through two stages of the
/// K ring (four in flight, through the V ring too, measured no faster), and
/// are scored by the same mma.sync code as the key tiles. Each lane keeps,
/// for each of its two rows, the k best (score, block) pairs of
/// its columns, ordered by score and then by earlier block (SPEC's tie
/// rule); the quad's four lists are merged by shuffles in the same total
/// order, so the four lanes of a row end with the same list.
void KernelCodegen::selectTopk(ArrayRef<Value> qa, const KernelArgs &a,
                               const TileWork &w, Value rowBlock[2],
                               Value blocks) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  int64_t k = c.topk, L = c.landmark, bn = c.blockN;
  Value none = i32(kNoBlock);
  // Compare in the softmax's direction: a negative scale reverses it.
  Value sign = e.f32(c.scale < 0 ? -1.0 : 1.0);
  Value tiles = e.ceilDiv(blocks, e.idx(bn));
  auto load = [&](Value t) {
    e.ifThen(e.cmp(arith::CmpIPredicate::slt, t, tiles), [&] {
      copyTile(a.k, w.batch, w.kvHead, e.mul(t, e.idx(bn)), blocks,
               e.idx(L - 1), e.idx(L), bn, c.d, sK, e.rem(t, e.idx(2)));
    });
  };
  auto tokenType = nvgpu::DeviceAsyncTokenType::get(b.getContext());
  auto commit = [&] {
    return nvgpu::DeviceAsyncCreateGroupOp::create(b, loc, tokenType,
                                                   ValueRange{})
        .getResult();
  };
  // A list is k scores then k blocks, best first. Insertion carries the
  // displaced entry down; (-inf, kNoBlock) never displaces anything.
  auto insertInto = [&](MutableArrayRef<Value> list, Value sc, Value blk) {
    for (int64_t i = 0; i < k; ++i) {
      Value si = list[i], bi = list[k + i];
      Value beats = arith::OrIOp::create(
          b, loc, e.cmpf(arith::CmpFPredicate::OGT, sc, si),
          arith::AndIOp::create(b, loc,
                                e.cmpf(arith::CmpFPredicate::OEQ, sc, si),
                                e.cmp(arith::CmpIPredicate::slt, blk, bi)));
      list[i] = e.select(beats, sc, si);
      list[k + i] = e.select(beats, blk, bi);
      sc = e.select(beats, si, sc);
      blk = e.select(beats, bi, blk);
    }
  };
  SmallVector<Value> init;
  for (int64_t hf = 0; hf < 2; ++hf) {
    init.append(k, negInf());
    init.append(k, none);
  }
  load(e.idx(0));
  commit();
  SmallVector<Value> best = e.forLoop(
      e.idx(0), tiles, e.idx(1), init,
      [&](Value t, ValueRange carried) {
        load(e.add(t, e.idx(1)));
        nvgpu::DeviceAsyncWaitOp::create(b, loc, commit(),
                                         b.getI32IntegerAttr(1));
        gpu::BarrierOp::create(b, loc);
        SmallVector<Value> s = scores(qa, e.rem(t, e.idx(2)));
        SmallVector<Value> next(carried.begin(), carried.end());
        Value colBase = e.add(e.mul(t, e.idx(bn)), e.mul(quadCol, e.idx(2)));
        for (int64_t hf = 0; hf < 2; ++hf) {
          SmallVector<Value> cand, candBlk;
          Value top = negInf();
          for (int64_t j = 0; j < bn / 8; ++j)
            for (int64_t x = 0; x < 2; ++x) {
              Value blk = e.add(colBase, e.idx(8 * j + x));
              Value ok = e.cmp(arith::CmpIPredicate::slt, blk, rowBlock[hf]);
              cand.push_back(e.select(
                  ok, mulf(extract(s[j], {hf, x}), sign), negInf()));
              candBlk.push_back(e.select(ok, e.toI32(blk), none));
              top = maxf(top, cand.back());
            }
          // This lane's blocks only grow, so a tile whose best score does
          // not beat the k-th kept one changes nothing (ties keep the
          // earlier block): skip its insertions, as most tiles do.
          MutableArrayRef<Value> list =
              MutableArrayRef<Value>(next).slice(2 * k * hf, 2 * k);
          SmallVector<Type> types(ValueRange(list).getTypes());
          auto ifOp = scf::IfOp::create(
              b, loc, types, e.cmpf(arith::CmpFPredicate::OGT, top, list[k - 1]),
              true);
          {
            OpBuilder::InsertionGuard g(b);
            b.setInsertionPointToStart(&ifOp.getThenRegion().front());
            SmallVector<Value> inserted(list.begin(), list.end());
            for (auto [sc, blk] : llvm::zip(cand, candBlk))
              insertInto(inserted, sc, blk);
            scf::YieldOp::create(b, loc, inserted);
            b.setInsertionPointToStart(&ifOp.getElseRegion().front());
            scf::YieldOp::create(b, loc, SmallVector<Value>(list));
          }
          llvm::copy(ifOp.getResults(), list.begin());
        }
        // The next iteration's copy may overwrite this stage.
        gpu::BarrierOp::create(b, loc);
        return next;
      });
  for (int64_t hf = 0; hf < 2; ++hf) {
    MutableArrayRef<Value> list = MutableArrayRef<Value>(best).slice(2 * k * hf,
                                                                     2 * k);
    for (int64_t offset : {1, 2}) {
      SmallVector<Value> theirs;
      for (Value v : list)
        theirs.push_back(shuffleXor(v, offset));
      for (int64_t i = 0; i < k; ++i)
        insertInto(list, theirs[i], theirs[k + i]);
    }
    chosen[hf].assign(list.begin() + k, list.end());
  }
}

Value KernelCodegen::warpNextBlock(Value x, Value ownLo, Value ownHi) {
  Value none = i32(kNoBlock);
  Value next = e.select(e.cmp(arith::CmpIPredicate::slt, x, ownHi),
                        e.max(arith::AddIOp::create(e.b, e.loc, x, i32(1)),
                              ownLo),
                        none);
  for (int64_t hf = 0; hf < 2; ++hf)
    for (Value blk : chosen[hf])
      next = e.min(next, e.select(e.cmp(arith::CmpIPredicate::sgt, blk, x),
                                  blk, none));
  for (int64_t offset = 16; offset >= 1; offset /= 2)
    next = e.min(next, shuffleXor(next, offset));
  return next;
}

void KernelCodegen::publish(Value v, Value buf) {
  e.ifThen(e.cmp(arith::CmpIPredicate::eq, lane, e.idx(0)), [&] {
    e.store(v, slots, {e.add(e.mul(buf, e.idx(c.warps)), warp)});
  });
}

Value KernelCodegen::minOfWarps(Value buf) {
  Value m = i32(kNoBlock);
  for (int64_t wp = 0; wp < c.warps; ++wp)
    m = e.min(m, e.load(slots, {e.add(e.mul(buf, e.idx(c.warps)), e.idx(wp))}));
  return m;
}

/// Scores outside [lo, hi] of their row become -inf (partial tiles only).

} // namespace mlir::attn::gpucg
