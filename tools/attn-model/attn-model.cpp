//===- attn-model.cpp - run a language model on the attn kernels ----------===//
// The model runner and the reference integration of the runtime's C API in
// an engine: loads a model (convert_gguf.py's Llama safetensors, or a seed
// architecture from seed_models.py), runs the prompt in one prefill
// (Nq = prompt length) and then one decode step per token (Nq = 1) against
// a preallocated KV cache or a recurrent state, samples
// (greedy, or temperature / top-k / top-p with a seed), streams the new token
// ids to stdout, one per line, and reports prefill and decode tokens/s on
// stderr. Bad input: one line naming the problem, exit 2.
//===----------------------------------------------------------------------===//
#include "runtime/attnrt.h"
#include "tools/attn-model/Model.h"
#include "tools/attn-run/Npy.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sys/resource.h>
#include <iostream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

using namespace attnmodel;

namespace {

const char *kUsage = R"(usage:
  attn-model --model W.safetensors (--prompt IDS | --prompt-file FILE)
             [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P]
             [--seed S] [--ignore-eos] [--threads N] [--target cpu|cuda]
             [--pattern P] [--max-tokens N] [--beyond-context]
             [--prefill-chunk N]
             [--logits out.npy] [--profile] [--plain-decode]
             [--dtype bf16|f16] [--weights f32|bf16|q4] [--kernel-dir DIR]
             [--record-kernels FILE]
             [--warmup] [--quiet]

Runs a language model with every layer's attention on the attn kernels
(JIT-compiled on first use and cached in $ATTN_CACHE_DIR, or precompiled in
--kernel-dir), matmuls on OpenBLAS (cpu) or cuBLAS (cuda: bf16 weights and
attention, f32 residual stream and norms). Token ids in, token ids out: tools/attn-model/generate.py is the
text front end. The weights' metadata names the architecture:
  llama        a Llama model from tools/attn-model/convert_gguf.py (SmolLM2)
  longnet      LongNet's decoder: dilated attention with torchscale's
               segment/rate schedule (--pattern '#attn.block_causal<block =
               B>' runs its block-causal inference mode instead)
  landmark     Landmark LLaMA: a landmark token after every block (the
               runner inserts it), grouped softmax in the prefill, top-k
               block retrieval in decode steps
  hierarchical the simple hierarchical transformer (seed 002): token
               hierarchies compressed 2x and 8x, local windows at the fine
               levels, merged into the finest stream after every layer
  transnormer  TransNormerLLM: lightning attention, decoded in its
               recurrent form (a state per layer instead of a KV cache)
tools/attn-model/seed_models.py writes the seed architectures with seeded
synthetic weights (docs/model.md).

  --prompt IDS         prompt token ids, separated by spaces or commas
  --prompt-file FILE   the same from a file ('-': stdin)
  --max-new-tokens N   tokens to generate (default 32); stops early at the
                       model's end-of-sequence token unless --ignore-eos
  --temperature T      0 (default): greedy; else sample from softmax(l / T)
  --top-k K            sample among the K most likely tokens (0: all)
  --top-p P            ... among the smallest set of probability >= P (1: all)
  --seed S             the sampler's seed (default 0): same seed, same text
  --threads N          CPU threads for the kernels and OpenBLAS (default: all)
  --target T           cpu (default) or cuda (GPU 0; cuBLAS is loaded at
                       run time: libcublas.so.13 on the library path)
  --pattern P          the attention pattern (default: the model's own,
                       '#attn.causal' for llama), e.g.
                       '#attn.sliding_window<window = 4096>'; not for
                       transnormer, landmark or hierarchical
  --max-tokens N       KV cache size (default: prompt + new tokens); at most
                       the model's context length unless the pattern is not
                       causal
  --beyond-context     let a dense or causal pattern run past the model's
                       context length (RoPE keeps counting; the text
                       degrades past the trained length): for timing long
                       prompts against engines that allow it
  --prefill-chunk N    run the prompt N tokens at a time (default: at once);
                       bounds the activations' memory for long prompts
  --logits FILE        write the logits of every position run (prompt, then
                       each decode step) as float32 .npy [positions, vocab]
  --profile            add where the time went (matmuls, attention,
                       logits, the rest) to the report, per phase
  --plain-decode       decode steps on the pattern's own kernel, one query
                       row per head (default for causal and sliding-window
                       patterns: the query heads of a KV head packed as rows
                       of one full attention over the visible keys, split
                       over the keys and merged); for checking and timing
  --dtype T            cuda: bf16 (default) or f16, the type of the weights,
                       of the matmuls' inputs and of attention (f16 rounds
                       8x finer; a weight past f16's range is an error);
                       the residual stream, norms and logits stay f32.
                       cpu: f32 (default), bf16 or f16 for attention and
                       the KV cache (half its bytes; weights stay f32)
  --weights W          cpu: f32 (default), bf16 or q4, the weight matrices:
                       bf16 rounded to nearest even when loaded (half the
                       bytes a decode step reads); q4 in blocks of 32 of
                       4-bit steps from the block's minimum, scale and
                       minimum in f16 (GGUF Q4_1's form), the logits
                       matrix in 8 bits (Q8_0's): exact for weights from
                       such a file, as SmolLM2's; 0.19 of f32's bytes);
                       products still in f32 (cuda: the weights follow
                       --dtype)
  --kernel-dir DIR     precompiled attention kernels (DIR/manifest.tsv,
                       tools/attn-model/gpu_bundle.py) instead of the JIT;
                       required by attn-model-gpu, the build without LLVM
  --record-kernels F   append the key of every kernel the model asks for to
                       F (gpu_bundle.py compiles such a list)
  --warmup             run the prompt and two decode steps once, untimed,
                       before the timed run (loads cuBLAS's and the
                       driver's lazily loaded kernels; for benchmarks)
  --quiet              no report on stderr
Output: the generated ids on stdout as they come, one per line; the report
('prefill: N tokens in S s, R tokens/s' and the same for decode) on stderr.
Exit status: 0 ok, 2 bad input or a failure (one line on stderr).
)";

struct Options {
  std::string model, prompt, promptFile, logits, target = "cpu", kernelDir;
  std::string dtype, weights, recordKernels;
  std::string pattern; // empty: the model's own
  int64_t maxNew = 32, maxTokens = 0, topK = 0, prefillChunk = 0;
  double temperature = 0, topP = 1;
  uint64_t seed = 0;
  int threads = 0;
  bool ignoreEos = false, quiet = false, profile = false, plainDecode = false;
  bool beyondContext = false;
  bool warmup = false;
  bool havePrompt = false;
};

int64_t parseInt(const std::string &flag, const std::string &v, int64_t lo,
                 int64_t hi) {
  char *end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || errno || x < lo || x > hi)
    throw Error(flag + " wants an integer in [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "], got '" + v + "'");
  return x;
}

double parseFloat(const std::string &flag, const std::string &v, double lo,
                  double hi) {
  char *end = nullptr;
  errno = 0;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || errno || !(x >= lo && x <= hi)) {
    std::ostringstream range;
    range << (lo > 0 ? "(0" : "[0") << ", " << hi << "]";
    throw Error(flag + " wants a number in " + range.str() + ", got '" + v +
                "'");
  }
  return x;
}

Options parseArgs(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (a == "--ignore-eos") {
      o.ignoreEos = true;
      continue;
    }
    if (a == "--quiet") {
      o.quiet = true;
      continue;
    }
    if (a == "--profile") {
      o.profile = true;
      continue;
    }
    if (a == "--plain-decode") {
      o.plainDecode = true;
      continue;
    }
    if (a == "--beyond-context") {
      o.beyondContext = true;
      continue;
    }
    if (a == "--warmup") {
      o.warmup = true;
      continue;
    }
    if (i + 1 >= argc)
      throw Error(a.rfind("--", 0) == 0 ? a + " needs a value"
                                        : "unexpected argument '" + a + "'");
    std::string v = argv[++i];
    if (a == "--model")
      o.model = v;
    else if (a == "--prompt")
      o.prompt = v, o.havePrompt = true;
    else if (a == "--prompt-file")
      o.promptFile = v;
    else if (a == "--max-new-tokens")
      o.maxNew = parseInt(a, v, 0, 1 << 24);
    else if (a == "--prefill-chunk")
      o.prefillChunk = parseInt(a, v, 1, int64_t(1) << 26);
    else if (a == "--max-tokens")
      o.maxTokens = parseInt(a, v, 1, int64_t(1) << 26);
    else if (a == "--temperature")
      o.temperature = parseFloat(a, v, 0, 1e6);
    else if (a == "--top-k")
      o.topK = parseInt(a, v, 0, int64_t(1) << 31);
    else if (a == "--top-p")
      o.topP = parseFloat(a, v, 1e-12, 1); // (0, 1]
    else if (a == "--seed")
      o.seed = uint64_t(parseInt(a, v, 0, INT64_MAX));
    else if (a == "--threads")
      o.threads = int(parseInt(a, v, 1, 4096));
    else if (a == "--target")
      o.target = v;
    else if (a == "--pattern")
      o.pattern = v;
    else if (a == "--logits")
      o.logits = v;
    else if (a == "--kernel-dir")
      o.kernelDir = v;
    else if (a == "--dtype")
      o.dtype = v;
    else if (a == "--weights")
      o.weights = v;
    else if (a == "--record-kernels")
      o.recordKernels = v;
    else
      throw Error("unknown option '" + a + "' (--help lists them)");
  }
  if (o.model.empty())
    throw Error("--model is required (--help for usage)");
  if (o.havePrompt == !o.promptFile.empty())
    throw Error("give the prompt's token ids with exactly one of --prompt "
                "and --prompt-file");
  if (o.target != "cpu" && o.target != "cuda")
    throw Error("--target is cpu or cuda, got '" + o.target + "'");
  if (o.target == "cpu" && !o.dtype.empty() && o.dtype != "f32" &&
      o.dtype != "bf16" && o.dtype != "f16")
    throw Error("--dtype: the CPU runs f32, bf16 or f16, got '" + o.dtype +
                "'");
  if (o.target == "cuda" && !o.dtype.empty() && o.dtype != "bf16" &&
      o.dtype != "f16")
    throw Error("--dtype: cuda runs bf16 or f16, got '" + o.dtype + "'");
  if (!o.weights.empty() && o.weights != "f32" && o.weights != "bf16" &&
      o.weights != "q4")
    throw Error("--weights is f32, bf16 or q4, got '" + o.weights + "'");
  if (o.target == "cuda" && !o.weights.empty())
    throw Error("--weights is a CPU option (on cuda the weights are in "
                "--dtype's type)");
  return o;
}

std::vector<int32_t> parseIds(const std::string &text, const std::string &src) {
  std::vector<int32_t> ids;
  std::string s = text;
  std::replace(s.begin(), s.end(), ',', ' ');
  std::istringstream in(s);
  std::string tok;
  while (in >> tok)
    ids.push_back(int32_t(parseInt("token " + std::to_string(ids.size()) +
                                       " of " + src,
                                   tok, 0, INT32_MAX)));
  if (ids.empty())
    throw Error(src + " holds no token ids");
  return ids;
}

/// Greedy or seeded sampling. The random numbers are a splitmix64 stream
/// (not std:: distributions, whose output differs between standard
/// libraries), so a seed gives the same tokens everywhere.
class Sampler {
public:
  Sampler(double temperature, int64_t topK, double topP, uint64_t seed)
      : temperature(temperature), topK(topK), topP(topP), state(seed) {}

  int32_t next(const float *logits, int64_t vocab) {
    if (temperature == 0) // ties go to the lowest id
      return int32_t(std::max_element(logits, logits + vocab) - logits);
    std::vector<int32_t> order(static_cast<size_t>(vocab));
    std::iota(order.begin(), order.end(), 0);
    auto higher = [&](int32_t a, int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    };
    int64_t keep = topK > 0 ? std::min(topK, vocab) : vocab;
    std::partial_sort(order.begin(), order.begin() + keep, order.end(), higher);
    order.resize(size_t(keep));
    std::vector<double> p(order.size());
    double top = logits[order[0]], sum = 0;
    for (size_t i = 0; i < order.size(); ++i)
      sum += p[i] = std::exp((double(logits[order[i]]) - top) / temperature);
    size_t n = order.size();
    if (topP < 1) { // the smallest prefix with probability >= topP
      double acc = 0;
      for (n = 0; n < order.size();) {
        acc += p[n++] / sum;
        if (acc >= topP)
          break;
      }
      sum = std::accumulate(p.begin(), p.begin() + long(n), 0.0);
    }
    double u = uniform() * sum;
    for (size_t i = 0; i < n; ++i) {
      u -= p[i];
      if (u < 0)
        return order[i];
    }
    return order[n - 1];
  }

private:
  double uniform() { // [0, 1)
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return double(z >> 11) * 0x1.0p-53;
  }
  double temperature;
  int64_t topK;
  double topP;
  uint64_t state;
};

void check(attn_status s, const std::string &what) {
  if (s != ATTN_OK)
    throw Error(what + ": " + attn_last_error());
}

/// An output file's folder must exist before the model runs, so that a
/// long run does not end in "cannot write".
void checkOutputFolder(const std::string &path, const std::string &option) {
  if (path.empty())
    return;
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (std::filesystem::is_directory(path, ec))
    throw Error(option + " '" + path + "' is a folder, not a file");
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
    throw Error(option + " '" + path + "': no folder '" + dir.string() + "'");
}

int run(int argc, char **argv) {
  Options o = parseArgs(argc, argv);
  checkOutputFolder(o.logits, "--logits");
  checkOutputFolder(o.recordKernels, "--record-kernels");
  std::vector<int32_t> prompt;
  if (o.havePrompt) {
    prompt = parseIds(o.prompt, "--prompt");
  } else {
    std::stringstream text;
    if (o.promptFile == "-") {
      text << std::cin.rdbuf();
    } else {
      std::error_code ec;
      if (std::filesystem::is_directory(o.promptFile, ec))
        throw Error("--prompt-file '" + o.promptFile + "' is a folder");
      std::ifstream f(o.promptFile);
      if (!f)
        throw Error("cannot read --prompt-file '" + o.promptFile +
                    "': " + std::strerror(errno));
      text << f.rdbuf();
    }
    prompt = parseIds(text.str(), "--prompt-file '" + o.promptFile + "'");
  }
  const int64_t P = int64_t(prompt.size());

  // The device first: without a GPU, say so before loading anything.
  attn_context *ctx = nullptr;
  if (o.target == "cuda")
    check(attn_context_create(ATTN_DEVICE_CUDA, 0, &ctx), "--target cuda");
  else
    check(attn_context_create(ATTN_DEVICE_CPU, o.threads, &ctx), "CPU context");
  struct CtxGuard {
    attn_context *c;
    ~CtxGuard() { attn_context_destroy(c); }
  } guard{ctx};
  std::unique_ptr<Ops> ops =
      o.target == "cuda"
          ? createCudaOps(ctx, o.dtype == "f16" ? ATTN_F16 : ATTN_BF16)
          : createCpuOps(o.threads,
                         o.dtype == "bf16"  ? ATTN_BF16
                         : o.dtype == "f16" ? ATTN_F16
                                            : ATTN_F32,
                         o.weights == "bf16"  ? CpuWeights::BF16
                         : o.weights == "q4" ? CpuWeights::Q4
                                             : CpuWeights::F32);

  int64_t maxTokens = o.maxTokens ? o.maxTokens : P + std::max<int64_t>(o.maxNew, 1);
  if (P + o.maxNew > maxTokens + 1)
    throw Error("the prompt (" + std::to_string(P) + ") and " +
                std::to_string(o.maxNew) + " new tokens do not fit --max-tokens " +
                std::to_string(maxTokens));
  auto tLoad = std::chrono::steady_clock::now();
  RunOptions run;
  run.pattern = o.pattern;
  run.maxTokens = maxTokens;
  run.plainDecode = o.plainDecode;
  run.kernelDir = o.kernelDir;
  run.recordKernels = o.recordKernels;
  std::unique_ptr<Model> loaded = loadModel(o.model, *ops, ctx, run);
  Model &model = *loaded;
  const Config &cfg = model.config();
  double loadSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - tLoad)
          .count();
  // Positions past the trained context are only meaningful with a pattern
  // that bounds how far back a query looks.
  bool pastContext = maxTokens > cfg.context && model.boundedByContext();
  if (pastContext && !o.beyondContext)
    throw Error(std::to_string(maxTokens) + " tokens exceed the model's context of " +
                std::to_string(cfg.context) +
                " (a local pattern, e.g. --pattern '#attn.sliding_window<window "
                "= 4096>', may go further; --beyond-context runs past it "
                "anyway, for timing)");
  if (pastContext && !o.quiet)
    std::fprintf(stderr,
                 "attn-model: warning: %lld positions past the trained context "
                 "of %lld (--beyond-context): the text degrades there\n",
                 (long long)maxTokens, (long long)cfg.context);
  for (int64_t i = 0; i < P; ++i)
    if (prompt[size_t(i)] >= cfg.vocab)
      throw Error("prompt token " + std::to_string(i) + " = " +
                  std::to_string(prompt[size_t(i)]) +
                  " is outside the vocabulary [0, " + std::to_string(cfg.vocab) +
                  ")");
  if (!o.quiet)
    std::fprintf(stderr,
                 "attn-model: %lld layers, %lld/%lld heads of %lld, vocab %lld; "
                 "weights in %.2f s; %s, attention %s (kernels in %.2f s); "
                 "%s, %s\n",
                 (long long)cfg.layers, (long long)cfg.heads,
                 (long long)cfg.kvHeads, (long long)cfg.headDim,
                 (long long)cfg.vocab, loadSeconds, cfg.architecture.c_str(),
                 model.attentionName().c_str(),
                 model.kernelSeconds(), ops->name(), attn_context_device(ctx));

  auto mb = [](size_t bytes) { // "812 KB", "555 MB", "3.02 GB"
    char text[32];
    double v = double(bytes);
    const char *unit = v >= 1e9 ? "GB" : v >= 1e6 ? "MB" : "KB";
    v /= v >= 1e9 ? 1e9 : v >= 1e6 ? 1e6 : 1e3;
    std::snprintf(text, sizeof text, v >= 100 ? "%.0f %s" : "%.3g %s", v,
                  unit);
    return std::string(text);
  };
  if (!o.quiet) {
    Model::Memory m = model.memory();
    std::fprintf(stderr,
                 "attn-model: memory: %s of weights and tables, %s of %s "
                 "for %lld positions (linear in them; attention keeps no "
                 "N x N scores)\n",
                 mb(m.owned - m.cache).c_str(), mb(m.cache).c_str(),
                 cfg.architecture == "transnormer" ? "recurrent state"
                                                   : "KV cache",
                 (long long)model.capacity());
  }

  // Finite weights and inputs give finite logits; anything else (weights
  // holding NaN or huge values) would sample garbage, so it is an error.
  auto checkFinite = [&](const std::vector<float> &l, int64_t position) {
    for (float v : l)
      if (!std::isfinite(v))
        throw Error("the logits at position " + std::to_string(position) +
                    " are not finite: the weights in '" + o.model +
                    "' hold NaN, infinities or values that overflow" +
                    (o.dtype == "f16"
                         ? ", or activations overflowed f16 (--dtype bf16 "
                           "has f32's range)"
                         : ""));
  };
  if (o.warmup && P > 0) {
    std::vector<float> scratch;
    int64_t chunk = o.prefillChunk ? o.prefillChunk : P;
    for (int64_t at = 0; at < P; at += chunk)
      model.forward(prompt.data() + at, std::min(chunk, P - at), false,
                    scratch);
    for (int i = 0; i < 2 && model.position() < maxTokens; ++i)
      model.forward(prompt.data(), 1, false, scratch);
    model.reset();
  }
  Sampler sampler(o.temperature, o.topK, o.topP, o.seed);
  bool allLogits = !o.logits.empty();
  std::vector<float> logits, allRows;
  model.profile.enabled = o.profile;
  auto t0 = std::chrono::steady_clock::now();
  // The prompt in chunks of at most --prefill-chunk tokens: each chunk's
  // queries sit at the bottom of its keys (SPEC's alignment), so a chunk
  // attends to the cache so far and causally to itself; the scratch
  // buffers are sized by the chunk, not the prompt.
  int64_t chunk = o.prefillChunk ? o.prefillChunk : P;
  std::vector<float> part;
  for (int64_t at = 0; at < P; at += chunk) {
    int64_t n = std::min(chunk, P - at);
    model.forward(prompt.data() + at, n, allLogits, part);
    if (allLogits)
      allRows.insert(allRows.end(), part.begin(), part.end());
  }
  logits.swap(part);
  auto t1 = std::chrono::steady_clock::now();
  checkFinite(logits, P - 1);
  Model::Profile prefillProfile = model.profile;
  model.profile = Model::Profile{o.profile};
  const float *last =
      logits.data() + (allLogits ? int64_t(logits.size()) - cfg.vocab : 0);
  int64_t generated = 0, steps = 0;
  auto emit = [&](int32_t id) {
    std::printf("%d\n", id);
    std::fflush(stdout);
    ++generated;
  };
  double decodeSeconds = 0;
  if (o.maxNew > 0) {
    int32_t next = sampler.next(last, cfg.vocab);
    emit(next);
    auto td = std::chrono::steady_clock::now();
    while (generated < o.maxNew && (o.ignoreEos || next != cfg.eos)) {
      model.forward(&next, 1, false, logits);
      checkFinite(logits, model.position() - 1);
      ++steps;
      if (allLogits)
        allRows.insert(allRows.end(), logits.begin(), logits.end());
      next = sampler.next(logits.data(), cfg.vocab);
      emit(next);
    }
    decodeSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - td)
            .count();
  }
  double prefillSeconds = std::chrono::duration<double>(t1 - t0).count();
  auto breakdown = [&](const Model::Profile &p, double total) {
    if (!o.profile)
      return;
    std::fprintf(stderr,
                 "attn-model:   matmuls %.1f%%, attention %.1f%%, logits "
                 "%.1f%%, norms/RoPE/SwiGLU/cache %.1f%%, sampling and "
                 "the rest %.1f%%\n",
                 100 * p.matmul / total, 100 * p.attention / total,
                 100 * p.logits / total, 100 * p.other / total,
                 100 * (total - p.matmul - p.attention - p.logits - p.other) /
                     total);
  };
  if (!o.quiet) {
    std::fprintf(stderr, "attn-model: prefill: %lld tokens in %.4f s, %.1f tokens/s\n",
                 (long long)P, prefillSeconds, double(P) / prefillSeconds);
    breakdown(prefillProfile, prefillSeconds);
    if (steps > 0) {
      std::fprintf(stderr,
                   "attn-model: decode: %lld tokens in %.4f s, %.1f tokens/s\n",
                   (long long)steps, decodeSeconds,
                   double(steps) / decodeSeconds);
      breakdown(model.profile, decodeSeconds);
    }
  }
  if (!o.quiet) {
    Model::Memory m = model.memory();
    std::string resident;
    struct rusage usage {};
    if (o.target == "cpu" && getrusage(RUSAGE_SELF, &usage) == 0)
      resident = ", peak resident " +
                 std::to_string(int64_t(usage.ru_maxrss / 1024)) + " MB";
    std::fprintf(stderr, "attn-model: activations %s (chunks of %lld rows)%s\n",
                 mb(m.scratch).c_str(), (long long)chunk, resident.c_str());
  }
  if (allLogits) {
    std::string error;
    int64_t rows = int64_t(allRows.size()) / cfg.vocab;
    if (!attn::writeNpy(o.logits, {rows, cfg.vocab}, allRows, "f32", error))
      throw Error(error);
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception &e) {
    std::fflush(stdout);
    std::fprintf(stderr, "attn-model: error: %s\n", e.what());
    return 2;
  }
}
