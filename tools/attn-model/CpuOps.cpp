//===- CpuOps.cpp - the model's non-attention operations on the CPU -------===//
// Matmuls are OpenBLAS (sgemm; sgemv for one token, which sgemm does not
// special-case in the Debian build). RMSNorm, RoPE, SwiGLU, SiLU and products
// are loops (SwiGLU's and SiLU's exp from glibc's vector math library,
// CpuSwiGLU.cpp):
// each reads its input once and costs O(n d) against the matmuls'
// O(n d^2), so at d = 576 no library call would beat the compiler's
// vectorised loop, and none of BLAS's routines fuses them.
//===----------------------------------------------------------------------===//
#include "tools/attn-model/Model.h"
#include "tools/attn-model/CpuMatrix.h"
#include "runtime/core/Half.h"

#ifdef ATTN_MODEL_CPU
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

using namespace attnmodel;

// CpuSwiGLU.cpp: built with -ffast-math, where glibc's vector expf applies.
void cpuSwiGLU(const float *gu, float *out, int64_t n, int64_t f);
void cpuSiLU(float *x, int64_t rows, int64_t cols, int64_t stride);

namespace {

using attnrt::floatToHalf;
using attnrt::halfToFloat;

/// The bf16 and 4-bit matrix-vector products' threads: fn(i) for i in
/// [0, n) on the caller and n - 1 workers, one job at a time (OpenBLAS
/// keeps its own threads for the f32 products; the two never run at once). A decode step
/// hands out ~120 short jobs, so a worker spins for a while (kSpin) before
/// it sleeps: a futex wake-up per job cost more than the product saved.
class Workers {
public:
  explicit Workers(int n) {
    for (int i = 1; i < n; ++i)
      threads.emplace_back([this, i] { loop(i); });
  }
  ~Workers() {
    {
      std::lock_guard<std::mutex> g(mutex);
      stopping.store(true);
    }
    wake.notify_all();
    for (std::thread &t : threads)
      t.join();
  }
  int size() const { return int(threads.size()) + 1; }
  void run(const std::function<void(int)> &fn) {
    if (threads.empty())
      return fn(0);
    job = &fn;
    pending.store(int(threads.size()), std::memory_order_relaxed);
    {
      // Under the mutex: a worker about to sleep sees the new generation.
      std::lock_guard<std::mutex> g(mutex);
      generation.fetch_add(1, std::memory_order_release);
    }
    wake.notify_all();
    fn(0);
    for (int spins = 0; pending.load(std::memory_order_acquire) != 0; ++spins)
      if (spins > 1000)
        std::this_thread::yield();
  }

private:
  static constexpr auto kSpin = std::chrono::microseconds(50);
  void loop(int index) {
    uint64_t seen = 0;
    for (;;) {
      auto start = std::chrono::steady_clock::now();
      uint64_t g;
      while ((g = generation.load(std::memory_order_acquire)) == seen &&
             !stopping.load(std::memory_order_relaxed)) {
        if (std::chrono::steady_clock::now() - start < kSpin)
          continue;
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] {
          return generation.load(std::memory_order_acquire) != seen ||
                 stopping.load();
        });
      }
      if (stopping.load())
        return;
      seen = g;
      (*job)(index);
      pending.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::condition_variable wake;
  const std::function<void(int)> *job = nullptr;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};
  std::atomic<bool> stopping{false};
};

class CpuOps final : public Ops {
public:
  CpuOps(int threads, attn_dtype type, CpuWeights weights)
      : type(type), weights(weights),
        // Only bf16 and 4-bit weights use the pool: f32 weights start no
        // thread.
        workers(weights == CpuWeights::F32 ? 1
                : threads > 0
                    ? threads
                    : int(std::max(1u, std::thread::hardware_concurrency()))) {
    if (threads > 0)
      openblas_set_num_threads(threads);
    label = std::string("cpu (OpenBLAS") +
            (weights == CpuWeights::BF16 ? ", bf16 weights"
             : weights == CpuWeights::Q4 ? ", 4-bit weights"
                                         : "") +
            (type == ATTN_BF16   ? ", bf16 attention and cache"
             : type == ATTN_F16 ? ", f16 attention and cache"
                                : "") +
            ")";
  }
  const char *name() const override { return label.c_str(); }
  attn_dtype attentionType() const override { return type; }

  float *alloc(size_t count) override {
    void *p = nullptr;
    size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0)
      throw Error("out of memory allocating " +
                  std::to_string(count * sizeof(float)) + " bytes");
    return static_cast<float *>(p);
  }
  void free(float *p) override {
    quantBits.erase(p);
    std::free(p);
  }
  void upload(float *dst, const float *src, size_t count) override {
    std::memcpy(dst, src, count * sizeof(float));
  }
  void download(float *dst, const float *src, size_t count) override {
    std::memcpy(dst, src, count * sizeof(float));
  }

  float *uploadMatrix(const float *src, int64_t rows, int64_t cols,
                      bool logits) override {
    size_t n = size_t(rows * cols);
    if (weights == CpuWeights::Q4) {
      int bits = logits ? 8 : 4;
      float *p = alloc((cpuQuantBytes(bits, rows, cols) + 3) / 4);
      cpuQuantize(bits, src, rows, cols, p);
      quantBits[p] = bits;
      return p;
    }
    if (weights == CpuWeights::BF16) {
      // Rounded to nearest even; two bf16 values per float slot.
      float *p = alloc((n + 1) / 2);
      auto *h = reinterpret_cast<uint16_t *>(p);
      for (size_t i = 0; i < n; ++i)
        h[i] = floatToHalf(src[i], ATTN_BF16);
      return p;
    }
    float *p = alloc(n);
    upload(p, src, n);
    return p;
  }
  size_t matrixBytes(int64_t rows, int64_t cols, bool logits) const override {
    if (weights == CpuWeights::Q4)
      return cpuQuantBytes(logits ? 8 : 4, rows, cols);
    return size_t(rows * cols) * (weights == CpuWeights::BF16 ? 2 : 4);
  }
  bool f32Matrices() const override { return weights == CpuWeights::F32; }

  void matmulAttention(const void *x, const float *w, float *y, int64_t n,
                       int64_t in, int64_t out, bool accumulate) override {
    if (type == ATTN_F32)
      return matmul(static_cast<const float *>(x), w, y, n, in, out,
                    accumulate);
    scratch.resize(size_t(n * in));
    fromAttention(scratch.data(), in, x, in, n, in);
    matmul(scratch.data(), w, y, n, in, out, accumulate);
  }

  // In f32 the conversions are copies; else rounded to nearest even.
  void toAttention(void *dst, int64_t dstStride, const float *src,
                   int64_t srcStride, int64_t rows, int64_t cols) override {
    if (type == ATTN_F32)
      return copyRows(static_cast<float *>(dst), dstStride, src, srcStride,
                      rows, cols);
    auto *d = static_cast<uint16_t *>(dst);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        d[i * dstStride + j] = floatToHalf(src[i * srcStride + j], type);
  }
  void fromAttention(float *dst, int64_t dstStride, const void *src,
                     int64_t srcStride, int64_t rows, int64_t cols) override {
    if (type == ATTN_F32)
      return copyRows(dst, dstStride, static_cast<const float *>(src),
                      srcStride, rows, cols);
    auto *s = static_cast<const uint16_t *>(src);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        dst[i * dstStride + j] = halfToFloat(s[i * srcStride + j], type);
  }

  void matmul(const float *x, const float *w, float *y, int64_t n, int64_t in,
              int64_t out, bool accumulate) override {
    if (weights == CpuWeights::Q4)
      return matmulQ4(x, w, y, n, in, out, accumulate);
    if (weights == CpuWeights::BF16)
      return matmulBf16(x, reinterpret_cast<const uint16_t *>(w), y, n, in,
                        out, accumulate);
    float beta = accumulate ? 1.0f : 0.0f;
    if (n == 1)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, blasint(out), blasint(in), 1.0f,
                  w, blasint(in), x, 1, beta, y, 1);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(n),
                  blasint(out), blasint(in), 1.0f, x, blasint(in), w,
                  blasint(in), beta, y, blasint(out));
  }

  void rmsNorm(const float *x, const float *w, float *y, int64_t n, int64_t d,
               float eps) override {
    for (int64_t i = 0; i < n; ++i) {
      const float *xi = x + i * d;
      float *yi = y + i * d;
      double ss = 0; // the mean square in double: d terms, no cancellation
      for (int64_t j = 0; j < d; ++j)
        ss += double(xi[j]) * xi[j];
      float r = float(1.0 / std::sqrt(ss / double(d) + double(eps)));
      for (int64_t j = 0; j < d; ++j)
        yi[j] = w ? xi[j] * r * w[j] : xi[j] * r;
    }
  }

  void rope(float *x, int64_t n, int64_t heads, int64_t dim, int64_t rowStride,
            int64_t pos0, const float *cos, const float *sin) override {
    const int64_t half = dim / 2;
    for (int64_t i = 0; i < n; ++i) {
      const float *c = cos + (pos0 + i) * half, *s = sin + (pos0 + i) * half;
      for (int64_t hd = 0; hd < heads; ++hd) {
        float *v = x + i * rowStride + hd * dim;
        for (int64_t j = 0; j < half; ++j) {
          float a = v[j], b = v[j + half];
          v[j] = a * c[j] - b * s[j];
          v[j + half] = b * c[j] + a * s[j];
        }
      }
    }
  }

  void swiglu(const float *gu, float *out, int64_t n, int64_t f) override {
    cpuSwiGLU(gu, out, n, f);
  }

  void silu(float *x, int64_t rows, int64_t cols, int64_t stride) override {
    cpuSiLU(x, rows, cols, stride);
  }

  void mul(const float *a, int64_t aStride, const float *b, int64_t bStride,
           float *y, int64_t yStride, int64_t rows, int64_t cols) override {
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        y[i * yStride + j] = a[i * aStride + j] * b[i * bStride + j];
  }

  void mergePartials(const void *partials, const float *lse, int64_t parts,
                     int64_t rows, int64_t dim, void *merged) override {
    if (type != ATTN_F32) { // through f32 copies
      std::vector<float> o32(size_t(parts * rows * dim)), out32(size_t(rows * dim));
      fromAttention(o32.data(), dim, partials, dim, parts * rows, dim);
      mergeF32(o32.data(), lse, parts, rows, dim, out32.data());
      toAttention(merged, dim, out32.data(), dim, rows, dim);
      return;
    }
    mergeF32(static_cast<const float *>(partials), lse, parts, rows, dim,
             static_cast<float *>(merged));
  }
  void mergeF32(const float *o, const float *lse, int64_t parts, int64_t rows,
                int64_t dim, float *out) {
    for (int64_t r = 0; r < rows; ++r) {
      float m = -INFINITY;
      for (int64_t p = 0; p < parts; ++p)
        m = std::max(m, lse[p * rows + r]);
      float *y = out + r * dim;
      std::fill(y, y + dim, 0.0f);
      if (m == -INFINITY) // no key anywhere: SPEC's empty row
        continue;
      float total = 0;
      for (int64_t p = 0; p < parts; ++p) {
        float w = std::exp(lse[p * rows + r] - m);
        total += w;
        const float *x = o + (p * rows + r) * dim;
        for (int64_t j = 0; j < dim; ++j)
          y[j] += w * x[j];
      }
      for (int64_t j = 0; j < dim; ++j)
        y[j] /= total;
    }
  }

  void embed(const float *table, const int32_t *ids, int64_t n, int64_t d,
             float *x) override {
    for (int64_t i = 0; i < n; ++i)
      std::memcpy(x + i * d, table + int64_t(ids[i]) * d, size_t(d) * 4);
  }

  void copyRows(float *dst, int64_t dstStride, const float *src,
                int64_t srcStride, int64_t rows, int64_t cols) override {
    for (int64_t i = 0; i < rows; ++i)
      std::memcpy(dst + i * dstStride, src + i * srcStride, size_t(cols) * 4);
  }

private:
  /// bf16 weights: one token (a decode step) by the threads' share of W's
  /// rows, each a bf16 x f32 dot product (the step reads W once, at half
  /// the bytes); several tokens by sgemm on W widened to f32 in `widened`
  /// (a copy per call, O(in out) against the product's O(n in out)).
  void matmulBf16(const float *x, const uint16_t *w, float *y, int64_t n,
                  int64_t in, int64_t out, bool accumulate) {
    if (n == 1) {
      workers.run([&](int i) {
        auto [r0, r1] = rowShare(i, out, 4);
        cpuGemvBf16(w, x, y, in, r0, r1, accumulate);
      });
      return;
    }
    widened.resize(size_t(in * out));
    workers.run([&](int i) {
      auto [r0, r1] = rowShare(i, out, 1);
      cpuWidenBf16(w + r0 * in, widened.data() + r0 * in, (r1 - r0) * in);
    });
    sgemmWidened(x, y, n, in, out, accumulate);
  }

  /// Worker i's rows of an `out`-row matrix, a multiple of `multiple`.
  std::pair<int64_t, int64_t> rowShare(int i, int64_t out, int64_t multiple) {
    int parts = workers.size();
    int64_t per = (out + parts - 1) / parts;
    per = (per + multiple - 1) / multiple * multiple;
    return {std::min(out, i * per), std::min(out, (i + 1) * per)};
  }

  /// y (+)= x widened^T, widened holding W [out, in] in f32.
  void sgemmWidened(const float *x, float *y, int64_t n, int64_t in,
                    int64_t out, bool accumulate) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(n),
                blasint(out), blasint(in), 1.0f, x, blasint(in),
                widened.data(), blasint(in), accumulate ? 1.0f : 0.0f, y,
                blasint(out));
  }

  /// 4-bit weights (8-bit for the logits): one token by the threads'
  /// share of W's rows (the x block sums first, shared by every row);
  /// several tokens by sgemm on W dequantized to f32 in `widened`.
  void matmulQ4(const float *x, const float *w, float *y, int64_t n,
                int64_t in, int64_t out, bool accumulate) {
    auto it = quantBits.find(w);
    if (it == quantBits.end())
      throw Error("internal: a matrix not from uploadMatrix");
    int bits = it->second;
    if (n == 1) {
      xsum.resize(size_t((in + 31) / 32));
      cpuQuantBlockSums(x, in, xsum.data());
      workers.run([&](int i) {
        auto [r0, r1] = rowShare(i, out, 4);
        cpuGemvQuant(bits, w, out, in, x, xsum.data(), y, r0, r1, accumulate);
      });
      return;
    }
    widened.resize(size_t(in * out));
    workers.run([&](int i) {
      auto [r0, r1] = rowShare(i, out, 1);
      cpuDequantize(bits, w, out, in, r0, r1, widened.data() + r0 * in);
    });
    sgemmWidened(x, y, n, in, out, accumulate);
  }

  attn_dtype type;
  CpuWeights weights;
  std::string label;
  Workers workers;
  std::vector<float> scratch; // matmulAttention's f32 copy of its input
  std::vector<float> widened; // bf16 or 4-bit weights widened for sgemm
  std::vector<float> xsum;    // matmulQ4's block sums of x
  std::unordered_map<const float *, int> quantBits; // q4: 4 or 8 a matrix
};

} // namespace

std::unique_ptr<Ops> attnmodel::createCpuOps(int threads,
                                            attn_dtype attention,
                                            CpuWeights weights) {
  return std::make_unique<CpuOps>(threads, attention, weights);
}

#else // attn-model-gpu: no OpenBLAS

std::unique_ptr<attnmodel::Ops> attnmodel::createCpuOps(int, attn_dtype,
                                                        CpuWeights) {
  throw attnmodel::Error("attn-model-gpu runs --target cuda only (it is built "
                         "without OpenBLAS); attn-model runs the CPU");
}

#endif
