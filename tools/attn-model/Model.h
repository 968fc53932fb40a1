//===- Model.h - language models over the attn runtime ---------*- C++ -*-===//
// The models (their shape, weights, caches or states and forward passes)
// written once over `Ops`, one device's implementation of the non-attention
// operations; the attention of every layer goes through the runtime's C API
// (attn_get_kernel / attn_get_lightning_kernel and attn_launch) on the same
// device. CpuOps.cpp is the CPU's Ops (OpenBLAS and plain loops), CudaOps.cpp
// the GPU's (cuBLAS and small CUDA kernels, with an attn_context on the same
// device). On the GPU, attention's operands (Q, the KV cache, O) and the
// weight matrices are bf16; the residual stream, norms and logits stay f32.
//
// The architectures (the weights' metadata 'architecture' picks one):
//  - llama: RMSNorm, QKV, RoPE, softmax attention over a KV cache, SwiGLU
//    (SmolLM2; Llama.cpp);
//  - longnet: the same blocks with LongNet's dilated attention, torchscale's
//    segment lengths, dilation rates and grouped head offsets (Llama.cpp);
//  - landmark: Landmark LLaMA, the same blocks over a token stream with a
//    landmark token after every block, grouped softmax in the prefill and
//    top-k block retrieval in decode steps (Llama.cpp);
//  - hierarchical: the simple hierarchical transformer (seed 002), one
//    stack of the same blocks per hierarchy of compressed tokens, merged
//    into the finest after every layer (Llama.cpp);
//  - transnormer: TransNormerLLM, lightning attention (linear, decayed)
//    carried as a recurrent state, SRMSNorm, a gated output, simple GLU
//    (TransNormer.cpp).
//===----------------------------------------------------------------------===//
#ifndef ATTN_TOOLS_MODEL_MODEL_H
#define ATTN_TOOLS_MODEL_MODEL_H

#include "runtime/attnrt.h"
#include "tools/attn-model/Weights.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace attnmodel {

/// The shape and constants of a model (from the weights' metadata).
struct Config {
  std::string architecture;
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
  /// Waits for the operations queued so far (a GPU's stream); for timing.
  virtual void synchronize() {}
  /// A weight matrix [rows, cols] (host, f32) in the format matmul reads:
  /// f32 on the CPU (or --weights'), bf16 or f16 on the GPU; `logits`: the
  /// output matrix (the CPU's 4-bit weights keep it in 8 bits). Freed with
  /// free().
  virtual float *uploadMatrix(const float *src, int64_t rows, int64_t cols,
                              bool logits = false) = 0;
  /// Bytes uploadMatrix keeps for such a matrix.
  virtual size_t matrixBytes(int64_t rows, int64_t cols,
                             bool logits = false) const {
    return size_t(rows * cols) * 4;
  }
  /// Whether uploadMatrix keeps f32 rows (the embedding table can then
  /// serve as a tied output matrix).
  virtual bool f32Matrices() const { return true; }
  /// y[n, out] = x[n, in] W^T (+ y when accumulate); W from uploadMatrix.
  virtual void matmul(const float *x, const float *w, float *y, int64_t n,
                      int64_t in, int64_t out, bool accumulate) = 0;
  /// matmul whose x is in attentionType() (an attention output).
  virtual void matmulAttention(const void *x, const float *w, float *y,
                               int64_t n, int64_t in, int64_t out,
                               bool accumulate) = 0;

  /// The element type of attention's operands (Q, K, V, O and the KV
  /// cache): f32 (the CPU's default), bf16 or f16 (the GPU's tensor cores
  /// take 16-bit inputs; on the CPU, --dtype bf16 halves the cache).
  virtual attn_dtype attentionType() const { return ATTN_F32; }
  /// Whether the runner itself packs a decode step's query heads as rows
  /// and splits its keys (Llama::packedDecode): the CPU kernels give each
  /// query row one vector lane. The GPU kernels do both inside (their
  /// __decode kernels), so there a decode step is one launch.
  virtual bool runnerSplitsDecode() const { return true; }
  /// dst rows (attentionType(), stride dstStride elements) = src rows (f32).
  virtual void toAttention(void *dst, int64_t dstStride, const float *src,
                           int64_t srcStride, int64_t rows, int64_t cols) = 0;
  /// dst rows (f32) = src rows (attentionType()).
  virtual void fromAttention(float *dst, int64_t dstStride, const void *src,
                             int64_t srcStride, int64_t rows,
                             int64_t cols) = 0;
  /// y[i] = x[i] / sqrt(mean(x[i]^2) + eps) * w, per row of d; without
  /// the weight when w is null (SRMSNorm). y may be x.
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
  /// x = silu(x) = x / (1 + e^-x) in place, `rows` rows of `cols` values
  /// `stride` apart.
  virtual void silu(float *x, int64_t rows, int64_t cols, int64_t stride) = 0;
  /// y = a * b elementwise, `rows` rows of `cols`, each operand with its
  /// row stride (y may be a or b).
  virtual void mul(const float *a, int64_t aStride, const float *b,
                   int64_t bStride, float *y, int64_t yStride, int64_t rows,
                   int64_t cols) = 0;
  /// Split-KV merge (SPEC's "merging partial results"): `parts` partial
  /// results over disjoint key sets, o [parts, rows, dim] and their
  /// log-sum-exps lse [parts, rows], combined into out [rows, dim]
  /// (contiguous); o and out in attentionType(), lse f32. A part with
  /// lse = -inf contributes nothing.
  virtual void mergePartials(const void *o, const float *lse, int64_t parts,
                             int64_t rows, int64_t dim, void *out) = 0;
  /// x[i] = table[ids[i]] for n rows of d; `ids` are host memory, checked
  /// by the caller.
  virtual void embed(const float *table, const int32_t *ids, int64_t n,
                     int64_t d, float *x) = 0;
  /// dst rows (stride dstStride) = src rows (stride srcStride), `cols` each.
  virtual void copyRows(float *dst, int64_t dstStride, const float *src,
                        int64_t srcStride, int64_t rows, int64_t cols) = 0;
};

/// How the CPU keeps weight matrices: f32; bf16 (a decode step's products
/// by CpuBf16.cpp's bf16 x f32 loop); Q4: the layers' in 4-bit blocks of 32
/// with f16 scale and minimum (GGUF Q4_1's form), the logits matrix in 8
/// bits (Q8_0's) (CpuQuant.cpp). Several tokens at once: sgemm on rows
/// widened to f32.
enum class CpuWeights { F32, BF16, Q4 };

/// The CPU's Ops: OpenBLAS sgemm/sgemv on `threads` threads, loops;
/// weight matrices in `weights`; attention and the KV cache in `attention`
/// (f32, bf16 or f16). Throws Error in a build without them
/// (attn-model-gpu).
std::unique_ptr<Ops> createCpuOps(int threads, attn_dtype attention,
                                  CpuWeights weights = CpuWeights::F32);
/// The GPU's Ops on the CUDA context `ctx` (device 0): cuBLAS (loaded at
/// run time) and the runner's CUDA kernels, weights, matmul inputs and
/// attention in `type` (ATTN_BF16 or ATTN_F16); it sets the context's
/// stream. Throws Error without a GPU, cuBLAS or in a build without CUDA.
std::unique_ptr<Ops> createCudaOps(attn_context *ctx, attn_dtype type);

/// How the runner wants a model run (attn-model's options).
struct RunOptions {
  /// The attention pattern of a softmax model; empty: the model's own
  /// (llama: '#attn.causal'; longnet: its dilated schedule).
  std::string pattern;
  /// Positions to reserve a KV cache for.
  int64_t maxTokens = 0;
  /// Decode steps on the pattern's own kernel, one query row per head,
  /// instead of the packed split-KV path (for checking one against the
  /// other).
  bool plainDecode = false;
  /// A folder of precompiled kernels (manifest.tsv, see KernelDir.cpp)
  /// instead of the JIT; required in a build without the JIT.
  std::string kernelDir;
  /// A file to append the key of every kernel the model asks for to (what
  /// a --kernel-dir for it must hold).
  std::string recordKernels;
};

/// A language model: tokens in, logits out, with the state of the tokens
/// run so far (a KV cache, or a recurrent state) kept between calls.
class Model {
public:
  virtual ~Model();
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;

  const Config &config() const { return cfg; }
  int64_t position() const { return pos; }
  int64_t capacity() const { return maxTokens; }
  /// Seconds attn_get_kernel took (a compile, or a cache hit).
  double kernelSeconds() const { return kernelTime; }
  /// Device memory the model holds, in bytes: everything it owns (weights,
  /// tables, the KV cache or recurrent state), of which the cache or state,
  /// and its scratch now (sized by the largest chunk of rows run).
  struct Memory {
    size_t owned = 0, cache = 0, scratch = 0;
  };
  Memory memory() const {
    Memory m{ownedBytes, cacheBytes, 0};
    for (const auto &s : scratch)
      m.scratch += s.second;
    return m;
  }
  /// The attention, for the report: a pattern, or "lightning ...".
  const std::string &attentionName() const { return attentionText; }
  /// Whether positions past the trained context are meaningless (a causal
  /// softmax model with positional encodings trained up to it).
  virtual bool boundedByContext() const = 0;

  /// Runs `n` tokens at the next positions (appending them to the cache or
  /// state) and writes the logits of the last one, or of every one when
  /// `allLogits`, to `logits` ([1 or n, vocab], host). A call of one token
  /// is a decode step. Throws Error.
  virtual void forward(const int32_t *ids, int64_t n, bool allLogits,
                       std::vector<float> &logits);
  /// Forgets the tokens run so far.
  void reset() {
    pos = 0;
    resetState();
  }

  /// Where the time goes: seconds per kind of operation (matmul, attention,
  /// logits, other), summed over forward() calls while `enabled`. Times are
  /// host wall-clock around each call: right on the CPU, where every
  /// operation has finished when it returns (a CUDA Ops must synchronise).
  struct Profile {
    bool enabled = false;
    double matmul = 0, attention = 0, logits = 0, other = 0;
  } profile;

protected:
  Model(Ops &ops, attn_context *ctx, const RunOptions &run);

  // The stages a model is made of, each over the device's Ops.

  /// Reads the metadata every architecture has (layers, d_model, vocab,
  /// context, norm epsilon, bos/eos) and the embedding, final norm and
  /// output matrix (tied to the embedding when absent).
  void loadCommon(const SafeTensors &st, bool outNormWeight);
  /// One block at the current position on the residual stream x ([n, d]).
  virtual void layer(int64_t l, int64_t n) = 0;
  /// Sizes the architecture's own scratch for chunks of n tokens.
  virtual void reserveLayerScratch(int64_t n) = 0;
  virtual void resetState() {}
  /// The channel mixer shared by the architectures, on n rows of a
  /// residual stream x of width d: x += glu(norm(x) W_gate|up) W_down, with
  /// glu silu(g) * u (SwiGLU) or g * u (TransNormerLLM's simple GLU, no
  /// activation), f wide; `h` [n, d], `gu` [n, 2f] and `act` [n, f] are
  /// scratch.
  enum class Glu { SwiGLU, Simple };
  struct GluScratch {
    float *h, *gu, *act;
  };
  void gluBlock(float *x, int64_t d, int64_t f, const float *norm,
                const float *wgu, const float *wdown, Glu kind, int64_t n,
                const GluScratch &scratch);

  /// Device copy of tensor `name` of `shape`; owned by the model.
  float *upload(const SafeTensors &st, const std::string &name,
                const std::vector<int64_t> &shape);
  /// The tensors `names` (each [rows_i, cols]) stacked into one
  /// [sum rows_i, cols] device matrix: one GEMM for several projections.
  float *uploadStacked(const SafeTensors &st,
                       const std::vector<std::string> &names,
                       const std::vector<int64_t> &rows, int64_t cols);
  /// `uploadMatrix` of tensor `name` ([rows, cols]); owned by the model.
  float *uploadMatrix(const SafeTensors &st, const std::string &name,
                      int64_t rows, int64_t cols, bool logits = false);
  float *allocOwned(size_t count);
  /// A scratch buffer of `count`, reallocated when it must grow.
  void grow(float *&buffer, size_t count);
  /// Bytes of one element of attentionType().
  size_t attentionBytes() const {
    return ops.attentionType() == ATTN_F32 ? 4 : 2;
  }
  /// Owned memory for `count` elements of attentionType().
  char *allocAttention(size_t count) {
    return reinterpret_cast<char *>(
        allocOwned((count * attentionBytes() + 3) / 4));
  }
  /// A scratch buffer of `count` elements of attentionType().
  void growAttention(char *&buffer, size_t count) {
    float *p = reinterpret_cast<float *>(buffer);
    grow(p, (count * attentionBytes() + 3) / 4);
    buffer = reinterpret_cast<char *>(p);
  }
  /// A kernel source: the JIT's (attn_get_kernel), or a folder of
  /// precompiled kernels (RunOptions::kernelDir).
  attn_kernel *attentionKernel(const std::string &pattern, int64_t d,
                               bool withLse);
  attn_kernel *lightningKernel(int64_t d, int flags);
  /// attn_get_kernel's status to Error.
  static void check(attn_status s, const std::string &what);
  /// A kernel the model releases; its compile time counts in kernelSeconds.
  attn_kernel *getKernel(const std::string &what,
                         const std::function<attn_status(attn_kernel **)> &get);
  /// Adds the time since the last mark to `bucket` (when profiling).
  void lap(double &bucket);

  Config cfg;
  Ops &ops;
  attn_context *ctx;
  int64_t maxTokens = 0, pos = 0;
  std::string attentionText;
  // Of the memory allocOwned()/allocAttention() gave, the bytes that are a
  // KV cache or recurrent state (the architectures add them).
  size_t cacheBytes = 0;
  float *embedTable = nullptr, *outNorm = nullptr, *output = nullptr;
  // The residual stream x and a normalised copy h, [n, d] each.
  float *x = nullptr, *h = nullptr;

private:
  void reserveScratch(int64_t n);
  double kernelTime = 0;
  std::string kernelDir, recordKernels;
  void record(const std::string &key);
  std::vector<float *> owned;
  std::vector<attn_kernel *> kernels;
  int64_t scratchRows = 0, logitsRows = 0;
  float *logitsDev = nullptr;
  size_t ownedBytes = 0;
  // Every buffer grow() allocated, with its bytes.
  std::vector<std::pair<float *, size_t>> scratch;
  std::chrono::steady_clock::time_point mark;
};

/// Precompiled kernels (KernelDir.cpp), for machines without the JIT: a
/// folder whose manifest.tsv has lines `KEY<TAB>FILE<TAB>ENTRY`, FILE (a
/// .so for the CPU, .cubin or .ptx for CUDA) relative to the folder; a key
/// may have several lines, tried in order (e.g. an sm_90a cubin, then sm_80
/// PTX). Keys: "attention|PATTERN|DTYPE|D|lse=0|1" and
/// "lightning|DTYPE|D|flags=F" (DTYPE f32/f16/bf16, scale the default).
std::string attentionKernelKey(const std::string &pattern, attn_dtype dtype,
                               int64_t d, bool withLse);
std::string lightningKernelKey(attn_dtype dtype, int64_t d, int flags);
/// Loads the kernel of `key` from `dir` into *out and returns ATTN_OK;
/// throws Error naming the key, the folder and each file's failure.
attn_status loadKernel(attn_context *ctx, const std::string &dir,
                       const std::string &key, attn_kernel **out);
/// In a build without the JIT: throws Error saying --kernel-dir is needed.
attn_status noJit(attn_kernel **out);

/// Loads the model in `weightsPath` (its metadata's 'architecture' picks
/// the class) onto the device of `ctx`, whose Ops are `ops`, and gets its
/// attention kernels (compiled on first use). Throws Error.
std::unique_ptr<Model> loadModel(const std::string &weightsPath, Ops &ops,
                                 attn_context *ctx, const RunOptions &run);

} // namespace attnmodel

#endif
