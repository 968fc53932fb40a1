//===- TensorMapParams.cpp - TMA descriptors as grid-constant params ------===//
// The kernels of attn-lower-to-gpu that load tiles with TMA take their
// CUtensorMaps as trailing `!llvm.ptr` arguments and say how many with
// `attn.tensormaps` (followed by `attn.after_maps` more arguments: the
// workspace descriptor of split-KV kernels). After convert-gpu-to-nvvm this
// pass makes those arguments what CUDA's `__grid_constant__ const CUtensorMap` is: 128-byte
// byval parameters, 64-byte aligned, marked nvvm.grid_constant.
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNTENSORMAPPARAMS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {
struct TensorMapParams
    : public attn::impl::AttnTensorMapParamsBase<TensorMapParams> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    Builder b(ctx);
    Type map = LLVM::LLVMArrayType::get(IntegerType::get(ctx, 8), 128);
    WalkResult r = getOperation()->walk([&](LLVM::LLVMFuncOp f) {
      auto count = f->getAttrOfType<IntegerAttr>("attn.tensormaps");
      if (!count)
        return WalkResult::advance();
      int64_t after = 0;
      if (auto a = f->getAttrOfType<IntegerAttr>("attn.after_maps"))
        after = a.getInt();
      int64_t n = count.getInt(), args = f.getNumArguments() - after;
      if (n < 0 || n > args || after < 0 || !f->hasAttr(NVVM::NVVMDialect::getKernelFuncAttrName())) {
        f.emitError() << "attn.tensormaps = " << n
                      << " needs an NVVM kernel with that many trailing "
                         "arguments";
        return WalkResult::interrupt();
      }
      for (int64_t i = args - n; i < args; ++i) {
        if (!isa<LLVM::LLVMPointerType>(f.getArgument(i).getType())) {
          f.emitError() << "tensor map argument " << i << " is not a pointer";
          return WalkResult::interrupt();
        }
        f.setArgAttr(i, LLVM::LLVMDialect::getByValAttrName(),
                     TypeAttr::get(map));
        f.setArgAttr(i, LLVM::LLVMDialect::getAlignAttrName(),
                     b.getI64IntegerAttr(64));
        f.setArgAttr(i, NVVM::NVVMDialect::getGridConstantAttrName(),
                     b.getUnitAttr());
      }
      f->removeAttr("attn.tensormaps");
      f->removeAttr("attn.after_maps");
      return WalkResult::advance();
    });
    if (r.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
