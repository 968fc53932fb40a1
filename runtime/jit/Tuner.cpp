//===- Tuner.cpp - the autotuner: search, gate, time, persist -------------===//
#include "runtime/jit/Tuner.h"
#include "runtime/core/Internal.h"
#include "runtime/jit/Compiler.h"
#include "runtime/jit/Jit.h"
#include "runtime/tune/Measure.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Regex.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <random>
#include <set>

namespace attn {

using attnrt::fail;
using Clock = std::chrono::steady_clock;

//===----------------------------------------------------------------------===//
// CPU schedules as the tuner varies them
//===----------------------------------------------------------------------===//

namespace {

/// The fields of a #attn.cpu_schedule that the tuner varies, and the rest
/// it keeps.
struct CPUConfig {
  int64_t bm = 0, bn = 0, w = 0, mrK = 0, mrV = 0;
  int64_t threads = 0; ///< at most this many workers (0: all)
  bool bf16Dot = false; ///< bf16 pairs by vdpbf16ps
  bool amx = false;     ///< bf16 products on AMX tiles (kept as configured)
  int64_t decodeRows = 0; ///< kept as configured
  std::string cpu, features;

  bool operator<(const CPUConfig &o) const {
    return std::tie(bm, bn, w, mrK, mrV, threads, bf16Dot, amx) <
           std::tie(o.bm, o.bn, o.w, o.mrK, o.mrV, o.threads, o.bf16Dot,
                    o.amx);
  }
  std::string text(int64_t keysLo = 0, int64_t keysHi = 0) const {
    std::string s = "#attn.cpu_schedule<block_m = " + std::to_string(bm) +
                    ", block_n = " + std::to_string(bn) +
                    ", vector_width = " + std::to_string(w) +
                    ", mr_keys = " + std::to_string(mrK) +
                    ", mr_values = " + std::to_string(mrV) + ", cpu = \"" +
                    cpu + "\", features = \"" + features + "\"";
    if (keysLo || keysHi)
      s += ", keys_lo = " + std::to_string(keysLo) +
           ", keys_hi = " + std::to_string(keysHi);
    if (threads)
      s += ", threads = " + std::to_string(threads);
    if (bf16Dot)
      s += ", bf16_dot = true";
    if (amx)
      s += ", amx = true";
    if (decodeRows)
      s += ", decode_rows = " + std::to_string(decodeRows);
    return s + ">";
  }
  std::string summary() const {
    return "bm=" + std::to_string(bm) + " bn=" + std::to_string(bn) +
           " w=" + std::to_string(w) + " mr=" + std::to_string(mrK) +
           (mrV != mrK ? "/" + std::to_string(mrV) : "") +
           (threads ? " t=" + std::to_string(threads) : "") +
           (bf16Dot ? " bf16dot" : "") + (amx ? " amx" : "");
  }
};

/// Reads the fields of a printed #attn.cpu_schedule.
bool parseCPUSchedule(const std::string &text, CPUConfig &c) {
  if (text.rfind("#attn.cpu_schedule<", 0) != 0)
    return false;
  llvm::Regex field("([a-z0-9_]+) = (\"[^\"]*\"|-?[0-9]+|true|false)");
  llvm::StringRef rest(text);
  llvm::SmallVector<llvm::StringRef, 3> m;
  std::map<std::string, std::string> f;
  while (field.match(rest, &m)) {
    f[m[1].str()] = m[2].trim('"').str();
    rest = rest.substr(rest.find(m[0]) + m[0].size());
  }
  auto num = [&](const char *n, int64_t &out) {
    auto it = f.find(n);
    return it != f.end() && llvm::to_integer(it->second, out);
  };
  c.cpu = f["cpu"];
  c.features = f["features"];
  if (f.count("threads") && !num("threads", c.threads))
    return false;
  c.bf16Dot = f.count("bf16_dot") && f["bf16_dot"] == "true";
  c.amx = f.count("amx") && f["amx"] == "true";
  if (f.count("decode_rows") && !num("decode_rows", c.decodeRows))
    return false;
  return num("block_m", c.bm) && num("block_n", c.bn) &&
         num("vector_width", c.w) && num("mr_keys", c.mrK) &&
         num("mr_values", c.mrV);
}

int64_t roundTo(int64_t x, int64_t m) {
  return std::max<int64_t>(m, (x + m / 2) / m * m);
}

int64_t l2Bytes() {
  std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index2/size");
  std::string s;
  if (!(in >> s) || s.empty())
    return 1 << 20;
  int64_t mult = 1;
  if (s.back() == 'K')
    mult = 1024;
  else if (s.back() == 'M')
    mult = 1024 * 1024;
  if (mult > 1)
    s.pop_back();
  int64_t v = 0;
  return llvm::to_integer(s, v) && v > 0 ? v * mult : (1 << 20);
}

std::string kb(int64_t bytes) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%.0f KB", bytes / 1024.0);
  return buf;
}

} // namespace

//===----------------------------------------------------------------------===//
// The key
//===----------------------------------------------------------------------===//

static const char *dtypeText(attn_dtype t) {
  return t == ATTN_F32 ? "f32" : t == ATTN_F16 ? "f16" : "bf16";
}

tuning::Key tuningKeyFor(const TuneRequest &r, const std::string &target,
                         const std::string &device) {
  tuning::Key key;
  key.op = r.op;
  key.pattern = r.op == "attention" ? r.pattern : "";
  key.dtype = dtypeText(r.dtype);
  key.d = r.d;
  key.dv = r.dv;
  key.lse = r.op == "attention" && r.lse;
  key.scale = r.scale;
  key.flags = r.op == "lightning" ? r.lightningFlags : 0;
  key.gqa = r.kvHeads > 0 ? std::max<int64_t>(1, r.heads / r.kvHeads) : 1;
  key.nqBucket = tuning::bucketOf(r.nq);
  key.nkBucket = tuning::bucketOf(r.nk);
  key.target = target;
  key.device = device;
  key.compiler = tuning::compilerStamp();
  return key;
}

bool tuningKey(attn_context *ctx, const TuneRequest &r, tuning::Key &key,
               std::string &error) {
  JitTarget jt;
  if (!jitTarget(ctx, jt, error))
    return false;
  key = tuningKeyFor(r, jt.options.target, jt.device);
  return true;
}

//===----------------------------------------------------------------------===//
// GPU candidates
//===----------------------------------------------------------------------===//

namespace {

/// The attn.schedule attribute of the one op of configured IR.
std::string scheduleIn(const std::string &configured) {
  llvm::SmallVector<llvm::StringRef> m;
  static const llvm::Regex re("attn\\.schedule = (#attn\\.gpu_schedule<.*\\]>)\\}");
  if (!re.match(configured, &m))
    return "";
  return m[1].str();
}

/// "w8 bn128 s2 c1 ws pp" from a one-kernel schedule's text (split-KV
/// decoding kernels aside: the same in every candidate).
std::string gpuSummary(const std::string &text) {
  std::string schedule = text;
  llvm::Regex decoding("<suffix = \"__(decode|merge)\"[^>]*>(, )?");
  while (decoding.match(schedule))
    schedule = decoding.sub("", schedule);
  auto field = [&](const char *name) -> std::string {
    llvm::SmallVector<llvm::StringRef> m;
    llvm::Regex re(std::string("[<, ]") + name + " = ([a-z0-9]+)");
    return re.match(schedule, &m) ? m[1].str() : "";
  };
  std::string s = "w" + field("warps") + " bn" + field("block_n") + " s" +
                  field("stages") + " c" + field("ctas_per_sm");
  if (field("tma") != "true")
    s += " cp.async";
  if (field("wgmma") != "true")
    s += " mma.sync";
  else if (field("wgmma_pv") != "true")
    s += " pv:mma.sync";
  if (field("async_qk") == "true")
    s += " async-qk";
  if (field("warp_specialize") == "true")
    s += " ws";
  if (field("pingpong") == "true")
    s += " pingpong";
  if (field("ws_overlap") == "true")
    s += " overlap";
  if (field("persistent") == "true")
    s += " persistent";
  if (!field("cols").empty())
    s = "cols" + field("cols") + " c" + field("ctas_per_sm") +
        (schedule.find("ctas_lo") != std::string::npos ||
                 schedule.find("ctas_hi") != std::string::npos
             ? " (by grid)"
             : "");
  return s;
}

/// "decode bn16 s2 split128 merge:kernel" from the split-KV decoding
/// kernels of a schedule's text ("" when it has none).
std::string decodeSummary(const std::string &text) {
  llvm::SmallVector<llvm::StringRef> m;
  static const llvm::Regex kernelRe("<suffix = \"__decode\"([^>]*)>");
  if (!kernelRe.match(text, &m))
    return "";
  std::string fields = m[1].str();
  auto field = [&](const char *name) -> std::string {
    llvm::SmallVector<llvm::StringRef> f;
    llvm::Regex re(std::string("[<, ]") + name + " = ([a-z0-9]+)");
    return re.match(fields, &f) ? f[1].str() : "";
  };
  bool fused = field("merge") == "true";
  return "decode bn" + field("block_n") + " s" + field("stages") + " split" +
         field("split_keys") + (fused ? " merge:fused" : " merge:kernel");
}

/// ptxas -v on `ptx`: the cubin, the registers and spilled bytes of its
/// kernels (the most of any). "" or why not.
std::string assemble(const std::string &ptx, const std::string &chip,
                     std::string &cubin, int64_t &regs, int64_t &spills) {
  std::string ptxas = findPtxas();
  if (ptxas.empty())
    return "ptxas not found (set CUDA_HOME or put it on PATH)";
  llvm::SmallString<128> in, outPath, log;
  // Whatever was created goes, on every path.
  auto cleanup = llvm::make_scope_exit([&] {
    for (const llvm::SmallString<128> *p : {&in, &outPath, &log})
      if (!p->empty())
        llvm::sys::fs::remove(*p);
  });
  if (llvm::sys::fs::createTemporaryFile("attn-cand", "ptx", in) ||
      llvm::sys::fs::createTemporaryFile("attn-cand", "cubin", outPath) ||
      llvm::sys::fs::createTemporaryFile("attn-cand", "log", log))
    return "cannot create temporary files";
  {
    std::ofstream f(in.c_str(), std::ios::binary);
    f << ptx;
  }
  std::string arch = "-arch=" + chip;
  llvm::SmallVector<llvm::StringRef> args = {ptxas, arch, "-v", "-O3", "-o",
                                             outPath.str(), in.str()};
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, log.str(),
                                                log.str()};
  std::string errMsg;
  int rc = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects, 0,
                                     0, &errMsg);
  auto text = llvm::MemoryBuffer::getFile(log);
  std::string out = text ? (*text)->getBuffer().str() : "";
  if (rc != 0) {
    // Its fatal line says why (e.g. register allocation failed).
    llvm::StringRef all(out), why = all;
    size_t at = all.find("fatal");
    if (at != llvm::StringRef::npos)
      why = all.drop_front(at).take_until([](char ch) { return ch == '\n'; });
    return "ptxas failed: " + (errMsg.empty() ? why.str() : errMsg);
  }
  regs = spills = 0;
  llvm::SmallVector<llvm::StringRef> lines;
  llvm::StringRef(out).split(lines, '\n');
  static const llvm::Regex usedRe("Used ([0-9]+) registers");
  static const llvm::Regex spillRe("([0-9]+) bytes spill stores");
  for (llvm::StringRef line : lines) {
    llvm::SmallVector<llvm::StringRef> m;
    if (usedRe.match(line, &m))
      regs = std::max<int64_t>(regs, std::stoll(m[1].str()));
    if (spillRe.match(line, &m))
      spills = std::max<int64_t>(spills, std::stoll(m[1].str()));
  }
  auto bin = llvm::MemoryBuffer::getFile(outPath, false, false);
  if (!bin)
    return "ptxas wrote no cubin";
  cubin = (*bin)->getBuffer().str();
  return "";
}

} // namespace

bool gpuCandidates(const TuneRequest &r, const std::string &chip,
                   std::vector<GPUCandidate> &out, std::string &error,
                   const std::function<void(int, int)> &progress) {
  out.clear();
  if (chip != "sm_80" && chip != "sm_90a") {
    error = "unknown GPU target '" + chip + "' (sm_80, sm_90a)";
    return false;
  }
  if (r.pattern.rfind("#attn.dilated", 0) == 0) {
    error = "GPU tuning of dilated attention (its pieces share one kernel "
            "function) is not done yet";
    return false;
  }
  bool light = r.op == "lightning";
  auto sourceWith = [&](const std::vector<std::string> &schedules) {
    return light ? lightningKernelSource("kernel", dtypeText(r.dtype), r.d,
                                         r.dv, r.lightningFlags, r.scale,
                                         schedules)
                 : attentionKernelSource("kernel", r.pattern,
                                         dtypeText(r.dtype), r.d, r.dv, r.lse,
                                         r.scale, schedules);
  };
  std::string src = sourceWith({});
  auto configured = [&](const mlir::attn::GPUOptions &g, std::string &schedule,
                        std::string &why) {
    CompileOptions o;
    o.target = chip;
    o.gpu = g;
    o.gpu.chip = chip;
    std::string text;
    if (!compile(src, "candidate", Emit::Configured, o, text, why))
      return false;
    schedule = scheduleIn(text);
    if (schedule.empty()) {
      why = "no GPU schedule in the configured IR";
      return false;
    }
    return true;
  };
  // The default: the configure pass's schedule, narrowed to the kernel
  // that runs at r.nk keys (full and causal attention have two).
  std::string def;
  if (!configured(mlir::attn::GPUOptions(), def, error))
    return false;
  std::vector<std::string> schedules = {def};
  std::vector<std::string> pruned = {""};
  std::set<std::string> seen = {def};
  bool hopper = chip == "sm_90a";
  // A decoding step (Nq = 1, the query heads of a KV head within the
  // split-KV kernel's CTA, which the default schedule has for this
  // pattern): the search is over that kernel's schedule (keys per tile,
  // stages, the fewest keys a split reads, where the splits merge); the
  // prefill kernels, which do not run at this shape, stay the default's.
  int64_t group = r.kvHeads > 0 ? std::max<int64_t>(1, r.heads / r.kvHeads) : 1;
  bool decode = !light && !decodeSummary(def).empty() &&
                tuning::isDecodeShape(r.nq, group,
                                      mlir::attn::GPUOptions().decodeRows);
  if (decode)
    for (int64_t bn : {16, 32}) // (64 spills at D = 128)
      for (int64_t stages : {2, 4})
        for (int64_t split : {64, 128, 256, 512, 1024})
          for (const char *merge : {"kernel", "fused"}) {
            mlir::attn::GPUOptions g;
            g.decodeBlockN = bn;
            g.decodeStages = stages;
            g.splitMinKeys = split;
            g.decodeMerge = merge;
            std::string sched, why;
            if (!configured(g, sched, why)) {
              // (e.g. the tiles' shared memory: the compile step of each
              // candidate below says so for those that configure)
              continue;
            }
            if (seen.insert(sched).second) {
              schedules.push_back(sched);
              pruned.push_back("");
            }
          }
  // Lightning: the value columns per CTA (the configure pass picks them by
  // the grid's CTAs) and the CTAs per SM, each one kernel for every grid.
  if (light)
    for (int64_t cols : {64, 32, 16})
      for (int64_t ctas : {2, 1}) {
        if (r.dv % cols)
          continue;
        std::string s = "#attn.gpu_schedule<chip = \"" + chip +
                        "\", kernels = [<warps = 4, block_n = 64, stages = 2, "
                        "ctas_per_sm = " + std::to_string(ctas) +
                        ", cols = " + std::to_string(cols) + ">]>";
        if (seen.insert(s).second) {
          schedules.push_back(s);
          pruned.push_back("");
        }
      }
  for (int64_t warps : {8, 4})
    for (int64_t bn : {64, 128, 192})
      for (int64_t stages : {2, 3})
        for (int64_t ctas : {1, 2})
          for (int variant = 0; variant < (hopper ? 6 : 1); ++variant) {
            if (light || decode)
              continue;
            mlir::attn::GPUOptions g;
            g.warps = warps;
            g.blockN = bn;
            g.stages = stages;
            g.ctasPerSm = ctas;
            // One kernel for every Nk: the tuner picks per bucket what the
            // long-row threshold (ws-min-keys) picks by rule.
            g.wsMinKeys = 0;
            g.warpSpecialize = (variant >= 1 && variant <= 3) || variant == 5;
            // The persistent warp-specialized kernel (D = 128 whole
            // sequences; elsewhere it configures as variant 1 and is
            // deduplicated).
            g.persistent = variant == 5;
            g.pingpong = variant == 2;
            g.wsOverlap = variant == 3;
            g.asyncQk = variant == 4;
            if (g.asyncQk && stages < 3)
              continue;
            std::string s, why;
            if (!configured(g, s, why)) {
              continue;
            }
            if (!seen.insert(s).second)
              continue;
            schedules.push_back(s);
            pruned.push_back("");
          }
  int total = int(schedules.size());
  for (int i = 0; i < total; ++i) {
    GPUCandidate c;
    c.schedule = schedules[size_t(i)];
    c.config = decode ? decodeSummary(c.schedule) : gpuSummary(c.schedule);
    if (i == 0 && !light && !decode &&
        c.schedule.find("__long") != std::string::npos)
      c.config = "default (" + c.config + ", by Nk)";
    else if (i == 0)
      c.config = "default (" + c.config + ")";
    CompileOptions o;
    o.target = chip;
    o.gpu.chip = chip;
    std::string ptx, why;
    std::string withSchedule = sourceWith({c.schedule});
    if (!compile(withSchedule, "candidate", Emit::PTX, o, ptx, why)) {
      // The diagnostic's message, without the op and kernel it names.
      llvm::StringRef msg(why);
      size_t at = msg.find("error: ");
      if (at != llvm::StringRef::npos)
        msg = msg.drop_front(at + 7);
      msg = msg.take_until([](char ch) { return ch == '\n'; });
      size_t colon = msg.rfind("of the schedule: ");
      if (colon != llvm::StringRef::npos)
        msg = msg.drop_front(colon + 17);
      c.pruned = "compiler: " + msg.str();
    } else if (std::string e = assemble(ptx, chip, c.image, c.registers,
                                        c.spillBytes);
               !e.empty()) {
      c.pruned = e;
    } else if (c.spillBytes > 0 && i > 0) {
      // (The default stays the baseline even where it spills: it is what
      // runs without a record.)
      c.pruned = "spills: ptxas reports " + std::to_string(c.spillBytes) +
                 " bytes of spill stores at " + std::to_string(c.registers) +
                 " registers";
    }
    if (!c.pruned.empty())
      c.image.clear();
    if (i == 0 && !c.pruned.empty()) {
      error = "the default schedule does not build: " + c.pruned;
      return false;
    }
    out.push_back(std::move(c));
    if (progress)
      progress(i + 1, total);
  }
  return true;
}

//===----------------------------------------------------------------------===//
// The tuner
//===----------------------------------------------------------------------===//

namespace {

class Tuner {
public:
  Tuner(attn_context *ctx, const TuneRequest &r, TuneResult &out)
      : ctx(ctx), r(r), out(out), start(Clock::now()) {
    // Dilated attention merges its pieces through the LSE: its kernels
    // always have one.
    if (this->r.pattern.rfind("#attn.dilated", 0) == 0)
      this->r.lse = true;
  }
  /// Loaded candidates go on every path (finish() releases them too).
  ~Tuner() {
    for (attn_kernel *k : kernels)
      if (k)
        attn_kernel_release(k);
  }
  attn_status run();

private:
  double elapsed() const {
    return std::chrono::duration<double>(Clock::now() - start).count();
  }
  std::string source(const std::string &schedule, bool wrong = false) const;
  attn_status checkRequest();
  /// Compiles and loads the candidate; "" or why not.
  std::string load(const std::string &schedule, bool wrong,
                   attn_kernel **kernel);
  /// Gate and timing of candidate `i`, then progress.
  void measure(size_t i, bool wrong);
  void measureOne(size_t i, bool wrong);
  void search(const CPUConfig &def);
  void retime();
  void consider(const CPUConfig &c, const std::string &pruned);
  int64_t vectorRegisters() const;

  attn_context *ctx;
  TuneRequest r;
  TuneResult &out;
  Clock::time_point start;
  std::unique_ptr<measure::Bench> bench;
  std::vector<measure::Outcome> outcomes; ///< per candidate
  std::vector<CPUConfig> configs;         ///< per candidate
  std::vector<std::string> gpuImages;     ///< per GPU candidate: the cubin
  /// GPU contexts: the plan's search space, compiled here, measured here.
  attn_status runGPU();
  /// The re-timing, the winner and its record.
  attn_status finish();
  std::set<CPUConfig> seen;
  std::vector<attn_kernel *> kernels;
  double runMs = 0; ///< the default's time, for the budget
};

std::string Tuner::source(const std::string &schedule, bool wrong) const {
  // The wrong candidate computes softmax(2 s Q K^T) V: an output the gate
  // must tell from the right one.
  float scale = r.scale;
  if (wrong)
    scale = 2 * (scale != 0 ? scale
                            : (r.op == "lightning" ? 1.0f
                                                   : 1.0f / std::sqrt(float(r.d))));
  std::vector<std::string> schedules;
  if (!schedule.empty())
    schedules.push_back(schedule);
  if (r.op == "lightning")
    return lightningKernelSource("kernel", dtypeText(r.dtype), r.d, r.dv,
                                 r.lightningFlags, scale, schedules);
  return attentionKernelSource("kernel", r.pattern, dtypeText(r.dtype), r.d,
                               r.dv, r.lse, scale, schedules);
}

measure::Problem problemOf(const TuneRequest &r) {
  measure::Problem p;
  p.op = r.op;
  p.dtype = r.dtype;
  p.d = r.d;
  p.dv = r.dv;
  p.lse = r.op == "attention" && r.lse;
  p.lightningFlags = r.op == "lightning" ? r.lightningFlags : 0;
  p.batch = r.batch;
  p.heads = r.heads;
  p.kvHeads = r.kvHeads;
  p.nq = r.nq;
  p.nk = r.nk;
  return p;
}

attn_status Tuner::checkRequest() {
  if (std::string why = measure::checkProblem(problemOf(r)); !why.empty())
    return fail(ATTN_ERROR_INVALID_ARGUMENT, "tune: " + why);
  if (!(r.budgetSeconds > 0))
    return fail(ATTN_ERROR_INVALID_ARGUMENT,
                "tune: the time budget must be positive");
  if (attnrt::isCuda(ctx) && r.addWrongCandidate)
    return fail(ATTN_ERROR_UNSUPPORTED,
                "tune: the wrong candidate of the gate's tests is CPU-only");
  return ATTN_OK;
}

std::string Tuner::load(const std::string &schedule, bool wrong,
                        attn_kernel **kernel) {
  *kernel = nullptr;
  // A GPU candidate was compiled with the search space (gpuCandidates).
  if (attnrt::isCuda(ctx)) {
    for (size_t i = 0; i < gpuImages.size(); ++i)
      if (out.candidates[i].schedule == schedule) {
        if (attn_kernel_load_image(ctx, gpuImages[i].data(),
                                   gpuImages[i].size(), "kernel",
                                   kernel) != ATTN_OK)
          return attn_last_error();
        return "";
      }
    return "no compiled image for the candidate";
  }
  if (jitKernel(ctx, source(schedule, wrong), "a tuning candidate", kernel) !=
      ATTN_OK)
    return attn_last_error();
  return "";
}

int64_t Tuner::vectorRegisters() const {
  // AVX-512 (with VL for 256-bit code) has 32 vector registers, AVX2 16.
  const CPUConfig &def = configs.front();
  return ("," + def.features + ",").find(",avx512f,") != std::string::npos
             ? 32
             : 16;
}

/// Adds `c` as a candidate (pruned with `pruned` as the reason, or to be
/// measured), unless it was seen.
void Tuner::consider(const CPUConfig &c, const std::string &pruned) {
  if (!seen.insert(c).second)
    return;
  CandidateResult res;
  res.config = c.summary();
  res.schedule = c.text();
  if (!pruned.empty()) {
    res.verdict = "pruned";
    res.reason = pruned;
  }
  configs.push_back(c);
  out.candidates.push_back(res);
  outcomes.emplace_back();
  kernels.push_back(nullptr);
}

void Tuner::measure(size_t i, bool wrong) {
  measureOne(i, wrong);
  if (r.progress) {
    const CandidateResult &c = out.candidates[i];
    int done = int(llvm::count_if(out.candidates, [](const CandidateResult &x) {
      return !x.verdict.empty() && x.verdict != "pruned";
    }));
    r.progress(done, int(out.candidates.size()), elapsed(),
               c.config + ": " + c.verdict);
  }
}

void Tuner::measureOne(size_t i, bool wrong) {
  CandidateResult &c = out.candidates[i];
  if (!c.verdict.empty() && c.verdict != "default")
    return;
  // The budget: keep a quarter for the re-timing; a candidate costs about
  // a compile and its runs.
  double runMs = bench->defaultMs();
  double runs = 1 + std::clamp(300.0 / std::max(runMs, 1e-3), 3.0, 15.0);
  double cost = 0.4 + runs * runMs / 1000;
  if (i > 0 && elapsed() + cost > 0.75 * r.budgetSeconds) {
    c.verdict = "skipped";
    c.reason = "out of the time budget";
    return;
  }
  attn_kernel *k = nullptr;
  std::string why = load(c.schedule, wrong, &k);
  if (!why.empty()) {
    c.verdict = "failed";
    c.reason = why;
    return;
  }
  kernels[i] = k;
  measure::Outcome &o = outcomes[i];
  o = bench->run(k, i == 0);
  c.medianMs = o.medianMs;
  c.maxError = o.maxError;
  if (c.verdict.empty() || o.verdict != "timed")
    c.verdict = o.verdict;
  if (c.reason.empty())
    c.reason = o.reason;
}

void Tuner::search(const CPUConfig &def) {
  bool light = r.op == "lightning";
  int64_t regs = vectorRegisters(), l2 = l2Bytes();
  bool avx512 = regs == 32;
  auto best = [&]() -> CPUConfig {
    size_t b = 0;
    for (size_t i = 0; i < configs.size(); ++i)
      if (out.candidates[i].medianMs > 0 &&
          (out.candidates[b].medianMs <= 0 ||
           out.candidates[i].medianMs < out.candidates[b].medianMs))
        b = i;
    return configs[b];
  };
  // Why a config cannot be good on this target, or "".
  auto pruneReason = [&](const CPUConfig &c) -> std::string {
    // AMX tiles (the configured schedule's choice, kept): whole tiles.
    if (c.amx && (c.bm % 16 || c.bn % 32 || c.w != 16))
      return "AMX tiles need block_m a multiple of 16, block_n of 32 and "
             "16 lanes";
    if (!light && 2 * c.mrK + 3 > regs && !c.amx)
      return "spills: a " + std::to_string(c.mrK) + "-row micro-kernel holds " +
             std::to_string(2 * c.mrK + 3) + " vectors, the CPU has " +
             std::to_string(regs) + " registers";
    if (c.w == 16 && !avx512)
      return "vector_width 16 needs AVX-512";
    int64_t step = light ? 1 : 2 * c.w;
    if (c.bm - step >= r.nq)
      return "block_m " + std::to_string(c.bm) + " >= Nq = " +
             std::to_string(r.nq) + " plus a step: a smaller tile does the "
             "same work";
    if (!light && c.bn - c.mrK >= r.nk)
      return "block_n " + std::to_string(c.bn) + " >= Nk = " +
             std::to_string(r.nk) + " plus a step: a smaller tile does the "
             "same work";
    // Per thread: Q^T, S^T and O^T tiles (f32) beside the key tile.
    int64_t scratch =
        4 * (c.bm * (r.d + c.bn + r.dv + 8) + c.bn * std::max(r.d, r.dv));
    if (scratch > l2)
      return "scratch " + kb(scratch) + " > L2 " + kb(l2);
    return "";
  };
  // bf16 pairs (vdpbf16ps) where the kernel and the CPU allow them.
  bool dotable = !light && r.dtype == ATTN_BF16 && r.d % 2 == 0 &&
                 r.pattern.find("landmark") == std::string::npos &&
                 ("," + def.features + ",").find(",avx512bf16,") !=
                     std::string::npos;
  auto add = [&](CPUConfig c) {
    if (c.w != 16 || c.bn % 2 || !dotable || c.amx)
      c.bf16Dot = false;
    consider(c, pruneReason(c));
  };
  auto measureNew = [&] {
    for (size_t i = 0; i < out.candidates.size(); ++i)
      if (out.candidates[i].verdict.empty())
        measure(i, false);
  };
  // Last, fewer worker threads for the best (halving down to one): work
  // too small to share, or bound by memory bandwidth that fewer cores
  // already fill.
  auto threadStage = [&] {
    // The other way of multiplying bf16 (dot products or widening) first.
    if (dotable) {
      CPUConfig c = best();
      c.bf16Dot = !c.bf16Dot;
      add(c);
      measureNew();
    }
    CPUConfig b = best();
    for (int64_t t = attn_context_threads(ctx) / 2; t >= 1; t /= 2) {
      CPUConfig c = b;
      c.threads = t;
      add(c);
    }
    measureNew();
  };

  if (light) {
    // Lightning-Attention-2 blocks: square.
    for (int64_t b : {8, 16, 32, 48, 64, 96, 128, 192, 256}) {
      CPUConfig c = def;
      c.bm = c.bn = b;
      add(c);
    }
    measureNew();
    threadStage();
    return;
  }
  bool landmark = r.pattern.find("landmark") != std::string::npos;
  // 1. Query tile heights, at the default width and key tile.
  for (int64_t m : {2, 4, 6, 8}) {
    CPUConfig c = def;
    c.bm = m * def.w;
    add(c);
  }
  measureNew();
  // 2. Key tile widths (landmark: one block per key tile, fixed).
  if (!landmark) {
    CPUConfig b = best();
    for (int64_t n : {32, 64, 96, 128, 192, 256, 384}) {
      CPUConfig c = b;
      c.bn = roundTo(n, c.mrK);
      add(c);
    }
    measureNew();
  }
  // 3. Micro-kernel shapes and vector widths around the best so far.
  CPUConfig b = best();
  std::vector<int64_t> widths = {b.w};
  if (avx512)
    widths.push_back(b.w == 16 ? 8 : 16);
  for (int64_t w : widths)
    for (int64_t mr : w == 16 ? std::vector<int64_t>{8, 12, 14, 16}
                              : std::vector<int64_t>{4, 6, 8, 12}) {
      CPUConfig c = b;
      c.w = w;
      c.mrK = c.mrV = mr;
      c.bm = std::max<int64_t>(2 * w, b.bm / (2 * w) * (2 * w));
      c.bn = roundTo(b.bn, mr);
      add(c);
    }
  measureNew();
  // 4. The best's neighbours in both tile dimensions.
  b = best();
  for (int64_t dm : {-1, 1})
    for (int64_t dn : {-1, 0, 1}) {
      CPUConfig c = b;
      c.bm = b.bm + dm * 2 * b.w;
      c.bn = b.bn + dn * (landmark ? 0 : 2 * b.mrK);
      if (c.bm >= 2 * b.w && c.bn >= b.mrK)
        add(c);
    }
  measureNew();
  threadStage();
}

void Tuner::retime() {
  // The best few and the default, re-timed in alternation: a candidate that
  // was lucky once meets the others on the same machine state.
  out.best = int(bench->retime(kernels, outcomes,
                               r.budgetSeconds - elapsed()));
  for (size_t i = 0; i < outcomes.size(); ++i) {
    out.candidates[i].medianMs = outcomes[i].medianMs;
    if (!outcomes[i].reason.empty() && out.candidates[i].reason.empty())
      out.candidates[i].reason = outcomes[i].reason;
  }
}

attn_status Tuner::runGPU() {
  // The same space as attn-tune --plan, compiled in process (a GPU host with
  // the compiler), each candidate loaded from its cubin.
  std::vector<GPUCandidate> cands;
  std::string error;
  if (!gpuCandidates(r, out.key.target, cands, error,
                     [&](int done, int total) {
                       if (r.progress)
                         r.progress(0, total, elapsed(),
                                    "compiled " + std::to_string(done) + "/" +
                                        std::to_string(total));
                     }))
    return fail(ATTN_ERROR_COMPILE, "tune: " + error);
  for (GPUCandidate &c : cands) {
    CandidateResult res;
    res.config = c.config;
    res.schedule = c.schedule;
    if (!c.pruned.empty()) {
      res.verdict = "pruned";
      res.reason = c.pruned;
    }
    out.candidates.push_back(res);
    outcomes.emplace_back();
    kernels.push_back(nullptr);
    gpuImages.push_back(std::move(c.image));
  }
  out.candidates[0].verdict = "default";
  bench = std::make_unique<measure::Bench>(ctx, problemOf(r));
  if (std::string why = bench->prepare(); !why.empty())
    return fail(ATTN_ERROR_INTERNAL, "tune: " + why);
  for (size_t i = 0; i < out.candidates.size(); ++i) {
    measure(i, false);
    if (i == 0 && out.candidates[0].medianMs <= 0)
      return fail(ATTN_ERROR_INTERNAL,
                  "tune: the default config does not run: " +
                      out.candidates[0].reason);
  }
  return ATTN_OK;
}

attn_status Tuner::run() {
  if (attn_status s = checkRequest())
    return s;
  std::string error;
  if (!tuningKey(ctx, r, out.key, error))
    return fail(ATTN_ERROR_INVALID_ARGUMENT, error);
  // The configure pass's choice is candidate 0 and the search's centre.
  if (attnrt::isCuda(ctx)) {
    if (attn_status s = runGPU())
      return s;
    return finish();
  }
  std::string def;
  if (!defaultSchedule(ctx, source(""), def, error))
    return fail(ATTN_ERROR_COMPILE, "tune: " + error);
  CPUConfig d;
  if (!parseCPUSchedule(def, d))
    return fail(ATTN_ERROR_INTERNAL,
                "tune: cannot read the default schedule '" + def + "'");
  consider(d, "");
  out.candidates[0].verdict = "default";
  bench = std::make_unique<measure::Bench>(ctx, problemOf(r));
  if (std::string why = bench->prepare(); !why.empty())
    return fail(ATTN_ERROR_INTERNAL, "tune: " + why);
  measure(0, false);
  if (out.candidates[0].medianMs <= 0)
    return fail(ATTN_ERROR_INTERNAL, "tune: the default config does not run: " +
                                         out.candidates[0].reason);
  if (r.addWrongCandidate) {
    CPUConfig w = d;
    w.bn += w.mrK; // a distinct config, computing the wrong function
    consider(w, "");
    out.candidates.back().config += " (wrong scale, for the gate)";
    measure(out.candidates.size() - 1, true);
  }
  search(d);
  return finish();
}

attn_status Tuner::finish() {
  std::string error;
  retime();
  if (out.best)
    out.candidates[size_t(out.best)].verdict = "best";
  else if (out.candidates[0].reason.empty())
    out.candidates[0].reason = "chosen: no candidate beat it";
  for (attn_kernel *&k : kernels)
    if (k) {
      attn_kernel_release(k);
      k = nullptr;
    }
  out.seconds = elapsed();

  const CandidateResult &win = out.candidates[size_t(out.best)];
  tuning::Record &rec = out.record;
  rec.key = out.key;
  rec.schedule = win.schedule;
  rec.config = win.config;
  rec.shape = {r.batch, r.heads, r.kvHeads, r.nq, r.nk};
  rec.medianMs = win.medianMs;
  rec.defaultMs = out.candidates[0].medianMs;
  rec.candidates = int64_t(
      llvm::count_if(out.candidates, [](const CandidateResult &c) {
        return c.medianMs > 0;
      }));
  char date[32];
  std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  rec.date = date;
  if (r.save) {
    if (!tuning::save(tuning::localDir(), rec, error))
      return fail(ATTN_ERROR_IO, "tune: " + error);
    out.saved = true;
  }
  return ATTN_OK;
}

} // namespace

attn_status tune(attn_context *ctx, const TuneRequest &r, TuneResult &out) {
  out = TuneResult();
  if (!ctx)
    return fail(ATTN_ERROR_INVALID_ARGUMENT, "tune: null context");
  Tuner t(ctx, r, out);
  return t.run();
}

} // namespace attn
