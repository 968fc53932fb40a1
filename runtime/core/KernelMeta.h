//===- KernelMeta.h - the metadata every compiled kernel carries -*- C++ -*-===//
// One definition, one printer and one parser of the text a kernel carries in
// its `NAME__attn_meta` global: the compiler passes print it, the runtime
// core, the AOT header writer and the tools parse it. No LLVM or MLIR, so the
// runtime core can use it.
//
//   attn-kernel v1
//   op attention|lightning
//   pattern TEXT                       the pattern attribute, as printed
//   phases N                           CPU: phase entry points; GPU: launches
//   cpu NAME                           CPU: the LLVM CPU the code is for
//   features EXT,EXT,...               CPU: ISA extensions a host must have
//   target sm_80|sm_90a                GPU kernels only
//   threads N / smem BYTES             GPU: the largest launch's CTA
//   tile_m N / tile_n N / stages N     tiling (tile_m: rows per CTA)
//   launch ENTRY SEG PERSEG [THREADS SMEM] [if R | unless R] [keys LO HI]
//          [ctas LO HI] [rows LO HI]   GPU: one grid each, in order (see
//          [split KEYS CTAS SPAN | merge]
//                                      Launch); CPU (optional): one per
//                                      phase, when it runs (`keys`)
//   tensormap ROLE COLS ROWS [RATE]    TMA kernels: one CUtensorMap each
//   arg ROLE DTYPE RANK DIM...         one per kernel argument (-1: dynamic)
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_CORE_KERNELMETA_H
#define ATTN_RUNTIME_CORE_KERNELMETA_H

#include <cstdint>
#include <string>
#include <vector>

namespace attnmeta {

struct Arg {
  std::string role;  ///< q, k, v, out, lse, slopes, state_in, state_out
  std::string dtype; ///< f32, f16, bf16
  std::vector<int64_t> dims; ///< the rank is dims.size(); -1: dynamic
};

/// One grid of a GPU kernel: (ceil(Nq / seg) * perSeg, H, B) CTAs of entry
/// `entry` (seg 0: perSeg CTAs along x, not split along the sequence), of
/// `threads` threads and `smem` bytes of dynamic shared memory (0 and -1:
/// the kernel's). It runs only when its conditions hold (launchApplies).
struct Launch {
  std::string entry;
  int64_t seg = 0, perSeg = 1;
  int64_t threads = 0, smem = -1;
  int64_t cond = 0;               ///< > 0: cond divides Nq; < 0: -cond does not
  int64_t keysLo = 0, keysHi = 0; ///< keysLo <= Nk < keysHi (hi 0: unbounded)
  int64_t ctasLo = 0, ctasHi = 0; ///< ctasLo <= CTAs < ctasHi (hi 0: unbounded)
  /// rowsLo <= Nq * H / Hk < rowsHi (hi 0: unbounded): the query rows of
  /// one KV head.
  int64_t rowsLo = 0, rowsHi = 0;
  /// Split-KV decoding: splitKeys > 0: the grid is (S, Hk, B), the query
  /// heads of one KV head packed into a CTA and the keys split S ways, each
  /// split at least splitKeys keys, S from splitCtas CTAs per SM (see
  /// splitCount); with S > 1 the splits write the workspace. splitSpan > 0:
  /// the pattern lets one query read at most that many keys (a window).
  int64_t splitKeys = 0, splitCtas = 0, splitSpan = 0;
  /// Combines the workspace's splits into O and LSE; runs only when the
  /// split launch before it had S > 1. On a split launch (splitKeys > 0):
  /// the split kernel merges in its last CTA of each (batch, KV head), the
  /// one that counts the others done (the launch then takes the stream's
  /// counters after the workspace, see fusedMerge()).
  bool merge = false;
  bool fusedMerge() const { return splitKeys && merge; }
  /// > 0: a persistent kernel, `persistent` CTAs per SM along x (at most
  /// the ceil(Nq / seg) * perSeg * H * B work items), y and z 1; each CTA
  /// loops over the items.
  int64_t persistent = 0;
};

struct TensorMap {
  std::string role; ///< q, k or v
  int64_t cols = 0, rows = 0;
  int64_t rate = 1; ///< > 1: rows that far apart (when the rate divides N)
};

struct KernelMeta {
  std::string op, pattern;
  int64_t phases = 0;
  std::string cpu;                   ///< CPU kernels (optional)
  std::vector<std::string> features; ///< CPU kernels (optional)
  std::string target;                ///< GPU kernels: sm_80, sm_90a
  int64_t threads = 0, smem = -1, tileM = 0, tileN = 0, stages = 0;
  std::vector<Launch> launches;
  std::vector<TensorMap> tensorMaps;
  std::vector<Arg> args;

  bool isGPU() const { return !target.empty(); }
  /// The launches a GPU kernel runs, defaults filled in: one grid of tile_m
  /// rows per CTA when there are no launch lines, the kernel's CTA where a
  /// launch gives none.
  std::vector<Launch> effectiveLaunches(const std::string &kernelName) const;
};

/// The text of `m`, in the order of the header comment.
std::string print(const KernelMeta &m);

/// Parses metadata text. False with `error` naming the line and what is
/// wrong for anything malformed, incomplete or out of range; never throws.
bool parse(const std::string &text, KernelMeta &out, std::string &error);

/// Whether launch `l` runs for Nq queries, Nk keys and a grid of `ctas`
/// CTAs: the one launch-selection rule (the AOT header calls the same rule,
/// attn_launch_applies in LaunchRule.h).
bool launchApplies(const Launch &l, int64_t nq, int64_t nk, int64_t ctas,
                   int64_t rows);

/// The key splits of a split launch: enough CTAs to give each of the
/// device's `sms` SMs `l.splitCtas` (over `pairs` = B * Hk CTAs per split),
/// each split at least `l.splitKeys` of the keys the `rows` packed rows
/// read (`nk`, or fewer under a window), at most kMaxSplits.
constexpr int64_t kMaxSplits = 128;
int64_t splitCount(const Launch &l, int64_t nk, int64_t rows, int64_t pairs,
                   int64_t sms);

/// Bytes of the workspace of a split launch with `splits` splits: f32
/// [splits, B, H, Nq, Dv + 2] (O, then the LSE at column Dv).
inline int64_t workspaceBytes(int64_t splits, int64_t b, int64_t h,
                              int64_t nq, int64_t dv) {
  return splits * b * h * nq * (dv + 2) * 4;
}

} // namespace attnmeta

#endif
