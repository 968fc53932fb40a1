//===- Tuning.h - tuning keys, records and their store ----------*- C++ -*-===//
// What the autotuner persists: for a tuning key (the kernel, a power-of-two
// bucket of Nq and Nk, the GQA ratio, the target and device, the compiler),
// the schedule attribute that won and how it was measured. Records live as
// JSON, one file per kernel family, under $ATTN_CACHE_DIR/tuning; writes
// are atomic and serialised by a lock file, so tuners in several processes
// may share one cache. A record stamped for another device, compiler or
// format version is ignored, never trusted.
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_JIT_TUNING_H
#define ATTN_RUNTIME_JIT_TUNING_H

#include "llvm/Support/JSON.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attn::tuning {

/// Version of the record format; records of another are ignored.
constexpr int64_t kFormatVersion = 1;

/// floor(log2(n)) for n >= 1 (0 for n <= 1): the bucket [2^b, 2^(b+1)).
int bucketOf(int64_t n);

/// The kernel a record is for, and the shapes it was tuned on.
struct Key {
  std::string op = "attention"; ///< "attention" or "lightning"
  std::string pattern;          ///< the pattern attribute ("" for lightning)
  std::string dtype = "f32";
  int64_t d = 0, dv = 0;
  bool lse = false;
  float scale = 0;     ///< 0: the op's default
  int64_t flags = 0;   ///< lightning: ATTN_LIGHTNING_* of the C API
  int64_t gqa = 1;     ///< H / Hk
  int nqBucket = 0, nkBucket = 0;
  std::string target = "cpu"; ///< "cpu", "sm_80", "sm_90a"
  std::string device;   ///< see cpuDeviceName()
  std::string compiler; ///< see compilerStamp()

  /// The file the record lives in: "<op>-<pattern kind>".
  std::string family() const;
  /// Equal in everything but the buckets and the GQA ratio (and the LSE
  /// output and scale, which change no schedule's speed): records of one
  /// kernel that the JIT dispatches between by Nk.
  bool sameKernel(const Key &o) const;
  bool operator==(const Key &o) const;
};

/// One tuned schedule.
struct Record {
  Key key;
  std::string schedule; ///< the op's attn.schedule attribute (no key range)
  std::string config;   ///< the same, short, for people ("bm=64 bn=96 ...")
  std::vector<int64_t> shape; ///< B, H, Hk, Nq, Nk it was timed on
  double medianMs = 0, defaultMs = 0;
  int64_t candidates = 0; ///< configs timed
  std::string date;       ///< UTC, ISO 8601
};

/// The compiler a record belongs to: its version and build hash
/// ("attn-0.9-1a2b..."). Local records must match it exactly; shipped
/// tables (built elsewhere) match on the version alone. (JIT layer: the
/// hash is of libattnjit.)
const std::string &compilerStamp();
/// The version part of a stamp ("attn-0.9").
std::string stampVersion(const std::string &stamp);

/// The CPU device: model name, LLVM CPU, ISA extensions and threads, e.g.
/// "AMD EPYC | znver4 | avx2,avx512f | 2 threads".
std::string cpuDeviceName(const std::string &llvmCpu,
                          const std::string &features, int threads);

/// $ATTN_CACHE_DIR/tuning (default ~/.cache/attn/tuning).
std::string localDir();
/// Directories of shipped tables: $ATTN_TUNING_TABLES (':'-separated),
/// else the source tree's docs/tuning.
std::vector<std::string> shippedDirs();

/// Records of one file whose format is current (others are skipped, with
/// a count in `skipped`). A missing file is no records; a corrupt one is
/// an error naming it.
bool readFile(const std::string &path, std::vector<Record> &out,
              std::string &error, int *skipped = nullptr);
/// One record as the tables hold it, and back ("" or why not in `why`).
llvm::json::Value toJSON(const Record &r);
bool fromJSON(const llvm::json::Value &v, Record &r, std::string &why);
/// Writes `records` as a table (a JSON document people can read).
bool writeFile(const std::string &path, const std::vector<Record> &records,
               std::string &error);
/// Adds `r` to its family's file in `dir`, replacing a record with the
/// same key: under an exclusive lock on "<file>.lock", read, merge, write
/// atomically.
bool save(const std::string &dir, const Record &r, std::string &error);

/// One variant of a tuned kernel: `record`'s schedule serves
/// keysLo <= Nk < keysHi (keysHi 0: no bound); no record, the configure
/// pass's default schedule.
struct Variant {
  int64_t keysLo = 0, keysHi = 0;
  const Record *record = nullptr;
  /// A GPU record tuned on a decoding shape of this range: its split-KV
  /// decoding kernels replace those of the variant's schedule.
  const Record *decode = nullptr;
};

/// Whether a shape is a decoding step that the GPU tuner tunes as one (its
/// split-KV kernels, not the prefill ones): Nq = 1, and the query heads of a
/// KV head (the GQA ratio) fit those kernels' `decodeRows`.
bool isDecodeShape(int64_t nq, int64_t gqa, int64_t decodeRows);
/// Whether `k` was tuned on such a shape.
bool isDecodeKey(const Key &k, int64_t decodeRows);

/// The variants a kernel dispatches between, given the records of its
/// kernel (every bucket): per Nk bucket the record tuned on Nq in the same
/// bucket (prefill shapes) before others, then the smallest GQA ratio, then
/// the newest; the gaps and the ends go to the default. With `single` (a
/// lightning kernel holds one op), one variant: the longest sequences'.
/// With `decodeRows` > 0 (GPU targets: the configure pass's decode-rows),
/// records of decoding shapes (isDecodeKey, with decoding kernels in their
/// schedule) serve only the decoding kernels of their range
/// (Variant::decode), beside whatever serves its prefill.
std::vector<Variant> dispatchPlan(const std::vector<Record> &records,
                                  bool single, int64_t decodeRows = 0);
/// "[0, 1024) default; [1024, 2048) bm=64 ...; [2048, inf) default".
std::string describe(const std::vector<Variant> &plan);

/// The records for `kernel`'s kernel (every bucket) that this device and
/// compiler may use: from the local store; where it holds none for this
/// device, from the shipped tables. `why` says where they came from and
/// what was ignored (for ATTN_JIT_LOG).
std::vector<Record> lookup(const Key &kernel, std::string &why);

} // namespace attn::tuning

#endif // ATTN_RUNTIME_JIT_TUNING_H
