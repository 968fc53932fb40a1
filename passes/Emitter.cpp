//===- Emitter.cpp - IR-building helpers shared by the targets ------------===//
#include "passes/Emitter.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::attn;

std::string mlir::attn::kernelMetaText(StringRef opName, StringRef pattern,
                                       int64_t phases, TypeRange argTypes,
                                       ArrayRef<StringRef> roles,
                                       attnmeta::KernelMeta meta) {
  meta.op = opName.str();
  meta.pattern = pattern.str();
  meta.phases = phases;
  for (auto [type, role] : llvm::zip(argTypes, roles)) {
    auto t = cast<MemRefType>(type);
    attnmeta::Arg a;
    a.role = role.str();
    llvm::raw_string_ostream(a.dtype) << t.getElementType();
    for (int64_t dim : t.getShape())
      a.dims.push_back(ShapedType::isDynamic(dim) ? -1 : dim);
    meta.args.push_back(a);
  }
  return attnmeta::print(meta);
}

void mlir::attn::emitMetaGlobal(OpBuilder &b, Location loc, StringRef name,
                                std::string meta) {
  meta.push_back('\0');
  auto arrayType = LLVM::LLVMArrayType::get(b.getI8Type(), meta.size());
  LLVM::GlobalOp::create(b, loc, arrayType, /*isConstant=*/true,
                         LLVM::Linkage::External, name, b.getStringAttr(meta));
}

SmallVector<StringRef> mlir::attn::argRoles(Block &entry,
                                            const KernelArgs &operands) {
  SmallVector<StringRef> roles;
  for (BlockArgument arg : entry.getArguments()) {
    StringRef role = "?";
    for (auto [name, member] : kRoles)
      if (operands.*member == arg)
        role = name;
    roles.push_back(role);
  }
  return roles;
}

Value mlir::attn::alibiSlopeLog2(Emitter &e, Value head, Value numHeads) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value h64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), numHeads);
  Value lz = math::CountLeadingZerosOp::create(b, loc, h64);
  Value log2c = arith::SubIOp::create(
      b, loc, arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(63)), lz);
  Value c = arith::ShLIOp::create(
      b, loc, arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(1)), log2c);
  Value cIdx = arith::IndexCastOp::create(b, loc, b.getIndexType(), c);
  Value first = e.cmp(arith::CmpIPredicate::slt, head, cIdx);
  // Numerator index and sequence length of either branch.
  Value num = e.select(first, e.add(head, e.idx(1)),
                       e.add(e.mul(e.sub(head, cIdx), e.idx(2)), e.idx(1)));
  Value len = e.select(first, cIdx, e.mul(cIdx, e.idx(2)));
  auto toF = [&](Value i) {
    Value i64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), i);
    return arith::SIToFPOp::create(b, loc, b.getF32Type(), i64);
  };
  return arith::DivFOp::create(
      b, loc, arith::MulFOp::create(b, loc, e.f32(-8.0), toF(num)), toF(len));
}

LogicalResult mlir::attn::collectKernelOps(func::FuncOp func, StringRef target,
                                           SmallVectorImpl<Operation *> &ops) {
  Block &entry = func.getBody().front();
  for (Operation &o : entry.without_terminator()) {
    if (!isa<AttentionOp, LightningOp, ClearOp>(o))
      return o.emitError() << "the " << target
                           << " target lowers kernel functions whose body is "
                              "attn ops only, got "
                           << o.getName();
    for (Value operand : o.getOperands())
      if (!isa<BlockArgument>(operand) ||
          cast<BlockArgument>(operand).getOwner() != &entry)
        return o.emitOpError() << "the " << target
                               << " target lowers kernels whose attn op works "
                                  "on the function's arguments";
    ops.push_back(&o);
  }
  int64_t lightning = llvm::count_if(ops, llvm::IsaPred<LightningOp>);
  int64_t attention = llvm::count_if(ops, llvm::IsaPred<AttentionOp>);
  if (lightning && ops.size() != 1)
    return func.emitError() << "the " << target
                            << " target lowers a lightning op alone in its "
                               "kernel function";
  if (!lightning && !attention)
    return func.emitError() << "a kernel function needs an attn.attention or "
                               "attn.lightning op";
  return success();
}

Value mlir::attn::keyCount(Emitter &e, const KernelArgs &a, Value batch) {
  if (!a.blockTable)
    return e.dim(a.k, 2);
  Value len = arith::IndexCastOp::create(e.b, e.loc, e.b.getIndexType(),
                                         e.load(a.kvLens, {batch}));
  Value cap = e.mul(e.dim(a.blockTable, 1), e.dim(a.k, 1));
  return e.min(e.max(len, e.idx(0)), cap);
}

KernelArgs mlir::attn::bindArgs(const KernelArgs &operands, Block &block) {
  KernelArgs a;
  for (auto [name, member] : kRoles)
    if (Value v = operands.*member)
      a.*member = block.getArgument(cast<BlockArgument>(v).getArgNumber());
  return a;
}

SmallVector<func::FuncOp> mlir::attn::kernelFunctions(Operation *module) {
  SmallVector<func::FuncOp> kernels;
  module->walk([&](func::FuncOp func) {
    bool hasAttn = func.walk([](Operation *op) {
                         return isa<AttentionOp, LightningOp, ClearOp>(op)
                                    ? WalkResult::interrupt()
                                    : WalkResult::advance();
                       }).wasInterrupted();
    if (hasAttn)
      kernels.push_back(func);
  });
  return kernels;
}
