//===- Emitter.h - IR-building helpers shared by the targets ----*- C++ -*-===//
// The pieces every target's code generator uses: small IR builders, the
// kernel argument roles of the metadata, the metadata text, and the key-tile
// schedule of interval patterns (one code path for CPU and GPU tilers).
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_EMITTER_H
#define ATTN_PASSES_EMITTER_H

#include "dialect/AttnDialect.h"
#include "runtime/core/KernelMeta.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"

#include <string>
#include <utility>

namespace mlir::attn {

/// A run-time divisor d in [1, 2^32) prepared for division by
/// multiplication (Lemire, Kaser and Kurz, "Faster remainder by direct
/// computation", 2019): with c = floor((2^64 - 1) / d) + 1, every n in
/// [0, 2^32) has n / d = high 64 bits of c * n. One division per divisor,
/// then a 64 x 64 multiply per quotient (d = 1, where c wraps to 0, is a
/// select).
struct Divisor {
  Value d, c, one; // index, i64, i1 (d == 1)
};

/// Small IR-building conveniences over index and f32 values.
struct Emitter {
  OpBuilder &b;
  Location loc;

  Value idx(int64_t c) { return arith::ConstantIndexOp::create(b, loc, c); }
  Value f32(double c) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(float(c)));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivUIOp::create(b, loc, x, y); }
  Value rem(Value x, Value y) { return arith::RemUIOp::create(b, loc, x, y); }
  /// d (index, in [1, 2^32)) prepared for divBy / remBy.
  Divisor divisor(Value d) {
    Type i64 = b.getI64Type();
    Value d64 = arith::IndexCastUIOp::create(b, loc, i64, d);
    Value ones = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(-1));
    Value c = arith::AddIOp::create(
        b, loc, arith::DivUIOp::create(b, loc, ones, d64),
        arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(1)));
    return {d, c, cmp(arith::CmpIPredicate::eq, d, idx(1))};
  }
  /// n / d for n (index) in [0, 2^32).
  Value divBy(const Divisor &d, Value n) {
    Type i64 = b.getI64Type();
    Value n64 = arith::IndexCastUIOp::create(b, loc, i64, n);
    Value q = arith::MulUIExtendedOp::create(b, loc, d.c, n64).getHigh();
    return select(d.one, n,
                  arith::IndexCastUIOp::create(b, loc, b.getIndexType(), q));
  }
  /// n mod d, from the quotient q = divBy(d, n).
  Value remBy(const Divisor &d, Value n, Value q) {
    return sub(n, mul(q, d.d));
  }
  Value ceilDiv(Value x, Value y) {
    return arith::CeilDivUIOp::create(b, loc, x, y);
  }
  Value min(Value x, Value y) { return arith::MinSIOp::create(b, loc, x, y); }
  Value max(Value x, Value y) { return arith::MaxSIOp::create(b, loc, x, y); }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value cmpf(arith::CmpFPredicate p, Value x, Value y) {
    return arith::CmpFOp::create(b, loc, p, x, y);
  }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, loc, c, x, y);
  }
  /// The negation of an i1 condition (xor with true).
  Value logicalNot(Value c) {
    return arith::XOrIOp::create(
        b, loc, c, arith::ConstantOp::create(b, loc, b.getBoolAttr(true)));
  }
  Value dim(Value memref, int64_t d) {
    return memref::DimOp::create(b, loc, memref, d);
  }
  Value toF32(Value x) {
    if (x.getType().isF32())
      return x;
    return arith::ExtFOp::create(b, loc, b.getF32Type(), x);
  }
  Value fromF32(Value x, Type t) {
    if (t.isF32())
      return x;
    return arith::TruncFOp::create(b, loc, t, x);
  }
  Value toI32(Value index) {
    return arith::IndexCastOp::create(b, loc, b.getI32Type(), index);
  }
  /// An i32 known to be non-negative as an index (zero-extended).
  Value fromU32(Value x) {
    return arith::IndexCastUIOp::create(b, loc, b.getIndexType(), x);
  }
  Value splat(Value scalar, VectorType t) {
    return vector::BroadcastOp::create(b, loc, t, scalar);
  }
  Value vload(VectorType t, Value mem, ValueRange idx) {
    return vector::LoadOp::create(b, loc, t, mem, idx);
  }
  void vstore(Value v, Value mem, ValueRange idx) {
    vector::StoreOp::create(b, loc, v, mem, idx);
  }
  Value load(Value mem, ValueRange idx) {
    return memref::LoadOp::create(b, loc, mem, idx);
  }
  void store(Value v, Value mem, ValueRange idx) {
    memref::StoreOp::create(b, loc, v, mem, idx);
  }

  /// for (i = lb; i < ub; i += step) body(i), no loop-carried values.
  void forLoop(Value lb, Value ub, Value step,
               function_ref<void(Value)> body) {
    scf::ForOp::create(b, loc, lb, ub, step, ValueRange{},
                       [&](OpBuilder &nb, Location, Value iv, ValueRange) {
                         OpBuilder::InsertionGuard g(b);
                         b.setInsertionPoint(nb.getInsertionBlock(),
                                             nb.getInsertionPoint());
                         body(iv);
                         scf::YieldOp::create(b, loc);
                       });
  }
  void forLoop(int64_t lb, int64_t ub, int64_t step,
               function_ref<void(Value)> body) {
    forLoop(idx(lb), idx(ub), idx(step), body);
  }
  /// A loop carrying `init` through `body(iv, carried) -> next`.
  SmallVector<Value>
  forLoop(Value lb, Value ub, Value step, ValueRange init,
          function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    auto loop = scf::ForOp::create(
        b, loc, lb, ub, step, init,
        [&](OpBuilder &nb, Location, Value iv, ValueRange carried) {
          OpBuilder::InsertionGuard g(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          SmallVector<Value> next = body(iv, carried);
          scf::YieldOp::create(b, loc, next);
        });
    return SmallVector<Value>(loop.getResults());
  }
  /// A while loop: `before(carried)` gives the condition and the values
  /// passed on (of `argTypes`: the loop's results once the condition is
  /// false), `after(args)` the next carried values (of init's types).
  SmallVector<Value>
  whileLoop(TypeRange argTypes, ValueRange init,
            function_ref<std::pair<Value, SmallVector<Value>>(ValueRange)>
                before,
            function_ref<SmallVector<Value>(ValueRange)> after) {
    auto loop = scf::WhileOp::create(
        b, loc, argTypes, init,
        [&](OpBuilder &nb, Location, ValueRange carried) {
          OpBuilder::InsertionGuard g(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          auto [cond, args] = before(carried);
          scf::ConditionOp::create(b, loc, cond, args);
        },
        [&](OpBuilder &nb, Location, ValueRange args) {
          OpBuilder::InsertionGuard g(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          scf::YieldOp::create(b, loc, after(args));
        });
    return SmallVector<Value>(loop.getResults());
  }
  void ifThen(Value cond, function_ref<void()> body) {
    auto op = scf::IfOp::create(b, loc, cond, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&op.getThenRegion().front());
    body();
  }
};

struct KernelArgs {
  Value q, k, v, o, lse, slopes, stateIn, stateOut;
  Value blockTable, kvLens; // a paged K/V cache
};

/// log2 of SPEC's default lightning slope of `head` (ALiBi): -8 (h+1) / c
/// for the first c = 2^floor(log2 H) heads, then the even-indexed slopes of
/// the 2c sequence.
Value alibiSlopeLog2(Emitter &e, Value head, Value numHeads);

/// The keys of `batch`: K's length (dim 2), or for a paged cache its
/// kv_lens entry clamped to [0, pages per sequence x page size].
Value keyCount(Emitter &e, const KernelArgs &a, Value batch);

/// Role names of the kernel metadata (the runtime reads them).
constexpr std::pair<const char *, Value KernelArgs::*> kRoles[] = {
    {"q", &KernelArgs::q},           {"k", &KernelArgs::k},
    {"v", &KernelArgs::v},           {"out", &KernelArgs::o},
    {"lse", &KernelArgs::lse},       {"slopes", &KernelArgs::slopes},
    {"state_in", &KernelArgs::stateIn}, {"state_out", &KernelArgs::stateOut},
    {"block_table", &KernelArgs::blockTable}, {"kv_lens", &KernelArgs::kvLens}};


/// The metadata text the runtime core reads (it parses no MLIR), printed by
/// runtime/core/KernelMeta: `meta` holds the target's fields (CPU, tiling,
/// launches, tensor maps); this adds `op`, `pattern`, `phases` and one `arg`
/// per argument (role, dtype, dims with -1 for dynamic ones).
std::string kernelMetaText(StringRef opName, StringRef pattern,
                           int64_t phases, TypeRange argTypes,
                           ArrayRef<StringRef> roles, attnmeta::KernelMeta meta);
/// The global `name` holding `meta` NUL-terminated, where the runtime reads
/// it (dlsym on the CPU, cuModuleGetGlobal on the GPU).
void emitMetaGlobal(OpBuilder &b, Location loc, StringRef name,
                    std::string meta);
/// The role of each argument of a kernel whose attn op works on `entry`'s
/// arguments ("?" for one the op does not use).
SmallVector<StringRef> argRoles(Block &entry, const KernelArgs &operands);

/// The operands of a kernel function's attn ops (its arguments) as the
/// arguments of `block`, a function with the same arguments in the same
/// positions.
KernelArgs bindArgs(const KernelArgs &operands, Block &block);

/// The functions of `module` with attn ops: the kernel functions.
SmallVector<func::FuncOp> kernelFunctions(Operation *module);

/// The attn ops of kernel function `func`, in order, for `target` ("CPU" or
/// "GPU", in the messages): the body must be attn ops on the function's
/// arguments only (the kernel ABI passes them through), a lightning op
/// alone, or attention ops with an optional attn.clear.
LogicalResult collectKernelOps(func::FuncOp func, StringRef target,
                               SmallVectorImpl<Operation *> &ops);

} // namespace mlir::attn

#endif // ATTN_PASSES_EMITTER_H
