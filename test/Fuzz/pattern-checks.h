//===- pattern-checks.h - what every parsed pattern attribute promises ----===//
// Shared by the pattern and kernel-file fuzzers: an attn pattern that parses
// and verifies prints back to itself, and its interface answers agree with
// its own multiplicity on a small problem (the tilers trust those answers).
//===----------------------------------------------------------------------===//
#ifndef ATTN_TEST_FUZZ_PATTERN_CHECKS_H
#define ATTN_TEST_FUZZ_PATTERN_CHECKS_H

#include "dialect/AttnDialect.h"

#include "mlir/AsmParser/AsmParser.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <string>

namespace attnfuzz {

inline void fail(const char *what, mlir::Attribute attr) {
  llvm::errs() << "pattern-checks: " << what << ": " << attr << "\n";
  std::abort();
}

/// Whether `text` nests brackets deeper than MLIR's parser can take: it
/// recurses once per level with no limit, so a few thousand `[` overflow
/// the stack (upstream, mlir-opt too; test/Fuzz/README.md). Such inputs
/// are skipped so that the fuzzers look for our bugs.
inline bool tooDeep(llvm::StringRef text) {
  int depth = 0;
  for (char c : text) {
    if (c == '[' || c == '(' || c == '{' || c == '<')
      ++depth;
    else if ((c == ']' || c == ')' || c == '}' || c == '>') && depth > 0)
      --depth;
    if (depth > 256)
      return true;
  }
  return false;
}

/// Aborts when `attr` (a verified attn attribute) breaks a promise.
inline void checkAttr(mlir::Attribute attr) {
  std::string text;
  llvm::raw_string_ostream os(text);
  attr.print(os);
  if (mlir::parseAttribute(text, attr.getContext()) != attr)
    fail("does not round-trip", attr);
  auto pattern = llvm::dyn_cast<mlir::attn::PatternAttrInterface>(attr);
  if (!pattern)
    return;
  // Nq = Nk (positions 0..n-1) and Nq = 2 Nk (negative positions too; not
  // for dilated patterns, which the op verifier restricts to Nq = Nk).
  bool squareOnly = llvm::isa<mlir::attn::DilatedAttr>(attr);
  for (int64_t numKeys : {int64_t(9), int64_t(37)})
    for (int64_t numQueries : {numKeys, 2 * numKeys})
    for (int64_t numHeads : {int64_t(1), int64_t(3)})
      for (int64_t head = 0; head < numHeads; ++head) {
        if (squareOnly && numQueries != numKeys)
          continue;
        const int64_t tile = 8, pLo = numKeys - numQueries;
        for (int64_t p0 = pLo; p0 < numKeys; p0 += tile) {
          int64_t p1 = std::min(p0 + tile, numKeys);
          mlir::attn::KeyRange range =
              pattern.keyRange(p0, p1, head, numHeads, numKeys);
          for (int64_t n0 = 0; n0 < numKeys; n0 += tile) {
            int64_t n1 = std::min(n0 + tile, numKeys);
            mlir::attn::TileKind kind =
                pattern.classifyTile(p0, p1, n0, n1, head, numHeads, numKeys);
            for (int64_t p = p0; p < p1; ++p)
              for (int64_t j = n0; j < n1; ++j) {
                int64_t m = pattern.multiplicity(p, j, head, numHeads, numKeys);
                if (m < 0)
                  fail("negative multiplicity", attr);
                if (kind == mlir::attn::TileKind::Skip && m != 0)
                  fail("a skipped tile holds an allowed pair", attr);
                if (kind == mlir::attn::TileKind::Full && m != 1)
                  fail("a full tile holds a pair of multiplicity != 1", attr);
                if (m && (j < range.first || j >= range.last))
                  fail("an allowed key lies outside keyRange", attr);
                int64_t lo, hi;
                if (pattern.rowBounds(p, numKeys, lo, hi) &&
                    m != (lo <= j && j <= hi ? 1 : 0))
                  fail("rowBounds disagrees with multiplicity", attr);
              }
          }
        }
      }
}

} // namespace attnfuzz

#endif
