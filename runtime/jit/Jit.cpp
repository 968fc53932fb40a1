//===- Jit.cpp - the JIT layer of the runtime: compile on a cache miss ----===//
// attn_get_kernel(): builds the kernel source for a pattern, looks it up in
// memory and in the disk cache (key = hash of compiler version, source,
// target and tile options), compiles it when missing, and loads it through
// the core.
//===----------------------------------------------------------------------===//
#include "runtime/attnrt.h"
#include "runtime/core/Internal.h"
#include "runtime/jit/Compiler.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/xxhash.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/TargetParser/Host.h"

#include <chrono>
#include <dlfcn.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

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

/// Reads a cache entry; false when missing or when its hash does not match.
bool readEntry(const std::string &so, const std::string &sha) {
  auto data = llvm::MemoryBuffer::getFile(so);
  auto expect = llvm::MemoryBuffer::getFile(sha);
  if (!data || !expect)
    return false;
  return sha256Hex((*data)->getBuffer()) == (*expect)->getBuffer().trim();
}

/// Identity of the compiler that generates the code: a hash of the shared
/// library this code is in (the compiler is linked into it), so a rebuilt
/// compiler never reuses kernels of an older one. Computed once.
const std::string &compilerIdentity() {
  static const std::string id = [] {
    std::string fallback = attn::compilerVersion();
    Dl_info info;
    if (!dladdr(reinterpret_cast<void *>(&attn_get_kernel), &info) ||
        !info.dli_fname)
      return fallback;
    auto buf = llvm::MemoryBuffer::getFile(info.dli_fname);
    if (!buf)
      return fallback;
    return fallback + "-" +
           llvm::utohexstr(llvm::xxh3_64bits((*buf)->getBuffer()));
  }();
  return id;
}

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

/// The kernel `kernel` of `source`: from memory, the disk cache, or compiled.
attn_status kernelForSource(attn_context *ctx, const std::string &source,
                            const std::string &what, attn_kernel **out) {
  using attnrt::fail;
  attn::CompileOptions options;
  // The host CPU, or $ATTN_CPU / $ATTN_CPU_FEATURES (to test the code of
  // another CPU that this host can run).
  attn::CPUTarget cpuTarget;
  std::string targetError;
  if (!attn::resolveCPUTarget("", "", cpuTarget, targetError))
    return fail(ATTN_ERROR_INVALID_ARGUMENT, targetError);
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
  // A CUDA context gets a GPU kernel: a cubin where ptxas is installed, else
  // PTX, which the driver compiles at load.
  bool gpu = attnrt::isCuda(ctx);
  attn::Emit emit = attn::Emit::SharedObject;
  std::string ext = ".so",
              target = "cpu " + cpuTarget.name + " " + cpuTarget.features;
  if (gpu) {
    options.target =
        attnrt::cudaComputeCapability(ctx) >= 90 ? "sm_90a" : "sm_80";
    options.gpu.warps = envInt("ATTN_GPU_WARPS", options.gpu.warps);
    options.gpu.blockN = envInt("ATTN_BLOCK_N", options.gpu.blockN);
    options.gpu.stages = envInt("ATTN_GPU_STAGES", options.gpu.stages);
    options.gpu.tma = envInt("ATTN_GPU_TMA", 1) != 0;
    options.gpu.warpSpecialize = envInt("ATTN_GPU_WS", 1) != 0;
    bool cubin = !attn::findPtxas().empty();
    emit = cubin ? attn::Emit::Cubin : attn::Emit::PTX;
    ext = cubin ? ".cubin" : ".ptx";
    target = options.target + ext + " " + std::to_string(options.gpu.warps) +
             "," + std::to_string(options.gpu.blockN) + "," +
             std::to_string(options.gpu.stages) +
             (options.gpu.tma ? "" : ",cp.async") +
             (options.gpu.warpSpecialize ? "" : ",no-ws");
  }
  std::string key = sha256Hex(
      compilerIdentity() + "\n" + source + "\n" + target + "\n" +
      std::to_string(options.cpu.blockM) + "," +
      std::to_string(options.cpu.blockN) + "," +
      std::to_string(options.cpu.vectorWidth) + "," +
      std::to_string(options.cpu.mrKeys) + "," +
      std::to_string(options.cpu.mrValues));

  std::string so;
  {
    std::lock_guard<std::mutex> g(cacheMutex);
    auto it = memoryCache.find(key);
    if (it != memoryCache.end())
      so = it->second;
  }
  if (so.empty()) {
    std::string dir = cacheDir();
    if (std::error_code ec = llvm::sys::fs::create_directories(dir))
      return fail(ATTN_ERROR_IO,
                  "cannot create cache directory '" + dir + "': " +
                      ec.message());
    std::string path = dir + "/" + key + ext, sha = path + ".sha256";
    bool log = std::getenv("ATTN_JIT_LOG") != nullptr;
    auto start = std::chrono::steady_clock::now();
    auto elapsedMs = [&] {
      return std::chrono::duration<double, std::milli>(
                 std::chrono::steady_clock::now() - start)
          .count();
    };
    if (readEntry(path, sha)) {
      if (log)
        std::fprintf(stderr, "attn-jit: disk cache hit %s (%.1f ms)\n",
                     key.substr(0, 12).c_str(), elapsedMs());
    } else {
      // Missing or corrupt: compile, then publish .so before its hash so a
      // reader never accepts a half-written entry.
      std::string binary, error;
      if (!attn::compile(source, "<attn-jit>", emit, options, binary, error))
        return fail(ATTN_ERROR_COMPILE,
                    "cannot compile " + what + ": " + error);
      if (!attn::writeFileAtomic(path, binary, error) ||
          !attn::writeFileAtomic(sha, sha256Hex(binary) + "\n", error))
        return fail(ATTN_ERROR_IO, error);
      if (log)
        std::fprintf(stderr, "attn-jit: compiled %s in %.1f ms\n",
                     key.substr(0, 12).c_str(), elapsedMs());
    }
    so = path;
    std::lock_guard<std::mutex> g(cacheMutex);
    memoryCache[key] = so;
  }
  return attn_kernel_load(ctx, so.c_str(), "kernel", out);
}


} // namespace

extern "C" attn_status attn_get_kernel(attn_context *ctx, const char *pattern,
                                       attn_dtype dtype, int64_t d,
                                       int64_t dv, float scale, int with_lse,
                                       attn_kernel **out) {
  if (attn_status s = checkRequest(ctx, out, dtype, d, dv, scale))
    return s;
  if (!pattern)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT, "null pattern");
  std::string p = pattern;
  if (p.find('\n') != std::string::npos || p.find('@') != std::string::npos)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        "pattern must be one attribute, got '" + p + "'");
  return kernelForSource(ctx,
                         attn::attentionKernelSource("kernel", p,
                                                     dtypeName(dtype), d, dv,
                                                     with_lse != 0, scale),
                         "pattern " + p, out);
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
  return kernelForSource(
      ctx,
      attn::lightningKernelSource("kernel", dtypeName(dtype), d, dv, flags,
                                  scale),
      "lightning attention", out);
}
