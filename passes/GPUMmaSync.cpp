//===- GPUMmaSync.cpp - ldmatrix, mma.sync and masks ----------------------===//
// Tensor-core products on sm_80 fragments: ldmatrix loads of Q and K, the
// m16n8k16 mma.sync, and the pattern masks applied to score fragments.
//===----------------------------------------------------------------------===//
#include "passes/GPUCodegen.h"

using namespace mlir;
using namespace mlir::attn;

namespace mlir::attn::gpucg {

Value KernelCodegen::mma(Value a, Value bFrag, Value acc) {
  if (c.elt.isF16())
    return nvgpu::MmaSyncOp::create(e.b, e.loc, a, bFrag, acc,
                                    ArrayRef<int64_t>{16, 8, 16});
  // MLIR 22's nvgpu.mma.sync lowering cannot type bf16 operands ("failed to
  // deduce operand PTX types"): build nvvm.mma.sync, which takes the packed
  // 32-bit registers and names the bf16 PTX type explicitly.
  OpBuilder &b = e.b;
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  auto pack = [&](Value frag, int64_t rows) {
    SmallVector<Value> regs;
    for (int64_t r = 0; r < rows; ++r)
      regs.push_back(LLVM::BitcastOp::create(b, e.loc, i32, extract(frag, {r})));
    return regs;
  };
  SmallVector<Value> cRegs;
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t x = 0; x < 2; ++x)
      cRegs.push_back(extract(acc, {r, x}));
  auto resT = LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
  Value d = NVVM::MmaOp::create(
      b, e.loc, resT, pack(a, 4), pack(bFrag, 2), cRegs, {16, 8, 16},
      std::nullopt, std::nullopt,
      std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::bf16, NVVM::MMATypes::bf16},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row, NVVM::MMALayout::col});
  SmallVector<Value> elems;
  for (int64_t i = 0; i < 4; ++i)
    elems.push_back(LLVM::ExtractValueOp::create(b, e.loc, d, i));
  return vector::FromElementsOp::create(b, e.loc, VectorType::get({2, 2}, f32),
                                        elems);
}

/// A fragments of this warp's 16 query rows, one per k16 step of D.
SmallVector<Value> KernelCodegen::loadQFragments() {
  // ldmatrix.x4: lanes 8i..8i+7 address the rows of matrix i; matrices are
  // (rows 0-7, k 0-7), (rows 8-15, k 0-7), (rows 0-7, k 8-15), (8-15, 8-15).
  Value mi = e.div(lane, e.idx(8));
  Value row = e.add(e.mul(warp, e.idx(16)),
                    e.add(e.mul(e.rem(mi, e.idx(2)), e.idx(8)),
                          e.rem(lane, e.idx(8))));
  Value colOff = e.mul(e.div(mi, e.idx(2)), e.idx(8));
  SmallVector<Value> qa;
  for (int64_t kk = 0; kk < c.d / 16; ++kk)
    qa.push_back(nvgpu::LdMatrixOp::create(
        e.b, e.loc, vec({4, 2}, c.elt), sQ,
        at(Value(), c.blockM, row, e.add(colOff, e.idx(kk * 16))), false, 4));
  return qa;
}

/// S = Q K^T for this warp: BN / 8 accumulators of m16n8.
SmallVector<Value> KernelCodegen::scores(ArrayRef<Value> qa, Value stage) {
  // B operand (k = d, n = key) is K's rows: ldmatrix without transpose.
  // Matrices: (keys 0-7, d 0-7), (keys 0-7, d 8-15), (keys 8-15, d 0-7),
  // (keys 8-15, d 8-15): two n8 blocks of one k16 step.
  Value mi = e.div(lane, e.idx(8));
  Value keyOff =
      e.add(e.mul(e.div(mi, e.idx(2)), e.idx(8)), e.rem(lane, e.idx(8)));
  Value colOff = e.mul(e.rem(mi, e.idx(2)), e.idx(8));
  VectorType accT = vec({2, 2}, e.b.getF32Type());
  SmallVector<Value> s(c.blockN / 8, zeros(accT));
  for (int64_t kk = 0; kk < c.d / 16; ++kk) {
    for (int64_t jj = 0; jj < c.blockN / 16; ++jj) {
      Value frag = nvgpu::LdMatrixOp::create(
          e.b, e.loc, vec({4, 2}, c.elt), sK,
          at(stage, c.blockN, e.add(keyOff, e.idx(jj * 16)),
             e.add(colOff, e.idx(kk * 16))),
          false, 4);
      for (int64_t h = 0; h < 2; ++h) {
        Value b = halfOf(frag, h);
        int64_t j = 2 * jj + h;
        s[j] = mma(qa[kk], b, s[j]);
      }
    }
  }
  return s;
}

SmallVector<Value> KernelCodegen::mask(ArrayRef<Value> s, Value n0,
                                       Value lo[2], Value hi[2]) {
  SmallVector<Value> out(s);
  // Bounds relative to this thread's first key, in 32 bits (keys and rows
  // fit: N < 2^31): each element compares against constants, and no 64-bit
  // key index stays live (fewer registers in the masked tiles).
  Value colBase = e.toI32(e.add(n0, e.mul(quadCol, e.idx(2))));
  Value loRel[2], hiRel[2];
  for (int64_t h = 0; h < 2; ++h) {
    loRel[h] = arith::SubIOp::create(e.b, e.loc, lo[h], colBase);
    hiRel[h] = arith::SubIOp::create(e.b, e.loc, hi[h], colBase);
  }
  for (int64_t j = 0; j < c.blockN / 8; ++j) {
    for (int64_t h = 0; h < 2; ++h) {
      for (int64_t x = 0; x < 2; ++x) {
        Value off = i32(int32_t(8 * j + x));
        Value ok = arith::AndIOp::create(
            e.b, e.loc, e.cmp(arith::CmpIPredicate::sle, loRel[h], off),
            e.cmp(arith::CmpIPredicate::sge, hiRel[h], off));
        Value v = e.select(ok, extract(out[j], {h, x}), negInf());
        out[j] = insert(v, out[j], {h, x});
      }
    }
  }
  return out;
}

} // namespace mlir::attn::gpucg
