//===- Compiler.cpp - the attn compiler driver ----------------------------===//
// Parses kernel source, runs the target's pipelines, translates to LLVM IR,
// optimises for the chosen CPU and emits objects, shared objects (linked by
// the system C compiler driver) and C headers.
//===----------------------------------------------------------------------===//
#include "runtime/jit/Compiler.h"

#include "dialect/AttnDialect.h"
#include "runtime/core/KernelMeta.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/AMX/AMXDialect.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <set>

using namespace mlir;

namespace attn {

/// runtime/core/LaunchRule.h, the one launch-selection rule, which every GPU
/// header carries.
static const char kLaunchRule[] =
#include "runtime/jit/LaunchRule.inc"
    ;

const char *compilerVersion() { return "attn-0.9"; }

std::string findPtxas() {
  if (const char *home = getenv("CUDA_HOME")) {
    std::string p = std::string(home) + "/bin/ptxas";
    if (llvm::sys::fs::can_execute(p))
      return p;
  }
  if (auto p = llvm::sys::findProgramByName("ptxas"))
    return *p;
  return "";
}

/// ISA extensions that change which instructions generated code may contain,
/// in LLVM's spelling. A kernel's metadata lists those its target enables;
/// the runtime core checks them against the host (runtime/core/CPUFeatures)
/// before loading it. Tuning flags and OS-level features are left out.
static const char *const kISAExtensions[] = {
    "sse2",       "sse3",        "ssse3",       "sse4.1",       "sse4.2",
    "popcnt",     "avx",         "avx2",        "fma",          "f16c",
    "bmi",        "bmi2",        "lzcnt",       "movbe",        "avx512f",
    "avx512cd",   "avx512bw",    "avx512dq",    "avx512vl",     "avx512ifma",
    "avx512vbmi", "avx512vbmi2", "avx512vnni",  "avx512bitalg", "avx512vpopcntdq",
    "avx512bf16", "avx512fp16",  "gfni",        "vaes",         "vpclmulqdq",
    "avxvnni",    "amx-tile",    "amx-bf16",    "amx-int8",     "amx-fp16"};

static const llvm::Target *hostTarget(llvm::Triple &tt, std::string &error) {
  static std::once_flag initTargets;
  std::call_once(initTargets, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
  tt = llvm::Triple(llvm::sys::getDefaultTargetTriple());
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(tt, error);
  if (!target)
    error = "no LLVM target for " + tt.str() + ": " + error;
  return target;
}

bool resolveCPUTarget(const std::string &cpuName, const std::string &mattr,
                      CPUTarget &out, std::string &error) {
  std::string name = cpuName, extra = mattr;
  if (name.empty())
    if (const char *env = getenv("ATTN_CPU"))
      name = env;
  if (extra.empty())
    if (const char *env = getenv("ATTN_CPU_FEATURES"))
      extra = env;
  // Resolved once per (CPU, features) in a process: the JIT asks on every
  // kernel request, and LLVM's subtarget tables are not cheap to build.
  static std::mutex memoMutex;
  static std::map<std::pair<std::string, std::string>, CPUTarget> memo;
  std::lock_guard<std::mutex> lock(memoMutex);
  auto known = memo.find({name, extra});
  if (known != memo.end()) {
    out = known->second;
    return true;
  }
  std::string requestedName = name;
  llvm::Triple tt;
  const llvm::Target *target = hostTarget(tt, error);
  if (!target)
    return false;
  std::string features;
  if (name.empty() || name == "host" || name == "native") {
    name = llvm::sys::getHostCPUName().str();
    llvm::SmallVector<std::string> list;
    for (auto &f : llvm::sys::getHostCPUFeatures())
      list.push_back((f.second ? "+" : "-") + f.first().str());
    llvm::sort(list);
    features = llvm::join(list, ",");
  }
  // Ask a generic subtarget first: LLVM warns on stderr when it is created
  // for a CPU it does not know.
  std::unique_ptr<llvm::MCSubtargetInfo> sti(
      target->createMCSubtargetInfo(tt, "generic", ""));
  if (!sti || !sti->isCPUStringValid(name))
    return error = "unknown CPU '" + name + "' for " + tt.str() +
                   " (try x86-64-v3, haswell, znver4, sapphirerapids)",
           false;
  // Each -mattr entry must be +name or -name of a feature LLVM knows.
  llvm::SmallVector<llvm::StringRef> items;
  llvm::StringRef(extra).split(items, ',', -1, false);
  for (llvm::StringRef item : items) {
    item = item.trim();
    llvm::StringRef feature = item.drop_front();
    bool known = llvm::any_of(sti->getAllProcessorFeatures(),
                              [&](const llvm::SubtargetFeatureKV &kv) {
                                return feature == kv.Key;
                              });
    if ((!item.starts_with("+") && !item.starts_with("-")) || !known)
      return error = "unknown CPU feature '" + item.str() +
                     "' (give +name or -name, e.g. +avx512f,-amx-tile)",
             false;
    features += (features.empty() ? "" : ",") + item.str();
  }
  sti.reset(target->createMCSubtargetInfo(tt, name, features));
  out.name = name;
  out.features = features;
  out.required.clear();
  for (const char *ext : kISAExtensions)
    if (sti->checkFeatures(std::string("+") + ext))
      out.required.push_back(ext);
  if (sti->checkFeatures("+avx512f")) {
    // 32 zmm registers: MR * 2 + 2 + 1 <= 32 keeps the blocks spill-free.
    out.vectorWidth = 16;
    out.mr = 12;
  } else {
    // 16 ymm registers (without AVX, LLVM splits the vectors: slower, right).
    out.vectorWidth = 8;
    out.mr = 6;
  }
  memo[{requestedName, extra}] = out;
  return true;
}

mlir::attn::CPUOptions cpuOptionsFor(const CPUTarget &target) {
  mlir::attn::CPUOptions o;
  o.vectorWidth = target.vectorWidth;
  o.mrKeys = o.mrValues = target.mr;
  return o;
}

mlir::attn::CPUOptions hostCPUOptions() {
  CPUTarget t;
  std::string error;
  if (!resolveCPUTarget("", "", t, error))
    return {};
  return cpuOptionsFor(t);
}

/// The options the CPU pipeline runs with: the caller's tiling, and the
/// resolved target's CPU and ISA extensions (which go into the metadata).
static mlir::attn::CPUOptions cpuPipelineOptions(const CompileOptions &options,
                                                 const CPUTarget &target) {
  mlir::attn::CPUOptions cpu = options.cpu;
  cpu.targetCpu = target.name;
  cpu.targetFeatures = llvm::join(target.required, ",");
  return cpu;
}

std::string pipelineFingerprint(const CompileOptions &options) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << compilerVersion() << "\ntarget " << options.target << "\n";
  mlir::OpPassManager pm("builtin.module");
  if (options.target == "cpu") {
    CPUTarget t;
    std::string error;
    if (!resolveCPUTarget(options.cpuName, options.cpuFeatures, t, error))
      return text + "error " + error;
    os << "cpu " << t.name << " " << t.features << "\n";
    // As compile() runs them.
    mlir::attn::buildDecomposePipeline(pm);
    mlir::attn::buildCPUConfigurePipeline(pm, cpuPipelineOptions(options, t));
    mlir::attn::buildCPUTilingPipeline(pm);
    mlir::attn::buildCPUToLLVMPipeline(pm);
  } else {
    mlir::attn::GPUOptions gpu = options.gpu;
    gpu.chip = options.target;
    mlir::attn::buildDecomposePipeline(pm);
    mlir::attn::buildGPUConfigurePipeline(pm, gpu);
    mlir::attn::buildGPUTilingPipeline(pm);
    mlir::attn::buildGPUToNVVMPipeline(pm, gpu);
    os << "ptxas " << findPtxas() << "\n";
  }
  pm.printAsTextualPipeline(os);
  // Tuned variants change the code as much as the options do.
  for (const tuning::Record &r : options.tuned)
    os << "\ntuned " << r.key.op << " " << r.key.pattern << " "
       << r.key.dtype << " " << r.key.d << " " << r.key.dv << " "
       << r.key.flags << " nq" << r.key.nqBucket << " nk" << r.key.nkBucket
       << " gqa" << r.key.gqa << " " << r.date << " " << r.schedule;
  return text;
}

bool checkNesting(const std::string &text, const std::string &what,
                  std::string &error, int limit) {
  int depth = 0, line = 1;
  bool inString = false, inComment = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      ++line;
      inComment = false;
      continue;
    }
    if (inComment)
      continue;
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"')
      inString = true;
    else if (c == '/' && i + 1 < text.size() && text[i + 1] == '/')
      inComment = true;
    else if (c == '[' || c == '{' || c == '(' || c == '<')
      ++depth;
    else if ((c == ']' || c == '}' || c == ')' || c == '>') && depth > 0)
      --depth;
    if (depth > limit) {
      error = what + " nests brackets more than " + std::to_string(limit) +
              " deep (line " + std::to_string(line) +
              "); the MLIR parser would run out of stack";
      return false;
    }
  }
  return true;
}

bool writeFileAtomic(const std::string &path, const std::string &data,
                     std::string &error) {
  // A device or FIFO (-o /dev/null) is written in place: a rename would
  // replace it with a regular file (as root, /dev/null itself).
  llvm::sys::fs::file_status st;
  if (!llvm::sys::fs::status(path, st) &&
      llvm::sys::fs::exists(st) && !llvm::sys::fs::is_regular_file(st) &&
      !llvm::sys::fs::is_directory(st)) {
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
    if (!ec) {
      os << data;
      os.flush();
      if (!os.has_error())
        return true;
      ec = os.error();
      os.clear_error();
    }
    error = "cannot write '" + path + "': " + ec.message();
    return false;
  }
  llvm::SmallString<256> tmp;
  int fd;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(
          path + ".tmp-%%%%%%%%", fd, tmp)) {
    error = "cannot write '" + path + "': " + ec.message();
    return false;
  }
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << data;
    os.flush();
    if (os.has_error()) {
      error = "cannot write '" + path + "': " + os.error().message();
      os.clear_error();
      llvm::sys::fs::remove(tmp);
      return false;
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(tmp, path)) {
    error = "cannot rename into '" + path + "': " + ec.message();
    llvm::sys::fs::remove(tmp);
    return false;
  }
  return true;
}

/// The kernel library's operand type: a strided [B, H, N, hd] view.
static std::string viewType(const std::string &dtype, int64_t hd) {
  return "memref<?x?x?x" + std::to_string(hd) + "x" + dtype +
         ", strided<[?, ?, ?, 1], offset: ?>>";
}

/// " {scale = ...}" when a scale is given (0 keeps the op's default).
static std::string scaleSuffix(float scale) {
  if (scale == 0)
    return "";
  char buf[64];
  snprintf(buf, sizeof(buf), " {scale = %.9e : f32}", double(scale));
  return buf;
}

/// " {scale = ..., attn.schedule = ...}" for what is given.
static std::string attrSuffix(float scale, const std::string &schedule) {
  if (schedule.empty())
    return scaleSuffix(scale);
  std::string s = scaleSuffix(scale);
  if (s.empty())
    return " {attn.schedule = " + schedule + "}";
  s.pop_back(); // the closing brace
  return s + ", attn.schedule = " + schedule + "}";
}

std::string attentionKernelSource(const std::string &name,
                                  const std::string &pattern,
                                  const std::string &dtype, int64_t d,
                                  int64_t dv, bool withLse, float scale,
                                  const std::vector<std::string> &schedules,
                                  bool paged) {
  auto t = [&](int64_t hd) { return viewType(dtype, hd); };
  std::string lse = "memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>";
  std::string s = "func.func @" + name + "(%q: " + t(d) + ", %k: " + t(d) +
                  ", %v: " + t(dv);
  // A paged cache: the block table and lengths follow K and V.
  const char *tableType = "memref<?x?xi32>", *lensType = "memref<?xi32>";
  if (paged)
    s += std::string(", %table: ") + tableType + ", %lens: " + lensType;
  s += ", %o: " + t(dv);
  if (withLse)
    s += ", %lse: " + lse;
  s += ") {\n";
  std::vector<std::string> each = schedules;
  if (each.empty())
    each.push_back("");
  for (const std::string &schedule : each) {
    s += "  attn.attention " + pattern + " ins(%q, %k, %v : " + t(d) + ", " +
         t(d) + ", " + t(dv) + ") outs(%o : " + t(dv) + ")";
    if (withLse)
      s += " lse(%lse : " + lse + ")";
    if (paged)
      s += std::string(" paged(%table, %lens : ") + tableType + ", " +
           lensType + ")";
    s += attrSuffix(scale, schedule) + "\n";
  }
  return s + "  return\n}\n";
}

std::string lightningKernelSource(const std::string &name,
                                  const std::string &dtype, int64_t d,
                                  int64_t dv, int flags, float scale,
                                  const std::vector<std::string> &schedules) {
  auto t = [&](int64_t hd) { return viewType(dtype, hd); };
  std::string st =
      "memref<?x?x" + std::to_string(d) + "x" + std::to_string(dv) + "xf32>";
  std::string s = "func.func @" + name + "(%q: " + t(d) + ", %k: " + t(d) +
                  ", %v: " + t(dv) + ", %o: " + t(dv);
  std::string tail;
  if (flags & 1) {
    s += ", %slopes: memref<?xf32>";
    tail += " slopes(%slopes : memref<?xf32>)";
  }
  if (flags & 2) {
    s += ", %kv_in: " + st;
    tail += " state_in(%kv_in : " + st + ")";
  }
  if (flags & 4) {
    s += ", %kv_out: " + st;
    tail += " state_out(%kv_out : " + st + ")";
  }
  s += ") {\n  attn.lightning ins(%q, %k, %v : " + t(d) + ", " + t(d) + ", " +
       t(dv) + ") outs(%o : " + t(dv) + ")" + tail +
       attrSuffix(scale, schedules.empty() ? "" : schedules.front()) +
       "\n  return\n}\n";
  return s;
}

namespace {

void registerDialects(MLIRContext &ctx) {
  DialectRegistry registry;
  registry.insert<mlir::attn::AttnDialect, func::FuncDialect,
                  arith::ArithDialect, math::MathDialect,
                  memref::MemRefDialect, scf::SCFDialect,
                  vector::VectorDialect, LLVM::LLVMDialect,
                  cf::ControlFlowDialect, gpu::GPUDialect,
                  nvgpu::NVGPUDialect, NVVM::NVVMDialect,
                  x86vector::X86VectorDialect, amx::AMXDialect>();
  // The GPU lowering finds its patterns through the dialects'
  // ConvertToLLVM interfaces, and serialises through the NVVM target.
  registerAllExtensions(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  ctx.appendDialectRegistry(registry);
  ctx.loadAllAvailableDialects();
}

std::string print(Operation *op) {
  std::string s;
  llvm::raw_string_ostream os(s);
  op->print(os);
  return s;
}

void dump(const CompileOptions &o, const std::string &name,
          const std::string &data) {
  if (o.dumpDir.empty())
    return;
  std::string err;
  if (std::error_code ec = llvm::sys::fs::create_directories(o.dumpDir))
    err = ec.message();
  else if (writeFileAtomic(o.dumpDir + "/" + name, data, err))
    return;
  // A dump is a debugging aid: say once why there is none, and go on.
  // (A function-local static is initialised once, thread-safely.)
  static const bool warned = [&] {
    llvm::errs() << "attn: warning: cannot write dumps to ATTN_DUMP_DIR '"
                 << o.dumpDir << "': " << err << "\n";
    return true;
  }();
  (void)warned;
}

std::string cTypeOfRank(int64_t rank) {
  return "attn_memref" + std::to_string(rank);
}

/// A C header declaring the kernel ABI of every lowered kernel in `module`.
std::string emitHeader(ModuleOp module, const std::string &sourceName) {
  std::string h;
  llvm::raw_string_ostream os(h);
  os << "/* Generated by attnc from " << sourceName
     << ": CPU kernels of the attn compiler (" << compilerVersion()
     << ").\n"
     << " * Link with the shared object attnc emitted for the same file.\n"
     << " * Each kernel F runs as phases; phase p has count_p(args) work\n"
     << " * items, run_p(args, begin, end) runs items [begin, end) and may be\n"
     << " * called from several threads on disjoint ranges. Phases must run in\n"
     << " * order, each only where attn_F__phase_runs(p, Nk) holds (tuned\n"
     << " * variants serve ranges of Nk). F(args) runs everything on the\n"
     << " * calling thread.\n"
     << " * Memref descriptors: sizes and strides in elements; the innermost\n"
     << " * stride must be 1. */\n"
     << "#ifndef ATTN_KERNELS_H\n#define ATTN_KERNELS_H\n#include <stdint.h>\n"
     << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n";
  for (int64_t rank : {1, 2, 3, 4})
    os << "#ifndef ATTN_MEMREF" << rank << "_DEFINED\n#define ATTN_MEMREF"
       << rank << "_DEFINED\ntypedef struct { void *allocated; void *aligned; "
       << "int64_t offset; int64_t sizes[" << rank << "]; int64_t strides["
       << rank << "]; } " << cTypeOfRank(rank) << ";\n#endif\n";
  // The launch lines of each kernel's metadata.
  std::map<std::string, std::vector<attnmeta::Launch>> launches;
  module.walk([&](Operation *g) {
    auto name = g->getAttrOfType<StringAttr>("sym_name");
    auto value = g->getAttrOfType<StringAttr>("value");
    if (!name || !value || !name.getValue().ends_with("__attn_meta"))
      return;
    attnmeta::KernelMeta meta;
    std::string text = value.getValue().str(), error;
    if (!text.empty() && text.back() == '\0')
      text.pop_back();
    if (attnmeta::parse(text, meta, error))
      launches[name.getValue().drop_back(strlen("__attn_meta")).str()] =
          meta.launches;
  });
  module.walk([&](func::FuncOp phasesFn) {
    StringRef fname = phasesFn.getName();
    if (!fname.ends_with("__phases"))
      return;
    std::string kernel = fname.drop_back(strlen("__phases")).str();
    auto fn = module.lookupSymbol<func::FuncOp>(kernel);
    if (!fn)
      return;
    std::string params, args;
    for (auto [i, t] : llvm::enumerate(fn.getFunctionType().getInputs())) {
      auto m = cast<MemRefType>(t);
      if (i) {
        params += ", ";
        args += ", ";
      }
      params += cTypeOfRank(m.getRank()) + " *a" + std::to_string(i);
      args += "a" + std::to_string(i);
    }
    os << "\n/* " << kernel << " */\n";
    os << "void _mlir_ciface_" << kernel << "(" << params << ");\n";
    os << "int64_t _mlir_ciface_" << kernel << "__phases(void);\n";
    int64_t phases = 0;
    while (module.lookupSymbol<func::FuncOp>(kernel + "__count" +
                                             std::to_string(phases)))
      ++phases;
    for (int64_t p = 0; p < phases; ++p) {
      os << "int64_t _mlir_ciface_" << kernel << "__count" << p << "("
         << params << ");\n";
      os << "void _mlir_ciface_" << kernel << "__run" << p << "(" << params
         << ", int64_t begin, int64_t end);\n";
    }
    os << "extern const char " << kernel << "__attn_meta[];\n";
    os << "static inline void attn_" << kernel << "(" << params
       << ") { _mlir_ciface_" << kernel << "(" << args << "); }\n";
    // When each phase runs: the metadata's launch lines (one per phase of
    // a kernel with variants for ranges of Nk).
    os << "static inline int attn_" << kernel
       << "__phase_runs(int64_t p, int64_t nk) {\n  (void)nk;\n";
    for (const attnmeta::Launch &l : launches[kernel]) {
      llvm::StringRef entry(l.entry);
      size_t at = entry.rfind("__run");
      int64_t p = 0;
      if (at == llvm::StringRef::npos ||
          entry.substr(at + 5).getAsInteger(10, p))
        continue;
      os << "  if (p == " << p << ") return nk >= " << l.keysLo;
      if (l.keysHi)
        os << " && nk < " << l.keysHi;
      os << ";\n";
    }
    os << "  return 1;\n}\n";
  });
  os << "#ifdef __cplusplus\n}\n#endif\n#endif\n";
  return h;
}

bool linkShared(const std::string &object, std::string &out,
                std::string &error) {
  llvm::SmallString<128> dir;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory("attn-link", dir)) {
    error = "cannot create a temporary directory: " + ec.message();
    return false;
  }
  std::string obj = (dir + "/kernel.o").str(), so = (dir + "/kernel.so").str();
  auto cleanup = [&] {
    llvm::sys::fs::remove(obj);
    llvm::sys::fs::remove(so);
    llvm::sys::fs::remove(dir);
  };
  if (!writeFileAtomic(obj, object, error)) {
    cleanup();
    return false;
  }
  const char *ccEnv = getenv("ATTN_CC");
  auto cc = llvm::sys::findProgramByName(ccEnv ? ccEnv : "cc");
  if (!cc) {
    error = "no C compiler driver ('cc', or $ATTN_CC) to link the shared "
            "object";
    cleanup();
    return false;
  }
  std::string msg;
  llvm::SmallVector<llvm::StringRef> argv = {*cc,  "-shared", "-o",
                                             so,   obj,       "-lm"};
  int rc = llvm::sys::ExecuteAndWait(*cc, argv, std::nullopt, {}, 0, 0, &msg);
  if (rc != 0) {
    error = "linking the shared object failed (" + *cc + " exit " +
            std::to_string(rc) + (msg.empty() ? "" : ": " + msg) + ")";
    cleanup();
    return false;
  }
  auto buf = llvm::MemoryBuffer::getFile(so);
  if (!buf) {
    error = "cannot read the linked shared object";
    cleanup();
    return false;
  }
  out = (*buf)->getBuffer().str();
  cleanup();
  return true;
}


/// One GPU kernel of a lowered module, as its metadata describes it.
struct GPUKernel {
  std::string name;
  std::string meta;
  std::vector<std::pair<std::string, int64_t>> args; // role, rank
  std::vector<attnmeta::Launch> launches;             // defaults filled in
  std::vector<attnmeta::TensorMap> tensorMaps;        // TMA kernels
  std::set<std::string> bf16;                         // roles of bf16 args
};

/// The kernels of `module` from their metadata globals; false with `error`
/// when one does not parse (a compiler bug).
bool gpuKernels(ModuleOp module, std::vector<GPUKernel> &kernels,
                std::string &error) {
  module.walk([&](LLVM::GlobalOp g) {
    StringRef name = g.getSymName();
    if (!name.ends_with("__attn_meta") || !error.empty())
      return;
    auto value = dyn_cast_or_null<StringAttr>(g.getValueOrNull());
    if (!value)
      return;
    GPUKernel k;
    k.name = name.drop_back(strlen("__attn_meta")).str();
    k.meta = value.getValue().str();
    if (!k.meta.empty() && k.meta.back() == '\0')
      k.meta.pop_back();
    attnmeta::KernelMeta meta;
    if (!attnmeta::parse(k.meta, meta, error)) {
      error = "kernel '" + k.name + "': " + error;
      return;
    }
    for (const attnmeta::Arg &a : meta.args) {
      k.args.push_back({a.role, int64_t(a.dims.size())});
      if (a.dtype == "bf16")
        k.bf16.insert(a.role);
    }
    k.launches = meta.effectiveLaunches(k.name);
    k.tensorMaps = meta.tensorMaps;
    kernels.push_back(std::move(k));
  });
  return error.empty();
}

/// A self-contained C/C++ header: the module image (cubin, or PTX the
/// driver compiles at load) and, per kernel, a typed load and launch
/// function on the CUDA driver API. Needs cuda.h and libcuda only.
std::string emitGPUHeader(const std::vector<GPUKernel> &kernels,
                          const std::string &image, bool isPTX,
                          const std::string &target,
                          const std::string &sourceName) {
  std::string h;
  llvm::raw_string_ostream os(h);
  std::string guard = "ATTN_GPU_" + StringRef(target).upper() + "_H";
  os << "/* Generated by attnc from " << sourceName << ": " << target
     << " kernels of the attn compiler (" << compilerVersion() << ").\n"
     << " * Self-contained: the " << (isPTX ? "PTX" : "cubin")
     << " is embedded below; needs <cuda.h> and libcuda only.\n"
     << " * Usage: attn_<kernel>_load(&m) once per CUDA context (it loads the\n"
     << " * module in the current context), then attn_<kernel>(&m, stream,\n"
     << " * ...) per call. Tensors: device pointer, sizes and strides in\n"
     << " * elements ([B, H, N, D]; innermost stride 1; pointers 16-byte\n"
     << " * aligned and outer strides multiples of 8 elements). Grid:\n"
     << " * (ceil(Nq / tile_m), H, B). */\n"
     << "#ifndef " << guard << "\n#define " << guard << "\n"
     << "#include <cuda.h>\n#include <stdint.h>\n#include <stddef.h>\n#include <string.h>\n"
     << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
     << kLaunchRule << "\n";
  std::string sym = "attn_image_" + target;
  os << "static const unsigned char " << sym << "[" << image.size() + (isPTX ? 1 : 0)
     << "] = {";
  for (size_t i = 0; i < image.size(); ++i)
    os << (i % 20 == 0 ? "\n  " : "") << unsigned((unsigned char)image[i])
       << ",";
  if (isPTX)
    os << "0";
  os << "\n};\n";
  for (const GPUKernel &k : kernels) {
    std::string meta;
    for (char c : k.meta)
      meta += c == '\n' ? std::string("\\n") : std::string(1, c);
    int64_t threads = 0, smem = 0;
    for (const attnmeta::Launch &l : k.launches) {
      threads = std::max(threads, l.threads);
      smem = std::max(smem, l.smem);
    }
    os << "\n/* " << k.name << ": " << k.launches.size() << " launch"
       << (k.launches.size() == 1 ? "" : "es") << " of up to " << threads
       << " threads and " << smem << " bytes of dynamic shared memory. */\n"
       << "static const char attn_" << k.name << "_meta[] = \"" << meta
       << "\";\n"
       << "typedef struct { CUmodule module; CUfunction functions["
       << k.launches.size() << "]; } attn_" << k.name << "_module;\n"
       << "static inline CUresult attn_" << k.name << "_load(attn_" << k.name
       << "_module *m) {\n"
       << "  static const char *const entries[" << k.launches.size()
       << "] = {";
    for (auto &l : k.launches)
      os << "\"" << l.entry << "\", ";
    os << "};\n  static const int smem[" << k.launches.size() << "] = {";
    for (auto &l : k.launches)
      os << l.smem << ", ";
    os << "};\n"
       << "  CUresult r = cuModuleLoadData(&m->module, " << sym << ");\n"
       << "  for (int i = 0; r == CUDA_SUCCESS && i < " << k.launches.size()
       << "; ++i) {\n"
       << "    r = cuModuleGetFunction(&m->functions[i], m->module, "
          "entries[i]);\n"
       << "    if (r == CUDA_SUCCESS)\n"
       << "      r = cuFuncSetAttribute(m->functions[i], "
          "CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem[i]);\n"
       << "  }\n  return r;\n}\n";
    os << "static inline CUresult attn_" << k.name << "(const attn_" << k.name
       << "_module *m, CUstream stream";
    for (auto &[role, rank] : k.args)
      os << ",\n    CUdeviceptr " << role << ", const int64_t " << role
         << "_sizes[" << rank << "], const int64_t " << role << "_strides["
         << rank << "]";
    os << ") {\n";
    int64_t slots = k.tensorMaps.size() + 13 + 5;
    for (auto &[role, rank] : k.args)
      slots += 3 + 2 * rank;
    os << "  int64_t zero = 0;\n  void *params[" << slots << "];\n"
       << "  int n = 0;\n";
    for (auto &[role, rank] : k.args) {
      os << "  params[n++] = &" << role << "; params[n++] = &" << role
         << "; params[n++] = &zero;\n"
         << "  for (int i = 0; i < " << rank << "; ++i) params[n++] = (void *)&"
         << role << "_sizes[i];\n"
         << "  for (int i = 0; i < " << rank << "; ++i) params[n++] = (void *)&"
         << role << "_strides[i];\n";
    }
    // Hk and the keys the grid is sized for: K's dims, or for a paged
    // cache ([P, S, Hk, D]) pages per sequence x page size (the lengths
    // are in device memory; the kernels read them).
    bool paged = llvm::any_of(k.args, [](const auto &arg) {
      return arg.first == "block_table";
    });
    os << (paged ? "  int64_t hk = k_sizes[2], nk = block_table_sizes[1] * "
                   "k_sizes[1];\n"
                   "  if (nk <= 0 || k_sizes[0] <= 0) return "
                   "CUDA_ERROR_INVALID_VALUE; /* no page to read */\n"
                 : "  int64_t hk = k_sizes[1], nk = k_sizes[2];\n");
    os << "  int64_t nq = q_sizes[2], heads = q_sizes[1], batch = q_sizes[0];\n"
       << "  CUresult r = CUDA_SUCCESS;\n"
       << "  if (nq == 0 || heads == 0 || batch == 0) return r;\n";
    // TMA kernels take CUtensorMaps ([B, H, N, X], innermost first; 128-byte
    // swizzle, zero fill) by value after the descriptors. A strided map
    // (rows `rate` apart: [B, H, N / rate, rate, X]) is encoded only when
    // its rate divides N, as only then do the launches that read it run.
    if (!k.tensorMaps.empty())
      os << "  CUtensorMap maps[" << k.tensorMaps.size() << "];\n"
         << "  memset(maps, 0, sizeof maps);\n";
    for (auto [i, t] : llvm::enumerate(k.tensorMaps)) {
      const std::string &x = t.role;
      std::string sz = "(cuuint64_t)" + x + "_sizes", st = "(cuuint64_t)" + x + "_strides";
      os << "  params[n++] = &maps[" << i << "];\n";
      if (t.rate > 1)
        os << "  if (r == CUDA_SUCCESS && " << x << "_sizes[2] % " << t.rate
           << " == 0) {\n    cuuint64_t dims[5] = {" << sz << "[3], " << t.rate
           << ", " << sz << "[2] / " << t.rate << ", " << sz << "[1], " << sz
           << "[0]};\n    cuuint64_t strides[4] = {" << st << "[2] * 2, " << st
           << "[2] * " << 2 * t.rate << ", " << st << "[1] * 2, " << st
           << "[0] * 2};\n    cuuint32_t box[5] = {" << t.cols << ", 1, "
           << t.rows << ", 1, 1}, ones[5] = {1, 1, 1, 1, 1};\n";
      else
        os << "  if (r == CUDA_SUCCESS) {\n    cuuint64_t dims[4] = {" << sz
           << "[3], " << sz << "[2], " << sz << "[1], " << sz << "[0]};\n"
           << "    cuuint64_t strides[3] = {" << st << "[2] * 2, " << st
           << "[1] * 2, " << st << "[0] * 2};\n    cuuint32_t box[4] = {"
           << t.cols << ", " << t.rows << ", 1, 1}, ones[4] = {1, 1, 1, 1};\n";
      os << "    r = cuTensorMapEncodeTiled(&maps[" << i << "], "
         << (k.bf16.count(x) ? "CU_TENSOR_MAP_DATA_TYPE_BFLOAT16"
                             : "CU_TENSOR_MAP_DATA_TYPE_FLOAT16")
         << ", " << (t.rate > 1 ? 5 : 4) << ", (void *)" << x
         << ", dims, strides, box, ones, CU_TENSOR_MAP_INTERLEAVE_NONE, "
            "CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, "
            "CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);\n  }\n";
    }
    // Split-KV launches run one split (they then write O and the LSE
    // themselves): a header allocates no workspace, so the descriptor it
    // passes after the maps is empty and merges never run. Where the split
    // gives way (attn_split_declines, by the device's SMs), the launches
    // after it run above their rows bounds, as in the runtime.
    bool split = llvm::any_of(k.launches, [](const attnmeta::Launch &l) {
      return l.splitKeys || l.merge;
    });
    if (split)
      os << "  int64_t ws[13] = {0, 0, 0, 1, batch, heads, nq, v_sizes[3] + 2, "
            "0, 0, 0, 0, 1};\n"
         << "  for (int i = 0; i < 13; ++i) params[n++] = &ws[i];\n";
    // A split kernel that merges in its last CTAs takes counters too; with
    // one split it never reads them. A persistent kernel given a null
    // counter takes every grid-th item (a static schedule).
    if (llvm::any_of(k.launches,
                     [](const attnmeta::Launch &l) {
                       return l.fusedMerge() || l.persistent;
                     }))
      os << "  int64_t counters[5] = {0, 0, 0, 1, 1};\n"
         << "  for (int i = 0; i < 5; ++i) params[n++] = &counters[i];\n";
    bool persistent = llvm::any_of(
        k.launches, [](const attnmeta::Launch &l) { return l.persistent; });
    if (split || persistent)
      os
         << "  int sms = 0, whole = 0;\n  {\n    CUdevice dev;\n"
         << "    if (cuCtxGetDevice(&dev) == CUDA_SUCCESS)\n"
         << "      cuDeviceGetAttribute(&sms, "
            "CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev);\n  }\n";
    // Launches in order on the stream; grid x = ceil(Nq / seg) * perSeg
    // (seg 0: perSeg, whatever Nq); each runs when the runtime's rule
    // (attn_launch_applies, copied above) says it does.
    for (auto [i, l] : llvm::enumerate(k.launches)) {
      if (l.merge && !l.splitKeys)
        continue;
      std::string gridX =
          l.seg ? llvm::formatv("(unsigned)((nq + {0}) / {1} * {2})",
                                l.seg - 1, l.seg, l.perSeg)
                      .str()
                : std::to_string(l.perSeg);
      std::string gridY = l.splitKeys ? "(unsigned)hk" : "(unsigned)heads";
      std::string gridZ = "(unsigned)batch";
      if (l.splitKeys)
        gridX = "1";
      if (l.persistent) {
        // At most one CTA per work item.
        gridX = llvm::formatv("(unsigned)attn_persistent_ctas((int64_t){0} * "
                              "heads * batch, {1}, sms)",
                              gridX, l.persistent)
                    .str();
        gridY = gridZ = "1";
      }
      std::string rowsLo = std::to_string(l.rowsLo), rowsHi = std::to_string(l.rowsHi);
      if (split && (l.rowsLo || l.rowsHi)) {
        rowsLo = "whole ? 0 : " + rowsLo;
        rowsHi = "whole ? 0 : " + rowsHi;
      }
      os << "  if (r == CUDA_SUCCESS) {\n    unsigned gx = " << gridX
         << ", gy = " << gridY << ", gz = " << gridZ
         << ";\n    if (attn_launch_applies(" << l.cond << ", " << l.keysLo
         << ", " << l.keysHi << ", " << l.ctasLo << ", " << l.ctasHi << ", "
         << rowsLo << ", " << rowsHi
         << ", nq, nk, (int64_t)gx * gy * gz, nq * (heads / hk)))\n";
      if (l.splitKeys && !paged)
        os << "      if (!(whole = attn_split_declines(heads / hk, "
              "batch * heads, sms)))\n  ";
      os << "      r = cuLaunchKernel(m->functions[" << i
         << "], gx, gy, gz, " << l.threads
         << ", 1, 1, " << l.smem << ", stream, params, NULL);\n  }\n";
    }
    os << "  return r;\n}\n";
  }
  os << "\n#ifdef __cplusplus\n}\n#endif\n#endif\n";
  return h;
}

/// The stages of a compilation: each runs its passes, writes its dump, and
/// is the output if `emit` stops there.
struct Stages {
  ModuleOp module;
  const CompileOptions &options;
  Emit emit;
  std::string &out;
  const std::function<bool(const std::string &)> &fail;

  /// False when the passes fail; `stop` says whether `emit` was this stage.
  bool run(function_ref<void(PassManager &)> build, Emit which,
           const char *dumpName, const std::string &what, bool &stop) {
    PassManager pm(module.getContext());
    build(pm);
    if (failed(pm.run(module)))
      return fail(what);
    std::string text = print(module);
    dump(options, dumpName, text);
    if ((stop = emit == which))
      out = text;
    return true;
  }
};

bool compileGPU(Stages &stages, const std::string &sourceName) {
  ModuleOp module = stages.module;
  const CompileOptions &options = stages.options;
  Emit emit = stages.emit;
  std::string &out = stages.out;
  auto &fail = stages.fail;
  MLIRContext *ctx = module.getContext();
  mlir::attn::GPUOptions gpu = options.gpu;
  gpu.chip = options.target;
  if (emit == Emit::LLVMIR || emit == Emit::Object ||
      emit == Emit::SharedObject)
    return fail("--emit=llvm, obj and so are CPU stages; the GPU targets "
                "emit attn, decomposed, configured, tiled, llvm-dialect, "
                "ptx, cubin or header");
  bool stop = false;
  if (!stages.run([&](PassManager &pm) {
        mlir::attn::buildGPUConfigurePipeline(pm, gpu);
      },
                  Emit::Configured, "2-configured.mlir",
                  "configuring the schedule for " + gpu.chip + " failed",
                  stop) ||
      stop)
    return stop;
  if (!stages.run([&](PassManager &pm) {
        mlir::attn::buildGPUTilingPipeline(pm);
      },
                  Emit::Tiled, "3-tiled.mlir", "tiling for " + gpu.chip +
                  " failed", stop) ||
      stop)
    return stop;
  std::vector<GPUKernel> kernels;
  std::string metaError;
  if (!gpuKernels(module, kernels, metaError))
    return fail("the compiler wrote bad kernel metadata: " + metaError);
  PassManager lowering(ctx);
  mlir::attn::buildGPUToNVVMPipeline(lowering, gpu);
  if (failed(lowering.run(module)))
    return fail("lowering to NVVM failed");
  std::string nvvm = print(module);
  dump(options, "4-nvvm.mlir", nvvm);
  if (emit == Emit::LLVMDialect) {
    out = nvvm;
    return true;
  }
  if (kernels.empty())
    return fail(sourceName + " has no attn kernel to compile");

  // Cubin needs ptxas; PTX needs nothing (the driver compiles it at load),
  // so a header falls back to PTX without a toolkit.
  std::string ptxas = findPtxas();
  bool wantBinary = emit == Emit::Cubin || (emit == Emit::Header && !ptxas.empty());
  if (emit == Emit::Cubin && ptxas.empty())
    return fail("--emit=cubin needs ptxas from the CUDA toolkit: set "
                "CUDA_HOME or put ptxas on PATH (--emit=ptx needs nothing)");
  GpuModuleToBinaryPassOptions binOptions;
  binOptions.compilationTarget = wantBinary ? "bin" : "isa";
  if (wantBinary)
    binOptions.toolkitPath =
        llvm::sys::path::parent_path(llvm::sys::path::parent_path(ptxas)).str();
  PassManager binary(ctx);
  binary.addPass(createGpuModuleToBinaryPass(binOptions));
  if (failed(binary.run(module)))
    return fail(wantBinary ? "ptxas failed to assemble the kernels"
                           : "PTX generation failed");
  std::string image;
  module.walk([&](gpu::BinaryOp bin) {
    for (Attribute a : bin.getObjects())
      if (auto obj = dyn_cast<gpu::ObjectAttr>(a))
        image = obj.getObject().getValue().str();
  });
  if (image.empty())
    return fail("gpu-module-to-binary produced no object");
  dump(options, wantBinary ? "5-kernel.cubin" : "5-kernel.ptx", image);
  if (emit == Emit::Header) {
    out = emitGPUHeader(kernels, image, !wantBinary, gpu.chip, sourceName);
    return true;
  }
  out = image;
  return true;
}
} // namespace

/// "f32", "f16", "bf16" of a memref operand.
static std::string elementName(Value v) {
  Type t = cast<MemRefType>(v.getType()).getElementType();
  return t.isF32() ? "f32" : t.isF16() ? "f16" : t.isBF16() ? "bf16" : "";
}

/// The records of `options.tuned` for the one attention or lightning op of
/// `func` (op, pattern, dtype, D, Dv, lightning's tensors, target), or none
/// when the function is not a tunable kernel (several ops, a given
/// schedule, dilated pieces).
static Operation *tunedOp(func::FuncOp func, const CompileOptions &options,
                          std::vector<tuning::Record> &mine) {
  using namespace mlir::attn;
  mine.clear();
  SmallVector<Operation *> ops;
  func.walk([&](Operation *op) {
    if (isa<AttentionOp, LightningOp, ClearOp>(op))
      ops.push_back(op);
  });
  if (ops.size() != 1 || isa<ClearOp>(ops.front()) ||
      ops.front()->hasAttr(kScheduleAttrName))
    return nullptr;
  Operation *op = ops.front();
  auto attention = dyn_cast<AttentionOp>(op);
  auto lightning = dyn_cast<LightningOp>(op);
  // Tuned variants are per range of Nk; a paged cache has one Nk per
  // sequence, so it keeps the configure pass's schedule.
  if (attention &&
      (attention.getRows() || attention.getAccumulate() || attention.isPaged()))
    return nullptr;
  Value q = op->getOperand(0), v = op->getOperand(2);
  int64_t d = cast<MemRefType>(q.getType()).getDimSize(3);
  int64_t dv = cast<MemRefType>(v.getType()).getDimSize(3);
  int64_t flags = 0;
  if (lightning)
    flags = (lightning.getSlopes() ? 1 : 0) |
            (lightning.getStateIn() ? 2 : 0) |
            (lightning.getStateOut() ? 4 : 0);
  for (const tuning::Record &r : options.tuned) {
    const tuning::Key &k = r.key;
    if (k.op != (attention ? "attention" : "lightning") ||
        k.dtype != elementName(q) || k.d != d || k.dv != dv ||
        k.flags != flags || k.target != options.target)
      continue;
    if (attention) {
      Attribute p = parseAttribute(k.pattern, func.getContext());
      if (p != Attribute(attention.getPattern()))
        continue;
    }
    mine.push_back(r);
  }
  return mine.empty() ? nullptr : op;
}

/// CompileOptions::tuned on the CPU: kernel functions whose one attn op the
/// records match get one op per variant, each with its schedule and range
/// of Nk.
static bool applyTuning(ModuleOp module, const CompileOptions &options,
                        const mlir::attn::CPUOptions &cpu,
                        std::string &error) {
  using namespace mlir::attn;
  MLIRContext *ctx = module.getContext();
  bool ok = true;
  module.walk([&](func::FuncOp func) {
    std::vector<tuning::Record> mine;
    Operation *op = tunedOp(func, options, mine);
    if (!op)
      return;
    auto lightning = dyn_cast<LightningOp>(op);
    CPUScheduleAttr def = decideCPUSchedule(op, cpu);
    // A record tuned with wider vectors than this target has (a table of an
    // AVX-512 machine, an AVX2 target) does not apply.
    llvm::erase_if(mine, [&](const tuning::Record &r) {
      auto s = llvm::dyn_cast_or_null<CPUScheduleAttr>(
          parseAttribute(r.schedule, ctx));
      bool wider = s && s.getVectorWidth() > def.getVectorWidth();
      if (wider && options.tuningLog)
        options.tuningLog->push_back(
            "@" + func.getName().str() + ": record " + r.config +
            " skipped: " + std::to_string(s.getVectorWidth()) +
            " lanes, the target has " +
            std::to_string(def.getVectorWidth()));
      return wider;
    });
    if (mine.empty())
      return;
    std::vector<tuning::Variant> plan =
        tuning::dispatchPlan(mine, lightning != nullptr);
    // Adjacent ranges with one schedule (a record that kept the default)
    // become one variant.
    SmallVector<CPUScheduleAttr> variants;
    OpBuilder b(op);
    for (const tuning::Variant &var : plan) {
      CPUScheduleAttr s = def;
      if (var.record) {
        s = llvm::dyn_cast_or_null<CPUScheduleAttr>(
            parseAttribute(var.record->schedule, ctx));
        if (!s) {
          error = "tuning record for @" + func.getName().str() +
                  " has no CPU schedule: '" + var.record->schedule + "'";
          ok = false;
          return;
        }
      }
      // The tiles of the record, for this compile's CPU and features.
      int64_t lo = var.keysLo;
      if (!variants.empty()) {
        CPUScheduleAttr last = variants.back();
        if (last.getBlockM() == s.getBlockM() &&
            last.getBlockN() == s.getBlockN() &&
            last.getVectorWidth() == s.getVectorWidth() &&
            last.getMrKeys() == s.getMrKeys() &&
            last.getMrValues() == s.getMrValues() &&
            last.getThreads() == s.getThreads() &&
            last.getBf16Dot() == s.getBf16Dot() &&
            last.getAmx() == s.getAmx()) {
          lo = last.getKeysLo();
          variants.pop_back();
        }
      }
      // bf16 dot products only where this target has them.
      bool dot = s.getBf16Dot() && bf16DotFits(op, s.getVectorWidth(),
                                               s.getBlockN(), def.getFeatures());
      // AMX tiles too.
      bool amx = s.getAmx() && amxFits(op, s.getVectorWidth(), s.getBlockM(),
                                       s.getBlockN(), def.getFeatures());
      variants.push_back(CPUScheduleAttr::get(
          ctx, s.getBlockM(), s.getBlockN(), s.getVectorWidth(),
          s.getMrKeys(), s.getMrValues(), def.getCpu(), def.getFeatures(), lo,
          var.keysHi, s.getThreads(), dot, amx, def.getDecodeRows()));
    }
    // One variant for every Nk: no range at all.
    if (variants.size() == 1)
      variants[0] = CPUScheduleAttr::get(
          ctx, variants[0].getBlockM(), variants[0].getBlockN(),
          variants[0].getVectorWidth(), variants[0].getMrKeys(),
          variants[0].getMrValues(), def.getCpu(), def.getFeatures(), 0, 0,
          variants[0].getThreads(), variants[0].getBf16Dot(),
          variants[0].getAmx(), variants[0].getDecodeRows());
    for (CPUScheduleAttr s : variants) {
      Operation *copy = b.clone(*op);
      copy->setAttr(kScheduleAttrName, s);
    }
    op->erase();
    if (options.tuningLog)
      options.tuningLog->push_back("@" + func.getName().str() + ": " +
                                   tuning::describe(plan));
  });
  return ok;
}


/// CompileOptions::tuned on a GPU target: the one attention or lightning op
/// of a kernel function that records match gets one schedule whose kernels
/// are the
/// variants' (each record's schedule, the configure pass's in the gaps),
/// every kernel's keys_lo/keys_hi narrowed to its variant's range of Nk;
/// attn-configure-gpu then adds the tensor maps their TMA loads need.
static bool applyGPUTuning(ModuleOp module, const CompileOptions &options,
                           std::string &error) {
  using namespace mlir::attn;
  MLIRContext *ctx = module.getContext();
  bool ok = true;
  module.walk([&](func::FuncOp func) {
    if (!ok)
      return;
    std::vector<tuning::Record> mine;
    Operation *op = tunedOp(func, options, mine);
    if (!op)
      return;
    auto logLine = [&](const std::string &line) {
      if (options.tuningLog)
        options.tuningLog->push_back("@" + func.getName().str() + ": " + line);
    };
    if (auto a = dyn_cast<AttentionOp>(op);
        a && isa<DilatedAttr>(a.getPattern())) {
      logLine("dilated records on a GPU target are not applied (its pieces "
              "share one kernel function; GPU tuning skips them)");
      return;
    }
    // The configure pass's schedule, on a copy of the function alone.
    OwningOpRef<ModuleOp> scratch = ModuleOp::create(func.getLoc());
    scratch->push_back(func->clone());
    GPUOptions gpu = options.gpu;
    gpu.chip = options.target;
    PassManager pm(ctx);
    buildGPUConfigurePipeline(pm, gpu);
    GPUScheduleAttr def;
    if (succeeded(pm.run(*scratch)))
      scratch->walk([&](Operation *o) {
        if (isa<AttentionOp, LightningOp>(o))
          def = o->getAttrOfType<GPUScheduleAttr>(kScheduleAttrName);
      });
    if (!def) {
      error = "@" + func.getName().str() +
              ": the configure pass gives no GPU schedule to tune around";
      ok = false;
      return;
    }
    auto isDecoding = [](GPUKernelAttr k) {
      return k.getSuffix() == "__decode" || k.getSuffix() == "__merge";
    };
    // `k` under another entry suffix, key range and lowest row count.
    auto rebuild = [&](GPUKernelAttr k, const std::string &suffix,
                       int64_t keysLo, int64_t keysHi, int64_t rowsLo) {
      return GPUKernelAttr::get(
          ctx, suffix, k.getWarps(), k.getBlockN(), k.getStages(),
          k.getCtasPerSm(), k.getTma(), k.getWgmma(), k.getWgmmaPv(),
          k.getAsyncQk(), k.getWarpSpecialize(), k.getPingpong(),
          k.getWsOverlap(), k.getKvBoxRows(), k.getCols(), keysLo, keysHi,
          k.getCtasLo(), k.getCtasHi(), k.getDivides(), rowsLo,
          k.getRowsHi(), k.getSplitKeys(), k.getMerge(), k.getPersistent());
    };
    // Records of decoding shapes (by the default decode-rows: where they
    // were tuned) give only decoding kernels, which --decode-rows=0 turns
    // off.
    std::vector<tuning::Variant> plan =
        tuning::dispatchPlan(mine, false, GPUOptions().decodeRows);
    if (!gpu.decodeRows) {
      // (and ranges left with neither record are the default's, as one)
      std::vector<tuning::Variant> merged;
      for (tuning::Variant var : plan) {
        var.decode = nullptr;
        if (!merged.empty() && !var.record && !merged.back().record &&
            merged.back().keysHi == var.keysLo)
          merged.back().keysHi = var.keysHi;
        else
          merged.push_back(var);
      }
      plan = std::move(merged);
    }
    constexpr int64_t kInf = std::numeric_limits<int64_t>::max();
    SmallVector<GPUKernelAttr> kernels;
    // Adjacent variants of one schedule merge: (schedule, lo, hi).
    SmallVector<std::tuple<GPUScheduleAttr, int64_t, int64_t>> ranges;
    // A record's schedule (null: the default's), or null with `error` set.
    auto scheduleOf = [&](const tuning::Record *r) -> GPUScheduleAttr {
      if (!r)
        return def;
      auto s = llvm::dyn_cast_or_null<GPUScheduleAttr>(
          parseAttribute(r->schedule, ctx));
      if (s && s.getChip() == options.target)
        return s;
      error = "tuning record for @" + func.getName().str() + " has no " +
              options.target + " GPU schedule: '" + r->schedule + "'";
      return nullptr;
    };
    for (const tuning::Variant &var : plan) {
      // The decoding kernels (split-KV, rows below the decoding rows) come
      // from the decode record of the range, else from the configure
      // pass: a record tuned on prefill shapes says nothing of them (and
      // records made before the decoding kernels have none). The other
      // kernels run above the decoding rows, or at every row where there
      // are no decoding kernels.
      GPUScheduleAttr s = scheduleOf(var.record),
                      decodeFrom = scheduleOf(var.decode);
      if (!s || !decodeFrom) {
        ok = false;
        return;
      }
      if (s != def || var.decode) {
        SmallVector<GPUKernelAttr> spliced;
        int64_t rowsLo = 0;
        for (GPUKernelAttr k : decodeFrom.getKernels())
          if (isDecoding(k)) {
            spliced.push_back(k);
            rowsLo = std::max(rowsLo, k.getRowsHi());
          }
        for (GPUKernelAttr k : s.getKernels())
          if (!isDecoding(k))
            spliced.push_back(rebuild(k, k.getSuffix().str(), k.getKeysLo(),
                                      k.getKeysHi(), rowsLo));
        s = GPUScheduleAttr::get(ctx, options.target, spliced);
      }
      int64_t hi = var.keysHi ? var.keysHi : kInf;
      if (!ranges.empty() && std::get<0>(ranges.back()) == s &&
          std::get<2>(ranges.back()) == var.keysLo)
        std::get<2>(ranges.back()) = hi;
      else
        ranges.push_back({s, var.keysLo, hi});
    }
    for (auto [index, range] : llvm::enumerate(ranges)) {
      auto [s, lo, hi] = range;
      for (GPUKernelAttr k : s.getKernels()) {
        int64_t kLo = std::max(k.getKeysLo(), lo);
        int64_t kHi = std::min(k.getKeysHi() ? k.getKeysHi() : kInf, hi);
        if (kLo >= kHi)
          continue;
        // Entry names stay distinct: variant i > 0 adds "__v<i>".
        std::string suffix = k.getSuffix().str();
        if (index > 0)
          suffix += "__v" + std::to_string(index);
        kernels.push_back(
            rebuild(k, suffix, kLo, kHi == kInf ? 0 : kHi, k.getRowsLo()));
      }
    }
    op->setAttr(kScheduleAttrName,
                GPUScheduleAttr::get(ctx, options.target, kernels));
    logLine(tuning::describe(plan));
  });
  return ok;
}

bool compile(const std::string &source, const std::string &sourceName,
             Emit emit, const CompileOptions &options, std::string &out,
             std::string &error) {
  MLIRContext ctx(MLIRContext::Threading::DISABLED);
  ctx.printOpOnDiagnostic(false);
  registerDialects(ctx);
  std::string diagnostics;
  llvm::raw_string_ostream diagOs(diagnostics);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(source, sourceName), llvm::SMLoc());
  SourceMgrDiagnosticHandler handler(sourceMgr, &ctx, diagOs);

  auto fail = [&](const std::string &what) {
    error = what + (diagnostics.empty() ? "" : "\n" + diagnostics);
    return false;
  };
  std::string nestingError;
  if (!checkNesting(source, sourceName, nestingError))
    return fail(nestingError);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &ctx);
  if (!module)
    return fail("cannot parse " + sourceName);
  std::string attnText = print(*module);
  dump(options, "0-attn.mlir", attnText);
  if (emit == Emit::Attn) {
    out = attnText;
    return true;
  }
  bool gpuTarget = options.target != "cpu";
  if (gpuTarget && options.target != "sm_80" && options.target != "sm_90a")
    return fail("unknown target '" + options.target + "' (cpu, sm_80, sm_90a)");
  if (!options.tuned.empty() && gpuTarget) {
    std::string tuningError;
    if (!applyGPUTuning(*module, options, tuningError))
      return fail(tuningError);
  }
  if (!options.tuned.empty() && !gpuTarget) {
    CPUTarget t;
    std::string targetError;
    if (!resolveCPUTarget(options.cpuName, options.cpuFeatures, t,
                          targetError))
      return fail(targetError);
    std::string tuningError;
    if (!applyTuning(*module, options, cpuPipelineOptions(options, t),
                     tuningError))
      return fail(tuningError);
  }
  std::function<bool(const std::string &)> failFn = fail;
  Stages stages{*module, options, emit, out, failFn};
  bool stop = false;
  if (!stages.run([&](PassManager &pm) {
        mlir::attn::buildDecomposePipeline(pm);
      },
                  Emit::Decomposed, "1-decomposed.mlir",
                  "decomposing dilated attention failed", stop) ||
      stop)
    return stop;
  if (gpuTarget)
    return compileGPU(stages, sourceName);
  if (emit == Emit::PTX || emit == Emit::Cubin)
    return fail("--emit=ptx and cubin need a GPU target (sm_80, sm_90a)");

  // The CPU the code is for: its name and ISA extensions go into the
  // kernels' metadata, so a host without them refuses to load the kernel.
  CPUTarget cpuTarget;
  std::string targetError;
  if (!resolveCPUTarget(options.cpuName, options.cpuFeatures, cpuTarget,
                        targetError))
    return fail(targetError);
  mlir::attn::CPUOptions cpuOptions = cpuPipelineOptions(options, cpuTarget);
  if (!stages.run([&](PassManager &pm) {
        mlir::attn::buildCPUConfigurePipeline(pm, cpuOptions);
      },
                  Emit::Configured, "2-configured.mlir",
                  "configuring the schedule failed", stop) ||
      stop)
    return stop;
  if (!stages.run([&](PassManager &pm) {
        mlir::attn::buildCPUTilingPipeline(pm);
      },
                  Emit::Tiled, "3-tiled.mlir", "tiling failed", stop) ||
      stop)
    return stop;
  if (emit == Emit::Header) {
    out = emitHeader(*module, sourceName);
    return true;
  }

  PassManager lowering(&ctx);
  mlir::attn::buildCPUToLLVMPipeline(lowering);
  if (failed(lowering.run(*module)))
    return fail("lowering to the LLVM dialect failed");
  std::string llvmDialect = print(*module);
  dump(options, "4-llvm-dialect.mlir", llvmDialect);
  if (emit == Emit::LLVMDialect) {
    out = llvmDialect;
    return true;
  }

  llvm::LLVMContext llvmCtx;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(*module, llvmCtx, sourceName);
  if (!llvmModule)
    return fail("translation to LLVM IR failed");

  llvm::Triple tt;
  const llvm::Target *target = hostTarget(tt, targetError);
  if (!target)
    return fail(targetError);
  llvm::TargetOptions targetOptions;
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
      tt, cpuTarget.name, cpuTarget.features, targetOptions, llvm::Reloc::PIC_,
      std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
  // The .ll names its CPU too, so llc or clang on it makes the same code.
  for (llvm::Function &f : *llvmModule)
    if (!f.isDeclaration()) {
      f.addFnAttr("target-cpu", cpuTarget.name);
      if (!cpuTarget.features.empty())
        f.addFnAttr("target-features", cpuTarget.features);
    }
  llvmModule->setDataLayout(tm->createDataLayout());
  llvmModule->setTargetTriple(tt);
  auto optimize = makeOptimizingTransformer(3, 0, tm.get());
  if (llvm::Error err = optimize(llvmModule.get()))
    return fail("LLVM optimisation failed: " + llvm::toString(std::move(err)));
  std::string ir;
  {
    llvm::raw_string_ostream os(ir);
    llvmModule->print(os, nullptr);
  }
  dump(options, "5-llvm.ll", ir);
  if (emit == Emit::LLVMIR) {
    out = ir;
    return true;
  }

  llvm::SmallString<0> object;
  {
    llvm::raw_svector_ostream os(object);
    llvm::legacy::PassManager pm;
    if (tm->addPassesToEmitFile(pm, os, nullptr,
                                llvm::CodeGenFileType::ObjectFile))
      return fail("the target cannot emit object files");
    pm.run(*llvmModule);
  }
  if (emit == Emit::Object) {
    out = object.str().str();
    return true;
  }
  return linkShared(object.str().str(), out, error);
}

} // namespace attn
