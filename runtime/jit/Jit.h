//===- Jit.h - the JIT layer's internals, for the tuner ---------*- C++ -*-===//
// What attn_get_kernel() does underneath, for the autotuner (Tuner.cpp):
// the compile options and device of a context, kernels from source through
// the JIT's caches, and the schedule the configure pass would choose.
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_JIT_JIT_H
#define ATTN_RUNTIME_JIT_JIT_H

#include "runtime/attnrt.h"
#include "runtime/jit/Compiler.h"
#include "runtime/jit/Tuning.h"

#include <string>

namespace attn {

/// How the JIT compiles for a context: its options (the host CPU or
/// $ATTN_CPU, the overrides of the environment; or the GPU's target), what
/// it emits, and the device name that tuning keys carry.
struct JitTarget {
  CompileOptions options;
  Emit emit = Emit::SharedObject;
  std::string ext = ".so";
  std::string device;
};
bool jitTarget(attn_context *ctx, JitTarget &out, std::string &error);

/// The kernel `kernel` of `source`, from memory, the disk cache or
/// compiled (as attn_get_kernel serves its kernels), with the variants of
/// the `tuned` records (CompileOptions::tuned).
attn_status jitKernel(attn_context *ctx, const std::string &source,
                      const std::string &what, attn_kernel **out,
                      const std::vector<tuning::Record> &tuned = {});

/// The attn.schedule the configure pass gives the first op of `source` on
/// `ctx`'s target, as printed IR text.
bool defaultSchedule(attn_context *ctx, const std::string &source,
                     std::string &schedule, std::string &error);

} // namespace attn

#endif // ATTN_RUNTIME_JIT_JIT_H
