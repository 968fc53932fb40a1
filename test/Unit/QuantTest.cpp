//===- QuantTest.cpp - attn-model's quantized and bf16 matrix loops -------===//
// CpuQuant.cpp (--weights q4: 4-bit layer matrices, 8-bit logits) and
// CpuBf16.cpp (--weights bf16) against double sums of the same weights:
//  - values of GGUF's forms (Q4_1: d q + m with f16 d, m and q in [0, 15];
//    Q8_0: d q with q in [-127, 127]) survive quantization exactly;
//  - matrix-vector products (row ranges, accumulate, rows not a multiple of
//    4, row lengths with a partial last block of 32) within 1e-5 of the
//    double sum of the dequantized matrix, and dequantization equal to it.
// ATTN_MODEL_PLAIN_CPP=1 runs the plain C++ loops instead of AVX2 + FMA.
// Prints one line per check and PASS, or FAIL and exits 1.
//===----------------------------------------------------------------------===//
#include "runtime/core/Half.h"
#include "tools/attn-model/CpuMatrix.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

namespace {

int failures = 0;
std::mt19937 rng(7);

float f16(float x) {
  return attnrt::halfToFloat(attnrt::floatToHalf(x, ATTN_F16), ATTN_F16);
}

void expect(bool ok, const char *what, int64_t rows, int64_t in, double err) {
  std::printf("%s %s [%lld x %lld]: %.3g\n", ok ? "ok  " : "FAIL", what,
              (long long)rows, (long long)in, err);
  failures += !ok;
}

/// A [rows, in] matrix in GGUF's form for `bits` (exactly representable).
std::vector<float> ggufMatrix(int bits, int64_t rows, int64_t in) {
  std::uniform_real_distribution<float> scale(1e-3f, 2e-2f), base(-0.2f, 0.f);
  std::uniform_int_distribution<int> q4(0, 15), q8(-127, 127);
  std::vector<float> w(static_cast<size_t>(rows * in));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b0 = 0; b0 < in; b0 += 32) {
      float d = f16(scale(rng)), m = f16(base(rng));
      int64_t n = std::min<int64_t>(32, in - b0);
      for (int64_t j = 0; j < n; ++j) {
        // The extremes present, as a quantizer leaves them.
        int q = bits == 4 ? (j == 0 ? 0 : j == 1 ? 15 : q4(rng))
                          : (j == 0 ? 127 : q8(rng));
        w[size_t(r * in + b0 + j)] = bits == 4 ? d * float(q) + m : d * float(q);
      }
    }
  return w;
}

void checkQuant(int bits, int64_t rows, int64_t in) {
  std::vector<float> w = ggufMatrix(bits, rows, in);
  std::vector<uint8_t> packed(cpuQuantBytes(bits, rows, in) + 64);
  cpuQuantize(bits, w.data(), rows, in, packed.data());
  std::vector<float> back(w.size());
  cpuDequantize(bits, packed.data(), rows, in, 0, rows, back.data());
  double worst = 0;
  for (size_t i = 0; i < w.size(); ++i)
    worst = std::max(worst, double(std::fabs(back[i] - w[i])) /
                                (std::fabs(double(w[i])) + 1e-30));
  expect(worst <= 1e-6, bits == 4 ? "q4 round trip" : "q8 round trip", rows,
         in, worst);

  // Random weights (lossy) for the products: against the dequantized ones.
  std::normal_distribution<float> normal(0.f, 1.f);
  for (float &v : w)
    v = normal(rng);
  cpuQuantize(bits, w.data(), rows, in, packed.data());
  cpuDequantize(bits, packed.data(), rows, in, 0, rows, back.data());
  std::vector<float> x(static_cast<size_t>(in)),
      xsum(static_cast<size_t>((in + 31) / 32));
  for (float &v : x)
    v = normal(rng);
  cpuQuantBlockSums(x.data(), in, xsum.data());
  std::vector<float> y(static_cast<size_t>(rows), 0.5f);
  int64_t r0 = rows > 2 ? 1 : 0, r1 = rows;
  cpuGemvQuant(bits, packed.data(), rows, in, x.data(), xsum.data(), y.data(),
               r0, r1, /*accumulate=*/true);
  double err = 0, scale = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0.5, abs = 0;
    for (int64_t i = 0; i < in && r >= r0; ++i) {
      s += double(back[size_t(r * in + i)]) * x[size_t(i)];
      abs += std::fabs(double(back[size_t(r * in + i)]) * x[size_t(i)]);
    }
    err = std::max(err, std::fabs(y[size_t(r)] - s));
    scale = std::max(scale, abs);
  }
  expect(err <= 1e-5 * scale, bits == 4 ? "q4 product" : "q8 product", rows,
         in, err / scale);
}

void checkBf16(int64_t rows, int64_t in) {
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<uint16_t> w(static_cast<size_t>(rows * in));
  for (uint16_t &v : w)
    v = attnrt::floatToHalf(normal(rng), ATTN_BF16);
  std::vector<float> wide(w.size()), x(static_cast<size_t>(in)),
      y(static_cast<size_t>(rows));
  cpuWidenBf16(w.data(), wide.data(), int64_t(w.size()));
  for (float &v : x)
    v = normal(rng);
  cpuGemvBf16(w.data(), x.data(), y.data(), in, 0, rows, false);
  double err = 0, scale = 0, widen = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0, abs = 0;
    for (int64_t i = 0; i < in; ++i) {
      double wi = attnrt::halfToFloat(w[size_t(r * in + i)], ATTN_BF16);
      widen = std::max(widen, std::fabs(wi - wide[size_t(r * in + i)]));
      s += wi * x[size_t(i)];
      abs += std::fabs(wi * x[size_t(i)]);
    }
    err = std::max(err, std::fabs(y[size_t(r)] - s));
    scale = std::max(scale, abs);
  }
  expect(widen == 0 && err <= 1e-5 * scale, "bf16 product", rows, in,
         err / scale);
}

} // namespace

int main() {
  for (int bits : {4, 8})
    for (auto [rows, in] : {std::pair<int64_t, int64_t>{9, 576},
                            {4, 1536},
                            {7, 70},
                            {3, 31},
                            {1, 33}})
      checkQuant(bits, rows, in);
  for (auto [rows, in] : {std::pair<int64_t, int64_t>{9, 576}, {5, 70}, {2, 7}})
    checkBf16(rows, in);
  std::printf(failures ? "FAIL\n" : "PASS\n");
  return failures ? 1 : 0;
}
