//===- DecomposeDilated.cpp - dilated attention as strided attentions -----===//
// attn-decompose-dilated: LongNet's dilated attention is a sum of attentions
// over strided rows, mixed by their softmax denominators. Each dilated op
// becomes `attn.clear` of O and LSE, then one `attn.attention` per (segment
// length, rate) over `#attn.rows<...>` that accumulates into them, so that
// no target sees `#attn.dilated` and the row formulas exist once
// (RowsAttr::buildSegmentRows).
//===----------------------------------------------------------------------===//
#include "dialect/AttnDialect.h"
#include "passes/Passes.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNDECOMPOSEDILATED
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

class DecomposeDilated
    : public attn::impl::AttnDecomposeDilatedBase<DecomposeDilated> {
public:
  using Base::Base;
  void runOnOperation() override;
};

} // namespace

void DecomposeDilated::runOnOperation() {
  SmallVector<AttentionOp> dilatedOps;
  getOperation().walk([&](AttentionOp op) {
    if (isa<DilatedAttr>(Attribute(op.getPattern())))
      dilatedOps.push_back(op);
  });
  bool failedAny = false;
  for (AttentionOp op : dilatedOps) {
    auto dilated = cast<DilatedAttr>(Attribute(op.getPattern()));
    if (!op.getLse()) {
      op.emitOpError() << "dilated attention needs an lse operand (its "
                          "patterns merge through it)";
      failedAny = true;
      continue;
    }
    if (op.getRows() || op.getAccumulate()) {
      op.emitOpError() << "a dilated op cannot itself take 'rows' or "
                          "'accumulate'";
      failedAny = true;
      continue;
    }
    MLIRContext *ctx = op.getContext();
    OpBuilder b(op);
    Location loc = op.getLoc();
    // The kernel metadata names the pattern the function computes.
    if (auto func = op->getParentOfType<func::FuncOp>())
      func->setAttr(kSourcePatternAttrName, dilated);
    auto clear = ClearOp::create(b, loc, op.getOut(), op.getLse());
    // A CPU schedule for a range of Nk (a tuned variant) clears only there.
    if (auto s = op->getAttrOfType<CPUScheduleAttr>(kScheduleAttrName))
      clear->setAttr(kScheduleAttrName, s);
    Attribute local = dilated.getCausal() ? Attribute(CausalAttr::get(ctx))
                                          : Attribute(FullAttr::get(ctx));
    // The scale of the whole op (1/sqrt(D) by default) for every piece.
    FloatAttr scale = op.getScaleAttr();
    for (auto [w, r] : llvm::zip(dilated.getSegments(), dilated.getRates())) {
      auto piece = AttentionOp::create(
          b, loc, cast<PatternAttrInterface>(local), op.getQ(), op.getK(),
          op.getV(), op.getOut(), op.getLse(), /*block_table=*/Value(),
          /*kv_lens=*/Value(), scale,
          RowsAttr::get(ctx, w, r, dilated.getOffsets()),
          /*accumulate=*/b.getUnitAttr());
      // A schedule given by hand or a tuner stays with every piece.
      if (Attribute s = op->getAttr(kScheduleAttrName))
        piece->setAttr(kScheduleAttrName, s);
    }
    op.erase();
  }
  if (failedAny)
    signalPassFailure();
}
