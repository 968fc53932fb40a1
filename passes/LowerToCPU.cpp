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
};


/// One phase: how many items, and how to run one.
struct Phase {
  std::function<Value(Emitter &, const KernelArgs &)> count;
  std::function<void(Emitter &, TileCodegen &, const Scratch &,
                     const KernelArgs &, Value item)>
      run;
  bool needsScratch = true;
};

RowView view(Value mem, Value batch, Value head, Value base, Value stride) {
  return RowView{mem, batch, head, base, stride};
}

/// Operands must be the function's arguments (the ABI passes them through)
/// and the attn op the function's only operation.
LogicalResult checkKernelShape(func::FuncOp func, Operation *op) {
  Block &entry = func.getBody().front();
  for (Value operand : op->getOperands())
    if (!isa<BlockArgument>(operand) ||
        cast<BlockArgument>(operand).getOwner() != &entry)
      return op->emitOpError()
             << "the CPU target lowers kernels whose attn op works on the "
                "function's arguments";
  if (!llvm::all_of(entry.without_terminator(),
                    [&](Operation &o) { return &o == op; }))
    return func.emitError() << "the CPU target lowers kernel functions whose "
                               "body is one attn op";
  return success();
}

class LowerToCPU : public attn::impl::AttnLowerToCPUBase<LowerToCPU> {
public:
  using Base::Base;
  void runOnOperation() override;

private:
  LogicalResult lowerKernel(func::FuncOp func, AttentionOp op);
  LogicalResult lowerLightning(func::FuncOp func, LightningOp op);
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

static void emitKernelABI(func::FuncOp func, Operation *op, StringRef opName,
                          StringRef pattern, const KernelArgs &operands,
                          ArrayRef<PhaseFns> phases,
                          const attnmeta::KernelMeta &targetMeta);

LogicalResult LowerToCPU::lowerKernel(func::FuncOp func, AttentionOp op) {
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

  if (failed(checkKernelShape(func, op)))
    return failure();

  auto pattern = op.getPattern();
  int64_t bm = opt.blockM;

  SmallVector<Phase> phases;
  int64_t landmarkBlock = 0, landmarkTopk = 0;
  // Head bookkeeping shared by the phases: (b, h) from a flat index.
  auto headsOf = [](Emitter &e, const KernelArgs &a) {
    return std::pair(e.dim(a.q, 1), e.dim(a.k, 1));
  };
  if (auto lm = dyn_cast<LandmarkAttr>(pattern)) {
    landmarkBlock = lm.getBlock();
    landmarkTopk = lm.getTopk();
    // A key tile holds one whole block (rounded up to the micro-kernel).
    opt.blockN = (landmarkBlock + opt.mrKeys - 1) / opt.mrKeys * opt.mrKeys;
  }
  int64_t unusedLo, unusedHi;
  if (landmarkBlock || pattern.rowBounds(0, 1, unusedLo, unusedHi)) {
    // Interval and landmark patterns: items are (batch, head, query tile),
    // the last tile of each head first so the dynamic scheduler starts with
    // the longest rows.
    Phase p;
    p.count = [bm](Emitter &e, const KernelArgs &a) {
      Value tiles = e.ceilDiv(e.dim(a.q, 2), e.idx(bm));
      return e.mul(e.mul(e.dim(a.q, 0), e.dim(a.q, 1)), tiles);
    };
    p.run = [=](Emitter &e, TileCodegen &tc, const Scratch &s,
                const KernelArgs &a, Value item) {
      Value nq = e.dim(a.q, 2), nk = e.dim(a.k, 2);
      auto [h, hk] = headsOf(e, a);
      Value tiles = e.ceilDiv(nq, e.idx(bm));
      Value bh = e.div(item, tiles);
      Value qt = e.sub(e.sub(tiles, e.idx(1)), e.rem(item, tiles));
      Value batch = e.div(bh, h), head = e.rem(bh, h);
      Value kvHead = e.div(head, e.div(h, hk));
      Value zero = e.idx(0), one = e.idx(1);
      std::optional<RowView> lse;
      if (a.lse)
        lse = view(a.lse, batch, head, zero, one);
      tc.emitTile(s, pattern, view(a.q, batch, head, zero, one),
                  view(a.k, batch, kvHead, zero, one),
                  view(a.v, batch, kvHead, zero, one),
                  view(a.o, batch, head, zero, one), lse, qt, nq, nk,
                  Epilogue::Store);
    };
    phases.push_back(std::move(p));
  } else if (auto dil = dyn_cast<DilatedAttr>(pattern)) {
    if (!op.getLse())
      return op.emitOpError() << "the CPU target needs an lse operand for "
                                 "dilated attention (it merges patterns "
                                 "through it)";
    // Phase 0: clear O and LSE; items are (batch, head).
    Phase init;
    init.needsScratch = false;
    init.count = [](Emitter &e, const KernelArgs &a) {
      return e.mul(e.dim(a.q, 0), e.dim(a.q, 1));
    };
    init.run = [dv, oType](Emitter &e, TileCodegen &, const Scratch &,
                           const KernelArgs &a, Value item) {
      Value h = e.dim(a.q, 1);
      Value batch = e.div(item, h), head = e.rem(item, h);
      Value zero = e.fromF32(e.f32(0), oType.getElementType());
      Value ninf = e.f32(-std::numeric_limits<double>::infinity());
      e.forLoop(e.idx(0), e.dim(a.q, 2), e.idx(1), [&](Value row) {
        e.forLoop(0, dv, 1,
                  [&](Value c) { e.store(zero, a.o, {batch, head, row, c}); });
        e.store(ninf, a.lse, {batch, head, row});
      });
    };
    phases.push_back(std::move(init));
    Attribute local = dil.getCausal() ? Attribute(CausalAttr::get(op.getContext()))
                                      : Attribute(FullAttr::get(op.getContext()));
    auto localPattern = cast<PatternAttrInterface>(local);
    bool grouped = dil.getOffsets() == OffsetMode::grouped;
    for (auto [w, r] : llvm::zip(dil.getSegments(), dil.getRates())) {
      int64_t tilesPerSeg = (w / r + bm - 1) / bm;
      Phase p;
      p.count = [=](Emitter &e, const KernelArgs &a) {
        Value segs = e.ceilDiv(e.dim(a.q, 2), e.idx(w));
        return e.mul(e.mul(e.mul(e.dim(a.q, 0), e.dim(a.q, 1)), segs),
                     e.idx(tilesPerSeg));
      };
      p.run = [=](Emitter &e, TileCodegen &tc, const Scratch &s,
                  const KernelArgs &a, Value item) {
        Value n = e.dim(a.q, 2);
        auto [h, hk] = headsOf(e, a);
        Value segs = e.ceilDiv(n, e.idx(w));
        Value qt = e.rem(item, e.idx(tilesPerSeg));
        Value rest = e.div(item, e.idx(tilesPerSeg));
        Value seg = e.rem(rest, segs);
        Value bh = e.div(rest, segs);
        Value batch = e.div(bh, h), head = e.rem(bh, h);
        Value kvHead = e.div(head, e.div(h, hk));
        // Offset of this head: h mod r, or h / ceil(H / r) (torchscale).
        Value rV = e.idx(r);
        Value off = grouped ? e.div(head, e.ceilDiv(h, rV)) : e.rem(head, rV);
        Value start = e.mul(seg, e.idx(w));
        Value len = e.min(e.idx(w), e.sub(n, start));
        // Selected rows of the segment: start + off + r * t, t < count.
        Value count = e.select(
            e.cmp(arith::CmpIPredicate::sgt, len, off),
            e.ceilDiv(e.sub(len, off), rV), e.idx(0));
        Value base = e.add(start, off);
        e.ifThen(e.cmp(arith::CmpIPredicate::slt, e.mul(qt, e.idx(bm)), count),
                 [&] {
                   RowView lse = view(a.lse, batch, head, base, rV);
                   tc.emitTile(s, localPattern, view(a.q, batch, head, base, rV),
                               view(a.k, batch, kvHead, base, rV),
                               view(a.v, batch, kvHead, base, rV),
                               view(a.o, batch, head, base, rV), lse, qt,
                               count, count, Epilogue::Merge);
                 });
      };
      phases.push_back(std::move(p));
    }
  } else {
    return op.emitOpError() << "pattern " << pattern
                            << " is not supported by the CPU target yet";
  }

  Type outElt = oType.getElementType();
  SmallVector<PhaseFns> fns;
  for (Phase &phase : phases) {
    PhaseFns f;
    f.count = [&phase](Emitter &e, const KernelArgs &a) {
      return phase.count(e, a);
    };
    f.run = [&, outElt](Emitter &e, const KernelArgs &a, Value begin,
                        Value end) {
      TileCodegen tc(e.b, e.loc, opt, d, dv, outElt, scale);
      tc.setLandmarkBlock(landmarkBlock, landmarkTopk);
      Scratch s;
      if (phase.needsScratch)
        s = tc.allocScratch();
      e.forLoop(begin, end, e.idx(1),
                [&](Value item) { phase.run(e, tc, s, a, item); });
    };
    fns.push_back(std::move(f));
  }
  std::string patternText;
  llvm::raw_string_ostream(patternText) << pattern;
  emitKernelABI(func, op, "attention", patternText,
                KernelArgs{op.getQ(), op.getK(), op.getV(), op.getOut(),
                           op.getLse()},
                fns, targetMeta(sched));
  return success();
}

/// Builds F__count<p>, F__run<p>, F__phases, the metadata global and the
/// serial driver F, then erases the attn op.
static void emitKernelABI(func::FuncOp func, Operation *op, StringRef opName,
                          StringRef pattern, const KernelArgs &operands,
                          ArrayRef<PhaseFns> phases,
                          const attnmeta::KernelMeta &targetMeta) {
  OpBuilder b(func);
  Location loc = func.getLoc();
  MLIRContext *ctx = func.getContext();
  Block &entry = func.getBody().front();
  auto argTypes = func.getFunctionType().getInputs();
  auto unitAttr = UnitAttr::get(ctx);
  // The op's operands are arguments of F; each phase function takes the
  // same arguments in the same positions.
  auto bindArgs = [&](Block &block) {
    KernelArgs a;
    for (auto [name, member] : kRoles)
      if (Value v = operands.*member)
        a.*member = block.getArgument(cast<BlockArgument>(v).getArgNumber());
    return a;
  };
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
      Value n = phase.count(e, bindArgs(*block));
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
      phase.run(e, bindArgs(*block), block->getArgument(argTypes.size()),
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
  emitMetaGlobal(b, loc, (func.getName() + "__attn_meta").str(),
                 kernelMetaText(opName, pattern, phases.size(), argTypes,
                                argRoles(entry, operands), targetMeta));

  // The kernel itself: every phase in order, serially.
  op->erase();
  b.setInsertionPoint(entry.getTerminator());
  SmallVector<Value> args(entry.getArguments());
  for (auto [countFn, runFn] : llvm::zip(countFns, runFns)) {
    Value n = func::CallOp::create(b, loc, countFn, args).getResult(0);
    SmallVector<Value> runArgs = args;
    runArgs.push_back(arith::ConstantIndexOp::create(b, loc, 0));
    runArgs.push_back(n);
    func::CallOp::create(b, loc, runFn, runArgs);
  }
  func->setAttr("llvm.emit_c_interface", unitAttr);
}


//===----------------------------------------------------------------------===//
// Lightning attention: Lightning-Attention-2 blocks with a carried KV state
//===----------------------------------------------------------------------===//

LogicalResult LowerToCPU::lowerLightning(func::FuncOp func, LightningOp op) {
  if (failed(checkKernelShape(func, op)))
    return failure();
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
  emitKernelABI(func, op, "lightning", "",
                KernelArgs{op.getQ(), op.getK(), op.getV(), op.getOut(),
                           Value(), op.getSlopes(), op.getStateIn(),
                           op.getStateOut()},
                {phase}, targetMeta(sched));
  return success();
}

void LowerToCPU::runOnOperation() {
  SmallVector<std::pair<func::FuncOp, Operation *>> work;
  bool failedAny = false;
  getOperation().walk([&](func::FuncOp func) {
    func.walk([&](Operation *op) {
      if (isa<AttentionOp, LightningOp>(op))
        work.emplace_back(func, op);
      else if (isa<MergeOp>(op)) {
        op->emitOpError() << "is not supported by the CPU target yet";
        failedAny = true;
      }
    });
  });
  for (auto [func, op] : work) {
    LogicalResult r = isa<AttentionOp>(op)
                          ? lowerKernel(func, cast<AttentionOp>(op))
                          : lowerLightning(func, cast<LightningOp>(op));
    failedAny |= failed(r);
  }
  if (failedAny)
    signalPassFailure();
}
