//===- LowerToCPU.cpp - attn ops to tiled vector micro-kernels ------------===//
// attn-lower-to-cpu: each kernel function becomes the kernel ABI of phases
// (count and run functions the runtime spreads over threads), their bodies
// built by TileCodegen and LightningCodegen (CPUCodegen.h) as each op's
// attn.schedule says; key tiles come from the pattern interface.
//===----------------------------------------------------------------------===//
#include "passes/CPUCodegen.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERTOCPU
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::cpucg;

namespace {

//===----------------------------------------------------------------------===//
// Kernel ABI: phases of work items
//===----------------------------------------------------------------------===//

/// Operands of the kernel function, by role (null when absent).
/// The two functions of one phase, as the ABI emitter builds them.
struct PhaseFns {
  std::function<Value(Emitter &, const KernelArgs &)> count;
  std::function<void(Emitter &, const KernelArgs &, Value begin, Value end)>
      run;
  /// The phase runs when keysLo <= Nk < keysHi (0: no bound): the op's
  /// schedule is for that range of sequence lengths.
  int64_t keysLo = 0, keysHi = 0;
  /// At most this many worker threads run it (0: all).
  int64_t threads = 0;
};


RowView view(Value mem, Value batch, Value head, Value base, Value stride) {
  return RowView{mem, batch, head, base, stride, {}, {}, {}};
}


class LowerToCPU : public attn::impl::AttnLowerToCPUBase<LowerToCPU> {
public:
  using Base::Base;
  void runOnOperation() override;

private:
  LogicalResult lowerFunction(func::FuncOp func);
  /// The phases of one op, appended to `phases`.
  LogicalResult attentionPhases(AttentionOp op, SmallVectorImpl<PhaseFns> &phases);
  static PhaseFns clearPhase(ClearOp op);
  LogicalResult lightningPhase(LightningOp op, SmallVectorImpl<PhaseFns> &phases);
  /// Metadata naming the CPU the code is for and the ISA extensions a host
  /// needs to run it.
  static attnmeta::KernelMeta targetMeta(CPUScheduleAttr s) {
    attnmeta::KernelMeta meta;
    meta.cpu = s.getCpu().str();
    llvm::SmallVector<StringRef> features;
    s.getFeatures().split(features, ',', -1, false);
    for (StringRef f : features)
      meta.features.push_back(f.str());
    return meta;
  }
  /// The op's schedule, checked; null after an error.
  static CPUScheduleAttr scheduleOf(Operation *op) {
    CPUScheduleAttr s = getCPUSchedule(op);
    if (!s) {
      op->emitOpError() << "has no CPU schedule (attn.schedule): run "
                           "attn-configure-cpu first";
      return {};
    }
    return succeeded(checkCPUSchedule(op, s)) ? s : CPUScheduleAttr();
  }
};

} // namespace

static void emitKernelABI(func::FuncOp func, ArrayRef<Operation *> ops,
                          StringRef opName, StringRef pattern,
                          const KernelArgs &operands, ArrayRef<PhaseFns> phases,
                          const attnmeta::KernelMeta &targetMeta);

/// O = 0 and LSE = -inf; items are (batch, head).
PhaseFns LowerToCPU::clearPhase(ClearOp op) {
  auto oType = cast<MemRefType>(op.getOut().getType());
  Type outElt = oType.getElementType();
  int64_t dvStatic = oType.getDimSize(3);
  PhaseFns f;
  f.count = [](Emitter &e, const KernelArgs &a) {
    return e.mul(e.dim(a.o, 0), e.dim(a.o, 1));
  };
  f.run = [outElt, dvStatic](Emitter &e, const KernelArgs &a, Value begin,
                             Value end) {
    e.forLoop(begin, end, e.idx(1), [&](Value item) {
      Value h = e.dim(a.o, 1);
      Value batch = e.div(item, h), head = e.rem(item, h);
      Value zero = e.fromF32(e.f32(0), outElt);
      Value ninf = e.f32(-std::numeric_limits<double>::infinity());
      e.forLoop(e.idx(0), e.dim(a.o, 2), e.idx(1), [&](Value row) {
        // A static Dv (every CPU kernel's) gives a constant trip count.
        Value dv = ShapedType::isDynamic(dvStatic) ? e.dim(a.o, 3)
                                                   : e.idx(dvStatic);
        e.forLoop(e.idx(0), dv, e.idx(1),
                  [&](Value c) { e.store(zero, a.o, {batch, head, row, c}); });
        e.store(ninf, a.lse, {batch, head, row});
      });
    });
  };
  // The clear of a variant for a range of Nk (it carries the pieces'
  // schedule) runs with them only.
  if (auto sched = op->getAttrOfType<CPUScheduleAttr>(kScheduleAttrName)) {
    f.keysLo = sched.getKeysLo();
    f.keysHi = sched.getKeysHi();
    f.threads = sched.getThreads();
  }
  return f;
}

LogicalResult LowerToCPU::attentionPhases(AttentionOp op,
                                          SmallVectorImpl<PhaseFns> &phases) {
  CPUScheduleAttr sched = scheduleOf(op);
  if (!sched)
    return failure();
  CPUOptions opt{sched.getBlockM(),    sched.getBlockN(),
                 sched.getVectorWidth(), sched.getMrKeys(),
                 sched.getMrValues(),  sched.getCpu().str(),
                 sched.getFeatures().str()};
  auto qType = cast<MemRefType>(op.getQ().getType());
  auto vType = cast<MemRefType>(op.getV().getType());
  auto oType = cast<MemRefType>(op.getOut().getType());
  int64_t d = qType.getDimSize(3), dv = vType.getDimSize(3);
  if (ShapedType::isDynamic(d) || ShapedType::isDynamic(dv))
    return op.emitOpError() << "the CPU target needs static head dims D and "
                               "Dv (they set the register blocking)";
  double scale = *op.getEffectiveScale();
  PatternAttrInterface pattern = op.getPattern();
  int64_t bm = opt.blockM;
  int64_t landmarkBlock = 0, landmarkTopk = 0;
  if (int64_t block = pattern.getKeyBlock()) {
    landmarkBlock = block;
    landmarkTopk = pattern.getRetrievedBlocks();
    // A key tile holds one whole block (rounded up to the micro-kernel).
    opt.blockN = (landmarkBlock + opt.mrKeys - 1) / opt.mrKeys * opt.mrKeys;
  }
  int64_t unusedLo, unusedHi;
  if (!landmarkBlock && !pattern.rowBounds(0, 1, unusedLo, unusedHi))
    return op.emitOpError() << "pattern " << pattern
                            << " is not supported by the CPU target (run "
                               "attn-decompose-dilated first)";
  Epilogue epilogue = op.getAccumulate() ? Epilogue::Merge : Epilogue::Store;
  RowsAttr rows = op.getRowsAttr();
  // A work item is one query tile of one (batch, head), or with strided rows
  // of one (batch, head, segment); the last tile first, so that the dynamic
  // scheduler starts with the longest rows.
  int64_t tilesPerSeg = rows ? (rows.maxRowsPerSegment() + bm - 1) / bm : 0;
  Type outElt = oType.getElementType();
  // bf16 pairs by vdpbf16ps in Q K^T and P V, as the schedule says
  // (attn-configure-cpu checked that the op and target allow it).
  bool bf16Dot = sched.getBf16Dot();
  // Or on AMX tiles (the same check made it possible).
  bool amx = sched.getAmx();
  // GQA-packed decoding: where the query rows of one KV head (Nq x H / Hk,
  // more than one head) fit the decode rows and a head's key rows are not
  // one dense range (a paged cache, or [B, N, Hk, D] storage), a work item
  // is one (batch, KV head) and its rows are those of all its query heads,
  // so that the decode rows read each key block once for all of them
  // (CPUDecode.cpp). Measured on a Zen 4 (docs/paged-cpu.md): 2x on
  // strided or paged K/V; on dense [B, Hk, N, D] the rows are bound by
  // their reductions, not memory, and keep one item per query head.
  int64_t decodeRows = sched.getDecodeRows();
  bool mayPack = decodeRows && !rows && !landmarkBlock;
  unsigned kvDim = op.kvHeadDim();
  bool paged = op.isPaged();
  auto packs = [=](Emitter &e, const KernelArgs &a) -> Value {
    Value group = e.div(e.dim(a.q, 1), e.dim(a.k, kvDim));
    Value fits = arith::AndIOp::create(
        e.b, e.loc, e.cmp(arith::CmpIPredicate::sgt, group, e.idx(1)),
        e.cmp(arith::CmpIPredicate::sle, e.mul(group, e.dim(a.q, 2)),
              e.idx(decodeRows)));
    if (paged)
      return fits;
    auto meta = memref::ExtractStridedMetadataOp::create(e.b, e.loc, a.k);
    Value rowStride = meta.getStrides()[2];
    return arith::AndIOp::create(
        e.b, e.loc, fits,
        e.cmp(arith::CmpIPredicate::ne, rowStride, e.dim(a.k, 3)));
  };
  PhaseFns f;
  f.count = [=](Emitter &e, const KernelArgs &a) {
    Value bh = e.mul(e.dim(a.q, 0), e.dim(a.q, 1));
    if (!rows) {
      Value items = e.mul(bh, e.ceilDiv(e.dim(a.q, 2), e.idx(bm)));
      if (!mayPack)
        return items;
      return e.select(packs(e, a),
                      e.mul(e.dim(a.q, 0), e.dim(a.k, kvDim)), items);
    }
    Value segs = rows.buildNumSegments(e.b, e.loc, e.dim(a.q, 2));
    return e.mul(e.mul(bh, segs), e.idx(tilesPerSeg));
  };
  // One item: tile `qt` of (batch, head) over `count` rows from `base`,
  // `stride` apart.
  // (packNq: the rows are GQA-packed, `head` the KV head's first.)
  auto tile = [=](Emitter &e, TileCodegen &tc, const Scratch &s,
                  const KernelArgs &a, Value batch, Value head, Value base,
                  Value stride, Value qt, Value nq, Value nk,
                  Value packNq = Value()) {
    Value kvHead = e.div(head, e.div(e.dim(a.q, 1), e.dim(a.k, kvDim)));
    std::optional<RowView> lse;
    if (a.lse) {
      lse = view(a.lse, batch, head, base, stride);
      lse->packNq = packNq;
    }
    RowView qv = view(a.q, batch, head, base, stride);
    RowView ov = view(a.o, batch, head, base, stride);
    qv.packNq = ov.packNq = packNq;
    RowView k = view(a.k, batch, kvHead, base, stride);
    RowView v = view(a.v, batch, kvHead, base, stride);
    if (paged) {
      Divisor pageSize = e.divisor(e.dim(a.k, 1));
      Value lastPage = e.sub(e.dim(a.k, 0), e.idx(1));
      for (RowView *x : {&k, &v}) {
        x->table = a.blockTable;
        x->pageSize = pageSize;
        x->lastPage = lastPage;
      }
    }
    tc.emitTile(s, pattern, qv, k, v, ov, lse, qt, nq, nk, epilogue);
  };
  f.run = [=](Emitter &e, const KernelArgs &a, Value begin, Value end) {
    TileCodegen tc(e.b, e.loc, opt, d, dv, outElt, scale);
    tc.setLandmarkBlock(landmarkBlock, landmarkTopk);
    tc.setBF16Dot(bf16Dot);
    tc.setAMX(amx);
    tc.setNativeBF16(hasCPUFeature(sched.getFeatures(), "avx512bf16"));
    tc.setDecodeRows(sched.getDecodeRows());
    Scratch s = tc.allocScratch();
    e.forLoop(begin, end, e.idx(1), [&](Value item) {
      Value h = e.dim(a.q, 1);
      if (!rows) {
        Value nq = e.dim(a.q, 2);
        auto unpacked = [&] {
          Value tiles = e.ceilDiv(nq, e.idx(bm));
          Value bh = e.div(item, tiles);
          Value qt = e.sub(e.sub(tiles, e.idx(1)), e.rem(item, tiles));
          Value batch = e.div(bh, h);
          tile(e, tc, s, a, batch, e.rem(bh, h), e.idx(0), e.idx(1), qt, nq,
               keyCount(e, a, batch));
        };
        if (!mayPack)
          return unpacked();
        Value packed = packs(e, a);
        e.ifThen(packed, [&] {
          Value hk = e.dim(a.k, kvDim), group = e.div(h, hk);
          Value batch = e.div(item, hk), kvHead = e.rem(item, hk);
          tile(e, tc, s, a, batch, e.mul(kvHead, group), e.idx(0), e.idx(1),
               e.idx(0), e.mul(group, nq), keyCount(e, a, batch), nq);
        });
        e.ifThen(e.logicalNot(packed), unpacked);
        return;
      }
      Value n = e.dim(a.q, 2);
      Value segs = rows.buildNumSegments(e.b, e.loc, n);
      Value qt = e.rem(item, e.idx(tilesPerSeg));
      Value rest = e.div(item, e.idx(tilesPerSeg));
      Value seg = e.rem(rest, segs), bh = e.div(rest, segs);
      Value batch = e.div(bh, h), head = e.rem(bh, h);
      SegmentRows sr = rows.buildSegmentRows(e.b, e.loc, n, seg, head, h);
      Value base = e.add(sr.start, sr.offset), count = sr.count;
      e.ifThen(e.cmp(arith::CmpIPredicate::slt, e.mul(qt, e.idx(bm)), count),
               [&] {
                 tile(e, tc, s, a, batch, head, base, e.idx(rows.getRate()),
                      qt, count, count);
               });
    });
  };
  f.keysLo = sched.getKeysLo();
  f.keysHi = sched.getKeysHi();
  f.threads = sched.getThreads();
  phases.push_back(std::move(f));
  return success();
}

/// Ops scheduled for ranges of Nk must cover every Nk between them.
static LogicalResult checkKeyRanges(func::FuncOp func,
                                    ArrayRef<AttentionOp> attentions) {
  SmallVector<std::pair<int64_t, int64_t>> ranges;
  for (AttentionOp a : attentions)
    if (CPUScheduleAttr s = getCPUSchedule(a))
      if (s.getKeysLo() || s.getKeysHi()) {
        if (a.isPaged())
          return a.emitOpError()
                 << "a paged cache has a key count per sequence: its "
                    "cpu_schedule cannot be for a range of Nk (keys_lo / "
                    "keys_hi)";
        ranges.push_back({s.getKeysLo(), s.getKeysHi()});
      }
  if (ranges.empty())
    return success();
  if (ranges.size() != attentions.size())
    return func.emitError() << "an op with no keys_lo / keys_hi would run "
                               "beside ops scheduled for ranges of Nk";
  // The pieces of one decomposed op share its range.
  llvm::sort(ranges);
  ranges.erase(llvm::unique(ranges), ranges.end());
  int64_t covered = 0; // [0, covered) so far; -1: all
  for (auto [lo, hi] : ranges) {
    if (covered < 0 || lo != covered)
      return func.emitError()
             << "the cpu_schedule key ranges of the function's ops must "
                "cover every Nk once, in adjacent ranges [keys_lo, keys_hi) "
                "from 0 (the last with keys_hi = 0)";
    covered = hi ? hi : -1;
  }
  if (covered >= 0)
    return func.emitError() << "the cpu_schedule key ranges leave Nk >= "
                            << covered << " to no op (the last range needs "
                               "keys_hi = 0)";
  return success();
}

LogicalResult LowerToCPU::lowerFunction(func::FuncOp func) {
  SmallVector<Operation *> ops;
  if (failed(collectKernelOps(func, "CPU", ops)))
    return failure();
  if (auto lightning = dyn_cast<LightningOp>(ops.front())) {
    SmallVector<PhaseFns> phases;
    if (failed(lightningPhase(lightning, phases)))
      return failure();
    if (CPUScheduleAttr ls = scheduleOf(lightning))
      for (PhaseFns &f : phases)
        f.threads = ls.getThreads();
    emitKernelABI(func, ops, "lightning", "",
                  KernelArgs{lightning.getQ(), lightning.getK(),
                             lightning.getV(), lightning.getOut(), Value(),
                             lightning.getSlopes(), lightning.getStateIn(),
                             lightning.getStateOut()},
                  phases, targetMeta(scheduleOf(lightning)));
    return success();
  }
  SmallVector<PhaseFns> phases;
  KernelArgs operands;
  CPUScheduleAttr sched;
  SmallVector<AttentionOp> attentions;
  for (Operation *op : ops) {
    if (auto clear = dyn_cast<ClearOp>(op)) {
      phases.push_back(clearPhase(clear));
      operands.o = clear.getOut();
      operands.lse = clear.getLse();
      continue;
    }
    auto attention = cast<AttentionOp>(op);
    if (failed(attentionPhases(attention, phases)))
      return failure();
    if (!sched)
      sched = getCPUSchedule(attention);
    attentions.push_back(attention);
    operands.q = attention.getQ();
    operands.k = attention.getK();
    operands.v = attention.getV();
    operands.o = attention.getOut();
    if (attention.getLse())
      operands.lse = attention.getLse();
    operands.blockTable = attention.getBlockTable();
    operands.kvLens = attention.getKvLens();
  }
  if (failed(checkKeyRanges(func, attentions)))
    return failure();
  // The pattern the function computes: the one its ops are pieces of, or
  // its ops' when they all have one (variants for ranges of Nk).
  std::string patternText;
  llvm::raw_string_ostream os(patternText);
  if (Attribute source = func->getAttr(kSourcePatternAttrName))
    os << source;
  else if (llvm::all_of(attentions, [&](AttentionOp a) {
             return a.getPattern() == attentions.front().getPattern();
           }))
    os << attentions.front().getPattern();
  emitKernelABI(func, ops, "attention", patternText, operands, phases,
                targetMeta(sched));
  return success();
}

/// Builds F__count<p>, F__run<p>, F__phases, the metadata global and the
/// serial driver F, then erases the attn ops.
static void emitKernelABI(func::FuncOp func, ArrayRef<Operation *> ops,
                          StringRef opName, StringRef pattern,
                          const KernelArgs &operands, ArrayRef<PhaseFns> phases,
                          const attnmeta::KernelMeta &targetMeta) {
  OpBuilder b(func);
  Location loc = func.getLoc();
  MLIRContext *ctx = func.getContext();
  Block &entry = func.getBody().front();
  auto argTypes = func.getFunctionType().getInputs();
  auto unitAttr = UnitAttr::get(ctx);
  // The op's operands are arguments of F; each phase function takes the
  // same arguments in the same positions.
  SmallVector<func::FuncOp> countFns, runFns;
  for (auto [pi, phase] : llvm::enumerate(phases)) {
    std::string suffix = std::to_string(pi);
    auto countFn = func::FuncOp::create(
        b, loc, (func.getName() + "__count" + suffix).str(),
        FunctionType::get(ctx, argTypes, {b.getIndexType()}));
    countFn->setAttr("llvm.emit_c_interface", unitAttr);
    {
      OpBuilder::InsertionGuard g(b);
      Block *block = countFn.addEntryBlock();
      b.setInsertionPointToStart(block);
      Emitter e{b, loc};
      Value n = phase.count(e, bindArgs(operands, *block));
      func::ReturnOp::create(b, loc, n);
    }
    SmallVector<Type> runTypes(argTypes.begin(), argTypes.end());
    runTypes.push_back(b.getIndexType());
    runTypes.push_back(b.getIndexType());
    auto runFn = func::FuncOp::create(
        b, loc, (func.getName() + "__run" + suffix).str(),
        FunctionType::get(ctx, runTypes, {}));
    runFn->setAttr("llvm.emit_c_interface", unitAttr);
    {
      OpBuilder::InsertionGuard g(b);
      Block *block = runFn.addEntryBlock();
      b.setInsertionPointToStart(block);
      Emitter e{b, loc};
      phase.run(e, bindArgs(operands, *block), block->getArgument(argTypes.size()),
                block->getArgument(argTypes.size() + 1));
      func::ReturnOp::create(b, loc);
    }
    countFns.push_back(countFn);
    runFns.push_back(runFn);
  }
  auto phasesFn = func::FuncOp::create(
      b, loc, (func.getName() + "__phases").str(),
      FunctionType::get(ctx, {}, {b.getIndexType()}));
  phasesFn->setAttr("llvm.emit_c_interface", unitAttr);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(phasesFn.addEntryBlock());
    func::ReturnOp::create(
        b, loc,
        ValueRange{arith::ConstantIndexOp::create(b, loc, phases.size())});
  }

  // Metadata for the runtime core.
  // Phases for ranges of Nk, or on fewer threads: one launch line each
  // saying when it runs (and on how many workers at most).
  attnmeta::KernelMeta meta = targetMeta;
  if (llvm::any_of(phases, [](const PhaseFns &p) {
        return p.keysLo || p.keysHi || p.threads;
      }))
    for (auto [pi, phase] : llvm::enumerate(phases)) {
      attnmeta::Launch l;
      l.entry = (func.getName() + "__run" + std::to_string(pi)).str();
      l.keysLo = phase.keysLo;
      l.keysHi = phase.keysHi;
      if (phase.threads) {
        l.threads = phase.threads;
        l.smem = 0;
      }
      meta.launches.push_back(l);
    }
  emitMetaGlobal(b, loc, (func.getName() + "__attn_meta").str(),
                 kernelMetaText(opName, pattern, phases.size(), argTypes,
                                argRoles(entry, operands), meta));

  // The kernel itself: every phase in order, serially.
  for (Operation *op : ops)
    op->erase();
  func->removeAttr(kSourcePatternAttrName);
  b.setInsertionPoint(entry.getTerminator());
  SmallVector<Value> args(entry.getArguments());
  for (auto [countFn, runFn, phase] : llvm::zip(countFns, runFns, phases)) {
    auto callPhase = [&, countFn = countFn, runFn = runFn] {
      Value n = func::CallOp::create(b, loc, countFn, args).getResult(0);
      SmallVector<Value> runArgs = args;
      runArgs.push_back(arith::ConstantIndexOp::create(b, loc, 0));
      runArgs.push_back(n);
      func::CallOp::create(b, loc, runFn, runArgs);
    };
    if (!phase.keysLo && !phase.keysHi) {
      callPhase();
      continue;
    }
    // keysLo <= Nk < keysHi, as the runtime decides (LaunchRule.h).
    Emitter e{b, loc};
    Value nk = e.dim(bindArgs(operands, entry).k, 2);
    Value when = e.cmp(arith::CmpIPredicate::sge, nk, e.idx(phase.keysLo));
    if (phase.keysHi)
      when = arith::AndIOp::create(
          b, loc, when,
          e.cmp(arith::CmpIPredicate::slt, nk, e.idx(phase.keysHi)));
    e.ifThen(when, callPhase);
  }
  func->setAttr("llvm.emit_c_interface", unitAttr);
}


//===----------------------------------------------------------------------===//
// Lightning attention: Lightning-Attention-2 blocks with a carried KV state
//===----------------------------------------------------------------------===//

LogicalResult LowerToCPU::lightningPhase(LightningOp op,
                                         SmallVectorImpl<PhaseFns> &phases) {
  auto qType = cast<MemRefType>(op.getQ().getType());
  auto vType = cast<MemRefType>(op.getV().getType());
  auto oType = cast<MemRefType>(op.getOut().getType());
  int64_t d = qType.getDimSize(3), dv = vType.getDimSize(3);
  CPUScheduleAttr sched = scheduleOf(op);
  if (!sched)
    return failure();
  int64_t w = sched.getVectorWidth();
  // Head dims that are not whole vectors take masked tails.
  if (ShapedType::isDynamic(d) || ShapedType::isDynamic(dv))
    return op.emitOpError() << "the CPU target needs static head dims D and "
                               "Dv";
  for (Value st : {op.getStateIn(), op.getStateOut()})
    if (st && cast<MemRefType>(st.getType()).getLayout() &&
        !cast<MemRefType>(st.getType()).getLayout().isIdentity())
      return op.emitOpError() << "the CPU target needs contiguous states";
  double scale = op.getScale() ? op.getScale()->convertToDouble() : 1.0;
  int64_t bl = sched.getBlockM();
  Type outElt = oType.getElementType();
  PhaseFns phase;
  phase.count = [](Emitter &e, const KernelArgs &a) {
    return e.mul(e.dim(a.q, 0), e.dim(a.q, 1));
  };
  phase.run = [=](Emitter &e, const KernelArgs &a, Value begin, Value end) {
    LightningCodegen lc(e, w, bl, d, dv, outElt, scale);
    auto sc = lc.alloc();
    e.forLoop(begin, end, e.idx(1),
              [&](Value item) { lc.emitItem(sc, a, item); });
  };
  phases.push_back(std::move(phase));
  return success();
}

void LowerToCPU::runOnOperation() {
  bool failedAny = false;
  for (func::FuncOp func : kernelFunctions(getOperation()))
    failedAny |= failed(lowerFunction(func));
  if (failedAny)
    signalPassFailure();
}
