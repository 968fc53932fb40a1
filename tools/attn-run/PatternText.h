//===- PatternText.h - pattern attributes from text, for the tools -*- C++ -*-===//
// attn-run and attn-tune take a pattern in the dialect's attribute syntax;
// both parse it here, and both count its useful FLOPs through the float64
// reference's reading of it.
//===----------------------------------------------------------------------===//
#ifndef ATTN_TOOLS_PATTERNTEXT_H
#define ATTN_TOOLS_PATTERNTEXT_H

#include "tools/attn-run/Reference.h"

#include "mlir/IR/Attributes.h"
#include "mlir/IR/MLIRContext.h"

#include <string>

namespace attn {

/// Parses and verifies `text` as a pattern attribute (#attn.causal, ...);
/// null with `error` quoting the parser's message.
mlir::Attribute parsePatternText(mlir::MLIRContext &ctx,
                                 const std::string &text, std::string &error);

/// The pattern's parameters for the reference, from the parsed attribute.
ref::Pattern refPattern(mlir::Attribute attr);

/// Useful FLOPs of one lightning run (SPEC's block formula, blocks of 64).
double lightningFlops(int64_t batch, int64_t heads, int64_t n, int64_t d,
                      int64_t dv);

} // namespace attn

#endif
