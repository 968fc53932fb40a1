//===- attn-tune-measure.cpp - time a tuning plan where the device is -----===//
// The half of GPU tuning that needs the GPU and no compiler: reads plans
// written by `attn-tune --plan` (candidates compiled elsewhere, with the
// tuning key and the shape to time), and on this machine's device runs each
// job through the tuner's gate and timer (runtime/tune/Measure.h: fresh
// inputs, poisoned outputs checked against the default config's, medians of
// CUDA-event timings with an L2 flush, the paired re-timing of the best
// few). Writes the results, which `attn-tune --import` turns into tuning
// records. Links libattnrt only: it runs where there is no LLVM or MLIR.
//===----------------------------------------------------------------------===//
#include "runtime/attnrt.h"
#include "runtime/tune/Measure.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

using nlohmann::json;
namespace measure = attn::measure;

namespace {

const char *kUsage = R"(usage: attn-tune-measure PLAN.json... -o RESULTS.json
                         [--device cuda|cpu] [--ordinal N] [--budget S]
                         [--threads T] [--quiet]

Times the candidates of tuning plans (attn-tune --target sm_90a --plan DIR
writes DIR/plan.json and the compiled candidates beside it) on this machine,
each job as the in-process tuner does on the CPU: the default config first,
then every candidate that was not pruned, each checked against the default's
output on the same fresh inputs (outputs poisoned first; twice SPEC.md's
tolerance) and timed (median of repeated runs, CUDA events with an L2 flush
between runs); then the best three and the default re-timed in alternation.
RESULTS.json holds every verdict and median and, per job, the winner:
`attn-tune --import RESULTS.json` makes the tuning records of them.

  -o FILE        where the results go (written once, at the end, atomically)
  --device D     cuda (default for GPU plans) or cpu (plans for target cpu)
  --ordinal N    the CUDA device (default 0)
  --budget S     seconds per job (default: the plan's, else 30); candidates
                 stop at 75 % of it, the rest is the re-timing
  --threads T    CPU plans: worker threads (default: all)
  --quiet        no progress lines
Exit status: 0 every job measured, 1 some job failed (the results say
which), 2 bad input or no device.
)";

[[noreturn]] void die(const std::string &msg) {
  std::fprintf(stderr, "attn-tune-measure: error: %s\n", msg.c_str());
  std::exit(2);
}

std::string dirOf(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

json readJson(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  if (!f)
    die("cannot read '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::exception &e) {
    die("'" + path + "' is not JSON: " + e.what());
  }
}

attn_dtype dtypeOf(const std::string &t) {
  if (t == "f32")
    return ATTN_F32;
  if (t == "f16")
    return ATTN_F16;
  if (t == "bf16")
    return ATTN_BF16;
  throw std::runtime_error("unknown dtype '" + t + "'");
}

/// Measures one job; fills its candidates' verdicts and the job's "best".
/// False when the default does not run.
bool measureJob(attn_context *ctx, const std::string &dir, json &job,
                double budget, bool quiet) {
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  const json &pj = job.at("problem");
  measure::Problem p;
  p.op = pj.at("op").get<std::string>();
  p.dtype = dtypeOf(pj.at("dtype").get<std::string>());
  p.d = pj.at("d").get<int64_t>();
  p.dv = pj.at("dv").get<int64_t>();
  p.lse = pj.value("lse", false);
  p.lightningFlags = pj.value("flags", 0);
  p.batch = pj.at("batch").get<int64_t>();
  p.heads = pj.at("heads").get<int64_t>();
  p.kvHeads = pj.at("kv_heads").get<int64_t>();
  p.nq = pj.at("nq").get<int64_t>();
  p.nk = pj.at("nk").get<int64_t>();
  std::string name = job.value("name", std::string("job"));
  json &cands = job.at("candidates");
  if (!cands.is_array() || cands.empty())
    throw std::runtime_error("job '" + name + "' has no candidates");
  measure::Bench bench(ctx, p);
  if (std::string why = bench.prepare(); !why.empty()) {
    job["error"] = why;
    return false;
  }
  // The budget is for candidates: making the inputs does not count.
  start = Clock::now();
  // Released on every way out (a malformed candidate throws).
  struct Kernels : std::vector<attn_kernel *> {
    using std::vector<attn_kernel *>::vector;
    ~Kernels() {
      for (attn_kernel *k : *this)
        if (k)
          attn_kernel_release(k);
    }
  } kernels(cands.size(), nullptr);
  std::vector<measure::Outcome> outcomes(cands.size());
  size_t timed = 0;
  for (size_t i = 0; i < cands.size(); ++i) {
    json &c = cands[i];
    measure::Outcome &o = outcomes[i];
    std::string pruned = c.value("pruned", std::string());
    if (!pruned.empty()) {
      o.verdict = "pruned";
      o.reason = pruned;
    } else if (i > 0 && elapsed() + 0.05 + 16 * bench.defaultMs() / 1000 >
                            0.75 * budget) {
      o.verdict = "skipped";
      o.reason = "out of the time budget";
    } else {
      std::string file = dir + "/" + c.at("file").get<std::string>();
      std::string entry = c.value("entry", std::string("kernel"));
      if (attn_kernel_load(ctx, file.c_str(), entry.c_str(), &kernels[i]) !=
          ATTN_OK) {
        o.verdict = "failed";
        o.reason = attn_last_error();
      } else {
        o = bench.run(kernels[i], i == 0);
        timed += o.medianMs > 0;
      }
    }
    if (i == 0 && !(o.medianMs > 0)) {
      job["error"] = "the default config does not run: " + o.reason;
      c["verdict"] = "failed";
      c["reason"] = o.reason;
      return false;
    }
    if (!quiet)
      std::fprintf(stderr, "  [%3zu/%zu] %5.1f s  %-34s %-8s %8.4f ms  %s\n",
                   i + 1, cands.size(), elapsed(),
                   c.value("config", std::string()).c_str(),
                   o.verdict.c_str(), o.medianMs, o.reason.c_str());
  }
  size_t best = bench.retime(kernels, outcomes, budget - elapsed());
  for (size_t i = 0; i < cands.size(); ++i) {
    json &c = cands[i];
    const measure::Outcome &o = outcomes[i];
    c["verdict"] = i == 0 ? "default" : (i == best ? "best" : o.verdict);
    c["reason"] = o.reason;
    c["median_ms"] = o.medianMs;
    c["max_error"] = o.maxError;
  }
  if (best == 0 && outcomes[0].reason.empty())
    cands[0]["reason"] = "chosen: no candidate beat it";
  job["best"] = best;
  job["timed"] = timed;
  job["seconds"] = elapsed();
  return true;
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> plans;
  std::string outPath, device;
  int ordinal = 0, threads = 0;
  double budget = 0;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "-o") {
      outPath = value();
    } else if (a == "--device") {
      device = value();
      if (device != "cuda" && device != "cpu")
        die("--device takes cuda or cpu, got '" + device + "'");
    } else if (a == "--ordinal") {
      ordinal = std::atoi(value().c_str());
    } else if (a == "--threads") {
      threads = std::atoi(value().c_str());
    } else if (a == "--budget") {
      budget = std::atof(value().c_str());
      if (!(budget > 0))
        die("--budget takes a positive number of seconds");
    } else if (a == "--quiet") {
      quiet = true;
    } else if (!a.empty() && a[0] == '-') {
      die("unknown option '" + a + "' (see --help)");
    } else {
      plans.push_back(a);
    }
  }
  if (plans.empty())
    die("no plan given (see --help)");
  if (outPath.empty())
    die("no output: give -o RESULTS.json");

  // Every plan is read and checked before the device is touched.
  std::vector<json> docs;
  std::string target;
  for (const std::string &path : plans) {
    json doc = readJson(path);
    std::string t;
    try {
      if (!doc.is_object() || doc.value("format", 0) != 1 ||
          !doc.contains("jobs") || !doc["jobs"].is_array())
        throw std::runtime_error("");
      for (const json &job : doc["jobs"])
        if (!job.is_object() || !job.contains("problem") ||
            !job.contains("candidates"))
          throw std::runtime_error("");
      t = doc.value("target", std::string());
      (void)doc.value("kernel", std::string());
      (void)doc.value("device", std::string());
    } catch (const std::exception &) {
      die("'" + path + "' is not a tuning plan of format 1 (attn-tune --plan)");
    }
    if (!target.empty() && t != target)
      die("the plans are for different targets (" + target + ", " + t + ")");
    target = t;
    docs.push_back(std::move(doc));
  }
  if (device.empty())
    device = target == "cpu" ? "cpu" : "cuda";
  if ((device == "cpu") != (target == "cpu"))
    die("plans for target '" + target + "' do not run on --device " + device);
  attn_context *ctx = nullptr;
  if (attn_context_create(device == "cuda" ? ATTN_DEVICE_CUDA : ATTN_DEVICE_CPU,
                          device == "cuda" ? ordinal : threads,
                          &ctx) != ATTN_OK)
    die(std::string("no device: ") + attn_last_error());
  // The device string of the records: a GPU's from the runtime; a CPU
  // plan's from the plan (the compiler's CPU description, made where it
  // was planned, which must be this machine).
  std::string deviceName = attn_context_device(ctx);
  if (!quiet)
    std::fprintf(stderr, "attn-tune-measure: %s\n", deviceName.c_str());

  json results = {{"format", 1},
                  {"tool", "attn-tune-measure"},
                  {"target", target},
                  {"plans", json::array()}};
  char date[32];
  std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  results["date"] = date;
  int failures = 0;
  for (size_t pi = 0; pi < docs.size(); ++pi) {
    json &doc = docs[pi];
    std::string dir = dirOf(plans[pi]);
    std::string dev = device == "cpu" ? doc.value("device", deviceName)
                                      : deviceName;
    doc["device"] = dev;
    for (json &job : doc["jobs"]) {
      try {
        double b = budget > 0 ? budget : job.value("budget", 30.0);
        if (!quiet)
          std::fprintf(stderr, "attn-tune-measure: %s, %s (budget %.0f s)\n",
                       doc.value("kernel", std::string()).c_str(),
                       job.value("name", std::string()).c_str(), b);
        if (!measureJob(ctx, dir, job, b, quiet)) {
          ++failures;
          std::fprintf(stderr, "attn-tune-measure: error: %s: %s\n",
                       job.value("name", std::string()).c_str(),
                       job.value("error", std::string()).c_str());
        }
      } catch (const std::exception &e) {
        job["error"] = std::string("bad plan: ") + e.what();
        ++failures;
        std::fprintf(stderr, "attn-tune-measure: error: %s\n", e.what());
      }
    }
    results["plans"].push_back(std::move(doc));
  }
  attn_context_destroy(ctx);
  // Written once, through a temporary file and a rename.
  std::string tmp = outPath + ".tmp" + std::to_string(getpid());
  {
    std::ofstream f(tmp, std::ios::binary);
    f << results.dump(1) << "\n";
    if (!f)
      die("cannot write '" + tmp + "'");
  }
  if (std::rename(tmp.c_str(), outPath.c_str()) != 0) {
    std::remove(tmp.c_str());
    die("cannot write '" + outPath + "'");
  }
  return failures ? 1 : 0;
}
