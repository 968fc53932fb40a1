//===- Measure.h - the tuner's gate and timer, over the runtime alone -*- C++ -*-===//
// What the autotuner does with a compiled candidate, written against the C
// API of libattnrt only (no LLVM, MLIR or PyTorch), so that the same code
// runs in process (attn-tune on the CPU, through the JIT) and on a machine
// that has a GPU and no compiler (attn-tune-measure, on kernels compiled
// elsewhere):
//   - fresh random inputs, in up to three rotating sets (so that no run finds
//     the previous run's data in cache), in device memory on a GPU;
//   - the gate: outputs poisoned (all-ones bits, NaN in every dtype), one
//     launch, the outputs compared with the default config's on the same
//     inputs at twice SPEC.md's tolerance;
//   - timing: the median of repeated runs through attn_benchmark (CUDA
//     events with an L2 flush on a GPU, the wall clock on the CPU);
//   - the paired re-timing of the best few and the default, in alternation,
//     and the choice (a winner within 2 % of the default is not taken).
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_TUNE_MEASURE_H
#define ATTN_RUNTIME_TUNE_MEASURE_H

#include "runtime/attnrt.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attn::measure {

/// The shape and signature of the kernel being tuned.
struct Problem {
  std::string op = "attention"; ///< or "lightning"
  attn_dtype dtype = ATTN_F32;
  int64_t d = 64, dv = 64;
  bool lse = false;         ///< attention: the kernel writes an LSE
  int lightningFlags = 0;   ///< ATTN_LIGHTNING_*
  int64_t batch = 1, heads = 1, kvHeads = 1, nq = 1024, nk = 1024;
};

/// "" or what is wrong with `p` (non-positive sizes, H not a multiple of
/// Hk, lightning with Nq != Nk, an unknown op).
std::string checkProblem(const Problem &p);

/// What the gate and the timer said about one candidate.
struct Outcome {
  /// "timed", "rejected" (the gate) or "failed" (did not launch); the
  /// caller adds "default", "best", "pruned", "skipped".
  std::string verdict;
  std::string reason;
  double medianMs = 0;
  double maxError = 0; ///< O against the default's, relative to max |O|
  std::vector<double> samples;
};

/// Median of `v` (0 when empty).
double median(std::vector<double> v);

/// Inputs, reference outputs and timings of one problem on one context.
class Bench {
public:
  Bench(attn_context *ctx, const Problem &p);
  ~Bench();
  Bench(const Bench &) = delete;
  Bench &operator=(const Bench &) = delete;

  /// Makes the inputs (host, and device memory on a GPU). "" or why not.
  std::string prepare();
  /// The gate and the timing of `kernel`. The first call must be the
  /// default config's: its outputs become the reference (and it fails when
  /// they hold NaN). About `targetMs` of timed runs (3 to 15 of them).
  Outcome run(attn_kernel *kernel, bool isDefault, double targetMs = 300);
  /// One timed run on input set `s` (rotating); < 0 with `why` on failure.
  double time(attn_kernel *kernel, size_t s, std::string &why);
  /// The paired re-timing: up to `keep` of the fastest timed candidates and
  /// the default (index 0) in alternation, as many rounds (3 to 9) as
  /// `leftSeconds` allows; updates their medians and returns the winner's
  /// index (0 when none beats the default by more than 2 %, with the reason
  /// on the candidate that lost it).
  size_t retime(const std::vector<attn_kernel *> &kernels,
                std::vector<Outcome> &outcomes, double leftSeconds,
                size_t keep = 3);
  /// The default's median, once run.
  double defaultMs() const { return defaultMs_; }

private:
  struct Tensor;
  struct Set;
  attn_context *ctx;
  Problem p;
  bool cuda;
  std::vector<Set *> sets;
  std::vector<std::vector<char>> reference; ///< the default's outputs
  double defaultMs_ = 0;
  /// Launch on set 0 with poisoned outputs, then the outputs on the host.
  bool gateRun(attn_kernel *k, double &ms, std::string &why);
};

} // namespace attn::measure

#endif // ATTN_RUNTIME_TUNE_MEASURE_H
