//===- Tuner.h - the autotuner: search, gate, time, persist -----*- C++ -*-===//
// Tunes the schedule of one kernel for one shape on a runtime context: a
// search space generated around the configure pass's choice, pruned by
// what the target can hold (a reason recorded for each pruned config); each
// candidate compiled through the JIT, checked against the default config's
// output on the same fresh inputs (outputs poisoned first) and timed
// (warm-up, median of repeated runs over rotating input buffers); the best
// few re-timed in alternation before one is crowned; the winner saved as a
// record (Tuning.h) that the JIT uses from then on.
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_JIT_TUNER_H
#define ATTN_RUNTIME_JIT_TUNER_H

#include "runtime/attnrt.h"
#include "runtime/jit/Tuning.h"

#include <functional>
#include <string>
#include <vector>

namespace attn {

struct TuneRequest {
  std::string op = "attention"; ///< or "lightning"
  std::string pattern;          ///< attention: the pattern attribute
  attn_dtype dtype = ATTN_F32;
  int64_t d = 64, dv = 64;
  bool lse = false;
  float scale = 0;
  int lightningFlags = 0;
  int64_t batch = 1, heads = 1, kvHeads = 1, nq = 1024, nk = 1024;
  /// Seconds for the whole tuning (search, gate, timing, re-timing).
  double budgetSeconds = 60;
  /// Save the winner in the local store.
  bool save = true;
  /// Tests: add a candidate that computes the wrong function (its scale
  /// doubled), which the gate must reject.
  bool addWrongCandidate = false;
  /// Called after each candidate: (done, total, seconds so far, what).
  std::function<void(int, int, double, const std::string &)> progress;
};

struct CandidateResult {
  std::string config;   ///< short form
  std::string schedule; ///< the attn.schedule attribute
  /// "default", "best", "timed", "rejected" (the gate), "pruned",
  /// "failed" (did not compile or launch), "skipped" (out of budget).
  std::string verdict;
  std::string reason;
  double medianMs = 0;
  double maxError = 0; ///< against the default config, relative to max |O|
};

struct TuneResult {
  tuning::Key key;
  std::vector<CandidateResult> candidates; ///< [0] is the default
  int best = 0;
  double seconds = 0;
  tuning::Record record; ///< what was (or would be) saved
  bool saved = false;
};

/// The tuning key of `r` on `ctx` (device, target and compiler included).
bool tuningKey(attn_context *ctx, const TuneRequest &r, tuning::Key &key,
               std::string &error);

/// Tunes `r` on `ctx` (a CPU context). ATTN_OK with `out` filled, or an
/// error code with attn_last_error() naming the problem.
attn_status tune(attn_context *ctx, const TuneRequest &r, TuneResult &out);

/// One GPU candidate, compiled here to be timed where the GPU is
/// (attn-tune --plan, then attn-tune-measure).
struct GPUCandidate {
  std::string config;   ///< short form ("w8 bn128 s2 c1 ws")
  std::string schedule; ///< the attn.schedule attribute
  std::string image;    ///< the cubin (empty when pruned)
  std::string pruned;   ///< why it is not worth timing, or ""
  int64_t registers = 0, spillBytes = 0;
};

/// The GPU search space of `r` on `chip` (sm_80, sm_90a), generated from the
/// configure pass's choices: warps (4: mma.sync, 8: wgmma), key tiles of
/// 64/128/192, 2 or 3 stages, 1 or 2 CTAs per SM, and (sm_90a, where they
/// apply) warp specialisation with its pingpong and overlap variants and
/// async Q K^T; each a single kernel for every Nk, deduplicated. [0] is the
/// configure pass's default for `r.nk` keys. Each is compiled to a cubin by
/// ptxas (-v): configs the compiler refuses (shared memory) or that spill
/// registers are pruned, the reason recorded. `progress(done, total)`.
/// False with `error` when the default itself does not compile.
bool gpuCandidates(const TuneRequest &r, const std::string &chip,
                   std::vector<GPUCandidate> &out, std::string &error,
                   const std::function<void(int, int)> &progress = {});

/// The tuning key of `r` for `target` on `device` (GPU plans: the device is
/// the one that will time them).
tuning::Key tuningKeyFor(const TuneRequest &r, const std::string &target,
                         const std::string &device);

} // namespace attn

#endif // ATTN_RUNTIME_JIT_TUNER_H
