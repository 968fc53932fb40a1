//===- Pipelines.cpp - the pass pipelines of each target ------------------===//
// One visible function per target and stage, as attnc and the JIT run them.
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::attn;

void mlir::attn::buildDecomposePipeline(OpPassManager &pm) {
  pm.addPass(createAttnDecomposeDilated());
}

void mlir::attn::buildCPUConfigurePipeline(OpPassManager &pm,
                                           const CPUOptions &o) {
  pm.addPass(createAttnConfigureCPU(o));
}

void mlir::attn::buildCPUTilingPipeline(OpPassManager &pm) {
  pm.addPass(createAttnLowerToCPU());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mlir::attn::buildCPUToLLVMPipeline(OpPassManager &pm) {
  pm.addPass(createAttnApproximateMath());
  // bf16 <-> f32 as integer code: no libgcc/compiler-rt helper needed.
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expand));
  pm.addPass(createLoopInvariantCodeMotionPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  // x86vector: the bf16 dot products (vdpbf16ps) and conversions
  // (vcvtneps2bf16) of AVX512-BF16 targets; amx: the tile products of AMX
  // targets.
  ConvertVectorToLLVMPassOptions vectorToLLVM;
  vectorToLLVM.x86Vector = true;
  vectorToLLVM.amx = true;
  pm.addPass(createConvertVectorToLLVMPass(vectorToLLVM));
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void mlir::attn::buildGPUConfigurePipeline(OpPassManager &pm,
                                           const GPUOptions &o) {
  pm.addPass(createAttnConfigureGPU(o));
}

void mlir::attn::buildGPUTilingPipeline(OpPassManager &pm) {
  pm.addPass(createAttnLowerToGPU());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mlir::attn::buildGPUToNVVMPipeline(OpPassManager &pm,
                                        const GPUOptions &o) {
  GpuNVVMAttachTargetOptions target;
  target.chip = o.chip;
  // MLIR's default (+ptx60) is too old for sm_80 and sm_90a.
  target.features = "+ptx80";
  target.optLevel = 3;
  pm.addPass(createGpuNVVMAttachTarget(target));
  OpPassManager &gpu = pm.nest<gpu::GPUModuleOp>();
  gpu.addPass(createSCFToControlFlowPass());
  gpu.addPass(memref::createExpandStridedMetadataPass());
  gpu.addPass(createLowerAffinePass());
  gpu.addPass(createConvertNVGPUToNVVMPass());
  gpu.addPass(createConvertGpuOpsToNVVMOps());
  gpu.addPass(createAttnTensorMapParams());
  // What convert-gpu-to-nvvm leaves of math (ctlz of the default lightning
  // slopes) maps to LLVM intrinsics.
  gpu.addPass(createConvertMathToLLVMPass());
  // NVVM ops without an LLVM intrinsic (wgmma, proxy fences) become inline
  // PTX.
  gpu.addPass(createConvertNVVMToLLVMPass());
  gpu.addPass(createCanonicalizerPass());
  gpu.addPass(createCSEPass());
  gpu.addPass(createReconcileUnrealizedCastsPass());
}

namespace {
// The tiling options are the passes' own (Passes.td): run the passes by name
// (attn-configure-cpu{...}, attn-configure-gpu{...}) to set them. The GPU
// pipeline needs its chip for the NVVM target too.
struct GPUPipelineOptions : public PassPipelineOptions<GPUPipelineOptions> {
  Option<std::string> chip{*this, "chip", llvm::cl::init(GPUOptions().chip),
                           llvm::cl::desc("sm_80 or sm_90a")};
};
} // namespace

void mlir::attn::registerAttnPipelines() {
  PassPipelineRegistration<GPUPipelineOptions>(
      "attn-gpu-pipeline",
      "attn ops to NVVM inside a gpu.module (decomposition, schedule, "
      "tensor-core kernels, lowering); follow with gpu-module-to-binary",
      [](OpPassManager &pm, const GPUPipelineOptions &o) {
        GPUOptions opt;
        opt.chip = o.chip;
        buildDecomposePipeline(pm);
        buildGPUConfigurePipeline(pm, opt);
        buildGPUTilingPipeline(pm);
        buildGPUToNVVMPipeline(pm, opt);
      });
  PassPipelineRegistration<>(
      "attn-cpu-pipeline",
      "attn ops to the LLVM dialect for the CPU (decomposition, schedule, "
      "micro-kernels, lowering)",
      [](OpPassManager &pm) {
        buildDecomposePipeline(pm);
        buildCPUConfigurePipeline(pm, CPUOptions());
        buildCPUTilingPipeline(pm);
        buildCPUToLLVMPipeline(pm);
      });
}
