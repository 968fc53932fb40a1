//===- Pipelines.cpp - the pass pipelines of each target ------------------===//
// One visible function per target and stage, as attnc and the JIT run them.
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::attn;

void mlir::attn::buildCPUTilingPipeline(OpPassManager &pm,
                                        const CPUOptions &o) {
  pm.addPass(createAttnLowerToCPU(
      {o.blockM, o.blockN, o.vectorWidth, o.mrKeys, o.mrValues}));
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

namespace {
struct CPUPipelineOptions : public PassPipelineOptions<CPUPipelineOptions> {
  Option<int64_t> blockM{*this, "block-m", llvm::cl::init(0)};
  Option<int64_t> blockN{*this, "block-n", llvm::cl::init(0)};
  Option<int64_t> vectorWidth{*this, "vector-width", llvm::cl::init(8)};
};
} // namespace

void mlir::attn::registerAttnPipelines() {
  PassPipelineRegistration<CPUPipelineOptions>(
      "attn-cpu-pipeline",
      "attn ops to the LLVM dialect for the CPU (tiling, micro-kernels, "
      "lowering)",
      [](OpPassManager &pm, const CPUPipelineOptions &o) {
        CPUOptions opt;
        opt.blockM = o.blockM;
        opt.blockN = o.blockN;
        opt.vectorWidth = o.vectorWidth;
        buildCPUTilingPipeline(pm, opt);
        buildCPUToLLVMPipeline(pm);
      });
}
