//===- Compiler.h - the attn compiler driver --------------------*- C++ -*-===//
// From attn kernel source to every artifact: tiled MLIR, LLVM dialect, LLVM
// IR, object, shared object and C header. Used by attnc and by the JIT layer
// of the runtime, so that both produce the same artifacts.
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_JIT_COMPILER_H
#define ATTN_RUNTIME_JIT_COMPILER_H

#include "passes/Passes.h"
#include "runtime/jit/Tuning.h"

#include <string>
#include <vector>

namespace attn {

/// Stages attnc can stop at. Object and SharedObject are CPU-only; PTX and
/// Cubin GPU-only; Header is a C header for either (for the GPU, with the
/// binary embedded and a typed launch function).
enum class Emit {
  Attn,       ///< the input, parsed and verified
  Decomposed, ///< dilated ops as clear + attentions over strided rows
  Configured, ///< each op with its attn.schedule
  Tiled,
  LLVMDialect,
  LLVMIR,
  Object,
  SharedObject,
  PTX,
  Cubin,
  Header
};

struct CompileOptions {
  /// "cpu", "sm_80" or "sm_90a".
  std::string target = "cpu";
  mlir::attn::CPUOptions cpu;
  mlir::attn::GPUOptions gpu;
  /// LLVM CPU name and extra features (`+avx512f,-amx-tile`, as llc's
  /// -mattr); an empty name means the host CPU with the host's features.
  std::string cpuName;
  std::string cpuFeatures;
  /// When set, every stage is written there (ATTN_DUMP_DIR).
  std::string dumpDir;
  /// Tuned schedules (CPU): a kernel function holding one attention or
  /// lightning op that records match (op, pattern, dtype, D, Dv) gets one
  /// op per variant of tuning::dispatchPlan, each scheduled for its range
  /// of Nk (the configure pass's rule fills the gaps); the kernel picks
  /// one at launch. The caller chose the records (device, compiler).
  std::vector<tuning::Record> tuned;
  /// Where compile() says which functions got tuned variants (may be null).
  std::vector<std::string> *tuningLog = nullptr;
};

/// A CPU the generated code is for: LLVM's name and feature string, the ISA
/// extensions the code may use (what a host must have to run it), and the
/// vector shape that suits it.
struct CPUTarget {
  std::string name;
  std::string features;              ///< the TargetMachine's feature string
  std::vector<std::string> required; ///< ISA extensions, LLVM's spelling
  int64_t vectorWidth = 8;           ///< f32 lanes: 16 with AVX-512, else 8
  int64_t mr = 6;                    ///< micro-kernel rows (registers)
};

/// Resolves `cpuName` (empty: the host, or $ATTN_CPU when set) and `mattr`
/// (added to the CPU's features; empty: $ATTN_CPU_FEATURES) into a target.
/// False with `error` naming an unknown CPU or feature.
bool resolveCPUTarget(const std::string &cpuName, const std::string &mattr,
                      CPUTarget &out, std::string &error);

/// Vector width and register blocking that suit `target` (compile() adds
/// the target's CPU and ISA extensions from options.cpuName/cpuFeatures).
mlir::attn::CPUOptions cpuOptionsFor(const CPUTarget &target);

/// Vector width and register blocking of the default CPU target (the host,
/// or $ATTN_CPU); falls back to AVX2's shape if that cannot be resolved.
mlir::attn::CPUOptions hostCPUOptions();

/// Compiles kernel source text. On success `out` holds the artifact of
/// `emit` (text or binary); on failure `error` holds the diagnostics.
bool compile(const std::string &source, const std::string &sourceName,
             Emit emit, const CompileOptions &options, std::string &out,
             std::string &error);

/// MLIR source of one attention kernel named `name`, as the kernel library
/// writes them (strided views, dynamic B/H/N, static head dims). With
/// `schedules`, one op per schedule (attn.schedule attribute text, each for
/// its range of Nk): the tuned variants the kernel dispatches between.
/// `paged`: K and V are a paged cache, the block table and lengths follow
/// them (attn_get_paged_kernel's argument order).
std::string attentionKernelSource(
    const std::string &name, const std::string &pattern,
    const std::string &dtype, int64_t d, int64_t dv, bool withLse,
    float scale = 0, const std::vector<std::string> &schedules = {},
    bool paged = false);

/// MLIR source of one lightning kernel; flags as ATTN_LIGHTNING_* of the C
/// API (1 slopes, 2 state in, 4 state out).
std::string lightningKernelSource(
    const std::string &name, const std::string &dtype, int64_t d, int64_t dv,
    int flags, float scale = 0, const std::vector<std::string> &schedules = {});

/// Everything about `options` that changes generated code, as text: the
/// target (CPU name and features, or GPU target and ptxas) and the pass
/// pipelines compile() runs, printed with all their options. The JIT cache
/// key hashes it.
std::string pipelineFingerprint(const CompileOptions &options);

/// The ptxas of the CUDA toolkit: $CUDA_HOME/bin, then PATH. Empty when
/// neither has one.
std::string findPtxas();

/// MLIR's parser recurses once per bracket level without a limit, so deeply
/// nested text overflows the stack. False with `error` when `text` nests
/// brackets ([{(<) deeper than `limit` (outside strings and comments).
bool checkNesting(const std::string &text, const std::string &what,
                  std::string &error, int limit = 256);

/// Writes `data` to `path` atomically (temporary file + rename).
bool writeFileAtomic(const std::string &path, const std::string &data,
                     std::string &error);

/// A version string that changes whenever generated code may change.
const char *compilerVersion();

} // namespace attn

#endif // ATTN_RUNTIME_JIT_COMPILER_H
