//===- PatternText.cpp - pattern attributes from text, for the tools ------===//
#include "tools/attn-run/PatternText.h"
#include "runtime/jit/Compiler.h"

#include "dialect/AttnDialect.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/Diagnostics.h"

namespace attn {

/// The pattern's parameters for the reference, from the parsed attribute.
ref::Pattern refPattern(mlir::Attribute attr) {
  using namespace mlir::attn;
  using mlir::isa, mlir::dyn_cast;
  ref::Pattern p;
  if (isa<FullAttr>(attr)) {
    p.kind = ref::Pattern::Full;
  } else if (isa<CausalAttr>(attr)) {
    p.kind = ref::Pattern::Causal;
  } else if (auto w = dyn_cast<SlidingWindowAttr>(attr)) {
    p.kind = ref::Pattern::Window;
    p.window = w.getWindow();
  } else if (auto b = dyn_cast<BlockCausalAttr>(attr)) {
    p.kind = ref::Pattern::BlockCausal;
    p.block = b.getBlock();
  } else if (auto d = dyn_cast<DilatedAttr>(attr)) {
    p.kind = ref::Pattern::Dilated;
    p.segments.assign(d.getSegments().begin(), d.getSegments().end());
    p.rates.assign(d.getRates().begin(), d.getRates().end());
    p.causal = d.getCausal();
    p.grouped = d.getOffsets() == OffsetMode::grouped;
  } else if (auto l = dyn_cast<LandmarkAttr>(attr)) {
    p.kind = ref::Pattern::Landmark;
    p.block = l.getBlock();
    p.topk = l.getTopk();
  }
  return p;
}

mlir::Attribute parsePatternText(mlir::MLIRContext &ctx,
                                 const std::string &text, std::string &error) {
  std::string diag;
  mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic &d) {
    if (diag.empty())
      diag = d.str();
    return mlir::success();
  });
  std::string nestingError;
  if (!checkNesting(text, "pattern", nestingError)) {
    error = "invalid pattern: " + nestingError;
    return {};
  }
  size_t consumed = 0;
  mlir::Attribute attr = mlir::parseAttribute(text, &ctx, mlir::Type(),
                                              &consumed);
  if (!attr || consumed != text.size()) {
    error = "invalid pattern '" + text + "'" +
            (!diag.empty() ? ": " + diag
             : attr        ? std::string(": text after the attribute")
                           : std::string(": expected an attribute such as "
                                         "'#attn.causal' (see --help)"));
    return {};
  }
  if (!mlir::isa<mlir::attn::PatternAttrInterface>(attr)) {
    error = "'" + text + "' is not an attention pattern (see --help)";
    return {};
  }
  return attr;
}

double lightningFlops(int64_t batch, int64_t heads, int64_t n, int64_t d,
                      int64_t dv) {
  return double(batch * heads) * (2.0 * n * 64 * (d + dv) + 4.0 * n * d * dv);
}

} // namespace attn
