//===- Model.cpp - what every architecture shares -------------------------===//
// The forward pass's frame (token checks, the embedding gather, one block per
// layer, the final norm and the output matrix), the weights' common
// metadata, the GLU channel mixer, device memory and kernels the model owns,
// the profile, and loadModel(), which picks the architecture by the weights'
// metadata.
//===----------------------------------------------------------------------===//
#include "tools/attn-model/Model.h"
#include "tools/attn-model/Architectures.h"

#include <algorithm>
#include <cstdio>

using namespace attnmodel;

Model::Model(Ops &ops, attn_context *ctx, const RunOptions &run)
    : ops(ops), ctx(ctx), maxTokens(run.maxTokens), kernelDir(run.kernelDir),
      recordKernels(run.recordKernels) {
  if (maxTokens <= 0)
    throw Error("the KV cache must hold at least one token");
}

Model::~Model() {
  for (attn_kernel *k : kernels)
    attn_kernel_release(k);
  for (float *p : owned)
    ops.free(p);
  for (auto &s : scratch)
    ops.free(s.first);
}

void Model::check(attn_status s, const std::string &what) {
  if (s != ATTN_OK)
    throw Error(what + ": " + attn_status_name(s) + ": " + attn_last_error());
}

attn_kernel *
Model::getKernel(const std::string &what,
                 const std::function<attn_status(attn_kernel **)> &get) {
  auto t0 = std::chrono::steady_clock::now();
  attn_kernel *k = nullptr;
  check(get(&k), what);
  kernels.push_back(k);
  kernelTime +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  return k;
}

void Model::record(const std::string &key) {
  if (recordKernels.empty())
    return;
  FILE *f = std::fopen(recordKernels.c_str(), "a");
  if (!f || std::fprintf(f, "%s\n", key.c_str()) < 0 || std::fclose(f) != 0)
    throw Error("--record-kernels: cannot append to '" + recordKernels + "'");
}

attn_kernel *Model::attentionKernel(const std::string &pattern, int64_t d,
                                    bool withLse) {
  const std::string key =
      attentionKernelKey(pattern, ops.attentionType(), d, withLse);
  record(key);
  return getKernel("attention kernel '" + pattern + "'", [&](attn_kernel **k) {
    if (!kernelDir.empty())
      return loadKernel(ctx, kernelDir, key, k);
#ifdef ATTN_MODEL_JIT
    return attn_get_kernel(ctx, pattern.c_str(), ops.attentionType(), d, d,
                           /*scale=default*/ 0.0f, withLse, k);
#else
    return noJit(k);
#endif
  });
}

attn_kernel *Model::lightningKernel(int64_t d, int flags) {
  const std::string key = lightningKernelKey(ops.attentionType(), d, flags);
  record(key);
  return getKernel("lightning kernel", [&](attn_kernel **k) {
    if (!kernelDir.empty())
      return loadKernel(ctx, kernelDir, key, k);
#ifdef ATTN_MODEL_JIT
    return attn_get_lightning_kernel(ctx, ops.attentionType(), d, d,
                                     /*scale=1*/ 0.0f, flags, k);
#else
    return noJit(k);
#endif
  });
}

float *Model::uploadMatrix(const SafeTensors &st, const std::string &name,
                           int64_t rows, int64_t cols, bool logits) {
  std::vector<float> host(size_t(rows * cols));
  st.copy(name, {rows, cols}, host.data());
  float *p = ops.uploadMatrix(host.data(), rows, cols, logits);
  owned.push_back(p);
  ownedBytes += ops.matrixBytes(rows, cols, logits);
  return p;
}

float *Model::allocOwned(size_t count) {
  float *p = ops.alloc(count);
  owned.push_back(p);
  ownedBytes += count * sizeof(float);
  return p;
}

void Model::grow(float *&buffer, size_t count) {
  if (buffer) {
    scratch.erase(std::find_if(scratch.begin(), scratch.end(),
                               [&](const auto &s) { return s.first == buffer; }));
    ops.free(buffer);
    buffer = nullptr;
  }
  buffer = ops.alloc(count);
  scratch.push_back({buffer, count * sizeof(float)});
}

float *Model::upload(const SafeTensors &st, const std::string &name,
                     const std::vector<int64_t> &shape) {
  size_t count = 1;
  for (int64_t s : shape)
    count *= size_t(s);
  std::vector<float> host(count);
  st.copy(name, shape, host.data());
  float *p = allocOwned(count);
  ops.upload(p, host.data(), count);
  return p;
}

float *Model::uploadStacked(const SafeTensors &st,
                            const std::vector<std::string> &names,
                            const std::vector<int64_t> &rows, int64_t cols) {
  int64_t total = 0;
  for (int64_t r : rows)
    total += r;
  std::vector<float> host(size_t(total * cols));
  int64_t at = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    st.copy(names[i], {rows[i], cols}, host.data() + at * cols);
    at += rows[i];
  }
  float *p = ops.uploadMatrix(host.data(), total, cols);
  owned.push_back(p);
  ownedBytes += ops.matrixBytes(total, cols);
  return p;
}

void Model::loadCommon(const SafeTensors &st, bool outNormWeight) {
  const std::string &path = st.path();
  cfg.architecture = st.meta("architecture");
  cfg.layers = st.metaInt("n_layers");
  cfg.dModel = st.metaInt("d_model");
  cfg.ffn = st.metaInt("ffn_dim");
  cfg.vocab = st.metaInt("vocab_size");
  cfg.context = st.metaInt("context_length");
  cfg.rmsEps = st.metaFloat("rms_eps");
  cfg.bos = st.metaInt("bos_token_id");
  cfg.eos = st.metaInt("eos_token_id");
  cfg.tied = !st.has("output");
  auto positive = [&](int64_t v, const char *what) {
    if (v <= 0 || v > (int64_t(1) << 24))
      throw Error("weights '" + path + "': " + what + " = " +
                  std::to_string(v) + " is out of range");
  };
  positive(cfg.layers, "n_layers");
  positive(cfg.dModel, "d_model");
  positive(cfg.ffn, "ffn_dim");
  positive(cfg.vocab, "vocab_size");
  positive(cfg.context, "context_length");
  if (!(cfg.rmsEps > 0))
    throw Error("weights '" + path + "': bad rms_eps");
  const int64_t d = cfg.dModel;
  embedTable = upload(st, "embed", {cfg.vocab, d});
  if (outNormWeight)
    outNorm = upload(st, "output_norm", {d});
  // A tied output matrix is the embedding's memory where matmul reads f32
  // (the CPU); a bf16 copy where it does not (the GPU).
  if (cfg.tied && ops.f32Matrices())
    output = embedTable;
  else
    output = uploadMatrix(st, cfg.tied ? "embed" : "output", cfg.vocab, d,
                          /*logits=*/true);
}

void Model::lap(double &bucket) {
  if (!profile.enabled)
    return;
  ops.synchronize(); // a GPU's operations are asynchronous
  auto now = std::chrono::steady_clock::now();
  bucket += std::chrono::duration<double>(now - mark).count();
  mark = now;
}

void Model::reserveScratch(int64_t n) {
  if (n <= scratchRows)
    return;
  grow(x, size_t(n * cfg.dModel));
  grow(h, size_t(n * cfg.dModel));
  reserveLayerScratch(n);
  scratchRows = n;
}

void Model::gluBlock(float *x, int64_t d, int64_t f, const float *norm,
                     const float *wgu, const float *wdown, Glu kind, int64_t n,
                     const GluScratch &s) {
  ops.rmsNorm(x, norm, s.h, n, d, float(cfg.rmsEps));
  lap(profile.other);
  ops.matmul(s.h, wgu, s.gu, n, d, 2 * f, /*accumulate=*/false);
  lap(profile.matmul);
  if (kind == Glu::SwiGLU)
    ops.swiglu(s.gu, s.act, n, f);
  else
    ops.mul(s.gu, 2 * f, s.gu + f, 2 * f, s.act, f, n, f);
  lap(profile.other);
  ops.matmul(s.act, wdown, x, n, f, d, /*accumulate=*/true);
  lap(profile.matmul);
}

void Model::forward(const int32_t *ids, int64_t n, bool allLogits,
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
  const int64_t d = cfg.dModel;
  mark = std::chrono::steady_clock::now();
  ops.embed(embedTable, ids, n, d, x);
  for (int64_t l = 0; l < cfg.layers; ++l)
    layer(l, n);
  int64_t rows = allLogits ? n : 1;
  const float *last = x + (n - rows) * d;
  ops.rmsNorm(last, outNorm, h, rows, d, float(cfg.rmsEps));
  if (rows > logitsRows) {
    grow(logitsDev, size_t(rows * cfg.vocab));
    logitsRows = rows;
  }
  lap(profile.other);
  ops.matmul(h, output, logitsDev, rows, d, cfg.vocab, /*accumulate=*/false);
  logits.resize(size_t(rows * cfg.vocab));
  ops.download(logits.data(), logitsDev, logits.size());
  lap(profile.logits);
  pos += n;
}

std::unique_ptr<Model> attnmodel::loadModel(const std::string &weightsPath,
                                            Ops &ops, attn_context *ctx,
                                            const RunOptions &run) {
  SafeTensors st(weightsPath);
  const std::string &arch = st.meta("architecture");
  if (arch == "llama" || arch == "longnet" || arch == "landmark" ||
      arch == "hierarchical")
    return createSoftmaxModel(st, ops, ctx, run);
  if (arch == "transnormer")
    return createTransNormer(st, ops, ctx, run);
  throw Error("weights '" + weightsPath + "' are a '" + arch +
              "' model; attn-model runs llama, longnet, landmark, hierarchical "
              "and transnormer");
}
