//===- Jit.cpp - the JIT layer of the runtime: compile on a cache miss ----===//
// attn_get_kernel(): builds the kernel source for a pattern, looks it up in
// memory and in the disk cache (key = hash of the compiler's build, the
// source and the printed pass pipeline with all its options), compiles it
// when missing, and loads it through the core.
//===----------------------------------------------------------------------===//
#include "runtime/attnrt.h"
#include "runtime/core/Internal.h"
#include "runtime/jit/Compiler.h"
#include "runtime/jit/Jit.h"
#include "runtime/jit/Tuner.h"
#include "runtime/jit/Tuning.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/xxhash.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/TargetParser/Host.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <elf.h>
#include <functional>
#include <map>
#include <mutex>
#include <unistd.h>

namespace {

std::string sha256Hex(llvm::StringRef data) {
  return llvm::toHex(llvm::SHA256::hash(llvm::arrayRefFromStringRef(data)),
                     /*LowerCase=*/true);
}

std::string cacheDir() {
  if (const char *dir = std::getenv("ATTN_CACHE_DIR"))
    if (*dir)
      return dir;
  if (const char *home = std::getenv("HOME"))
    return std::string(home) + "/.cache/attn";
  return "/tmp/attn-cache";
}

int64_t envInt(const char *name, int64_t fallback) {
  const char *v = std::getenv(name);
  if (!v || !*v)
    return fallback;
  char *end = nullptr;
  long long x = std::strtoll(v, &end, 10);
  return (end && *end == 0 && x > 0) ? x : fallback;
}

/// The sidecar of a cache entry (<entry>.sha256): the binary's SHA-256 on
/// the first line, then the key the entry was built for and its size, so an
/// entry copied or renamed onto another key is refused.
std::string sidecarText(const std::string &key, const std::string &binary) {
  return sha256Hex(binary) + "\nkey " + key + "\nsize " +
         std::to_string(binary.size()) + "\n";
}

/// Whether an ELF image (a shared object, a cubin) is whole: every program
/// and section header, and every loaded segment, inside the file. dlopen of
/// a truncated object maps pages past its end and dies of SIGBUS.
bool elfComplete(llvm::StringRef data) {
  auto within = [&](uint64_t offset, uint64_t count, uint64_t each) {
    uint64_t bytes;
    return !__builtin_mul_overflow(count, each, &bytes) &&
           offset <= data.size() && bytes <= data.size() - offset;
  };
  Elf64_Ehdr eh;
  if (data.size() < sizeof eh ||
      std::memcmp(data.data(), ELFMAG, SELFMAG) != 0 ||
      data[EI_CLASS] != ELFCLASS64)
    return false;
  std::memcpy(&eh, data.data(), sizeof eh);
  if (!within(eh.e_phoff, eh.e_phnum, eh.e_phentsize) ||
      !within(eh.e_shoff, eh.e_shnum, eh.e_shentsize) ||
      (eh.e_phnum && eh.e_phentsize < sizeof(Elf64_Phdr)))
    return false;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, data.data() + eh.e_phoff + i * eh.e_phentsize, sizeof ph);
    if (ph.p_type == PT_LOAD && !within(ph.p_offset, ph.p_filesz, 1))
      return false;
  }
  return true;
}

/// Why the cache entry `so` (with sidecar `sha`) cannot serve `key`; ""
/// when it can. `missing` is set when neither file is there (a plain miss).
std::string checkEntry(const std::string &so, const std::string &sha,
                       const std::string &key, bool &missing) {
  namespace fs = llvm::sys::fs;
  missing = !fs::exists(so) && !fs::exists(sha);
  if (missing)
    return "missing";
  if (fs::is_directory(so) || fs::is_directory(sha))
    return "a directory is in its place";
  auto data = llvm::MemoryBuffer::getFile(so, /*IsText=*/false,
                                          /*RequiresNullTerminator=*/false);
  auto side = llvm::MemoryBuffer::getFile(sha);
  if (!data || !side)
    return "it is incomplete or unreadable";
  llvm::SmallVector<llvm::StringRef, 4> lines;
  (*side)->getBuffer().trim().split(lines, '\n');
  if (lines.size() < 3 || !lines[1].consume_front("key ") ||
      !lines[2].consume_front("size "))
    return "its sidecar names no key (written by an older runtime)";
  if (lines[1].trim() != key)
    return "it was built for another key";
  llvm::StringRef bytes = (*data)->getBuffer();
  if (lines[2].trim() != std::to_string(bytes.size()))
    return "its size differs from the recorded one";
  if (sha256Hex(bytes) != lines[0].trim())
    return "its hash does not match";
  if (!llvm::StringRef(so).ends_with(".ptx") && !elfComplete(bytes))
    return "it is not a complete ELF image";
  return "";
}

/// Moves a bad entry's files out of the way (kept for inspection); a file
/// another process has already moved is not an error.
void moveAside(const std::string &so, const std::string &sha) {
  static std::atomic<unsigned> counter{0};
  std::string suffix =
      ".bad." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  for (const std::string &f : {so, sha})
    if (llvm::sys::fs::exists(f))
      (void)llvm::sys::fs::rename(f, f + suffix);
}

/// A temporary cache directory private to this process, for when the
/// configured one cannot be used; created once, with one warning, and
/// removed at exit. Empty when even that fails.
const std::string &privateCacheDir(const std::string &dir,
                                   const std::string &why) {
  // Never destroyed: the exit handler that removes the directory reads it.
  static const std::string *tmp = [&] {
    llvm::SmallString<128> path;
    if (llvm::sys::fs::createUniqueDirectory("attn-cache", path))
      return new std::string();
    std::fprintf(stderr,
                 "attn-jit: warning: cache directory '%s' is not usable "
                 "(%s); caching in '%s' for this process\n",
                 dir.c_str(), why.c_str(), path.c_str());
    std::atexit([] {
      (void)llvm::sys::fs::remove_directories(privateCacheDir("", ""));
    });
    return new std::string(path.str());
  }();
  return *tmp;
}

} // namespace

const std::string &attn::tuning::compilerStamp() {
  // A hash of the shared library this code is in (the compiler is linked
  // into it): a rebuilt compiler never trusts an older one's records.
  static const std::string id = [] {
    std::string version = attn::compilerVersion();
    Dl_info info;
    if (!dladdr(reinterpret_cast<void *>(&attn_get_kernel), &info) ||
        !info.dli_fname)
      return version;
    auto buf = llvm::MemoryBuffer::getFile(info.dli_fname);
    if (!buf)
      return version;
    return version + "-" +
           llvm::utohexstr(llvm::xxh3_64bits((*buf)->getBuffer()));
  }();
  return id;
}


namespace {

std::mutex cacheMutex;
std::map<std::string, std::string> memoryCache; // key -> .so path

const char *dtypeName(attn_dtype t) {
  return t == ATTN_F32 ? "f32" : t == ATTN_F16 ? "f16" : "bf16";
}

/// Checks shared by the entry points; ATTN_OK when the request is sane.
attn_status checkRequest(attn_context *ctx, attn_kernel **out,
                         attn_dtype dtype, int64_t d, int64_t dv,
                         float scale) {
  using attnrt::fail;
  if (!ctx || !out)
    return fail(ATTN_ERROR_INVALID_ARGUMENT, "null argument");
  *out = nullptr;
  if (dtype != ATTN_F32 && dtype != ATTN_F16 && dtype != ATTN_BF16)
    return fail(ATTN_ERROR_INVALID_ARGUMENT, "unknown dtype");
  if (d <= 0 || dv <= 0 || d > 1024 || dv > 1024)
    return fail(ATTN_ERROR_INVALID_ARGUMENT,
                "head dims must be in [1, 1024], got D = " +
                    std::to_string(d) + ", Dv = " + std::to_string(dv));
  if (!std::isfinite(scale))
    return fail(ATTN_ERROR_INVALID_ARGUMENT, "scale must be finite");
  return ATTN_OK;
}

} // namespace

bool attn::jitTarget(attn_context *ctx, JitTarget &jt, std::string &error) {
  attn::CompileOptions &options = jt.options;
  // The host CPU, or $ATTN_CPU / $ATTN_CPU_FEATURES (to test the code of
  // another CPU that this host can run).
  attn::CPUTarget cpuTarget;
  if (!attn::resolveCPUTarget("", "", cpuTarget, error))
    return false;
  options.cpu = attn::cpuOptionsFor(cpuTarget);
  // Overrides for tuning and for testing the other register blocking.
  if (envInt("ATTN_VECTOR_WIDTH", 0) == 16) {
    options.cpu.vectorWidth = 16;
    options.cpu.mrKeys = options.cpu.mrValues = 12;
  } else if (envInt("ATTN_VECTOR_WIDTH", 0) == 8) {
    options.cpu.vectorWidth = 8;
    options.cpu.mrKeys = options.cpu.mrValues = 6;
  }
  options.cpu.blockM = envInt("ATTN_BLOCK_M", options.cpu.blockM);
  options.cpu.blockN = envInt("ATTN_BLOCK_N", options.cpu.blockN);
  if (const char *dump = std::getenv("ATTN_DUMP_DIR"))
    options.dumpDir = dump;
  jt.device = attn::tuning::cpuDeviceName(
      cpuTarget.name, llvm::join(cpuTarget.required, ","),
      attn_context_threads(ctx));
  // A CUDA context gets a GPU kernel: a cubin where ptxas is installed, else
  // PTX, which the driver compiles at load.
  if (attnrt::isCuda(ctx)) {
    int cc = attnrt::cudaComputeCapability(ctx);
    options.target = cc >= 90 ? "sm_90a" : "sm_80";
    options.gpu.warps = envInt("ATTN_GPU_WARPS", options.gpu.warps);
    options.gpu.blockN = envInt("ATTN_BLOCK_N", options.gpu.blockN);
    options.gpu.stages = envInt("ATTN_GPU_STAGES", options.gpu.stages);
    options.gpu.tma = envInt("ATTN_GPU_TMA", 1) != 0;
    options.gpu.warpSpecialize = envInt("ATTN_GPU_WS", 1) != 0;
    options.gpu.persistent = envInt("ATTN_GPU_PERSISTENT", 1) != 0;
    bool cubin = !attn::findPtxas().empty();
    jt.emit = cubin ? attn::Emit::Cubin : attn::Emit::PTX;
    jt.ext = cubin ? ".cubin" : ".ptx";
    // The GPU's name, SMs and compute capability (tuning records are per
    // device).
    const char *device = attn_context_device(ctx);
    jt.device = device ? device : "cuda compute capability " + std::to_string(cc);
  }
  return true;
}

bool attn::defaultSchedule(attn_context *ctx, const std::string &source,
                           std::string &schedule, std::string &error) {
  JitTarget jt;
  if (!jitTarget(ctx, jt, error))
    return false;
  jt.options.dumpDir.clear();
  std::string ir;
  if (!attn::compile(source, "<attn-tune>", attn::Emit::Configured,
                     jt.options, ir, error))
    return false;
  // The first `attn.schedule = #attn...<...>`, brackets balanced.
  size_t at = ir.find("attn.schedule = #attn.");
  int depth = 0;
  bool inString = false;
  if (at != std::string::npos)
    for (size_t i = at + std::strlen("attn.schedule = "); i < ir.size(); ++i) {
      char c = ir[i];
      if (c == '"')
        inString = !inString;
      else if (!inString && c == '<')
        ++depth;
      else if (!inString && c == '>' && --depth == 0) {
        size_t from = at + std::strlen("attn.schedule = ");
        schedule = ir.substr(from, i + 1 - from);
        return true;
      }
    }
  error = "the configure pass wrote no attn.schedule";
  return false;
}

attn_status attn::jitKernel(attn_context *ctx, const std::string &source,
                            const std::string &what, attn_kernel **out,
                            const std::vector<tuning::Record> &tuned) {
  using attnrt::fail;
  JitTarget jt;
  std::string targetError;
  if (!jitTarget(ctx, jt, targetError))
    return fail(ATTN_ERROR_INVALID_ARGUMENT, targetError);
  jt.options.tuned = tuned;
  const attn::CompileOptions &options = jt.options;
  attn::Emit emit = jt.emit;
  const std::string &ext = jt.ext;
  // The key covers everything that changes the code: the compiler's build,
  // the source, and the pipeline as printed with every pass option (the
  // target CPU and its features, or the GPU target and ptxas).
  std::string key = sha256Hex(attn::tuning::compilerStamp() + "\n" + source + "\n" +
                              attn::pipelineFingerprint(options) + "\n" + ext);

  std::string so;
  {
    std::lock_guard<std::mutex> g(cacheMutex);
    auto it = memoryCache.find(key);
    if (it != memoryCache.end())
      so = it->second;
  }
  // A file another process has since moved aside falls through to the
  // disk cache, which rebuilds it.
  if (!so.empty() &&
      attn_kernel_load(ctx, so.c_str(), "kernel", out) == ATTN_OK)
    return ATTN_OK;

  bool log = std::getenv("ATTN_JIT_LOG") != nullptr;
  auto start = std::chrono::steady_clock::now();
  auto elapsedMs = [&] {
    return std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now() - start)
        .count();
  };
  std::string dir = cacheDir();
  std::error_code dirError = llvm::sys::fs::create_directories(dir);
  // A valid entry serves, even from a read-only cache. A bad one (wrong
  // key, truncated, garbage, a directory) is moved aside and rebuilt; an
  // entry that passes the checks but does not load is rebuilt once too.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::string path = dir + "/" + key + ext, sha = path + ".sha256";
    bool missing = true;
    std::string why =
        dirError ? "missing" : checkEntry(path, sha, key, missing);
    bool hit = why.empty();
    if (!hit && !missing) {
      std::fprintf(stderr,
                   "attn-jit: warning: cache entry '%s' is bad (%s): moved "
                   "aside, rebuilding\n",
                   path.c_str(), why.c_str());
      moveAside(path, sha);
    }
    if (hit) {
      if (log)
        std::fprintf(stderr, "attn-jit: disk cache hit %s (%.1f ms)\n",
                     key.substr(0, 12).c_str(), elapsedMs());
    } else {
      std::string binary, error;
      if (!attn::compile(source, "<attn-jit>", emit, options, binary, error))
        return fail(ATTN_ERROR_COMPILE,
                    "cannot compile " + what + ": " + error);
      if (log)
        std::fprintf(stderr, "attn-jit: compiled %s in %.1f ms\n",
                     key.substr(0, 12).c_str(), elapsedMs());
      // Publish the binary before its sidecar, each atomically, so a
      // reader never accepts a half-written entry. Where the cache cannot
      // be written, a private one takes the entry.
      auto publish = [&](const std::string &p) {
        return attn::writeFileAtomic(p, binary, error) &&
               attn::writeFileAtomic(p + ".sha256", sidecarText(key, binary),
                                     error);
      };
      if (dirError || !publish(path)) {
        std::string reason =
            dirError ? "cannot create it: " + dirError.message() : error;
        const std::string &tmp = privateCacheDir(dir, reason);
        path = tmp + "/" + key + ext;
        if (tmp.empty() || !publish(path))
          return fail(
              ATTN_ERROR_IO,
              "the kernel for " + what +
                  " compiled, but the JIT cache cannot store it: " + reason);
      }
    }
    attn_status s = attn_kernel_load(ctx, path.c_str(), "kernel", out);
    if (s == ATTN_OK) {
      std::lock_guard<std::mutex> g(cacheMutex);
      memoryCache[key] = path;
      return ATTN_OK;
    }
    if (!hit)
      return s;
    std::fprintf(stderr,
                 "attn-jit: warning: cache entry '%s' does not load (%s): "
                 "moved aside, rebuilding\n",
                 path.c_str(), attn_last_error());
    moveAside(path, sha);
  }
  return fail(ATTN_ERROR_INTERNAL, "the JIT cache could not serve " + what);
}

namespace {

/// The tuning key of a kernel request (the shape's buckets left 0): the
/// tuner's own key function, on a request without a shape.
bool requestKey(attn_context *ctx, const std::string &op,
                const std::string &pattern, attn_dtype dtype, int64_t d,
                int64_t dv, bool lse, float scale, int flags,
                attn::tuning::Key &key, std::string &error) {
  attn::TuneRequest r;
  r.op = op;
  r.pattern = pattern;
  r.dtype = dtype;
  r.d = d;
  r.dv = dv;
  r.lse = lse;
  r.scale = scale;
  r.lightningFlags = flags;
  r.nq = r.nk = 1;
  return attn::tuningKey(ctx, r, key, error);
}

/// The tuned records the kernel of `key` dispatches between (none: the
/// configure pass decides). ATTN_JIT_LOG says which schedule serves which
/// Nk, and why.
std::vector<attn::tuning::Record> tunedRecords(const attn::tuning::Key &key,
                                               const std::string &what) {
  std::string why;
  std::vector<attn::tuning::Record> records = attn::tuning::lookup(key, why);
  if (key.target != "cpu")
    records.clear(); // GPU schedules are not tuned in process yet
  if (std::getenv("ATTN_JIT_LOG")) {
    if (records.empty())
      std::fprintf(stderr,
                   "attn-jit: %s: the configure pass's schedule (tuning: "
                   "%s)\n",
                   what.c_str(), why.c_str());
    else
      std::fprintf(
          stderr, "attn-jit: %s: tuned schedules by Nk: %s (tuning: %s)\n",
          what.c_str(),
          attn::tuning::describe(
              attn::tuning::dispatchPlan(
                  records, key.op == "lightning",
                  key.target == "cpu" ? 0 : mlir::attn::GPUOptions().decodeRows))
              .c_str(),
          why.c_str());
  }
  return records;
}

} // namespace

/// The checks of an attention kernel request; `p` gets the pattern text.
static attn_status checkAttentionRequest(attn_context *ctx, attn_kernel **out,
                                         const char *pattern, attn_dtype dtype,
                                         int64_t d, int64_t dv, float scale,
                                         std::string &p) {
  if (attn_status s = checkRequest(ctx, out, dtype, d, dv, scale))
    return s;
  if (!pattern)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT, "null pattern");
  p = pattern;
  if (p.find('\n') != std::string::npos || p.find('@') != std::string::npos)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        "pattern must be one attribute, got '" + p + "'");
  return ATTN_OK;
}

extern "C" attn_status attn_get_kernel(attn_context *ctx, const char *pattern,
                                       attn_dtype dtype, int64_t d,
                                       int64_t dv, float scale, int with_lse,
                                       attn_kernel **out) {
  std::string p;
  if (attn_status s =
          checkAttentionRequest(ctx, out, pattern, dtype, d, dv, scale, p))
    return s;
  std::string source = attn::attentionKernelSource(
      "kernel", p, dtypeName(dtype), d, dv, with_lse != 0, scale);
  std::string what = "pattern " + p + " " + dtypeName(dtype) +
                     " D=" + std::to_string(d) + " Dv=" + std::to_string(dv);
  attn::tuning::Key key;
  std::string error;
  std::vector<attn::tuning::Record> tuned;
  if (requestKey(ctx, "attention", p, dtype, d, dv, with_lse != 0, scale, 0,
                 key, error))
    tuned = tunedRecords(key, what);
  return attn::jitKernel(ctx, source, "pattern " + p, out, tuned);
}

extern "C" attn_status attn_get_paged_kernel(attn_context *ctx,
                                             const char *pattern,
                                             attn_dtype dtype, int64_t d,
                                             int64_t dv, float scale,
                                             int with_lse, attn_kernel **out) {
  std::string p;
  if (attn_status s =
          checkAttentionRequest(ctx, out, pattern, dtype, d, dv, scale, p))
    return s;
  // The configure pass's schedule: tuned variants are per range of Nk, and
  // the sequences of a paged cache each have their own.
  std::string source = attn::attentionKernelSource(
      "kernel", p, dtypeName(dtype), d, dv, with_lse != 0, scale, {},
      /*paged=*/true);
  return attn::jitKernel(ctx, source, "paged pattern " + p, out, {});
}

extern "C" attn_status attn_get_lightning_kernel(attn_context *ctx,
                                                 attn_dtype dtype, int64_t d,
                                                 int64_t dv, float scale,
                                                 int flags, attn_kernel **out) {
  if (attn_status s = checkRequest(ctx, out, dtype, d, dv, scale))
    return s;
  if (flags & ~7)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        "unknown lightning flags " + std::to_string(flags));
  std::string source = attn::lightningKernelSource("kernel", dtypeName(dtype),
                                                   d, dv, flags, scale);
  std::string what = std::string("lightning ") + dtypeName(dtype) +
                     " D=" + std::to_string(d) + " Dv=" + std::to_string(dv);
  attn::tuning::Key key;
  std::string error;
  std::vector<attn::tuning::Record> tuned;
  if (requestKey(ctx, "lightning", "", dtype, d, dv, false, scale, flags, key,
                 error))
    tuned = tunedRecords(key, what);
  return attn::jitKernel(ctx, source, "lightning attention", out, tuned);
}

extern "C" attn_status attn_get_kernel_for_shape(
    attn_context *ctx, const char *pattern, attn_dtype dtype, int64_t d,
    int64_t dv, float scale, int with_lse, const attn_shape *shape, int flags,
    attn_kernel **out) {
  if (attn_status s = checkRequest(ctx, out, dtype, d, dv, scale))
    return s;
  if (!pattern || !shape)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        "null pattern or shape");
  if (flags & ~ATTN_TUNE_ON_MISS)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        "unknown flags " + std::to_string(flags));
  bool tuneOnMiss = (flags & ATTN_TUNE_ON_MISS) ||
                    envInt("ATTN_AUTOTUNE", 0) == 1;
  if (tuneOnMiss) {
    attn::TuneRequest r;
    r.pattern = pattern;
    r.dtype = dtype;
    r.d = d;
    r.dv = dv;
    r.lse = with_lse != 0;
    r.scale = scale;
    r.batch = shape->batch;
    r.heads = shape->heads;
    r.kvHeads = shape->kv_heads;
    r.nq = shape->nq;
    r.nk = shape->nk;
    r.budgetSeconds = double(envInt("ATTN_TUNE_BUDGET", 60));
    attn::tuning::Key key;
    std::string error, why;
    if (!attn::tuningKey(ctx, r, key, error))
      return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT, error);
    bool covered = false;
    for (const attn::tuning::Record &rec : attn::tuning::lookup(key, why))
      covered |= rec.key.nqBucket == key.nqBucket &&
                 rec.key.nkBucket == key.nkBucket && rec.key.gqa == key.gqa;
    bool log = std::getenv("ATTN_JIT_LOG") != nullptr;
    bool gpuDilated = attnrt::isCuda(ctx) && r.op == "attention" &&
                      r.pattern.rfind("#attn.dilated", 0) == 0;
    if (!covered && gpuDilated) {
      if (log)
        std::fprintf(stderr, "attn-jit: no record for this shape; dilated "
                             "kernels are not tuned on a GPU: the default "
                             "schedule serves\n");
    } else if (!covered) {
      if (log)
        std::fprintf(stderr,
                     "attn-jit: no record for %s at Nq=%lld Nk=%lld: tuning "
                     "(budget %.0f s)\n",
                     pattern, (long long)r.nq, (long long)r.nk,
                     r.budgetSeconds);
      attn::TuneResult result;
      if (attn_status s = attn::tune(ctx, r, result))
        return s;
      if (log)
        std::fprintf(stderr, "attn-jit: tuned in %.1f s: %s (%.2fx the "
                             "default)\n",
                     result.seconds, result.record.config.c_str(),
                     result.record.defaultMs / result.record.medianMs);
    }
  }
  return attn_get_kernel(ctx, pattern, dtype, d, dv, scale, with_lse, out);
}
