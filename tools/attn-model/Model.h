//===- Model.h - a Llama-architecture model over the attn runtime -*- C++ -*-===//
// The model (its shape, weights, KV cache and forward pass) written once over
// `Ops`, one device's implementation of the non-attention operations; the
// attention of every layer goes through the runtime's C API (attn_get_kernel
// and attn_launch) on the same device. CpuOps.cpp is the CPU's Ops (OpenBLAS
// and plain loops); a CUDA Ops (cuBLAS and small kernels) plugs in the same
// way, with an attn_context on the CUDA device.
//===----------------------------------------------------------------------===//
#ifndef ATTN_TOOLS_MODEL_MODEL_H
#define ATTN_TOOLS_MODEL_MODEL_H

#include "runtime/attnrt.h"
#include "tools/attn-model/Weights.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace attnmodel {

/// The shape and constants of a Llama model (from the weights' metadata).
struct Config {
  int64_t layers = 0, dModel = 0, heads = 0, kvHeads = 0, headDim = 0;
  int64_t ffn = 0, vocab = 0, context = 0;
  double ropeTheta = 10000, rmsEps = 1e-5;
  int64_t bos = -1, eos = -1;
  bool tied = true;
};

/// One device's implementation of everything but attention. Pointers are
/// device memory from alloc(); matrices are row-major, weights [out, in].
class Ops {
public:
  virtual ~Ops() = default;
  virtual const char *name() const = 0;
  virtual float *alloc(size_t count) = 0;
  virtual void free(float *p) = 0;
  virtual void upload(float *dst, const float *src, size_t count) = 0;
  virtual void download(float *dst, const float *src, size_t count) = 0;
  /// y[n, out] = x[n, in] W^T (+ y when accumulate).
  virtual void matmul(const float *x, const float *w, float *y, int64_t n,
                      int64_t in, int64_t out, bool accumulate) = 0;
  /// y[i] = x[i] / sqrt(mean(x[i]^2) + eps) * w, per row of d.
  virtual void rmsNorm(const float *x, const float *w, float *y, int64_t n,
                       int64_t d, float eps) = 0;
  /// Rotary embedding, rotate-half order, in place: row i (stride
  /// `rowStride`) holds `heads` vectors of `dim` at position pos0 + i;
  /// `cosSin` is [positions, dim/2] cosines then the same of sines.
  virtual void rope(float *x, int64_t n, int64_t heads, int64_t dim,
                    int64_t rowStride, int64_t pos0, const float *cos,
                    const float *sin) = 0;
  /// out[n, f] = silu(gu[:, :f]) * gu[:, f:], gu being [n, 2f].
  virtual void swiglu(const float *gu, float *out, int64_t n, int64_t f) = 0;
  /// Split-KV merge (SPEC's "merging partial results"): `parts` partial
  /// results over disjoint key sets, o [parts, rows, dim] and their
  /// log-sum-exps lse [parts, rows], combined into out [rows, dim]
  /// (contiguous). A part with lse = -inf contributes nothing.
  virtual void mergePartials(const float *o, const float *lse, int64_t parts,
                             int64_t rows, int64_t dim, float *out) = 0;
  /// x[i] = table[ids[i]] for n rows of d; `ids` are host memory, checked
  /// by the caller.
  virtual void embed(const float *table, const int32_t *ids, int64_t n,
                     int64_t d, float *x) = 0;
  /// dst rows (stride dstStride) = src rows (stride srcStride), `cols` each.
  virtual void copyRows(float *dst, int64_t dstStride, const float *src,
                        int64_t srcStride, int64_t rows, int64_t cols) = 0;
};

/// The CPU's Ops: OpenBLAS sgemm/sgemv on `threads` threads, loops.
std::unique_ptr<Ops> createCpuOps(int threads);

class Llama {
public:
  /// Loads `weightsPath` onto the device of `ctx` (whose Ops are `ops`),
  /// gets the attention kernel for `pattern` (compiled on first use) and
  /// reserves a KV cache of `maxTokens`. `plainDecode` runs decode steps
  /// with the pattern's own kernel, one query row per head, instead of the
  /// packed split-KV path (for checking one against the other). Throws
  /// Error.
  Llama(const std::string &weightsPath, Ops &ops, attn_context *ctx,
        const std::string &pattern, int64_t maxTokens,
        bool plainDecode = false);
  ~Llama();
  Llama(const Llama &) = delete;
  Llama &operator=(const Llama &) = delete;

  const Config &config() const { return cfg; }
  int64_t position() const { return pos; }
  int64_t capacity() const { return maxTokens; }
  /// Seconds attn_get_kernel took (a compile, or a cache hit).
  double kernelSeconds() const { return kernelTime; }

  /// Runs `n` tokens at the next positions (appending their keys and values
  /// to the cache) and writes the logits of the last one, or of every one
  /// when `allLogits`, to `logits` ([1 or n, vocab], host). Throws Error.
  void forward(const int32_t *ids, int64_t n, bool allLogits,
               std::vector<float> &logits);
  /// Forgets the cached tokens.
  void reset() { pos = 0; }

  /// Where the time goes: seconds per kind of operation (matmul, attention,
  /// logits, other), summed over forward() calls while `enabled`. Times are
  /// host wall-clock around each call: right on the CPU, where every
  /// operation has finished when it returns (a CUDA Ops must synchronise).
  struct Profile {
    bool enabled = false;
    double matmul = 0, attention = 0, logits = 0, other = 0;
  } profile;

private:
  struct Layer {
    float *attnNorm, *wqkv, *wo, *ffnNorm, *wgu, *wdown;
  };
  void load(const std::string &weightsPath, const std::string &pattern);
  void release();
  void reserveScratch(int64_t n);
  float *upload(const SafeTensors &st, const std::string &name,
                const std::vector<int64_t> &shape);
  void attention(int layer, const float *qkv, float *out, int64_t n);

  Config cfg;
  Ops &ops;
  attn_context *ctx;
  attn_kernel *kernel = nullptr;
  // Decode steps of a causal model: one query sees every cached key, so the
  // query heads that share a KV head run as the rows of one full-attention
  // problem, split over the keys (see attention()). Null for other
  // patterns.
  attn_kernel *decodeKernel = nullptr;
  bool plainDecode = false;
  int64_t decodeWindow = -1; // W of a sliding-window pattern, else -1
  float *partO = nullptr, *partL = nullptr; // [splits + 1, H, D], [.., H]
  double kernelTime = 0;
  std::vector<float *> owned;
  float *embed = nullptr, *outNorm = nullptr, *output = nullptr;
  std::vector<Layer> layerWeights;
  float *ropeCos = nullptr, *ropeSin = nullptr;
  // KV cache: per layer [kvHeads, maxTokens, headDim] for K, then V.
  std::vector<float *> cacheK, cacheV;
  int64_t maxTokens = 0, pos = 0;
  // Scratch for a chunk of up to scratchRows tokens.
  int64_t scratchRows = 0;
  float *x = nullptr, *h = nullptr, *qkv = nullptr, *att = nullptr,
        *gu = nullptr, *act = nullptr, *logitsDev = nullptr;
  int64_t logitsRows = 0;
};

} // namespace attnmodel

#endif
