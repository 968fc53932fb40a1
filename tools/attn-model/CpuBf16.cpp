//===- CpuBf16.cpp - bf16 weight matrices on the CPU ----------------------===//
// The runner's `--weights bf16` on the CPU: weight matrices stored as bf16
// (half the bytes a decode step reads), products in f32. A decode step's
// matmuls are matrix-vector products bound by the weights' bytes: this file
// has that product (bf16 rows widened to f32 in registers, f32 FMAs) and the
// widening of rows for sgemm when several tokens run at once. Debian's
// OpenBLAS (0.3.21) has no bf16 routine (sbgemm/sbgemv), hence this loop.
// AVX2 + FMA where the host has them (chosen at run time, never assumed
// from the build machine), else plain C++.
//===----------------------------------------------------------------------===//
#include "tools/attn-model/CpuMatrix.h"

#include <cstdint>
#include <cstring>

namespace {

using namespace attnmodel::cpu;

inline float widen(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void gemvScalar(const uint16_t *w, const float *x, float *y, int64_t in,
                int64_t r0, int64_t r1, bool accumulate) {
  for (int64_t r = r0; r < r1; ++r) {
    const uint16_t *row = w + r * in;
    float s = 0;
    for (int64_t i = 0; i < in; ++i)
      s += widen(row[i]) * x[i];
    y[r] = accumulate ? y[r] + s : s;
  }
}

#ifdef ATTN_CPU_MATRIX_X86
__attribute__((target("avx2,fma"))) inline __m256 load8(const uint16_t *p) {
  __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// Four rows at a time (x loaded once for four), two accumulators per row
// (the FMA latency), sixteen columns a step; the tail in scalar code.
__attribute__((target("avx2,fma"))) void
gemvAvx2(const uint16_t *w, const float *x, float *y, int64_t in, int64_t r0,
         int64_t r1, bool accumulate) {
  int64_t r = r0;
  int64_t body = in / 16 * 16;
  for (; r + 4 <= r1; r += 4) {
    const uint16_t *row[4] = {w + r * in, w + (r + 1) * in, w + (r + 2) * in,
                              w + (r + 3) * in};
    // The next four rows' lines are prefetched while these four run (the
    // hardware's stream prefetch alone left a single core ~35 % slower).
    int64_t ahead = r + 8 <= r1 ? 4 * in : 0;
    __m256 a[4][2];
    for (auto &p : a)
      p[0] = p[1] = _mm256_setzero_ps();
    for (int64_t i = 0; i < body; i += 16) {
      __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
      if ((i & 31) == 0)
        for (int k = 0; k < 4; ++k)
          _mm_prefetch(reinterpret_cast<const char *>(row[k] + ahead + i),
                       _MM_HINT_T0);
      for (int k = 0; k < 4; ++k) {
        a[k][0] = _mm256_fmadd_ps(load8(row[k] + i), x0, a[k][0]);
        a[k][1] = _mm256_fmadd_ps(load8(row[k] + i + 8), x1, a[k][1]);
      }
    }
    for (int k = 0; k < 4; ++k) {
      float s = sum8(_mm256_add_ps(a[k][0], a[k][1]));
      for (int64_t i = body; i < in; ++i)
        s += widen(row[k][i]) * x[i];
      y[r + k] = accumulate ? y[r + k] + s : s;
    }
  }
  gemvScalar(w, x, y, in, r, r1, accumulate);
}

__attribute__((target("avx2,fma"))) void widenAvx2(const uint16_t *src,
                                               float *dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, load8(src + i));
  for (; i < n; ++i)
    dst[i] = widen(src[i]);
}
#endif

} // namespace

/// y[r] (+)= sum_i w[r, i] x[i] for rows [r0, r1) of the bf16 matrix w
/// [rows, in] (row-major).
void cpuGemvBf16(const uint16_t *w, const float *x, float *y, int64_t in,
                 int64_t r0, int64_t r1, bool accumulate) {
#ifdef ATTN_CPU_MATRIX_X86
  if (hostHasAvx2())
    return gemvAvx2(w, x, y, in, r0, r1, accumulate);
#endif
  gemvScalar(w, x, y, in, r0, r1, accumulate);
}

/// dst[i] = src[i] widened to f32 (exact).
void cpuWidenBf16(const uint16_t *src, float *dst, int64_t n) {
#ifdef ATTN_CPU_MATRIX_X86
  if (hostHasAvx2())
    return widenAvx2(src, dst, n);
#endif
  for (int64_t i = 0; i < n; ++i)
    dst[i] = widen(src[i]);
}
