//===- CpuSwiGLU.cpp - SwiGLU and SiLU on the CPU with glibc's vector expf ===//
// Alone in a file built with -ffast-math: glibc declares its vector math
// (libmvec) only then, and the compiler turns the loop's expf into
// _ZGV*_expf calls, four or eight lanes at a time (scalar expf made SwiGLU
// most of the non-matmul prefill time). Large negative gates give
// g / inf = -0, as in IEEE arithmetic.
//===----------------------------------------------------------------------===//
#include <cmath>
#include <cstdint>

void cpuSwiGLU(const float *__restrict gu, float *__restrict out, int64_t n,
               int64_t f) {
  for (int64_t i = 0; i < n; ++i) {
    const float *g = gu + i * 2 * f, *u = g + f;
    float *o = out + i * f;
    for (int64_t j = 0; j < f; ++j)
      o[j] = g[j] / (1.0f + std::exp(-g[j])) * u[j];
  }
}

void cpuSiLU(float *x, int64_t rows, int64_t cols, int64_t stride) {
  for (int64_t i = 0; i < rows; ++i) {
    float *__restrict r = x + i * stride;
    for (int64_t j = 0; j < cols; ++j)
      r[j] = r[j] / (1.0f + std::exp(-r[j]));
  }
}
