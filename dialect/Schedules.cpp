//===- Schedules.cpp - the schedule attributes of the targets -------------===//
// Checks that hold for a schedule whatever op it is on; the op-specific ones
// (tile multiples) are the configure and lowering passes'.
//===----------------------------------------------------------------------===//
#include "dialect/AttnDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace mlir::attn;

LogicalResult
CPUScheduleAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        int64_t blockM, int64_t blockN, int64_t vectorWidth,
                        int64_t mrKeys, int64_t mrValues, StringRef cpu,
                        StringRef features, int64_t keysLo, int64_t keysHi,
                        int64_t threads, bool bf16Dot, bool amx,
                        int64_t decodeRows) {
  if (decodeRows < 0 || decodeRows > 64)
    return emitError() << "cpu_schedule 'decode_rows' must be in [0, 64], got "
                       << decodeRows;
  if (bf16Dot && amx)
    return emitError() << "cpu_schedule: 'bf16_dot' and 'amx' exclude each "
                          "other (both say how bf16 products are computed)";
  if (threads < 0 || threads > 1024)
    return emitError() << "cpu_schedule 'threads' must be in [0, 1024] (0: "
                          "all of the context's), got "
                       << threads;
  if (keysLo < 0 || keysHi < 0 || (keysHi && keysLo >= keysHi))
    return emitError() << "cpu_schedule 'keys_lo' and 'keys_hi' must be "
                          "non-negative with keys_lo < keys_hi (0: no bound), "
                          "got "
                       << keysLo << " and " << keysHi;
  if (vectorWidth != 8 && vectorWidth != 16)
    return emitError() << "cpu_schedule 'vector_width' must be 8 or 16, got "
                       << vectorWidth;
  for (auto [name, v, hi] : {std::tuple<const char *, int64_t, int64_t>{
                                 "block_m", blockM, 4096},
                             {"block_n", blockN, 4096},
                             {"mr_keys", mrKeys, 16},
                             {"mr_values", mrValues, 16}})
    if (v < 1 || v > hi)
      return emitError() << "cpu_schedule '" << name << "' must be in [1, "
                         << hi << "], got " << v;
  return success();
}

//===----------------------------------------------------------------------===//
// Rows of a decomposed dilated op
//===----------------------------------------------------------------------===//

LogicalResult RowsAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               int64_t segment, int64_t rate, OffsetMode) {
  if (rate < 1 || segment < 1 || segment > (int64_t(1) << 40))
    return emitError() << "rows 'segment' and 'rate' must be positive, got "
                       << segment << " and " << rate;
  if (segment % rate != 0)
    return emitError() << "rows 'segment' (" << segment
                       << ") must be a multiple of 'rate' (" << rate << ")";
  return success();
}

int64_t RowsAttr::offsetFor(int64_t head, int64_t numHeads) const {
  int64_t r = getRate();
  if (getOffsets() == OffsetMode::interleaved)
    return head % r;
  return head / ((numHeads + r - 1) / r);
}

Value RowsAttr::buildNumSegments(OpBuilder &b, Location loc, Value n) const {
  Value w = arith::ConstantIndexOp::create(b, loc, getSegment());
  return arith::CeilDivUIOp::create(b, loc, n, w);
}

SegmentRows RowsAttr::buildSegmentRows(OpBuilder &b, Location loc, Value n,
                                       Value seg, Value head,
                                       Value numHeads) const {
  auto idx = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  Value r = idx(getRate()), w = idx(getSegment());
  // Offset of this head: h mod r, or h / ceil(H / r) (torchscale).
  Value off =
      getOffsets() == OffsetMode::grouped
          ? arith::DivUIOp::create(
                b, loc, head, arith::CeilDivUIOp::create(b, loc, numHeads, r))
                .getResult()
          : arith::RemUIOp::create(b, loc, head, r).getResult();
  Value start = arith::MulIOp::create(b, loc, seg, w);
  Value len = arith::MinSIOp::create(
      b, loc, w, arith::SubIOp::create(b, loc, n, start));
  // Rows start + off + r * t of the segment, t < count.
  Value count = arith::SelectOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, len, off),
      arith::CeilDivUIOp::create(b, loc,
                                 arith::SubIOp::create(b, loc, len, off), r),
      idx(0));
  return {start, off, count};
}

//===----------------------------------------------------------------------===//
// GPU schedules
//===----------------------------------------------------------------------===//

LogicalResult GPUKernelAttr::verify(
    function_ref<InFlightDiagnostic()> emitError, StringRef suffix,
    int64_t warps, int64_t blockN, int64_t stages, int64_t ctasPerSm,
    bool tma, bool wgmma, bool wgmmaPv, bool asyncQk, bool warpSpecialize,
    bool pingpong, bool wsOverlap, int64_t kvBoxRows, int64_t cols,
    int64_t keysLo, int64_t keysHi, int64_t ctasLo, int64_t ctasHi,
    int64_t divides, int64_t rowsLo, int64_t rowsHi, int64_t splitKeys,
    bool merge, bool persistent) {
  auto bad = [&]() -> InFlightDiagnostic {
    return std::move(emitError() << "gpu_kernel ");
  };
  if (warps < 1 || warps > 16)
    return bad() << "'warps' must be in [1, 16], got " << warps;
  if (blockN < 16 || blockN > 256 || blockN % 16 != 0)
    return bad() << "'block_n' must be a multiple of 16 in [16, 256], got "
                 << blockN;
  if (stages < 2 || stages > 4)
    return bad() << "'stages' must be 2, 3 or 4, got " << stages;
  if (ctasPerSm < 1 || ctasPerSm > 32)
    return bad() << "'ctas_per_sm' must be in [1, 32], got " << ctasPerSm;
  if ((wgmmaPv || asyncQk) && !(wgmma && tma))
    return bad() << "'wgmma_pv' and 'async_qk' need 'wgmma' and 'tma'";
  if (asyncQk && stages < 3)
    return bad() << "'async_qk' needs stages >= 3";
  if (warpSpecialize && !wgmmaPv)
    return bad() << "'warp_specialize' needs 'wgmma_pv'";
  if ((pingpong || wsOverlap) && !warpSpecialize)
    return bad() << "'pingpong' and 'ws_overlap' need 'warp_specialize'";
  if (warpSpecialize && ctasPerSm != 1)
    return bad() << "a warp-specialized CTA takes the whole register file "
                    "(setmaxnreg): 'ctas_per_sm' must be 1";
  for (auto [name, v] : {std::pair<const char *, int64_t>{"kv_box_rows",
                                                          kvBoxRows},
                         {"cols", cols}, {"keys_lo", keysLo},
                         {"keys_hi", keysHi}, {"ctas_lo", ctasLo},
                         {"ctas_hi", ctasHi}, {"rows_lo", rowsLo},
                         {"rows_hi", rowsHi}, {"split_keys", splitKeys}})
    if (v < 0)
      return bad() << "'" << name << "' must not be negative, got " << v;
  if (keysHi && keysLo >= keysHi)
    return bad() << "'keys_lo' must be below 'keys_hi'";
  if (ctasHi && ctasLo >= ctasHi)
    return bad() << "'ctas_lo' must be below 'ctas_hi'";
  if (rowsHi && rowsLo >= rowsHi)
    return bad() << "'rows_lo' must be below 'rows_hi'";
  if (splitKeys || merge) {
    if (tma || wgmma || warpSpecialize)
      return bad() << "split-KV decoding kernels run on cp.async and "
                      "mma.sync: no 'tma', 'wgmma' or 'warp_specialize'";
    if (!rowsHi || rowsHi - 1 > 16 * warps)
      return bad() << "a split-KV kernel packs the query rows of one KV "
                      "head into its CTA: 'rows_hi' must be set and at most "
                      "16 * warps + 1 = "
                   << 16 * warps + 1;
    if (divides || cols)
      return bad() << "split-KV kernels take whole sequences: no 'divides' "
                      "or 'cols'";
  }
  if (persistent && (!warpSpecialize || splitKeys || merge || divides))
    return bad() << "'persistent' kernels are warp-specialized kernels over "
                    "whole sequences: they need 'warp_specialize' and take no "
                    "'split_keys', 'merge' or 'divides'";
  for (char ch : suffix)
    if (!llvm::isAlnum(ch) && ch != '_')
      return bad() << "'suffix' must be letters, digits and '_', got '"
                   << suffix << "'";
  return success();
}

LogicalResult
GPUScheduleAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        StringRef chip, ArrayRef<GPUKernelAttr> kernels) {
  if (chip != "sm_80" && chip != "sm_90a")
    return emitError() << "gpu_schedule 'chip' must be sm_80 or sm_90a, got '"
                       << chip << "'";
  if (kernels.empty())
    return emitError() << "gpu_schedule needs at least one kernel";
  for (GPUKernelAttr k : kernels)
    if (chip != "sm_90a" && (k.getTma() || k.getWgmma()))
      return emitError() << "gpu_schedule: TMA and wgmma need sm_90a, the "
                            "chip is "
                         << chip;
  return success();
}
