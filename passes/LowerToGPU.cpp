//===- LowerToGPU.cpp - attn ops to tensor-core GPU kernels ---------------===//
// attn-lower-to-gpu: plans each attn op's kernels (CTA configuration, dense
// or dilated phases, launches and their run-time conditions, tensor maps),
// builds them with KernelCodegen (GPUCodegen.h) and writes the kernel
// metadata the runtime reads.
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

namespace {

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
