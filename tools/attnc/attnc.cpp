//===- attnc.cpp - the attn kernel compiler -------------------------------===//
// Compiles a kernel file ahead of time to any stage of the pipeline: for the
// CPU tiled MLIR, LLVM dialect, LLVM IR, object, shared object or C header;
// for the GPU (sm_80, sm_90a) tiled MLIR, NVVM dialect, PTX, cubin or a
// self-contained C header with the binary embedded.
//===----------------------------------------------------------------------===//
#include "runtime/jit/Compiler.h"

#include "dialect/AttnDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstdlib>
#include <unistd.h>

using namespace llvm;

// Only these are listed by --help; LLVM's own options stay behind
// --help-hidden.
static cl::OptionCategory attncCategory("attnc options");

// The GPU tiling flags' defaults are the passes' (Passes.td, through the
// generated options struct): declared once.
static const mlir::attn::GPUOptions kGPUDefaults;

static cl::opt<std::string> input(cl::Positional, cl::cat(attncCategory), cl::desc("<kernel.mlir>"),
                                  cl::Required);
static cl::opt<std::string> output("o", cl::cat(attncCategory), cl::desc("output file ('-' = stdout)"),
                                   cl::value_desc("file"), cl::init("-"));
static cl::opt<std::string>
    target("target",
           cl::cat(attncCategory), cl::desc("cpu, sm_80 (tensor cores through mma.sync; runs on "
                    "A100 and H100) or sm_90a (H100)"),
           cl::init("cpu"));
static cl::opt<std::string> emit(
    "emit",
    cl::cat(attncCategory), cl::desc("stage to emit, in pipeline order. Both: attn (parsed and "
             "verified), decomposed (dilated ops as strided attentions), "
             "configured (each op's attn.schedule), tiled or mlir. "
             "CPU: llvm-dialect, llvm (LLVM "
             "IR), obj, so (shared object, the default), header (C header "
             "of the kernel ABI). GPU: llvm-dialect (NVVM), ptx (the "
             "default), cubin (needs ptxas: CUDA_HOME or PATH), header "
             "(self-contained: binary embedded, typed launch functions)"),
    cl::init(""));
static cl::opt<int64_t> blockM("block-m", cl::cat(attncCategory), cl::desc("query rows per tile "
                                                   "(GPU: 16 * warps)"),
                               cl::init(0));
static cl::opt<int64_t> blockN("block-n", cl::cat(attncCategory), cl::desc("keys per tile (default: per target; GPU: 128 for warp-specialized sm_90a kernels where the stages fit, else 64; landmark kernels: the landmark block)"),
                               cl::init(0));
static cl::opt<int64_t> warps("warps", cl::cat(attncCategory), cl::desc("GPU: warps per CTA that compute (a warp-specialized CTA adds a producer warpgroup of 4; default: 8 on sm_90a when D "
                                       "and Dv are multiples of 64 and the pattern is not dilated, "
                                       "else 4; on sm_90a, 8 or more use wgmma)"),
                              cl::init(0));
static cl::opt<int64_t> stages("stages",
                               cl::cat(attncCategory), cl::desc("GPU: K/V shared-memory pipeline "
                                        "stages (2 to 4; 2)"),
                               cl::init(0));
static cl::opt<bool> tma("tma",
                         cl::cat(attncCategory), cl::desc("sm_90a: load tiles with TMA onto "
                                  "mbarriers where D and Dv are multiples of "
                                  "64 (default true; --tma=false: cp.async)"),
                         cl::init(kGPUDefaults.tma));
static cl::opt<bool> asyncQk("async-qk",
                             cl::cat(attncCategory), cl::desc("sm_90a with wgmma and TMA: the next key "
                                      "tile's Q K^T runs during this tile's "
                                      "softmax (needs --stages=3 or more; "
                                      "default false)"),
                             cl::init(kGPUDefaults.asyncQk));
static cl::opt<bool> warpSpecialize(
    "warp-specialize",
    cl::cat(attncCategory), cl::desc("sm_90a with wgmma, TMA and --wgmma-pv, D = Dv = 128, 8 warps: a producer "
             "warpgroup issues the TMA loads onto full/empty mbarriers and "
             "gives its registers to the consumer warpgroups, which keep the "
             "next tile's Q K^T in flight with this tile's P V (default "
             "true; --async-qk turns it off)"),
    cl::init(kGPUDefaults.warpSpecialize));
static cl::opt<bool> pingpong(
    "pingpong",
    cl::cat(attncCategory), cl::desc("with --warp-specialize: the consumer warpgroups take turns "
             "issuing their wgmma (named barriers), one's softmax under the "
             "other's products (default false)"),
    cl::init(kGPUDefaults.pingpong));
static cl::opt<bool> wsOverlap(
    "ws-overlap",
    cl::cat(attncCategory), cl::desc("with --warp-specialize: the softmax of the next key tile runs "
             "while this tile's P V is in flight (default false)"),
    cl::init(kGPUDefaults.wsOverlap));
static cl::opt<bool> persistent(
    "persistent",
    cl::cat(attncCategory),
    cl::desc("sm_90a, warp-specialized kernels over whole sequences: a "
             "persistent grid (one CTA per SM) looping over the query tiles, "
             "the next tile's loads under the last one's epilogue, at every "
             "length for full and causal attention; patterns whose rows stay "
             "short keep the two-CTA kernel unless --ws-min-keys=0; "
             "pingpong kernels are not persistent (default true; "
             "--persistent=false: full and causal attention get the two-CTA "
             "kernel below --ws-min-keys keys and a grid of one CTA per "
             "query tile above)"),
    cl::init(kGPUDefaults.persistent));
static cl::opt<bool> stridedTma(
    "strided-tma",
    cl::cat(attncCategory), cl::desc("sm_90a with TMA: dilated phases of rate r > 1 read their rows r "
             "apart by TMA on the dense CTA when r divides N (a cp.async "
             "kernel serves the other N; default true)"),
    cl::init(kGPUDefaults.stridedTma));
static cl::opt<int64_t> ctasPerSm(
    "ctas-per-sm",
    cl::cat(attncCategory), cl::desc("GPU: CTAs per SM the register allocation leaves room for "
             "(registers per thread at most 64K / (CTAs x threads); default: "
             "2 for CTAs of up to 128 threads, else 1)"),
    cl::init(0));
static cl::opt<int64_t> wsMinKeys(
    "ws-min-keys",
    cl::cat(attncCategory), cl::desc("sm_90a, D = Dv = 128: warp-specialize only query tiles that "
             "read at least this many keys on average, else two plain CTAs "
             "per SM; full and causal attention get both kernels, chosen at "
             "launch by the number of keys (default 2048; 0: always)"),
    cl::init(-1));
static cl::opt<int64_t> decodeRows(
    "decode-rows",
    cl::cat(attncCategory),
    cl::desc("GPU: split-KV decoding kernels where Nq * H / Hk (the query "
             "rows of one KV head) is at most this; they pack those rows "
             "into one CTA, split the keys over CTAs and merge the splits "
             "(a multiple of 16 up to 64; default 16; 0: none)"),
    cl::init(-1));
static cl::opt<int64_t> splitMinKeys(
    "split-min-keys", cl::cat(attncCategory),
    cl::desc("GPU split-KV decoding: the fewest keys one split reads "
             "(default 128)"),
    cl::init(0));
static cl::opt<int64_t> decodeBlockN(
    "decode-block-n", cl::cat(attncCategory),
    cl::desc("GPU split-KV decoding: keys per tile (default 16)"),
    cl::init(0));
static cl::opt<int64_t> decodeStages(
    "decode-stages", cl::cat(attncCategory),
    cl::desc("GPU split-KV decoding: cp.async pipeline stages (default 2)"),
    cl::init(0));
static cl::opt<std::string> decodeMerge(
    "decode-merge", cl::cat(attncCategory),
    cl::desc("GPU split-KV decoding: where the splits merge, 'kernel' (a "
             "second kernel, the default) or 'fused' (the last CTA of each "
             "KV head's splits; one launch)"),
    cl::init(""));
static cl::opt<bool> wgmmaPv("wgmma-pv",
                             cl::cat(attncCategory), cl::desc("sm_90a with --warps=8 and TMA: O += P V "
                                      "by register-A wgmma (default true; "
                                      "false: mma.sync)"),
                             cl::init(kGPUDefaults.wgmmaPv));
static cl::opt<int64_t>
    vectorWidth("vector-width",
                cl::cat(attncCategory), cl::desc("f32 lanes per register (8 AVX2, 16 AVX-512; "
                         "default: the host's)"),
                cl::init(0));
static cl::opt<std::string>
    mcpu("mcpu", cl::cat(attncCategory),
         cl::desc("CPU target: the LLVM CPU the code is for, e.g. "
                  "x86-64-v3, haswell, skylake-avx512, znver4, "
                  "sapphirerapids (default: the host, or $ATTN_CPU). It "
                  "decides the vector width (16 f32 lanes with AVX-512, else "
                  "8); the kernel's metadata lists the ISA extensions it "
                  "needs, and a host without them refuses to load it"),
         cl::init(""));
static cl::opt<bool> printPipeline(
    "print-pipeline", cl::cat(attncCategory),
    cl::desc("print the target and the pass pipelines with every option "
             "(what the JIT cache key hashes) instead of compiling"),
    cl::init(false));
static cl::opt<std::string>
    mattr("mattr", cl::cat(attncCategory),
          cl::desc("CPU target: features added to --mcpu's, as "
                   "+name/-name, e.g. +avx512f or -avx512f (default: "
                   "$ATTN_CPU_FEATURES)"),
          cl::init(""));

static cl::opt<std::string> tuningTable(
    "tuning", cl::cat(attncCategory),
    cl::desc("a tuning table (attn-tune --export or --import; "
             "docs/tuning): each kernel function whose attention (or, on the "
             "CPU, lightning) op it has records for, for this target, gets "
             "one variant per tuned bucket of Nk, and the kernel picks one "
             "by Nk at launch (stderr lists them)"),
    cl::init(""));

/// The kernels of a kernel file (functions holding an attn op); 0 when it
/// does not parse here (compile() then says why).
static int64_t countKernels(StringRef source) {
  mlir::MLIRContext ctx(mlir::MLIRContext::Threading::DISABLED);
  ctx.loadDialect<mlir::attn::AttnDialect, mlir::func::FuncDialect,
                  mlir::arith::ArithDialect, mlir::memref::MemRefDialect>();
  mlir::ScopedDiagnosticHandler quiet(&ctx, [](mlir::Diagnostic &) {
    return mlir::success();
  });
  auto module = mlir::parseSourceString<mlir::ModuleOp>(source, &ctx);
  int64_t n = 0;
  if (module)
    module->walk([&](mlir::func::FuncOp f) {
      bool attnOp = false;
      f.walk([&](mlir::Operation *op) {
        attnOp |= llvm::isa<mlir::attn::AttnDialect>(op->getDialect());
      });
      n += attnOp;
    });
  return n;
}

int main(int argc, char **argv) {
  // LLVM's own options (hundreds, for every backend) move behind
  // --help-hidden; they still work.
  for (auto &entry : cl::getRegisteredOptions()) {
    cl::Option *opt = entry.second;
    bool ours = llvm::any_of(opt->Categories, [](cl::OptionCategory *c) {
      return c == &attncCategory || c->getName() == "Generic Options";
    });
    if (!ours && opt->getOptionHiddenFlag() == cl::NotHidden)
      opt->setHiddenFlag(cl::Hidden);
  }
  cl::ParseCommandLineOptions(
      argc, argv,
      "attnc: compile attn kernels ahead of time\n\n"
      "  attnc kernels/dense.mlir --emit=so -o dense.so\n"
      "  attnc kernels/dense.mlir --emit=header -o dense.h\n"
      "  attnc kernels/gpu.mlir --target=sm_80 --emit=cubin -o gpu.cubin\n"
      "  attnc kernels/gpu.mlir --target=sm_80 --emit=header -o gpu.h\n\n"
      "ATTN_DUMP_DIR=dir writes every stage of the pipeline there.\n");
  auto fail = [](const std::string &msg) {
    std::fprintf(stderr, "attnc: error: %s\n", msg.c_str());
    return 2;
  };
  bool gpu = target == "sm_80" || target == "sm_90a";
  if (!gpu && target != "cpu")
    return fail("unknown --target '" + target + "' (cpu, sm_80, sm_90a)");
  if (emit.empty())
    emit = gpu ? "ptx" : "so";
  attn::Emit stage;
  if (emit == "attn")
    stage = attn::Emit::Attn;
  else if (emit == "decomposed")
    stage = attn::Emit::Decomposed;
  else if (emit == "configured")
    stage = attn::Emit::Configured;
  else if (emit == "mlir" || emit == "tiled")
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
  else if (emit == "ptx")
    stage = attn::Emit::PTX;
  else if (emit == "cubin")
    stage = attn::Emit::Cubin;
  else
    return fail("unknown --emit '" + emit +
                "' (attn, decomposed, configured, tiled or mlir, llvm-dialect, "
                "llvm, obj, "
                "so, ptx, cubin, header)");
  bool cpuOnly = stage == attn::Emit::LLVMIR || stage == attn::Emit::Object ||
                 stage == attn::Emit::SharedObject;
  bool gpuOnly = stage == attn::Emit::PTX || stage == attn::Emit::Cubin;
  if (gpu && cpuOnly)
    return fail("--emit=" + emit + " is a CPU stage; --target=" + target +
                " emits attn, decomposed, configured, tiled, llvm-dialect, "
                "ptx, cubin or header");
  if (!gpu && gpuOnly)
    return fail("--emit=" + emit + " needs --target=sm_80 or sm_90a");
  if (!gpu && (warps > 0 || stages > 0 || tma.getNumOccurrences() ||
               wgmmaPv.getNumOccurrences() || asyncQk.getNumOccurrences() ||
               warpSpecialize.getNumOccurrences() ||
               pingpong.getNumOccurrences() ||
               wsOverlap.getNumOccurrences() ||
               persistent.getNumOccurrences() ||
               stridedTma.getNumOccurrences() || ctasPerSm > 0 ||
               wsMinKeys >= 0 || decodeRows >= 0 || splitMinKeys > 0 ||
               decodeBlockN > 0 || decodeStages > 0 ||
               decodeMerge.getNumOccurrences()))
    return fail("--warps, --stages, --tma, --wgmma-pv, --async-qk, "
                "--warp-specialize, --pingpong, --ws-overlap, --persistent, "
                "--strided-tma, --ctas-per-sm, --ws-min-keys, --decode-rows, "
                "--split-min-keys, --decode-block-n, --decode-stages and "
                "--decode-merge are "
                "GPU options");
  if (persistent.getNumOccurrences() && persistent && pingpong)
    return fail("--persistent and --pingpong exclude each other (the "
                "pingpong turns do not carry over from one work item to the "
                "next); --pingpong alone gives non-persistent kernels");
  if (gpu && vectorWidth > 0)
    return fail("--vector-width is a CPU option");
  // A missing input is the first thing to fix, whatever the options.
  auto buf = MemoryBuffer::getFileOrSTDIN(input);
  if (!buf)
    return fail("cannot open '" + input + "': " + buf.getError().message());
  bool binary = stage == attn::Emit::Object ||
                stage == attn::Emit::SharedObject ||
                stage == attn::Emit::Cubin;
  if (binary && output == "-" && !printPipeline)
    return fail("--emit=" + emit + " is binary: give -o FILE");
  attn::CompileOptions options;
  options.target = target;
  if (gpu) {
    if (warps > 0)
      options.gpu.warps = warps;
    if (blockM > 0)
      options.gpu.blockM = blockM;
    if (blockN > 0)
      options.gpu.blockN = blockN;
    if (stages > 0)
      options.gpu.stages = stages;
    options.gpu.tma = tma;
    options.gpu.wgmmaPv = wgmmaPv;
    options.gpu.asyncQk = asyncQk;
    options.gpu.warpSpecialize = warpSpecialize;
    options.gpu.pingpong = pingpong;
    options.gpu.wsOverlap = wsOverlap;
    options.gpu.persistent = persistent;
    options.gpu.stridedTma = stridedTma;
    if (ctasPerSm > 0)
      options.gpu.ctasPerSm = ctasPerSm;
    if (wsMinKeys >= 0)
      options.gpu.wsMinKeys = wsMinKeys;
    if (decodeRows >= 0)
      options.gpu.decodeRows = decodeRows;
    if (splitMinKeys > 0)
      options.gpu.splitMinKeys = splitMinKeys;
    if (decodeBlockN > 0)
      options.gpu.decodeBlockN = decodeBlockN;
    if (decodeStages > 0)
      options.gpu.decodeStages = decodeStages;
    if (decodeMerge.getNumOccurrences())
      options.gpu.decodeMerge = decodeMerge;
  }
  if (gpu && (!mcpu.empty() || !mattr.empty()))
    return fail("--mcpu and --mattr are CPU options");
  if (!gpu) {
    attn::CPUTarget cpuTarget;
    std::string error;
    if (!attn::resolveCPUTarget(mcpu, mattr, cpuTarget, error))
      return fail(error);
    options.cpu = attn::cpuOptionsFor(cpuTarget);
    options.cpuName = mcpu;
    options.cpuFeatures = mattr;
  }
  if (blockM > 0)
    options.cpu.blockM = blockM;
  if (blockN > 0)
    options.cpu.blockN = blockN;
  if (vectorWidth > 0) {
    if (vectorWidth != 8 && vectorWidth != 16)
      return fail("--vector-width must be 8 or 16");
    options.cpu.vectorWidth = vectorWidth;
  }
  if (const char *dump = std::getenv("ATTN_DUMP_DIR"))
    options.dumpDir = dump;
  std::vector<std::string> tuningLog;
  if (!tuningTable.empty()) {
    std::string error;
    if (!llvm::sys::fs::exists(tuningTable))
      return fail("cannot read the tuning table '" + tuningTable +
                  "': no such file");
    int otherFormat = 0;
    if (!attn::tuning::readFile(tuningTable, options.tuned, error,
                                &otherFormat))
      return fail(error);
    if (otherFormat)
      return fail("the tuning table '" + tuningTable +
                  "' has another format version than this compiler's (" +
                  std::to_string(attn::tuning::kFormatVersion) + ")");
    options.tuningLog = &tuningLog;
  }
  if (printPipeline) {
    outs() << attn::pipelineFingerprint(options) << "\n";
    return 0;
  }
  // GPU builds take seconds per kernel: say what is coming when there are
  // several kernels, or when someone is watching.
  bool slowGPU = gpu && stage != attn::Emit::Attn &&
                 stage != attn::Emit::Decomposed &&
                 stage != attn::Emit::Configured && stage != attn::Emit::Tiled;
  if (slowGPU) {
    int64_t n = countKernels((*buf)->getBuffer());
    if (n > 1 || (n == 1 && isatty(STDERR_FILENO)))
      std::fprintf(stderr, "attnc: compiling %lld kernel%s for %s\n",
                   (long long)n, n == 1 ? "" : "s", target.c_str());
  }
  std::string out, error;
  if (!attn::compile((*buf)->getBuffer().str(), input, stage, options, out,
                     error)) {
    std::fprintf(stderr, "attnc: error: %s\n", error.c_str());
    return 2;
  }
  if (!tuningTable.empty()) {
    for (const std::string &line : tuningLog)
      std::fprintf(stderr, "attnc: tuned %s\n", line.c_str());
    if (tuningLog.empty())
      std::fprintf(stderr, "attnc: note: no kernel of '%s' matches a record "
                           "of '%s'\n",
                   input.c_str(), tuningTable.c_str());
  }
  if (output == "-") {
    outs() << out;
    return 0;
  }
  if (!attn::writeFileAtomic(output, out, error))
    return fail(error);
  return 0;
}
