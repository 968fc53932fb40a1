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
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void mlir::attn::buildGPUTilingPipeline(OpPassManager &pm,
                                        const GPUOptions &o) {
  pm.addPass(createAttnLowerToGPU(o));
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
// The pipelines' options take their defaults from the passes' (Passes.td).
struct CPUPipelineOptions : public PassPipelineOptions<CPUPipelineOptions> {
  Option<int64_t> blockM{*this, "block-m", llvm::cl::init(CPUOptions().blockM)};
  Option<int64_t> blockN{*this, "block-n", llvm::cl::init(CPUOptions().blockN)};
  Option<int64_t> vectorWidth{*this, "vector-width",
                              llvm::cl::init(CPUOptions().vectorWidth)};
};

struct GPUPipelineOptions : public PassPipelineOptions<GPUPipelineOptions> {
  Option<std::string> chip{*this, "chip", llvm::cl::init(GPUOptions().chip)};
  Option<int64_t> blockN{*this, "block-n", llvm::cl::init(GPUOptions().blockN)};
  Option<int64_t> warps{*this, "warps", llvm::cl::init(GPUOptions().warps)};
  Option<int64_t> stages{*this, "stages", llvm::cl::init(GPUOptions().stages)};
  Option<bool> tma{*this, "tma", llvm::cl::init(GPUOptions().tma)};
  Option<bool> wgmmaPv{*this, "wgmma-pv", llvm::cl::init(GPUOptions().wgmmaPv)};
  Option<bool> asyncQk{*this, "async-qk", llvm::cl::init(GPUOptions().asyncQk)};
  Option<bool> warpSpecialize{*this, "warp-specialize",
                              llvm::cl::init(GPUOptions().warpSpecialize)};
  Option<bool> pingpong{*this, "pingpong",
                        llvm::cl::init(GPUOptions().pingpong)};
  Option<bool> wsOverlap{*this, "ws-overlap",
                         llvm::cl::init(GPUOptions().wsOverlap)};
  Option<bool> stridedTma{*this, "strided-tma",
                          llvm::cl::init(GPUOptions().stridedTma)};
  Option<int64_t> ctasPerSm{*this, "ctas-per-sm",
                            llvm::cl::init(GPUOptions().ctasPerSm)};
  Option<int64_t> wsMinKeys{*this, "ws-min-keys",
                            llvm::cl::init(GPUOptions().wsMinKeys)};
};
} // namespace

void mlir::attn::registerAttnPipelines() {
  PassPipelineRegistration<GPUPipelineOptions>(
      "attn-gpu-pipeline",
      "attn ops to NVVM inside a gpu.module (tiling, tensor-core kernels, "
      "lowering); follow with gpu-module-to-binary",
      [](OpPassManager &pm, const GPUPipelineOptions &o) {
        GPUOptions opt;
        opt.chip = o.chip;
        opt.blockN = o.blockN;
        opt.warps = o.warps;
        opt.stages = o.stages;
        opt.tma = o.tma;
        opt.wgmmaPv = o.wgmmaPv;
        opt.asyncQk = o.asyncQk;
        opt.warpSpecialize = o.warpSpecialize;
        opt.pingpong = o.pingpong;
        opt.wsOverlap = o.wsOverlap;
        opt.stridedTma = o.stridedTma;
        opt.ctasPerSm = o.ctasPerSm;
        opt.wsMinKeys = o.wsMinKeys;
        buildGPUTilingPipeline(pm, opt);
        buildGPUToNVVMPipeline(pm, opt);
      });
  PassPipelineRegistration<CPUPipelineOptions>(
      "attn-cpu-pipeline",
      "attn ops to the LLVM dialect for the CPU (tiling, micro-kernels, "
      "lowering)",
      [](OpPassManager &pm, const CPUPipelineOptions &o) {
        CPUOptions opt;
        opt.blockM = o.blockM;
        opt.blockN = o.blockN;
        opt.vectorWidth = o.vectorWidth;
        buildCPUConfigurePipeline(pm, opt);
        buildCPUTilingPipeline(pm);
        buildCPUToLLVMPipeline(pm);
      });
}
