//===- attnc.cpp - the attn kernel compiler -------------------------------===//
// Compiles a kernel file ahead of time to any stage of the pipeline: tiled
// MLIR, LLVM dialect, LLVM IR, object, shared object or C header.
//===----------------------------------------------------------------------===//
#include "runtime/jit/Compiler.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstdlib>

using namespace llvm;

static cl::opt<std::string> input(cl::Positional, cl::desc("<kernel.mlir>"),
                                  cl::Required);
static cl::opt<std::string> output("o", cl::desc("output file ('-' = stdout)"),
                                   cl::value_desc("file"), cl::init("-"));
static cl::opt<std::string>
    target("target", cl::desc("cpu (sm_80 and sm_90a: not yet)"),
           cl::init("cpu"));
static cl::opt<std::string> emit(
    "emit",
    cl::desc("stage to emit: mlir (tiled), llvm-dialect, llvm (LLVM IR), "
             "obj, so (shared object), header (C header of the kernel ABI)"),
    cl::init("so"));
static cl::opt<int64_t> blockM("block-m", cl::desc("query rows per tile"),
                               cl::init(0));
static cl::opt<int64_t> blockN("block-n", cl::desc("keys per tile"),
                               cl::init(0));
static cl::opt<int64_t>
    vectorWidth("vector-width",
                cl::desc("f32 lanes per register (8 AVX2, 16 AVX-512; "
                         "default: the host's)"),
                cl::init(0));
static cl::opt<std::string> mcpu("mcpu",
                                 cl::desc("LLVM CPU name (default: host)"),
                                 cl::init(""));

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(
      argc, argv,
      "attnc: compile attn kernels ahead of time\n\n"
      "  attnc kernels/dense.mlir --emit=so -o dense.so\n"
      "  attnc kernels/dense.mlir --emit=header -o dense.h\n\n"
      "ATTN_DUMP_DIR=dir writes every stage of the pipeline there.\n");
  auto fail = [](const std::string &msg) {
    std::fprintf(stderr, "attnc: error: %s\n", msg.c_str());
    return 2;
  };
  if (target == "sm_80" || target == "sm_90a")
    return fail("--target=" + target +
                ": the GPU code generator is not implemented yet");
  if (target != "cpu")
    return fail("unknown --target '" + target + "' (cpu, sm_80, sm_90a)");
  attn::Emit stage;
  if (emit == "mlir")
    stage = attn::Emit::Tiled;
  else if (emit == "llvm-dialect")
    stage = attn::Emit::LLVMDialect;
  else if (emit == "llvm")
    stage = attn::Emit::LLVMIR;
  else if (emit == "obj")
    stage = attn::Emit::Object;
  else if (emit == "so")
    stage = attn::Emit::SharedObject;
  else if (emit == "header")
    stage = attn::Emit::Header;
  else
    return fail("unknown --emit '" + emit +
                "' (mlir, llvm-dialect, llvm, obj, so, header)");
  bool binary = stage == attn::Emit::Object ||
                stage == attn::Emit::SharedObject;
  if (binary && output == "-")
    return fail("--emit=" + emit + " is binary: give -o FILE");

  auto buf = MemoryBuffer::getFileOrSTDIN(input);
  if (!buf)
    return fail("cannot open '" + input + "': " + buf.getError().message());
  attn::CompileOptions options;
  options.cpu = attn::hostCPUOptions();
  if (blockM > 0)
    options.cpu.blockM = blockM;
  if (blockN > 0)
    options.cpu.blockN = blockN;
  if (vectorWidth > 0) {
    if (vectorWidth != 8 && vectorWidth != 16)
      return fail("--vector-width must be 8 or 16");
    options.cpu.vectorWidth = vectorWidth;
  }
  options.cpuName = mcpu;
  if (const char *dump = std::getenv("ATTN_DUMP_DIR"))
    options.dumpDir = dump;
  std::string out, error;
  if (!attn::compile((*buf)->getBuffer().str(), input, stage, options, out,
                     error)) {
    std::fprintf(stderr, "attnc: error: %s\n", error.c_str());
    return 2;
  }
  if (output == "-") {
    outs() << out;
    return 0;
  }
  if (!attn::writeFileAtomic(output, out, error))
    return fail(error);
  return 0;
}
