//===- attn-tune.cpp - the autotuner's front end --------------------------===//
// Tunes the schedule of one kernel (a pattern, as attn-run takes it, or
// lightning attention) over a list of shapes on this machine's CPU: a
// progress bar, a results table per shape (config, time, speed, gate
// verdict, pruned reasons), the records saved where the JIT finds them, and
// on request a Markdown report, a JSON file (tools/tune_plot.py draws it)
// and an exported tuning table to commit (docs/tuning, attnc --tuning).
//===----------------------------------------------------------------------===//
#include "runtime/attnrt.h"
#include "runtime/jit/Compiler.h"
#include "runtime/jit/Tuner.h"
#include "runtime/jit/Tuning.h"
#include "tools/attn-run/PatternText.h"

#include "dialect/AttnDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

[[noreturn]] void die(const std::string &msg) {
  std::fprintf(stderr, "attn-tune: error: %s\n", msg.c_str());
  std::exit(2);
}

const char *kUsage = R"(usage:
  attn-tune --pattern PATTERN [--dtype f32|f16|bf16] [--d D] [--dv DV] [--lse]
            [--scale S] [--batch B] [--heads H] [--kv-heads HK]
            (--n N1,N2,... | --nq NQ --nk NK1,NK2,...)
            [--budget SECONDS] [--threads T] [--no-save]
            [--report FILE.md] [--json FILE.json] [--plot FILE.png]
            [--export TABLE.json] [--quiet]
  attn-tune --lightning [--flags F] ... (the same shape and output options)
  attn-tune FILE.mlir --entry F ...  (the op of kernel function F: its
            pattern, dtype, head dims, LSE and scale, or lightning's tensors)
  attn-tune --target sm_90a|sm_80 --plan DIR (--pattern P | FILE.mlir
            --entry F) ... : GPU tuning, step 1 (here, with the compiler)
  attn-tune --import RESULTS.json [--store DIR] [report/export options]:
            GPU tuning, step 3 (after attn-tune-measure on the GPU machine)

Tunes the CPU schedule of one kernel (tile sizes block_m / block_n, the
micro-kernel's rows and vector width) for each shape: candidates around the
configure pass's choice, pruned by what the CPU can hold (registers, L2),
each checked against the default config's output on the same fresh inputs
(the gate: SPEC.md's tolerance) and timed (warm-up, median of repeated runs
over rotating inputs); the best few re-timed in alternation. The winner of
each shape is saved under $ATTN_CACHE_DIR/tuning (default
~/.cache/attn/tuning) for a power-of-two bucket of Nq and Nk, and the JIT
(attn_get_kernel, attn-run, the Python package) uses it from then on
(ATTN_JIT_LOG=1 says which schedule serves which Nk).

  --pattern P      the pattern attribute, e.g. '#attn.causal',
                   '#attn.sliding_window<window = 1024>' (see attn-run --help)
  --lightning      tune lightning attention instead (--flags: 1 slopes,
                   2 state in, 4 state out; default 0)
  --n LIST         sequence lengths to tune, Nq = Nk (e.g. 1024,4096,32768)
  --nq/--nk        shapes with Nq != Nk: one Nq, a list of Nk (e.g. a
                   decoding step, --nq 1 --nk 4096,32768)
  --batch/--heads/--kv-heads   B, H, Hk of the shapes (default 1, 4, H)
  --tokens T       instead of --batch: B = max(1, T / Nq) per shape (fills a
                   GPU at every N, as the benchmarks do: B*N = 16K)
  --budget S       seconds per shape (default 60)
  --threads T      worker threads (default: all hardware threads); part of
                   the tuning key
  --no-save        measure and report, save no record
  --report FILE    the results tables, as Markdown
  --json FILE      every candidate of every shape, as JSON
  --plot FILE      a PNG of default vs tuned time per shape (python3 with
                   matplotlib runs tools/tune_plot.py on the JSON)
  --export FILE    the winners as a tuning table (the record format), to
                   commit under docs/tuning or give to attnc --tuning
  --quiet          no progress bar

GPU tuning runs in three steps, since the machine with the GPU need not have
the compiler: `--target sm_90a --plan DIR` generates the GPU search space
around the configure pass's choice (warps, key tiles, stages, CTAs per SM,
warp specialisation and its variants, async Q K^T), compiles each candidate
to a cubin here, prunes those the compiler refuses or that spill registers
(ptxas -v), and writes DIR/plan.json with a job per shape; on the GPU
machine, `attn-tune-measure DIR/plan.json -o RESULTS.json` (libattnrt only)
gates and times them; `--import RESULTS.json` makes the records (saved
under --store DIR, default the local store) and the same tables, report,
JSON, plot and --export as CPU tuning.
  --target T       cpu (default: tune in process) or sm_80 / sm_90a (--plan)
  --device D       cpu (default) or cuda: tune in process on CUDA device 0,
                   where this machine has both the GPU and the compiler (the
                   same search space as --plan, compiled and timed here)
  --plan DIR       write the plan and its cubins to DIR (created)
  --import FILE    records from attn-tune-measure's results
  --store DIR      --import: the directory of the tuning files (default
                   $ATTN_CACHE_DIR/tuning); docs/tuning for shipped tables
Exit status: 0 ok, 2 bad input or a failure (the message says which).
)";

struct Options {
  std::string pattern, file, entry;
  bool lightning = false;
  int flags = 0;
  std::string dtype = "f32";
  int64_t d = 64, dv = 0, batch = 1, heads = 4, kvHeads = 0, tokens = 0;
  bool lse = false;
  float scale = 0;
  std::vector<std::pair<int64_t, int64_t>> shapes;
  double budget = 60;
  int threads = 0;
  bool save = true, quiet = false, wrongCandidate = false;
  std::string report, json, plot, exportPath;
  std::string target = "cpu", planDir, importPath, store, device = "cpu";
};

int64_t toInt(const std::string &flag, const std::string &v, int64_t lo,
              int64_t hi) {
  char *end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || errno || x < lo || x > hi)
    die(flag + " takes an integer in [" + std::to_string(lo) + ", " +
        std::to_string(hi) + "], got '" + v + "'");
  return x;
}

/// A comma-separated list of lengths.
std::vector<int64_t> lengths(const std::string &flag, const std::string &list) {
  std::vector<int64_t> out;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    out.push_back(toInt(flag, list.substr(pos, comma - pos), 1,
                        int64_t(1) << 26));
    if (comma == std::string::npos)
      break;
    pos = comma + 1;
  }
  return out;
}

Options parse(int argc, char **argv) {
  Options o;
  int64_t nq = 0;
  std::vector<int64_t> nks;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--entry") {
      o.entry = value();
    } else if (a.size() > 5 && a.compare(a.size() - 5, 5, ".mlir") == 0 &&
               a[0] != '-') {
      o.file = a;
    } else if (a == "--pattern") {
      o.pattern = value();
    } else if (a == "--lightning") {
      o.lightning = true;
    } else if (a == "--flags") {
      o.flags = int(toInt(a, value(), 0, 7));
    } else if (a == "--dtype") {
      o.dtype = value();
      if (o.dtype != "f32" && o.dtype != "f16" && o.dtype != "bf16")
        die("--dtype takes f32, f16 or bf16, got '" + o.dtype + "'");
    } else if (a == "--d") {
      o.d = toInt(a, value(), 1, 1024);
    } else if (a == "--dv") {
      o.dv = toInt(a, value(), 1, 1024);
    } else if (a == "--lse") {
      o.lse = true;
    } else if (a == "--scale") {
      std::string v = value();
      char *end = nullptr;
      o.scale = std::strtof(v.c_str(), &end);
      if (v.empty() || *end || !std::isfinite(o.scale))
        die("--scale takes a finite number, got '" + v + "'");
    } else if (a == "--batch") {
      o.batch = toInt(a, value(), 1, 1 << 20);
    } else if (a == "--tokens") {
      o.tokens = toInt(a, value(), 1, int64_t(1) << 30);
    } else if (a == "--heads") {
      o.heads = toInt(a, value(), 1, 1 << 16);
    } else if (a == "--kv-heads") {
      o.kvHeads = toInt(a, value(), 1, 1 << 16);
    } else if (a == "--n") {
      for (int64_t n : lengths(a, value()))
        o.shapes.push_back({n, n});
    } else if (a == "--nq") {
      nq = toInt(a, value(), 1, int64_t(1) << 26);
    } else if (a == "--nk") {
      nks = lengths(a, value());
    } else if (a == "--budget") {
      std::string v = value();
      char *end = nullptr;
      o.budget = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || !(o.budget > 0) || o.budget > 86400)
        die("--budget takes seconds in (0, 86400], got '" + v + "'");
    } else if (a == "--threads") {
      o.threads = int(toInt(a, value(), 1, 1024));
    } else if (a == "--no-save") {
      o.save = false;
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (a == "--report") {
      o.report = value();
    } else if (a == "--json") {
      o.json = value();
    } else if (a == "--plot") {
      o.plot = value();
    } else if (a == "--export") {
      o.exportPath = value();
    } else if (a == "--target") {
      o.target = value();
      if (o.target != "cpu" && o.target != "sm_80" && o.target != "sm_90a")
        die("--target takes cpu, sm_80 or sm_90a, got '" + o.target + "'");
    } else if (a == "--device") {
      o.device = value();
      if (o.device != "cpu" && o.device != "cuda")
        die("--device takes cpu or cuda, got '" + o.device + "'");
    } else if (a == "--plan") {
      o.planDir = value();
    } else if (a == "--import") {
      o.importPath = value();
    } else if (a == "--store") {
      o.store = value();
    } else if (a == "--test-wrong-candidate") {
      // Tests: a candidate computing the wrong function, for the gate.
      o.wrongCandidate = true;
    } else {
      die("unknown argument '" + a + "' (see --help)");
    }
  }
  if (!o.importPath.empty()) {
    if (!o.planDir.empty() || !o.pattern.empty() || o.lightning ||
        !o.file.empty() || !o.shapes.empty() || nq || !nks.empty())
      die("--import takes the results alone (the kernel and shapes are in "
          "them)");
    if (!o.plot.empty() && o.json.empty())
      o.json = o.plot + ".json";
    return o;
  }
  if (!o.store.empty())
    die("--store goes with --import");
  if ((o.target != "cpu") != !o.planDir.empty())
    die(o.planDir.empty() ? "a GPU target is tuned in steps: give --plan DIR "
                            "(see --help)"
                          : "--plan needs a GPU --target (sm_90a or sm_80); "
                            "CPU kernels are tuned in process");
  if (!o.file.empty()) {
    if (o.lightning || !o.pattern.empty())
      die("a kernel file replaces --pattern and --lightning");
    if (o.entry.empty())
      die("a kernel file needs --entry F (the function to tune)");
  } else if (o.lightning == !o.pattern.empty()) {
    die("give one of --pattern P, --lightning or FILE.mlir --entry F (see "
        "--help)");
  }
  if (nq || !nks.empty()) {
    if (!nq || nks.empty())
      die("--nq and --nk go together");
    for (int64_t nk : nks)
      o.shapes.push_back({nq, nk});
  }
  if (o.shapes.empty())
    die("no shape: give --n N1,N2,... or --nq NQ --nk NK1,NK2,...");
  if (!o.dv)
    o.dv = o.d;
  if (!o.kvHeads)
    o.kvHeads = o.heads;
  if (o.heads % o.kvHeads)
    die("--heads must be a multiple of --kv-heads");
  if (!o.plot.empty() && o.json.empty())
    o.json = o.plot + ".json";
  return o;
}

/// Where a file will be written must be writable before hours of tuning.
void checkWritable(const std::string &path) {
  if (path.empty())
    return;
  llvm::SmallString<256> dir(path);
  llvm::sys::path::remove_filename(dir);
  if (dir.empty())
    dir = ".";
  if (!llvm::sys::fs::is_directory(dir) ||
      access(dir.c_str(), W_OK) != 0)
    die("cannot write '" + path + "': its directory '" + std::string(dir) +
        "' is missing or not writable");
}

bool writeText(const std::string &path, const std::string &text) {
  std::string error;
  if (!attn::writeFileAtomic(path, text, error)) {
    std::fprintf(stderr, "attn-tune: error: %s\n", error.c_str());
    return false;
  }
  return true;
}

/// A kernel file's function: the request its one attn op makes.
void fromKernelFile(mlir::MLIRContext &ctx, Options &o) {
  using namespace mlir;
  namespace A = mlir::attn;
  ctx.loadDialect<func::FuncDialect, memref::MemRefDialect>();
  std::string error;
  auto buf = llvm::MemoryBuffer::getFile(o.file);
  if (!buf)
    die("cannot read '" + o.file + "': " + buf.getError().message());
  if (!::attn::checkNesting((*buf)->getBuffer().str(), o.file, error))
    die(error);
  std::string diag;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    if (diag.empty())
      diag = d.str();
    return success();
  });
  llvm::SourceMgr sm;
  sm.AddNewSourceBuffer(std::move(*buf), llvm::SMLoc());
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sm, &ctx);
  if (!module)
    die("cannot parse '" + o.file + "': " + diag);
  auto fn = module->lookupSymbol<func::FuncOp>(o.entry);
  if (!fn)
    die("'" + o.file + "' has no function '" + o.entry + "'");
  SmallVector<Operation *> ops;
  fn.walk([&](Operation *op) {
    if (isa<A::AttentionOp, A::LightningOp, A::ClearOp>(op))
      ops.push_back(op);
  });
  if (ops.size() != 1 || isa<A::ClearOp>(ops[0]))
    die("@" + o.entry + " must hold one attn.attention or attn.lightning "
        "op to be tuned, it holds " + std::to_string(ops.size()) + " attn ops");
  Operation *op = ops[0];
  auto memref = [&](unsigned i) {
    return cast<MemRefType>(op->getOperand(i).getType());
  };
  Type elt = memref(0).getElementType();
  o.dtype = elt.isF32() ? "f32" : elt.isF16() ? "f16" : "bf16";
  o.d = memref(0).getDimSize(3);
  o.dv = memref(2).getDimSize(3);
  if (ShapedType::isDynamic(o.d) || ShapedType::isDynamic(o.dv))
    die("@" + o.entry + " has dynamic head dims; CPU kernels need static ones");
  if (auto l = dyn_cast<A::LightningOp>(op)) {
    o.lightning = true;
    o.flags = (l.getSlopes() ? 1 : 0) | (l.getStateIn() ? 2 : 0) |
              (l.getStateOut() ? 4 : 0);
    if (auto s = l.getScaleAttr())
      o.scale = float(s.getValueAsDouble());
    return;
  }
  auto a = cast<A::AttentionOp>(op);
  if (a.getRows() || a.getAccumulate())
    die("@" + o.entry + " holds a piece of a decomposed op (rows or "
        "accumulate); tune the pattern it came from");
  llvm::raw_string_ostream os(o.pattern);
  os << a.getPattern();
  o.lse = a.getLse() != nullptr;
  if (auto s = a.getScaleAttr())
    o.scale = float(s.getValueAsDouble());
}

/// The results tables of the shapes tuned (or imported), and the files
/// asked for at the end.
struct Report {
  const Options &o;
  std::string what;
  std::string md, device;
  llvm::json::Array shapesJson;
  std::vector<attn::tuning::Record> winners;

  void add(const std::string &shape, int64_t nq, int64_t nk,
           const attn::TuneResult &res, double flops) {
    device = res.key.device;
    const attn::CandidateResult &def = res.candidates[0],
                                &win = res.candidates[size_t(res.best)];
    int timed = 0, pruned = 0, rejected = 0, failed = 0, skipped = 0;
    for (const attn::CandidateResult &c : res.candidates) {
      timed += c.medianMs > 0;
      pruned += c.verdict == "pruned";
      rejected += c.verdict == "rejected";
      failed += c.verdict == "failed";
      skipped += c.verdict == "skipped";
    }
    bool gpu = res.key.target != "cpu";
    double scale = gpu ? 1e9 : 1e6; // TFLOP/s on a GPU, GFLOP/s on the CPU
    const char *unit = gpu ? "TFLOP/s" : "GFLOP/s";
    // GPU plans name the default "default (<config>)".
    std::string defName = def.config;
    if (defName.rfind("default (", 0) == 0 && defName.back() == ')')
      defName = defName.substr(9, defName.size() - 10);
    char head[512];
    snprintf(head, sizeof(head),
             "%s: %s %.4f ms (%.1f %s), default %s %.4f ms: %.2fx; %d "
             "timed, %d pruned, %d rejected, %d failed, %d skipped (budget), "
             "%.1f s%s",
             shape.c_str(), res.best ? "tuned" : "default kept",
             win.medianMs, flops / (win.medianMs * scale), unit,
             defName.c_str(), def.medianMs, def.medianMs / win.medianMs,
             timed, pruned, rejected, failed, skipped, res.seconds,
             res.saved ? ", saved" : "");
    std::printf("%s\n", head);
    std::printf("  %-34s %-9s %10s %9s %8s %9s  %s\n", "config", "verdict",
                "median ms", unit, "vs def", "max err", "reason");
    md += "### " + what + ", " + shape + "\n\n" + head +
          "\n\n| config | verdict | median ms | " + unit +
          " | vs default | max err | reason |\n"
          "|---|---|---:|---:|---:|---:|---|\n";
    llvm::json::Array cands;
    for (const attn::CandidateResult &c : res.candidates) {
      char line[1024];
      double perf = c.medianMs > 0 ? flops / (c.medianMs * scale) : 0;
      double vs = c.medianMs > 0 ? def.medianMs / c.medianMs : 0;
      snprintf(line, sizeof(line),
               "  %-34s %-9s %10.4f %9.1f %7.2fx %9.2g  %s", c.config.c_str(),
               c.verdict.c_str(), c.medianMs, perf, vs, c.maxError,
               c.reason.c_str());
      std::printf("%s\n", line);
      snprintf(line, sizeof(line),
               "| %s | %s | %.4f | %.1f | %.2fx | %.2g | %s |\n",
               c.config.c_str(), c.verdict.c_str(), c.medianMs, perf, vs,
               c.maxError, c.reason.c_str());
      md += line;
      cands.push_back(llvm::json::Object{{"config", c.config},
                                         {"schedule", c.schedule},
                                         {"verdict", c.verdict},
                                         {"reason", c.reason},
                                         {"median_ms", c.medianMs},
                                         {gpu ? "tflops" : "gflops", perf},
                                         {"max_error", c.maxError}});
    }
    md += "\n";
    shapesJson.push_back(llvm::json::Object{{"nq", nq},
                                            {"nk", nk},
                                            {"shape", shape},
                                            {"default_ms", def.medianMs},
                                            {"tuned_ms", win.medianMs},
                                            {"tuned", win.config},
                                            {"default", def.config},
                                            {"seconds", res.seconds},
                                            {"flops", flops},
                                            {"candidates", std::move(cands)}});
    winners.push_back(res.record);
    std::fflush(stdout);
  }

  bool finish(bool ok) {
    if (!o.report.empty())
      ok &= writeText(o.report, "## attn-tune: " + what + "\n\nDevice: " +
                                    device + "\n\n" + md);
    if (!o.json.empty()) {
      llvm::json::Value doc = llvm::json::Object{
          {"kernel", what}, {"device", device}, {"shapes", std::move(shapesJson)}};
      std::string text;
      llvm::raw_string_ostream os(text);
      os << llvm::formatv("{0:2}", doc) << "\n";
      ok &= writeText(o.json, text);
    }
    if (!o.exportPath.empty()) {
      std::string error;
      if (!attn::tuning::writeFile(o.exportPath, winners, error)) {
        std::fprintf(stderr, "attn-tune: error: %s\n", error.c_str());
        ok = false;
      }
    }
    if (!o.plot.empty() && ok) {
      std::string cmd = "python3 '" ATTN_SOURCE_DIR "/tools/tune_plot.py' '" +
                        o.json + "' '" + o.plot + "'";
      if (std::system(cmd.c_str()) != 0) {
        std::fprintf(stderr,
                     "attn-tune: error: the plot was not drawn (%s)\n",
                     cmd.c_str());
        ok = false;
      }
    }
    return ok;
  }
};

int64_t batchOf(const Options &o, int64_t nq) {
  return o.tokens ? std::max<int64_t>(1, o.tokens / nq) : o.batch;
}

/// The kernel and shape of the options' tuning request at (nq, nk).
attn::TuneRequest requestOf(const Options &o, attn_dtype dtype, int64_t nq,
                            int64_t nk) {
  attn::TuneRequest r;
  r.op = o.lightning ? "lightning" : "attention";
  r.pattern = o.pattern;
  r.dtype = dtype;
  r.d = o.d;
  r.dv = o.dv;
  r.lse = o.lse;
  r.scale = o.scale;
  r.lightningFlags = o.flags;
  r.batch = batchOf(o, nq);
  r.heads = o.heads;
  r.kvHeads = o.kvHeads;
  r.nq = nq;
  r.nk = nk;
  r.budgetSeconds = o.budget;
  r.save = o.save;
  r.addWrongCandidate = o.wrongCandidate;
  return r;
}

std::string shapeText(int64_t batch, int64_t heads, int64_t kvHeads,
                      int64_t nq, int64_t nk) {
  return "B=" + std::to_string(batch) + " H=" + std::to_string(heads) +
         " Hk=" + std::to_string(kvHeads) +
         (nq == nk ? " N=" + std::to_string(nq)
                   : " Nq=" + std::to_string(nq) + " Nk=" + std::to_string(nk));
}

std::string kernelText(const std::string &pattern, bool lightning,
                       const std::string &dtype, int64_t d, int64_t dv) {
  std::string what = lightning ? std::string("lightning") : pattern;
  return what + " " + dtype + " D=" + std::to_string(d) +
         (dv != d ? " Dv=" + std::to_string(dv) : "");
}

double flopsOf(mlir::MLIRContext &mctx, const attn::tuning::Key &k,
               int64_t batch, int64_t heads, int64_t nq, int64_t nk) {
  if (k.op == "lightning")
    return attn::lightningFlops(batch, heads, nq, k.d, k.dv);
  std::string error;
  mlir::Attribute attr = attn::parsePatternText(mctx, k.pattern, error);
  if (!attr)
    die(error);
  return attn::ref::usefulFlops(attn::refPattern(attr), batch, heads, nq, nk,
                                k.d, k.dv);
}

/// --import: attn-tune-measure's results become records and tables.
int importResults(const Options &o, mlir::MLIRContext &mctx) {
  auto buf = llvm::MemoryBuffer::getFile(o.importPath);
  if (!buf)
    die("cannot read '" + o.importPath + "': " + buf.getError().message());
  llvm::Expected<llvm::json::Value> doc =
      llvm::json::parse((*buf)->getBuffer());
  if (!doc)
    die("'" + o.importPath + "' is not JSON: " +
        llvm::toString(doc.takeError()));
  const llvm::json::Object *top = doc->getAsObject();
  const llvm::json::Array *plans = top ? top->getArray("plans") : nullptr;
  if (!top || top->getInteger("format").value_or(0) != 1 || !plans)
    die("'" + o.importPath + "' is not attn-tune-measure's results (format 1)");
  std::string date = top->getString("date").value_or("").str();
  std::string store = o.store.empty() ? attn::tuning::localDir() : o.store;
  Report report{o, "", "", "", {}, {}};
  int failures = 0, jobs = 0;
  for (const llvm::json::Value &pv : *plans) {
    const llvm::json::Object *plan = pv.getAsObject();
    const llvm::json::Array *js = plan ? plan->getArray("jobs") : nullptr;
    if (!js)
      die("'" + o.importPath + "': a plan without jobs");
    std::string device = plan->getString("device").value_or("").str();
    if (device.empty())
      die("'" + o.importPath + "': a plan without the device it ran on");
    report.what = plan->getString("kernel").value_or("").str();
    for (const llvm::json::Value &jv : *js) {
      ++jobs;
      const llvm::json::Object *job = jv.getAsObject();
      std::string name = job ? job->getString("name").value_or("?").str() : "?";
      if (!job) 
        die("'" + o.importPath + "': a job is not an object");
      if (auto err = job->getString("error")) {
        std::fprintf(stderr, "attn-tune: error: %s: not measured: %s\n",
                     name.c_str(), err->str().c_str());
        ++failures;
        continue;
      }
      attn::TuneResult res;
      std::string why;
      const llvm::json::Value *recV = job->get("record");
      const llvm::json::Object *prob = job->getObject("problem");
      const llvm::json::Array *cands = job->getArray("candidates");
      auto best = job->getInteger("best");
      if (!recV || !prob || !cands || cands->empty() || !best ||
          *best < 0 || size_t(*best) >= cands->size() ||
          !attn::tuning::fromJSON(*recV, res.record, why))
        die("'" + o.importPath + "': job '" + name +
            "' is incomplete (was it measured?) " + why);
      attn::tuning::Record &rec = res.record;
      rec.key.device = device;
      res.key = rec.key;
      res.best = int(*best);
      res.seconds = job->getNumber("seconds").value_or(0);
      for (const llvm::json::Value &cv : *cands) {
        const llvm::json::Object *c = cv.getAsObject();
        if (!c)
          die("'" + o.importPath + "': a candidate is not an object");
        attn::CandidateResult r;
        r.config = c->getString("config").value_or("").str();
        r.schedule = c->getString("schedule").value_or("").str();
        r.verdict = c->getString("verdict").value_or("").str();
        r.reason = c->getString("reason").value_or("").str();
        r.medianMs = c->getNumber("median_ms").value_or(0);
        r.maxError = c->getNumber("max_error").value_or(0);
        res.candidates.push_back(r);
      }
      const attn::CandidateResult &win = res.candidates[size_t(res.best)];
      if (!(win.medianMs > 0) || !(res.candidates[0].medianMs > 0))
        die("'" + o.importPath + "': job '" + name + "' has no timings");
      rec.schedule = win.schedule;
      rec.config = win.config;
      rec.medianMs = win.medianMs;
      rec.defaultMs = res.candidates[0].medianMs;
      rec.candidates = int64_t(llvm::count_if(
          res.candidates,
          [](const attn::CandidateResult &c) { return c.medianMs > 0; }));
      rec.date = date;
      if (o.save) {
        if (!attn::tuning::save(store, rec, why))
          die(why);
        res.saved = true;
      }
      auto get = [&](const char *f) { return prob->getInteger(f).value_or(1); };
      int64_t b = get("batch"), h = get("heads"), hk = get("kv_heads"),
              nq = get("nq"), nk = get("nk");
      report.add(shapeText(b, h, hk, nq, nk), nq, nk, res,
                 flopsOf(mctx, rec.key, b, h, nq, nk));
    }
  }
  if (plans->size() > 1)
    report.what = "the GPU sweep (" + std::to_string(plans->size()) +
                  " kernels, " + std::to_string(jobs) + " shapes)";
  if (!o.quiet)
    std::fprintf(stderr, "attn-tune: %d of %d jobs imported%s%s\n",
                 jobs - failures, jobs, o.save ? " into " : "",
                 o.save ? store.c_str() : "");
  return report.finish(failures == 0) ? 0 : 2;
}

/// --plan: the GPU candidates, compiled here, and a job per shape.
int writePlan(const Options &o, attn_dtype dtype, const std::string &what) {
  std::error_code ec = llvm::sys::fs::create_directories(o.planDir);
  if (ec)
    die("cannot create '" + o.planDir + "': " + ec.message());
  // The candidates depend on the shape only through whether it is a
  // decoding one (the query rows of a KV head within the split-KV kernels'
  // rows: their schedule is searched) or not (the prefill kernels'): one
  // kind per plan.
  auto decoding = [&](int64_t nq) {
    return attn::tuning::isDecodeShape(nq, o.heads / o.kvHeads,
                                       mlir::attn::GPUOptions().decodeRows);
  };
  for (auto [nq, nk] : o.shapes)
    if (decoding(nq) != decoding(o.shapes.front().first))
      die("decoding steps (Nq = 1) and longer shapes search different "
          "kernels: give them in separate plans");
  attn::TuneRequest r = requestOf(o, dtype, o.shapes.front().first,
                                  o.shapes.front().second);
  std::vector<attn::GPUCandidate> cands;
  std::string error;
  bool tty = !o.quiet && isatty(2);
  if (!o.quiet)
    std::fprintf(stderr, "attn-tune: %s for %s: compiling the candidates\n",
                 what.c_str(), o.target.c_str());
  auto progress = [&](int done, int total) {
    if (o.quiet)
      return;
    if (tty)
      std::fprintf(stderr, "\r\033[K  %d/%d compiled", done, total);
    else if (done == total || done % 10 == 0)
      std::fprintf(stderr, "  %d/%d compiled\n", done, total);
  };
  if (!attn::gpuCandidates(r, o.target, cands, error, progress))
    die(error);
  if (tty)
    std::fprintf(stderr, "\r\033[K");
  llvm::json::Array candJson;
  int pruned = 0;
  for (size_t i = 0; i < cands.size(); ++i) {
    const attn::GPUCandidate &c = cands[i];
    std::string file;
    if (c.pruned.empty()) {
      file = "c" + std::to_string(i) + ".cubin";
      std::string path = o.planDir + "/" + file;
      if (!attn::writeFileAtomic(path, c.image, error))
        die(error);
    } else {
      ++pruned;
    }
    candJson.push_back(llvm::json::Object{{"config", c.config},
                                          {"schedule", c.schedule},
                                          {"file", file},
                                          {"entry", "kernel"},
                                          {"pruned", c.pruned},
                                          {"registers", c.registers},
                                          {"spill_bytes", c.spillBytes}});
  }
  llvm::json::Array jobs;
  for (auto [nq, nk] : o.shapes) {
    r = requestOf(o, dtype, nq, nk);
    int64_t batch = r.batch;
    attn::tuning::Record rec;
    rec.key = attn::tuningKeyFor(r, o.target, "");
    rec.shape = {batch, o.heads, o.kvHeads, nq, nk};
    jobs.push_back(llvm::json::Object{
        {"name", shapeText(batch, o.heads, o.kvHeads, nq, nk)},
        {"budget", o.budget},
        {"record", attn::tuning::toJSON(rec)},
        {"problem", llvm::json::Object{{"op", r.op},
                                       {"dtype", o.dtype},
                                       {"d", o.d},
                                       {"dv", o.dv},
                                       {"lse", o.lse},
                                       {"flags", o.flags},
                                       {"batch", batch},
                                       {"heads", o.heads},
                                       {"kv_heads", o.kvHeads},
                                       {"nq", nq},
                                       {"nk", nk}}},
        {"candidates", llvm::json::Value(llvm::json::Array(candJson))}});
  }
  llvm::json::Value doc = llvm::json::Object{
      {"format", 1},
      {"tool", "attn-tune --plan"},
      {"kernel", what},
      {"target", o.target},
      {"compiler", attn::tuning::compilerStamp()},
      {"jobs", std::move(jobs)}};
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::formatv("{0:1}", doc) << "\n";
  if (!writeText(o.planDir + "/plan.json", text))
    return 2;
  std::printf("%s: %zu candidates for %s (%d pruned), %zu shapes: %s/plan.json"
              "\n  next, on the GPU machine: attn-tune-measure %s/plan.json "
              "-o RESULTS.json\n  then here: attn-tune --import RESULTS.json\n",
              what.c_str(), cands.size(), o.target.c_str(), pruned,
              o.shapes.size(), o.planDir.c_str(), o.planDir.c_str());
  for (const attn::GPUCandidate &c : cands)
    if (!c.pruned.empty() && !o.quiet)
      std::printf("  pruned %-34s %s\n", c.config.c_str(), c.pruned.c_str());
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  Options o = parse(argc, argv);
  for (const std::string &p : {o.report, o.json, o.plot, o.exportPath})
    checkWritable(p);
  mlir::MLIRContext mctx;
  mctx.loadDialect<mlir::attn::AttnDialect>();
  if (!o.importPath.empty())
    return importResults(o, mctx);
  attn_dtype dtype = o.dtype == "f32"   ? ATTN_F32
                     : o.dtype == "f16" ? ATTN_F16
                                        : ATTN_BF16;
  // The pattern is checked (and its FLOPs counted) before anything runs.
  if (!o.file.empty())
    fromKernelFile(mctx, o);
  attn::ref::Pattern refPattern;
  if (!o.lightning) {
    std::string error;
    mlir::Attribute attr = attn::parsePatternText(mctx, o.pattern, error);
    if (!attr)
      die(error);
    refPattern = attn::refPattern(attr);
  }
  std::string what = kernelText(o.pattern, o.lightning, o.dtype, o.d, o.dv);
  if (!o.planDir.empty())
    return writePlan(o, dtype, what);
  attn_context *ctx = nullptr;
  bool cuda = o.device == "cuda";
  if (attn_context_create(cuda ? ATTN_DEVICE_CUDA : ATTN_DEVICE_CPU,
                          cuda ? 0 : o.threads, &ctx) != ATTN_OK)
    die(std::string(cuda ? "--device cuda: " : "") + attn_last_error());

  bool tty = !o.quiet && isatty(2);
  Report report{o, what, "", "", {}, {}};
  int failures = 0;
  for (auto [nq, nk] : o.shapes) {
    attn::TuneRequest r = requestOf(o, dtype, nq, nk);
    std::string shape = shapeText(r.batch, o.heads, o.kvHeads, nq, nk);
    if (!o.quiet)
      std::fprintf(stderr, "attn-tune: %s, %s (budget %.0f s)\n", what.c_str(),
                   shape.c_str(), o.budget);
    r.progress = [&](int done, int total, double secs, const std::string &c) {
      if (o.quiet)
        return;
      int width = 24, fill = int(std::min(1.0, secs / o.budget) * width);
      std::string bar(size_t(fill), '#');
      bar.resize(size_t(width), '.');
      if (tty)
        std::fprintf(stderr, "\r\033[K[%s] %3.0f s, %d/%d configs  %s",
                     bar.c_str(), secs, done, total, c.c_str());
      else
        std::fprintf(stderr, "  [%s] %3.0f s, %d/%d configs  %s\n",
                     bar.c_str(), secs, done, total, c.c_str());
    };
    attn::TuneResult res;
    attn_status s = attn::tune(ctx, r, res);
    if (tty)
      std::fprintf(stderr, "\r\033[K");
    if (s != ATTN_OK) {
      std::fprintf(stderr, "attn-tune: error: %s: %s\n", shape.c_str(),
                   attn_last_error());
      ++failures;
      continue;
    }
    double flops = o.lightning
                       ? attn::lightningFlops(r.batch, o.heads, nq, o.d, o.dv)
                       : attn::ref::usefulFlops(refPattern, r.batch, o.heads,
                                                nq, nk, o.d, o.dv);
    report.add(shape, nq, nk, res, flops);
  }
  attn_context_destroy(ctx);
  return report.finish(failures == 0) ? 0 : 2;
}
