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
            (--n N1,N2,... | --nq NQ --nk NK)
            [--budget SECONDS] [--threads T] [--no-save]
            [--report FILE.md] [--json FILE.json] [--plot FILE.png]
            [--export TABLE.json] [--quiet]
  attn-tune --lightning [--flags F] ... (the same shape and output options)
  attn-tune FILE.mlir --entry F ...  (the op of kernel function F: its
            pattern, dtype, head dims, LSE and scale, or lightning's tensors)

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
  --nq/--nk        one shape with Nq != Nk
  --batch/--heads/--kv-heads   B, H, Hk of the shapes (default 1, 4, H)
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
Exit status: 0 ok, 2 bad input or a failure (the message says which).
)";

struct Options {
  std::string pattern, file, entry;
  bool lightning = false;
  int flags = 0;
  std::string dtype = "f32";
  int64_t d = 64, dv = 0, batch = 1, heads = 4, kvHeads = 0;
  bool lse = false;
  float scale = 0;
  std::vector<std::pair<int64_t, int64_t>> shapes;
  double budget = 60;
  int threads = 0;
  bool save = true, quiet = false, wrongCandidate = false;
  std::string report, json, plot, exportPath;
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

Options parse(int argc, char **argv) {
  Options o;
  int64_t nq = 0, nk = 0;
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
    } else if (a == "--heads") {
      o.heads = toInt(a, value(), 1, 1 << 16);
    } else if (a == "--kv-heads") {
      o.kvHeads = toInt(a, value(), 1, 1 << 16);
    } else if (a == "--n") {
      std::string list = value();
      size_t pos = 0;
      while (pos <= list.size()) {
        size_t comma = list.find(',', pos);
        std::string item = list.substr(pos, comma - pos);
        int64_t n = toInt("--n", item, 1, int64_t(1) << 26);
        o.shapes.push_back({n, n});
        if (comma == std::string::npos)
          break;
        pos = comma + 1;
      }
    } else if (a == "--nq") {
      nq = toInt(a, value(), 1, int64_t(1) << 26);
    } else if (a == "--nk") {
      nk = toInt(a, value(), 1, int64_t(1) << 26);
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
    } else if (a == "--test-wrong-candidate") {
      // Tests: a candidate computing the wrong function, for the gate.
      o.wrongCandidate = true;
    } else {
      die("unknown argument '" + a + "' (see --help)");
    }
  }
  if (!o.file.empty()) {
    if (o.lightning || !o.pattern.empty())
      die("a kernel file replaces --pattern and --lightning");
    if (o.entry.empty())
      die("a kernel file needs --entry F (the function to tune)");
  } else if (o.lightning == !o.pattern.empty()) {
    die("give one of --pattern P, --lightning or FILE.mlir --entry F (see "
        "--help)");
  }
  if (nq || nk) {
    if (!nq || !nk)
      die("--nq and --nk go together");
    o.shapes.push_back({nq, nk});
  }
  if (o.shapes.empty())
    die("no shape: give --n N1,N2,... or --nq NQ --nk NK");
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

} // namespace

int main(int argc, char **argv) {
  Options o = parse(argc, argv);
  for (const std::string &p : {o.report, o.json, o.plot, o.exportPath})
    checkWritable(p);
  attn_dtype dtype = o.dtype == "f32"   ? ATTN_F32
                     : o.dtype == "f16" ? ATTN_F16
                                        : ATTN_BF16;
  // The pattern is checked (and its FLOPs counted) before anything runs.
  mlir::MLIRContext mctx;
  mctx.loadDialect<mlir::attn::AttnDialect>();
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
  attn_context *ctx = nullptr;
  if (attn_context_create(ATTN_DEVICE_CPU, o.threads, &ctx) != ATTN_OK)
    die(attn_last_error());

  bool tty = !o.quiet && isatty(2);
  std::string what =
      o.lightning ? std::string("lightning") : o.pattern;
  what += " " + o.dtype + " D=" + std::to_string(o.d) +
          (o.dv != o.d ? " Dv=" + std::to_string(o.dv) : "");
  std::string md, device;
  llvm::json::Array shapesJson;
  std::vector<attn::tuning::Record> winners;
  int failures = 0;
  for (auto [nq, nk] : o.shapes) {
    attn::TuneRequest r;
    r.op = o.lightning ? "lightning" : "attention";
    r.pattern = o.pattern;
    r.dtype = dtype;
    r.d = o.d;
    r.dv = o.dv;
    r.lse = o.lse;
    r.scale = o.scale;
    r.lightningFlags = o.flags;
    r.batch = o.batch;
    r.heads = o.heads;
    r.kvHeads = o.kvHeads;
    r.nq = nq;
    r.nk = nk;
    r.budgetSeconds = o.budget;
    r.save = o.save;
    r.addWrongCandidate = o.wrongCandidate;
    std::string shape = "B=" + std::to_string(o.batch) +
                        " H=" + std::to_string(o.heads) +
                        " Hk=" + std::to_string(o.kvHeads) +
                        (nq == nk ? " N=" + std::to_string(nq)
                                  : " Nq=" + std::to_string(nq) +
                                        " Nk=" + std::to_string(nk));
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
    device = res.key.device;
    double flops = o.lightning
                       ? attn::lightningFlops(o.batch, o.heads, nq, o.d, o.dv)
                       : attn::ref::usefulFlops(refPattern, o.batch, o.heads,
                                                nq, nk, o.d, o.dv);
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
    char head[512];
    snprintf(head, sizeof(head),
             "%s: %s %.3f ms (%.1f GFLOP/s), default %s %.3f ms: %.2fx; %d "
             "timed, %d pruned, %d rejected, %d failed, %d skipped (budget), "
             "%.1f s%s",
             shape.c_str(), res.best ? "tuned" : "default kept",
             win.medianMs, flops / (win.medianMs * 1e6), def.config.c_str(),
             def.medianMs, def.medianMs / win.medianMs, timed, pruned,
             rejected, failed, skipped, res.seconds,
             res.saved ? ", saved" : "");
    std::printf("%s\n", head);
    std::printf("  %-26s %-9s %10s %9s %8s %9s  %s\n", "config", "verdict",
                "median ms", "GFLOP/s", "vs def", "max err", "reason");
    md += "### " + what + ", " + shape + "\n\n" + head +
          "\n\n| config | verdict | median ms | GFLOP/s | vs default | max "
          "err | reason |\n|---|---|---:|---:|---:|---:|---|\n";
    llvm::json::Array cands;
    for (const attn::CandidateResult &c : res.candidates) {
      char line[1024];
      double gf = c.medianMs > 0 ? flops / (c.medianMs * 1e6) : 0;
      double vs = c.medianMs > 0 ? def.medianMs / c.medianMs : 0;
      snprintf(line, sizeof(line), "  %-26s %-9s %10.3f %9.1f %7.2fx %9.2g  %s",
               c.config.c_str(), c.verdict.c_str(), c.medianMs, gf, vs,
               c.maxError, c.reason.c_str());
      std::printf("%s\n", line);
      snprintf(line, sizeof(line), "| %s | %s | %.3f | %.1f | %.2fx | %.2g | %s |\n",
               c.config.c_str(), c.verdict.c_str(), c.medianMs, gf, vs,
               c.maxError, c.reason.c_str());
      md += line;
      cands.push_back(llvm::json::Object{{"config", c.config},
                                         {"schedule", c.schedule},
                                         {"verdict", c.verdict},
                                         {"reason", c.reason},
                                         {"median_ms", c.medianMs},
                                         {"gflops", gf},
                                         {"max_error", c.maxError}});
    }
    md += "\n";
    shapesJson.push_back(llvm::json::Object{
        {"nq", nq},
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
  attn_context_destroy(ctx);

  bool ok = failures == 0;
  if (!o.report.empty())
    ok &= writeText(o.report, "## attn-tune: " + what + "\n\nDevice: " +
                                  device + "\n\n" + md);
  if (!o.json.empty()) {
    llvm::json::Value doc = llvm::json::Object{{"kernel", what},
                                               {"device", device},
                                               {"shapes", std::move(shapesJson)}};
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
      std::fprintf(stderr, "attn-tune: error: the plot was not drawn (%s)\n",
                   cmd.c_str());
      ok = false;
    }
  }
  return ok ? 0 : 2;
}
