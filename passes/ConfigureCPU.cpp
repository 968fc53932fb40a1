//===- ConfigureCPU.cpp - decide the CPU schedule of each attn op ---------===//
// The CPU target's decisions, as `attn.schedule` attributes that
// attn-lower-to-cpu only reads: tile sizes from a rule that fits them to L1
// (or the options), vector width and micro-kernel shape from the options the
// driver derives from the target CPU, and that CPU's name and ISA extensions.
//===----------------------------------------------------------------------===//
#include "dialect/AttnDialect.h"
#include "passes/Passes.h"

#include <algorithm>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNCONFIGURECPU
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

/// An attention op (not landmark) on bf16 Q, K and V (or f16, where
/// `orF16`) with 16 lanes, whose head dims D and Dv are multiples of
/// dMultiple and dvMultiple: what both bf16 product paths need.
static bool bf16Attention(Operation *op, int64_t vectorWidth,
                          int64_t dMultiple, int64_t dvMultiple,
                          bool orF16 = false) {
  auto attention = dyn_cast<AttentionOp>(op);
  if (!attention || attention.getPattern().getKeyBlock() || vectorWidth != 16)
    return false;
  Type elt = cast<MemRefType>(attention.getQ().getType()).getElementType();
  if (!elt.isBF16() && !(orF16 && elt.isF16()))
    return false;
  for (Value v : {attention.getK(), attention.getV()})
    if (cast<MemRefType>(v.getType()).getElementType() != elt)
      return false;
  return cast<MemRefType>(attention.getQ().getType()).getDimSize(3) %
                 dMultiple ==
             0 &&
         cast<MemRefType>(attention.getV().getType()).getDimSize(3) %
                 dvMultiple ==
             0;
}

bool mlir::attn::hasCPUFeature(StringRef features, StringRef feature) {
  return llvm::is_contained(llvm::split(features, ','), feature);
}

bool mlir::attn::bf16DotFits(Operation *op, int64_t vectorWidth,
                             int64_t blockN, StringRef features) {
  return bf16Attention(op, vectorWidth, 2, 1) && blockN % 2 == 0 &&
         hasCPUFeature(features, "avx512bf16");
}

bool mlir::attn::amxFits(Operation *op, int64_t vectorWidth, int64_t blockM,
                         int64_t blockN, StringRef features) {
  // f16 inputs too: the tiles round them to bf16 as they pack them (SPEC's
  // 1e-2 for 16-bit inputs holds: docs/cpu-bf16.md).
  if (!bf16Attention(op, vectorWidth, 32, 16, /*orF16=*/true) || blockM % 16 ||
      blockN % 32)
    return false;
  return hasCPUFeature(features, "amx-bf16") &&
         hasCPUFeature(features, "amx-tile");
}

int64_t mlir::attn::decodeRowsFor(Operation *op, int64_t vectorWidth) {
  // Up to 4 rows: one decode step (Nq = 1), or the query heads of a KV head
  // packed as rows (GQA 4:1 and less), run with the keys across the lanes.
  auto attention = dyn_cast<AttentionOp>(op);
  if (!attention || attention.getPattern().getKeyBlock())
    return 0;
  int64_t d = cast<MemRefType>(attention.getQ().getType()).getDimSize(3);
  int64_t dv = cast<MemRefType>(attention.getV().getType()).getDimSize(3);
  if (ShapedType::isDynamic(d) || ShapedType::isDynamic(dv) ||
      d % vectorWidth || dv % vectorWidth || dv / vectorWidth > 16)
    return 0;
  return 4;
}

static LogicalResult checkDecodeRows(Operation *op, CPUScheduleAttr s) {
  if (s.getDecodeRows() && !decodeRowsFor(op, s.getVectorWidth()))
    return op->emitOpError()
           << "cpu_schedule: decode_rows needs an attention op (not "
              "landmark) whose D and Dv are multiples of vector_width (Dv "
              "at most 16 vectors)";
  return success();
}

bool mlir::attn::bf16DotPays(StringRef features) {
  // Measured (docs/cpu-bf16.md): 1.7-2.2x the widened path on an AMD Zen 4;
  // 0.62-0.80x on an Intel Sapphire Rapids (AMX-BF16), whose vdpbf16ps is
  // slow (gpu-logs/cpu-host-bench-spr.log): hosts with AMX widen instead.
  return !hasCPUFeature(features, "amx-bf16");
}

LogicalResult mlir::attn::checkCPUSchedule(Operation *op,
                                           CPUScheduleAttr s) {
  if (failed(checkDecodeRows(op, s)))
    return failure();
  if (s.getBf16Dot() &&
      !bf16DotFits(op, s.getVectorWidth(), s.getBlockN(), s.getFeatures()))
    return op->emitOpError()
           << "cpu_schedule: bf16_dot needs an attention op (not landmark) "
              "with bf16 Q, K and V, an even D, vector_width = 16, an even "
              "block_n and the avx512bf16 feature";
  if (s.getAmx() && !amxFits(op, s.getVectorWidth(), s.getBlockM(),
                             s.getBlockN(), s.getFeatures()))
    return op->emitOpError()
           << "cpu_schedule: amx needs an attention op (not landmark) with "
              "bf16 Q, K and V, D a multiple of 32 and Dv of 16, "
              "vector_width = 16, block_m a multiple of 16, block_n of 32 "
              "and the amx-bf16 and amx-tile features";
  if (isa<AttentionOp>(op) && !s.getAmx() &&
      (s.getBlockM() % (2 * s.getVectorWidth()) ||
       s.getBlockN() % s.getMrKeys()))
    return op->emitOpError()
           << "cpu_schedule: block_m must be a multiple of 2 * vector_width "
              "and block_n a multiple of mr_keys, got block_m = "
           << s.getBlockM() << ", block_n = " << s.getBlockN()
           << ", vector_width = " << s.getVectorWidth()
           << ", mr_keys = " << s.getMrKeys();
  if (isa<LightningOp>(op) && s.getBlockM() != s.getBlockN())
    return op->emitOpError() << "cpu_schedule: lightning blocks are square "
                                "(block_m = block_n), got "
                             << s.getBlockM() << " and " << s.getBlockN();
  return success();
}

CPUScheduleAttr mlir::attn::getCPUSchedule(Operation *op) {
  return op->getAttrOfType<CPUScheduleAttr>(kScheduleAttrName);
}

namespace {

class ConfigureCPU : public attn::impl::AttnConfigureCPUBase<ConfigureCPU> {
public:
  using Base::Base;
  void runOnOperation() override;
};

} // namespace

CPUScheduleAttr mlir::attn::decideCPUSchedule(Operation *op,
                                              const CPUOptions &o) {
  MLIRContext *ctx = op->getContext();
  int64_t w = o.vectorWidth, mrK = o.mrKeys;
  int64_t bm = o.blockM, bn = o.blockN;
  if (isa<LightningOp>(op)) {
    // Lightning-Attention-2 blocks: square, 64 rows unless told.
    bm = bn = bm ? bm : 64;
  } else {
    auto qType = cast<MemRefType>(op->getOperand(0).getType());
    int64_t headDim = std::max<int64_t>(qType.getDimSize(3), 1);
    // Tiles that fit L1: Q^T about 16 KB and a K tile about 24 KB (measured
    // best on a 2-core AVX2 machine at D = 64 and 128).
    if (bm == 0) {
      int64_t step = 2 * w;
      bm = std::clamp<int64_t>(16384 / (4 * headDim) / step * step, step, 128);
    }
    // AMX tiles (bf16 on a CPU with AMX-BF16): 64 queries x 128 keys
    // unless told (measured best of 64/128 x 64/128 on a Sapphire Rapids
    // host at 2 and 16 threads, docs/cpu-bf16.md).
    if (amxFits(op, w, o.blockM ? o.blockM : 64, o.blockN ? o.blockN : 128,
                o.targetFeatures)) {
      return CPUScheduleAttr::get(
          ctx, o.blockM ? o.blockM : 64, o.blockN ? o.blockN : 128, w, mrK,
          o.mrValues, o.targetCpu, o.targetFeatures, /*keysLo=*/0,
          /*keysHi=*/0, /*threads=*/0, /*bf16Dot=*/false, /*amx=*/true,
          decodeRowsFor(op, w));
    }
    if (bn == 0)
      bn = std::clamp<int64_t>(24576 / (4 * headDim) / mrK * mrK, mrK, 384);
  }
  return CPUScheduleAttr::get(ctx, bm, bn, w, mrK, o.mrValues, o.targetCpu,
                              o.targetFeatures, /*keysLo=*/0, /*keysHi=*/0,
                              /*threads=*/0, bf16DotFits(op, w, bn, o.targetFeatures) &&
                                                 bf16DotPays(o.targetFeatures),
                              /*amx=*/false, decodeRowsFor(op, w));
}

void ConfigureCPU::runOnOperation() {
  bool failed = false;
  getOperation().walk([&](Operation *op) {
    if (!isa<AttentionOp, LightningOp>(op))
      return;
    Attribute given = op->getAttr(kScheduleAttrName);
    CPUScheduleAttr s = getCPUSchedule(op);
    if (given && !s) {
      op->emitOpError() << "has an attn.schedule that is no "
                           "#attn.cpu_schedule: "
                        << given;
      failed = true;
      return;
    }
    if (!s) {
      auto emitError = [&] { return op->emitOpError(); };
      // The options may ask for what no schedule allows.
      if (mlir::failed(CPUScheduleAttr::verifyInvariants(
              emitError, blockM ? int64_t(blockM) : 2 * vectorWidth,
              blockN ? int64_t(blockN) : int64_t(mrKeys), vectorWidth, mrKeys,
              mrValues, targetCpu, targetFeatures, int64_t(0), int64_t(0),
              int64_t(0), false, false, int64_t(0)))) {
        failed = true;
        return;
      }
      CPUOptions o;
      o.blockM = blockM;
      o.blockN = blockN;
      o.vectorWidth = vectorWidth;
      o.mrKeys = mrKeys;
      o.mrValues = mrValues;
      o.targetCpu = targetCpu;
      o.targetFeatures = targetFeatures;
      s = decideCPUSchedule(op, o);
      op->setAttr(kScheduleAttrName, s);
    }
    failed |= mlir::failed(checkCPUSchedule(op, s));
  });
  if (failed)
    signalPassFailure();
}
