//===- Reference.h - float64 reference of every pattern ---------*- C++ -*-===//
// Written from SPEC.md alone, independent of the dialect's pattern interface
// and of the code generator, so that it catches their mistakes.
//===----------------------------------------------------------------------===//
#ifndef ATTN_TOOLS_REFERENCE_H
#define ATTN_TOOLS_REFERENCE_H

#include <cstdint>
#include <vector>

namespace attn::ref {

struct Pattern {
  enum Kind { Full, Causal, Window, BlockCausal, Dilated, Landmark } kind;
  int64_t window = 0, block = 0, topk = 0;
  std::vector<int64_t> segments, rates;
  bool causal = true, grouped = false;
};

/// Dense [B, H, N, D] tensors in row-major order.
struct Tensor {
  int64_t b, h, n, d;
  std::vector<double> v;
  double &at(int64_t i, int64_t j, int64_t k, int64_t l) {
    return v[((i * h + j) * n + k) * d + l];
  }
  double at(int64_t i, int64_t j, int64_t k, int64_t l) const {
    return v[((i * h + j) * n + k) * d + l];
  }
};

/// m(p, j) of SPEC's table for query head `head` of `numHeads` (not for
/// landmark, which is a grouped softmax).
int64_t multiplicity(const Pattern &pattern, int64_t p, int64_t j,
                     int64_t head, int64_t numHeads);

/// O and LSE ([B, H, Nq], natural log) of a softmax pattern.
void attention(const Pattern &pattern, const Tensor &q, const Tensor &k,
               const Tensor &v, double scale, Tensor &o,
               std::vector<double> &lse);

/// Useful FLOPs by SPEC's counting: 2 (D + Dv) per allowed pair, times m.
double usefulFlops(const Pattern &pattern, int64_t batch, int64_t heads,
                   int64_t nq, int64_t nk, int64_t d, int64_t dv);

/// Lightning attention from SPEC's recurrent form, in float64:
/// KV_t = lambda KV_{t-1} + k_t^T v_t, o_t = scale * q_t KV_t, starting from
/// `stateIn` ([B, H, D, Dv], or zeros when empty). Writes the final state.
void lightning(const Tensor &q, const Tensor &k, const Tensor &v,
               const std::vector<double> &slopes, double scale,
               const std::vector<double> &stateIn, Tensor &o,
               std::vector<double> &stateOut);

/// SPEC's default slopes (ALiBi) for H heads.
std::vector<double> alibiSlopes(int64_t numHeads);

} // namespace attn::ref

#endif
