//===- kernel-fuzz.cpp - libFuzzer harness for attn kernel files ----------===//
// Parses each input as a module with the dialects of a kernel file (attn,
// func, arith, memref) and verifies it, as attnc and the JIT do; a module
// that verifies prints, parses and verifies again to the same text (the
// attn ops' custom syntax round-trips), and its patterns keep
// pattern-checks.h's promises.
//===----------------------------------------------------------------------===//
#include "pattern-checks.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <cstdint>
#include <string>

static std::string printed(mlir::Operation *op) {
  std::string s;
  llvm::raw_string_ostream os(s);
  op->print(os);
  return s;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mlir::MLIRContext *ctx = [] {
    auto *c = new mlir::MLIRContext(mlir::MLIRContext::Threading::DISABLED);
    c->loadDialect<mlir::attn::AttnDialect, mlir::func::FuncDialect,
                   mlir::arith::ArithDialect, mlir::memref::MemRefDialect>();
    return c;
  }();
  mlir::ScopedDiagnosticHandler quiet(ctx, [](mlir::Diagnostic &) {
    return mlir::success();
  });
  // MLIR's lexer needs a NUL after the text (MemoryBuffer and std::string
  // give one; the compiler parses a std::string): copy the bytes into one.
  std::string bytes(reinterpret_cast<const char *>(data), size);
  llvm::StringRef text(bytes);
  if (attnfuzz::tooDeep(text))
    return 0;
  // The parser verifies what it parsed (ParserConfig's default).
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(text, ctx);
  if (!module)
    return 0;
  std::string first = printed(*module);
  mlir::OwningOpRef<mlir::ModuleOp> again =
      mlir::parseSourceString<mlir::ModuleOp>(first, ctx);
  if (!again || printed(*again) != first) {
    llvm::errs() << "kernel-fuzz: does not round-trip:\n" << first;
    std::abort();
  }
  module->walk([](mlir::Operation *op) {
    for (mlir::NamedAttribute a : op->getAttrs())
      if (llvm::isa<mlir::attn::AttnDialect>(a.getValue().getDialect()))
        attnfuzz::checkAttr(a.getValue());
  });
  return 0;
}
