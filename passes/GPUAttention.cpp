//===- GPUAttention.cpp - the attention kernel body -----------------------===//
// The body of one attention kernel: the CTA's key tiles from the pattern
// interface, the load pipeline, both products, the online softmax and the
// epilogue (store, or log-sum-exp merge for `accumulate`), each a named
// step of KernelCodegen sharing `cur`.
//===----------------------------------------------------------------------===//
#include "passes/GPUCodegen.h"

using namespace mlir;
using namespace mlir::attn;

namespace mlir::attn::gpucg {

void KernelCodegen::setup() {
  Value tid = gpu::ThreadIdOp::create(e.b, e.loc, gpu::Dimension::x);
  warp = warpVec = e.div(tid, e.idx(32));
  lane = e.rem(tid, e.idx(32));
  if (c.ws) {
    // The warp index through a shuffle from lane 0: ptxas then knows it is
    // warp-uniform, so the branches on the warp's role are not divergent
    // paths (wgmma in a divergent path is serialized).
    auto op = gpu::ShuffleOp::create(e.b, e.loc, e.toI32(warp), i32(0), i32(32),
                                     gpu::ShuffleMode::IDX);
    warp = e.fromU32(op.getShuffleResult());
    // The rows of a thread take the plain tid / 32 (warpVec): a per-thread
    // value anyway, and kept out of the uniform registers, whose pressure
    // made ptxas spill the persistent causal kernel (12 bytes, gone).
  }
  groupRow = e.div(lane, e.idx(4));
  quadCol = e.rem(lane, e.idx(4));
}

void KernelCodegen::emit(PatternAttrInterface pattern, const KernelArgs &a,
                         Value smemBase, const TileWork &w) {
  cur = AttentionTile();
  cur.pattern = pattern;
  cur.a = a;
  cur.w = w;
  cur.smemBase = smemBase;
  cur.m0 = e.mul(w.qt, e.idx(c.blockM));
  cur.shift = e.sub(w.nk, w.nq); // query row i sits at position nk - nq + i
  layoutTiles();
  boundKeyTiles();

  if (c.tma)
    prologueTma();
  else if (c.topk)
    prologueTopk();
  else
    prologueCpAsync();
  if (!c.wgmma && !c.topk)
    cur.qa = loadQFragments();
  initState();

  SmallVector<Value> state;
  if (c.ws)
    state = loopWarpSpecialized();
  else if (!c.topk)
    state = loopCpAsync();
  else
    state = loopTopk();
  epilogue(state);
  if (cur.roles)
    e.b.setInsertionPointAfter(cur.roles);
}

void KernelCodegen::initState() {
  // Loop state: running max (raw score units) and partial sums of the two
  // rows, and the O accumulators (Dv / 8 fragments of m16n8).
  Type f32 = e.b.getF32Type();
  cur.accT = vec({2, 2}, f32);
  cur.init = {negInf(), negInf(), e.f32(0), e.f32(0)};
  for (int64_t j = 0; j < c.dv / 8; ++j)
    cur.init.push_back(zeros(cur.accT));
  cur.scaleLog2 = e.f32(c.scale * M_LOG2E);
  // Async Q K^T: the next tile's S rides in the loop's state, last.
  if (c.asyncQK)
    cur.init.push_back(issueTile(e.idx(0)));
}

void KernelCodegen::emitPersistent(PatternAttrInterface pattern,
                                   const KernelArgs &a, Value smemBase,
                                   const TileWork &w, Value heads,
                                   Value batches, Value kvGroup,
                                   Value counters) {
  // The producer's leader picks the items: CTA x's first is x, each next
  // one grid + counters[0]++ (or, without counters, the item a grid
  // further). Per item it waits until the consumers are done with the last
  // one's Q (Q's empty barrier, one phase per item), writes the item to
  // the slot, loads Q (the slot's write is released by that arrival) and
  // the item's key tiles into the ring, whose stages and phases run on
  // across items. Past the last item it writes `total` to the slot and
  // arrives on Q's barrier without a load. The consumers wait for Q (phase
  // j % 2 of its barrier for their j-th item), read the slot, run the key
  // tiles, release Q after their last Q K^T and store O while the producer
  // is already loading the next item. The item loops and counters are
  // 32-bit (64-bit ones cost registers the consumers lack).
  // The counter goes back to 0 for the next launch: every CTA's fetches
  // end with one past the items, so the one that draws total - 1 draws
  // last and resets it.
  OpBuilder &b = e.b;
  Location loc = e.loc;
  cur = AttentionTile();
  cur.pattern = pattern;
  cur.a = a;
  cur.w = w;
  cur.smemBase = smemBase;
  cur.shift = e.sub(w.nk, w.nq);
  layoutTiles();
  initBarriers();
  Type i32T = b.getI32Type();
  Value tiles = e.toI32(e.ceilDiv(w.nq, e.idx(c.blockM)));
  Value heads32 = e.toI32(heads), batches32 = e.toI32(batches);
  Value total = e.mul(e.mul(tiles, heads32), batches32);
  Value first = e.toI32(gpu::BlockIdOp::create(b, loc, gpu::Dimension::x));
  Value grid = e.toI32(gpu::GridDimOp::create(b, loc, gpu::Dimension::x));
  auto setSlot = [&](ArrayRef<Value> words) {
    for (auto [k, v] : llvm::enumerate(words))
      LLVM::StoreOp::create(b, loc, v, itemSlot(k));
  };
  auto waitQEmpty = [&](Value j) {
    e.ifThen(e.cmp(arith::CmpIPredicate::sgt, j, i32(0)), [&] {
      waitBarrier(qEmptyBarrier(), e.rem(e.add(j, i32(1)), i32(2)));
    });
  };
  Value dynamic = e.cmp(
      arith::CmpIPredicate::ne,
      memref::ExtractAlignedPointerAsIndexOp::create(b, loc, counters),
      e.idx(0));
  Value barQ = barrier(e.idx(c.stages));

  cur.roles = scf::IfOp::create(
      b, loc, e.cmp(arith::CmpIPredicate::sge, warp, e.idx(c.warps)), true);
  b.setInsertionPointToStart(&cur.roles.getThenRegion().front());
  NVVM::SetMaxRegisterOp::create(b, loc, c.producerRegs(),
                                 NVVM::SetMaxRegisterAction::decrease);
  e.ifThen(leader, [&] {
    SmallVector<Value> init = {first, i32(0), i32(0)};
    SmallVector<Value> end = e.whileLoop(
        ValueRange(init).getTypes(), init,
        [&](ValueRange carried) {
          return std::make_pair(
              e.cmp(arith::CmpIPredicate::ult, carried[0], total),
              SmallVector<Value>(carried));
        },
        [&](ValueRange carried) {
          Value i = carried[0], j = carried[2];
          cur.tileBase = carried[1];
          SmallVector<Value, 4> words =
              itemOf(i, tiles, heads32, batches32, grid, kvGroup);
          takeItem(words);
          waitQEmpty(j);
          setSlot(words);
          expectBytes(barQ, c.blockM * c.d * cur.eb);
          tmaTile(cur.w.mapQ, cur.w.tmaRate, barQ, e.idx(0), c.blockM, c.d,
                  e.add(cur.w.qBase, e.mul(cur.w.stride, cur.m0)),
                  cur.w.head, cur.w.batch);
          produceKeyTiles();
          auto next = scf::IfOp::create(b, loc, TypeRange{i32T}, dynamic,
                                        /*withElseRegion=*/true);
          {
            OpBuilder::InsertionGuard g(b);
            b.setInsertionPointToStart(&next.getThenRegion().front());
            Value drawn = memref::AtomicRMWOp::create(
                b, loc, arith::AtomicRMWKind::addi, i32(1), counters,
                ValueRange{e.idx(0)});
            scf::YieldOp::create(b, loc, ValueRange{e.add(grid, drawn)});
            b.setInsertionPointToStart(&next.getElseRegion().front());
            scf::YieldOp::create(b, loc, ValueRange{e.add(i, grid)});
          }
          return SmallVector<Value>{next.getResult(0),
                                    e.add(carried[1], e.toI32(cur.numTiles)),
                                    e.add(j, i32(1))};
        });
    Value iEnd = end[0], jEnd = end[2];
    waitQEmpty(jEnd);
    setSlot({i32(-1)});
    NVVM::MBarrierArriveOp::create(b, loc, Type(), barQ, Value(),
                                   NVVM::MemScopeKind::CTA, false);
    Value last = arith::AndIOp::create(
        b, loc, dynamic,
        e.cmp(arith::CmpIPredicate::eq, e.sub(iEnd, grid),
              e.sub(total, i32(1))));
    e.ifThen(last, [&] {
      memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::assign,
                                  i32(0), counters, ValueRange{e.idx(0)});
    });
  });
  b.setInsertionPoint(cur.roles.getElseRegion().front().getTerminator());
  NVVM::SetMaxRegisterOp::create(b, loc, c.consumerRegs(),
                                 NVVM::SetMaxRegisterAction::increase);
  SmallVector<Value> init = {i32(0), i32(0)};
  e.whileLoop(
      TypeRange{i32T, i32T, i32T}, init,
      [&](ValueRange carried) {
        waitBarrier(barQ, e.rem(carried[1], i32(2)));
        Value qt = LLVM::LoadOp::create(b, loc, i32T, itemSlot(0));
        return std::make_pair(e.cmp(arith::CmpIPredicate::sge, qt, i32(0)),
                              SmallVector<Value>{qt, carried[0], carried[1]});
      },
      [&](ValueRange carried) {
        // The consumers take the item as the producer decoded it (the
        // decoding's grid and sizes would stay live across the role split,
        // which made ptxas spill).
        cur.tileBase = carried[1];
        SmallVector<Value, 4> words = {carried[0]};
        for (int64_t k = 1; k < 4; ++k)
          words.push_back(LLVM::LoadOp::create(b, loc, i32T, itemSlot(k)));
        takeItem(words);
        initState();
        SmallVector<Value> state = loopWarpSpecialized();
        // Every Q K^T of the item has completed (the loop's last wait):
        // the producer may overwrite Q and the slot.
        NVVM::MBarrierArriveOp::create(b, loc, Type(), qEmptyBarrier(),
                                       Value(), NVVM::MemScopeKind::CTA,
                                       false);
        epilogue(state);
        return SmallVector<Value>{e.add(carried[1], e.toI32(cur.numTiles)),
                                  e.add(carried[2], i32(1))};
      });
  b.setInsertionPointAfter(cur.roles);
}

SmallVector<Value, 4> KernelCodegen::itemOf(Value i, Value tiles,
                                            Value heads, Value batches,
                                            Value grid, Value kvGroup) {
  // Groups of g = max(1, grid / tiles) (batch, head) pairs, the last one
  // maybe smaller; item r of a group of n pairs: query tile
  // tiles - 1 - r / n of pair r mod n. With about one grid's worth per
  // group, the CTAs in flight read the K and V of two groups' heads at
  // most (four grids' worth re-read K and V from DRAM: 2.1x the bytes of
  // cuDNN's kernel at N = 1K, H100).
  // (e.div / e.rem are unsigned.)
  Value pairs = e.mul(heads, batches);
  Value g = arith::MaxUIOp::create(e.b, e.loc, e.div(grid, tiles), i32(1));
  Value perGroup = e.mul(g, tiles);
  Value group = e.div(i, perGroup);
  Value r = e.rem(i, perGroup);
  Value pair0 = e.mul(group, g);
  Value n = arith::MinUIOp::create(e.b, e.loc, g, e.sub(pairs, pair0));
  Value pair = e.add(pair0, e.rem(r, n));
  Value head = e.rem(pair, heads);
  return {e.sub(e.sub(tiles, i32(1)), e.div(r, n)), head, e.div(pair, heads),
          e.div(head, kvGroup)};
}

void KernelCodegen::takeItem(ArrayRef<Value> words) {
  cur.w.qt = e.fromU32(words[0]);
  cur.w.head = e.fromU32(words[1]);
  cur.w.batch = e.fromU32(words[2]);
  cur.w.kvHead = e.fromU32(words[3]);
  cur.m0 = e.mul(cur.w.qt, e.idx(c.blockM));
  boundKeyTiles();
}

void KernelCodegen::layoutTiles() {
  // Shared memory: Q [BM][D+pad], K [S][BN][D+pad], V [S][BN][Dv+pad].
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value smemBase = cur.smemBase;
  int64_t eb = cur.eb = c.elt.getIntOrFloatBitWidth() / 8;
  auto smemView = [&](ArrayRef<int64_t> shape, int64_t byteOffset) {
    return tileView(smemBase, shape, byteOffset);
  };
  int64_t qBytes = cur.qBytes = c.blockM * (c.d + c.qkPad()) * eb;
  int64_t kBytes = cur.kBytes = c.stages * c.blockN * (c.d + c.qkPad()) * eb;
  int64_t vBytes = cur.vBytes = c.stages * c.blockN * (c.dv + c.vPad()) * eb;
  if (c.tma) {
    sQ = smemView({c.blockM * c.d}, 0);
    sK = smemView({c.stages, c.blockN * c.d}, qBytes);
    sV = smemView({c.stages, c.blockN * c.dv}, qBytes + kBytes);
    smemAddr = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, smemBase);
    barOffset = qBytes + kBytes + vBytes;
    // The thread that issues the loads: thread 0, or the producer warp's
    // first lane.
    leader = e.cmp(arith::CmpIPredicate::eq,
                   e.add(e.mul(warp, e.idx(32)), lane),
                   e.idx(c.ws ? 32 * c.warps : 0));
  } else if (c.wgmma) {
    sQ = smemView({c.blockM * c.d}, 0);
    sK = smemView({c.stages, c.blockN * c.d}, qBytes);
  } else {
    sQ = smemView({c.blockM, c.d + kPad}, 0);
    sK = smemView({c.stages, c.blockN, c.d + kPad}, qBytes);
  }
  if (!c.tma)
    sV = smemView({c.stages, c.blockN, c.dv + kPad}, qBytes + kBytes);
  if (c.topk)
    slots = tileView(smemBase, {2 * c.warps}, c.tileBytes(), b.getI32Type());
}

void KernelCodegen::boundKeyTiles() {
  // Key tiles of this query tile, from the pattern interface.
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value nq = cur.w.nq, nk = cur.w.nk, m0 = cur.m0, shift = cur.shift;
  bool packed = bool(cur.w.group);
  Value valid = packed ? e.mul(cur.w.group, nq)
                       : e.min(e.idx(c.blockM), e.sub(nq, m0));
  cur.validRows = valid;
  cur.pFirst = e.add(shift, m0);
  // Packed rows hold every query of the sequence (m0 = 0).
  cur.pLast = packed ? e.add(shift, e.sub(nq, e.idx(1)))
                     : e.add(shift, e.add(m0, e.sub(valid, e.idx(1))));
  KeyTileBounds &kt = cur.kt;
  if (c.landmark) {
    // Every block up to the last query's own one, one key tile per block.
    kt.first = e.idx(0);
    kt.last = e.max(e.min(e.add(cur.pLast, e.idx(1)), nk), e.idx(0));
  } else {
    kt = cur.pattern.buildKeyTiles(b, loc, cur.pFirst, cur.pLast, nk);
  }
  Value span = e.max(e.sub(kt.last, kt.first), e.idx(0));
  cur.numTiles = e.ceilDiv(span, e.idx(c.blockN));
  if (cur.w.splits) {
    // Split-KV: this CTA's share of the tiles, contiguous (the masks and
    // full-tile tests do not depend on where the visit starts).
    Value per = e.ceilDiv(cur.numTiles, cur.w.splits);
    Value start = e.min(e.mul(cur.w.split, per), cur.numTiles);
    kt.first = e.add(kt.first, e.mul(start, e.idx(c.blockN)));
    cur.numTiles = e.min(per, e.sub(cur.numTiles, start));
  }

  // Bounds of this thread's two rows (rows past nq repeat the last one).
  for (int64_t half = 0; half < 2; ++half) {
    cur.rows[half] = e.add(e.mul(warpVec, e.idx(16)),
                           e.add(groupRow, e.idx(8 * half)));
    Value row = packed ? packedRow(cur.rows[half]).second
                       : e.min(e.add(m0, cur.rows[half]), e.sub(nq, e.idx(1)));
    cur.pos[half] = e.add(shift, row);
    if (!c.landmark) {
      // 32 bits: they stay live through the loop (for the masks).
      auto [l, h] =
          cur.pattern.buildClampedRowBounds(b, loc, cur.pos[half], nk);
      cur.lo[half] = e.toI32(l);
      cur.hi[half] = e.toI32(h);
    }
  }
}

Value KernelCodegen::commitGroup() {
  auto tokenType = nvgpu::DeviceAsyncTokenType::get(e.b.getContext());
  return nvgpu::DeviceAsyncCreateGroupOp::create(e.b, e.loc, tokenType,
                                                 ValueRange{})
      .getResult();
}

void KernelCodegen::loadKVAt(Value stage, Value n0, Value due) {
  const TileWork &w = cur.w;
  const KernelArgs &a = cur.a;
  Value batch = w.batch, kvHead = w.kvHead, nk = w.nk;
  int64_t eb = cur.eb, qBytes = cur.qBytes, kBytes = cur.kBytes;
  if (c.tma) {
    e.ifThen(arith::AndIOp::create(e.b, e.loc, due, leader), [&] {
      Value bar = barrier(stage);
      expectBytes(bar, c.blockN * (c.d + c.dv) * eb);
      Value row0 = e.add(w.kBase, e.mul(w.stride, n0));
      tmaTile(w.mapK, w.tmaRate, bar,
              e.add(e.idx(qBytes), e.mul(stage, e.idx(c.blockN * c.d * eb))),
              c.blockN, c.d, row0, kvHead, batch, c.kvBoxRows);
      tmaTile(w.mapV, w.tmaRate, bar,
              e.add(e.idx(qBytes + kBytes),
                    e.mul(stage, e.idx(c.blockN * c.dv * eb))),
              c.blockN, c.dv, row0, kvHead, batch, c.kvBoxRows);
    });
    return;
  }
  e.ifThen(due, [&] {
    copyTile(a.k, batch, kvHead, n0, nk, w.kBase, w.stride, c.blockN, c.d,
             sK, stage, Value(), &w.pages);
    copyTile(a.v, batch, kvHead, n0, nk, w.kBase, w.stride, c.blockN, c.dv,
             sV, stage, Value(), &w.pages);
  });
}

void KernelCodegen::loadKV(Value tile) {
  loadKVAt(e.rem(tile, e.idx(c.stages)),
           e.add(cur.kt.first, e.mul(tile, e.idx(c.blockN))),
           e.cmp(arith::CmpIPredicate::slt, tile, cur.numTiles));
}

void KernelCodegen::prologueTma() {
  // Prologue: the leader sets up the barriers (one arrival each: its
  // expect-tx), then starts Q and the first stages - 1 key tiles; rows
  // past the sequence arrive zero-filled (TMA's out-of-bounds fill).
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const TileWork &w = cur.w;
  initBarriers();
  Value barQ = barrier(e.idx(c.stages));
  e.ifThen(leader, [&] {
    expectBytes(barQ, c.blockM * c.d * cur.eb);
    // Rows past the sequence (rate-1 strided rows: past the segment) are
    // computed and not stored. Past a segment, K and V rows are the next
    // segment's, not TMA's zero fill: their scores are masked (P = 0), so
    // only non-finite values there would reach O (as NaN).
    tmaTile(w.mapQ, w.tmaRate, barQ, e.idx(0), c.blockM, c.d,
            e.add(w.qBase, e.mul(w.stride, cur.m0)), w.head, w.batch);
  });
  if (c.ws) {
    // The producer warpgroup's first thread loads every key tile in
    // order, each once its stage's previous use is released (use u waits
    // for phase u - 1 of the empty barrier); its other threads have
    // nothing to do. The consumer warps run the rest of the kernel.
    cur.roles = scf::IfOp::create(
        b, loc, e.cmp(arith::CmpIPredicate::sge, warp, e.idx(c.warps)), true);
    b.setInsertionPointToStart(&cur.roles.getThenRegion().front());
    NVVM::SetMaxRegisterOp::create(b, loc, c.producerRegs(),
                                   NVVM::SetMaxRegisterAction::decrease);
    e.ifThen(leader, [&] { produceKeyTiles(); });
    b.setInsertionPoint(cur.roles.getElseRegion().front().getTerminator());
    NVVM::SetMaxRegisterOp::create(b, loc, c.consumerRegs(),
                                   NVVM::SetMaxRegisterAction::increase);
  } else {
    for (int64_t s = 0; s < c.stages - 1; ++s)
      loadKV(e.idx(s));
  }
  waitBarrier(barQ, e.idx(0));
}

void KernelCodegen::initBarriers() {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  e.ifThen(leader, [&] {
    for (int64_t s = 0; s <= c.stages; ++s)
      NVVM::MBarrierInitOp::create(b, loc, barrier(e.idx(s)), i32(1),
                                   Value());
    // Empty barriers (Q's too): every consumer thread arrives once per use.
    for (int64_t s = 0; c.ws && s < c.stages + (c.persistent ? 1 : 0); ++s)
      NVVM::MBarrierInitOp::create(b, loc, emptyBarrier(e.idx(s)),
                                   i32(32 * c.warps), Value());
    NVVM::FenceMbarrierInitOp::create(b, loc);
  });
  gpu::BarrierOp::create(b, loc);
}

void KernelCodegen::produceKeyTiles() {
  // Use u = ring(t) / stages of a stage waits for phase u - 1 of its empty
  // barrier.
  OpBuilder &b = e.b;
  Location loc = e.loc;
  e.forLoop(e.idx(0), cur.numTiles, e.idx(1), [&](Value t) {
    Value r = ring(t);
    Value stage = e.rem(r, e.idx(c.stages));
    Value u = e.div(r, e.idx(c.stages));
    e.ifThen(e.cmp(arith::CmpIPredicate::sge, r, e.idx(c.stages)), [&] {
      waitBarrier(emptyBarrier(stage), e.rem(e.add(u, e.idx(1)), e.idx(2)));
    });
    loadKVAt(stage, e.add(cur.kt.first, e.mul(t, e.idx(c.blockN))),
             arith::ConstantOp::create(b, loc, b.getBoolAttr(true)));
  });
}

void KernelCodegen::prologueTopk() {
  // Landmark top-k: Q, then each row's choice of earlier blocks; the CTA
  // visits the union of its rows' choices and its own blocks, in order.
  // That schedule is built as it goes: each warp's smallest next block
  // (warpNextBlock) goes through shared memory, published one iteration
  // ahead and read after that iteration's barriers (two alternating
  // rows), so the loop adds no barrier; the prologue finds the first
  // stages - 1 blocks with one barrier each.
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const TileWork &w = cur.w;
  copyTile(cur.a.q, w.batch, w.head, cur.m0, w.nq, w.qBase, w.stride,
           c.blockM, c.d, sQ, Value());
  nvgpu::DeviceAsyncWaitOp::create(b, loc, commitGroup(),
                                   b.getI32IntegerAttr(0));
  gpu::BarrierOp::create(b, loc);
  cur.qa = loadQFragments();
  Value L = e.idx(c.landmark);
  Value rowBlock[2];
  for (int64_t hf = 0; hf < 2; ++hf)
    rowBlock[hf] = arith::FloorDivSIOp::create(b, loc, cur.pos[hf], L);
  Value hiBlock = arith::FloorDivSIOp::create(b, loc, cur.pLast, L);
  selectTopk(cur.qa, cur.a, w, rowBlock, e.max(hiBlock, e.idx(0)));
  cur.ownLo = e.toI32(e.max(
      arith::FloorDivSIOp::create(b, loc, cur.pFirst, L), e.idx(0)));
  cur.ownHi = e.toI32(hiBlock);
  Value x = i32(-1), token;
  for (int64_t s = 0; s < c.stages - 1; ++s) {
    publish(warpNextBlock(x, cur.ownLo, cur.ownHi), e.idx(s % 2));
    gpu::BarrierOp::create(b, loc);
    x = minOfWarps(e.idx(s % 2));
    cur.queue.push_back(x);
    loadKVAt(e.idx(s),
             e.mul(arith::IndexCastOp::create(b, loc, b.getIndexType(), x), L),
             e.cmp(arith::CmpIPredicate::ne, x, i32(kNoBlock)));
    token = commitGroup();
  }
  publish(warpNextBlock(x, cur.ownLo, cur.ownHi), e.idx((c.stages - 1) % 2));
  nvgpu::DeviceAsyncWaitOp::create(b, loc, token,
                                   b.getI32IntegerAttr(c.stages - 2));
  gpu::BarrierOp::create(b, loc);
}

void KernelCodegen::prologueCpAsync() {
  // Prologue: Q with the first key tile, then stages - 2 more tiles; one
  // commit group each (possibly empty) so the wait counts stay uniform.
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const TileWork &w = cur.w;
  if (w.group)
    copyPackedQ();
  else
    copyTile(cur.a.q, w.batch, w.head, cur.m0, w.nq, w.qBase, w.stride,
             c.blockM, c.d, sQ, Value());
  loadKV(e.idx(0));
  Value token = commitGroup();
  for (int64_t s = 1; s < c.stages - 1; ++s) {
    loadKV(e.idx(s));
    token = commitGroup();
  }
  nvgpu::DeviceAsyncWaitOp::create(b, loc, token,
                                   b.getI32IntegerAttr(c.stages - 2));
  asyncProxyFence();
  gpu::BarrierOp::create(b, loc);
}

Value KernelCodegen::issueTile(Value t) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Type f32 = b.getF32Type();
  auto structT = LLVM::LLVMStructType::getLiteral(
      b.getContext(), SmallVector<Type>(c.blockN / 2, f32));
  auto ifOp = scf::IfOp::create(
      b, loc, TypeRange{structT},
      e.cmp(arith::CmpIPredicate::slt, t, cur.numTiles), true);
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(&ifOp.getThenRegion().front());
  waitTile(t);
  scf::YieldOp::create(b, loc, issueScores(stageOf(t)));
  b.setInsertionPointToStart(&ifOp.getElseRegion().front());
  // Warp specialisation counts wgmma groups: commit an empty one.
  if (c.ws)
    NVVM::WgmmaGroupSyncAlignedOp::create(b, loc);
  scf::YieldOp::create(b, loc,
                       Value(LLVM::PoisonOp::create(b, loc, structT)));
  return ifOp.getResult(0);
}

SmallVector<Value> KernelCodegen::onlineSoftmax(SmallVector<Value> &s,
                                                Value n0, ValueRange carried,
                                                Value *alphaOut) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  VectorType accT = cur.accT;
  if (c.landmark) {
    s = landmarkScores(s, n0, cur.pos);
  } else {
    Value partial = e.logicalNot(
        cur.pattern.buildTileIsFull(b, loc, cur.kt, n0, c.blockN));
    SmallVector<Type> sTypes(s.size(), accT);
    auto ifOp = scf::IfOp::create(b, loc, sTypes, partial, true);
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(&ifOp.getThenRegion().front());
      scf::YieldOp::create(b, loc, mask(s, n0, cur.lo, cur.hi));
      b.setInsertionPointToStart(&ifOp.getElseRegion().front());
      scf::YieldOp::create(b, loc, s);
    }
    s.assign(ifOp.getResults().begin(), ifOp.getResults().end());
  }

  // Online softmax per row half: max over the quad, rescale.
  SmallVector<Value> next(carried.begin(), carried.end());
  SmallVector<Value> alpha(2);
  for (int64_t hf = 0; hf < 2; ++hf) {
    Value mx = negInf();
    for (Value sj : s)
      for (int64_t x = 0; x < 2; ++x)
        mx = maxf(mx, extract(sj, {hf, x}));
    mx = maxf(mx, shuffleXor(mx, 1));
    mx = maxf(mx, shuffleXor(mx, 2));
    Value mOld = carried[hf];
    Value mNew = maxf(mOld, mx);
    // A row with nothing allowed yet keeps -inf: subtract 0 instead so
    // exp2 sees -inf, never NaN. exp2(s * scale log2 e - base) is one fma
    // and one ex2 per score.
    Value isInf = e.cmpf(arith::CmpFPredicate::OEQ, mNew, negInf());
    Value negBase = e.select(isInf, e.f32(0),
                             mulf(mNew, e.f32(-c.scale * M_LOG2E)));
    alpha[hf] = exp2(fma(mOld, cur.scaleLog2, negBase));
    Value sum = e.f32(0);
    for (Value &sj : s) {
      for (int64_t x = 0; x < 2; ++x) {
        Value p = exp2(fma(extract(sj, {hf, x}), cur.scaleLog2, negBase));
        sum = addf(sum, p);
        sj = insert(p, sj, {hf, x});
      }
    }
    next[hf] = mNew;
    next[2 + hf] = fma(carried[2 + hf], alpha[hf], sum);
  }
  Value alphaV = vector::FromElementsOp::create(
      b, loc, accT, ValueRange{alpha[0], alpha[0], alpha[1], alpha[1]});
  if (alphaOut) {
    *alphaOut = alphaV;
    return next;
  }
  for (int64_t j = 0; j < c.dv / 8; ++j)
    next[4 + j] = arith::MulFOp::create(b, loc, carried[4 + j], alphaV);
  return next;
}

SmallVector<Value> KernelCodegen::step(Value tile, Value n0,
                                       ValueRange carried) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value stage = e.rem(tile, e.idx(c.stages));
  SmallVector<Value> s;
  Value nextS;
  if (c.asyncQK) {
    // This tile's S was issued one tile ago; the next tile's runs during
    // this softmax (P V's wait, at the latest, completes it).
    NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
    s = fragments(carried.back(), c.blockN / 8);
    nextS = issueTile(e.add(tile, e.idx(1)));
  } else if (c.tma) {
    waitTile(tile);
  } else {
    Value tok = commitGroup();
    nvgpu::DeviceAsyncWaitOp::create(b, loc, tok,
                                     b.getI32IntegerAttr(c.stages - 1));
    asyncProxyFence();
    gpu::BarrierOp::create(b, loc);
  }

  if (!c.asyncQK)
    s = c.wgmma ? scoresWgmma(stage) : scores(cur.qa, stage);
  SmallVector<Value> next = onlineSoftmax(s, n0, carried);
  // O += P V: P's A fragment for keys [16kk, 16kk + 16) is made of the
  // accumulators of n8 blocks 2kk and 2kk + 1.
  Value mi = e.div(lane, e.idx(8));
  Value keyOff = e.add(e.mul(e.rem(mi, e.idx(2)), e.idx(8)),
                       e.rem(lane, e.idx(8)));
  Value colOff = e.mul(e.div(mi, e.idx(2)), e.idx(8));
  VectorType half2 = vec({2}, c.elt);
  if (c.wgmmaPV) {
    SmallVector<Value> o = pvWgmma(
        s, stage, ArrayRef<Value>(next).slice(4, c.dv / 8), true);
    for (auto [j, v] : llvm::enumerate(o))
      next[4 + j] = v;
  }
  for (int64_t kk = 0; kk < (c.wgmmaPV ? 0 : c.blockN / 16); ++kk) {
    SmallVector<Value> rowsA;
    for (int64_t blk = 0; blk < 2; ++blk)
      for (int64_t hf = 0; hf < 2; ++hf)
        rowsA.push_back(arith::TruncFOp::create(
            b, loc, half2, extract(s[2 * kk + blk], {hf})));
    Value pa = zeros(vec({4, 2}, c.elt));
    for (int64_t r = 0; r < 4; ++r)
      pa = insert(rowsA[r], pa, {r});
    for (int64_t dd = 0; dd < c.dv / 16; ++dd) {
      // Transposed ldmatrix of V rows: matrices (keys 0-7, dv 0-7),
      // (keys 8-15, dv 0-7), (keys 0-7, dv 8-15), (keys 8-15, 8-15).
      Value frag = nvgpu::LdMatrixOp::create(
          b, loc, vec({4, 2}, c.elt), sV,
          at(stage, c.blockN, e.add(keyOff, e.idx(kk * 16)),
             e.add(colOff, e.idx(dd * 16))),
          true, 4);
      for (int64_t hf = 0; hf < 2; ++hf) {
        Value bFrag = halfOf(frag, hf);
        int64_t j = 2 * dd + hf;
        next[4 + j] = mma(pa, bFrag, next[4 + j]);
      }
    }
  }
  if (c.asyncQK)
    next.back() = nextS;
  // The next iteration's copy may overwrite this stage.
  gpu::BarrierOp::create(b, loc);
  return next;
}

// Barrier ids are constants (a register id makes ptxas reserve all 16
// barriers, which limits the CTAs per SM).
void KernelCodegen::forEachGroup(function_ref<void(int64_t)> body) {
  for (int64_t g = 0; g < cur.groups; ++g)
    e.ifThen(e.cmp(arith::CmpIPredicate::eq, cur.wg, e.idx(g)),
             [&] { body(g); });
}

void KernelCodegen::waitTurn() {
  if (c.pingpong)
    forEachGroup([&](int64_t g) {
      NVVM::BarrierOp::create(e.b, e.loc, Type(), i32(1 + g), cur.turnThreads,
                              NVVM::BarrierReductionAttr(), Value());
    });
}

void KernelCodegen::passTurn(Value j) {
  if (!c.pingpong)
    return;
  Value notLast = e.cmp(arith::CmpIPredicate::ne, cur.wg,
                        e.idx(cur.groups - 1));
  Value more = e.cmp(arith::CmpIPredicate::slt, j, cur.numTiles);
  e.ifThen(arith::OrIOp::create(e.b, e.loc, more, notLast), [&] {
    forEachGroup([&](int64_t g) {
      NVVM::BarrierArriveOp::create(e.b, e.loc,
                                    i32(1 + (g + 1) % cur.groups),
                                    cur.turnThreads);
    });
  });
}

SmallVector<Value> KernelCodegen::loopWarpSpecialized() {
  // Per tile t: S(t) = Q K^T completes (issued one tile ago), its softmax,
  // then P V of t and Q K^T of t + 1 are issued together; P V's wait
  // (wait_group 1: the newer group may stay in flight) ends the tile and
  // releases its stage to the producer. Ping-pong: a warpgroup issues
  // only on its turn (named barrier 1 + wg, synced by it and arrived at
  // by the warpgroup before it), and passes the turn on after issuing
  // tile j's Q K^T, the last warpgroup only while j < numTiles, so every
  // barrier's arrivals match its syncs.
  OpBuilder &b = e.b;
  Location loc = e.loc;
  cur.groups = c.warps / 4;
  cur.wg = e.div(warp, e.idx(4));
  cur.turnThreads = i32(256);
  if (c.pingpong)
    e.ifThen(e.cmp(arith::CmpIPredicate::eq, cur.wg, e.idx(cur.groups - 1)),
             [&] {
               NVVM::BarrierArriveOp::create(b, loc, i32(1), cur.turnThreads);
             });
  waitTurn();
  Value s0 = issueTile(e.idx(0));
  passTurn(e.idx(0));
  if (c.wsOverlap)
    return loopWsOverlap(s0);
  SmallVector<Value> init = cur.init;
  init.push_back(s0);
  SmallVector<Value> state = e.forLoop(
      e.idx(0), cur.numTiles, e.idx(1), init,
      [&](Value tile, ValueRange carried) {
        Value stage = stageOf(tile);
        NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
        SmallVector<Value> s = fragments(carried.back(), c.blockN / 8);
        SmallVector<Value> next = onlineSoftmax(
            s, e.add(cur.kt.first, e.mul(tile, e.idx(c.blockN))),
            carried.drop_back());
        waitTurn();
        SmallVector<Value> o = pvWgmma(
            s, stage, ArrayRef<Value>(next).slice(4, c.dv / 8), false);
        Value tNext = e.add(tile, e.idx(1));
        Value nextS = issueTile(tNext);
        passTurn(tNext);
        NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 1);
        releaseStage(stage);
        for (auto [j, v] : llvm::enumerate(o))
          next[4 + j] = v;
        next.push_back(nextS);
        return next;
      });
  state.pop_back();
  return state;
}

SmallVector<Value> KernelCodegen::softmaxOf(Value sAcc, Value t,
                                            ValueRange stats,
                                            SmallVector<Value> &packed,
                                            Value &alpha) {
  SmallVector<Value> sc = fragments(sAcc, c.blockN / 8);
  SmallVector<Value> st = onlineSoftmax(
      sc, e.add(cur.kt.first, e.mul(t, e.idx(c.blockN))), stats, &alpha);
  packed = packP(sc);
  return st;
}

// P V of `tile` from `carried`; waits for it and releases the stage: O as
// scalars.
SmallVector<Value> KernelCodegen::finishPV(Value tile, ValueRange carried,
                                           function_ref<void()> between) {
  int64_t nStats = 4, nO = c.dv / 8;
  Value stage = stageOf(tile);
  SmallVector<Value> pa(carried.drop_front(nStats + nO));
  SmallVector<Value> acc(carried.slice(nStats, nO));
  SmallVector<Value> o = pvWgmmaPacked(pa, stage, acc, false);
  between();
  // P V's wait keeps P's registers and O's until it is done.
  SmallVector<Value> keep(pa);
  for (Value oj : o)
    for (int64_t hf = 0; hf < 2; ++hf)
      for (int64_t x = 0; x < 2; ++x)
        keep.push_back(extract(oj, {hf, x}));
  SmallVector<Value> kept = waitKeeping(0, keep);
  releaseStage(stage);
  SmallVector<Value> out;
  for (int64_t j = 0; j < nO; ++j)
    out.push_back(vector::FromElementsOp::create(
        e.b, e.loc, cur.accT,
        ArrayRef<Value>(kept).slice(pa.size() + 4 * j, 4)));
  return out;
}

SmallVector<Value> KernelCodegen::loopWsOverlap(Value s0) {
  // FlashAttention-3's intra-warpgroup overlap: per tile t < T - 1, Q
  // K^T of t + 1 and then P V of t are issued; wait_group 1 completes
  // the former (groups complete in order), whose softmax then runs
  // under P V; wait_group 0 (keeping P's and O's registers), then O is
  // rescaled by the new tile's factor (O is the in-flight accumulator
  // until then: the softmax leaves it alone). The last tile's P V is
  // peeled, so every wgmma in the loop is unconditional and ptxas can
  // count the groups. Carried: the row statistics, O, and P of tile t
  // packed as wgmma's A registers.
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const SmallVector<Value> &init = cur.init;
  Value numTiles = cur.numTiles;
  int64_t nStats = 4, nO = c.dv / 8;
  NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
  SmallVector<Value> packed;
  Value alpha;
  SmallVector<Value> loopInit = softmaxOf(
      s0, e.idx(0), ValueRange(init).take_front(nStats), packed, alpha);
  // No tile at all: the (poison) scores' statistics are dropped.
  Value any = e.cmp(arith::CmpIPredicate::sgt, numTiles, e.idx(0));
  for (int64_t i = 0; i < nStats; ++i)
    loopInit[i] = e.select(any, loopInit[i], init[i]);
  loopInit.append(init.begin() + nStats, init.end());
  loopInit.append(packed.begin(), packed.end());
  Value lastTile = e.max(e.sub(numTiles, e.idx(1)), e.idx(0));
  SmallVector<Value> loopOut = e.forLoop(
      e.idx(0), lastTile, e.idx(1), loopInit,
      [&](Value tile, ValueRange carried) {
        Value tNext = e.add(tile, e.idx(1));
        waitTurn();
        waitTile(tNext);
        Value nextS = issueScores(stageOf(tNext));
        SmallVector<Value> next, nextPacked;
        Value a;
        SmallVector<Value> o = finishPV(tile, carried, [&] {
          passTurn(tNext);
          NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 1);
          next = softmaxOf(nextS, tNext, carried.take_front(nStats),
                           nextPacked, a);
        });
        for (Value oj : o)
          next.push_back(arith::MulFOp::create(b, loc, oj, a));
        next.append(nextPacked.begin(), nextPacked.end());
        return next;
      });
  // The last tile's P V.
  SmallVector<Type> oTypes(nO, cur.accT);
  auto last = scf::IfOp::create(
      b, loc, oTypes, e.cmp(arith::CmpIPredicate::sgt, numTiles, e.idx(0)),
      true);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&last.getThenRegion().front());
    waitTurn();
    SmallVector<Value> o =
        finishPV(lastTile, loopOut, [&] { passTurn(numTiles); });
    scf::YieldOp::create(b, loc, o);
    b.setInsertionPointToStart(&last.getElseRegion().front());
    scf::YieldOp::create(b, loc, ValueRange(loopOut).slice(nStats, nO));
  }
  SmallVector<Value> state(loopOut.begin(), loopOut.begin() + nStats);
  state.append(last.getResults().begin(), last.getResults().end());
  return state;
}

SmallVector<Value> KernelCodegen::loopCpAsync() {
  return e.forLoop(e.idx(0), cur.numTiles, e.idx(1), cur.init,
                   [&](Value tile, ValueRange carried) {
                     loadKV(e.add(tile, e.idx(c.stages - 1)));
                     return step(tile,
                                 e.add(cur.kt.first,
                                       e.mul(tile, e.idx(c.blockN))),
                                 carried);
                   });
}

SmallVector<Value> KernelCodegen::loopTopk() {
  // Carried: the tile number, the blocks of the next stages - 1 tiles
  // (queue[0] is this iteration's; kNoBlock ends the loop), the state.
  OpBuilder &b = e.b;
  Location loc = e.loc;
  SmallVector<Value> inits = {e.idx(0)};
  inits.append(cur.queue.begin(), cur.queue.end());
  inits.append(cur.init.begin(), cur.init.end());
  int64_t nq0 = 1 + int64_t(cur.queue.size());
  SmallVector<Value> end = e.whileLoop(
      ValueRange(inits).getTypes(), inits,
      [&](ValueRange carried) {
        return std::make_pair(
            e.cmp(arith::CmpIPredicate::ne, carried[1], i32(kNoBlock)),
            SmallVector<Value>(carried));
      },
      [&](ValueRange carried) {
        Value tile = carried[0];
        Value ahead = e.add(tile, e.idx(c.stages - 1));
        Value fresh = minOfWarps(e.rem(ahead, e.idx(2)));
        loadKVAt(e.rem(ahead, e.idx(c.stages)),
                 e.mul(arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                                  fresh),
                       e.idx(c.landmark)),
                 e.cmp(arith::CmpIPredicate::ne, fresh, i32(kNoBlock)));
        publish(warpNextBlock(fresh, cur.ownLo, cur.ownHi),
                e.rem(e.add(ahead, e.idx(1)), e.idx(2)));
        Value n0 = e.mul(arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                                    carried[1]),
                         e.idx(c.landmark));
        SmallVector<Value> next = {e.add(tile, e.idx(1))};
        next.append(carried.begin() + 2, carried.begin() + nq0);
        next.push_back(fresh);
        SmallVector<Value> st = step(tile, n0, carried.drop_front(nq0));
        next.append(st.begin(), st.end());
        return next;
      });
  return SmallVector<Value>(end.begin() + nq0, end.end());
}

void KernelCodegen::epilogue(ArrayRef<Value> state) {
  // Epilogue: O / l and LSE = m * scale + ln l; empty rows: 0 and -inf.
  // Merging (`accumulate`): LSE' = ln(e^LSE + e^lse), O' = e^(LSE - LSE') O
  // + e^(lse - LSE') o, a side at -inf contributing nothing. Split-KV with
  // several splits: O / l and LSE into this split's partials instead.
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Type f32 = b.getF32Type();
  const TileWork &w = cur.w;
  const KernelArgs &a = cur.a;
  Value batch = w.batch, nq = w.nq, m0 = cur.m0;
  Value ln2 = e.f32(M_LN2), log2e = e.f32(M_LOG2E);
  auto expf = [&](Value x) { return exp2(mulf(x, log2e)); };
  Value inv[2], lseRow[2], phys[2], heads[2], inside[2], wOld[2], wNew[2];
  for (int64_t hf = 0; hf < 2; ++hf) {
    Value l = state[2 + hf];
    l = addf(l, shuffleXor(l, 1));
    l = addf(l, shuffleXor(l, 2));
    Value empty = e.cmpf(arith::CmpFPredicate::OLE, l, e.f32(0));
    inv[hf] = e.select(empty, e.f32(0),
                       arith::DivFOp::create(b, loc, e.f32(1), l));
    Value lse = addf(mulf(state[hf], e.f32(c.scale)), mulf(log2(l), ln2));
    lseRow[hf] = e.select(empty, negInf(), lse);
    Value row = e.add(m0, cur.rows[hf]);
    if (w.group) {
      inside[hf] = e.cmp(arith::CmpIPredicate::slt, cur.rows[hf],
                         cur.validRows);
      std::tie(heads[hf], phys[hf]) = packedRow(cur.rows[hf]);
    } else {
      inside[hf] = e.cmp(arith::CmpIPredicate::slt, row, nq);
      heads[hf] = w.head;
      phys[hf] = e.add(w.qBase,
                       e.mul(w.stride, e.min(row, e.sub(nq, e.idx(1)))));
    }
    if (w.merge) {
      // Every lane reads the old LSE of its rows before any lane writes.
      Value old = e.load(a.lse, {batch, heads[hf], phys[hf]});
      Value mx = maxf(old, lseRow[hf]);
      Value none = e.cmpf(arith::CmpFPredicate::OEQ, mx, negInf());
      Value safe = e.select(none, e.f32(0), mx);
      Value eo = expf(subf(old, safe)), en = expf(subf(lseRow[hf], safe));
      Value total = addf(eo, en);
      Value merged = addf(safe, mulf(log2(total), ln2));
      lseRow[hf] = e.select(none, negInf(), merged);
      Value invTotal = e.select(none, e.f32(0),
                                arith::DivFOp::create(b, loc, e.f32(1), total));
      wOld[hf] = mulf(eo, invTotal);
      wNew[hf] = mulf(en, invTotal);
    }
  }
  if (w.merge && c.ws)
    NVVM::BarrierOp::create(b, loc, Type(), i32(c.warps / 4 + 1),
                            i32(32 * c.warps), NVVM::BarrierReductionAttr(),
                            Value());
  else if (w.merge)
    gpu::BarrierOp::create(b, loc);
  Value colBase = e.mul(quadCol, e.idx(2));
  VectorType pairT = vec({2}, f32);
  Value lead = e.cmp(arith::CmpIPredicate::eq, quadCol, e.idx(0));
  // A pair of O's columns (2 quadCol + 8 j: even) is aligned to its size:
  // the runtime takes 4-D operands 16-byte aligned with 16-byte row
  // strides. Said so, the pair is one 32-bit (or 64-bit) store, not two.
  llvm::MaybeAlign pairAlign(2 * c.outElt.getIntOrFloatBitWidth() / 8);
  auto store = [&] {
    for (int64_t hf = 0; hf < 2; ++hf) {
      e.ifThen(inside[hf], [&] {
        Value scaleNew = w.merge ? mulf(inv[hf], wNew[hf]) : inv[hf];
        Value scaleV = vector::BroadcastOp::create(b, loc, pairT, scaleNew);
        for (int64_t j = 0; j < c.dv / 8; ++j) {
          SmallVector<Value> idx = {batch, heads[hf], phys[hf],
                                    e.add(colBase, e.idx(8 * j))};
          Value pair = arith::MulFOp::create(
              b, loc, extract(state[4 + j], {hf}), scaleV);
          if (w.merge) {
            Value old = vector::LoadOp::create(b, loc, vec({2}, c.outElt),
                                               a.o, idx, false, pairAlign);
            if (!c.outElt.isF32())
              old = arith::ExtFOp::create(b, loc, pairT, old);
            Value oldScale =
                vector::BroadcastOp::create(b, loc, pairT, wOld[hf]);
            pair = vector::FMAOp::create(b, loc, old, oldScale, pair);
          }
          Value outPair = pair;
          if (!c.outElt.isF32())
            outPair =
                arith::TruncFOp::create(b, loc, vec({2}, c.outElt), pair);
          vector::StoreOp::create(b, loc, outPair, a.o, idx, false,
                                  pairAlign);
        }
        if (a.lse)
          e.ifThen(lead, [&] {
            e.store(lseRow[hf], a.lse, {batch, heads[hf], phys[hf]});
          });
      });
    }
  };
  if (!w.splits) {
    store();
    return;
  }
  Value one = e.cmp(arith::CmpIPredicate::eq, w.splits, e.idx(1));
  e.ifThen(one, store);
  e.ifThen(e.logicalNot(one), [&] {
    for (int64_t hf = 0; hf < 2; ++hf) {
      e.ifThen(inside[hf], [&] {
        Value scaleV = vector::BroadcastOp::create(b, loc, pairT, inv[hf]);
        for (int64_t j = 0; j < c.dv / 8; ++j) {
          Value pair = arith::MulFOp::create(
              b, loc, extract(state[4 + j], {hf}), scaleV);
          vector::StoreOp::create(b, loc, pair, w.partials,
                                  {w.split, batch, heads[hf], phys[hf],
                                   e.add(colBase, e.idx(8 * j))});
        }
        e.ifThen(lead, [&] {
          e.store(lseRow[hf], w.partials,
                  {w.split, batch, heads[hf], phys[hf], e.idx(c.dv)});
        });
      });
    }
    if (w.counters)
      mergeInLastSplit();
  });
}

void KernelCodegen::mergeInLastSplit() {
  // The last CTA of (batch, kvHead) to finish merges the splits: every
  // thread fences its partials (GPU scope) and meets the others at a CTA
  // barrier; thread 0 then adds one to the pair's counter and fences again
  // (so the other CTAs' partials are visible to it), and a barrier's OR
  // tells the CTA whether it was the last; that CTA's threads fence,
  // merge its packed rows (a warp per row) and thread 0 sets the counter
  // back to zero for the next launch.
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const TileWork &w = cur.w;
  const KernelArgs &a = cur.a;
  auto fence = [&] {
    LLVM::FenceOp::create(b, loc, LLVM::AtomicOrdering::acq_rel, "device");
  };
  fence();
  gpu::BarrierOp::create(b, loc);
  Value kvHeads = gpu::GridDimOp::create(b, loc, gpu::Dimension::y);
  Value slot = e.add(e.mul(w.batch, kvHeads), w.kvHead);
  Value first = e.cmp(arith::CmpIPredicate::eq, e.add(e.mul(warp, e.idx(32)), lane),
                      e.idx(0));
  auto count = scf::IfOp::create(b, loc, TypeRange{b.getI32Type()}, first,
                                 /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&count.getThenRegion().front());
    Value old = memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::addi,
                                            i32(1), w.counters, ValueRange{slot});
    fence();
    Value lastCount = arith::IndexCastOp::create(
        b, loc, b.getI32Type(), e.sub(w.splits, e.idx(1)));
    Value isLast = arith::ExtUIOp::create(
        b, loc, b.getI32Type(),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, old, lastCount));
    scf::YieldOp::create(b, loc, isLast);
    b.setInsertionPointToStart(&count.getElseRegion().front());
    scf::YieldOp::create(b, loc, ValueRange{i32(0)});
  }
  Value anyLast = NVVM::BarrierOp::create(
                      b, loc, b.getI32Type(), Value(), Value(),
                      NVVM::BarrierReductionAttr::get(
                          b.getContext(), NVVM::BarrierReduction::OR),
                      count.getResult(0))
                      .getResult(0);
  e.ifThen(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, anyLast,
                                 i32(0)),
           [&] {
             fence();
             e.forLoop(warp, cur.validRows, e.idx(c.warps), [&](Value t) {
               auto [head, row] = packedRow(t);
               mergeRow(a, w.partials, w.batch, head, row);
             });
             e.ifThen(first, [&] { e.store(i32(0), w.counters, {slot}); });
           });
}

void KernelCodegen::emitMerge(const KernelArgs &a, Value partials,
                              Value batch, Value head, Value row) {
  // One CTA per query row: its warps take the splits in turn, 8 at a time,
  // and add their sums up through shared memory ([warps][Dv] f32).
  Value red = tileView(dynamicSmem(e.b, e.loc), {c.warps, c.dv}, 0,
                       e.b.getF32Type());
  e.ifThen(e.cmp(arith::CmpIPredicate::slt, row, e.dim(a.q, 2)), [&] {
    mergeRow(a, partials, batch, head, row, warp, c.warps, red);
  });
}

void KernelCodegen::mergeRow(const KernelArgs &a, Value partials, Value batch,
                             Value head, Value row, Value part, int64_t parts,
                             Value red) {
  // LSE = m + ln sum_s e^(lse_s - m) over the splits (m their max), O =
  // sum_s e^(lse_s - LSE) O_s; a row no split reached (all -inf): 0, -inf.
  // The LSEs: each warp's lanes over the splits, kLse loads in flight,
  // then shuffles. O: lanes over the columns (32 consecutive floats per
  // load: coalesced), the splits kUnroll at a time with every load of a
  // step independent of the others; warp `part` of `parts` takes the steps
  // part, part + parts, ..., so that a row costs S / (kUnroll parts)
  // memory latencies, not S; then the parts' sums meet in `red`.
  constexpr int64_t kUnroll = 8, kLse = 4;
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value ln2 = e.f32(M_LN2), log2e = e.f32(M_LOG2E);
  Value splits = e.dim(partials, 0);
  Value dvIdx = e.idx(c.dv);
  auto warpReduce = [&](Value x, bool isMax) {
    for (int64_t off = 16; off >= 1; off /= 2) {
      Value y = shuffleXor(x, off);
      x = isMax ? maxf(x, y) : addf(x, y);
    }
    return x;
  };
  auto lseOf = [&](Value s) {
    return e.load(partials, {s, batch, head, row, dvIdx});
  };
  Value lastSplit = e.sub(splits, e.idx(1));
  // f over the lane's splits lane, lane + 32, ..., kLse loads a step
  // (splits past the last: `none`).
  auto overSplits = [&](Value none, function_ref<Value(Value)> term,
                        function_ref<Value(Value, Value)> combine) {
    return e.forLoop(lane, splits, e.idx(32 * kLse), ValueRange{none},
                     [&](Value s0, ValueRange carried) {
                       SmallVector<Value> terms;
                       for (int64_t u = 0; u < kLse; ++u) {
                         Value s = e.add(s0, e.idx(32 * u));
                         terms.push_back(e.select(
                             e.cmp(arith::CmpIPredicate::slt, s, splits),
                             term(e.min(s, lastSplit)), none));
                       }
                       Value x = carried[0];
                       for (Value t : terms)
                         x = combine(x, t);
                       return SmallVector<Value>{x};
                     })[0];
  };
  Value mx = warpReduce(
      overSplits(
          negInf(), [&](Value s) { return lseOf(s); },
          [&](Value x, Value y) { return maxf(x, y); }),
      /*isMax=*/true);
  Value none = e.cmpf(arith::CmpFPredicate::OEQ, mx, negInf());
  Value safe = e.select(none, e.f32(0), mx);
  auto weight = [&](Value s) {
    return exp2(mulf(subf(lseOf(s), safe), log2e));
  };
  Value total = warpReduce(
      overSplits(
          e.f32(0), [&](Value s) { return weight(s); },
          [&](Value x, Value y) { return addf(x, y); }),
      /*isMax=*/false);
  Value inv =
      e.select(none, e.f32(0), arith::DivFOp::create(b, loc, e.f32(1), total));
  // Column lane + 32 j of O in acc[j]; columns past Dv read column Dv - 1
  // and are not stored.
  int64_t perLane = (c.dv + 31) / 32;
  SmallVector<Value> cols, init;
  for (int64_t j = 0; j < perLane; ++j) {
    cols.push_back(e.add(lane, e.idx(32 * j)));
    init.push_back(e.f32(0));
  }
  Value lastCol = e.idx(c.dv - 1);
  Value first = part ? e.mul(part, e.idx(kUnroll)) : e.idx(0);
  SmallVector<Value> acc =
      e.forLoop(first, splits, e.idx(kUnroll * parts), init,
                [&](Value s0, ValueRange carried) {
                  SmallVector<Value> w, vals;
                  for (int64_t u = 0; u < kUnroll; ++u) {
                    Value s = e.add(s0, e.idx(u));
                    Value valid = e.cmp(arith::CmpIPredicate::slt, s, splits);
                    Value sc = e.min(s, lastSplit);
                    w.push_back(e.select(valid, weight(sc), e.f32(0)));
                    // (Past the last split: weight 0 and value 0, not 0 * inf.)
                    for (int64_t j = 0; j < perLane; ++j)
                      vals.push_back(
                          e.select(valid,
                                   e.load(partials, {sc, batch, head, row,
                                                     e.min(cols[j], lastCol)}),
                                   e.f32(0)));
                  }
                  SmallVector<Value> next(carried);
                  for (int64_t u = 0; u < kUnroll; ++u)
                    for (int64_t j = 0; j < perLane; ++j)
                      next[j] = fma(w[u], vals[u * perLane + j], next[j]);
                  return next;
                });
  Value tid = part ? e.add(e.mul(part, e.idx(32)), lane) : lane;
  if (parts == 1) {
    for (int64_t j = 0; j < perLane; ++j)
      e.ifThen(e.cmp(arith::CmpIPredicate::slt, cols[j], dvIdx), [&] {
        e.store(e.fromF32(mulf(acc[j], inv), c.outElt), a.o,
                {batch, head, row, cols[j]});
      });
  } else {
    for (int64_t j = 0; j < perLane; ++j)
      e.ifThen(e.cmp(arith::CmpIPredicate::slt, cols[j], dvIdx),
               [&] { e.store(acc[j], red, {part, cols[j]}); });
    gpu::BarrierOp::create(b, loc);
    e.forLoop(tid, dvIdx, e.idx(32 * parts), [&](Value col) {
      Value sum = e.load(red, {e.idx(0), col});
      for (int64_t p = 1; p < parts; ++p)
        sum = addf(sum, e.load(red, {e.idx(p), col}));
      e.store(e.fromF32(mulf(sum, inv), c.outElt), a.o,
              {batch, head, row, col});
    });
  }
  if (a.lse)
    e.ifThen(e.cmp(arith::CmpIPredicate::eq, tid, e.idx(0)), [&] {
      Value lse = addf(safe, mulf(log2(total), ln2));
      e.store(e.select(none, negInf(), lse), a.lse, {batch, head, row});
    });
}

} // namespace mlir::attn::gpucg
