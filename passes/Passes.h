//===- Passes.h - the attn compiler passes and pipelines --------*- C++ -*-===//
// Declarations of the attn passes (generated from Passes.td) and of the
// pipelines that chain them per target.
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_PASSES_H
#define ATTN_PASSES_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace mlir::attn {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// Tile sizes and register blocking of the CPU target.
struct CPUOptions {
  int64_t blockM = 0; ///< 0: chosen per kernel from the head dim
  int64_t blockN = 0;
  int64_t vectorWidth = 8;
  int64_t mrKeys = 6;
  int64_t mrValues = 6;
};

/// attn -> tiled vector code (the `mlir` stage of attnc's CPU target).
void buildCPUTilingPipeline(OpPassManager &pm, const CPUOptions &options);
/// Tiled vector code -> LLVM dialect (the `llvm` stage, before translation).
void buildCPUToLLVMPipeline(OpPassManager &pm);
/// Registers `attn-cpu-pipeline` (both of the above) for attn-opt.
void registerAttnPipelines();

} // namespace mlir::attn

#endif // ATTN_PASSES_PASSES_H
