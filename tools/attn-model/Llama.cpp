//===- Llama.cpp - softmax-attention decoders: Llama, LongNet, Landmark ---===//
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
/// `headStride` apart), e.g. of a cache laid out [heads, capacity, dim].
attn_tensor view(const float *p, int64_t heads, int64_t rows, int64_t dim,
                 int64_t headStride, int64_t rowStride) {
  attn_tensor t{};
  t.data = const_cast<float *>(p);
  t.dtype = ATTN_F32;
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

class Llama : public Model {
public:
  Llama(const SafeTensors &st, Ops &ops, attn_context *ctx,
        const RunOptions &run);
  bool boundedByContext() const override {
    return plan.kind == DecodePlan::Contiguous && plan.window < 0 &&
           plan.block < 0;
  }

protected:
  // Landmark LLaMA: the kernel of decode steps (top-k retrieval), used
  // instead of `kernel` while `retrieving`.
  attn_kernel *retrieveKernel = nullptr;
  bool retrieving = false;

private:
  struct Layer {
    float *attnNorm, *wqkv, *wo, *ffnNorm, *wgu, *wdown;
  };
  void layer(int64_t l, int64_t n) override;
  void reserveLayerScratch(int64_t n) override;
  void attention(int64_t layer, const float *qkv, float *out, int64_t n);
  void packedDecode(int64_t layer, const float *qkv, float *out);
  void dilatedRow(int64_t layer, const float *qkv, float *out, int64_t p);

  attn_kernel *kernel = nullptr;
  // A full attention with its log-sum-exp, for the decode paths; null when
  // decode steps run on the pattern's own kernel.
  attn_kernel *decodeKernel = nullptr;
  DecodePlan plan;
  float *partO = nullptr, *partL = nullptr; // decode parts, then merged
  std::vector<Layer> layerWeights;
  float *ropeCos = nullptr, *ropeSin = nullptr;
  // KV cache: per layer [kvHeads, maxTokens, headDim] for K, then V.
  std::vector<float *> cacheK, cacheV;
  float *qkv = nullptr, *att = nullptr; // [n, qd + 2 kvd], [n, qd]
  bool withLse = false;
  float *lse = nullptr; // [H, n] when withLse
};

Llama::Llama(const SafeTensors &st, Ops &ops, attn_context *ctx,
             const RunOptions &run)
    : Model(ops, ctx, run) {
  const std::string &path = st.path();
  if (st.meta("rope") != "rotate_half")
    throw Error("weights '" + path + "' have RoPE order '" + st.meta("rope") +
                "'; attn-model expects rotate_half");
  cfg.heads = st.metaInt("n_heads");
  cfg.kvHeads = st.metaInt("n_kv_heads");
  cfg.headDim = st.metaInt("head_dim");
  cfg.ropeTheta = st.metaFloat("rope_theta");
  for (auto [v, what] : {std::pair(cfg.heads, "n_heads"),
                         std::pair(cfg.kvHeads, "n_kv_heads"),
                         std::pair(cfg.headDim, "head_dim")})
    if (v <= 0 || v > (int64_t(1) << 24))
      throw Error("weights '" + path + "': " + what + " = " +
                  std::to_string(v) + " is out of range");
  if (cfg.heads % cfg.kvHeads || cfg.headDim % 2)
    throw Error("weights '" + path + "': " + std::to_string(cfg.heads) +
                " query heads over " + std::to_string(cfg.kvHeads) +
                " kv heads of dim " + std::to_string(cfg.headDim) +
                " is not a GQA shape");
  if (!(cfg.ropeTheta > 1))
    throw Error("weights '" + path + "': bad rms_eps or rope_theta");
  loadCommon(st, /*outNormWeight=*/true);

  // The pattern: --pattern, else the model's own.
  std::string pattern = run.pattern;
  const std::string &arch = st.meta("architecture");
  std::string retrieval;
  if (arch == "landmark") {
    if (!pattern.empty())
      throw Error("--pattern does not apply to '" + path +
                  "': a landmark model's stream holds landmark tokens for "
                  "landmark attention");
    int64_t L = st.metaInt("landmark_block"), k = st.metaInt("landmark_topk");
    pattern = "#attn.landmark<block = " + std::to_string(L) + ">";
    retrieval = "#attn.landmark<block = " + std::to_string(L) +
                ", topk = " + std::to_string(k) + ">";
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

  const int64_t d = cfg.dModel, qd = cfg.heads * cfg.headDim,
                kvd = cfg.kvHeads * cfg.headDim, f = cfg.ffn;
  // Q, K and V weights stacked into one [qd + 2 kvd, d] matrix (one GEMM),
  // gate and up into one [2f, d].
  for (int64_t l = 0; l < cfg.layers; ++l) {
    std::string p = "layers." + std::to_string(l) + ".";
    Layer L;
    L.attnNorm = upload(st, p + "attn_norm", {d});
    L.ffnNorm = upload(st, p + "ffn_norm", {d});
    L.wo = upload(st, p + "wo", {d, qd});
    L.wdown = upload(st, p + "w_down", {d, f});
    L.wqkv = uploadStacked(st, {p + "wq", p + "wk", p + "wv"}, {qd, kvd, kvd},
                           d);
    L.wgu = uploadStacked(st, {p + "w_gate", p + "w_up"}, {f, f}, d);
    layerWeights.push_back(L);
  }

  // RoPE tables for every cache position, in double then rounded.
  const int64_t half = cfg.headDim / 2;
  std::vector<float> c(size_t(maxTokens * half)), s(c.size());
  for (int64_t t = 0; t < maxTokens; ++t)
    for (int64_t j = 0; j < half; ++j) {
      double a = double(t) * std::pow(cfg.ropeTheta, -2.0 * double(j) /
                                                         double(cfg.headDim));
      c[size_t(t * half + j)] = float(std::cos(a));
      s[size_t(t * half + j)] = float(std::sin(a));
    }
  ropeCos = allocOwned(c.size());
  ropeSin = allocOwned(s.size());
  ops.upload(ropeCos, c.data(), c.size());
  ops.upload(ropeSin, s.data(), s.size());
  for (int64_t l = 0; l < cfg.layers; ++l) {
    cacheK.push_back(allocOwned(size_t(kvd * maxTokens)));
    cacheV.push_back(allocOwned(size_t(kvd * maxTokens)));
  }

  plan = planFor(pattern);
  // A dilated kernel merges its patterns through the log-sum-exp, so it
  // takes one (the runner does not read it).
  withLse = plan.kind == DecodePlan::Dilated;
  kernel = getKernel("attention kernel '" + pattern + "'", [&](attn_kernel **k) {
    return attn_get_kernel(ctx, pattern.c_str(), ATTN_F32, cfg.headDim,
                           cfg.headDim, /*scale=default*/ 0.0f, withLse, k);
  });
  if (!retrieval.empty())
    retrieveKernel =
        getKernel("attention kernel '" + retrieval + "'", [&](attn_kernel **k) {
          return attn_get_kernel(ctx, retrieval.c_str(), ATTN_F32, cfg.headDim,
                                 cfg.headDim, 0.0f, /*with_lse=*/0, k);
        });
  if (plan.kind == DecodePlan::Dilated && !plan.causal)
    throw Error("'" + pattern + "' is not causal: a decoder's positions must "
                "not see later ones");
  bool packed = plan.kind == DecodePlan::Contiguous && !run.plainDecode;
  if (packed || plan.kind == DecodePlan::Dilated) {
    decodeKernel = getKernel("attention kernel '#attn.full'", [&](attn_kernel **k) {
      return attn_get_kernel(ctx, "#attn.full", ATTN_F32, cfg.headDim,
                             cfg.headDim, 0.0f, /*with_lse=*/1, k);
    });
    int64_t parts = packed ? kMaxSplits + 1 : int64_t(plan.segments.size());
    partO = allocOwned(size_t(parts * cfg.heads * cfg.headDim));
    partL = allocOwned(size_t(parts * cfg.heads));
  }
}

void Llama::reserveLayerScratch(int64_t n) {
  const int64_t qd = cfg.heads * cfg.headDim, kvd = cfg.kvHeads * cfg.headDim;
  grow(qkv, size_t(n * (qd + 2 * kvd)));
  grow(att, size_t(n * qd));
  if (withLse)
    grow(lse, size_t(n * cfg.heads));
}

void Llama::packedDecode(int64_t layer, const float *qkvRows, float *out) {
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
  const int64_t D = cfg.headDim;
  const int64_t first = plan.first(pos);
  const int64_t nk = pos + 1 - first;
  const float *keys = cacheK[size_t(layer)] + first * D,
              *values = cacheV[size_t(layer)] + first * D;
  const int64_t G = cfg.heads / cfg.kvHeads;
  const int64_t S =
      std::max<int64_t>(1, std::min(kMaxSplits, nk / kSplitKeys));
  const int64_t c = nk / S, rest = nk - S * c;
  auto lse = [&](float *p, int64_t parts) {
    attn_tensor t{};
    t.data = p;
    t.dtype = ATTN_F32;
    t.rank = 3;
    int64_t shape[3] = {parts, cfg.kvHeads, G};
    int64_t strides[3] = {cfg.heads, G, 1};
    for (int i = 0; i < 3; ++i) {
      t.shape[i] = shape[i];
      t.strides[i] = strides[i];
    }
    return t;
  };
  attn_tensor q = view(qkvRows, cfg.kvHeads, G, D, G * D, D);
  q.shape[0] = S;
  q.strides[0] = 0;
  attn_tensor ks = view(keys, cfg.kvHeads, c, D, maxTokens * D, D),
              vs = view(values, cfg.kvHeads, c, D, maxTokens * D, D);
  ks.shape[0] = vs.shape[0] = S;
  ks.strides[0] = vs.strides[0] = c * D;
  attn_tensor o = view(partO, cfg.kvHeads, G, D, G * D, D);
  o.shape[0] = S;
  o.strides[0] = cfg.heads * D;
  attn_tensor args[5] = {q, ks, vs, o, lse(partL, S)};
  check(attn_launch(ctx, decodeKernel, args, 5), "attention launch");
  if (rest > 0) {
    attn_tensor tail[5] = {
        view(qkvRows, cfg.kvHeads, G, D, G * D, D),
        view(keys + S * c * D, cfg.kvHeads, rest, D, maxTokens * D, D),
        view(values + S * c * D, cfg.kvHeads, rest, D, maxTokens * D, D),
        view(partO + S * cfg.heads * D, cfg.kvHeads, G, D, G * D, D),
        lse(partL + S * cfg.heads, 1)};
    check(attn_launch(ctx, decodeKernel, tail, 5), "attention launch");
  }
  ops.mergePartials(partO, partL, S + (rest > 0), cfg.heads, D, out);
}

void Llama::dilatedRow(int64_t layer, const float *qRow, float *out,
                       int64_t p) {
  // The query at position p, head h: pattern k selects it when its local
  // index in its segment is o_k(h) mod r_k; it then sees the keys at
  // start + o_k(h) + r_k t up to p, the rows of a strided view of the
  // cache. Each such part is a full attention with its log-sum-exp; head
  // h's parts lie together in partO / partL and merge into its output
  // (no part: SPEC's empty row, zeros).
  const int64_t D = cfg.headDim, H = cfg.heads, G = H / cfg.kvHeads;
  const int64_t K = int64_t(plan.segments.size());
  for (int64_t hd = 0; hd < H; ++hd) {
    int64_t parts = 0;
    for (int64_t k = 0; k < K; ++k) {
      const int64_t w = plan.segments[size_t(k)], r = plan.rates[size_t(k)];
      const int64_t start = p / w * w, off = plan.offset(size_t(k), hd, H);
      if ((p - start) % r != off)
        continue;
      const int64_t count = (p - start - off) / r + 1;
      const int64_t at = (hd / G) * maxTokens + start + off;
      float *o = partO + (hd * K + parts) * D;
      attn_tensor args[5] = {
          view(qRow + hd * D, 1, 1, D, D, D),
          view(cacheK[size_t(layer)] + at * D, 1, count, D, D, r * D),
          view(cacheV[size_t(layer)] + at * D, 1, count, D, D, r * D),
          view(o, 1, 1, D, D, D), scalarLse(partL + hd * K + parts)};
      check(attn_launch(ctx, decodeKernel, args, 5), "attention launch");
      ++parts;
    }
    ops.mergePartials(partO + hd * K * D, partL + hd * K, parts, 1, D,
                      out + hd * D);
  }
}

void Llama::attention(int64_t layer, const float *qkvRows, float *out,
                      int64_t n) {
  const int64_t D = cfg.headDim, qd = cfg.heads * D,
                width = qd + 2 * cfg.kvHeads * D;
  if (n == 1 && decodeKernel && plan.kind == DecodePlan::Contiguous)
    return packedDecode(layer, qkvRows, out);
  if (pos > 0 && plan.kind == DecodePlan::Dilated) {
    // The dilated kernel runs whole sequences (Nq = Nk); rows after the
    // first prefill are decoded one by one.
    for (int64_t i = 0; i < n; ++i)
      dilatedRow(layer, qkvRows + i * width, out + i * qd, pos + i);
    return;
  }
  const int64_t nk = pos + n;
  attn_tensor args[5] = {
      view(qkvRows, cfg.heads, n, D, D, width),
      view(cacheK[size_t(layer)], cfg.kvHeads, nk, D, maxTokens * D, D),
      view(cacheV[size_t(layer)], cfg.kvHeads, nk, D, maxTokens * D, D),
      view(out, cfg.heads, n, D, D, qd), attn_tensor{}};
  if (withLse) {
    attn_tensor &l = args[4];
    l.data = lse;
    l.dtype = ATTN_F32;
    l.rank = 3;
    int64_t shape[3] = {1, cfg.heads, n}, strides[3] = {cfg.heads * n, n, 1};
    for (int i = 0; i < 3; ++i) {
      l.shape[i] = shape[i];
      l.strides[i] = strides[i];
    }
  }
  check(attn_launch(ctx, retrieving ? retrieveKernel : kernel, args,
                    withLse ? 5 : 4),
        "attention launch");
}

void Llama::layer(int64_t l, int64_t n) {
  const Layer &L = layerWeights[size_t(l)];
  const int64_t d = cfg.dModel, D = cfg.headDim, qd = cfg.heads * D,
                kvd = cfg.kvHeads * D, width = qd + 2 * kvd;
  ops.rmsNorm(x, L.attnNorm, h, n, d, float(cfg.rmsEps));
  lap(profile.other);
  ops.matmul(h, L.wqkv, qkv, n, d, width, /*accumulate=*/false);
  lap(profile.matmul);
  ops.rope(qkv, n, cfg.heads, D, width, pos, ropeCos, ropeSin);
  ops.rope(qkv + qd, n, cfg.kvHeads, D, width, pos, ropeCos, ropeSin);
  for (int64_t g = 0; g < cfg.kvHeads; ++g) {
    ops.copyRows(cacheK[size_t(l)] + (g * maxTokens + pos) * D, D,
                 qkv + qd + g * D, width, n, D);
    ops.copyRows(cacheV[size_t(l)] + (g * maxTokens + pos) * D, D,
                 qkv + qd + kvd + g * D, width, n, D);
  }
  lap(profile.other);
  attention(l, qkv, att, n);
  lap(profile.attention);
  ops.matmul(att, L.wo, x, n, qd, d, /*accumulate=*/true);
  lap(profile.matmul);
  gluBlock(L.ffnNorm, L.wgu, L.wdown, Glu::SwiGLU, n);
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

} // namespace

std::unique_ptr<Model> attnmodel::createSoftmaxModel(const SafeTensors &st,
                                                     Ops &ops,
                                                     attn_context *ctx,
                                                     const RunOptions &run) {
  if (st.meta("architecture") == "landmark")
    return std::make_unique<LandmarkLlama>(st, ops, ctx, run,
                                           st.metaInt("landmark_block"));
  return std::make_unique<Llama>(st, ops, ctx, run);
}
