//===- TransNormer.cpp - TransNormerLLM: lightning attention --------------===//
// TransNormerLLM's blocks (Qin et al. 2023), per layer:
//   token mixer (gated linear attention):
//     h = SRMSNorm(x); q, k, v, u = h W_q, h W_k, h W_v, h W_u (one GEMM);
//     q, k, u = swish(q), swish(k), swish(u);
//     o = lightning(q, k, v) with the layer's decays (below);
//     x += (SRMSNorm(o) * u) W_o       (SRMSNorm over all heads together)
//   channel mixer (simple GLU, no activation):
//     h = SRMSNorm(x); x += ((h W_1) * (h W_2)) W_3
// then SRMSNorm and the output matrix. SRMSNorm is RMSNorm without a weight.
// No positional encoding: the decay orders the tokens.
//
// Lightning attention (SPEC): o_t = sum_{j <= t} lambda^(t - j) <q_t, k_j>
// v_j per head, lambda_h = e^(-s_h), scale 1; s_h the ALiBi slopes of H
// heads times (1 - l / (L - 1) + 1e-5) in layer l of L (1 + 1e-5 when
// L = 1). It runs through attn_get_lightning_kernel. The first prefill
// returns each layer's state KV = sum_j lambda^(t - j) k_j^T v_j
// ([H, D, Dv], f32); every later call (a prefill chunk, or a decode step of
// one token: the recurrent form) starts from it and returns the next. The
// runtime does not let an output overlap an input, so each layer keeps two
// state buffers and alternates.
//===----------------------------------------------------------------------===//
#include "tools/attn-model/Architectures.h"

#include <cmath>

using namespace attnmodel;

namespace {

/// The ALiBi slopes of `heads` heads (SPEC's lightning defaults).
std::vector<double> alibiSlopes(int64_t heads) {
  auto powerOfTwo = [](int64_t n) {
    std::vector<double> s;
    for (int64_t i = 0; i < n; ++i)
      s.push_back(std::pow(2.0, -8.0 * double(i + 1) / double(n)));
    return s;
  };
  int64_t p = 1;
  while (p * 2 <= heads)
    p *= 2;
  std::vector<double> s = powerOfTwo(p);
  std::vector<double> more = powerOfTwo(2 * p);
  for (int64_t i = 0; int64_t(s.size()) < heads; i += 2)
    s.push_back(more[size_t(i)]);
  return s;
}

attn_tensor tensor(void *p, std::vector<int64_t> shape,
                   std::vector<int64_t> strides, attn_dtype type = ATTN_F32) {
  attn_tensor t{};
  t.data = p;
  t.dtype = type;
  t.rank = int32_t(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    t.shape[i] = shape[i];
    t.strides[i] = strides[i];
  }
  return t;
}

class TransNormer final : public Model {
public:
  TransNormer(const SafeTensors &st, Ops &ops, attn_context *ctx,
              const RunOptions &run);
  bool boundedByContext() const override { return false; }

private:
  struct Layer {
    float *wqkvu, *wo, *wgu, *wdown, *slopes;
    float *state[2]; // [H, D, Dv] each; `current` holds the last one
    int current = 0;
  };
  void layer(int64_t l, int64_t n) override;
  void reserveLayerScratch(int64_t n) override;
  void lightning(Layer &L, int64_t n);

  // The first prefill's kernel returns the state; the other continues it.
  attn_kernel *prefillKernel = nullptr, *continueKernel = nullptr;
  std::vector<Layer> layerWeights;
  float *qkvu = nullptr, *att = nullptr; // [n, 4 qd], [n, qd]
  float *gu = nullptr, *act = nullptr;   // the GLU's [n, 2f], [n, f]
  // Where attention's type is not f32: q, k, v [n, 3 qd] and o [n, qd] in
  // it.
  char *qkvA = nullptr, *attA = nullptr;
};

TransNormer::TransNormer(const SafeTensors &st, Ops &ops, attn_context *ctx,
                         const RunOptions &run)
    : Model(ops, ctx, run) {
  const std::string &path = st.path();
  if (!run.pattern.empty())
    throw Error("--pattern does not apply to '" + path +
                "': a transnormer model's attention is lightning attention");
  cfg.heads = cfg.kvHeads = st.metaInt("n_heads");
  cfg.headDim = st.metaInt("head_dim");
  if (cfg.heads <= 0 || cfg.heads > 4096 || cfg.headDim <= 0 ||
      cfg.headDim > 4096)
    throw Error("weights '" + path + "': " + std::to_string(cfg.heads) +
                " heads of " + std::to_string(cfg.headDim) +
                " is out of range");
  loadCommon(st, /*outNormWeight=*/false);
  const int64_t d = cfg.dModel, qd = cfg.heads * cfg.headDim, f = cfg.ffn,
                H = cfg.heads, D = cfg.headDim;
  std::vector<double> alibi = alibiSlopes(H);
  for (int64_t l = 0; l < cfg.layers; ++l) {
    std::string p = "layers." + std::to_string(l) + ".";
    Layer L;
    L.wqkvu = uploadStacked(st, {p + "wq", p + "wk", p + "wv", p + "wu"},
                            {qd, qd, qd, qd}, d);
    L.wo = uploadMatrix(st, p + "wo", d, qd);
    L.wgu = uploadStacked(st, {p + "w1", p + "w2"}, {f, f}, d);
    L.wdown = uploadMatrix(st, p + "w3", d, f);
    double decay = cfg.layers > 1
                       ? 1 - double(l) / double(cfg.layers - 1) + 1e-5
                       : 1 + 1e-5;
    std::vector<float> s(static_cast<size_t>(H));
    for (int64_t i = 0; i < H; ++i)
      s[size_t(i)] = float(alibi[size_t(i)] * decay);
    L.slopes = allocOwned(s.size());
    ops.upload(L.slopes, s.data(), s.size());
    for (float *&state : L.state)
      state = allocOwned(size_t(H * D * D));
    cacheBytes += 2 * size_t(H * D * D) * sizeof(float);
    layerWeights.push_back(L);
  }
  attentionText = "lightning (decay per layer, recurrent decode)";
  auto get = [&](int flags) { return lightningKernel(D, flags); };
  prefillKernel = get(ATTN_LIGHTNING_SLOPES | ATTN_LIGHTNING_STATE_OUT);
  continueKernel = get(ATTN_LIGHTNING_SLOPES | ATTN_LIGHTNING_STATE_IN |
                       ATTN_LIGHTNING_STATE_OUT);
}

void TransNormer::reserveLayerScratch(int64_t n) {
  const int64_t qd = cfg.heads * cfg.headDim;
  grow(qkvu, size_t(n * 4 * qd));
  grow(att, size_t(n * qd));
  if (ops.attentionType() != ATTN_F32) {
    growAttention(qkvA, size_t(n * 3 * qd));
    growAttention(attA, size_t(n * qd));
  }
  grow(gu, size_t(n * 2 * cfg.ffn));
  grow(act, size_t(n * cfg.ffn));
}

void TransNormer::lightning(Layer &L, int64_t n) {
  const int64_t H = cfg.heads, D = cfg.headDim, qd = H * D, width = 4 * qd;
  // [1, H, n, D] views of the projections' rows (heads D apart): of qkvu
  // itself where attention takes f32, else of its copy in qkvA.
  const attn_dtype type = ops.attentionType();
  const bool f32 = type == ATTN_F32;
  char *qkv = reinterpret_cast<char *>(qkvu), *o = reinterpret_cast<char *>(att);
  int64_t stride = width;
  if (!f32) {
    ops.toAttention(qkvA, 3 * qd, qkvu, width, n, 3 * qd);
    qkv = qkvA;
    o = attA;
    stride = 3 * qd;
  }
  const int64_t esz = int64_t(attentionBytes());
  auto rows = [&](char *p, int64_t rowStride) {
    return tensor(p, {1, H, n, D}, {H * D, D, rowStride, 1}, type);
  };
  auto state = [&](float *p) {
    return tensor(p, {1, H, D, D}, {H * D * D, D * D, D, 1});
  };
  attn_tensor slopes = tensor(L.slopes, {H}, {1});
  attn_tensor q = rows(qkv, stride), k = rows(qkv + qd * esz, stride),
              v = rows(qkv + 2 * qd * esz, stride), out = rows(o, qd);
  if (pos == 0) {
    L.current = 0;
    attn_tensor args[6] = {q, k, v, out, slopes, state(L.state[0])};
    check(attn_launch(ctx, prefillKernel, args, 6), "lightning launch");
  } else {
    attn_tensor in = state(L.state[L.current]),
                next = state(L.state[1 - L.current]);
    attn_tensor args[7] = {q, k, v, out, slopes, in, next};
    check(attn_launch(ctx, continueKernel, args, 7), "lightning launch");
    L.current = 1 - L.current;
  }
  if (!f32)
    ops.fromAttention(att, qd, attA, qd, n, qd);
}

void TransNormer::layer(int64_t l, int64_t n) {
  Layer &L = layerWeights[size_t(l)];
  const int64_t d = cfg.dModel, qd = cfg.heads * cfg.headDim, width = 4 * qd;
  const float eps = float(cfg.rmsEps);
  ops.rmsNorm(x, nullptr, h, n, d, eps);
  lap(profile.other);
  ops.matmul(h, L.wqkvu, qkvu, n, d, width, /*accumulate=*/false);
  lap(profile.matmul);
  ops.silu(qkvu, n, 2 * qd, width);      // q, k
  ops.silu(qkvu + 3 * qd, n, qd, width); // u
  lap(profile.other);
  lightning(L, n);
  lap(profile.attention);
  ops.rmsNorm(att, nullptr, att, n, qd, eps);
  ops.mul(att, qd, qkvu + 3 * qd, width, att, qd, n, qd);
  lap(profile.other);
  ops.matmul(att, L.wo, x, n, qd, d, /*accumulate=*/true);
  lap(profile.matmul);
  gluBlock(x, d, cfg.ffn, /*norm=SRMSNorm*/ nullptr, L.wgu, L.wdown,
           Glu::Simple, n, {h, gu, act});
}

} // namespace

std::unique_ptr<Model> attnmodel::createTransNormer(const SafeTensors &st,
                                                    Ops &ops, attn_context *ctx,
                                                    const RunOptions &run) {
  return std::make_unique<TransNormer>(st, ops, ctx, run);
}
