//===- GPULoads.cpp - tiles into shared memory ----------------------------===//
// Moving tiles into shared memory: cp.async rows (zero-filled past the
// sequence), TMA boxes onto mbarriers, and the swizzled addressing both use.
//===----------------------------------------------------------------------===//
#include "passes/GPUCodegen.h"

using namespace mlir;
using namespace mlir::attn;

namespace mlir::attn::gpucg {

void KernelCodegen::forEachChunk(int64_t rows, int64_t cols,
                                 function_ref<void(Value, Value)> body) {
  int64_t chunksPerRow = cols / 8, chunks = rows * chunksPerRow;
  Value tid = e.add(e.mul(warp, e.idx(32)), lane);
  for (int64_t i = 0; i < chunks; i += c.threads()) {
    Value id = e.add(tid, e.idx(i));
    auto chunk = [&] {
      body(e.div(id, e.idx(chunksPerRow)),
           e.mul(e.rem(id, e.idx(chunksPerRow)), e.idx(8)));
    };
    if (i + c.threads() <= chunks)
      chunk();
    else
      e.ifThen(e.cmp(arith::CmpIPredicate::slt, id, e.idx(chunks)), chunk);
  }
}

void KernelCodegen::copyTile(Value src, Value batch, Value head, Value row0,
                             Value n, Value base, Value stride, int64_t rows,
                             int64_t cols, Value dst, Value stage, Value col0,
                             const Pages *pages) {
  int64_t chunksPerRow = cols / 8;
  Value lastRow = e.sub(n, e.idx(1));
  forEachChunk(rows, cols, [&](Value r, Value col) {
    Value row = e.add(row0, r);
    Value inside = e.cmp(arith::CmpIPredicate::slt, row, n);
    Value srcElems = e.select(inside, e.idx(8), e.idx(0));
    Value srcRow =
        e.add(base, e.mul(stride, e.max(e.min(row, lastRow), e.idx(0))));
    // [batch, head, row, col], or a paged cache's [page, row in page, head,
    // col] (an empty sequence reads slot 0's page, zero-filled).
    SmallVector<Value, 4> srcIdx = {batch, head, srcRow};
    if (pages && pages->table) {
      Value slot = e.divBy(pages->size, srcRow);
      Value page = arith::IndexCastOp::create(
          e.b, e.loc, e.b.getIndexType(), e.load(pages->table, {batch, slot}));
      page = e.min(e.max(page, e.idx(0)), pages->last);
      srcIdx = {page, e.remBy(pages->size, srcRow, slot), head};
    }
    srcIdx.push_back(col0 ? e.add(col0, col) : col);
    SmallVector<Value> dstIdx;
    if (stage)
      dstIdx.push_back(stage);
    if (cast<MemRefType>(dst.getType()).getRank() == (stage ? 2 : 1)) {
      // wgmma's core-matrix layout: 16-byte chunk (r, col / 8) of an
      // 8-row group sits at ((r / 8) * (cols / 8) + col / 8) * 64 + (r % 8)
      // * 8 elements: core matrices along K are 128 bytes apart (the
      // descriptor's LBO), 8-row groups cols * 16 bytes (SBO).
      Value core = e.add(e.mul(e.div(r, e.idx(8)), e.idx(chunksPerRow)),
                         e.div(col, e.idx(8)));
      dstIdx.push_back(e.add(e.mul(core, e.idx(64)),
                             e.mul(e.rem(r, e.idx(8)), e.idx(8))));
    } else {
      dstIdx.append({r, col});
    }
    nvgpu::DeviceAsyncCopyOp::create(
        e.b, e.loc, nvgpu::DeviceAsyncTokenType::get(e.b.getContext()), dst,
        dstIdx, src, srcIdx, e.b.getIndexAttr(8), srcElems,
        e.b.getUnitAttr());
  });
}

std::pair<Value, Value> KernelCodegen::packedRow(Value t) {
  const TileWork &w = cur.w;
  Value tc = e.min(t, e.sub(cur.validRows, e.idx(1)));
  return {e.add(e.mul(w.kvHead, w.group), e.div(tc, w.nq)), e.rem(tc, w.nq)};
}

void KernelCodegen::copyPackedQ() {
  // As copyTile, one source row per tile row (the padded layout).
  const TileWork &w = cur.w;
  forEachChunk(c.blockM, c.d, [&](Value r, Value col) {
    Value inside = e.cmp(arith::CmpIPredicate::slt, r, cur.validRows);
    auto [head, row] = packedRow(r);
    nvgpu::DeviceAsyncCopyOp::create(
        e.b, e.loc, nvgpu::DeviceAsyncTokenType::get(e.b.getContext()), sQ,
        ValueRange{r, col}, cur.a.q, ValueRange{w.batch, head, row, col},
        e.b.getIndexAttr(8), e.select(inside, e.idx(8), e.idx(0)),
        e.b.getUnitAttr());
  });
}

SmallVector<Value> KernelCodegen::at(Value stage, int64_t rows, Value r,
                                     Value col) {
  SmallVector<Value> idx;
  if (stage)
    idx.push_back(stage);
  if (!c.tma) {
    idx.append({r, col});
    return idx;
  }
  Value atom = e.div(col, e.idx(64));
  Value chunk = e.div(e.rem(col, e.idx(64)), e.idx(8));
  Value swizzled =
      arith::XOrIOp::create(e.b, e.loc, chunk, e.rem(r, e.idx(8)));
  idx.push_back(e.add(e.add(e.mul(atom, e.idx(rows * 64)),
                            e.mul(r, e.idx(64))),
                      e.mul(swizzled, e.idx(8))));
  return idx;
}

Value KernelCodegen::sharedPtr(Value byteOffset) {
  Value addr = arith::IndexCastUIOp::create(e.b, e.loc, e.b.getI64Type(),
                                            e.add(smemAddr, byteOffset));
  return LLVM::IntToPtrOp::create(
      e.b, e.loc, LLVM::LLVMPointerType::get(e.b.getContext(), 3), addr);
}

void KernelCodegen::tmaTile(Value map, int64_t rate, Value bar,
                            Value dstOffset, int64_t rows, int64_t cols,
                            Value row0, Value head, Value batch,
                            int64_t boxRows) {
  auto cluster = LLVM::LLVMPointerType::get(e.b.getContext(), 7);
  if (!boxRows)
    boxRows = rows;
  for (int64_t i = 0; i < cols / 64 * (rows / boxRows); ++i) {
    int64_t atom = i / (rows / boxRows), chunk = i % (rows / boxRows);
    // The CTA's shared window is its shared::cluster window without
    // clusters; the .cta form of the instruction needs PTX 8.6.
    Value dst = LLVM::AddrSpaceCastOp::create(
        e.b, e.loc, cluster,
        sharedPtr(e.add(dstOffset,
                        e.idx((atom * rows + chunk * boxRows) * 128))));
    // Box coordinates, innermost first: column, row, head, batch (strided:
    // column, offset in the group of `rate` rows, group, head, batch).
    Value row = e.add(row0, e.idx(chunk * boxRows * rate));
    SmallVector<Value> coords = {i32(atom * 64)};
    if (rate > 1)
      coords.append({e.toI32(e.rem(row, e.idx(rate))),
                     e.toI32(e.div(row, e.idx(rate)))});
    else
      coords.push_back(e.toI32(row));
    coords.append({e.toI32(head), e.toI32(batch)});
    NVVM::CpAsyncBulkTensorGlobalToSharedClusterOp::create(
        e.b, e.loc, dst, map, coords, bar, ValueRange{}, Value(), Value(),
        NVVM::TMALoadMode::TILE, false, nullptr, Value());
  }
}

} // namespace mlir::attn::gpucg
