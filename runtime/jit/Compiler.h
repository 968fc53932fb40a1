//===- Compiler.h - the attn compiler driver --------------------*- C++ -*-===//
// From attn kernel source to every artifact: tiled MLIR, LLVM dialect, LLVM
// IR, object, shared object and C header. Used by attnc and by the JIT layer
// of the runtime, so that both produce the same artifacts.
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_JIT_COMPILER_H
#define ATTN_RUNTIME_JIT_COMPILER_H

#include "passes/Passes.h"

#include <string>
#include <vector>

namespace attn {

/// Stages attnc can stop at. Object and SharedObject are CPU-only; PTX and
/// Cubin GPU-only; Header is a C header for either (for the GPU, with the
/// binary embedded and a typed launch function).
enum class Emit {
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
  /// LLVM CPU name and features; empty means the host's.
  std::string cpuName;
  std::string cpuFeatures;
  /// When set, every stage is written there (ATTN_DUMP_DIR).
  std::string dumpDir;
};

/// Vector width and register blocking that suit the host CPU.
mlir::attn::CPUOptions hostCPUOptions();

/// Compiles kernel source text. On success `out` holds the artifact of
/// `emit` (text or binary); on failure `error` holds the diagnostics.
bool compile(const std::string &source, const std::string &sourceName,
             Emit emit, const CompileOptions &options, std::string &out,
             std::string &error);

/// MLIR source of one attention kernel named `name`, as the kernel library
/// writes them (strided views, dynamic B/H/N, static head dims).
std::string attentionKernelSource(const std::string &name,
                                  const std::string &pattern,
                                  const std::string &dtype, int64_t d,
                                  int64_t dv, bool withLse, float scale = 0);

/// MLIR source of one lightning kernel; flags as ATTN_LIGHTNING_* of the C
/// API (1 slopes, 2 state in, 4 state out).
std::string lightningKernelSource(const std::string &name,
                                  const std::string &dtype, int64_t d,
                                  int64_t dv, int flags, float scale = 0);

/// The ptxas of the CUDA toolkit: $CUDA_HOME/bin, then PATH. Empty when
/// neither has one.
std::string findPtxas();

/// Writes `data` to `path` atomically (temporary file + rename).
bool writeFileAtomic(const std::string &path, const std::string &data,
                     std::string &error);

/// A version string that changes whenever generated code may change.
const char *compilerVersion();

} // namespace attn

#endif // ATTN_RUNTIME_JIT_COMPILER_H
