//===- Reference.cpp - float64 reference of every pattern -----------------===//
// Straight from SPEC.md: m(p, j) per pattern, one softmax over the multiset
// of allowed keys; landmark as the grouped softmax of its section.
//===----------------------------------------------------------------------===//
#include "tools/attn-run/Reference.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace attn::ref {

static int64_t floorDiv(int64_t a, int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

int64_t multiplicity(const Pattern &pt, int64_t p, int64_t j, int64_t head,
                     int64_t numHeads) {
  switch (pt.kind) {
  case Pattern::Full:
    return 1;
  case Pattern::Causal:
    return j <= p;
  case Pattern::Window:
    return 0 <= p - j && p - j <= pt.window;
  case Pattern::BlockCausal:
    return j <= p && floorDiv(j, pt.block) >= floorDiv(p, pt.block) - 1;
  case Pattern::Dilated: {
    if (p < 0)
      return 0;
    int64_t m = 0;
    for (size_t i = 0; i < pt.segments.size(); ++i) {
      int64_t w = pt.segments[i], r = pt.rates[i];
      int64_t o = pt.grouped ? head / ((numHeads + r - 1) / r) : head % r;
      bool selP = (p % w) % r == o, selJ = (j % w) % r == o;
      m += selP && selJ && p / w == j / w && (!pt.causal || j <= p);
    }
    return m;
  }
  case Pattern::Landmark:
    return 0;
  }
  return 0;
}

static double dot(const Tensor &a, int64_t b, int64_t h, int64_t i,
                  const Tensor &c, int64_t hc, int64_t j) {
  double s = 0;
  for (int64_t x = 0; x < a.d; ++x)
    s += a.at(b, h, i, x) * c.at(b, hc, j, x);
  return s;
}

/// Landmark grouped softmax for one query (SPEC's four steps).
static void landmarkRow(const Pattern &pt, const Tensor &q, const Tensor &k,
                        const Tensor &v, double scale, int64_t b, int64_t h,
                        int64_t hk, int64_t i, int64_t p, Tensor &o,
                        double &lse) {
  int64_t L = pt.block, nk = k.n, own = floorDiv(p, L);
  auto score = [&](int64_t j) { return scale * dot(q, b, h, i, k, hk, j); };
  std::vector<int64_t> top; // members of the top-level group T
  std::vector<int64_t> landmarks;
  for (int64_t blk = 0; blk < own; ++blk)
    landmarks.push_back(blk * L + L - 1);
  if (pt.topk > 0 && int64_t(landmarks.size()) > pt.topk) {
    std::vector<std::pair<double, int64_t>> ranked;
    for (int64_t j : landmarks)
      ranked.push_back({-score(j), j}); // ties: earlier block first
    std::sort(ranked.begin(), ranked.end());
    landmarks.clear();
    for (int64_t x = 0; x < pt.topk; ++x)
      landmarks.push_back(ranked[x].second);
  }
  top = landmarks;
  for (int64_t j = own * L; j <= p && j < nk; ++j)
    if (j % L != L - 1)
      top.push_back(j);
  for (int64_t c = 0; c < o.d; ++c)
    o.at(b, h, i, c) = 0;
  if (p < 0 || top.empty()) {
    lse = -std::numeric_limits<double>::infinity();
    return;
  }
  double mx = -std::numeric_limits<double>::infinity();
  for (int64_t j : top)
    mx = std::max(mx, score(j));
  double sum = 0;
  for (int64_t j : top)
    sum += std::exp(score(j) - mx);
  lse = mx + std::log(sum);
  for (int64_t j : top) {
    double pTop = std::exp(score(j) - mx) / sum;
    if (j % L != L - 1 || floorDiv(j, L) == own) {
      for (int64_t c = 0; c < o.d; ++c)
        o.at(b, h, i, c) += pTop * v.at(b, hk, j, c);
      continue;
    }
    // An earlier block's landmark: spread over its non-landmark keys.
    int64_t start = floorDiv(j, L) * L;
    double bm = -std::numeric_limits<double>::infinity(), bs = 0;
    for (int64_t x = start; x < start + L - 1; ++x)
      bm = std::max(bm, score(x));
    for (int64_t x = start; x < start + L - 1; ++x)
      bs += std::exp(score(x) - bm);
    for (int64_t x = start; x < start + L - 1; ++x) {
      double w = pTop * std::exp(score(x) - bm) / bs;
      for (int64_t c = 0; c < o.d; ++c)
        o.at(b, h, i, c) += w * v.at(b, hk, x, c);
    }
  }
}

void attention(const Pattern &pt, const Tensor &q, const Tensor &k,
               const Tensor &v, double scale, Tensor &o,
               std::vector<double> &lse) {
  int64_t B = q.b, H = q.h, nq = q.n, nk = k.n, group = H / k.h;
  o = Tensor{B, H, nq, v.d, std::vector<double>(B * H * nq * v.d, 0.0)};
  lse.assign(B * H * nq, 0.0);
  std::vector<double> s(nk);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      int64_t hk = h / group;
      for (int64_t i = 0; i < nq; ++i) {
        int64_t p = nk - nq + i;
        double &l = lse[(b * H + h) * nq + i];
        if (pt.kind == Pattern::Landmark) {
          landmarkRow(pt, q, k, v, scale, b, h, hk, i, p, o, l);
          continue;
        }
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < nk; ++j) {
          s[j] = scale * dot(q, b, h, i, k, hk, j);
          if (multiplicity(pt, p, j, h, H) > 0)
            mx = std::max(mx, s[j]);
        }
        if (mx == -std::numeric_limits<double>::infinity()) {
          l = mx; // no allowed key: O = 0, LSE = -inf
          continue;
        }
        double sum = 0;
        for (int64_t j = 0; j < nk; ++j) {
          int64_t m = multiplicity(pt, p, j, h, H);
          if (!m)
            continue;
          double w = m * std::exp(s[j] - mx);
          sum += w;
          for (int64_t c = 0; c < v.d; ++c)
            o.at(b, h, i, c) += w * v.at(b, hk, j, c);
        }
        for (int64_t c = 0; c < v.d; ++c)
          o.at(b, h, i, c) /= sum;
        l = mx + std::log(sum);
      }
    }
}

std::vector<double> alibiSlopes(int64_t numHeads) {
  int64_t c = 1;
  while (c * 2 <= numHeads)
    c *= 2;
  std::vector<double> s;
  for (int64_t h = 0; h < numHeads && h < c; ++h)
    s.push_back(std::pow(2.0, -8.0 * double(h + 1) / double(c)));
  for (int64_t i = 0; int64_t(s.size()) < numHeads; i += 2)
    s.push_back(std::pow(2.0, -8.0 * double(i + 1) / double(2 * c)));
  return s;
}

void lightning(const Tensor &q, const Tensor &k, const Tensor &v,
               const std::vector<double> &slopes, double scale,
               const std::vector<double> &stateIn, Tensor &o,
               std::vector<double> &stateOut) {
  int64_t B = q.b, H = q.h, N = q.n, D = q.d, Dv = v.d, group = H / k.h;
  o = Tensor{B, H, N, Dv, std::vector<double>(B * H * N * Dv, 0.0)};
  stateOut.assign(B * H * D * Dv, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      double lambda = std::exp(-slopes[h]);
      double *kv = &stateOut[(b * H + h) * D * Dv];
      if (!stateIn.empty())
        std::copy_n(&stateIn[(b * H + h) * D * Dv], D * Dv, kv);
      for (int64_t t = 0; t < N; ++t) {
        for (int64_t x = 0; x < D * Dv; ++x)
          kv[x] *= lambda;
        for (int64_t i = 0; i < D; ++i)
          for (int64_t j = 0; j < Dv; ++j)
            kv[i * Dv + j] += k.at(b, h / group, t, i) * v.at(b, h / group, t, j);
        for (int64_t j = 0; j < Dv; ++j) {
          double acc = 0;
          for (int64_t i = 0; i < D; ++i)
            acc += q.at(b, h, t, i) * kv[i * Dv + j];
          o.at(b, h, t, j) = scale * acc;
        }
      }
    }
}

double usefulFlops(const Pattern &pt, int64_t batch, int64_t heads,
                   int64_t nq, int64_t nk, int64_t d, int64_t dv) {
  double perPair = 2.0 * double(d + dv), pairs = 0;
  for (int64_t h = 0; h < heads; ++h) {
    if (pt.kind == Pattern::Dilated) {
      // Per pattern and segment: cnt selected rows, all pairs or causal.
      for (size_t x = 0; x < pt.segments.size(); ++x) {
        int64_t w = pt.segments[x], r = pt.rates[x];
        int64_t o = pt.grouped ? h / ((heads + r - 1) / r) : h % r;
        for (int64_t start = 0; start < nk; start += w) {
          int64_t len = std::min(w, nk - start);
          double cnt = len > o ? double((len - o + r - 1) / r) : 0;
          pairs += pt.causal ? cnt * (cnt + 1) / 2 : cnt * cnt;
        }
      }
      continue;
    }
    for (int64_t i = 0; i < nq; ++i) {
      int64_t p = nk - nq + i, lo = 0, hi = -1;
      switch (pt.kind) {
      case Pattern::Full:
        lo = 0, hi = nk - 1;
        break;
      case Pattern::Causal:
        lo = 0, hi = p;
        break;
      case Pattern::Landmark: {
        // Pairs whose score the query computes: every earlier landmark, the
        // other keys of the retrieved earlier blocks, its own block's keys.
        if (p < 0)
          break;
        int64_t L = pt.block, earlier = std::min(p / L, (nk + L - 1) / L);
        int64_t kept = pt.topk > 0 ? std::min(pt.topk, earlier) : earlier;
        int64_t own = p - earlier * L + 1 - (p % L == L - 1 ? 1 : 0);
        pairs += double(earlier + kept * (L - 1) + own);
        continue;
      }
      case Pattern::Window:
        lo = p - pt.window, hi = p;
        break;
      case Pattern::BlockCausal:
        lo = (floorDiv(p, pt.block) - 1) * pt.block, hi = p;
        break;
      case Pattern::Dilated:
        break;
      }
      lo = std::max<int64_t>(lo, 0);
      hi = std::min(hi, nk - 1);
      if (hi >= lo)
        pairs += double(hi - lo + 1);
    }
  }
  return pairs * perPair * double(batch);
}

} // namespace attn::ref
