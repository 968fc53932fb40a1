//===- GPUWgmma.cpp - sm_90a warpgroup products ---------------------------===//
// sm_90a warpgroup products: matrix descriptors of shared-memory tiles,
// S = Q K^T as a wgmma chain, O += P V as register-A wgmma in inline PTX,
// and waits that keep in-flight registers.
//===----------------------------------------------------------------------===//
#include "passes/GPUCodegen.h"

using namespace mlir;
using namespace mlir::attn;

namespace mlir::attn::gpucg {

Value KernelCodegen::descriptor(Value tile, Value byteOffset) {
  OpBuilder &b = e.b;
  Value addr = memref::ExtractAlignedPointerAsIndexOp::create(b, e.loc, tile);
  addr = e.add(addr, byteOffset);
  // Bits 0-13: address / 16; 16-29: LBO / 16; 32-45: SBO / 16; 62-63: the
  // swizzle mode. No swizzle: LBO is the step between core matrices along
  // K, SBO between 8-row groups. 128-byte swizzle (1): SBO is 8 rows of 128
  // bytes, LBO unused (1); the k16 steps of an atom are 32 bytes apart.
  return descriptor(tile, byteOffset, c.tma ? 16 : 128, c.tma ? 1024 : c.d * 16,
                    c.tma ? 1 : 0);
}

Value KernelCodegen::descriptor(Value tile, Value byteOffset, int64_t lbo,
                                int64_t sbo, int64_t mode) {
  OpBuilder &b = e.b;
  Value addr = memref::ExtractAlignedPointerAsIndexOp::create(b, e.loc, tile);
  addr = e.add(addr, byteOffset);
  Value lo = arith::AndIOp::create(b, e.loc, e.div(addr, e.idx(16)),
                                   e.idx(0x3FFF));
  Value fields = e.idx((lbo / 16) << 16 | (sbo / 16) << 32 | mode << 62);
  Value desc = arith::OrIOp::create(b, e.loc, lo, fields);
  return arith::IndexCastUIOp::create(b, e.loc, b.getI64Type(), desc);
}

SmallVector<Value> KernelCodegen::packP(ArrayRef<Value> p) {
  SmallVector<Value> regs;
  VectorType half2 = vec({2}, c.elt);
  for (int64_t kk = 0; kk < c.blockN / 16; ++kk)
    for (int64_t blk = 0; blk < 2; ++blk)
      for (int64_t hf = 0; hf < 2; ++hf)
        regs.push_back(LLVM::BitcastOp::create(
            e.b, e.loc, e.b.getI32Type(),
            arith::TruncFOp::create(e.b, e.loc, half2,
                                    extract(p[2 * kk + blk], {hf}))));
  return regs;
}

SmallVector<Value> KernelCodegen::waitKeeping(int64_t n, ArrayRef<Value> keep) {
  MLIRContext *ctx = e.b.getContext();
  std::string constraints;
  SmallVector<Type> types;
  for (Value v : keep) {
    constraints += v.getType().isF32() ? "=f," : "=r,";
    types.push_back(v.getType());
  }
  for (size_t i = 0; i < keep.size(); ++i)
    constraints += std::to_string(i) + (i + 1 < keep.size() ? "," : "");
  auto resT = LLVM::LLVMStructType::getLiteral(ctx, types);
  Value res = LLVM::InlineAsmOp::create(
                  e.b, e.loc, resT, keep,
                  "wgmma.wait_group.sync.aligned " + std::to_string(n) + ";",
                  constraints, /*has_side_effects=*/true,
                  /*is_align_stack=*/false,
                  LLVM::tailcallkind::TailCallKind::None,
                  LLVM::AsmDialectAttr::get(ctx, LLVM::AsmDialect::AD_ATT),
                  ArrayAttr())
                  .getResult(0);
  SmallVector<Value> out;
  for (size_t i = 0; i < keep.size(); ++i)
    out.push_back(LLVM::ExtractValueOp::create(e.b, e.loc, res, i));
  return out;
}

SmallVector<Value> KernelCodegen::pvWgmmaPacked(ArrayRef<Value> packedP,
                                                Value stage,
                                                ArrayRef<Value> acc,
                                                bool wait) {
  // Why inline PTX: MLIR 22's nvvm.wgmma.mma_async takes A from shared
  // memory only; FlashAttention-3 keeps P in registers as A, which saves a
  // store, a fence and a barrier per tile. LLVM could otherwise schedule the
  // rescaling of the accumulators between wgmma.fence and the wgmma, so the
  // fence, the chain, the commit and the wait are one asm block.
  OpBuilder &b = e.b;
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  int64_t eb = c.elt.getIntOrFloatBitWidth() / 8;
  int64_t nAcc = c.dv / 2, steps = c.blockN / 16;
  SmallVector<Value> operands;
  for (Value a : acc)
    for (int64_t hf = 0; hf < 2; ++hf)
      for (int64_t x = 0; x < 2; ++x)
        operands.push_back(extract(a, {hf, x}));
  operands.append(packedP.begin(), packedP.end());
  // V's stage: atoms of 64 columns (BN rows of 128 bytes) one after the
  // other. MN-major with 128-byte swizzle: LBO = the step between atoms
  // along N (Dv), SBO = 8 key rows; k16 step kk starts 16 rows further.
  Value vStage = e.mul(stage, e.idx(c.blockN * c.dv * eb));
  for (int64_t kk = 0; kk < steps; ++kk)
    operands.push_back(descriptor(sV, e.add(vStage, e.idx(kk * 16 * 128)),
                                  c.blockN * 128, 1024, 1));
  operands.push_back(i32(1));
  std::string type = c.elt.isF16() ? "f16" : "bf16";
  std::string text = "{\n.reg .pred p;\nsetp.ne.b32 p, $" +
                     std::to_string(2 * nAcc + 5 * steps) +
                     ", 0;\nwgmma.fence.sync.aligned;\n";
  std::string accList;
  for (int64_t i = 0; i < nAcc; ++i)
    accList += (i ? ", $" : "$") + std::to_string(i);
  for (int64_t kk = 0; kk < steps; ++kk) {
    int64_t a0 = 2 * nAcc + 4 * kk, desc = 2 * nAcc + 4 * steps + kk;
    text += llvm::formatv("wgmma.mma_async.sync.aligned.m64n{0}k16.f32.{1}.{1} "
                          "{{{2}}, {${3}, ${4}, ${5}, ${6}}, ${7}, p, 1, 1, 1;\n",
                          c.dv, type, accList, a0, a0 + 1, a0 + 2, a0 + 3, desc)
                .str();
  }
  text += "wgmma.commit_group.sync.aligned;\n";
  if (wait)
    text += "wgmma.wait_group.sync.aligned 0;\n";
  text += "}";
  std::string constraints;
  for (int64_t i = 0; i < nAcc; ++i)
    constraints += "=f,";
  for (int64_t i = 0; i < nAcc; ++i)
    constraints += std::to_string(i) + ",";
  for (int64_t i = 0; i < 4 * steps; ++i)
    constraints += "r,";
  for (int64_t i = 0; i < steps; ++i)
    constraints += "l,";
  constraints += "r";
  auto resT = LLVM::LLVMStructType::getLiteral(ctx, SmallVector<Type>(nAcc, f32));
  Value res = LLVM::InlineAsmOp::create(
                  b, e.loc, resT, operands, text, constraints,
                  /*has_side_effects=*/true, /*is_align_stack=*/false,
                  LLVM::tailcallkind::TailCallKind::None,
                  LLVM::AsmDialectAttr::get(ctx, LLVM::AsmDialect::AD_ATT),
                  ArrayAttr())
                  .getResult(0);
  return fragments(res, c.dv / 8);
}

/// S = Q K^T for the warpgroup's 64 rows by wgmma m64nBNk16, both operands
/// from shared memory; the accumulator fragments have mma.sync's layout, so
/// the rest of the tile code is shared.
SmallVector<Value> KernelCodegen::scoresWgmma(Value stage) {
  Value acc = issueScores(stage);
  NVVM::WgmmaWaitGroupSyncOp::create(e.b, e.loc, 0);
  return fragments(acc, c.blockN / 8);
}

Value KernelCodegen::issueScores(Value stage) {
  OpBuilder &b = e.b;
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  int64_t regs = c.blockN / 2; // 64 x BN f32 over 128 threads
  auto accT = LLVM::LLVMStructType::getLiteral(
      ctx, SmallVector<Type>(regs, f32));
  int64_t sbo = c.d * 16;
  int64_t eb = c.elt.getIntOrFloatBitWidth() / 8;
  Value wg = e.div(warp, e.idx(4));
  Value qRow0 = e.mul(wg, e.idx(8 * sbo)); // 64 rows = 8 groups
  Value kStage = e.mul(stage, e.idx(c.blockN * c.d * eb));
  auto typeAB = NVVM::WGMMATypesAttr::get(
      ctx, c.elt.isF16() ? NVVM::WGMMATypes::f16 : NVVM::WGMMATypes::bf16);
  Value acc = LLVM::PoisonOp::create(b, e.loc, accT);
  NVVM::WgmmaFenceAlignedOp::create(b, e.loc);
  if (c.tma)
    qRow0 = e.mul(wg, e.idx(64 * 128)); // 64 rows of 128 bytes per atom
  for (int64_t kk = 0; kk < c.d / 16; ++kk) {
    Value descA, descB;
    if (c.tma) {
      // Atom kk / 4 of each tile, k16 step kk % 4 of the atom's 128 bytes.
      int64_t inAtom = (kk % 4) * 32;
      descA = descriptor(sQ, e.add(qRow0, e.idx((kk / 4) * c.blockM * 128 +
                                                inAtom)));
      descB = descriptor(sK, e.add(kStage, e.idx((kk / 4) * c.blockN * 128 +
                                                 inAtom)));
    } else {
      Value step = e.idx(kk * 256); // two core matrices along K
      descA = descriptor(sQ, e.add(qRow0, step));
      descB = descriptor(sK, e.add(kStage, step));
    }
    // The first step ignores the (uninitialised) accumulator: scale-d = 0.
    acc = NVVM::WgmmaMmaAsyncOp::create(
        b, e.loc, accT, acc, descA, descB,
        NVVM::MMAShapeAttr::get(ctx, 64, c.blockN, 16), typeAB, typeAB,
        NVVM::WGMMATypesAttr::get(ctx, NVVM::WGMMATypes::f32),
        NVVM::WGMMAScaleOutAttr::get(ctx, kk == 0 ? NVVM::WGMMAScaleOut::zero
                                                  : NVVM::WGMMAScaleOut::one),
        NVVM::WGMMAScaleInAttr::get(ctx, NVVM::WGMMAScaleIn::one),
        NVVM::WGMMAScaleInAttr::get(ctx, NVVM::WGMMAScaleIn::one),
        NVVM::MMALayoutAttr::get(ctx, NVVM::MMALayout::row),
        NVVM::MMALayoutAttr::get(ctx, NVVM::MMALayout::col),
        NVVM::MMAIntOverflowAttr());
  }
  NVVM::WgmmaGroupSyncAlignedOp::create(b, e.loc);
  return acc;
}

} // namespace mlir::attn::gpucg
