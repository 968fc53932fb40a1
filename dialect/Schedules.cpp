//===- Schedules.cpp - the schedule attributes of the targets -------------===//
// Checks that hold for a schedule whatever op it is on; the op-specific ones
// (tile multiples) are the configure and lowering passes'.
//===----------------------------------------------------------------------===//
#include "dialect/AttnDialect.h"

using namespace mlir;
using namespace mlir::attn;

LogicalResult
CPUScheduleAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        int64_t blockM, int64_t blockN, int64_t vectorWidth,
                        int64_t mrKeys, int64_t mrValues, StringRef cpu,
                        StringRef features) {
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
