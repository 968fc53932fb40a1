//===- Model.cpp - a Llama-architecture model over the attn runtime -------===//
// Loads the weights convert_gguf.py writes, and runs the forward pass: per
// layer RMSNorm, one fused QKV matmul, RoPE, the KV cache append, attention
// through attn_launch (causal; bottom-right aligned, so a decode step of one
// query sees every cached key), the output projection, RMSNorm and a SwiGLU
// MLP with fused gate/up matmul; then the final norm and the tied output.
//===----------------------------------------------------------------------===//
#include "tools/attn-model/Model.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>

using namespace attnmodel;

namespace {

// Split-KV decoding: a decode step's keys are cut into up to kMaxSplits
// parts of at least kSplitKeys, run as the batch of one launch, and merged.
constexpr int64_t kMaxSplits = 16, kSplitKeys = 256;

void check(attn_status s, const std::string &what) {
  if (s != ATTN_OK)
    throw Error(what + ": " + attn_status_name(s) + ": " + attn_last_error());
}

/// A [B=1, heads, rows, dim] view of rows `rowStride` apart (heads `dim`
/// apart inside a row), or of a cache laid out [heads, capacity, dim].
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

} // namespace

Llama::Llama(const std::string &weightsPath, Ops &ops, attn_context *ctx,
             const std::string &pattern, int64_t maxTokens, bool plainDecode)
    : ops(ops), ctx(ctx), plainDecode(plainDecode), maxTokens(maxTokens) {
  // A constructor that throws runs no destructor: give back what was
  // allocated so far (an engine may catch the error and go on).
  try {
    load(weightsPath, pattern);
  } catch (...) {
    release();
    throw;
  }
}

void Llama::load(const std::string &weightsPath, const std::string &pattern) {
  SafeTensors st(weightsPath);
  if (st.meta("architecture") != "llama")
    throw Error("weights '" + weightsPath + "' are a '" +
                st.meta("architecture") + "' model; attn-model runs llama");
  if (st.meta("rope") != "rotate_half")
    throw Error("weights '" + weightsPath + "' have RoPE order '" +
                st.meta("rope") + "'; attn-model expects rotate_half");
  cfg.layers = st.metaInt("n_layers");
  cfg.dModel = st.metaInt("d_model");
  cfg.heads = st.metaInt("n_heads");
  cfg.kvHeads = st.metaInt("n_kv_heads");
  cfg.headDim = st.metaInt("head_dim");
  cfg.ffn = st.metaInt("ffn_dim");
  cfg.vocab = st.metaInt("vocab_size");
  cfg.context = st.metaInt("context_length");
  cfg.ropeTheta = st.metaFloat("rope_theta");
  cfg.rmsEps = st.metaFloat("rms_eps");
  cfg.bos = st.metaInt("bos_token_id");
  cfg.eos = st.metaInt("eos_token_id");
  cfg.tied = !st.has("output");
  auto positive = [&](int64_t v, const char *what) {
    if (v <= 0 || v > (int64_t(1) << 24))
      throw Error("weights '" + weightsPath + "': " + what + " = " +
                  std::to_string(v) + " is out of range");
  };
  positive(cfg.layers, "n_layers");
  positive(cfg.dModel, "d_model");
  positive(cfg.heads, "n_heads");
  positive(cfg.kvHeads, "n_kv_heads");
  positive(cfg.headDim, "head_dim");
  positive(cfg.ffn, "ffn_dim");
  positive(cfg.vocab, "vocab_size");
  positive(cfg.context, "context_length");
  if (cfg.heads % cfg.kvHeads || cfg.headDim % 2)
    throw Error("weights '" + weightsPath + "': " +
                std::to_string(cfg.heads) + " query heads over " +
                std::to_string(cfg.kvHeads) + " kv heads of dim " +
                std::to_string(cfg.headDim) + " is not a GQA shape");
  if (!(cfg.rmsEps > 0) || !(cfg.ropeTheta > 1))
    throw Error("weights '" + weightsPath + "': bad rms_eps or rope_theta");
  if (maxTokens <= 0)
    throw Error("the KV cache must hold at least one token");

  const int64_t d = cfg.dModel, qd = cfg.heads * cfg.headDim,
                kvd = cfg.kvHeads * cfg.headDim, f = cfg.ffn;
  embed = upload(st, "embed", {cfg.vocab, d});
  outNorm = upload(st, "output_norm", {d});
  output = cfg.tied ? embed : upload(st, "output", {cfg.vocab, d});
  // Q, K and V weights stacked into one [qd + 2 kvd, d] matrix (one GEMM),
  // gate and up into one [2f, d].
  std::vector<float> host;
  for (int64_t l = 0; l < cfg.layers; ++l) {
    std::string p = "layers." + std::to_string(l) + ".";
    Layer L;
    L.attnNorm = upload(st, p + "attn_norm", {d});
    L.ffnNorm = upload(st, p + "ffn_norm", {d});
    L.wo = upload(st, p + "wo", {d, qd});
    L.wdown = upload(st, p + "w_down", {d, f});
    host.resize(size_t((qd + 2 * kvd) * d));
    st.copy(p + "wq", {qd, d}, host.data());
    st.copy(p + "wk", {kvd, d}, host.data() + qd * d);
    st.copy(p + "wv", {kvd, d}, host.data() + (qd + kvd) * d);
    L.wqkv = ops.alloc(host.size());
    owned.push_back(L.wqkv);
    ops.upload(L.wqkv, host.data(), host.size());
    host.resize(size_t(2 * f * d));
    st.copy(p + "w_gate", {f, d}, host.data());
    st.copy(p + "w_up", {f, d}, host.data() + f * d);
    L.wgu = ops.alloc(host.size());
    owned.push_back(L.wgu);
    ops.upload(L.wgu, host.data(), host.size());
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
  ropeCos = ops.alloc(c.size());
  ropeSin = ops.alloc(s.size());
  owned.push_back(ropeCos);
  owned.push_back(ropeSin);
  ops.upload(ropeCos, c.data(), c.size());
  ops.upload(ropeSin, s.data(), s.size());

  for (int64_t l = 0; l < cfg.layers; ++l) {
    cacheK.push_back(ops.alloc(size_t(kvd * maxTokens)));
    cacheV.push_back(ops.alloc(size_t(kvd * maxTokens)));
    owned.push_back(cacheK.back());
    owned.push_back(cacheV.back());
  }

  auto t0 = std::chrono::steady_clock::now();
  check(attn_get_kernel(ctx, pattern.c_str(), ATTN_F32, cfg.headDim,
                        cfg.headDim, /*scale=default*/ 0.0f, /*with_lse=*/0,
                        &kernel),
        "attention kernel '" + pattern + "'");
  // Decode steps have a fast path where the keys one query sees are a
  // contiguous range: all of them (causal), or the last W + 1 (a sliding
  // window of W, SPEC: 0 <= p - j <= W).
  bool causal = pattern == "#attn.causal";
  long long w = -1;
  char tail = 0;
  if (std::sscanf(pattern.c_str(), "#attn.sliding_window<window = %lld>%c", &w,
                  &tail) == 1 &&
      w >= 0)
    decodeWindow = w;
  if ((causal || decodeWindow >= 0) && !plainDecode) {
    check(attn_get_kernel(ctx, "#attn.full", ATTN_F32, cfg.headDim,
                          cfg.headDim, 0.0f, /*with_lse=*/1, &decodeKernel),
          "attention kernel '#attn.full'");
    partO = ops.alloc(size_t((kMaxSplits + 1) * cfg.heads * cfg.headDim));
    partL = ops.alloc(size_t((kMaxSplits + 1) * cfg.heads));
    owned.push_back(partO);
    owned.push_back(partL);
  }
  kernelTime = std::chrono::duration<double>(
                   std::chrono::steady_clock::now() - t0)
                   .count();
}

Llama::~Llama() { release(); }

void Llama::release() {
  if (kernel)
    attn_kernel_release(kernel);
  if (decodeKernel)
    attn_kernel_release(decodeKernel);
  for (float *p : owned)
    ops.free(p);
  for (float *p : {x, h, qkv, att, gu, act, logitsDev})
    if (p)
      ops.free(p);
  kernel = decodeKernel = nullptr;
  owned.clear();
  x = h = qkv = att = gu = act = logitsDev = nullptr;
}

float *Llama::upload(const SafeTensors &st, const std::string &name,
                     const std::vector<int64_t> &shape) {
  size_t count = 1;
  for (int64_t s : shape)
    count *= size_t(s);
  std::vector<float> host(count);
  st.copy(name, shape, host.data());
  float *p = ops.alloc(count);
  owned.push_back(p);
  ops.upload(p, host.data(), count);
  return p;
}

void Llama::reserveScratch(int64_t n) {
  if (n <= scratchRows)
    return;
  for (float *p : {x, h, qkv, att, gu, act})
    if (p)
      ops.free(p);
  const int64_t d = cfg.dModel, qd = cfg.heads * cfg.headDim,
                kvd = cfg.kvHeads * cfg.headDim;
  x = ops.alloc(size_t(n * d));
  h = ops.alloc(size_t(n * d));
  qkv = ops.alloc(size_t(n * (qd + 2 * kvd)));
  att = ops.alloc(size_t(n * qd));
  gu = ops.alloc(size_t(n * 2 * cfg.ffn));
  act = ops.alloc(size_t(n * cfg.ffn));
  scratchRows = n;
}

void Llama::attention(int layer, const float *qkvRows, float *out, int64_t n) {
  const int64_t D = cfg.headDim, qd = cfg.heads * D,
                width = qd + 2 * cfg.kvHeads * D;
  if (n == 1 && decodeKernel) {
    // One decode step: the query at the last position p = pos sees the keys
    // [first, p], all of them (causal) or the window's W + 1, with no mask:
    // a full attention over that range of the cache. Two things make it
    // fast on kernels built for long query blocks:
    //  - the G = H / Hk query heads of a KV head become G rows of one full
    //    attention over that head's keys ([.., Hk, G, D] views, heads G*D
    //    apart), so a problem fills G of the CPU kernel's query lanes;
    //  - the keys are split into S parts of c (FlashDecoding): the parts are
    //    the batch dimension of one launch (Q repeated by a batch stride of
    //    0, K and V as [S, Hk, c, D] views of the cache, rows c*D apart),
    //    so S*Hk problems spread over the threads; the nk - S*c left over
    //    run as one more part, and the parts merge by log-sum-exp.
    const int64_t first =
        decodeWindow >= 0 ? std::max<int64_t>(0, pos - decodeWindow) : 0;
    const int64_t nk = pos + 1 - first;
    const float *keys = cacheK[layer] + first * D,
                *values = cacheV[layer] + first * D;
    const int64_t G = cfg.heads / cfg.kvHeads;
    const int64_t S = std::max<int64_t>(1, std::min(kMaxSplits, nk / kSplitKeys));
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
    return;
  }
  const int64_t nk = pos + n;
  attn_tensor args[4] = {
      view(qkvRows, cfg.heads, n, D, D, width),
      view(cacheK[layer], cfg.kvHeads, nk, D, maxTokens * D, D),
      view(cacheV[layer], cfg.kvHeads, nk, D, maxTokens * D, D),
      view(out, cfg.heads, n, D, D, qd)};
  check(attn_launch(ctx, kernel, args, 4), "attention launch");
}

void Llama::forward(const int32_t *ids, int64_t n, bool allLogits,
                    std::vector<float> &logits) {
  if (n <= 0)
    throw Error("no tokens to run");
  if (pos + n > maxTokens)
    throw Error(std::to_string(pos + n) + " tokens exceed the KV cache of " +
                std::to_string(maxTokens));
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= cfg.vocab)
      throw Error("token id " + std::to_string(ids[i]) +
                  " is outside the vocabulary [0, " +
                  std::to_string(cfg.vocab) + ")");
  reserveScratch(n);
  const int64_t d = cfg.dModel, D = cfg.headDim, qd = cfg.heads * D,
                kvd = cfg.kvHeads * D, width = qd + 2 * kvd, f = cfg.ffn;
  const float eps = float(cfg.rmsEps);
  using Clock = std::chrono::steady_clock;
  Clock::time_point mark = Clock::now();
  // Adds the time since the last mark to `bucket` (when profiling).
  auto lap = [&](double &bucket) {
    if (!profile.enabled)
      return;
    Clock::time_point now = Clock::now();
    bucket += std::chrono::duration<double>(now - mark).count();
    mark = now;
  };
  ops.embed(embed, ids, n, d, x);
  for (int64_t l = 0; l < cfg.layers; ++l) {
    const Layer &L = layerWeights[size_t(l)];
    ops.rmsNorm(x, L.attnNorm, h, n, d, eps);
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
    attention(int(l), qkv, att, n);
    lap(profile.attention);
    ops.matmul(att, L.wo, x, n, qd, d, /*accumulate=*/true);
    lap(profile.matmul);
    ops.rmsNorm(x, L.ffnNorm, h, n, d, eps);
    lap(profile.other);
    ops.matmul(h, L.wgu, gu, n, d, 2 * f, /*accumulate=*/false);
    lap(profile.matmul);
    ops.swiglu(gu, act, n, f);
    lap(profile.other);
    ops.matmul(act, L.wdown, x, n, f, d, /*accumulate=*/true);
    lap(profile.matmul);
  }
  int64_t rows = allLogits ? n : 1;
  const float *last = x + (n - rows) * d;
  ops.rmsNorm(last, outNorm, h, rows, d, eps);
  if (rows > logitsRows) {
    if (logitsDev)
      ops.free(logitsDev);
    logitsDev = ops.alloc(size_t(rows * cfg.vocab));
    logitsRows = rows;
  }
  lap(profile.other);
  ops.matmul(h, output, logitsDev, rows, d, cfg.vocab, /*accumulate=*/false);
  logits.resize(size_t(rows * cfg.vocab));
  ops.download(logits.data(), logitsDev, logits.size());
  lap(profile.logits);
  pos += n;
}
