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
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace mlir::attn {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// The discardable attribute that holds an attn op's schedule.
inline constexpr llvm::StringLiteral kScheduleAttrName = "attn.schedule";
/// The op's CPU schedule, or null.
CPUScheduleAttr getCPUSchedule(Operation *op);
/// Checks of a CPU schedule that depend on the op (tile multiples); emits an
/// error on the op.
LogicalResult checkCPUSchedule(Operation *op, CPUScheduleAttr schedule);

/// Options of attn-configure-cpu (tile sizes, register blocking, the CPU).
struct CPUOptions {
  int64_t blockM = 0; ///< 0: chosen per kernel from the head dim
  int64_t blockN = 0;
  int64_t vectorWidth = 8;
  int64_t mrKeys = 6;
  int64_t mrValues = 6;
  std::string cpu;      ///< LLVM CPU name the code is for (metadata)
  std::string features; ///< ISA extensions it may use, comma-separated
};

/// Tiling of the GPU target (sm_80 path: cp.async, ldmatrix, mma.sync).
struct GPUOptions {
  std::string chip = "sm_80"; ///< sm_80 or sm_90a
  int64_t blockM = 0;         ///< 0: 16 * warps
  int64_t blockN = 0;         ///< 0: 128 warp-specialized, else 64
  int64_t warps = 0;          ///< 0: per target and head dim
  int64_t stages = 2;
  bool tma = true;            ///< sm_90a: TMA loads where the layout fits
  bool wgmmaPv = true;        ///< sm_90a wgmma + TMA: P V by register-A wgmma
  bool asyncQk = false;       ///< sm_90a wgmma + TMA: next tile's Q K^T in
                              ///< flight during the softmax (3+ stages)
  bool warpSpecialize = true; ///< sm_90a wgmma + TMA, D = 128, 8 warps: a
                              ///< producer warpgroup feeds the consumers
  bool pingpong = false;       ///< with warpSpecialize: consumers take turns
  bool wsOverlap = false;      ///< with warpSpecialize: softmax under P V
  bool stridedTma = true;      ///< sm_90a TMA: dilated rows r apart by TMA
  int64_t ctasPerSm = 0;       ///< CTAs per SM ptxas leaves registers for
                               ///< (0: per CTA size)
  int64_t wsMinKeys = 2048;    ///< warp-specialize tiles of this many keys
                               ///< on average or more (0: all)
};

/// attn -> gpu.module of tensor-core kernels (the `mlir` stage of the GPU
/// targets).
void buildGPUTilingPipeline(OpPassManager &pm, const GPUOptions &options);
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
/// Registers `attn-cpu-pipeline` (both of the above) for attn-opt.
void registerAttnPipelines();

} // namespace mlir::attn

#endif // ATTN_PASSES_PASSES_H
