//===- Passes.h - the attn compiler passes and pipelines --------*- C++ -*-===//
// Declarations of the attn passes (generated from Passes.td) and of the
// pipelines that chain them per target.
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_PASSES_H
#define ATTN_PASSES_PASSES_H

#include "dialect/AttnDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/AMX/AMXDialect.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace mlir::attn {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// The discardable attribute that holds an attn op's schedule.
inline constexpr llvm::StringLiteral kScheduleAttrName = "attn.schedule";
/// The function attribute naming the pattern a kernel function computes when
/// its ops are pieces of it (attn-decompose-dilated).
inline constexpr llvm::StringLiteral kSourcePatternAttrName =
    "attn.source_pattern";
/// The function attribute listing the TMA tensor maps its GPU kernels share
/// (#attn.tensor_map, in parameter order).
inline constexpr llvm::StringLiteral kTensorMapsAttrName = "attn.tensor_maps";
/// The op's CPU schedule, or null.
CPUScheduleAttr getCPUSchedule(Operation *op);
/// Checks of a CPU schedule that depend on the op (tile multiples); emits an
/// error on the op.
LogicalResult checkCPUSchedule(Operation *op, CPUScheduleAttr schedule);
/// Whether the comma-separated LLVM feature list (a cpu_schedule's
/// `features`) names `feature`.
bool hasCPUFeature(StringRef features, StringRef feature);
/// Whether `op` can multiply bf16 pairs (cpu_schedule bf16_dot): attention
/// (not landmark) on bf16 Q, K, V with an even D, 16 lanes, an even
/// block_n, and avx512bf16 among `features`.
bool bf16DotFits(Operation *op, int64_t vectorWidth, int64_t blockN,
                 StringRef features);
/// Whether the configure pass turns bf16_dot on for a CPU with `features`
/// (where it measured faster).
bool bf16DotPays(StringRef features);
/// Whether `op` can run its bf16 products on AMX tiles (cpu_schedule amx):
/// attention (not landmark) with bf16 Q, K, V, D a multiple of 32 and Dv of
/// 16, vector_width = 16, block_m a multiple of 16 and block_n of 32, and
/// the amx-bf16 and amx-tile features.
bool amxFits(Operation *op, int64_t vectorWidth, int64_t blockM,
             int64_t blockN, StringRef features);
/// The cpu_schedule decode_rows the configure pass gives `op` (0: none).
int64_t decodeRowsFor(Operation *op, int64_t vectorWidth);

/// The options of the CPU and GPU pipelines are the passes' own, declared
/// once in Passes.td (names, defaults, help): attnc, the JIT and the cache
/// key fill and print these structs.
using CPUOptions = AttnConfigureCPUOptions;
using GPUOptions = AttnConfigureGPUOptions;

/// The schedule attn-configure-cpu gives `op` (an attention or lightning op)
/// under `options`: the rule a tuned variant's gaps fall back to.
CPUScheduleAttr decideCPUSchedule(Operation *op, const CPUOptions &options);

/// attn -> attn without dilated ops (the `decomposed` stage, both targets).
void buildDecomposePipeline(OpPassManager &pm);
/// attn -> attn with each op's `attn.schedule` and the functions' tensor
/// maps (the `configured` stage of the GPU targets).
void buildGPUConfigurePipeline(OpPassManager &pm, const GPUOptions &options);
/// Scheduled attn -> gpu.module of tensor-core kernels (the `tiled` stage of
/// the GPU targets).
void buildGPUTilingPipeline(OpPassManager &pm);
/// GPU kernels -> NVVM/LLVM dialect inside the gpu.module, with the NVVM
/// target attached (the `llvm-dialect` stage).
void buildGPUToNVVMPipeline(OpPassManager &pm, const GPUOptions &options);

/// attn -> attn with each op's `attn.schedule` (the `configured` stage).
void buildCPUConfigurePipeline(OpPassManager &pm, const CPUOptions &options);
/// Scheduled attn -> tiled vector code (the `mlir` stage of attnc's CPU
/// target).
void buildCPUTilingPipeline(OpPassManager &pm);
/// Tiled vector code -> LLVM dialect (the `llvm` stage, before translation).
void buildCPUToLLVMPipeline(OpPassManager &pm);
/// Registers `attn-cpu-pipeline` and `attn-gpu-pipeline` (every stage of
/// each, default options but the GPU chip) for attn-opt.
void registerAttnPipelines();

} // namespace mlir::attn

#endif // ATTN_PASSES_PASSES_H
