//===- ConfigureGPU.cpp - decide the GPU schedule of each attn op ---------===//
// The GPU targets' decisions, as attributes attn-lower-to-gpu only reads:
// each op's `#attn.gpu_schedule` (its kernels: CTA shape, instructions, and
// the conditions under which the runtime launches each) and each kernel
// function's `attn.tensor_maps`. Every rule here was measured on an H100
// (docs/gpu-performance-notes.md); an autotuner replaces them by writing the
// same attributes.
//===----------------------------------------------------------------------===//
#include "passes/GPUCodegen.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNCONFIGUREGPU
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpucg;

namespace {

class ConfigureGPU : public attn::impl::AttnConfigureGPUBase<ConfigureGPU> {
public:
  using Base::Base;
  void runOnOperation() override;

private:
  /// Option errors, before any op is looked at.
  LogicalResult checkOptions(ModuleOp module) const;
  /// The CTA of a kernel whose rows are contiguous (`unitRows`) or not, for
  /// query tiles that read fewer than ws-min-keys keys on average
  /// (`shortRows`) or not.
  void shapeCTA(GPUConfig &cfg, bool unitRows, bool shortRows) const;
  /// Decides the schedules of one kernel function's ops.
  LogicalResult configure(func::FuncOp func, ArrayRef<Operation *> ops);
  LogicalResult configureLightning(LightningOp op);
  GPUKernelAttr kernel(Operation *op, const GPUConfig &c, StringRef suffix,
                       bool tma = false, int64_t keysLo = 0,
                       int64_t keysHi = 0, int64_t divides = 0,
                       int64_t rowsLo = 0, int64_t rowsHi = 0,
                       int64_t splitKeys = 0, bool merge = false) const;
  /// The split-KV decoding kernels of a whole-sequence op (split, then
  /// merge), or none where they do not apply.
  LogicalResult decodeKernels(AttentionOp op, const GPUConfig &base,
                              SmallVectorImpl<GPUKernelAttr> &out) const;
};

} // namespace

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

LogicalResult ConfigureGPU::checkOptions(ModuleOp module) const {
  auto bad = [&](const Twine &msg) {
    return module.emitError() << "attn-configure-gpu: " << msg;
  };
  if (chip != "sm_80" && chip != "sm_90a")
    return module.emitError() << "attn-configure-gpu: unknown chip '" << chip
                              << "' (expected sm_80 or sm_90a)";
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
  if (decodeRows < 0 || decodeRows > 64 || decodeRows % 16 != 0)
    return bad("decode-rows must be a multiple of 16 in [0, 64] (0: no "
               "split-KV decoding kernels)");
  if (splitMinKeys < 1)
    return bad("split-min-keys must be positive");
  if (decodeBlockN != 0 &&
      (decodeBlockN % 16 != 0 || decodeBlockN < 16 || decodeBlockN > 256))
    return bad("decode-block-n must be a multiple of 16 in [16, 256] (0: "
               "16)");
  if (decodeStages != 0 && (decodeStages < 2 || decodeStages > 4))
    return bad("decode-stages must be 2, 3 or 4 (0: 2)");
  if (decodeMerge != "kernel" && decodeMerge != "fused")
    return bad("decode-merge must be 'kernel' or 'fused', got '" +
               decodeMerge + "'");
  if (pingpong && !warpSpecialize)
    return bad("pingpong needs warp-specialize (the turns are taken by the "
               "consumer warpgroups)");
  if (wsOverlap && !warpSpecialize)
    return bad("ws-overlap needs warp-specialize (it reorders the consumer "
               "warpgroups' loop)");
  return success();
}

// Short rows run the CTA without warp specialisation, two per SM at D = 128,
// so that one's prologue and epilogue overlap the other's loop: measured on
// an H100 (docs/gpu-performance-notes.md), 1.03-1.13x the warp-specialized
// CTA up to ~1K keys per tile on average, slower from 2K.
void ConfigureGPU::shapeCTA(GPUConfig &cfg, bool unitRows,
                            bool shortRows) const {
  // TMA on sm_90a where its layout fits: 64-column atoms, unit row
  // stride (strided rows of rate > 1 take cp.async here; so does the
  // landmark pass of top-k retrieval, which scores on mma.sync).
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
  bool twoShort = cfg.ws && shortRows && !blockN && !ctasPerSm && !pingpong &&
                  !wsOverlap;
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
}

GPUKernelAttr ConfigureGPU::kernel(Operation *op, const GPUConfig &c,
                                   StringRef suffix, bool useTma,
                                   int64_t keysLo, int64_t keysHi,
                                   int64_t divides, int64_t rowsLo,
                                   int64_t rowsHi, int64_t splitKeys,
                                   bool merge) const {
  auto emitError = [&] { return op->emitOpError() << "(target " << chip
                                                  << "): "; };
  int64_t none = 0;
  return GPUKernelAttr::getChecked(
      emitError, op->getContext(), suffix, c.warps, c.blockN, c.stages,
      c.ctasPerSM, useTma, c.wgmma, c.wgmmaPV, c.asyncQK, c.ws, c.pingpong,
      c.wsOverlap, c.kvBoxRows, /*cols=*/none, keysLo, keysHi,
      /*ctasLo=*/none, /*ctasHi=*/none, divides, rowsLo, rowsHi, splitKeys,
      merge, c.persistent);
}

// Decoding (a few query rows per KV head) reads K and V once per step:
// the step is as fast as those bytes move. One CTA of one warp per (split,
// KV head, batch) holds the query rows of all the KV head's query heads
// (GQA packing), so each K/V tile is read once, and the keys are split
// over enough CTAs to fill the SMs several times (FlashDecoding); cp.async
// keeps several tiles in flight per CTA.
LogicalResult
ConfigureGPU::decodeKernels(AttentionOp op, const GPUConfig &base,
                            SmallVectorImpl<GPUKernelAttr> &out) const {
  if (!decodeRows || base.landmark || op.getAccumulate() || op.getRows())
    return success();
  GPUConfig dc = base;
  dc.warps = decodeRows / 16;
  dc.blockM = decodeRows;
  dc.blockN = decodeBlockN ? int64_t(decodeBlockN) : 16;
  dc.stages = decodeStages ? int64_t(decodeStages) : 2;
  // As many CTAs per SM as shared memory holds (at most 8).
  dc.ctasPerSM = std::clamp<int64_t>(
      (228 * 1024) / (dc.smemBytes() + 1024), 1, 8);
  if (dc.smemBytes() > 227 * 1024)
    return op.emitOpError() << "(target " << chip
                            << "): the split-KV decoding tiles need "
                            << dc.smemBytes()
                            << " bytes of shared memory (lower "
                               "decode-block-n or decode-stages)";
  // The merge kernel: one warp per query row, 4 per CTA (its tile fields
  // only satisfy the schedule's verifier; it stages nothing).
  GPUConfig mc = base;
  mc.warps = 4;
  mc.blockM = 64;
  mc.blockN = 16;
  mc.stages = 2;
  mc.ctasPerSM = 4;
  // Merged in the split kernel (its last CTA per KV head) or by a second.
  bool fused = decodeMerge == "fused";
  out.push_back(kernel(op, dc, "__decode", false, 0, 0, 0, 0, decodeRows + 1,
                       splitMinKeys, fused));
  if (!fused)
    out.push_back(
        kernel(op, mc, "__merge", false, 0, 0, 0, 0, decodeRows + 1, 0, true));
  return success(!llvm::is_contained(out, GPUKernelAttr()));
}

LogicalResult ConfigureGPU::configureLightning(LightningOp op) {
  if (failed(checkGPULightningOp(op, chip)))
    return failure();
  int64_t dv = cast<MemRefType>(op.getV().getType()).getDimSize(3);
  int64_t d = cast<MemRefType>(op.getQ().getType()).getDimSize(3);
  // Columns of V per CTA (ev): each CTA walks the whole sequence for its
  // slice, so the grid is B * H * Dv / ev CTAs, and a smaller slice buys
  // CTAs with repeated Q K^T work. One kernel per ev in {64, 32, 16} that
  // divides Dv; the runtime launches the largest whose grid reaches its
  // threshold: 64 from 256 CTAs, 32 from 128, else 16 (measured on an H100,
  // 132 SMs: docs/gpu-performance-notes.md). The f32 state slice, D x ev
  // over 128 threads, stays within 32 registers a thread (at D = 128,
  // ev = 64 measured 1.4x faster at N <= 4K but spills 8-24 bytes).
  SmallVector<std::pair<int64_t, int64_t>> slices; // (ev, threshold)
  for (auto [ev, threshold] :
       {std::pair<int64_t, int64_t>{64, 256}, {32, 128}, {16, 0}})
    if (dv % ev == 0 && d * ev <= 128 * 32)
      slices.push_back({ev, threshold});
  SmallVector<GPUKernelAttr> kernels;
  auto emitError = [&] { return op->emitOpError(); };
  for (auto [i, slice] : llvm::enumerate(slices)) {
    auto [ev, threshold] = slice;
    // A slice runs when no larger slice reached its threshold (the grids
    // scale by the ratio of the slices) and this one does.
    int64_t lo = threshold, hi = 0;
    for (size_t j = 0; j < i; ++j) {
      int64_t bound = slices[j].second * (slices[j].first / ev);
      hi = hi ? std::min(hi, bound) : bound;
    }
    if (slices.size() == 1)
      lo = hi = 0;
    std::string suffix = i == 0 ? "" : "__cols" + std::to_string(ev);
    int64_t none = 0;
    GPUKernelAttr k = GPUKernelAttr::getChecked(
        emitError, op.getContext(), StringRef(suffix), /*warps=*/int64_t(4),
        /*blockN=*/int64_t(64), /*stages=*/int64_t(2),
        /*ctasPerSm=*/int64_t(2), false, false, false, false, false, false,
        false, /*kvBoxRows=*/none, /*cols=*/ev, /*keysLo=*/none,
        /*keysHi=*/none, lo, hi, /*divides=*/none, /*rowsLo=*/none,
        /*rowsHi=*/none, /*splitKeys=*/none, /*merge=*/false,
        /*persistent=*/false);
    if (!k)
      return failure();
    kernels.push_back(k);
  }
  op->setAttr(kScheduleAttrName,
              GPUScheduleAttr::get(op.getContext(), chip, kernels));
  return success();
}

/// The tensor maps that the TMA kernels of given schedules (a tuner's, or
/// written by hand without maps) load through: per kernel, Q boxes of its
/// query tile and K/V boxes of kv_box_rows (or block_n) rows, at the rate of
/// the op's rows; each distinct map once.
static void deriveTensorMaps(func::FuncOp func, ArrayRef<Operation *> ops) {
  MLIRContext *ctx = func.getContext();
  SmallVector<Attribute> maps;
  auto add = [&](StringRef role, int64_t rows, int64_t rate) {
    auto m = TensorMapAttr::get(ctx, role, 64, rows, rate);
    if (!llvm::is_contained(maps, Attribute(m)))
      maps.push_back(m);
  };
  for (Operation *op : ops) {
    auto attention = dyn_cast<AttentionOp>(op);
    auto schedule = op->getAttrOfType<GPUScheduleAttr>(kScheduleAttrName);
    if (!attention || !schedule)
      continue;
    int64_t rate = attention.getRows() ? attention.getRowsAttr().getRate() : 1;
    for (GPUKernelAttr k : schedule.getKernels()) {
      if (!k.getTma())
        continue;
      int64_t kv = k.getKvBoxRows() ? k.getKvBoxRows() : k.getBlockN();
      add("q", 16 * k.getWarps(), rate);
      add("k", kv, rate);
      add("v", kv, rate);
    }
  }
  if (!maps.empty())
    func->setAttr(kTensorMapsAttrName, ArrayAttr::get(ctx, maps));
}

LogicalResult ConfigureGPU::configure(func::FuncOp func,
                                      ArrayRef<Operation *> ops) {
  MLIRContext *ctx = func.getContext();
  SmallVector<AttentionOp> attentions;
  for (Operation *op : ops) {
    if (auto lightning = dyn_cast<LightningOp>(op)) {
      if (!lightning->hasAttr(kScheduleAttrName) &&
          failed(configureLightning(lightning)))
        return failure();
    } else if (auto attention = dyn_cast<AttentionOp>(op)) {
      if (failed(checkGPUAttentionOp(attention, chip)))
        return failure();
      attentions.push_back(attention);
    }
  }
  if (attentions.empty())
    return success();
  // The kernels of one function share its tensor maps: a given schedule
  // (with the maps it needs) is kept as it is.
  if (llvm::any_of(ops, [](Operation *op) {
        return op->hasAttr(kScheduleAttrName) && !isa<LightningOp>(op);
      })) {
    for (Operation *op : ops)
      if (!op->hasAttr(kScheduleAttrName))
        return op->emitOpError()
               << "has no attn.schedule while other ops of its kernel "
                  "function have one: schedule all or none";
    if (!func->hasAttr(kTensorMapsAttrName))
      deriveTensorMaps(func, ops);
    return success();
  }

  // The CTA before shaping: the op's head dims and pattern, the options.
  AttentionOp first = attentions.front();
  auto qType = cast<MemRefType>(first.getQ().getType());
  GPUConfig base;
  base.d = qType.getDimSize(3);
  base.dv = cast<MemRefType>(first.getV().getType()).getDimSize(3);
  base.elt = qType.getElementType();
  base.outElt = cast<MemRefType>(first.getOut().getType()).getElementType();
  base.scale = 1;
  base.blockN = blockN ? int64_t(blockN) : 64;
  base.stages = stages;
  if (int64_t block = first.getPattern().getKeyBlock()) {
    base.topk = first.getPattern().getRetrievedBlocks();
    // One key tile per landmark block.
    base.landmark = base.blockN = block;
  }
  bool strided = llvm::any_of(attentions, [](AttentionOp a) {
    return bool(a.getRows());
  });
  auto schedule = [&](Operation *op, ArrayRef<GPUKernelAttr> kernels) {
    op->setAttr(kScheduleAttrName, GPUScheduleAttr::get(ctx, chip, kernels));
  };
  SmallVector<Attribute> maps;
  auto addMaps = [&](const GPUConfig &tc, int64_t rate) {
    for (auto [role, rows] : {std::pair<const char *, int64_t>{"q", tc.blockM},
                              {"k", tc.blockN},
                              {"v", tc.blockN}})
      maps.push_back(TensorMapAttr::get(ctx, role, 64, rows, rate));
  };

  if (!strided) {
    // One op over whole sequences.
    if (attentions.size() != 1 || ops.size() != 1)
      return func.emitError()
             << "the GPU target lowers kernel functions of one attn op, or "
                "the pieces of a dilated op (clear, then attentions over "
                "#attn.rows)";
    PatternAttrInterface pattern = first.getPattern();
    GPUConfig c = base;
    // A paged cache's rows follow its block table: cp.async, not TMA boxes.
    bool tmaRows = !first.isPaged();
    shapeCTA(c, /*unitRows=*/tmaRows, /*shortRows=*/false);
    // Persistent: the warp-specialized kernel loops over its items (their
    // prologues and epilogues overlap the next item's loads).
    c.persistent = persistent && !pingpong && c.ws && !c.landmark &&
                   !first.getAccumulate() && !first.isPaged();
    // Warp specialisation pays off on long rows only. Patterns that bound
    // each query's keys take the two-CTA kernel; full and causal attention
    // get both, and the runtime launches the one for the sequence
    // (keys_lo <= Nk < keys_hi), the warp-specialized kernel as __long.
    // Its K and V maps have the short tiles' boxes; the long tiles load two
    // per atom.
    GPUConfig longCfg = c;
    int64_t longFrom = 0;
    if (c.ws && !c.landmark && wsMinKeys) {
      GPUConfig s = base;
      shapeCTA(s, tmaRows, true);
      if (!s.ws) {
        longFrom = longRowThreshold(pattern, c.blockM, wsMinKeys);
        if (c.persistent && longFrom) {
          // A pattern with long rows takes the persistent kernel at every
          // length: at N = 1K it measured level with the two-CTA one or
          // ahead (gpu-performance-notes.md). Patterns whose rows stay
          // short keep the two-CTA kernel.
          longFrom = 0;
        } else {
          longCfg.kvBoxRows = s.blockN;
          c = s;
        }
      }
    }
    SmallVector<GPUKernelAttr> kernels;
    if (failed(decodeKernels(first, base, kernels)))
      return failure();
    // With decoding kernels, the others run above their rows.
    int64_t rowsLo = kernels.empty() ? 0 : decodeRows + 1;
    if (longFrom) {
      kernels.push_back(
          kernel(first, c, "", c.tma, 0, longFrom, 0, rowsLo));
      kernels.push_back(kernel(first, longCfg, "__long", longCfg.tma,
                               longFrom, 0, 0, rowsLo));
    } else {
      kernels.push_back(kernel(first, c, "", c.tma, 0, 0, 0, rowsLo));
    }
    if (llvm::is_contained(kernels, GPUKernelAttr()))
      return failure();
    schedule(first, kernels);
    if (c.tma)
      addMaps(c, 1);
  } else {
    // The pieces of a dilated op: a clear, then strided rows per (segment,
    // rate). Rows of rate 1 take the dense CTA, TMA included; a piece of
    // rate r > 1 reads rows r apart through a 5-D map ([B, H, N / r, r,
    // X]), which describes the rows exactly when r divides N: it gets a
    // second kernel, the strided-row CTA `c` (cp.async), and the runtime
    // launches the one that applies (`divides`).
    GPUConfig c = base;
    shapeCTA(c, /*unitRows=*/false, false);
    // ceil(w / r) rows per segment, in query tiles of 128 (warp
    // specialisation applies to 8-warp CTAs only).
    bool shortRows = wsMinKeys > 0;
    for (AttentionOp a : attentions) {
      RowsAttr rows = a.getRowsAttr();
      if (!rows)
        return a.emitOpError() << "the GPU target lowers dilated pieces "
                                  "together: every attention of the function "
                                  "needs #attn.rows";
      shortRows = shortRows && averageSpan(a.getPattern(),
                                           rows.maxRowsPerSegment(),
                                           128) < double(wsMinKeys);
    }
    GPUConfig tmaCfg = base;
    shapeCTA(tmaCfg, true, shortRows);
    SmallVector<int64_t> mapRates;
    for (AttentionOp a : attentions) {
      int64_t r = a.getRowsAttr().getRate();
      if (tmaCfg.tma && (r == 1 || stridedTma) &&
          !llvm::is_contained(mapRates, r) && mapRates.size() < kMaxMapRates)
        mapRates.push_back(r);
    }
    for (Operation *op : ops) {
      SmallVector<GPUKernelAttr> kernels;
      if (isa<ClearOp>(op)) {
        kernels.push_back(kernel(op, c, ""));
      } else {
        int64_t r = cast<AttentionOp>(op).getRowsAttr().getRate();
        if (r == 1) {
          kernels.push_back(kernel(op, tmaCfg, "", tmaCfg.tma));
        } else if (llvm::is_contained(mapRates, r)) {
          kernels.push_back(kernel(op, tmaCfg, "", true, 0, 0, r));
          kernels.push_back(kernel(op, c, "_rows", false, 0, 0, -r));
        } else {
          kernels.push_back(kernel(op, c, ""));
        }
      }
      if (llvm::is_contained(kernels, GPUKernelAttr()))
        return failure();
      schedule(op, kernels);
    }
    for (int64_t r : mapRates)
      addMaps(tmaCfg, r);
  }
  if (!maps.empty())
    func->setAttr(kTensorMapsAttrName, ArrayAttr::get(ctx, maps));
  return success();
}

void ConfigureGPU::runOnOperation() {
  ModuleOp module = getOperation();
  if (failed(checkOptions(module)))
    return signalPassFailure();
  bool failedAny = false;
  module.walk([&](func::FuncOp func) {
    SmallVector<Operation *> ops;
    func.walk([&](Operation *op) {
      if (isa<AttentionOp, LightningOp, ClearOp>(op))
        ops.push_back(op);
    });
    if (!ops.empty())
      failedAny |= failed(configure(func, ops));
  });
  if (failedAny)
    signalPassFailure();
}
