//===- Llama.cpp - softmax-attention decoders -----------------------------===//
// Llama, LongNet, Landmark LLaMA and the hierarchical transformer: stacks of
// the same blocks (a Stack: weights, KV cache, kernels, decode plan).
// Per layer RMSNorm, one fused QKV matmul, RoPE, the KV cache append,
// attention through attn_launch (bottom-right aligned, so a decode step of
// one query sees the cached keys its pattern allows), the output projection,
// and the SwiGLU channel mixer; then the final norm and the output matrix.
//
// 'llama' weights (convert_gguf.py: SmolLM2) attend causally unless
// --pattern says otherwise. 'longnet' weights (seed_models.py) are the same
// blocks with LongNet's dilated attention: their metadata holds torchscale's
// schedule (segment_lengths, dilated_ratios) and head offsets, which become
// the pattern '#attn.dilated<segments = [...], rates = [...], offsets = ...>'.
// --pattern may still replace it, e.g. by LongNet's block-causal inference
// mode '#attn.block_causal<block = b>'.
//
// 'landmark' weights (seed_models.py) are Landmark LLaMA: the same blocks
// over a stream in which the landmark token (metadata landmark_token) follows
// every L - 1 tokens (L = landmark_block, the paper's 50 + 1, or 64), so key
// j is a landmark when j mod L = L - 1. The prompt runs with the grouped
// softmax '#attn.landmark<block = L>', decode steps with top-k retrieval
// '#attn.landmark<block = L, topk = k>' (landmark_topk). The runner inserts
// the landmarks (a landmark goes in before the token that would follow a
// full block, so the stream always ends with a token of the caller's) and
// returns the logits of the caller's tokens only; positions (RoPE) count
// the landmarks.
//
// Decode steps (one query at position p):
//  - where the keys p sees are one contiguous range of the cache (causal:
//    all; a sliding window of W: the last W + 1; block-causal of b: from the
//    start of the previous block), a full attention over that range, the
//    query heads of a KV head packed as rows and the keys split (below);
//  - dilated: per pattern k that selects p for a head, the keys are the
//    head's selected rows of p's segment up to p, a strided view of the
//    cache (row stride r_k); each is a full attention with its log-sum-exp,
//    and the parts merge (SPEC: one softmax over the multiset union). The
//    rows of a prefill chunk after the first run the same way;
//  - other patterns: the pattern's own kernel with Nq = 1.
//===----------------------------------------------------------------------===//
#include "tools/attn-model/Architectures.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <regex>

using namespace attnmodel;

namespace {

// Split-KV decoding: a decode step's keys are cut into up to kMaxSplits
// parts of at least kSplitKeys, run as the batch of one launch, and merged.
constexpr int64_t kMaxSplits = 16, kSplitKeys = 256;

/// A [B=1, heads, rows, dim] view of rows `rowStride` apart (heads
/// `headStride` apart), e.g. of a cache laid out [heads, capacity, dim],
/// of elements of type `type`.
attn_tensor view(const void *p, attn_dtype type, int64_t heads, int64_t rows,
                 int64_t dim, int64_t headStride, int64_t rowStride) {
  attn_tensor t{};
  t.data = const_cast<void *>(p);
  t.dtype = type;
  t.rank = 4;
  int64_t shape[4] = {1, heads, rows, dim};
  int64_t strides[4] = {heads * headStride, headStride, rowStride, 1};
  for (int i = 0; i < 4; ++i) {
    t.shape[i] = shape[i];
    t.strides[i] = strides[i];
  }
  return t;
}

/// A [B=1, 1, 1] log-sum-exp at `p`.
attn_tensor scalarLse(float *p) {
  attn_tensor t{};
  t.data = p;
  t.dtype = ATTN_F32;
  t.rank = 3;
  for (int i = 0; i < 3; ++i) {
    t.shape[i] = 1;
    t.strides[i] = 1;
  }
  return t;
}

std::vector<int64_t> intList(const std::string &text) {
  std::vector<int64_t> out;
  std::string s = text;
  std::replace(s.begin(), s.end(), ',', ' ');
  size_t at = 0;
  while (at < s.size()) {
    size_t used = 0;
    try {
      out.push_back(std::stoll(s.substr(at), &used));
    } catch (...) {
      break;
    }
    at += used;
  }
  return out;
}

/// What a decode step needs to know of the pattern.
struct DecodePlan {
  enum Kind { Contiguous, Dilated, General } kind = General;
  // Contiguous: the first key position p sees (causal: 0).
  int64_t window = -1, block = -1;
  int64_t first(int64_t p) const {
    if (window >= 0)
      return std::max<int64_t>(0, p - window);
    if (block > 0)
      return std::max<int64_t>(0, (p / block - 1) * block);
    return 0;
  }
  // Dilated: segment lengths, rates, offsets grouped (else interleaved).
  std::vector<int64_t> segments, rates;
  bool grouped = false, causal = true;
  /// The offset of query head h of H for pattern k.
  int64_t offset(size_t k, int64_t h, int64_t H) const {
    int64_t r = rates[k];
    return grouped ? h / ((H + r - 1) / r) : h % r;
  }
};

DecodePlan planFor(const std::string &pattern) {
  DecodePlan plan;
  long long v = -1;
  char tail = 0;
  if (pattern == "#attn.causal") {
    plan.kind = DecodePlan::Contiguous;
  } else if (std::sscanf(pattern.c_str(),
                         "#attn.sliding_window<window = %lld>%c", &v,
                         &tail) == 1 &&
             v >= 0) {
    plan.kind = DecodePlan::Contiguous;
    plan.window = v;
  } else if (std::sscanf(pattern.c_str(), "#attn.block_causal<block = %lld>%c",
                         &v, &tail) == 1 &&
             v > 0) {
    plan.kind = DecodePlan::Contiguous;
    plan.block = v;
  } else if (pattern.rfind("#attn.dilated<", 0) == 0) {
    // The kernel was compiled from this text, so it parses; read the
    // parameters the decode step needs.
    std::smatch m;
    auto list = [&](const char *key) {
      std::regex re(std::string(key) + R"(\s*=\s*\[([^\]]*)\])");
      return std::regex_search(pattern, m, re) ? intList(m[1].str())
                                               : std::vector<int64_t>{};
    };
    plan.kind = DecodePlan::Dilated;
    plan.segments = list("segments");
    plan.rates = list("rates");
    plan.grouped =
        std::regex_search(pattern, std::regex(R"(offsets\s*=\s*grouped)"));
    plan.causal =
        !std::regex_search(pattern, std::regex(R"(causal\s*=\s*false)"));
    if (plan.segments.empty() || plan.segments.size() != plan.rates.size())
      throw Error("cannot read the dilated pattern '" + pattern + "'");
  }
  return plan;
}

/// A hierarchy's attention: a sliding window of w, or causal when w = 0.
std::string windowPattern(int64_t w) {
  if (w < 0)
    throw Error("a window size is at least 0 (0: causal), got " +
                std::to_string(w));
  return w ? "#attn.sliding_window<window = " + std::to_string(w) + ">"
           : "#attn.causal";
}

/// One stack of Llama blocks: its shape, weights, RoPE tables, KV caches,
/// attention kernels and decode plan, and its scratch. A Llama model has
/// one; the hierarchical transformer one per hierarchy.
struct Stack {
  std::string prefix; // of its tensors' names: "" or "h1." ...
  int64_t layers = 0, d = 0, heads = 0, kvHeads = 0, headDim = 0, ffn = 0;
  double ropeTheta = 10000;
  int64_t capacity = 0; // positions its cache holds
  struct Layer {
    float *attnNorm, *wqkv, *wo, *ffnNorm, *wgu, *wdown;
  };
  std::vector<Layer> weights;
  float *ropeCos = nullptr, *ropeSin = nullptr;
  // Attention's element type and its bytes (Ops::attentionType()).
  attn_dtype type = ATTN_F32;
  size_t esz = 4;
  // KV cache: per layer [kvHeads, capacity, headDim] for K, then V, in
  // `type`.
  std::vector<char *> cacheK, cacheV;
  std::string pattern;
  attn_kernel *kernel = nullptr;
  // A full attention with its log-sum-exp, for the decode paths; null when
  // decode steps run on the pattern's own kernel.
  attn_kernel *decodeKernel = nullptr;
  // Landmark LLaMA: the kernel of decode steps (top-k retrieval).
  attn_kernel *retrieveKernel = nullptr;
  DecodePlan plan;
  // A dilated kernel merges its patterns through the log-sum-exp, so it
  // takes one (the runner does not read it).
  bool withLse = false;
  char *partO = nullptr; // decode parts (`type`), then merged
  float *partL = nullptr;
  // Scratch for up to `rows` rows; att [rows, qd] and, where `type` is not
  // f32, qa (the roped Q [rows, qd]) in `type`.
  int64_t rows = 0;
  float *h = nullptr, *qkv = nullptr, *lse = nullptr, *gu = nullptr,
        *act = nullptr;
  char *att = nullptr, *qa = nullptr;

  /// Element `i` of a buffer of `type`.
  char *at(char *p, int64_t i) const { return p + i * int64_t(esz); }
  const char *at(const char *p, int64_t i) const {
    return p + i * int64_t(esz);
  }

  int64_t qd() const { return heads * headDim; }
  int64_t kvd() const { return kvHeads * headDim; }
  int64_t width() const { return qd() + 2 * kvd(); }
};

class Llama : public Model {
public:
  Llama(const SafeTensors &st, Ops &ops, attn_context *ctx,
        const RunOptions &run);
  bool boundedByContext() const override {
    return fine.plan.kind == DecodePlan::Contiguous && fine.plan.window < 0 &&
           fine.plan.block < 0;
  }

protected:
  /// Checks a stack's shape (read by the caller) against `path`.
  static void checkShape(const Stack &s, const std::string &path);
  /// Uploads stack s's weights (tensors `s.prefix + "layers.<l>.*"`),
  /// allocates its cache of s.capacity positions, and gets its kernels for
  /// `pattern` (and `retrieval`, when not empty).
  void loadStack(const SafeTensors &st, Stack &s, const std::string &pattern,
                 const std::string &retrieval, bool plainDecode);
  void reserveStack(Stack &s, int64_t n);
  /// Layer l of stack s on n rows of its residual stream x ([n, s.d]) at
  /// the stack's positions pos .. pos + n - 1.
  void block(Stack &s, int64_t l, float *x, int64_t n, int64_t pos);
  void layer(int64_t l, int64_t n) override { block(fine, l, x, n, pos); }
  void reserveLayerScratch(int64_t n) override { reserveStack(fine, n); }

  Stack fine; // the model's stack (a hierarchical model's finest)
  // Landmark LLaMA: decode steps use the retrieval kernel.
  bool retrieving = false;

private:
  // Attention of n rows at pos: q [n, qd] (row stride qStride) and out
  // [n, qd], both of s.type.
  void attention(Stack &s, int64_t layer, const char *q, int64_t qStride,
                 char *out, int64_t n, int64_t pos);
  void packedDecode(Stack &s, int64_t layer, const char *q, char *out,
                    int64_t pos);
  void dilatedRow(Stack &s, int64_t layer, const char *q, char *out,
                  int64_t p);
};

void Llama::checkShape(const Stack &s, const std::string &path) {
  for (auto [v, what] :
       {std::pair(s.heads, "n_heads"), std::pair(s.kvHeads, "n_kv_heads"),
        std::pair(s.headDim, "head_dim"), std::pair(s.d, "d_model"),
        std::pair(s.ffn, "ffn_dim")})
    if (v <= 0 || v > (int64_t(1) << 24))
      throw Error("weights '" + path + "': " + s.prefix + what + " = " +
                  std::to_string(v) + " is out of range");
  if (s.heads % s.kvHeads || s.headDim % 2)
    throw Error("weights '" + path + "': " + std::to_string(s.heads) +
                " query heads over " + std::to_string(s.kvHeads) +
                " kv heads of dim " + std::to_string(s.headDim) +
                " is not a GQA shape");
  if (!(s.ropeTheta > 1))
    throw Error("weights '" + path + "': bad rms_eps or rope_theta");
}

Llama::Llama(const SafeTensors &st, Ops &ops, attn_context *ctx,
             const RunOptions &run)
    : Model(ops, ctx, run) {
  const std::string &path = st.path();
  if (st.meta("rope") != "rotate_half")
    throw Error("weights '" + path + "' have RoPE order '" + st.meta("rope") +
                "'; attn-model expects rotate_half");
  cfg.heads = fine.heads = st.metaInt("n_heads");
  cfg.kvHeads = fine.kvHeads = st.metaInt("n_kv_heads");
  cfg.headDim = fine.headDim = st.metaInt("head_dim");
  cfg.ropeTheta = fine.ropeTheta = st.metaFloat("rope_theta");
  loadCommon(st, /*outNormWeight=*/true);
  fine.layers = cfg.layers;
  fine.d = cfg.dModel;
  fine.ffn = cfg.ffn;
  fine.capacity = maxTokens;
  checkShape(fine, path);

  // The pattern: --pattern, else the model's own.
  std::string pattern = run.pattern;
  const std::string &arch = st.meta("architecture");
  std::string retrieval;
  auto fixed = [&](const char *what) {
    if (!pattern.empty())
      throw Error("--pattern does not apply to '" + path + "': " + what);
  };
  if (arch == "landmark") {
    fixed("a landmark model's stream holds landmark tokens for landmark "
          "attention");
    int64_t L = st.metaInt("landmark_block"), k = st.metaInt("landmark_topk");
    pattern = "#attn.landmark<block = " + std::to_string(L) + ">";
    retrieval = "#attn.landmark<block = " + std::to_string(L) +
                ", topk = " + std::to_string(k) + ">";
  }
  if (arch == "hierarchical") {
    fixed("a hierarchical model's hierarchies have their own windows");
    pattern = windowPattern(st.metaInts("window_sizes").at(0));
  }
  if (pattern.empty() && arch == "longnet") {
    std::vector<int64_t> w = st.metaInts("segment_lengths"),
                         r = st.metaInts("dilated_ratios");
    auto text = [](const std::vector<int64_t> &v) {
      std::string s = "[";
      for (size_t i = 0; i < v.size(); ++i)
        s += (i ? ", " : "") + std::to_string(v[i]);
      return s + "]";
    };
    pattern = "#attn.dilated<segments = " + text(w) + ", rates = " + text(r) +
              ", offsets = " + st.meta("dilated_offsets") + ">";
  }
  if (pattern.empty())
    pattern = "#attn.causal";
  attentionText = pattern + (retrieval.empty() ? "" : ", decode " + retrieval);
  loadStack(st, fine, pattern, retrieval, run.plainDecode);
}

void Llama::loadStack(const SafeTensors &st, Stack &s,
                      const std::string &pattern, const std::string &retrieval,
                      bool plainDecode) {
  const int64_t d = s.d, qd = s.qd(), kvd = s.kvd(), f = s.ffn;
  // Q, K and V weights stacked into one [qd + 2 kvd, d] matrix (one GEMM),
  // gate and up into one [2f, d].
  for (int64_t l = 0; l < s.layers; ++l) {
    std::string p = s.prefix + "layers." + std::to_string(l) + ".";
    Stack::Layer L;
    L.attnNorm = upload(st, p + "attn_norm", {d});
    L.ffnNorm = upload(st, p + "ffn_norm", {d});
    L.wo = uploadMatrix(st, p + "wo", d, qd);
    L.wdown = uploadMatrix(st, p + "w_down", d, f);
    L.wqkv =
        uploadStacked(st, {p + "wq", p + "wk", p + "wv"}, {qd, kvd, kvd}, d);
    L.wgu = uploadStacked(st, {p + "w_gate", p + "w_up"}, {f, f}, d);
    s.weights.push_back(L);
  }

  // RoPE tables for every cache position, in double then rounded.
  const int64_t half = s.headDim / 2;
  std::vector<float> c(size_t(s.capacity * half)), sn(c.size());
  for (int64_t t = 0; t < s.capacity; ++t)
    for (int64_t j = 0; j < half; ++j) {
      double a = double(t) *
                 std::pow(s.ropeTheta, -2.0 * double(j) / double(s.headDim));
      c[size_t(t * half + j)] = float(std::cos(a));
      sn[size_t(t * half + j)] = float(std::sin(a));
    }
  s.ropeCos = allocOwned(c.size());
  s.ropeSin = allocOwned(sn.size());
  ops.upload(s.ropeCos, c.data(), c.size());
  ops.upload(s.ropeSin, sn.data(), sn.size());
  s.type = ops.attentionType();
  s.esz = attentionBytes();
  for (int64_t l = 0; l < s.layers; ++l) {
    s.cacheK.push_back(allocAttention(size_t(kvd * s.capacity)));
    s.cacheV.push_back(allocAttention(size_t(kvd * s.capacity)));
  }
  cacheBytes += 2 * size_t(s.layers * kvd * s.capacity) * s.esz;

  s.pattern = pattern;
  s.plan = planFor(pattern);
  s.withLse = s.plan.kind == DecodePlan::Dilated;
  s.kernel = attentionKernel(pattern, s.headDim, s.withLse);
  if (!retrieval.empty())
    s.retrieveKernel = attentionKernel(retrieval, s.headDim, /*withLse=*/false);
  if (s.plan.kind == DecodePlan::Dilated && !s.plan.causal)
    throw Error("'" + pattern +
                "' is not causal: a decoder's positions must "
                "not see later ones");
  bool packed = s.plan.kind == DecodePlan::Contiguous && !plainDecode &&
                ops.runnerSplitsDecode();
  if (packed || s.plan.kind == DecodePlan::Dilated) {
    s.decodeKernel = attentionKernel("#attn.full", s.headDim, /*withLse=*/true);
    int64_t parts = packed ? kMaxSplits + 1 : int64_t(s.plan.segments.size());
    s.partO = allocAttention(size_t(parts * s.heads * s.headDim));
    s.partL = allocOwned(size_t(parts * s.heads));
  }
}

void Llama::reserveStack(Stack &s, int64_t n) {
  if (n <= s.rows)
    return;
  grow(s.h, size_t(n * s.d));
  grow(s.qkv, size_t(n * s.width()));
  growAttention(s.att, size_t(n * s.qd()));
  if (s.type != ATTN_F32)
    growAttention(s.qa, size_t(n * s.qd()));
  if (s.withLse)
    grow(s.lse, size_t(n * s.heads));
  grow(s.gu, size_t(n * 2 * s.ffn));
  grow(s.act, size_t(n * s.ffn));
  s.rows = n;
}

void Llama::packedDecode(Stack &s, int64_t layer, const char *qRow, char *out,
                         int64_t pos) {
  // One decode step: the query at the last position p = pos sees the keys
  // [first, p] with no mask: a full attention over that range of the cache.
  // Two things make it fast on kernels built for long query blocks:
  //  - the G = H / Hk query heads of a KV head become G rows of one full
  //    attention over that head's keys ([.., Hk, G, D] views, heads G*D
  //    apart), so a problem fills G of the CPU kernel's query lanes;
  //  - the keys are split into S parts of c (FlashDecoding): the parts are
  //    the batch dimension of one launch (Q repeated by a batch stride of
  //    0, K and V as [S, Hk, c, D] views of the cache, rows c*D apart),
  //    so S*Hk problems spread over the threads; the nk - S*c left over
  //    run as one more part, and the parts merge by log-sum-exp.
  const int64_t D = s.headDim, cap = s.capacity;
  const int64_t first = s.plan.first(pos);
  const int64_t nk = pos + 1 - first;
  const char *keys = s.at(s.cacheK[size_t(layer)], first * D),
             *values = s.at(s.cacheV[size_t(layer)], first * D);
  const int64_t G = s.heads / s.kvHeads;
  const int64_t S = std::max<int64_t>(1, std::min(kMaxSplits, nk / kSplitKeys));
  const int64_t c = nk / S, rest = nk - S * c;
  auto lse = [&](float *p, int64_t parts) {
    attn_tensor t{};
    t.data = p;
    t.dtype = ATTN_F32;
    t.rank = 3;
    int64_t shape[3] = {parts, s.kvHeads, G};
    int64_t strides[3] = {s.heads, G, 1};
    for (int i = 0; i < 3; ++i) {
      t.shape[i] = shape[i];
      t.strides[i] = strides[i];
    }
    return t;
  };
  const attn_dtype t = s.type;
  attn_tensor q = view(qRow, t, s.kvHeads, G, D, G * D, D);
  q.shape[0] = S;
  q.strides[0] = 0;
  attn_tensor ks = view(keys, t, s.kvHeads, c, D, cap * D, D),
              vs = view(values, t, s.kvHeads, c, D, cap * D, D);
  ks.shape[0] = vs.shape[0] = S;
  ks.strides[0] = vs.strides[0] = c * D;
  attn_tensor o = view(s.partO, t, s.kvHeads, G, D, G * D, D);
  o.shape[0] = S;
  o.strides[0] = s.heads * D;
  attn_tensor args[5] = {q, ks, vs, o, lse(s.partL, S)};
  check(attn_launch(ctx, s.decodeKernel, args, 5), "attention launch");
  if (rest > 0) {
    attn_tensor tail[5] = {
        view(qRow, t, s.kvHeads, G, D, G * D, D),
        view(s.at(keys, S * c * D), t, s.kvHeads, rest, D, cap * D, D),
        view(s.at(values, S * c * D), t, s.kvHeads, rest, D, cap * D, D),
        view(s.at(s.partO, S * s.heads * D), t, s.kvHeads, G, D, G * D, D),
        lse(s.partL + S * s.heads, 1)};
    check(attn_launch(ctx, s.decodeKernel, tail, 5), "attention launch");
  }
  ops.mergePartials(s.partO, s.partL, S + (rest > 0), s.heads, D, out);
}

void Llama::dilatedRow(Stack &s, int64_t layer, const char *qRow, char *out,
                       int64_t p) {
  // The query at position p, head h: pattern k selects it when its local
  // index in its segment is o_k(h) mod r_k; it then sees the keys at
  // start + o_k(h) + r_k t up to p, the rows of a strided view of the
  // cache. Each such part is a full attention with its log-sum-exp; head
  // h's parts lie together in partO / partL and merge into its output
  // (no part: SPEC's empty row, zeros).
  const int64_t D = s.headDim, H = s.heads, G = H / s.kvHeads;
  const int64_t K = int64_t(s.plan.segments.size());
  for (int64_t hd = 0; hd < H; ++hd) {
    int64_t parts = 0;
    for (int64_t k = 0; k < K; ++k) {
      const int64_t w = s.plan.segments[size_t(k)], r = s.plan.rates[size_t(k)];
      const int64_t start = p / w * w, off = s.plan.offset(size_t(k), hd, H);
      if ((p - start) % r != off)
        continue;
      const int64_t count = (p - start - off) / r + 1;
      const int64_t at = (hd / G) * s.capacity + start + off;
      const attn_dtype t = s.type;
      char *o = s.at(s.partO, (hd * K + parts) * D);
      attn_tensor args[5] = {
          view(s.at(qRow, hd * D), t, 1, 1, D, D, D),
          view(s.at(s.cacheK[size_t(layer)], at * D), t, 1, count, D, D, r * D),
          view(s.at(s.cacheV[size_t(layer)], at * D), t, 1, count, D, D, r * D),
          view(o, t, 1, 1, D, D, D), scalarLse(s.partL + hd * K + parts)};
      check(attn_launch(ctx, s.decodeKernel, args, 5), "attention launch");
      ++parts;
    }
    ops.mergePartials(s.at(s.partO, hd * K * D), s.partL + hd * K, parts, 1, D,
                      s.at(out, hd * D));
  }
}

void Llama::attention(Stack &s, int64_t layer, const char *q, int64_t qStride,
                      char *out, int64_t n, int64_t pos) {
  const int64_t D = s.headDim, qd = s.qd(), cap = s.capacity;
  const attn_dtype t = s.type;
  if (n == 1 && s.decodeKernel && s.plan.kind == DecodePlan::Contiguous)
    return packedDecode(s, layer, q, out, pos);
  if (pos > 0 && s.plan.kind == DecodePlan::Dilated) {
    // The dilated kernel runs whole sequences (Nq = Nk); rows after the
    // first prefill are decoded one by one.
    for (int64_t i = 0; i < n; ++i)
      dilatedRow(s, layer, s.at(q, i * qStride), s.at(out, i * qd), pos + i);
    return;
  }
  const int64_t nk = pos + n;
  attn_tensor args[5] = {
      view(q, t, s.heads, n, D, D, qStride),
      view(s.cacheK[size_t(layer)], t, s.kvHeads, nk, D, cap * D, D),
      view(s.cacheV[size_t(layer)], t, s.kvHeads, nk, D, cap * D, D),
      view(out, t, s.heads, n, D, D, qd), attn_tensor{}};
  if (s.withLse) {
    attn_tensor &l = args[4];
    l.data = s.lse;
    l.dtype = ATTN_F32;
    l.rank = 3;
    int64_t shape[3] = {1, s.heads, n}, strides[3] = {s.heads * n, n, 1};
    for (int i = 0; i < 3; ++i) {
      l.shape[i] = shape[i];
      l.strides[i] = strides[i];
    }
  }
  check(attn_launch(ctx, retrieving ? s.retrieveKernel : s.kernel, args,
                    s.withLse ? 5 : 4),
        "attention launch");
}

void Llama::block(Stack &s, int64_t l, float *x, int64_t n, int64_t pos) {
  const Stack::Layer &L = s.weights[size_t(l)];
  const int64_t d = s.d, D = s.headDim, qd = s.qd(), kvd = s.kvd(),
                width = s.width(), cap = s.capacity;
  ops.rmsNorm(x, L.attnNorm, s.h, n, d, float(cfg.rmsEps));
  lap(profile.other);
  ops.matmul(s.h, L.wqkv, s.qkv, n, d, width, /*accumulate=*/false);
  lap(profile.matmul);
  ops.rope(s.qkv, n, s.heads, D, width, pos, s.ropeCos, s.ropeSin);
  ops.rope(s.qkv + qd, n, s.kvHeads, D, width, pos, s.ropeCos, s.ropeSin);
  for (int64_t g = 0; g < s.kvHeads; ++g) {
    ops.toAttention(s.at(s.cacheK[size_t(l)], (g * cap + pos) * D), D,
                    s.qkv + qd + g * D, width, n, D);
    ops.toAttention(s.at(s.cacheV[size_t(l)], (g * cap + pos) * D), D,
                    s.qkv + qd + kvd + g * D, width, n, D);
  }
  // Q: the f32 rows themselves where attention takes f32, else a copy.
  const char *q = reinterpret_cast<const char *>(s.qkv);
  int64_t qStride = width;
  if (s.type != ATTN_F32) {
    ops.toAttention(s.qa, qd, s.qkv, width, n, qd);
    q = s.qa;
    qStride = qd;
  }
  lap(profile.other);
  attention(s, l, q, qStride, s.att, n, pos);
  lap(profile.attention);
  ops.matmulAttention(s.att, L.wo, x, n, qd, d, /*accumulate=*/true);
  lap(profile.matmul);
  gluBlock(x, d, s.ffn, L.ffnNorm, L.wgu, L.wdown, Glu::SwiGLU, n,
           {s.h, s.gu, s.act});
}

/// Landmark LLaMA: the caller's tokens become a stream with a landmark
/// after every L - 1 of them; decode steps retrieve the top-k blocks.
class LandmarkLlama final : public Llama {
public:
  LandmarkLlama(const SafeTensors &st, Ops &ops, attn_context *ctx,
                const RunOptions &run, int64_t block)
      : Llama(st, ops, ctx, withLandmarks(run, block)), block(block),
        landmark(st.metaInt("landmark_token")) {
    if (landmark < 0 || landmark >= cfg.vocab)
      throw Error("weights '" + st.path() + "': landmark_token " +
                  std::to_string(landmark) + " is outside the vocabulary");
  }

  void forward(const int32_t *ids, int64_t n, bool allLogits,
               std::vector<float> &logits) override {
    stream.clear();
    rows.clear();
    for (int64_t i = 0; i < n; ++i) {
      if ((pos + int64_t(stream.size())) % block == block - 1)
        stream.push_back(int32_t(landmark));
      rows.push_back(int64_t(stream.size()));
      stream.push_back(ids[i]);
    }
    retrieving = n == 1;
    const int64_t m = int64_t(stream.size());
    Model::forward(stream.data(), m, allLogits, logits);
    retrieving = false;
    if (!allLogits || m == n)
      return;
    // The caller's rows only (the landmarks' logits predict nothing).
    const size_t V = size_t(cfg.vocab);
    for (int64_t i = 0; i < n; ++i)
      std::copy_n(logits.begin() + long(size_t(rows[size_t(i)]) * V), V,
                  logits.begin() + long(size_t(i) * V));
    logits.resize(size_t(n) * V);
  }

private:
  /// The stream's capacity: the caller's tokens and their landmarks.
  static RunOptions withLandmarks(RunOptions run, int64_t block) {
    if (block < 2)
      throw Error("a landmark block holds at least one token and its "
                  "landmark, got landmark_block = " +
                  std::to_string(block));
    run.maxTokens += run.maxTokens / (block - 1) + 1;
    return run;
  }
  int64_t block, landmark;
  std::vector<int32_t> stream;
  std::vector<int64_t> rows;
};

/// The simple hierarchical transformer (seed 002: lucidrains'
/// simple-hierarchical-transformer, after the hourglass transformer).
/// Hierarchy h compresses the token embeddings by its factor c_h: its token
/// i is W_h [e_{ic-c+1}; ...; e_{ic}] (zeros before the start: the hourglass
/// shift by c - 1, so token i has seen nothing after position ic) and runs
/// through its own stack of Llama blocks (its own width, heads, head dim and
/// window, positions i). After each layer l, the finest stream takes every
/// coarser one in: x_p += M_{h,l} y_{h,l}[floor(p / c_h)] (the coarse token
/// whose span ends at or before p). The logits come from the finest stream.
/// A chunk of fine rows [pos, pos + n) first runs, per hierarchy, the
/// coarse tokens it completes (ic in the chunk: a prefill of its own, or
/// one decode step), keeping each layer's coarse outputs for the merges.
class Hierarchical final : public Llama {
public:
  Hierarchical(const SafeTensors &st, Ops &ops, attn_context *ctx,
               const RunOptions &run);
  // The coarsest hierarchy attends to every earlier token.
  bool boundedByContext() const override { return true; }

private:
  struct Level {
    int64_t factor = 1;
    Stack stack;
    float *compress = nullptr;  // [d_h, factor * d_0]
    std::vector<float *> merge; // per layer, [d_0, d_h]
    std::vector<float *> out;   // per layer, its output rows [capacity, d_h]
    float *y = nullptr;         // the chunk's coarse stream [rows, d_h]
    float *gather = nullptr;    // coarse rows under the fine rows [n, d_h]
  };
  void layer(int64_t l, int64_t n) override;
  void reserveLayerScratch(int64_t n) override;
  void runLevel(Level &level, int64_t n);

  std::vector<Level> levels; // the coarser hierarchies, finest first
  // Every embedding run so far, after `pad` zero rows: [pad + capacity, d_0].
  float *history = nullptr;
  int64_t pad = 0;
};

Hierarchical::Hierarchical(const SafeTensors &st, Ops &ops, attn_context *ctx,
                           const RunOptions &run)
    : Llama(st, ops, ctx, run) {
  const std::string &path = st.path();
  std::vector<int64_t> factors = st.metaInts("hierarchies"),
                       windows = st.metaInts("window_sizes"),
                       dims = st.metaInts("hier_d_model"),
                       heads = st.metaInts("hier_n_heads"),
                       headDims = st.metaInts("hier_head_dim"),
                       ffns = st.metaInts("hier_ffn_dim");
  const size_t K = factors.size();
  for (const auto &[v, key] :
       {std::pair(&windows, "window_sizes"), std::pair(&dims, "hier_d_model"),
        std::pair(&heads, "hier_n_heads"),
        std::pair(&headDims, "hier_head_dim"),
        std::pair(&ffns, "hier_ffn_dim")})
    if (v->size() != K)
      throw Error("weights '" + path + "': metadata '" + key + "' has " +
                  std::to_string(v->size()) + " entries for " +
                  std::to_string(K) + " hierarchies");
  if (factors[0] != 1 || dims[0] != cfg.dModel || heads[0] != fine.heads ||
      headDims[0] != fine.headDim || ffns[0] != cfg.ffn)
    throw Error("weights '" + path +
                "': the first hierarchy must be the "
                "model's own (factor 1, d_model, n_heads, head_dim, ffn_dim)");
  const int64_t d0 = cfg.dModel;
  for (size_t h = 1; h < K; ++h) {
    if (factors[h] <= factors[h - 1] || factors[h] > 4096)
      throw Error("weights '" + path + "': hierarchies must grow, got " +
                  std::to_string(factors[h - 1]) + " then " +
                  std::to_string(factors[h]));
    Level level;
    level.factor = factors[h];
    Stack &s = level.stack;
    s.prefix = "h" + std::to_string(h) + ".";
    s.layers = cfg.layers;
    s.d = dims[h];
    s.heads = s.kvHeads = heads[h];
    s.headDim = headDims[h];
    s.ffn = ffns[h];
    s.ropeTheta = cfg.ropeTheta;
    s.capacity = maxTokens / level.factor + 1;
    checkShape(s, path);
    levels.push_back(std::move(level));
  }
  pad = factors.back() - 1;
  history = allocOwned(size_t((pad + maxTokens) * d0));
  std::vector<float> zeros(size_t(pad * d0), 0.0f);
  ops.upload(history, zeros.data(), zeros.size());
  attentionText = "hierarchies 1: " + fine.pattern;
  for (size_t h = 1; h < K; ++h) {
    Level &level = levels[h - 1];
    Stack &s = level.stack;
    loadStack(st, s, windowPattern(windows[h]), "", run.plainDecode);
    level.compress =
        uploadMatrix(st, s.prefix + "compress", s.d, level.factor * d0);
    for (int64_t l = 0; l < cfg.layers; ++l) {
      level.merge.push_back(
          uploadMatrix(st, s.prefix + "merge." + std::to_string(l), d0, s.d));
      level.out.push_back(allocOwned(size_t(s.capacity * s.d)));
    }
    attentionText += ", " + std::to_string(level.factor) + ": " + s.pattern;
  }
}

void Hierarchical::reserveLayerScratch(int64_t n) {
  reserveStack(fine, n);
  for (Level &level : levels) {
    // The coarse tokens n fine rows complete: at most ceil(n / c).
    const int64_t m = (n + level.factor - 1) / level.factor;
    reserveStack(level.stack, m);
    grow(level.y, size_t(m * level.stack.d));
    grow(level.gather, size_t(n * level.stack.d));
  }
}

void Hierarchical::runLevel(Level &level, int64_t n) {
  // The tokens i with i c in [pos, pos + n): their spans end in the chunk.
  const int64_t c = level.factor, d0 = cfg.dModel, dh = level.stack.d;
  const int64_t first = (pos + c - 1) / c, last = (pos + n + c - 1) / c;
  const int64_t m = last - first;
  if (m <= 0)
    return;
  // Token i's span, positions ic - c + 1 .. ic, is c consecutive history
  // rows: the m tokens are the rows of one [m, c d_0] matrix.
  const float *spans = history + (pad + first * c - c + 1) * d0;
  ops.matmul(spans, level.compress, level.y, m, c * d0, dh,
             /*accumulate=*/false);
  lap(profile.matmul);
  for (int64_t l = 0; l < cfg.layers; ++l) {
    block(level.stack, l, level.y, m, first);
    ops.copyRows(level.out[size_t(l)] + first * dh, dh, level.y, dh, m, dh);
    lap(profile.other);
  }
}

void Hierarchical::layer(int64_t l, int64_t n) {
  const int64_t d0 = cfg.dModel;
  if (l == 0) {
    // x holds the chunk's embeddings: keep them, then run the coarse
    // tokens the chunk completes.
    ops.copyRows(history + (pad + pos) * d0, d0, x, d0, n, d0);
    for (Level &level : levels)
      runLevel(level, n);
  }
  block(fine, l, x, n, pos);
  for (Level &level : levels) {
    const int64_t dh = level.stack.d;
    for (int64_t r = 0; r < n; ++r)
      ops.copyRows(level.gather + r * dh, dh,
                   level.out[size_t(l)] + (pos + r) / level.factor * dh, dh, 1,
                   dh);
    lap(profile.other);
    ops.matmul(level.gather, level.merge[size_t(l)], x, n, dh, d0,
               /*accumulate=*/true);
    lap(profile.matmul);
  }
}

} // namespace

std::unique_ptr<Model> attnmodel::createSoftmaxModel(const SafeTensors &st,
                                                     Ops &ops,
                                                     attn_context *ctx,
                                                     const RunOptions &run) {
  if (st.meta("architecture") == "hierarchical")
    return std::make_unique<Hierarchical>(st, ops, ctx, run);
  if (st.meta("architecture") == "landmark")
    return std::make_unique<LandmarkLlama>(st, ops, ctx, run,
                                           st.metaInt("landmark_block"));
  return std::make_unique<Llama>(st, ops, ctx, run);
}
