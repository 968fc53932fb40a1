//===- GPUCodegen.h - building blocks of the GPU kernels ---------*- C++ -*-===//
// The GPU code generator's shared pieces: the CTA configuration (GPUConfig),
// one CTA's work (TileWork) and KernelCodegen, whose members are defined by
// concern in GPULoads.cpp (cp.async and TMA), GPUMmaSync.cpp (ldmatrix,
// mma.sync, masks), GPUWgmma.cpp (sm_90a warpgroup products),
// GPULandmark.cpp (landmark scores and top-k), GPUAttention.cpp (the
// attention kernel body) and GPULightning.cpp (lightning attention).
// attn-lower-to-gpu (LowerToGPU.cpp) plans the kernels and launches.
//
// The sm_80 path (also run on sm_90): one CTA per (query tile, head,
// batch); each warp owns 16 query rows. K/V tiles are staged through shared
// memory by cp.async in a multi-stage ring; S = Q K^T and O += P V run on
// tensor cores (ldmatrix + mma.sync m16n8k16, f32 accumulators); the online
// softmax stays in registers, in log2 units, with quad shuffles for the row
// reductions. P never leaves registers: the S accumulator fragments of two
// n8 blocks are exactly the A fragment of one k16 step of P V. sm_90a adds
// TMA loads onto mbarriers (128-byte-swizzled tiles) and, with two
// warpgroups, wgmma for both products (P V in the register-A form, by
// inline PTX).
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_GPUCODEGEN_H
#define ATTN_PASSES_GPUCODEGEN_H

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

namespace mlir::attn::gpucg {


/// Name of the dynamic shared memory symbol of the kernel module.
constexpr StringLiteral kSmemName = "__attn_smem";
/// memref<0xi8, workgroup>: the type of the kernels' dynamic shared memory.
inline MemRefType smemType(MLIRContext *ctx) {
  auto ws = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  return MemRefType::get({0}, IntegerType::get(ctx, 8),
                         MemRefLayoutAttrInterface{}, ws);
}

/// The kernel's dynamic shared memory (the extern __attn_smem array).
inline Value dynamicSmem(OpBuilder &b, Location loc) {
  return memref::GetGlobalOp::create(b, loc, smemType(b.getContext()),
                                     kSmemName);
}

/// Most distinct rates whose tensor maps a dilated kernel takes (three
/// 128-byte maps each, within CUDA's 4 KB of kernel parameters); phases of
/// other rates read their rows by cp.async.
constexpr size_t kMaxMapRates = 6;

/// The GPU target's requirements of an op, whatever its schedule (dtypes,
/// head dims, pattern parameters): errors on the op naming the chip.
LogicalResult checkGPUAttentionOp(AttentionOp op, StringRef chip);
LogicalResult checkGPULightningOp(LightningOp op, StringRef chip);

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
  /// With `ws`, over whole sequences: a persistent grid (ctasPerSM CTAs per
  /// SM) whose CTAs loop over (query tile, head, batch) work items; one
  /// more mbarrier tells the producer that the consumers are done with Q,
  /// and four i32 words in shared memory hand the consumers the item.
  bool persistent = false;
  int64_t threads() const { return warps * 32 + (ws ? 128 : 0); }
  /// Warp specialisation: the producer's registers per thread, and the
  /// consumers' (what the CTA's pool then holds: ptxas gives 384 threads at
  /// most 168 each, 128 x 24 + 256 x 240 = 384 x 168).
  /// The persistent producer keeps its item loop's state besides the
  /// tiles' (56 registers, the consumers 224: at 24 ptxas spilled; 40 and
  /// 232 spill the same, but 56 / 224 is what ran on the H100).
  int64_t producerRegs() const { return persistent ? 56 : 24; }
  int64_t consumerRegs() const {
    int64_t perThread = 65536 / threads() / 8 * 8;
    return std::min<int64_t>(
        240, (perThread * threads() - 128 * producerRegs()) / (32 * warps) /
                 8 * 8);
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
  /// (ws) the stages' empty barriers, (persistent) Q's empty barrier and
  /// the item's four words, or (top-k) the schedule's two rows of one i32
  /// per warp.
  int64_t smemBytes() const {
    return tileBytes() + (tma ? 8 * (stages + 1) : 0) + (ws ? 8 * stages : 0) +
           (persistent ? 24 : 0) + (topk ? 8 * warps : 0);
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
/// A paged K/V cache ([P, S, Hk, X]): logical key row r of `batch` is row
/// r mod S of page table[batch, r / S], the page clamped to [0, last].
struct Pages {
  Value table, last;
  Divisor size;
};

struct TileWork {
  Value batch, head, kvHead, qt, nq, nk;
  /// Set for a paged K/V cache (nk is then the batch's kv_lens entry).
  Pages pages;
  Value qBase, kBase, stride;
  bool merge = false;
  /// TMA: the CUtensorMaps of Q, K and V (grid-constant parameters).
  /// `tmaRate` > 1: the maps are 5-D, [B, H, N / r, r, X], so that the
  /// rows of one offset (physical row p = r * (p / r) + p mod r) are a
  /// box of consecutive indices of the third dimension.
  Value mapQ, mapK, mapV;
  int64_t tmaRate = 1;
  /// Split-KV decoding (cp.async only). `group` = H / Hk query heads of KV
  /// head kvHead share the CTA's rows: row t is query t mod nq of head
  /// kvHead * group + t / nq (group * nq <= block_m, qt 0, whole
  /// sequences). The CTA takes split `split` of `splits` of its key tiles;
  /// with splits > 1 it writes O / l and the LSE of each row to `partials`
  /// (f32 [splits, B, H, Nq, Dv + 2], the LSE at column Dv), else to O and
  /// LSE. With `counters` (i32 [B * Hk], zero between launches) the CTA
  /// then counts itself done for (batch, kvHead), and the last of the
  /// splits to finish merges them all into O and LSE and sets the count
  /// back to zero.
  Value group, split, splits, partials, counters;
};

/// Builds the body of one attention kernel.
class KernelCodegen {
public:
  KernelCodegen(Emitter &e, const GPUConfig &c) : e(e), c(c) {}

  /// Thread and warp indices; call first.
  void setup();
  void emit(PatternAttrInterface pattern, const KernelArgs &a, Value smemBase,
            const TileWork &w);
  /// The persistent warp-specialized kernel (GPUConfig::persistent): `w`
  /// holds what every work item shares (nq, nk, bases, stride, maps); CTA
  /// x of the grid starts with item x of the `heads` x `batches` x
  /// ceil(nq / block_m) (query tile, head, batch) items (see itemOf), then
  /// takes grid + counters[0]++ (a dynamic schedule: the longest items
  /// first, each CTA's next when it is free), or with a null `counters`
  /// x + grid, x + 2 grid, ... `kvGroup` (H / Hk) is an i32.
  void emitPersistent(PatternAttrInterface pattern, const KernelArgs &a,
                      Value smemBase, const TileWork &w, Value heads,
                      Value batches, Value kvGroup, Value counters);
  /// The merge of split-KV partials (`partials`, see TileWork): this CTA
  /// combines query row `row` of (batch, head) into O and LSE by their
  /// log-sum-exp weights, its warps sharing the splits (mergeRow; shared
  /// memory: mergeSmemBytes).
  void emitMerge(const KernelArgs &a, Value partials, Value batch, Value head,
                 Value row);
  static int64_t mergeSmemBytes(const GPUConfig &c) {
    return c.warps * c.dv * 4;
  }
  /// Merges query row `row` of (batch, head) from `partials`: the LSEs
  /// with the lanes over the splits, O with the lanes over the columns and
  /// the splits 8 at a time. One warp alone (parts = 1), or warp `part` of
  /// `parts` taking every parts-th step, the sums added through `red`
  /// ([parts][Dv] f32 shared memory; all the CTA's threads reach its
  /// barrier).
  void mergeRow(const KernelArgs &a, Value partials, Value batch, Value head,
                Value row, Value part = Value(), int64_t parts = 1,
                Value red = Value());
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
  // warp: warp-uniform (a shuffle, with ws); warpVec: tid / 32.
  Value lane, warp, warpVec, groupRow, quadCol; // g = lane / 4, t = lane % 4
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
  /// (their source address is clamped to a valid row). With `pages`
  /// (table set), src is a paged cache and rows go through its table.
  void copyTile(Value src, Value batch, Value head, Value row0, Value n,
                Value base, Value stride, int64_t rows, int64_t cols,
                Value dst, Value stage, Value col0 = Value(),
                const Pages *pages = nullptr);
  /// The CTA's threads over the 16-byte chunks of a rows x cols tile:
  /// `body(r, col)` per chunk (row r, first column col).
  void forEachChunk(int64_t rows, int64_t cols,
                    function_ref<void(Value, Value)> body);
  /// The query tile of a packed (split-KV) CTA: row t from head kvHead *
  /// group + t / nq, query t mod nq; rows past group * nq zero-filled.
  void copyPackedQ();
  /// Split-KV: query row `t` of the CTA (clamped to its valid rows) as
  /// (head, row of the sequence).
  std::pair<Value, Value> packedRow(Value t);
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
  /// Persistent kernels: Q's empty barrier (the consumers have issued
  /// their last Q K^T of the item), after the stages' empty barriers.
  Value qEmptyBarrier() { return barrier(e.idx(2 * c.stages + 1)); }
  /// Persistent kernels: word `k` of the item the producer loaded Q for
  /// (four i32, itemOf's; after Q's empty barrier; written before Q's full
  /// barrier's arrival; query tile -1: no more items).
  Value itemSlot(int64_t k) {
    return sharedPtr(e.idx(barOffset + 8 * (2 * c.stages + 2) + 4 * k));
  }
  /// The position of the item's key tile `t` in the CTA's sequence of
  /// loads (persistent kernels: after the earlier items' tiles), which
  /// picks its stage and barrier phase.
  Value ring(Value t) {
    if (!cur.tileBase)
      return t;
    return e.add(e.fromU32(cur.tileBase), t);
  }
  Value stageOf(Value t) { return e.rem(ring(t), e.idx(c.stages)); }
  /// TMA: wait until key tile `tile` has arrived in its stage (use u =
  /// ring(tile) / stages of the stage's barrier: phase parity u % 2).
  void waitTile(Value tile) {
    Value r = ring(tile);
    waitBarrier(barrier(e.rem(r, e.idx(c.stages))),
                e.rem(e.div(r, e.idx(c.stages)), e.idx(2)));
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
    if (parity.getType().isIndex())
      parity = e.toI32(parity);
    NVVM::MBarrierTryWaitParityOp::create(e.b, e.loc, bar, parity,
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

  // One attention tile (emit), step by step. `cur` is what the steps
  // share: the tile's operands, its key tiles and row bounds, the loop's
  // initial state, and what the prologue leaves for the loop.
  struct AttentionTile {
    PatternAttrInterface pattern;
    KernelArgs a;
    TileWork w;
    Value smemBase;
    /// First query row of the tile, and Nk - Nq (query row i sits at
    /// position shift + i); positions of its first and last valid rows.
    Value m0, shift, pFirst, pLast;
    /// Rows of the tile that are queries (past them: padding).
    Value validRows;
    /// Bytes per element, and of the Q, K and V regions of shared memory.
    int64_t eb = 0, qBytes = 0, kBytes = 0, vBytes = 0;
    KeyTileBounds kt;
    Value numTiles;
    /// The thread's two rows: i32 key bounds (not for landmark), the row
    /// in the tile, the position.
    Value lo[2], hi[2], rows[2], pos[2];
    /// mma.sync paths: Q's A fragments, loaded once.
    SmallVector<Value> qa;
    /// Warp specialisation: then the producer, else the consumers.
    scf::IfOp roles;
    /// Top-k: the CTA's own blocks, and the blocks of the prologue's tiles.
    Value ownLo, ownHi;
    SmallVector<Value> queue;
    /// The loop state: max and sum of the two rows, then the O fragments
    /// (and, with async Q K^T, the next tile's scores).
    VectorType accT;
    Value scaleLog2;
    SmallVector<Value> init;
    /// Warp specialisation with ping-pong: warpgroups, this one's index,
    /// the threads of a turn barrier.
    int64_t groups = 0;
    Value wg, turnThreads;
    /// Persistent kernels: key tiles the CTA loaded for earlier items
    /// (i32).
    Value tileBase;
  } cur;
  /// Persistent kernels: work item `i` as its query tile, head, batch and
  /// KV head (i32, in that order): items come in groups of whole heads,
  /// about one grid's worth each (the K and V of the heads in flight stay
  /// in L2), and within a group the longest query tiles first (causal),
  /// heads inner. (i, tiles, heads, batches, grid, kvGroup: i32.)
  SmallVector<Value, 4> itemOf(Value i, Value tiles, Value heads,
                               Value batches, Value grid, Value kvGroup);
  /// The item `words` (itemOf's) as cur.w's query tile, head, batch and
  /// KV head and cur.m0, then its key tiles (boundKeyTiles).
  void takeItem(ArrayRef<Value> words);
  /// The loop state before an item's first key tile.
  void initState();
  /// Shared-memory views of Q, K and V (and the top-k exchange).
  void layoutTiles();
  /// The key tiles of the query tile, and the bounds of the thread's rows.
  void boundKeyTiles();
  Value commitGroup();
  /// The key tile at n0 into `stage` of the ring, when `due`.
  void loadKVAt(Value stage, Value n0, Value due);
  /// Key tile number `tile` of [kt.first, kt.last).
  void loadKV(Value tile);
  /// The prologues: Q and the first key tiles in flight.
  void prologueTma();
  /// TMA barriers' setup (the leader), then a CTA barrier.
  void initBarriers();
  /// The producer's loads of the item's key tiles, each once its stage's
  /// previous use is released.
  void produceKeyTiles();
  void prologueTopk();
  void prologueCpAsync();
  /// Async Q K^T: S of key tile t, issued once its TMA barrier completes
  /// (poison past the last tile).
  Value issueTile(Value t);
  /// The scores `s` of the key tile at n0 (masked here) become P in place;
  /// returns the loop state updated by the online softmax, O rescaled.
  /// With `alphaOut`, O (carried[4..]) is left alone and its rescaling
  /// factor returned there (O may still be a wgmma's in-flight accumulator).
  SmallVector<Value> onlineSoftmax(SmallVector<Value> &s, Value n0,
                                   ValueRange carried,
                                   Value *alphaOut = nullptr);
  /// One key tile: wait for it, then the scores, the online softmax and P V.
  SmallVector<Value> step(Value tile, Value n0, ValueRange carried);
  /// The key-tile loops; each returns the final state (max, sum, O).
  SmallVector<Value> loopWarpSpecialized();
  SmallVector<Value> loopWsOverlap(Value s0);
  SmallVector<Value> loopCpAsync();
  SmallVector<Value> loopTopk();
  /// Ping-pong turns of the consumer warpgroups (no-ops without pingpong).
  void forEachGroup(function_ref<void(int64_t)> body);
  void waitTurn();
  void passTurn(Value j);
  /// ws-overlap: the softmax of tile t's accumulator `sAcc`, P packed for
  /// wgmma; and P V of `tile`, waited for with `between` in its shadow.
  SmallVector<Value> softmaxOf(Value sAcc, Value t, ValueRange stats,
                               SmallVector<Value> &packed, Value &alpha);
  SmallVector<Value> finishPV(Value tile, ValueRange carried,
                              function_ref<void()> between);
  /// O / l and LSE (stored, or merged into O and LSE).
  void epilogue(ArrayRef<Value> state);
  /// Split-KV with counters: after the CTA's partials, the last split of
  /// (batch, kvHead) to finish merges them (TileWork::counters).
  void mergeInLastSplit();
};

} // namespace mlir::attn::gpucg

#endif // ATTN_PASSES_GPUCODEGEN_H
