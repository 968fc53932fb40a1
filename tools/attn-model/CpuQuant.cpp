//===- CpuQuant.cpp - 4- and 8-bit weight matrices on the CPU -------------===//
// The runner's `--weights q4` on the CPU: the layers' weight matrices in
// blocks of 32 values a row, w = d q + m with q in [0, 15] and the block's d
// and m rounded to f16 (m its minimum, d its range / 15): GGUF's Q4_1, so
// weights that came from a Q4_1 file (SmolLM2's layers) are recovered
// exactly, at 0.75 bytes a weight (the nibbles and two f32 scales) against
// 4 in f32. The output (logits) matrix in 8 bits: w = d q, q in
// [-127, 127], d = f16(max |w| / 127): GGUF's Q8_0 (SmolLM2's embedding),
// 1.125 bytes a weight. Products in f32:
//   sum_i w_i x_i = sum_blocks d (sum_j q_j x_j) + m (sum_j x_j),
// the x block sums computed once per product. AVX2 + FMA where the host has
// them (chosen at run time), else plain C++. Several tokens at once: rows
// dequantized to f32 for sgemm.
//
// Storage of a [rows, in] matrix (nb = ceil(in / 32) blocks a row): the
// codes [rows][nb] x 16 bytes (4 bits: byte j holds element j low and
// element j + 16 high) or 32 bytes (8 bits, signed), then d [rows][nb] and,
// for 4 bits, m [rows][nb], as f32.
//===----------------------------------------------------------------------===//
#include "tools/attn-model/CpuMatrix.h"
#include "runtime/core/Half.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace {

using namespace attnmodel::cpu;

constexpr int64_t kBlock = 32;

struct QView {
  const uint8_t *q;
  const float *d, *m;
  int64_t nb, codeBytes;
  QView(int bits, const void *w, int64_t rows, int64_t in)
      : q(static_cast<const uint8_t *>(w)), nb((in + kBlock - 1) / kBlock),
        codeBytes(bits == 4 ? 16 : 32) {
    d = reinterpret_cast<const float *>(q + rows * nb * codeBytes);
    m = bits == 4 ? d + rows * nb : nullptr;
  }
  const uint8_t *block(int64_t r, int64_t b) const {
    return q + (r * nb + b) * codeBytes;
  }
  int code(const uint8_t *blk, int64_t j) const {
    if (codeBytes == 32)
      return int(int8_t(blk[j]));
    return j < 16 ? blk[j] & 15 : blk[j - 16] >> 4;
  }
};

inline float roundF16(float x) {
  return attnrt::halfToFloat(attnrt::floatToHalf(x, ATTN_F16), ATTN_F16);
}

float dotScalar(const QView &v, int64_t r, const float *x, int64_t in,
                int64_t b0) {
  float s = 0;
  for (int64_t b = b0; b < v.nb; ++b) {
    const uint8_t *blk = v.block(r, b);
    int64_t n = std::min(kBlock, in - b * kBlock);
    float qx = 0, xs = 0;
    for (int64_t j = 0; j < n; ++j) {
      qx += float(v.code(blk, j)) * x[b * kBlock + j];
      xs += x[b * kBlock + j];
    }
    s += v.d[r * v.nb + b] * qx + (v.m ? v.m[r * v.nb + b] * xs : 0.0f);
  }
  return s;
}

#ifdef ATTN_CPU_MATRIX_X86
/// The low 8 bytes as 8 floats.
__attribute__((target("avx2,fma"))) inline __m256 unsigned8(__m128i bytes) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
}

/// sum_j q_j x_j over one full 4-bit block, as 8 lanes of partial sums.
__attribute__((target("avx2,fma"))) inline __m256
blockDot4(const uint8_t *blk, const __m256 *x) {
  __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i *>(blk));
  __m128i mask = _mm_set1_epi8(15);
  __m128i lo = _mm_and_si128(raw, mask);
  __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);
  __m256 a = _mm256_mul_ps(unsigned8(lo), x[0]);
  a = _mm256_fmadd_ps(unsigned8(_mm_srli_si128(lo, 8)), x[1], a);
  __m256 b = _mm256_mul_ps(unsigned8(hi), x[2]);
  b = _mm256_fmadd_ps(unsigned8(_mm_srli_si128(hi, 8)), x[3], b);
  return _mm256_add_ps(a, b);
}

/// The low 8 bytes, signed, as 8 floats.
__attribute__((target("avx2,fma"))) inline __m256 signed8(__m128i bytes) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes));
}

/// The same for an 8-bit block.
__attribute__((target("avx2,fma"))) inline __m256
blockDot8(const uint8_t *blk, const __m256 *x) {
  __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i *>(blk));
  __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + 16));
  __m256 a = _mm256_mul_ps(signed8(lo), x[0]);
  a = _mm256_fmadd_ps(signed8(_mm_srli_si128(lo, 8)), x[1], a);
  __m256 b = _mm256_mul_ps(signed8(hi), x[2]);
  b = _mm256_fmadd_ps(signed8(_mm_srli_si128(hi, 8)), x[3], b);
  return _mm256_add_ps(a, b);
}

// Four rows at a time (x loaded once for four); the block scales applied
// to each block's partial sums by one FMA; a last partial block in scalar
// code.
template <int Bits>
__attribute__((target("avx2,fma"))) void
gemvAvx2(const QView &v, const float *x, const float *xsum, float *y,
         int64_t in, int64_t r0, int64_t r1, bool accumulate) {
  int64_t full = in / kBlock;
  for (int64_t r = r0; r < r1; r += 4) {
    int rows = int(std::min<int64_t>(4, r1 - r));
    __m256 acc[4];
    float ms[4] = {0, 0, 0, 0};
    for (int k = 0; k < 4; ++k)
      acc[k] = _mm256_setzero_ps();
    for (int64_t b = 0; b < full; ++b) {
      __m256 xb[4];
      for (int c = 0; c < 4; ++c)
        xb[c] = _mm256_loadu_ps(x + b * kBlock + 8 * c);
      for (int k = 0; k < rows; ++k) {
        int64_t at = (r + k) * v.nb + b;
        // The next four rows' codes, a line per 64 bytes.
        if ((b * v.codeBytes) % 64 == 0)
          _mm_prefetch(reinterpret_cast<const char *>(v.q + (at + 4 * v.nb) *
                                                                v.codeBytes),
                       _MM_HINT_T0);
        __m256 dot = Bits == 4 ? blockDot4(v.q + at * 16, xb)
                               : blockDot8(v.q + at * 32, xb);
        acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(v.d[at]), dot, acc[k]);
        if (Bits == 4)
          ms[k] += v.m[at] * xsum[b];
      }
    }
    for (int k = 0; k < rows; ++k) {
      float s = sum8(acc[k]) + ms[k];
      if (full < v.nb)
        s += dotScalar(v, r + k, x, in, full);
      y[r + k] = accumulate ? y[r + k] + s : s;
    }
  }
}

#endif

} // namespace

/// Bytes of a [rows, in] matrix in the `bits` (4 or 8) layout.
size_t cpuQuantBytes(int bits, int64_t rows, int64_t in) {
  int64_t nb = (in + kBlock - 1) / kBlock;
  return size_t(rows * nb * (bits == 4 ? 16 + 8 : 32 + 4));
}

/// src [rows, in] f32 to the `bits` layout in dst (cpuQuantBytes bytes).
void cpuQuantize(int bits, const float *src, int64_t rows, int64_t in,
                 void *dst) {
  int64_t nb = (in + kBlock - 1) / kBlock, codeBytes = bits == 4 ? 16 : 32;
  auto *q = static_cast<uint8_t *>(dst);
  auto *d = reinterpret_cast<float *>(q + rows * nb * codeBytes);
  float *m = d + rows * nb;
  std::memset(q, 0, size_t(rows * nb * codeBytes));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < nb; ++b) {
      const float *x = src + r * in + b * kBlock;
      int64_t n = std::min(kBlock, in - b * kBlock);
      float lo = x[0], hi = x[0], amax = std::fabs(x[0]);
      for (int64_t j = 1; j < n; ++j) {
        lo = std::min(lo, x[j]);
        hi = std::max(hi, x[j]);
        amax = std::max(amax, std::fabs(x[j]));
      }
      uint8_t *blk = q + (r * nb + b) * codeBytes;
      if (bits == 8) {
        float scale = roundF16(amax / 127.0f);
        d[r * nb + b] = scale;
        for (int64_t j = 0; j < n; ++j) {
          int v = scale > 0 ? int(std::lround(x[j] / scale)) : 0;
          blk[j] = uint8_t(int8_t(std::clamp(v, -127, 127)));
        }
        continue;
      }
      float scale = roundF16((hi - lo) / 15.0f), base = roundF16(lo);
      d[r * nb + b] = scale;
      m[r * nb + b] = base;
      for (int64_t j = 0; j < n; ++j) {
        int v = scale > 0 ? int(std::lround((x[j] - base) / scale)) : 0;
        v = std::clamp(v, 0, 15);
        blk[j % 16] |= uint8_t(j < 16 ? v : v << 4);
      }
    }
}

/// xsum[b] = the sum of x's block b (the m term of every row's product).
void cpuQuantBlockSums(const float *x, int64_t in, float *xsum) {
  for (int64_t b = 0; b * kBlock < in; ++b) {
    float s = 0;
    for (int64_t j = b * kBlock; j < std::min(in, (b + 1) * kBlock); ++j)
      s += x[j];
    xsum[b] = s;
  }
}

/// y[r] (+)= sum_i w[r, i] x[i] for rows [r0, r1) of the `bits` matrix w
/// [rows, in]; xsum from cpuQuantBlockSums(x).
void cpuGemvQuant(int bits, const void *w, int64_t rows, int64_t in,
                  const float *x, const float *xsum, float *y, int64_t r0,
                  int64_t r1, bool accumulate) {
  QView v(bits, w, rows, in);
#ifdef ATTN_CPU_MATRIX_X86
  if (hostHasAvx2())
    return bits == 4 ? gemvAvx2<4>(v, x, xsum, y, in, r0, r1, accumulate)
                     : gemvAvx2<8>(v, x, xsum, y, in, r0, r1, accumulate);
#endif
  for (int64_t r = r0; r < r1; ++r) {
    float s = dotScalar(v, r, x, in, 0);
    y[r] = accumulate ? y[r] + s : s;
  }
}

/// Rows [r0, r1) of the `bits` matrix w [rows, in] as f32 into dst (row r
/// at dst + (r - r0) in).
void cpuDequantize(int bits, const void *w, int64_t rows, int64_t in,
                   int64_t r0, int64_t r1, float *dst) {
  QView v(bits, w, rows, in);
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t b = 0; b < v.nb; ++b) {
      const uint8_t *blk = v.block(r, b);
      float d = v.d[r * v.nb + b], m = v.m ? v.m[r * v.nb + b] : 0.0f;
      for (int64_t j = 0; j < std::min(kBlock, in - b * kBlock); ++j)
        dst[(r - r0) * in + b * kBlock + j] = d * float(v.code(blk, j)) + m;
    }
}
