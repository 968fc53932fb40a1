//===- CpuMatrix.h - the CPU runner's bf16 and quantized matrix loops -----===//
// CpuBf16.cpp (--weights bf16) and CpuQuant.cpp (--weights q4): the
// matrix-vector products of a decode step and the widening of rows for
// sgemm, used by CpuOps.cpp and checked by test/Unit/QuantTest.cpp; and
// what the two files share: the run-time choice of AVX2 + FMA and a
// horizontal sum.
//===----------------------------------------------------------------------===//
#ifndef ATTN_TOOLS_ATTN_MODEL_CPUMATRIX_H
#define ATTN_TOOLS_ATTN_MODEL_CPUMATRIX_H

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ATTN_CPU_MATRIX_X86 1
#endif

// bf16 matrices, row-major [rows, in].
void cpuGemvBf16(const uint16_t *w, const float *x, float *y, int64_t in,
                 int64_t r0, int64_t r1, bool accumulate);
void cpuWidenBf16(const uint16_t *src, float *dst, int64_t n);

// 4- and 8-bit matrices (CpuQuant.cpp's layout).
size_t cpuQuantBytes(int bits, int64_t rows, int64_t in);
void cpuQuantize(int bits, const float *src, int64_t rows, int64_t in,
                 void *dst);
void cpuQuantBlockSums(const float *x, int64_t in, float *xsum);
void cpuGemvQuant(int bits, const void *w, int64_t rows, int64_t in,
                  const float *x, const float *xsum, float *y, int64_t r0,
                  int64_t r1, bool accumulate);
void cpuDequantize(int bits, const void *w, int64_t rows, int64_t in,
                   int64_t r0, int64_t r1, float *dst);

namespace attnmodel::cpu {

#ifdef ATTN_CPU_MATRIX_X86
/// Whether the AVX2 + FMA loops run: the host has both (never assumed from
/// the build machine) and ATTN_MODEL_PLAIN_CPP is unset (=1: the plain C++
/// loops, for tests on AVX2 hosts).
inline bool hostHasAvx2() {
  static const bool yes = __builtin_cpu_supports("avx2") &&
                          __builtin_cpu_supports("fma") &&
                          !std::getenv("ATTN_MODEL_PLAIN_CPP");
  return yes;
}

/// The sum of v's 8 lanes.
__attribute__((target("avx2,fma"))) inline float sum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#endif

} // namespace attnmodel::cpu

#endif
