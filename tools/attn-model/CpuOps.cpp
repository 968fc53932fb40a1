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
#include "runtime/core/Half.h"

#ifdef ATTN_MODEL_CPU
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

using namespace attnmodel;

// CpuSwiGLU.cpp: built with -ffast-math, where glibc's vector expf applies.
void cpuSwiGLU(const float *gu, float *out, int64_t n, int64_t f);
void cpuSiLU(float *x, int64_t rows, int64_t cols, int64_t stride);

namespace {

using attnrt::floatToHalf;
using attnrt::halfToFloat;

class CpuOps final : public Ops {
public:
  CpuOps(int threads, attn_dtype type) : type(type) {
    if (threads > 0)
      openblas_set_num_threads(threads);
  }
  const char *name() const override {
    return type == ATTN_F32    ? "cpu (OpenBLAS)"
           : type == ATTN_BF16 ? "cpu (OpenBLAS, bf16 attention and cache)"
                               : "cpu (OpenBLAS, f16 attention and cache)";
  }
  attn_dtype attentionType() const override { return type; }

  float *alloc(size_t count) override {
    void *p = nullptr;
    size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0)
      throw Error("out of memory allocating " +
                  std::to_string(count * sizeof(float)) + " bytes");
    return static_cast<float *>(p);
  }
  void free(float *p) override { std::free(p); }
  void upload(float *dst, const float *src, size_t count) override {
    std::memcpy(dst, src, count * sizeof(float));
  }
  void download(float *dst, const float *src, size_t count) override {
    std::memcpy(dst, src, count * sizeof(float));
  }

  float *uploadMatrix(const float *src, int64_t rows, int64_t cols) override {
    float *p = alloc(size_t(rows * cols));
    upload(p, src, size_t(rows * cols));
    return p;
  }

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
  attn_dtype type;
  std::vector<float> scratch; // matmulAttention's f32 copy of its input
};

} // namespace

std::unique_ptr<Ops> attnmodel::createCpuOps(int threads,
                                            attn_dtype attention) {
  return std::make_unique<CpuOps>(threads, attention);
}

#else // attn-model-gpu: no OpenBLAS

std::unique_ptr<attnmodel::Ops> attnmodel::createCpuOps(int, attn_dtype) {
  throw attnmodel::Error("attn-model-gpu runs --target cuda only (it is built "
                         "without OpenBLAS); attn-model runs the CPU");
}

#endif
