//===- pattern-fuzz.cpp - libFuzzer harness for attn pattern attributes ---===//
// Parses each input as an attribute (mlir::parseAttribute, the attn dialect
// loaded), so the custom parsers and verifiers of every pattern attribute
// see arbitrary text; what parses must keep pattern-checks.h's promises.
//===----------------------------------------------------------------------===//
#include "pattern-checks.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mlir::MLIRContext *ctx = [] {
    auto *c = new mlir::MLIRContext(mlir::MLIRContext::Threading::DISABLED);
    c->loadDialect<mlir::attn::AttnDialect>();
    return c;
  }();
  // Diagnostics are expected (most inputs are malformed): drop them.
  mlir::ScopedDiagnosticHandler quiet(ctx, [](mlir::Diagnostic &) {
    return mlir::success();
  });
  // MLIR's lexer needs a NUL after the text (MemoryBuffer and std::string
  // give one; the compiler parses a std::string): copy the bytes into one.
  std::string bytes(reinterpret_cast<const char *>(data), size);
  llvm::StringRef text(bytes);
  if (attnfuzz::tooDeep(text))
    return 0;
  size_t read = 0;
  mlir::Attribute attr = mlir::parseAttribute(text, ctx, mlir::Type(), &read);
  if (attr && llvm::isa<mlir::attn::AttnDialect>(attr.getDialect()))
    attnfuzz::checkAttr(attr);
  return 0;
}
