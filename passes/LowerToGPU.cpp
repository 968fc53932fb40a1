//===- LowerToGPU.cpp - attn ops to tensor-core GPU kernels ---------------===//
// attn-lower-to-gpu: builds each kernel of each op's `#attn.gpu_schedule`
// (written by attn-configure-gpu or a tuner) with KernelCodegen
// (GPUCodegen.h): the CTA's tiles, the grid's addressing (whole sequences,
// or strided rows of segments from `#attn.rows`), the function's tensor
// maps, and the kernel metadata the runtime reads (launches in order, their
// grids and conditions). It decides nothing: a schedule the code cannot
// honour is an error.
//
// The key tiles a CTA visits and whether a tile needs the mask come from the
// pattern interface (buildKeyTiles, buildTileIsFull), as on the CPU.
//===----------------------------------------------------------------------===//
#include "passes/GPUCodegen.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERTOGPU
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpucg;

/// Tensor-core operands: f16/bf16 Q, and static head dims D (a multiple of
/// `dMultiple`) and Dv (a multiple of 16), at most 256 each; `dims` names
/// the requirement in the error.
static LogicalResult checkTensorCoreOperands(Operation *op, StringRef chip,
                                             Value q, Value v,
                                             int64_t dMultiple,
                                             StringRef dims) {
  auto fail = [&](const Twine &msg) {
    return op->emitOpError() << "(target " << chip << "): " << msg;
  };
  auto qType = cast<MemRefType>(q.getType());
  Type elt = qType.getElementType();
  int64_t d = qType.getDimSize(3);
  int64_t dv = cast<MemRefType>(v.getType()).getDimSize(3);
  if (!elt.isF16() && !elt.isBF16())
    return fail("tensor cores take f16 or bf16 inputs, got " +
                llvm::formatv("{0}", elt).str());
  if (ShapedType::isDynamic(d) || ShapedType::isDynamic(dv) ||
      d % dMultiple != 0 || dv % 16 != 0 || d > 256 || dv > 256)
    return fail(dims);
  return success();
}

LogicalResult gpucg::checkGPUAttentionOp(AttentionOp op, StringRef chip) {
  auto fail = [&](const Twine &msg) {
    return op.emitOpError() << "(target " << chip << "): " << msg;
  };
  if (failed(checkTensorCoreOperands(
          op, chip, op.getQ(), op.getV(), 16,
          "head dims D and Dv must be static multiples of 16, at most 256")))
    return failure();
  PatternAttrInterface pattern = op.getPattern();
  if (int64_t block = pattern.getKeyBlock()) {
    int64_t topk = pattern.getRetrievedBlocks();
    // Each row's choice lives in registers (2 rows x k pairs per thread).
    if (topk > 16)
      return fail("landmark top-k on the GPU keeps at most 16 blocks per "
                  "query, got topk = " + std::to_string(topk));
    if (block % 16 != 0 || block > 128)
      return fail("landmark blocks on the GPU must be multiples of 16 up to "
                  "128 (one key tile per block), got " +
                  std::to_string(block));
    return success();
  }
  int64_t lo, hi;
  if (!pattern.rowBounds(0, 1, lo, hi))
    return fail(llvm::formatv("pattern {0} is not supported by the GPU "
                              "target (run attn-decompose-dilated first)",
                              Attribute(pattern))
                    .str());
  return success();
}

LogicalResult gpucg::checkGPULightningOp(LightningOp op, StringRef chip) {
  if (failed(checkTensorCoreOperands(
          op, chip, op.getQ(), op.getV(), 64,
          "lightning on the GPU needs a static D that is a multiple of 64 (at "
          "most 256) and a static Dv that is a multiple of 16 (at most 256)")))
    return failure();
  auto fail = [&](const Twine &msg) {
    return op.emitOpError() << "(target " << chip << "): " << msg;
  };
  for (Value st : {op.getStateIn(), op.getStateOut()})
    if (st && cast<MemRefType>(st.getType()).getLayout() &&
        !cast<MemRefType>(st.getType()).getLayout().isIdentity())
      return fail("the GPU target needs contiguous states");
  return success();
}

namespace {

/// A kernel function being lowered: its ops, the kernel arguments, and the
/// metadata its launches add up to.
struct KernelFunction {
  func::FuncOp func;
  SmallVector<Operation *> ops;
  KernelArgs operands;
  /// The function's tensor maps, in parameter order.
  SmallVector<TensorMapAttr> maps;
  attnmeta::KernelMeta meta;
  std::string chip;
};

class LowerToGPU : public attn::impl::AttnLowerToGPUBase<LowerToGPU> {
public:
  using Base::Base;
  void runOnOperation() override;

private:
  LogicalResult lowerFunction(func::FuncOp func, gpu::GPUModuleOp gpuModule);
  LogicalResult lowerAttention(KernelFunction &kf, gpu::GPUModuleOp gpuModule);
  LogicalResult lowerLightning(KernelFunction &kf, LightningOp op,
                               gpu::GPUModuleOp gpuModule);
};

} // namespace

/// The op's GPU schedule, or an error.
static GPUScheduleAttr scheduleOf(Operation *op) {
  auto s = op->getAttrOfType<GPUScheduleAttr>(kScheduleAttrName);
  if (!s)
    op->emitOpError() << "has no GPU schedule (attn.schedule = "
                         "#attn.gpu_schedule): run attn-configure-gpu first";
  return s;
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

/// The CTA of kernel `k` of an op of function `kf` whose tiles come from
/// `attention` (its head dims, dtypes, scale and pattern), checked against
/// what the code generator can honour.
static FailureOr<GPUConfig> ctaOf(Operation *op, AttentionOp attention,
                                  GPUKernelAttr k, StringRef chip) {
  auto fail = [&](const Twine &msg) {
    return op->emitOpError() << "(target " << chip << "): kernel '"
                             << k.getSuffix() << "' of the schedule: " << msg;
  };
  GPUConfig c;
  auto qType = cast<MemRefType>(attention.getQ().getType());
  c.d = qType.getDimSize(3);
  c.dv = cast<MemRefType>(attention.getV().getType()).getDimSize(3);
  c.elt = qType.getElementType();
  c.outElt =
      cast<MemRefType>(attention.getOut().getType()).getElementType();
  c.scale = *attention.getEffectiveScale();
  c.warps = k.getWarps();
  c.blockM = 16 * c.warps;
  c.blockN = k.getBlockN();
  c.stages = k.getStages();
  c.ctasPerSM = k.getCtasPerSm();
  c.tma = k.getTma();
  c.wgmma = k.getWgmma();
  c.wgmmaPV = k.getWgmmaPv();
  c.asyncQK = k.getAsyncQk();
  c.ws = k.getWarpSpecialize();
  c.pingpong = k.getPingpong();
  c.wsOverlap = k.getWsOverlap();
  c.kvBoxRows = k.getKvBoxRows();
  c.persistent = k.getPersistent();
  if (int64_t block = attention.getPattern().getKeyBlock()) {
    c.landmark = block;
    c.topk = attention.getPattern().getRetrievedBlocks();
    if (c.blockN != c.landmark)
      return fail("landmark kernels take one block per key tile: block_n "
                  "must be " + std::to_string(c.landmark));
  }
  if (c.tma && (c.d % 64 != 0 || c.dv % 64 != 0 || c.topk))
    return fail("TMA tiles need D and Dv multiples of 64 and no top-k");
  if (c.tma && attention.isPaged())
    return fail("a paged cache's rows follow its block table: K/V load by "
                "cp.async (no 'tma')");
  if (attention.isPaged() && (k.getKeysLo() || k.getKeysHi()))
    return fail("a paged cache has a key count per sequence: no kernel for "
                "a range of Nk (keys_lo / keys_hi)");
  if (c.wgmma && (c.warps % 4 != 0 || c.blockN % 8 != 0 || c.topk))
    return fail("wgmma needs whole warpgroups (warps a multiple of 4), "
                "block_n a multiple of 8 and no top-k");
  if (k.getCols() || k.getCtasLo() || k.getCtasHi())
    return fail("'cols', 'ctas_lo' and 'ctas_hi' are lightning's");
  if ((k.getSplitKeys() || k.getMerge()) &&
      (c.landmark || attention.getRows() || attention.getAccumulate() ||
       !isa<AttentionOp>(op)))
    return fail("split-KV decoding takes one attention over whole sequences "
                "(no landmark blocks, #attn.rows or accumulate)");
  if (c.persistent && (!c.ws || !c.tma || attention.getRows() ||
                       attention.getAccumulate() || attention.isPaged() ||
                       c.landmark || c.pingpong || !isa<AttentionOp>(op)))
    return fail("a persistent kernel is warp-specialized, loads by TMA and "
                "takes one attention over whole sequences (no #attn.rows, "
                "accumulate, paged cache, landmark blocks or pingpong)");
  if (c.smemBytes() > 227 * 1024)
    return fail("the tiles need " + std::to_string(c.smemBytes()) +
                " bytes of shared memory, more than a CTA can have "
                "(227 KB)");
  return c;
}

/// Hk: K's dimension 1, or 2 of a paged cache ([P, S, Hk, D]).
static Value kvHeads(Emitter &e, const KernelArgs &a) {
  return e.dim(a.k, a.blockTable ? 2 : 1);
}

/// The keys of w.batch: K's length, or for a paged cache the batch's
/// kv_lens entry clamped to [0, pages per sequence x page size] (then also
/// w.pages, the table's addressing).
static void keysOf(Emitter &e, const KernelArgs &a, TileWork &w) {
  w.nk = keyCount(e, a, w.batch);
  if (a.blockTable)
    w.pages = Pages{a.blockTable, e.sub(e.dim(a.k, 0), e.idx(1)),
                    e.divisor(e.dim(a.k, 1))};
}

/// (batch, head) of the CTA: grid y and z.
static void headsOf(Emitter &e, const KernelArgs &a, TileWork &w) {
  w.head = gpu::BlockIdOp::create(e.b, e.loc, gpu::Dimension::y);
  w.batch = gpu::BlockIdOp::create(e.b, e.loc, gpu::Dimension::z);
  Value h = e.dim(a.q, 1);
  w.kvHead = e.div(w.head, e.div(h, kvHeads(e, a)));
}

/// attn.clear: CTA x clears block_m rows of O and LSE of (batch, head).
static void emitClear(Emitter &e, const KernelArgs &a, const GPUConfig &c) {
  Location loc = e.loc;
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
}

/// Attention over whole sequences: CTA x computes query tile x of
/// (batch, head), the last tile first (under causal masks the longest).
static void emitWholeRows(Emitter &e, const KernelArgs &a, const GPUConfig &c,
                          TileWork &w, AttentionOp op) {
  headsOf(e, a, w);
  w.nq = e.dim(a.q, 2);
  keysOf(e, a, w);
  Value tiles = e.ceilDiv(w.nq, e.idx(c.blockM));
  Value bx = gpu::BlockIdOp::create(e.b, e.loc, gpu::Dimension::x);
  w.qt = e.sub(e.sub(tiles, e.idx(1)), bx);
  w.qBase = w.kBase = e.idx(0);
  w.stride = e.idx(1);
  w.merge = op.getAccumulate();
  KernelCodegen gen(e, c);
  gen.setup();
  gen.emit(op.getPattern(), a, dynamicSmem(e.b, e.loc), w);
}

/// The persistent kernel over whole sequences: grid x CTAs (the runtime's
/// ctas_per_sm per SM, at most one per item) loop over the (query tile,
/// head, batch) items, the next one from `counters` (the runtime's, i32;
/// a null pointer: every grid-th item).
static void emitPersistentRows(Emitter &e, const KernelArgs &a,
                               const GPUConfig &c, TileWork &w,
                               AttentionOp op, Value counters) {
  w.nq = e.dim(a.q, 2);
  w.batch = e.idx(0); // (keysOf reads it for paged caches only)
  keysOf(e, a, w);
  w.qBase = w.kBase = e.idx(0);
  w.stride = e.idx(1);
  Value heads = e.dim(a.q, 1);
  KernelCodegen gen(e, c);
  gen.setup();
  // H / Hk in 32 bits: a 64-bit division is a call whose clobbers made
  // ptxas spill.
  Value kvGroup = e.div(e.toI32(heads), e.toI32(kvHeads(e, a)));
  gen.emitPersistent(op.getPattern(), a, dynamicSmem(e.b, e.loc), w, heads,
                     e.dim(a.q, 0), kvGroup, counters);
}

/// Split-KV decoding: CTA (x, y, z) takes split x of the key tiles of KV
/// head y of batch z for the packed query rows of its H / Hk heads.
static void emitSplitRows(Emitter &e, const KernelArgs &a, const GPUConfig &c,
                          TileWork &w, AttentionOp op, Value partials) {
  w.split = gpu::BlockIdOp::create(e.b, e.loc, gpu::Dimension::x);
  w.splits = gpu::GridDimOp::create(e.b, e.loc, gpu::Dimension::x);
  w.kvHead = gpu::BlockIdOp::create(e.b, e.loc, gpu::Dimension::y);
  w.batch = gpu::BlockIdOp::create(e.b, e.loc, gpu::Dimension::z);
  w.group = e.div(e.dim(a.q, 1), kvHeads(e, a));
  w.head = e.mul(w.kvHead, w.group);
  w.partials = partials;
  w.nq = e.dim(a.q, 2);
  keysOf(e, a, w);
  w.qt = w.qBase = w.kBase = e.idx(0);
  w.stride = e.idx(1);
  KernelCodegen gen(e, c);
  gen.setup();
  gen.emit(op.getPattern(), a, dynamicSmem(e.b, e.loc), w);
}

/// The merge of split-KV partials: CTA x combines row x of (batch, head),
/// all its warps together.
static void emitMergeRows(Emitter &e, const KernelArgs &a, const GPUConfig &c,
                          Value partials) {
  Value head = gpu::BlockIdOp::create(e.b, e.loc, gpu::Dimension::y);
  Value batch = gpu::BlockIdOp::create(e.b, e.loc, gpu::Dimension::z);
  Value bx = gpu::BlockIdOp::create(e.b, e.loc, gpu::Dimension::x);
  KernelCodegen gen(e, c);
  gen.setup();
  gen.emitMerge(a, partials, batch, head, bx);
}

/// Attention over strided rows (#attn.rows): CTA x computes query tile
/// x mod perSeg of segment x / perSeg; tiles past the segment's rows have
/// nothing to do.
static void emitStridedRows(Emitter &e, const KernelArgs &a,
                            const GPUConfig &c, TileWork &w, AttentionOp op,
                            int64_t perSeg) {
  RowsAttr rows = op.getRowsAttr();
  headsOf(e, a, w);
  Value n = e.dim(a.q, 2), h = e.dim(a.q, 1);
  Value bx = gpu::BlockIdOp::create(e.b, e.loc, gpu::Dimension::x);
  Value segIdx = e.div(bx, e.idx(perSeg));
  SegmentRows sr = rows.buildSegmentRows(e.b, e.loc, n, segIdx, w.head, h);
  Value tiles = e.ceilDiv(sr.count, e.idx(c.blockM));
  Value local = e.rem(bx, e.idx(perSeg));
  e.ifThen(e.cmp(arith::CmpIPredicate::slt, local, tiles), [&] {
    w.qt = e.sub(e.sub(tiles, e.idx(1)), local);
    w.nq = w.nk = sr.count;
    w.qBase = w.kBase = e.add(sr.start, sr.offset);
    w.stride = e.idx(rows.getRate());
    w.merge = op.getAccumulate();
    KernelCodegen gen(e, c);
    gen.setup();
    gen.emit(op.getPattern(), a, dynamicSmem(e.b, e.loc), w);
  });
}

LogicalResult LowerToGPU::lowerFunction(func::FuncOp func,
                                        gpu::GPUModuleOp gpuModule) {
  KernelFunction kf;
  kf.func = func;
  if (failed(collectKernelOps(func, "GPU", kf.ops)))
    return failure();
  for (Operation *op : kf.ops) {
    GPUScheduleAttr s = scheduleOf(op);
    if (!s)
      return failure();
    if (!kf.chip.empty() && kf.chip != s.getChip())
      return op->emitOpError() << "is scheduled for " << s.getChip()
                               << " while the function's other ops are for "
                               << kf.chip;
    kf.chip = s.getChip().str();
  }
  if (auto maps = func->getAttrOfType<ArrayAttr>(kTensorMapsAttrName)) {
    for (Attribute a : maps) {
      auto m = dyn_cast<TensorMapAttr>(a);
      if (!m || (m.getRole() != "q" && m.getRole() != "k" &&
                 m.getRole() != "v") ||
          m.getBoxCols() != 64 || m.getBoxRows() < 1 ||
          m.getBoxRows() > 256 || m.getRate() < 1)
        return func.emitError()
               << "attn.tensor_maps: expected #attn.tensor_map of role q, k "
                  "or v with 64-column boxes of 1 to 256 rows and a "
                  "positive rate, got "
               << a;
      kf.maps.push_back(m);
    }
    if (kf.maps.size() > 3 * kMaxMapRates)
      return func.emitError() << "attn.tensor_maps: at most "
                              << 3 * kMaxMapRates
                              << " maps fit in a kernel's parameters";
  }
  if (auto lightning = dyn_cast<LightningOp>(kf.ops.front()))
    return lowerLightning(kf, lightning, gpuModule);
  return lowerAttention(kf, gpuModule);
}

LogicalResult LowerToGPU::lowerAttention(KernelFunction &kf,
                                         gpu::GPUModuleOp gpuModule) {
  func::FuncOp func = kf.func;
  AttentionOp first;
  for (Operation *op : kf.ops) {
    if (auto a = dyn_cast<AttentionOp>(op)) {
      if (failed(checkGPUAttentionOp(a, kf.chip)))
        return failure();
      if (!first)
        first = a;
      kf.operands = {a.getQ(), a.getK(), a.getV(), a.getOut(), a.getLse()};
      kf.operands.blockTable = a.getBlockTable();
      kf.operands.kvLens = a.getKvLens();
    }
  }
  for (Operation *op : kf.ops)
    if (auto clear = dyn_cast<ClearOp>(op))
      if (clear.getOut() != kf.operands.o || clear.getLse() != kf.operands.lse)
        return op->emitOpError() << "clears what the function's attentions "
                                    "do not write";

  MLIRContext *ctx = func.getContext();
  OpBuilder b(ctx);
  Location loc = func.getLoc();
  b.setInsertionPointToEnd(gpuModule.getBody());
  auto argTypes = func.getFunctionType().getInputs();
  int64_t numMaps = kf.maps.size();
  std::string name = func.getName().str();
  attnmeta::KernelMeta &meta = kf.meta;
  int64_t numLaunches = 0;
  bool summarised = false, summarisedDecoding = false;
  // Split-KV kernels write partials to the runtime's workspace, a memref
  // parameter after the tensor maps that every launch then takes.
  // A split kernel that merges in its last CTAs (split_keys and merge) also
  // takes the runtime's counters, i32 [B * Hk], after the workspace; so
  // does a persistent kernel (its next work item: counter 0).
  bool workspace = false, counters = false;
  for (Operation *op : kf.ops)
    for (GPUKernelAttr k : scheduleOf(op).getKernels()) {
      workspace = workspace || k.getSplitKeys() || k.getMerge();
      counters = counters || (k.getSplitKeys() && k.getMerge()) ||
                 k.getPersistent();
    }
  int64_t dynamic = ShapedType::kDynamic;
  auto workspaceType = MemRefType::get(
      {dynamic, dynamic, dynamic, dynamic, dynamic}, b.getF32Type());
  auto countersType = MemRefType::get({dynamic}, b.getI32Type());

  for (auto [opIndex, op] : llvm::enumerate(kf.ops)) {
    auto attention = dyn_cast<AttentionOp>(op);
    RowsAttr rows = attention ? attention.getRowsAttr() : RowsAttr();
    // The first op's kernels are named F, the others F__phase<i>.
    std::string opName =
        opIndex == 0 ? name : name + "__phase" + std::to_string(opIndex);
    for (GPUKernelAttr k : scheduleOf(op).getKernels()) {
      FailureOr<GPUConfig> cta = ctaOf(op, first, k, kf.chip);
      if (failed(cta))
        return failure();
      const GPUConfig &kc = *cta;
      // Strided rows of rate r are read by TMA through the maps of rate r.
      int64_t rate = rows ? rows.getRate() : 1;
      std::array<int64_t, 3> mapIndex{-1, -1, -1};
      if (kc.tma) {
        if (!attention)
          return op->emitOpError() << "clears O and LSE: its kernel loads "
                                      "nothing by TMA";
        // The maps of the rows' rate whose boxes fit this CTA: the kernels
        // of one function (tuned variants of different tiles among them)
        // may each have their own.
        static constexpr StringLiteral kMapRoles[] = {"q", "k", "v"};
        int64_t kvRows = kc.kvBoxRows ? kc.kvBoxRows : kc.blockN;
        bool anyOfRate = false;
        for (auto [i, m] : llvm::enumerate(kf.maps))
          for (int64_t r = 0; r < 3; ++r) {
            if (m.getRole() != kMapRoles[r] || m.getRate() != rate)
              continue;
            anyOfRate = true;
            if (m.getBoxRows() == (r == 0 ? kc.blockM : kvRows) &&
                mapIndex[r] < 0)
              mapIndex[r] = i;
          }
        if (!anyOfRate)
          return op->emitOpError()
                 << "(target " << kf.chip << "): kernel '" << k.getSuffix()
                 << "' loads by TMA but attn.tensor_maps has no q, k and v "
                    "maps of rate "
                 << rate;
        if (llvm::is_contained(mapIndex, -1))
          return op->emitOpError()
                 << "(target " << kf.chip << "): kernel '" << k.getSuffix()
                 << "' needs tensor-map boxes of " << kc.blockM
                 << " query rows and " << kvRows
                 << " key rows (kv_box_rows or block_n)";
      }
      if (rows && k.getDivides() && std::abs(k.getDivides()) != rate)
        return op->emitOpError() << "kernel '" << k.getSuffix()
                                 << "': 'divides' must be the rows' rate "
                                 << rate << " or its negation";
      if (!rows && k.getDivides())
        return op->emitOpError() << "kernel '" << k.getSuffix()
                                 << "': 'divides' applies to strided rows";
      if (kc.tma && rate > 1 && k.getDivides() != rate)
        return op->emitOpError()
               << "kernel '" << k.getSuffix()
               << "': TMA over rows of rate " << rate << " needs divides = "
               << rate << " (the 5-D map describes the rows when r divides N)";

      std::string entryName = opName + k.getSuffix().str();
      // Every kernel takes the function's arguments, then its tensor maps
      // (made grid constants by attn-tensormap-params after
      // convert-gpu-to-nvvm): the runtime passes every launch the same
      // parameters.
      SmallVector<Type> types(argTypes);
      types.append(numMaps, LLVM::LLVMPointerType::get(ctx));
      if (workspace)
        types.push_back(workspaceType);
      if (counters)
        types.push_back(countersType);
      auto kernel = createKernel(b, loc, entryName, types, kc.threads(),
                                 kc.ctasPerSM);
      if (numMaps)
        kernel->setAttr("attn.tensormaps", b.getI64IntegerAttr(numMaps));
      // The workspace's and counters' descriptors follow the maps: 3 + 2 *
      // rank arguments each once memrefs are expanded.
      int64_t afterMaps =
          (workspace ? 3 + 2 * workspaceType.getRank() : 0) +
          (counters ? 3 + 2 * countersType.getRank() : 0);
      if (numMaps && afterMaps)
        kernel->setAttr("attn.after_maps", b.getI64IntegerAttr(afterMaps));
      Block &body = kernel.getBody().front();
      KernelArgs a = bindArgs(kf.operands, body);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(&body);
      Emitter e{b, loc};
      TileWork w;
      if (kc.tma) {
        Value maps[3];
        for (int64_t r = 0; r < 3; ++r)
          maps[r] = body.getArgument(argTypes.size() + mapIndex[r]);
        w.mapQ = maps[0];
        w.mapK = maps[1];
        w.mapV = maps[2];
        w.tmaRate = rate;
      }
      // The launch: grid x = ceil(N / seg) * perSeg CTAs (split-KV: the
      // runtime's split count).
      int64_t seg = kc.blockM, perSeg = 1;
      Value partials =
          workspace ? body.getArgument(types.size() - 1 - counters) : Value();
      if (counters && k.getSplitKeys() && k.getMerge())
        w.counters = body.getArguments().back();
      if (!attention) {
        emitClear(e, a, kc);
      } else if (k.getSplitKeys()) {
        seg = 0;
        emitSplitRows(e, a, kc, w, attention, partials);
      } else if (k.getMerge()) { // (split kernels merge in their last CTAs)
        seg = 1;
        emitMergeRows(e, a, kc, partials);
      } else if (!rows && kc.persistent) {
        emitPersistentRows(e, a, kc, w, attention, body.getArguments().back());
      } else if (!rows) {
        emitWholeRows(e, a, kc, w, attention);
      } else {
        seg = rows.getSegment();
        perSeg = (rows.maxRowsPerSegment() + kc.blockM - 1) / kc.blockM;
        emitStridedRows(e, a, kc, w, attention, perSeg);
      }
      gpu::ReturnOp::create(b, loc);
      attnmeta::Launch l;
      l.entry = entryName;
      l.seg = seg;
      l.perSeg = perSeg;
      l.threads = kc.threads();
      l.smem = kc.smemBytes();
      l.cond = k.getDivides();
      l.keysLo = k.getKeysLo();
      l.keysHi = k.getKeysHi();
      l.rowsLo = k.getRowsLo();
      l.rowsHi = k.getRowsHi();
      l.splitKeys = k.getSplitKeys();
      l.splitCtas = k.getSplitKeys() ? kc.ctasPerSM : 0;
      if (k.getSplitKeys()) {
        // Keys one query reads at most, where the pattern bounds them.
        int64_t far = int64_t(1) << 40, lo, hi;
        if (attention.getPattern().rowBounds(far, far + 1, lo, hi) &&
            hi - lo + 1 < far / 2)
          l.splitSpan = hi - lo + 1;
      }
      l.merge = k.getMerge();
      l.persistent = kc.persistent ? kc.ctasPerSM : 0;
      if (k.getMerge() && !k.getSplitKeys())
        l.smem = KernelCodegen::mergeSmemBytes(kc);
      meta.launches.push_back(l);
      ++numLaunches;
      // The metadata summarises the first kernel's CTA (not a split-KV one,
      // unless the schedule has nothing else).
      bool decoding = k.getSplitKeys() || k.getMerge();
      if (!summarised || (summarisedDecoding && !decoding)) {
        summarisedDecoding = decoding;
        meta.threads = kc.threads();
        meta.smem = kc.smemBytes();
        meta.tileM = kc.blockM;
        meta.tileN = kc.blockN;
        meta.stages = kc.stages;
        summarised = true;
      }
    }
  }

  // Metadata the runtime reads from the module (cuModuleGetGlobal): the
  // pattern the function computes (the one its ops are pieces of, or its
  // only op's) and the tensor maps, one CUtensorMap per line, in order:
  // operand, box columns, box rows (128-byte swizzle, zero fill), and for
  // strided maps the rate.
  std::string patternText;
  llvm::raw_string_ostream os(patternText);
  if (Attribute source = func->getAttr(kSourcePatternAttrName))
    os << source;
  else
    os << first.getPattern();
  meta.target = kf.chip;
  for (TensorMapAttr m : kf.maps)
    meta.tensorMaps.push_back(
        {m.getRole().str(), m.getBoxCols(), m.getBoxRows(), m.getRate()});
  Block &entry = func.getBody().front();
  emitMetaGlobal(b, loc, (func.getName() + "__attn_meta").str(),
                 kernelMetaText("attention", patternText, numLaunches,
                                argTypes, argRoles(entry, kf.operands), meta));
  func.erase();
  return success();
}

LogicalResult LowerToGPU::lowerLightning(KernelFunction &kf, LightningOp op,
                                         gpu::GPUModuleOp gpuModule) {
  if (failed(checkGPULightningOp(op, kf.chip)))
    return failure();
  func::FuncOp func = kf.func;
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
  ArrayRef<GPUKernelAttr> kernels = scheduleOf(op).getKernels();
  for (GPUKernelAttr k : kernels) {
    int64_t ev = k.getCols();
    if (k.getWarps() != 4 || k.getBlockN() != 64 || k.getStages() != 2 ||
        k.getTma() || k.getWgmma() || k.getWarpSpecialize() ||
        k.getKeysLo() || k.getKeysHi() || k.getDivides())
      return op.emitOpError()
             << "(target " << kf.chip << "): lightning kernels take 4 warps, "
                "blocks of 64 and 2 stages on mma.sync, launched by 'cols', "
                "'ctas_lo' and 'ctas_hi' only";
    if (ev < 16 || ev % 16 != 0 || c.dv % ev != 0)
      return op.emitOpError()
             << "(target " << kf.chip << "): lightning 'cols' must be a "
                "multiple of 16 that divides Dv = "
             << c.dv << ", got " << ev;
  }
  if (!kf.maps.empty())
    return func.emitError() << "lightning kernels take no tensor maps";
  kf.operands = {op.getQ(),      op.getK(),       op.getV(),
                 op.getOut(),    Value(),         op.getSlopes(),
                 op.getStateIn(), op.getStateOut()};

  MLIRContext *ctx = func.getContext();
  OpBuilder b(ctx);
  Location loc = func.getLoc();
  b.setInsertionPointToEnd(gpuModule.getBody());
  auto argTypes = func.getFunctionType().getInputs();
  std::string name = func.getName().str();
  attnmeta::KernelMeta &meta = kf.meta;
  int64_t maxSmem = 0;
  for (GPUKernelAttr k : kernels) {
    int64_t ev = k.getCols();
    std::string entryName = name + k.getSuffix().str();
    int64_t smem = KernelCodegen::lightningSmemBytes(c, ev);
    maxSmem = std::max(maxSmem, smem);
    auto kernel = createKernel(b, loc, entryName, argTypes, c.threads(),
                               k.getCtasPerSm());
    Block &body = kernel.getBody().front();
    KernelArgs a = bindArgs(kf.operands, body);
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
              b, loc, b.getF32Type(),
              b.getStringAttr("llvm.nvvm.ex2.approx.ftz.f"),
              ValueRange{alibiSlopeLog2(e, w.head, h)})
              .getResult(0),
          e.f32(-M_LOG2E));
    Value smemBase = dynamicSmem(b, loc);
    KernelCodegen kc(e, c);
    kc.setup();
    kc.emitLightning(a, smemBase, w, e0, ev, log2l);
    gpu::ReturnOp::create(b, loc);
    // Seg 0: one launch of grid x = Dv / ev, not split along the sequence.
    attnmeta::Launch l;
    l.entry = entryName;
    l.seg = 0;
    l.perSeg = c.dv / ev;
    l.threads = c.threads();
    l.smem = smem;
    l.ctasLo = k.getCtasLo();
    l.ctasHi = k.getCtasHi();
    l.keysLo = k.getKeysLo();
    l.keysHi = k.getKeysHi();
    meta.launches.push_back(l);
  }
  meta.target = kf.chip;
  meta.threads = c.threads();
  meta.smem = maxSmem;
  meta.tileM = meta.tileN = 64;
  meta.stages = 2;
  Block &entry = func.getBody().front();
  emitMetaGlobal(b, loc, (func.getName() + "__attn_meta").str(),
                 kernelMetaText("lightning", "", kernels.size(), argTypes,
                                argRoles(entry, kf.operands), meta));
  func.erase();
  return success();
}

void LowerToGPU::runOnOperation() {
  ModuleOp module = getOperation();
  SmallVector<func::FuncOp> kernels = kernelFunctions(module);
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
  for (func::FuncOp func : kernels)
    if (failed(lowerFunction(func, gpuModule)))
      return signalPassFailure();
}
