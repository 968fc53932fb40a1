//===- LowerToGPU.cpp - attn ops to tensor-core GPU kernels ---------------===//
// The GPU code generator. The sm_80 path (also run on sm_90): one CTA per
// (query tile, head, batch); each warp owns 16 query rows. K/V tiles are
// staged through shared memory by cp.async in a multi-stage ring; S = Q K^T
// and O += P V run on tensor cores (ldmatrix + mma.sync m16n8k16, f32
// accumulators); the online softmax stays in registers, in log2 units, with
// quad shuffles for the row reductions. P never leaves registers: the S
// accumulator fragments of two n8 blocks are exactly the A fragment of one
// k16 step of P V.
//
// sm_90a adds TMA loads onto mbarriers (128-byte-swizzled tiles) and, with
// two warpgroups, wgmma for both products (P V in the register-A form, by
// inline PTX). Lightning attention has its own loop (emitLightning) on the
// same building blocks.
//
// The key tiles a CTA visits and whether a tile needs the mask come from the
// pattern interface through keyTilesOf(), the schedule the CPU tiler uses.
//===----------------------------------------------------------------------===//
#include "dialect/AttnDialect.h"
#include "passes/Emitter.h"
#include "passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <limits>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERTOGPU
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Name of the dynamic shared memory symbol of the kernel module.
constexpr StringLiteral kSmemName = "__attn_smem";
/// memref<0xi8, workgroup>: the type of the kernels' dynamic shared memory.
MemRefType smemType(MLIRContext *ctx) {
  auto ws = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  return MemRefType::get({0}, IntegerType::get(ctx, 8),
                         MemRefLayoutAttrInterface{}, ws);
}

/// The kernel's dynamic shared memory (the extern __attn_smem array).
Value dynamicSmem(OpBuilder &b, Location loc) {
  return memref::GetGlobalOp::create(b, loc, smemType(b.getContext()),
                                     kSmemName);
}

/// Most distinct rates whose tensor maps a dilated kernel takes (three
/// 128-byte maps each, within CUDA's 4 KB of kernel parameters); phases of
/// other rates read their rows by cp.async.
constexpr size_t kMaxMapRates = 6;

/// Row padding of every shared-memory tile, in elements (16 bytes): the 8
/// rows one ldmatrix reads then start in 8 different bank groups.
constexpr int64_t kPad = 8;

struct GPUConfig {
  int64_t blockM, blockN, warps, stages;
  int64_t d, dv;
  Type elt;    ///< f16 or bf16 (Q, K, V)
  Type outElt; ///< the output's element type
  double scale;
  /// sm_90a: S = Q K^T by wgmma from shared memory (Q and K tiles in the
  /// canonical no-swizzle K-major layout of 8x16-byte core matrices).
  bool wgmma = false;
  /// sm_90a: Q, K and V tiles arrive by TMA (cp.async.bulk.tensor, one
  /// thread issuing) completing on one mbarrier per pipeline stage, in the
  /// 128-byte-swizzled layout: a tile of R rows is D / 64 atoms of R x 64
  /// elements, 16-byte chunk k of row r at chunk position k ^ (r % 8).
  /// ldmatrix and wgmma's SWIZZLE_128B descriptors both read it without bank
  /// conflicts. Needs D and Dv multiples of 64 and unit row strides.
  bool tma = false;
  /// sm_90a, wgmma and TMA: O += P V also by wgmma, P from registers (the
  /// register-A form, inline PTX) and V from its swizzled tile (MN-major).
  bool wgmmaPV = false;
  /// sm_90a, wgmma and TMA, 3+ stages: the next key tile's S = Q K^T is
  /// issued before this tile's softmax and completes during it.
  bool asyncQK = false;
  /// sm_90a, wgmma, TMA and register-A P V: warp specialisation. One more
  /// warpgroup (the producer; one of its threads issues every TMA load onto
  /// a full/empty mbarrier pair per stage) gives most of its registers to
  /// the consumers (setmaxnreg); the consumer warpgroups never meet at a CTA
  /// barrier in the loop, and each issues the next tile's Q K^T right
  /// behind this tile's P V, both in flight together.
  bool ws = false;
  /// With `ws`: the consumer warpgroups take turns issuing their products
  /// (named barriers, a token passed round), so one's softmax runs while
  /// the other's wgmma use the tensor cores (FlashAttention-3's ping-pong).
  bool pingpong = false;
  /// With `ws`: the softmax of tile t + 1 runs while P V of tile t is in
  /// flight (FlashAttention-3's intra-warpgroup overlap).
  bool wsOverlap = false;
  /// Landmark attention with blocks of this many keys (one key tile per
  /// block); 0 for the other patterns.
  int64_t landmark = 0;
  /// Landmark top-k retrieval: the blocks each query keeps (0: all).
  int64_t topk = 0;
  /// CTAs per SM that ptxas must leave room for (nvvm.minctasm), which caps
  /// the registers per thread at 64K / (CTAs x threads).
  int64_t ctasPerSM = 1;
  /// TMA: rows of the K and V maps' boxes when they are fewer than
  /// blockN (the maps are shared with a kernel of shorter key tiles); 0:
  /// blockN.
  int64_t kvBoxRows = 0;
  int64_t threads() const { return warps * 32 + (ws ? 128 : 0); }
  /// Warp specialisation: the producer's registers per thread, and the
  /// consumers' (what the CTA's pool then holds: ptxas gives 384 threads at
  /// most 168 each, 128 x 24 + 256 x 240 = 384 x 168).
  static constexpr int64_t kProducerRegs = 24;
  int64_t consumerRegs() const {
    int64_t perThread = 65536 / threads() / 8 * 8;
    return std::min<int64_t>(
        240, (perThread * threads() - 128 * kProducerRegs) / (32 * warps) / 8 *
                 8);
  }
  /// Row padding of the Q and K tiles: none in the wgmma and TMA layouts.
  int64_t qkPad() const { return wgmma || tma ? 0 : kPad; }
  int64_t vPad() const { return tma ? 0 : kPad; }
  int64_t tileBytes() const {
    int64_t eb = elt.getIntOrFloatBitWidth() / 8;
    return eb * (blockM * (d + qkPad()) + stages * blockN * (d + qkPad()) +
                 stages * blockN * (dv + vPad()));
  }
  /// The tiles, then (TMA) one 8-byte mbarrier per stage and one for Q,
  /// (ws) the stages' empty barriers, or (top-k) the schedule's two rows of
  /// one i32 per warp.
  int64_t smemBytes() const {
    return tileBytes() + (tma ? 8 * (stages + 1) : 0) + (ws ? 8 * stages : 0) +
           (topk ? 8 * warps : 0);
  }
  /// Two such CTAs fit in an SM's 228 KB of shared memory (1 KB of each
  /// reserved by the system).
  bool twoFit() const { return 2 * (smemBytes() + 1024) <= 228 * 1024; }
};

/// What one CTA computes: query tile `qt` of a sequence of `nq` queries
/// against `nk` keys of (batch, head). Local row t of the sequence is
/// physical row base + stride * t of Q/O/LSE (qBase) and of K/V (kBase):
/// dense attention has base 0 and stride 1, a dilated segment is a strided
/// sub-sequence. `merge`: combine with O and LSE already there (log-sum-exp)
/// instead of overwriting them.
struct TileWork {
  Value batch, head, kvHead, qt, nq, nk;
  Value qBase, kBase, stride;
  bool merge = false;
  /// TMA: the CUtensorMaps of Q, K and V (grid-constant parameters).
  /// `tmaRate` > 1: the maps are 5-D, [B, H, N / r, r, X], so that the
  /// rows of one offset (physical row p = r * (p / r) + p mod r) are a
  /// box of consecutive indices of the third dimension.
  Value mapQ, mapK, mapV;
  int64_t tmaRate = 1;
};

/// Builds the body of one attention kernel.
class KernelCodegen {
public:
  KernelCodegen(Emitter &e, const GPUConfig &c) : e(e), c(c) {}

  /// Thread and warp indices; call first.
  void setup();
  void emit(PatternAttrInterface pattern, const KernelArgs &a, Value smemBase,
            const TileWork &w);
  /// Lightning attention, columns [e0, e0 + ev) of V, O and the state, for
  /// one (batch, head); `log2l` = log2 of the decay.
  void emitLightning(const KernelArgs &a, Value smemBase, const TileWork &w,
                     Value e0, int64_t ev, Value log2l);
  /// Shared memory of emitLightning.
  static int64_t lightningSmemBytes(const GPUConfig &c, int64_t ev) {
    int64_t eb = c.elt.getIntOrFloatBitWidth() / 8;
    return eb * (2 * 2 * c.blockM * (c.d + kPad) + 2 * c.blockM * (ev + kPad) +
                 c.d * (ev + kPad));
  }

private:
  Emitter &e;
  const GPUConfig &c;
  // Per thread.
  Value lane, warp, groupRow, quadCol; // g = lane / 4, t = lane % 4
  // Shared-memory tiles.
  Value sQ, sK, sV;

  VectorType vec(ArrayRef<int64_t> shape, Type t) {
    return VectorType::get(shape, t);
  }
  Value i32(int64_t v) {
    return arith::ConstantOp::create(e.b, e.loc, e.b.getI32IntegerAttr(v));
  }
  Value negInf() { return e.f32(-std::numeric_limits<double>::infinity()); }
  Value shuffleXor(Value x, int64_t offset) {
    auto op = gpu::ShuffleOp::create(e.b, e.loc, x, i32(offset), i32(32),
                                     gpu::ShuffleMode::XOR);
    return op.getShuffleResult();
  }
  // NVVM intrinsics, not math ops: those become libdevice calls, and PTX
  // (format=isa) must build without the CUDA toolkit.
  Value intrinsic(StringRef name, ValueRange args) {
    return LLVM::CallIntrinsicOp::create(e.b, e.loc, e.b.getF32Type(),
                                         e.b.getStringAttr(name), args)
        .getResult(0);
  }
  Value maxf(Value x, Value y) { return intrinsic("llvm.nvvm.fmax.f", {x, y}); }
  /// ex2.approx.ftz: 2^-inf is +0, which the masked softmax relies on.
  Value exp2(Value x) { return intrinsic("llvm.nvvm.ex2.approx.ftz.f", {x}); }
  Value log2(Value x) { return intrinsic("llvm.nvvm.lg2.approx.f", {x}); }
  Value addf(Value x, Value y) { return arith::AddFOp::create(e.b, e.loc, x, y); }
  Value mulf(Value x, Value y) { return arith::MulFOp::create(e.b, e.loc, x, y); }
  Value subf(Value x, Value y) { return arith::SubFOp::create(e.b, e.loc, x, y); }
  /// x * y + z in one rounding (arith's mul and add lower to mul.rn and
  /// add.rn, which ptxas does not fuse).
  Value fma(Value x, Value y, Value z) {
    return LLVM::FMAOp::create(e.b, e.loc, x, y, z);
  }
  Value extract(Value v, ArrayRef<int64_t> pos) {
    return vector::ExtractOp::create(e.b, e.loc, v, pos);
  }
  Value insert(Value x, Value v, ArrayRef<int64_t> pos) {
    return vector::InsertOp::create(e.b, e.loc, x, v, pos);
  }
  Value zeros(VectorType t) {
    return arith::ConstantOp::create(e.b, e.loc, t,
                                     DenseElementsAttr::get(t, 0.0f));
  }

  /// A shared-memory array of `elt` (default: the input type): `shape` at
  /// `byteOffset` of the kernel's dynamic shared memory.
  Value tileView(Value smemBase, ArrayRef<int64_t> shape, int64_t byteOffset,
                 Type elt = Type()) {
    auto ws = gpu::AddressSpaceAttr::get(e.b.getContext(),
                                         gpu::AddressSpace::Workgroup);
    auto t = MemRefType::get(shape, elt ? elt : c.elt,
                             MemRefLayoutAttrInterface{}, ws);
    return memref::ViewOp::create(e.b, e.loc, t, smemBase, e.idx(byteOffset),
                                  ValueRange{})
        .getResult();
  }

  /// B fragment `h` (n8 block h) of an ldmatrix.x4 result holding the two
  /// n8 blocks of one k16 step: its matrices 2h and 2h + 1.
  Value halfOf(Value frag, int64_t h) {
    return vector::FromElementsOp::create(
        e.b, e.loc, vec({2, 2}, c.elt),
        ValueRange{extract(frag, {2 * h, 0}), extract(frag, {2 * h, 1}),
                   extract(frag, {2 * h + 1, 0}), extract(frag, {2 * h + 1, 1})});
  }

  /// D = A B + C on one m16n8k16 tile (A vector<4x2xT>, B vector<2x2xT>,
  /// C and D vector<2x2xf32>).
  Value mma(Value a, Value bFrag, Value acc);

  /// cp.async of rows [row0, row0 + rows) x [0, cols) of a [B, H, N, X]
  /// operand into `dst[stage?, r, :]`; rows at or past `n` are zero-filled
  /// (their source address is clamped to a valid row).
  void copyTile(Value src, Value batch, Value head, Value row0, Value n,
                Value base, Value stride, int64_t rows, int64_t cols,
                Value dst, Value stage, Value col0 = Value());
  SmallVector<Value> loadQFragments();
  SmallVector<Value> scores(ArrayRef<Value> qa, Value stage);
  SmallVector<Value> scoresWgmma(Value stage);
  /// Issues and commits S = Q K^T of `stage` by wgmma without waiting: the
  /// accumulator struct, valid after the next wgmma wait.
  Value issueScores(Value stage);
  /// wgmma reads shared memory through the async proxy: what cp.async wrote
  /// (generic proxy) must be fenced before the barrier that publishes it.
  void asyncProxyFence() {
    if (c.wgmma && !c.tma)
      NVVM::FenceProxyOp::create(
          e.b, e.loc,
          NVVM::ProxyKindAttr::get(e.b.getContext(),
                                   NVVM::ProxyKind::async_shared),
          NVVM::SharedSpaceAttr::get(e.b.getContext(),
                                     NVVM::SharedSpace::shared_cta));
  }
  /// The wgmma matrix descriptor of a K-major tile whose k16 step starts
  /// `byteOffset` bytes into `tile`: no swizzle (core matrices, cp.async) or
  /// 128-byte swizzle (TMA).
  Value descriptor(Value tile, Value byteOffset);
  Value descriptor(Value tile, Value byteOffset, int64_t lbo, int64_t sbo,
                   int64_t mode);
  /// O += P V for the warpgroup's 64 rows: one inline-PTX block of BN / 16
  /// register-A wgmma m64nDvk16 (P's fragments as A, V's tile as an
  /// MN-major B descriptor), committed and, if `wait`, waited for (else the
  /// results are valid after a later wgmma wait).
  SmallVector<Value> pvWgmma(ArrayRef<Value> p, Value stage,
                             ArrayRef<Value> acc, bool wait) {
    return pvWgmmaPacked(packP(p), stage, acc, wait);
  }
  /// P's fragments rounded to the input type, as the register-A operands of
  /// pvWgmma: four 32-bit registers per k16 step.
  SmallVector<Value> packP(ArrayRef<Value> p);
  /// wgmma.wait_group n as inline PTX that also takes and returns `keep`
  /// (i32 or f32 scalars, tied): the registers an in-flight wgmma reads or
  /// writes stay theirs until the wait (LLVM does not know the wgmma is
  /// asynchronous and would reuse them; ptxas then serializes the wgmma).
  SmallVector<Value> waitKeeping(int64_t n, ArrayRef<Value> keep);
  SmallVector<Value> pvWgmmaPacked(ArrayRef<Value> packedP, Value stage,
                                   ArrayRef<Value> acc, bool wait);
  /// The m16n8 fragments (vector<2x2xf32>) of a wgmma accumulator struct of
  /// `blocks` n8 blocks: wgmma's register layout is mma.sync's.
  SmallVector<Value> fragments(Value acc, int64_t blocks) {
    SmallVector<Value> out;
    for (int64_t j = 0; j < blocks; ++j) {
      SmallVector<Value> elems;
      for (int64_t x = 0; x < 4; ++x)
        elems.push_back(LLVM::ExtractValueOp::create(e.b, e.loc, acc, 4 * j + x));
      out.push_back(vector::FromElementsOp::create(
          e.b, e.loc, VectorType::get({2, 2}, e.b.getF32Type()), elems));
    }
    return out;
  }
  /// Indices into `tile` (a stage of it when `stage` is set) of the 8
  /// elements at (r, col) of a tile of `rows` rows; col % 8 == 0.
  SmallVector<Value> at(Value stage, int64_t rows, Value r, Value col);
  // TMA: the shared address of the dynamic shared memory, mbarriers.
  Value smemAddr, leader;
  int64_t barOffset = 0;
  Value sharedPtr(Value byteOffset);
  Value barrier(Value index) {
    return sharedPtr(e.add(e.idx(barOffset), e.mul(index, e.idx(8))));
  }
  /// Warp specialisation: the empty barrier of `stage` (its consumers have
  /// read it), after the full ones and Q's.
  Value emptyBarrier(Value stage) {
    return barrier(e.add(stage, e.idx(c.stages + 1)));
  }
  /// TMA: wait until key tile `tile` has arrived in its stage (use u = tile
  /// / stages of the stage's barrier: phase parity u % 2).
  void waitTile(Value tile) {
    waitBarrier(barrier(e.rem(tile, e.idx(c.stages))),
                e.rem(e.div(tile, e.idx(c.stages)), e.idx(2)));
  }
  /// Warp specialisation: this consumer thread is done with `stage`.
  void releaseStage(Value stage) {
    NVVM::MBarrierArriveOp::create(e.b, e.loc, Type(), emptyBarrier(stage),
                                   Value(), NVVM::MemScopeKind::CTA, false);
  }
  /// The leader thread: expect `bytes` on `bar`, then load the rows x cols
  /// tile at (row0, head, batch) of `map` to `dstOffset` (bytes), one TMA
  /// per 64-column atom.
  /// `rows` x `cols` of `map` from physical row `row0` (of rows `rate`
  /// apart when the map is strided, see TileWork::tmaRate).
  /// A map whose boxes have fewer rows (`boxRows`, 0: `rows`) takes several
  /// loads per atom, one after the other in shared memory: the same layout.
  void tmaTile(Value map, int64_t rate, Value bar, Value dstOffset,
               int64_t rows, int64_t cols, Value row0, Value head,
               Value batch, int64_t boxRows = 0);
  void expectBytes(Value bar, int64_t bytes) {
    NVVM::MBarrierArriveExpectTxOp::create(e.b, e.loc, Type(), bar, i32(bytes),
                                           NVVM::MemScopeKind::CTA, false,
                                           Value());
  }
  /// Every thread: wait until phase `parity` of `bar` completes.
  void waitBarrier(Value bar, Value parity) {
    NVVM::MBarrierTryWaitParityOp::create(e.b, e.loc, bar, e.toI32(parity),
                                          i32(10000000));
  }
  /// `lo` and `hi`: the rows' inclusive key bounds, i32.
  SmallVector<Value> mask(ArrayRef<Value> s, Value n0, Value lo[2],
                          Value hi[2]);
  /// Landmark attention as one softmax over adjusted scores (as on the
  /// CPU): for a query of a later block, key j of this tile's block gets
  /// s_j - lse_block + s(landmark); in the query's own block, keys j <= p
  /// keep s_j; landmarks and everything else get -inf. Raw (unscaled)
  /// scores; `pos` are the positions of the thread's two rows.
  SmallVector<Value> landmarkScores(ArrayRef<Value> s, Value n0, Value pos[2]);

  // Landmark top-k retrieval.
  /// "No block" in the top-k lists and the tile schedule.
  static constexpr int32_t kNoBlock = std::numeric_limits<int32_t>::max();
  /// The blocks each of the thread's two rows retrieves (i32, ascending
  /// score order; kNoBlock where the row has fewer than k earlier blocks).
  SmallVector<Value> chosen[2];
  /// The schedule's exchange: two rows of one i32 per warp, in shared memory.
  Value slots;
  /// Fills `chosen`: the landmark keys of blocks [0, blocks) are scored by
  /// the key-tile code (mma.sync) and each row keeps its k best blocks
  /// before its own (`rowBlock`).
  void selectTopk(ArrayRef<Value> qa, const KernelArgs &a, const TileWork &w,
                  Value rowBlock[2], Value blocks);
  /// The warp's smallest block after `x` (i32) that one of its rows visits:
  /// a chosen block, or one of the CTA's own blocks [ownLo, ownHi].
  Value warpNextBlock(Value x, Value ownLo, Value ownHi);
  /// Lane 0 of each warp writes `v` to row `buf` of the exchange; after a
  /// barrier, minOfWarps(buf) is the CTA's smallest.
  void publish(Value v, Value buf);
  Value minOfWarps(Value buf);
};

void KernelCodegen::copyTile(Value src, Value batch, Value head, Value row0,
                             Value n, Value base, Value stride, int64_t rows,
                             int64_t cols, Value dst, Value stage,
                             Value col0) {
  int64_t chunksPerRow = cols / 8, chunks = rows * chunksPerRow;
  Value tid = e.add(e.mul(warp, e.idx(32)), lane);
  Value lastRow = e.sub(n, e.idx(1));
  SmallVector<Value> tokens;
  for (int64_t i = 0; i < chunks; i += c.threads()) {
    Value id = e.add(tid, e.idx(i));
    auto body = [&] {
      Value r = e.div(id, e.idx(chunksPerRow));
      Value col = e.mul(e.rem(id, e.idx(chunksPerRow)), e.idx(8));
      Value row = e.add(row0, r);
      Value inside = e.cmp(arith::CmpIPredicate::slt, row, n);
      Value srcElems = e.select(inside, e.idx(8), e.idx(0));
      Value srcRow =
          e.add(base, e.mul(stride, e.max(e.min(row, lastRow), e.idx(0))));
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
          dstIdx, src,
          ValueRange{batch, head, srcRow, col0 ? e.add(col0, col) : col},
          e.b.getIndexAttr(8), srcElems, e.b.getUnitAttr());
    };
    if (i + c.threads() <= chunks) {
      body();
    } else {
      e.ifThen(e.cmp(arith::CmpIPredicate::slt, id, e.idx(chunks)), body);
    }
  }
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

Value KernelCodegen::mma(Value a, Value bFrag, Value acc) {
  if (c.elt.isF16())
    return nvgpu::MmaSyncOp::create(e.b, e.loc, a, bFrag, acc,
                                    ArrayRef<int64_t>{16, 8, 16});
  // MLIR 22's nvgpu.mma.sync lowering cannot type bf16 operands ("failed to
  // deduce operand PTX types"): build nvvm.mma.sync, which takes the packed
  // 32-bit registers and names the bf16 PTX type explicitly.
  OpBuilder &b = e.b;
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  auto pack = [&](Value frag, int64_t rows) {
    SmallVector<Value> regs;
    for (int64_t r = 0; r < rows; ++r)
      regs.push_back(LLVM::BitcastOp::create(b, e.loc, i32, extract(frag, {r})));
    return regs;
  };
  SmallVector<Value> cRegs;
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t x = 0; x < 2; ++x)
      cRegs.push_back(extract(acc, {r, x}));
  auto resT = LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
  Value d = NVVM::MmaOp::create(
      b, e.loc, resT, pack(a, 4), pack(bFrag, 2), cRegs, {16, 8, 16},
      std::nullopt, std::nullopt,
      std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::bf16, NVVM::MMATypes::bf16},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row, NVVM::MMALayout::col});
  SmallVector<Value> elems;
  for (int64_t i = 0; i < 4; ++i)
    elems.push_back(LLVM::ExtractValueOp::create(b, e.loc, d, i));
  return vector::FromElementsOp::create(b, e.loc, VectorType::get({2, 2}, f32),
                                        elems);
}

/// A fragments of this warp's 16 query rows, one per k16 step of D.
SmallVector<Value> KernelCodegen::loadQFragments() {
  // ldmatrix.x4: lanes 8i..8i+7 address the rows of matrix i; matrices are
  // (rows 0-7, k 0-7), (rows 8-15, k 0-7), (rows 0-7, k 8-15), (8-15, 8-15).
  Value mi = e.div(lane, e.idx(8));
  Value row = e.add(e.mul(warp, e.idx(16)),
                    e.add(e.mul(e.rem(mi, e.idx(2)), e.idx(8)),
                          e.rem(lane, e.idx(8))));
  Value colOff = e.mul(e.div(mi, e.idx(2)), e.idx(8));
  SmallVector<Value> qa;
  for (int64_t kk = 0; kk < c.d / 16; ++kk)
    qa.push_back(nvgpu::LdMatrixOp::create(
        e.b, e.loc, vec({4, 2}, c.elt), sQ,
        at(Value(), c.blockM, row, e.add(colOff, e.idx(kk * 16))), false, 4));
  return qa;
}

/// S = Q K^T for this warp: BN / 8 accumulators of m16n8.
SmallVector<Value> KernelCodegen::scores(ArrayRef<Value> qa, Value stage) {
  // B operand (k = d, n = key) is K's rows: ldmatrix without transpose.
  // Matrices: (keys 0-7, d 0-7), (keys 0-7, d 8-15), (keys 8-15, d 0-7),
  // (keys 8-15, d 8-15): two n8 blocks of one k16 step.
  Value mi = e.div(lane, e.idx(8));
  Value keyOff =
      e.add(e.mul(e.div(mi, e.idx(2)), e.idx(8)), e.rem(lane, e.idx(8)));
  Value colOff = e.mul(e.rem(mi, e.idx(2)), e.idx(8));
  VectorType accT = vec({2, 2}, e.b.getF32Type());
  SmallVector<Value> s(c.blockN / 8, zeros(accT));
  for (int64_t kk = 0; kk < c.d / 16; ++kk) {
    for (int64_t jj = 0; jj < c.blockN / 16; ++jj) {
      Value frag = nvgpu::LdMatrixOp::create(
          e.b, e.loc, vec({4, 2}, c.elt), sK,
          at(stage, c.blockN, e.add(keyOff, e.idx(jj * 16)),
             e.add(colOff, e.idx(kk * 16))),
          false, 4);
      for (int64_t h = 0; h < 2; ++h) {
        Value b = halfOf(frag, h);
        int64_t j = 2 * jj + h;
        s[j] = mma(qa[kk], b, s[j]);
      }
    }
  }
  return s;
}

Value KernelCodegen::descriptor(Value tile, Value byteOffset) {
  OpBuilder &b = e.b;
  Value addr = memref::ExtractAlignedPointerAsIndexOp::create(b, e.loc, tile);
  addr = e.add(addr, byteOffset);
  // Bits 0-13: address / 16; 16-29: LBO / 16; 32-45: SBO / 16; 62-63: the
  // swizzle mode. No swizzle: LBO is the step between core matrices along
  // K, SBO between 8-row groups. 128-byte swizzle (1): SBO is 8 rows of 128
  // bytes, LBO unused (1); the k16 steps of an atom are 32 bytes apart.
  return descriptor(tile, byteOffset, c.tma ? 16 : 128, c.tma ? 1024 : c.d * 16,
                    c.tma ? 1 : 0);
}

Value KernelCodegen::descriptor(Value tile, Value byteOffset, int64_t lbo,
                                int64_t sbo, int64_t mode) {
  OpBuilder &b = e.b;
  Value addr = memref::ExtractAlignedPointerAsIndexOp::create(b, e.loc, tile);
  addr = e.add(addr, byteOffset);
  Value lo = arith::AndIOp::create(b, e.loc, e.div(addr, e.idx(16)),
                                   e.idx(0x3FFF));
  Value fields = e.idx((lbo / 16) << 16 | (sbo / 16) << 32 | mode << 62);
  Value desc = arith::OrIOp::create(b, e.loc, lo, fields);
  return arith::IndexCastUIOp::create(b, e.loc, b.getI64Type(), desc);
}

SmallVector<Value> KernelCodegen::packP(ArrayRef<Value> p) {
  SmallVector<Value> regs;
  VectorType half2 = vec({2}, c.elt);
  for (int64_t kk = 0; kk < c.blockN / 16; ++kk)
    for (int64_t blk = 0; blk < 2; ++blk)
      for (int64_t hf = 0; hf < 2; ++hf)
        regs.push_back(LLVM::BitcastOp::create(
            e.b, e.loc, e.b.getI32Type(),
            arith::TruncFOp::create(e.b, e.loc, half2,
                                    extract(p[2 * kk + blk], {hf}))));
  return regs;
}

SmallVector<Value> KernelCodegen::waitKeeping(int64_t n, ArrayRef<Value> keep) {
  MLIRContext *ctx = e.b.getContext();
  std::string constraints;
  SmallVector<Type> types;
  for (Value v : keep) {
    constraints += v.getType().isF32() ? "=f," : "=r,";
    types.push_back(v.getType());
  }
  for (size_t i = 0; i < keep.size(); ++i)
    constraints += std::to_string(i) + (i + 1 < keep.size() ? "," : "");
  auto resT = LLVM::LLVMStructType::getLiteral(ctx, types);
  Value res = LLVM::InlineAsmOp::create(
                  e.b, e.loc, resT, keep,
                  "wgmma.wait_group.sync.aligned " + std::to_string(n) + ";",
                  constraints, /*has_side_effects=*/true,
                  /*is_align_stack=*/false,
                  LLVM::tailcallkind::TailCallKind::None,
                  LLVM::AsmDialectAttr::get(ctx, LLVM::AsmDialect::AD_ATT),
                  ArrayAttr())
                  .getResult(0);
  SmallVector<Value> out;
  for (size_t i = 0; i < keep.size(); ++i)
    out.push_back(LLVM::ExtractValueOp::create(e.b, e.loc, res, i));
  return out;
}

SmallVector<Value> KernelCodegen::pvWgmmaPacked(ArrayRef<Value> packedP,
                                                Value stage,
                                                ArrayRef<Value> acc,
                                                bool wait) {
  // Why inline PTX: MLIR 22's nvvm.wgmma.mma_async takes A from shared
  // memory only; FlashAttention-3 keeps P in registers as A, which saves a
  // store, a fence and a barrier per tile. LLVM could otherwise schedule the
  // rescaling of the accumulators between wgmma.fence and the wgmma, so the
  // fence, the chain, the commit and the wait are one asm block.
  OpBuilder &b = e.b;
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  int64_t eb = c.elt.getIntOrFloatBitWidth() / 8;
  int64_t nAcc = c.dv / 2, steps = c.blockN / 16;
  SmallVector<Value> operands;
  for (Value a : acc)
    for (int64_t hf = 0; hf < 2; ++hf)
      for (int64_t x = 0; x < 2; ++x)
        operands.push_back(extract(a, {hf, x}));
  operands.append(packedP.begin(), packedP.end());
  // V's stage: atoms of 64 columns (BN rows of 128 bytes) one after the
  // other. MN-major with 128-byte swizzle: LBO = the step between atoms
  // along N (Dv), SBO = 8 key rows; k16 step kk starts 16 rows further.
  Value vStage = e.mul(stage, e.idx(c.blockN * c.dv * eb));
  for (int64_t kk = 0; kk < steps; ++kk)
    operands.push_back(descriptor(sV, e.add(vStage, e.idx(kk * 16 * 128)),
                                  c.blockN * 128, 1024, 1));
  operands.push_back(i32(1));
  std::string type = c.elt.isF16() ? "f16" : "bf16";
  std::string text = "{\n.reg .pred p;\nsetp.ne.b32 p, $" +
                     std::to_string(2 * nAcc + 5 * steps) +
                     ", 0;\nwgmma.fence.sync.aligned;\n";
  std::string accList;
  for (int64_t i = 0; i < nAcc; ++i)
    accList += (i ? ", $" : "$") + std::to_string(i);
  for (int64_t kk = 0; kk < steps; ++kk) {
    int64_t a0 = 2 * nAcc + 4 * kk, desc = 2 * nAcc + 4 * steps + kk;
    text += llvm::formatv("wgmma.mma_async.sync.aligned.m64n{0}k16.f32.{1}.{1} "
                          "{{{2}}, {${3}, ${4}, ${5}, ${6}}, ${7}, p, 1, 1, 1;\n",
                          c.dv, type, accList, a0, a0 + 1, a0 + 2, a0 + 3, desc)
                .str();
  }
  text += "wgmma.commit_group.sync.aligned;\n";
  if (wait)
    text += "wgmma.wait_group.sync.aligned 0;\n";
  text += "}";
  std::string constraints;
  for (int64_t i = 0; i < nAcc; ++i)
    constraints += "=f,";
  for (int64_t i = 0; i < nAcc; ++i)
    constraints += std::to_string(i) + ",";
  for (int64_t i = 0; i < 4 * steps; ++i)
    constraints += "r,";
  for (int64_t i = 0; i < steps; ++i)
    constraints += "l,";
  constraints += "r";
  auto resT = LLVM::LLVMStructType::getLiteral(ctx, SmallVector<Type>(nAcc, f32));
  Value res = LLVM::InlineAsmOp::create(
                  b, e.loc, resT, operands, text, constraints,
                  /*has_side_effects=*/true, /*is_align_stack=*/false,
                  LLVM::tailcallkind::TailCallKind::None,
                  LLVM::AsmDialectAttr::get(ctx, LLVM::AsmDialect::AD_ATT),
                  ArrayAttr())
                  .getResult(0);
  return fragments(res, c.dv / 8);
}

/// S = Q K^T for the warpgroup's 64 rows by wgmma m64nBNk16, both operands
/// from shared memory; the accumulator fragments have mma.sync's layout, so
/// the rest of the tile code is shared.
SmallVector<Value> KernelCodegen::scoresWgmma(Value stage) {
  Value acc = issueScores(stage);
  NVVM::WgmmaWaitGroupSyncOp::create(e.b, e.loc, 0);
  return fragments(acc, c.blockN / 8);
}

Value KernelCodegen::issueScores(Value stage) {
  OpBuilder &b = e.b;
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  int64_t regs = c.blockN / 2; // 64 x BN f32 over 128 threads
  auto accT = LLVM::LLVMStructType::getLiteral(
      ctx, SmallVector<Type>(regs, f32));
  int64_t sbo = c.d * 16;
  int64_t eb = c.elt.getIntOrFloatBitWidth() / 8;
  Value wg = e.div(warp, e.idx(4));
  Value qRow0 = e.mul(wg, e.idx(8 * sbo)); // 64 rows = 8 groups
  Value kStage = e.mul(stage, e.idx(c.blockN * c.d * eb));
  auto typeAB = NVVM::WGMMATypesAttr::get(
      ctx, c.elt.isF16() ? NVVM::WGMMATypes::f16 : NVVM::WGMMATypes::bf16);
  Value acc = LLVM::PoisonOp::create(b, e.loc, accT);
  NVVM::WgmmaFenceAlignedOp::create(b, e.loc);
  if (c.tma)
    qRow0 = e.mul(wg, e.idx(64 * 128)); // 64 rows of 128 bytes per atom
  for (int64_t kk = 0; kk < c.d / 16; ++kk) {
    Value descA, descB;
    if (c.tma) {
      // Atom kk / 4 of each tile, k16 step kk % 4 of the atom's 128 bytes.
      int64_t inAtom = (kk % 4) * 32;
      descA = descriptor(sQ, e.add(qRow0, e.idx((kk / 4) * c.blockM * 128 +
                                                inAtom)));
      descB = descriptor(sK, e.add(kStage, e.idx((kk / 4) * c.blockN * 128 +
                                                 inAtom)));
    } else {
      Value step = e.idx(kk * 256); // two core matrices along K
      descA = descriptor(sQ, e.add(qRow0, step));
      descB = descriptor(sK, e.add(kStage, step));
    }
    // The first step ignores the (uninitialised) accumulator: scale-d = 0.
    acc = NVVM::WgmmaMmaAsyncOp::create(
        b, e.loc, accT, acc, descA, descB,
        NVVM::MMAShapeAttr::get(ctx, 64, c.blockN, 16), typeAB, typeAB,
        NVVM::WGMMATypesAttr::get(ctx, NVVM::WGMMATypes::f32),
        NVVM::WGMMAScaleOutAttr::get(ctx, kk == 0 ? NVVM::WGMMAScaleOut::zero
                                                  : NVVM::WGMMAScaleOut::one),
        NVVM::WGMMAScaleInAttr::get(ctx, NVVM::WGMMAScaleIn::one),
        NVVM::WGMMAScaleInAttr::get(ctx, NVVM::WGMMAScaleIn::one),
        NVVM::MMALayoutAttr::get(ctx, NVVM::MMALayout::row),
        NVVM::MMALayoutAttr::get(ctx, NVVM::MMALayout::col),
        NVVM::MMAIntOverflowAttr());
  }
  NVVM::WgmmaGroupSyncAlignedOp::create(b, e.loc);
  return acc;
}

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
SmallVector<Value> KernelCodegen::mask(ArrayRef<Value> s, Value n0,
                                       Value lo[2], Value hi[2]) {
  SmallVector<Value> out(s);
  // Bounds relative to this thread's first key, in 32 bits (keys and rows
  // fit: N < 2^31): each element compares against constants, and no 64-bit
  // key index stays live (fewer registers in the masked tiles).
  Value colBase = e.toI32(e.add(n0, e.mul(quadCol, e.idx(2))));
  Value loRel[2], hiRel[2];
  for (int64_t h = 0; h < 2; ++h) {
    loRel[h] = arith::SubIOp::create(e.b, e.loc, lo[h], colBase);
    hiRel[h] = arith::SubIOp::create(e.b, e.loc, hi[h], colBase);
  }
  for (int64_t j = 0; j < c.blockN / 8; ++j) {
    for (int64_t h = 0; h < 2; ++h) {
      for (int64_t x = 0; x < 2; ++x) {
        Value off = i32(int32_t(8 * j + x));
        Value ok = arith::AndIOp::create(
            e.b, e.loc, e.cmp(arith::CmpIPredicate::sle, loRel[h], off),
            e.cmp(arith::CmpIPredicate::sge, hiRel[h], off));
        Value v = e.select(ok, extract(out[j], {h, x}), negInf());
        out[j] = insert(v, out[j], {h, x});
      }
    }
  }
  return out;
}

void KernelCodegen::setup() {
  Value tid = gpu::ThreadIdOp::create(e.b, e.loc, gpu::Dimension::x);
  warp = e.div(tid, e.idx(32));
  lane = e.rem(tid, e.idx(32));
  if (c.ws) {
    // The warp index through a shuffle from lane 0: ptxas then knows it is
    // warp-uniform, so the branches on the warp's role are not divergent
    // paths (wgmma in a divergent path is serialized).
    auto op = gpu::ShuffleOp::create(e.b, e.loc, e.toI32(warp), i32(0), i32(32),
                                     gpu::ShuffleMode::IDX);
    warp = arith::IndexCastOp::create(e.b, e.loc, e.b.getIndexType(),
                                      op.getShuffleResult());
  }
  groupRow = e.div(lane, e.idx(4));
  quadCol = e.rem(lane, e.idx(4));
}

void KernelCodegen::emit(PatternAttrInterface pattern, const KernelArgs &a,
                         Value smemBase, const TileWork &w) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Type f32 = b.getF32Type();
  Value batch = w.batch, head = w.head, kvHead = w.kvHead;
  Value nq = w.nq, nk = w.nk;
  Value m0 = e.mul(w.qt, e.idx(c.blockM));
  Value shift = e.sub(nk, nq); // query row i sits at position nk - nq + i

  // Shared memory: Q [BM][D+pad], K [S][BN][D+pad], V [S][BN][Dv+pad].
  int64_t eb = c.elt.getIntOrFloatBitWidth() / 8;
  auto smemView = [&](ArrayRef<int64_t> shape, int64_t byteOffset) {
    return tileView(smemBase, shape, byteOffset);
  };
  int64_t qBytes = c.blockM * (c.d + c.qkPad()) * eb;
  int64_t kBytes = c.stages * c.blockN * (c.d + c.qkPad()) * eb;
  int64_t vBytes = c.stages * c.blockN * (c.dv + c.vPad()) * eb;
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

  // Key tiles of this query tile, from the pattern interface.
  Value valid = e.min(e.idx(c.blockM), e.sub(nq, m0));
  Value pFirst = e.add(shift, m0);
  Value pLast = e.add(shift, e.add(m0, e.sub(valid, e.idx(1))));
  KeyTiles kt;
  if (c.landmark) {
    // Every block up to the last query's own one, one key tile per block.
    kt.first = e.idx(0);
    kt.last = e.max(e.min(e.add(pLast, e.idx(1)), nk), e.idx(0));
  } else {
    kt = keyTilesOf(e, pattern, pFirst, pLast, nk);
  }
  Value span = e.max(e.sub(kt.last, kt.first), e.idx(0));
  Value numTiles = e.ceilDiv(span, e.idx(c.blockN));

  // Bounds of this thread's two rows (rows past nq repeat the last one).
  Value lo[2], hi[2], rows[2], pos[2];
  for (int64_t half = 0; half < 2; ++half) {
    rows[half] = e.add(e.mul(warp, e.idx(16)),
                       e.add(groupRow, e.idx(8 * half)));
    Value row = e.min(e.add(m0, rows[half]), e.sub(nq, e.idx(1)));
    pos[half] = e.add(shift, row);
    if (!c.landmark) {
      // 32 bits: they stay live through the loop (for the masks).
      lo[half] = e.toI32(
          clampedRowBounds(e, pattern, pos[half], nk, hi[half]));
      hi[half] = e.toI32(hi[half]);
    }
  }

  auto tokenType = nvgpu::DeviceAsyncTokenType::get(b.getContext());
  auto commit = [&] {
    return nvgpu::DeviceAsyncCreateGroupOp::create(b, loc, tokenType,
                                                   ValueRange{})
        .getResult();
  };
  // The key tile at n0 into `stage` of the ring, when `due`.
  auto loadKVAt = [&](Value stage, Value n0, Value due) {
    if (c.tma) {
      e.ifThen(arith::AndIOp::create(b, loc, due, leader), [&] {
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
               sK, stage);
      copyTile(a.v, batch, kvHead, n0, nk, w.kBase, w.stride, c.blockN, c.dv,
               sV, stage);
    });
  };
  // Key tile number `tile` of [kt.first, kt.last).
  auto loadKV = [&](Value tile) {
    loadKVAt(e.rem(tile, e.idx(c.stages)),
             e.add(kt.first, e.mul(tile, e.idx(c.blockN))),
             e.cmp(arith::CmpIPredicate::slt, tile, numTiles));
  };
  SmallVector<Value> qa;
  // Warp specialisation: then the producer, else the consumers.
  scf::IfOp roles;
  // Top-k: the schedule's state (see below).
  Value ownLo, ownHi;
  SmallVector<Value> queue;

  if (c.tma) {
    // Prologue: the leader sets up the barriers (one arrival each: its
    // expect-tx), then starts Q and the first stages - 1 key tiles; rows
    // past the sequence arrive zero-filled (TMA's out-of-bounds fill).
    e.ifThen(leader, [&] {
      for (int64_t s = 0; s <= c.stages; ++s)
        NVVM::MBarrierInitOp::create(b, loc, barrier(e.idx(s)), i32(1),
                                     Value());
      // Empty barriers: every consumer thread arrives once per use.
      for (int64_t s = 0; c.ws && s < c.stages; ++s)
        NVVM::MBarrierInitOp::create(b, loc, emptyBarrier(e.idx(s)),
                                     i32(32 * c.warps), Value());
      NVVM::FenceMbarrierInitOp::create(b, loc);
    });
    gpu::BarrierOp::create(b, loc);
    Value barQ = barrier(e.idx(c.stages));
    e.ifThen(leader, [&] {
      expectBytes(barQ, c.blockM * c.d * eb);
      // Rows past the sequence (rate-1 dilated phases: past the segment)
      // are computed and not stored. Past a segment, K and V rows are the
      // next segment's, not TMA's zero fill: their scores are masked (P =
      // 0), so only non-finite values there would reach O (as NaN).
      tmaTile(w.mapQ, w.tmaRate, barQ, e.idx(0), c.blockM, c.d,
              e.add(w.qBase, e.mul(w.stride, m0)), head, batch);
    });
    if (c.ws) {
      // The producer warpgroup's first thread loads every key tile in
      // order, each once its stage's previous use is released (use u waits
      // for phase u - 1 of the empty barrier); its other threads have
      // nothing to do. The consumer warps run the rest of the kernel.
      roles = scf::IfOp::create(
          b, loc, e.cmp(arith::CmpIPredicate::sge, warp, e.idx(c.warps)), true);
      b.setInsertionPointToStart(&roles.getThenRegion().front());
      NVVM::SetMaxRegisterOp::create(b, loc, c.kProducerRegs,
                                     NVVM::SetMaxRegisterAction::decrease);
      e.ifThen(leader, [&] {
        e.forLoop(e.idx(0), numTiles, e.idx(1), [&](Value t) {
          Value stage = e.rem(t, e.idx(c.stages));
          Value u = e.div(t, e.idx(c.stages));
          e.ifThen(e.cmp(arith::CmpIPredicate::sge, t, e.idx(c.stages)), [&] {
            waitBarrier(emptyBarrier(stage),
                        e.rem(e.add(u, e.idx(1)), e.idx(2)));
          });
          loadKVAt(stage, e.add(kt.first, e.mul(t, e.idx(c.blockN))),
                   arith::ConstantOp::create(b, loc, b.getBoolAttr(true)));
        });
      });
      b.setInsertionPoint(roles.getElseRegion().front().getTerminator());
      NVVM::SetMaxRegisterOp::create(b, loc, c.consumerRegs(),
                                     NVVM::SetMaxRegisterAction::increase);
    } else {
      for (int64_t s = 0; s < c.stages - 1; ++s)
        loadKV(e.idx(s));
    }
    waitBarrier(barQ, e.idx(0));
  } else if (c.topk) {
    // Landmark top-k: Q, then each row's choice of earlier blocks; the CTA
    // visits the union of its rows' choices and its own blocks, in order.
    // That schedule is built as it goes: each warp's smallest next block
    // (warpNextBlock) goes through shared memory, published one iteration
    // ahead and read after that iteration's barriers (two alternating
    // rows), so the loop adds no barrier; the prologue finds the first
    // stages - 1 blocks with one barrier each.
    copyTile(a.q, batch, head, m0, nq, w.qBase, w.stride, c.blockM, c.d, sQ,
             Value());
    nvgpu::DeviceAsyncWaitOp::create(b, loc, commit(), b.getI32IntegerAttr(0));
    gpu::BarrierOp::create(b, loc);
    qa = loadQFragments();
    Value L = e.idx(c.landmark);
    Value rowBlock[2];
    for (int64_t hf = 0; hf < 2; ++hf)
      rowBlock[hf] = arith::FloorDivSIOp::create(b, loc, pos[hf], L);
    Value hiBlock = arith::FloorDivSIOp::create(b, loc, pLast, L);
    selectTopk(qa, a, w, rowBlock, e.max(hiBlock, e.idx(0)));
    ownLo = e.toI32(e.max(arith::FloorDivSIOp::create(b, loc, pFirst, L),
                          e.idx(0)));
    ownHi = e.toI32(hiBlock);
    Value x = i32(-1), token;
    for (int64_t s = 0; s < c.stages - 1; ++s) {
      publish(warpNextBlock(x, ownLo, ownHi), e.idx(s % 2));
      gpu::BarrierOp::create(b, loc);
      x = minOfWarps(e.idx(s % 2));
      queue.push_back(x);
      loadKVAt(e.idx(s), e.mul(arith::IndexCastOp::create(
                                   b, loc, b.getIndexType(), x), L),
               e.cmp(arith::CmpIPredicate::ne, x, i32(kNoBlock)));
      token = commit();
    }
    publish(warpNextBlock(x, ownLo, ownHi), e.idx((c.stages - 1) % 2));
    nvgpu::DeviceAsyncWaitOp::create(b, loc, token,
                                     b.getI32IntegerAttr(c.stages - 2));
    gpu::BarrierOp::create(b, loc);
  } else {
    // Prologue: Q with the first key tile, then stages - 2 more tiles; one
    // commit group each (possibly empty) so the wait counts stay uniform.
    copyTile(a.q, batch, head, m0, nq, w.qBase, w.stride, c.blockM, c.d, sQ,
             Value());
    loadKV(e.idx(0));
    Value token = commit();
    for (int64_t s = 1; s < c.stages - 1; ++s) {
      loadKV(e.idx(s));
      token = commit();
    }
    nvgpu::DeviceAsyncWaitOp::create(b, loc, token,
                                     b.getI32IntegerAttr(c.stages - 2));
    asyncProxyFence();
    gpu::BarrierOp::create(b, loc);
  }
  if (!c.wgmma && !c.topk)
    qa = loadQFragments();

  // Loop state: running max (raw score units) and partial sums of the two
  // rows, and the O accumulators (Dv / 8 fragments of m16n8).
  VectorType accT = vec({2, 2}, f32);
  SmallVector<Value> init = {negInf(), negInf(), e.f32(0), e.f32(0)};
  for (int64_t j = 0; j < c.dv / 8; ++j)
    init.push_back(zeros(accT));
  Value scaleLog2 = e.f32(c.scale * M_LOG2E);
  // Async Q K^T: S of key tile t, issued once its TMA barrier completes
  // (poison past the last tile); it rides in the loop's state, last.
  auto issueTile = [&](Value t) -> Value {
    auto structT = LLVM::LLVMStructType::getLiteral(
        b.getContext(), SmallVector<Type>(c.blockN / 2, f32));
    auto ifOp = scf::IfOp::create(
        b, loc, TypeRange{structT},
        e.cmp(arith::CmpIPredicate::slt, t, numTiles), true);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    waitTile(t);
    scf::YieldOp::create(b, loc, issueScores(e.rem(t, e.idx(c.stages))));
    b.setInsertionPointToStart(&ifOp.getElseRegion().front());
    // Warp specialisation counts wgmma groups: commit an empty one.
    if (c.ws)
      NVVM::WgmmaGroupSyncAlignedOp::create(b, loc);
    scf::YieldOp::create(b, loc,
                         Value(LLVM::PoisonOp::create(b, loc, structT)));
    return ifOp.getResult(0);
  };
  if (c.asyncQK)
    init.push_back(issueTile(e.idx(0)));

  // The scores `s` of the key tile at n0 (masked here) become P in place;
  // returns the loop state updated by the online softmax, O rescaled.
  // With `alphaOut`, O (carried[4..]) is left alone and its rescaling
  // factor returned there (O may still be a wgmma's in-flight accumulator).
  auto softmax = [&](SmallVector<Value> &s, Value n0, ValueRange carried,
                     Value *alphaOut = nullptr) {
        if (c.landmark) {
          s = landmarkScores(s, n0, pos);
        } else {
          Value partial = arith::XOrIOp::create(
              b, loc, kt.isFull(e, n0, c.blockN),
              arith::ConstantOp::create(b, loc, b.getBoolAttr(true)));
          SmallVector<Type> sTypes(s.size(), accT);
          auto ifOp = scf::IfOp::create(b, loc, sTypes, partial, true);
          {
            OpBuilder::InsertionGuard g(b);
            b.setInsertionPointToStart(&ifOp.getThenRegion().front());
            scf::YieldOp::create(b, loc, mask(s, n0, lo, hi));
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
          // A row with nothing allowed yet keeps -inf: subtract 0 instead
          // so exp2 sees -inf, never NaN. exp2(s * scale log2 e - base) is
          // one fma and one ex2 per score.
          Value isInf = e.cmpf(arith::CmpFPredicate::OEQ, mNew, negInf());
          Value negBase = e.select(isInf, e.f32(0),
                                   mulf(mNew, e.f32(-c.scale * M_LOG2E)));
          alpha[hf] = exp2(fma(mOld, scaleLog2, negBase));
          Value sum = e.f32(0);
          for (Value &sj : s) {
            for (int64_t x = 0; x < 2; ++x) {
              Value p = exp2(fma(extract(sj, {hf, x}), scaleLog2, negBase));
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
  };
  // One key tile: wait for it (loaded into stage tile % stages), then the
  // scores, the online softmax and P V.
  auto step = [&](Value tile, Value n0, ValueRange carried) {
        Value stage = e.rem(tile, e.idx(c.stages));
        SmallVector<Value> s;
        Value nextS;
        if (c.asyncQK) {
          // This tile's S was issued one tile ago; the next tile's runs
          // during this softmax (P V's wait, at the latest, completes it).
          NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
          s = fragments(carried.back(), c.blockN / 8);
          nextS = issueTile(e.add(tile, e.idx(1)));
        } else if (c.tma) {
          waitTile(tile);
        } else {
          Value tok = commit();
          nvgpu::DeviceAsyncWaitOp::create(b, loc, tok,
                                           b.getI32IntegerAttr(c.stages - 1));
          asyncProxyFence();
          gpu::BarrierOp::create(b, loc);
        }

        if (!c.asyncQK)
          s = c.wgmma ? scoresWgmma(stage) : scores(qa, stage);
        SmallVector<Value> next = softmax(s, n0, carried);
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
  };
  SmallVector<Value> state;
  if (c.ws) {
    // Per tile t: S(t) = Q K^T completes (issued one tile ago), its softmax,
    // then P V of t and Q K^T of t + 1 are issued together; P V's wait
    // (wait_group 1: the newer group may stay in flight) ends the tile and
    // releases its stage to the producer. Ping-pong: a warpgroup issues
    // only on its turn (named barrier 1 + wg, synced by it and arrived at
    // by the warpgroup before it), and passes the turn on after issuing
    // tile j's Q K^T, the last warpgroup only while j < numTiles, so every
    // barrier's arrivals match its syncs.
    int64_t groups = c.warps / 4;
    Value wg = e.div(warp, e.idx(4));
    Value turnThreads = i32(256);
    // Barrier ids are constants (a register id makes ptxas reserve all 16
    // barriers, which limits the CTAs per SM).
    auto forEachGroup = [&](function_ref<void(int64_t)> body) {
      for (int64_t g = 0; g < groups; ++g)
        e.ifThen(e.cmp(arith::CmpIPredicate::eq, wg, e.idx(g)),
                 [&] { body(g); });
    };
    auto waitTurn = [&] {
      if (c.pingpong)
        forEachGroup([&](int64_t g) {
          NVVM::BarrierOp::create(b, loc, Type(), i32(1 + g), turnThreads,
                                  NVVM::BarrierReductionAttr(), Value());
        });
    };
    auto passTurn = [&](Value j) {
      if (!c.pingpong)
        return;
      Value notLast = e.cmp(arith::CmpIPredicate::ne, wg, e.idx(groups - 1));
      Value more = e.cmp(arith::CmpIPredicate::slt, j, numTiles);
      e.ifThen(arith::OrIOp::create(b, loc, more, notLast), [&] {
        forEachGroup([&](int64_t g) {
          NVVM::BarrierArriveOp::create(b, loc, i32(1 + (g + 1) % groups),
                                        turnThreads);
        });
      });
    };
    if (c.pingpong)
      e.ifThen(e.cmp(arith::CmpIPredicate::eq, wg, e.idx(groups - 1)), [&] {
        NVVM::BarrierArriveOp::create(b, loc, i32(1), turnThreads);
      });
    waitTurn();
    Value s0 = issueTile(e.idx(0));
    passTurn(e.idx(0));
    if (c.wsOverlap) {
      // FlashAttention-3's intra-warpgroup overlap: per tile t < T - 1, Q
      // K^T of t + 1 and then P V of t are issued; wait_group 1 completes
      // the former (groups complete in order), whose softmax then runs
      // under P V; wait_group 0 (keeping P's and O's registers), then O is
      // rescaled by the new tile's factor (O is the in-flight accumulator
      // until then: the softmax leaves it alone). The last tile's P V is
      // peeled, so every wgmma in the loop is unconditional and ptxas can
      // count the groups. Carried: the row statistics, O, and P of tile t
      // packed as wgmma's A registers.
      int64_t nStats = 4, nO = c.dv / 8;
      auto softmaxOf = [&](Value sAcc, Value t, ValueRange stats,
                           SmallVector<Value> &packed, Value &alpha) {
        SmallVector<Value> sc = fragments(sAcc, c.blockN / 8);
        SmallVector<Value> st = softmax(
            sc, e.add(kt.first, e.mul(t, e.idx(c.blockN))), stats, &alpha);
        packed = packP(sc);
        return st;
      };
      // P V of `tile` from `carried`; waits for it and releases the stage:
      // O as scalars.
      auto finishPV = [&](Value tile, ValueRange carried,
                          function_ref<void()> between) {
        Value stage = e.rem(tile, e.idx(c.stages));
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
              b, loc, accT, ArrayRef<Value>(kept).slice(pa.size() + 4 * j, 4)));
        return out;
      };
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
            Value nextS = issueScores(e.rem(tNext, e.idx(c.stages)));
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
      SmallVector<Type> oTypes(nO, accT);
      auto last = scf::IfOp::create(
          b, loc, oTypes, e.cmp(arith::CmpIPredicate::sgt, numTiles, e.idx(0)),
          true);
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(&last.getThenRegion().front());
        waitTurn();
        SmallVector<Value> o = finishPV(lastTile, loopOut,
                                        [&] { passTurn(numTiles); });
        scf::YieldOp::create(b, loc, o);
        b.setInsertionPointToStart(&last.getElseRegion().front());
        scf::YieldOp::create(
            b, loc, ValueRange(loopOut).slice(nStats, nO));
      }
      state.assign(loopOut.begin(), loopOut.begin() + nStats);
      state.append(last.getResults().begin(), last.getResults().end());
    } else {
    init.push_back(s0);
    state = e.forLoop(
        e.idx(0), numTiles, e.idx(1), init,
        [&](Value tile, ValueRange carried) {
          Value stage = e.rem(tile, e.idx(c.stages));
          NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
          SmallVector<Value> s = fragments(carried.back(), c.blockN / 8);
          SmallVector<Value> next =
              softmax(s, e.add(kt.first, e.mul(tile, e.idx(c.blockN))),
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
    }
  } else if (!c.topk) {
    state = e.forLoop(e.idx(0), numTiles, e.idx(1), init,
                      [&](Value tile, ValueRange carried) {
                        loadKV(e.add(tile, e.idx(c.stages - 1)));
                        return step(tile, e.add(kt.first,
                                                e.mul(tile, e.idx(c.blockN))),
                                    carried);
                      });
  } else {
    // Carried: the tile number, the blocks of the next stages - 1 tiles
    // (queue[0] is this iteration's; kNoBlock ends the loop), the state.
    SmallVector<Value> inits = {e.idx(0)};
    inits.append(queue.begin(), queue.end());
    inits.append(init.begin(), init.end());
    int64_t nq0 = 1 + int64_t(queue.size());
    auto loop = scf::WhileOp::create(
        b, loc, ValueRange(inits).getTypes(), inits,
        [&](OpBuilder &nb, Location, ValueRange carried) {
          OpBuilder::InsertionGuard g(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          scf::ConditionOp::create(
              b, loc,
              e.cmp(arith::CmpIPredicate::ne, carried[1], i32(kNoBlock)),
              carried);
        },
        [&](OpBuilder &nb, Location, ValueRange carried) {
          OpBuilder::InsertionGuard g(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          Value tile = carried[0];
          Value ahead = e.add(tile, e.idx(c.stages - 1));
          Value fresh = minOfWarps(e.rem(ahead, e.idx(2)));
          loadKVAt(e.rem(ahead, e.idx(c.stages)),
                   e.mul(arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                                    fresh),
                         e.idx(c.landmark)),
                   e.cmp(arith::CmpIPredicate::ne, fresh, i32(kNoBlock)));
          publish(warpNextBlock(fresh, ownLo, ownHi),
                  e.rem(e.add(ahead, e.idx(1)), e.idx(2)));
          Value n0 = e.mul(arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                                      carried[1]),
                           e.idx(c.landmark));
          SmallVector<Value> next = {e.add(tile, e.idx(1))};
          next.append(carried.begin() + 2, carried.begin() + nq0);
          next.push_back(fresh);
          SmallVector<Value> st = step(tile, n0, carried.drop_front(nq0));
          next.append(st.begin(), st.end());
          scf::YieldOp::create(b, loc, next);
        });
    state.assign(loop.getResults().begin() + nq0, loop.getResults().end());
  }

  // Epilogue: O / l and LSE = m * scale + ln l; empty rows: 0 and -inf.
  // Merging (dilated phases): LSE' = ln(e^LSE + e^lse), O' = e^(LSE - LSE') O
  // + e^(lse - LSE') o, a side at -inf contributing nothing.
  Value ln2 = e.f32(M_LN2), log2e = e.f32(M_LOG2E);
  auto expf = [&](Value x) { return exp2(mulf(x, log2e)); };
  Value inv[2], lseRow[2], phys[2], inside[2], wOld[2], wNew[2];
  for (int64_t hf = 0; hf < 2; ++hf) {
    Value l = state[2 + hf];
    l = addf(l, shuffleXor(l, 1));
    l = addf(l, shuffleXor(l, 2));
    Value empty = e.cmpf(arith::CmpFPredicate::OLE, l, e.f32(0));
    inv[hf] = e.select(empty, e.f32(0),
                       arith::DivFOp::create(b, loc, e.f32(1), l));
    Value lse = addf(mulf(state[hf], e.f32(c.scale)), mulf(log2(l), ln2));
    lseRow[hf] = e.select(empty, negInf(), lse);
    Value row = e.add(m0, rows[hf]);
    inside[hf] = e.cmp(arith::CmpIPredicate::slt, row, nq);
    phys[hf] = e.add(w.qBase,
                     e.mul(w.stride, e.min(row, e.sub(nq, e.idx(1)))));
    if (w.merge) {
      // Every lane reads the old LSE of its rows before any lane writes.
      Value old = e.load(a.lse, {batch, head, phys[hf]});
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
  for (int64_t hf = 0; hf < 2; ++hf) {
    e.ifThen(inside[hf], [&] {
      Value colBase = e.mul(quadCol, e.idx(2));
      VectorType pairT = vec({2}, f32);
      Value scaleNew = w.merge ? mulf(inv[hf], wNew[hf]) : inv[hf];
      Value scaleV = vector::BroadcastOp::create(b, loc, pairT, scaleNew);
      for (int64_t j = 0; j < c.dv / 8; ++j) {
        SmallVector<Value> idx = {batch, head, phys[hf],
                                  e.add(colBase, e.idx(8 * j))};
        Value pair = arith::MulFOp::create(b, loc, extract(state[4 + j], {hf}),
                                           scaleV);
        if (w.merge) {
          Value old = vector::LoadOp::create(b, loc, vec({2}, c.outElt), a.o,
                                             idx);
          if (!c.outElt.isF32())
            old = arith::ExtFOp::create(b, loc, pairT, old);
          Value oldScale = vector::BroadcastOp::create(b, loc, pairT, wOld[hf]);
          pair = vector::FMAOp::create(b, loc, old, oldScale, pair);
        }
        Value outPair = pair;
        if (!c.outElt.isF32())
          outPair = arith::TruncFOp::create(b, loc, vec({2}, c.outElt), pair);
        vector::StoreOp::create(b, loc, outPair, a.o, idx);
      }
      if (a.lse)
        e.ifThen(e.cmp(arith::CmpIPredicate::eq, quadCol, e.idx(0)), [&] {
          e.store(lseRow[hf], a.lse, {batch, head, phys[hf]});
        });
    });
  }
  if (roles)
    b.setInsertionPointAfter(roles);
}

//===----------------------------------------------------------------------===//
// Lightning attention: Lightning-Attention-2 blocks on tensor cores
//===----------------------------------------------------------------------===//

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

class LowerToGPU : public attn::impl::AttnLowerToGPUBase<LowerToGPU> {
public:
  using Base::Base;
  void runOnOperation() override;

private:
  LogicalResult lowerKernel(func::FuncOp func, AttentionOp op,
                            gpu::GPUModuleOp gpuModule);
  LogicalResult lowerLightning(func::FuncOp func, LightningOp op,
                               gpu::GPUModuleOp gpuModule);
};

} // namespace

/// The GPU target lowers kernel functions whose body is one attn op on the
/// function's arguments.
static LogicalResult
checkKernelShape(func::FuncOp func, Operation *op,
                 function_ref<InFlightDiagnostic(const Twine &)> fail) {
  Block &entry = func.getBody().front();
  for (Value operand : op->getOperands())
    if (!isa<BlockArgument>(operand) ||
        cast<BlockArgument>(operand).getOwner() != &entry)
      return fail("the GPU target lowers kernels whose attn op works on the "
                  "function's arguments");
  if (!llvm::all_of(entry.without_terminator(),
                    [&](Operation &o) { return &o == op; }))
    return func.emitError() << "the GPU target lowers kernel functions whose "
                               "body is one attn op";
  return success();
}

/// Keys per query tile of `bm` rows, on average over the tiles of `n`
/// queries and `n` keys, of an interval pattern.
static double averageSpan(PatternAttrInterface pattern, int64_t n,
                          int64_t bm) {
  double sum = 0;
  int64_t tiles = 0;
  for (int64_t p0 = 0; p0 < n; p0 += bm, ++tiles) {
    int64_t lo, hi, lo1, hi1;
    pattern.rowBounds(p0, n, lo, hi);
    pattern.rowBounds(std::min(p0 + bm, n) - 1, n, lo1, hi1);
    sum += double(std::max<int64_t>(
        0, std::min(hi1, n - 1) - std::max<int64_t>(lo, 0) + 1));
  }
  return tiles ? sum / double(tiles) : 0;
}

/// The shortest sequence (a multiple of `bm`, up to 64K) whose query tiles
/// read `keys` keys or more on average; 0 when none does (the pattern
/// bounds each query's keys).
static int64_t longRowThreshold(PatternAttrInterface pattern, int64_t bm,
                                int64_t keys) {
  for (int64_t n = bm; n <= 65536; n += bm)
    if (averageSpan(pattern, n, bm) >= double(keys))
      return n;
  return 0;
}

/// A kernel gpu.func of `threads` threads per CTA, `ctas` of which ptxas
/// must fit on an SM.
static gpu::GPUFuncOp createKernel(OpBuilder &b, Location loc, StringRef name,
                                   TypeRange types, int64_t threads,
                                   int64_t ctas) {
  auto kernel = gpu::GPUFuncOp::create(
      b, loc, name, FunctionType::get(b.getContext(), types, {}));
  kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  kernel.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr({int32_t(threads), 1, 1}));
  kernel->setAttr("nvvm.maxntid",
                  b.getDenseI32ArrayAttr({int32_t(threads), 1, 1}));
  kernel->setAttr("nvvm.minctasm", b.getI32IntegerAttr(ctas));
  return kernel;
}

LogicalResult LowerToGPU::lowerKernel(func::FuncOp func, AttentionOp op,
                                      gpu::GPUModuleOp gpuModule) {
  auto fail = [&](const Twine &msg) {
    return op.emitOpError() << "(target " << chip << "): " << msg;
  };
  auto qType = cast<MemRefType>(op.getQ().getType());
  auto vType = cast<MemRefType>(op.getV().getType());
  auto oType = cast<MemRefType>(op.getOut().getType());
  auto pattern = op.getPattern();
  auto dilated = dyn_cast<DilatedAttr>(Attribute(pattern));
  GPUConfig c;
  c.d = qType.getDimSize(3);
  c.dv = vType.getDimSize(3);
  c.elt = qType.getElementType();
  c.outElt = oType.getElementType();
  if (!c.elt.isF16() && !c.elt.isBF16())
    return fail("tensor cores take f16 or bf16 inputs, got " +
                llvm::formatv("{0}", c.elt).str());
  if (ShapedType::isDynamic(c.d) || ShapedType::isDynamic(c.dv) ||
      c.d % 16 != 0 || c.dv % 16 != 0 || c.d > 256 || c.dv > 256)
    return fail("head dims D and Dv must be static multiples of 16, at most "
                "256");
  // The default scale needs a static D, checked just above.
  c.scale = *op.getEffectiveScale();
  auto landmark = dyn_cast<LandmarkAttr>(Attribute(pattern));
  c.topk = landmark ? landmark.getTopk() : 0;
  c.blockN = blockN ? int64_t(blockN) : 64;
  c.stages = stages;
  if (auto lm = landmark) {
    // Each row's choice lives in registers (2 rows x k pairs per thread).
    if (c.topk > 16)
      return fail("landmark top-k on the GPU keeps at most 16 blocks per "
                  "query, got topk = " + std::to_string(c.topk));
    if (lm.getBlock() % 16 != 0 || lm.getBlock() > 128)
      return fail("landmark blocks on the GPU must be multiples of 16 up to "
                  "128 (one key tile per block), got " +
                  std::to_string(lm.getBlock()));
    c.landmark = lm.getBlock();
    c.blockN = c.landmark;
  }
  // The CTA of a kernel whose rows are contiguous (`unitRows`) or not.
  // `shortRows`: the CTA's query tiles read fewer than ws-min-keys keys on
  // average. Those run the CTA without warp specialisation, two per SM at
  // D = 128, so that one's prologue and epilogue overlap the other's loop:
  // measured on an H100 (docs/gpu-performance-notes.md), 1.03-1.13x the
  // warp-specialized CTA up to ~1K keys per tile on average, slower from 2K.
  auto shapeCTA = [&](GPUConfig &cfg, bool unitRows, bool shortRows) {
    // TMA on sm_90a where its layout fits: 64-column atoms, unit row
    // stride (dilated phases of rate > 1 address strided rows: cp.async; so
    // does the landmark pass of top-k retrieval, which scores on mma.sync).
    cfg.tma = tma && chip == "sm_90a" && unitRows && !cfg.topk &&
              cfg.d % 64 == 0 && cfg.dv % 64 == 0;
    // warps = 0: where TMA applies, 8: two warpgroups, both products by
    // wgmma, 1.2-1.4x the 4-warp mma.sync kernel on an H100
    // (docs/gpu-performance-notes.md); elsewhere 4 (mma.sync).
    cfg.warps = warps ? int64_t(warps) : (cfg.tma ? 8 : 4);
    if (!warps && blockM)
      cfg.warps = blockM / 16;
    cfg.blockM = 16 * cfg.warps;
    // wgmma when two or more warpgroups share a CTA (measured: with one,
    // the synchronous wgmma wait leaves it slower than mma.sync).
    cfg.wgmma = chip == "sm_90a" && cfg.warps % 4 == 0 && cfg.warps >= 8 &&
                cfg.blockN % 8 == 0 && !cfg.topk;
    cfg.wgmmaPV = cfg.wgmma && cfg.tma && wgmmaPv;
    cfg.asyncQK = cfg.wgmma && cfg.tma && asyncQk;
    // Warp specialisation where it measured faster: D = Dv = 128, 1.1-1.2x
    // with key tiles of 128 (docs/gpu-performance-notes.md). At D = 64 the
    // producer warpgroup costs the second CTA per SM, and it measured
    // slower; D = 256 is not measured.
    // Only the measured shape: 8 consumer warps (with 12 or 16 the CTA's
    // registers leave the consumers 160 or 112 each).
    cfg.ws = cfg.wgmmaPV && warpSpecialize && !asyncQk && cfg.d == 128 &&
             cfg.dv == 128 && cfg.warps == 8;
    // Short rows: two CTAs of the plain kernel per SM (registers capped at
    // 128, no spills with key tiles of 64) instead.
    bool twoShort = cfg.ws && shortRows && !blockN && !ctasPerSm &&
                    !pingpong && !wsOverlap;
    if (twoShort)
      cfg.ws = false;
    cfg.asyncQK = cfg.asyncQK && !cfg.ws;
    cfg.pingpong = cfg.ws && pingpong;
    cfg.wsOverlap = cfg.ws && wsOverlap;
    // Key tiles of 128 where the stages fit in shared memory (4 stages do
    // not: those keep 64).
    if (cfg.ws && !blockN && !cfg.landmark) {
      cfg.blockN = 128;
      if (cfg.smemBytes() > 227 * 1024)
        cfg.blockN = 64;
    }
    // D = Dv = 64 without warp specialisation: key tiles of 128 with the
    // registers capped for two CTAs per SM (128 each, no spills), 1.05-1.16x
    // key tiles of 64 (docs/gpu-performance-notes.md): half the per-tile
    // waits, barriers and loop overhead, and m64n128 wgmma for Q K^T.
    bool twoWide = !blockN && !ctasPerSm && !cfg.landmark && cfg.wgmmaPV &&
                   !cfg.ws && !cfg.asyncQK && cfg.warps == 8 && cfg.d == 64 &&
                   cfg.dv == 64;
    if (twoWide) {
      cfg.blockN = 128;
      if (cfg.twoFit())
        cfg.ctasPerSM = 2;
      else
        cfg.blockN = 64;
    }
    if (twoShort)
      cfg.ctasPerSM = cfg.twoFit() ? 2 : 1;
    // Up to 128 threads: two CTAs per SM (without that ptxas caps some
    // 4-warp kernels at 128 registers and spills; their shared memory allows
    // two anyway); larger CTAs get the whole register file.
    if (!twoWide && !twoShort)
      cfg.ctasPerSM = ctasPerSm ? int64_t(ctasPerSm)
                                : (cfg.threads() <= 128 ? 2 : 1);
  };
  GPUConfig base = c;
  shapeCTA(c, !dilated, false);
  if (c.ws && c.ctasPerSM != 1)
    return fail("a warp-specialized CTA takes the whole register file "
                "(setmaxnreg): ctas-per-sm must be 1 (or 0) there");
  // Warp specialisation pays off on long rows only. Patterns that bound
  // each query's keys take the two-CTA kernel; full and causal attention
  // get both, and the runtime launches the one for the sequence (metadata
  // `launch ... keys LO HI`: LO <= Nk < HI, HI 0 for no bound), the
  // warp-specialized kernel as NAME__long. Their K and V maps have the
  // short tiles' boxes; the long tiles load two per atom.
  GPUConfig longCfg = c;
  int64_t longFrom = 0;
  if (!dilated && c.ws && !c.landmark && wsMinKeys) {
    GPUConfig s = base;
    shapeCTA(s, true, true);
    if (!s.ws) {
      longFrom = longRowThreshold(pattern, c.blockM, wsMinKeys);
      longCfg.kvBoxRows = s.blockN;
      c = s;
    }
  }
  // Dilated phases take the dense CTA, TMA included, where their rows are
  // a tensor map's box: rate 1 reads contiguous rows; a phase of rate r > 1
  // reads rows r apart through a 5-D map ([B, H, N / r, r, X]), which
  // describes the rows exactly when r divides N. Such a phase gets a
  // second kernel, the strided-row CTA `c` (cp.async), and the runtime
  // launches the one that applies (metadata `launch ... if r` / `unless r`).
  GPUConfig tmaCfg = c;
  // The rates of the kernels' tensor maps, three maps (Q, K, V) each.
  SmallVector<int64_t> mapRates;
  // Every dilated phase is full or causal attention over its rows.
  PatternAttrInterface localPattern;
  if (dilated)
    localPattern = cast<PatternAttrInterface>(
        dilated.getCausal() ? Attribute(CausalAttr::get(func.getContext()))
                            : Attribute(FullAttr::get(func.getContext())));
  if (dilated) {
    // ceil(w / r) rows per phase, in query tiles of 128 (warp
    // specialisation applies to 8-warp CTAs only).
    bool shortPhases = wsMinKeys > 0;
    for (auto [wLen, r] : llvm::zip(dilated.getSegments(), dilated.getRates()))
      shortPhases = shortPhases && averageSpan(localPattern, (wLen + r - 1) / r,
                                               128) < double(wsMinKeys);
    tmaCfg = base;
    shapeCTA(tmaCfg, true, shortPhases);
    for (int64_t r : dilated.getRates())
      if (tmaCfg.tma && (r == 1 || stridedTma) &&
          !llvm::is_contained(mapRates, r) && mapRates.size() < kMaxMapRates)
        mapRates.push_back(r);
  } else if (c.tma) {
    mapRates.push_back(1);
  }
  bool anyTma = !mapRates.empty();
  for (const GPUConfig *cfg : {&c, &tmaCfg, &longCfg})
    if (cfg->smemBytes() > 227 * 1024)
      return fail("the tiles need " + std::to_string(cfg->smemBytes()) +
                  " bytes of shared memory, more than a CTA can have "
                  "(227 KB)");
  int64_t unusedLo, unusedHi;
  if (!dilated && !c.landmark && !pattern.rowBounds(0, 1, unusedLo, unusedHi))
    return fail(llvm::formatv("pattern {0} is not supported by the GPU "
                              "target yet",
                              Attribute(pattern))
                    .str());
  if (dilated && !op.getLse())
    return fail("dilated attention needs an lse operand (its patterns merge "
                "through it)");
  Block &entry = func.getBody().front();
  if (failed(checkKernelShape(func, op, fail)))
    return failure();

  MLIRContext *ctx = func.getContext();
  OpBuilder b(ctx);
  Location loc = func.getLoc();
  b.setInsertionPointToEnd(gpuModule.getBody());
  auto argTypes = func.getFunctionType().getInputs();
  KernelArgs operands{op.getQ(), op.getK(), op.getV(), op.getOut(),
                      op.getLse()};

  // One gpu.func per launch, each with the kernel's arguments; `body` gets
  // the operands as block arguments.
  attnmeta::KernelMeta meta;
  // The current kernel's tensor maps (TMA): Q, K and V of each map rate.
  SmallVector<Value> maps;
  int64_t numMaps = 3 * mapRates.size();
  // `cond`: the launch runs only when r divides N (r > 0) or only when it
  // does not (-r); `keys`: only when keys.first <= Nk < keys.second (0: no
  // bound).
  auto makeKernel = [&](const std::string &entryName, int64_t seg,
                        int64_t perSeg, const GPUConfig &kc,
                        function_ref<void(Emitter &, const KernelArgs &)> fill,
                        int64_t cond = 0,
                        std::pair<int64_t, int64_t> keys = {0, 0}) {
    // TMA kernels take the CUtensorMaps last (made grid constants by
    // attn-tensormap-params after convert-gpu-to-nvvm); so do the other
    // launches of the same kernel (dilated phases), which the runtime
    // passes the same parameters.
    SmallVector<Type> types(argTypes);
    types.append(numMaps, LLVM::LLVMPointerType::get(ctx));
    auto kernel = createKernel(b, loc, entryName, types, kc.threads(),
                               kc.ctasPerSM);
    if (anyTma)
      kernel->setAttr("attn.tensormaps", b.getI64IntegerAttr(numMaps));
    KernelArgs a;
    Block &body = kernel.getBody().front();
    maps.clear();
    for (int64_t i = 0; i < numMaps; ++i)
      maps.push_back(body.getArgument(argTypes.size() + i));
    for (auto [name, member] : kRoles)
      if (Value v = operands.*member)
        a.*member = body.getArgument(cast<BlockArgument>(v).getArgNumber());
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&body);
    Emitter e{b, loc};
    fill(e, a);
    gpu::ReturnOp::create(b, loc);
    attnmeta::Launch l;
    l.entry = entryName;
    l.seg = seg;
    l.perSeg = perSeg;
    l.threads = kc.threads();
    l.smem = kc.smemBytes();
    l.cond = cond;
    l.keysLo = keys.first;
    l.keysHi = keys.second;
    meta.launches.push_back(l);
  };
  // Points `w` at the tensor maps of `rate`.
  auto useMaps = [&](TileWork &w, int64_t rate) {
    int64_t i = llvm::find(mapRates, rate) - mapRates.begin();
    w.mapQ = maps[3 * i];
    w.mapK = maps[3 * i + 1];
    w.mapV = maps[3 * i + 2];
    w.tmaRate = rate;
  };
  auto smemOf = [&](Emitter &e) { return dynamicSmem(e.b, loc); };
  auto headsOf = [](Emitter &e, const KernelArgs &a, TileWork &w) {
    w.head = gpu::BlockIdOp::create(e.b, e.loc, gpu::Dimension::y);
    w.batch = gpu::BlockIdOp::create(e.b, e.loc, gpu::Dimension::z);
    Value h = e.dim(a.q, 1), hk = e.dim(a.k, 1);
    w.kvHead = e.div(w.head, e.div(h, hk));
  };
  std::string name = func.getName().str();
  int64_t numLaunches = 0;
  if (!dilated) {
    // The dense kernel on CTA `kc`, launched for keys.first <= Nk <
    // keys.second.
    auto dense = [&](const std::string &entryName, const GPUConfig &kc,
                     std::pair<int64_t, int64_t> keys) {
      auto fill = [&](Emitter &e, const KernelArgs &a) {
        TileWork w;
        headsOf(e, a, w);
        w.nq = e.dim(a.q, 2);
        w.nk = e.dim(a.k, 2);
        // The last query tile first: under causal masks it is the longest.
        Value tiles = e.ceilDiv(w.nq, e.idx(kc.blockM));
        Value bx = gpu::BlockIdOp::create(e.b, loc, gpu::Dimension::x);
        w.qt = e.sub(e.sub(tiles, e.idx(1)), bx);
        w.qBase = w.kBase = e.idx(0);
        w.stride = e.idx(1);
        if (kc.tma)
          useMaps(w, 1);
        KernelCodegen gen(e, kc);
        gen.setup();
        gen.emit(pattern, a, smemOf(e), w);
      };
      makeKernel(entryName, kc.blockM, 1, kc, fill, 0, keys);
    };
    if (longFrom) {
      dense(name, c, {0, longFrom});
      dense(name + "__long", longCfg, {longFrom, 0});
    } else {
      dense(name, c, {0, 0});
    }
    numLaunches = longFrom ? 2 : 1;
  } else {
    // Dilated attention is addressing: launch 0 clears O and LSE, then one
    // launch per (segment length w, rate r) runs the dense tile code over
    // rows seg * w + o + r * t of each segment and merges into O and LSE.
    makeKernel(name, c.blockM, 1, c, [&](Emitter &e, const KernelArgs &a) {
      Value head = gpu::BlockIdOp::create(e.b, loc, gpu::Dimension::y);
      Value batch = gpu::BlockIdOp::create(e.b, loc, gpu::Dimension::z);
      Value bx = gpu::BlockIdOp::create(e.b, loc, gpu::Dimension::x);
      Value tid = gpu::ThreadIdOp::create(e.b, loc, gpu::Dimension::x);
      Value n = e.dim(a.q, 2);
      Value m0 = e.mul(bx, e.idx(c.blockM));
      Value zero = e.fromF32(e.f32(0), c.outElt);
      e.forLoop(tid, e.idx(c.blockM * c.dv), e.idx(c.threads()), [&](Value i) {
        Value row = e.add(m0, e.div(i, e.idx(c.dv)));
        e.ifThen(e.cmp(arith::CmpIPredicate::slt, row, n), [&] {
          e.store(zero, a.o, {batch, head, row, e.rem(i, e.idx(c.dv))});
        });
      });
      e.forLoop(tid, e.idx(c.blockM), e.idx(c.threads()), [&](Value i) {
        Value row = e.add(m0, i);
        e.ifThen(e.cmp(arith::CmpIPredicate::slt, row, n), [&] {
          e.store(e.f32(-std::numeric_limits<double>::infinity()), a.lse,
                  {batch, head, row});
        });
      });
    });
    bool grouped = dilated.getOffsets() == OffsetMode::grouped;
    int64_t phase = 0;
    numLaunches = 1;
    for (auto [wLen, r] :
         llvm::zip(dilated.getSegments(), dilated.getRates())) {
      int64_t seg = wLen, rate = r;
      // Rows of (segment, offset) as a kernel on CTA `pc`, reading them by
      // TMA (`tma`) or cp.async, launched under `cond`.
      auto phaseKernel = [&](const std::string &entryName,
                             const GPUConfig &pc, bool tma, int64_t cond) {
        int64_t tilesPerSeg =
            ((seg + rate - 1) / rate + pc.blockM - 1) / pc.blockM;
        ++numLaunches;
        makeKernel(entryName, seg, tilesPerSeg, pc,
                   [&](Emitter &e, const KernelArgs &a) {
          TileWork w;
          headsOf(e, a, w);
          Value n = e.dim(a.q, 2), h = e.dim(a.q, 1);
          Value bx = gpu::BlockIdOp::create(e.b, loc, gpu::Dimension::x);
          Value segIdx = e.div(bx, e.idx(tilesPerSeg));
          Value rV = e.idx(rate);
          // Offset of this head: h mod r, or h / ceil(H / r) (torchscale).
          Value off = grouped ? e.div(w.head, e.ceilDiv(h, rV))
                              : e.rem(w.head, rV);
          Value start = e.mul(segIdx, e.idx(seg));
          Value len = e.min(e.idx(seg), e.sub(n, start));
          Value count = e.select(e.cmp(arith::CmpIPredicate::sgt, len, off),
                                 e.ceilDiv(e.sub(len, off), rV), e.idx(0));
          Value tiles = e.ceilDiv(count, e.idx(pc.blockM));
          Value local = e.rem(bx, e.idx(tilesPerSeg));
          // Tiles past the segment's selected rows have nothing to do.
          e.ifThen(e.cmp(arith::CmpIPredicate::slt, local, tiles), [&] {
            w.qt = e.sub(e.sub(tiles, e.idx(1)), local);
            w.nq = w.nk = count;
            w.qBase = w.kBase = e.add(start, off);
            w.stride = rV;
            w.merge = true;
            if (tma)
              useMaps(w, rate);
            KernelCodegen kc(e, pc);
            kc.setup();
            kc.emit(localPattern, a, smemOf(e), w);
          });
        }, cond);
      };
      std::string entryName = name + "__phase" + std::to_string(++phase);
      if (rate == 1) {
        phaseKernel(entryName, tmaCfg, tmaCfg.tma, 0);
      } else if (llvm::is_contained(mapRates, rate)) {
        phaseKernel(entryName, tmaCfg, true, rate);
        phaseKernel(entryName + "_rows", c, false, -rate);
      } else {
        phaseKernel(entryName, c, false, 0);
      }
    }
  }

  // Metadata the runtime reads from the module (cuModuleGetGlobal).
  std::string patternText;
  llvm::raw_string_ostream(patternText) << pattern;
  meta.target = chip;
  meta.threads = c.threads();
  meta.smem = c.smemBytes();
  meta.tileM = c.blockM;
  meta.tileN = c.blockN;
  meta.stages = c.stages;
  // TMA: the runtime appends one CUtensorMap per line, in order: operand,
  // box columns, box rows (128-byte swizzle, zero fill), and for strided
  // maps the rate.
  const GPUConfig &tc = dilated ? tmaCfg : c;
  for (int64_t rate : mapRates)
    for (auto [role, rows] : {std::pair<const char *, int64_t>{"q", tc.blockM},
                              {"k", tc.blockN},
                              {"v", tc.blockN}})
      meta.tensorMaps.push_back({role, 64, rows, rate});
  emitMetaGlobal(b, loc, (func.getName() + "__attn_meta").str(),
                 kernelMetaText("attention", patternText, numLaunches,
                                argTypes, argRoles(entry, operands), meta));
  func.erase();
  return success();
}

LogicalResult LowerToGPU::lowerLightning(func::FuncOp func, LightningOp op,
                                         gpu::GPUModuleOp gpuModule) {
  auto fail = [&](const Twine &msg) {
    return op.emitOpError() << "(target " << chip << "): " << msg;
  };
  auto qType = cast<MemRefType>(op.getQ().getType());
  auto vType = cast<MemRefType>(op.getV().getType());
  GPUConfig c;
  c.warps = 4;
  c.blockM = c.blockN = 64;
  c.stages = 2;
  c.d = qType.getDimSize(3);
  c.dv = vType.getDimSize(3);
  c.elt = qType.getElementType();
  c.outElt = cast<MemRefType>(op.getOut().getType()).getElementType();
  c.scale = op.getScale() ? op.getScale()->convertToDouble() : 1.0;
  if (!c.elt.isF16() && !c.elt.isBF16())
    return fail("tensor cores take f16 or bf16 inputs, got " +
                llvm::formatv("{0}", c.elt).str());
  if (ShapedType::isDynamic(c.d) || ShapedType::isDynamic(c.dv) ||
      c.d % 64 != 0 || c.d > 256 || c.dv % 16 != 0 || c.dv > 256)
    return fail("lightning on the GPU needs a static D that is a multiple of "
                "64 (at most 256) and a static Dv that is a multiple of 16 "
                "(at most 256)");
  for (Value st : {op.getStateIn(), op.getStateOut()})
    if (st && cast<MemRefType>(st.getType()).getLayout() &&
        !cast<MemRefType>(st.getType()).getLayout().isIdentity())
      return fail("the GPU target needs contiguous states");
  // Columns of V per CTA (ev): each CTA walks the whole sequence for its
  // slice, so the grid is B * H * Dv / ev CTAs, and a smaller slice buys
  // CTAs with repeated Q K^T work. One kernel per ev in {64, 32, 16} that
  // divides Dv; the runtime launches the largest whose grid reaches its
  // threshold: 64 from 256 CTAs, 32 from 128, else 16 (measured on an H100,
  // 132 SMs: docs/gpu-performance-notes.md). Launch metadata `ctas LO HI`:
  // run when the grid has LO <= CTAs < HI (HI 0: no bound). The f32 state
  // slice, D x ev over 128 threads, stays within 32 registers a thread (at
  // D = 128, ev = 64 measured 1.4x faster at N <= 4K but spills 8-24 bytes).
  SmallVector<std::pair<int64_t, int64_t>> slices; // (ev, threshold)
  for (auto [ev, threshold] : {std::pair<int64_t, int64_t>{64, 256},
                               {32, 128}, {16, 0}})
    if (c.dv % ev == 0 && c.d * ev <= 128 * 32)
      slices.push_back({ev, threshold});
  Block &entry = func.getBody().front();
  if (failed(checkKernelShape(func, op, fail)))
    return failure();

  MLIRContext *ctx = func.getContext();
  OpBuilder b(ctx);
  Location loc = func.getLoc();
  b.setInsertionPointToEnd(gpuModule.getBody());
  auto argTypes = func.getFunctionType().getInputs();
  KernelArgs operands{op.getQ(),      op.getK(),      op.getV(),
                      op.getOut(),    Value(),        op.getSlopes(),
                      op.getStateIn(), op.getStateOut()};
  std::string name = func.getName().str();
  attnmeta::KernelMeta meta;
  int64_t maxSmem = 0;
  for (auto [i, slice] : llvm::enumerate(slices)) {
    int64_t ev = slice.first;
    std::string entryName =
        i == 0 ? name : name + "__cols" + std::to_string(ev);
    int64_t smem = KernelCodegen::lightningSmemBytes(c, ev);
    maxSmem = std::max(maxSmem, smem);
    auto kernel = createKernel(b, loc, entryName, argTypes, 128, 2);
    KernelArgs a;
    Block &body = kernel.getBody().front();
    for (auto [roleName, member] : kRoles)
      if (Value v = operands.*member)
        a.*member = body.getArgument(cast<BlockArgument>(v).getArgNumber());
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&body);
    Emitter e{b, loc};
    // Grid (Dv / ev, H, B): x picks the column slice.
    TileWork w;
    w.head = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
    w.batch = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
    Value h = e.dim(a.q, 1), hk = e.dim(a.k, 1);
    w.kvHead = e.div(w.head, e.div(h, hk));
    w.nq = w.nk = e.dim(a.q, 2);
    Value e0 = e.mul(gpu::BlockIdOp::create(b, loc, gpu::Dimension::x),
                     e.idx(ev));
    // log2 l = -s log2(e): the slopes operand or SPEC's ALiBi default.
    Value log2l;
    if (a.slopes)
      log2l = arith::MulFOp::create(b, loc, e.load(a.slopes, {w.head}),
                                    e.f32(-M_LOG2E));
    else
      log2l = arith::MulFOp::create(
          b, loc,
          LLVM::CallIntrinsicOp::create(
              b, loc, b.getF32Type(), b.getStringAttr("llvm.nvvm.ex2.approx.ftz.f"),
              ValueRange{alibiSlopeLog2(e, w.head, h)})
              .getResult(0),
          e.f32(-M_LOG2E));
    Value smemBase = dynamicSmem(b, loc);
    KernelCodegen kc(e, c);
    kc.setup();
    kc.emitLightning(a, smemBase, w, e0, ev, log2l);
    gpu::ReturnOp::create(b, loc);
    // Seg 0: one launch of grid x = Dv / ev, not split along the sequence.
    // It runs when no larger slice reached its threshold (the grids scale
    // by the ratio of the slices) and this one does.
    int64_t lo = slice.second, hi = 0;
    for (size_t j = 0; j < i; ++j) {
      int64_t bound = slices[j].second * (slices[j].first / ev);
      hi = hi ? std::min(hi, bound) : bound;
    }
    attnmeta::Launch l;
    l.entry = entryName;
    l.seg = 0;
    l.perSeg = c.dv / ev;
    l.threads = 128;
    l.smem = smem;
    if (slices.size() > 1) {
      l.ctasLo = lo;
      l.ctasHi = hi;
    }
    meta.launches.push_back(l);
  }
  meta.target = chip;
  meta.threads = 128;
  meta.smem = maxSmem;
  meta.tileM = meta.tileN = 64;
  meta.stages = 2;
  emitMetaGlobal(b, loc, (func.getName() + "__attn_meta").str(),
                 kernelMetaText("lightning", "", slices.size(), argTypes,
                                argRoles(entry, operands), meta));
  func.erase();
  return success();
}

void LowerToGPU::runOnOperation() {
  ModuleOp module = getOperation();
  if (chip != "sm_80" && chip != "sm_90a") {
    module.emitError() << "attn-lower-to-gpu: unknown chip '" << chip
                       << "' (expected sm_80 or sm_90a)";
    return signalPassFailure();
  }
  auto bad = [&](const Twine &msg) {
    module.emitError() << "attn-lower-to-gpu: " << msg;
    signalPassFailure();
  };
  if (warps < 0 || warps > 16)
    return bad("warps must be in [1, 16] (0: chosen per target and head dim)");
  if (blockM != 0 && warps != 0 && blockM != 16 * warps)
    return bad("block-m must be 16 * warps (each warp owns 16 query rows)");
  if (blockM != 0 && (blockM % 16 != 0 || blockM > 256))
    return bad("block-m must be 16 * warps (each warp owns 16 query rows)");
  if (blockN != 0 && (blockN % 16 != 0 || blockN < 16 || blockN > 256))
    return bad("block-n must be a multiple of 16 in [16, 256] (0: chosen per "
               "target and head dim)");
  if (stages < 2 || stages > 4)
    return bad("stages must be 2, 3 or 4");
  if (ctasPerSm < 0 || ctasPerSm > 32)
    return bad("ctas-per-sm must be in [1, 32] (0: chosen per CTA size)");
  if (wsMinKeys < 0 || wsMinKeys > 65536)
    return bad("ws-min-keys must be in [0, 65536] (0: always warp-specialize)");
  if (asyncQk && stages < 3)
    return bad("async-qk needs stages >= 3 (the tile after next loads while "
               "the next one's Q K^T runs)");
  if (pingpong && !warpSpecialize)
    return bad("pingpong needs warp-specialize (the turns are taken by the "
               "consumer warpgroups)");
  if (wsOverlap && !warpSpecialize)
    return bad("ws-overlap needs warp-specialize (it reorders the consumer "
               "warpgroups' loop)");
  SmallVector<std::pair<func::FuncOp, Operation *>> kernels;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    func.walk([&](Operation *op) {
      if (isa<AttentionOp, LightningOp, MergeOp>(op))
        kernels.push_back({func, op});
    });
  }
  if (kernels.empty())
    return;
  MLIRContext *ctx = module.getContext();
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  UnitAttr::get(ctx));
  OpBuilder b(ctx);
  b.setInsertionPointToEnd(module.getBody());
  auto gpuModule =
      gpu::GPUModuleOp::create(b, module.getLoc(), "attn_kernels");
  {
    // Dynamic shared memory: an extern .shared array (gpu.dynamic_shared_
    // memory lowers to a 1-byte array on NVPTX in MLIR 22), 1024-byte
    // aligned for TMA's 128-byte swizzle atoms (16 would do for cp.async and
    // ldmatrix).
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(gpuModule.getBody());
    memref::GlobalOp::create(b, module.getLoc(), kSmemName,
                             b.getStringAttr("public"), smemType(ctx),
                             Attribute(),
                             /*constant=*/false, b.getI64IntegerAttr(1024));
  }
  for (auto [func, op] : kernels) {
    LogicalResult r = failure();
    if (auto attention = dyn_cast<AttentionOp>(op))
      r = lowerKernel(func, attention, gpuModule);
    else if (auto lightning = dyn_cast<LightningOp>(op))
      r = lowerLightning(func, lightning, gpuModule);
    else
      op->emitOpError() << "is not supported by the GPU target yet";
    if (failed(r))
      return signalPassFailure();
  }
}
