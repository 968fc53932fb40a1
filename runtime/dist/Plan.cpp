//===- Plan.cpp - who sends which rows to whom ----------------------------===//
#include "runtime/dist/Plan.h"

#include <algorithm>

using namespace attn::dist;

Ranges Ranges::fromCounts(const std::vector<int64_t> &counts) {
  Ranges r;
  r.start.push_back(0);
  for (int64_t c : counts)
    r.start.push_back(r.start.back() + c);
  return r;
}

int64_t Dilated::offset(size_t k, int64_t h) const {
  int64_t r = rates[k];
  return grouped ? h / ((heads + r - 1) / r) : h % r;
}

const char *Dilated::check() const {
  if (segments.empty() || segments.size() != rates.size())
    return "a dilated attention needs as many rates as segment lengths, at "
           "least one";
  for (size_t k = 0; k < segments.size(); ++k) {
    if (segments[k] <= 0 || rates[k] <= 0)
      return "segment lengths and rates must be positive";
    if (segments[k] % rates[k] != 0)
      return "every segment length must be a multiple of its rate (SPEC.md)";
  }
  if (heads <= 0)
    return "no heads";
  return nullptr;
}

Rows attn::dist::selected(int64_t s0, int64_t r, int64_t o, int64_t lo,
                          int64_t hi) {
  Rows rows;
  rows.step = r;
  if (o >= r || lo >= hi)
    return rows;
  // The first t >= lo with (t - s0) mod r == o.
  int64_t base = s0 + o;
  int64_t first = lo <= base ? base : base + (lo - base + r - 1) / r * r;
  if (first >= hi)
    return rows;
  rows.first = first;
  rows.count = (hi - 1 - first) / r + 1;
  return rows;
}

std::vector<int64_t> attn::dist::segmentsOf(const Ranges &ranges,
                                            const Dilated &d, size_t k, int p) {
  std::vector<int64_t> out;
  int64_t b = ranges.begin(p), e = ranges.end(p), w = d.segments[k];
  if (b >= e)
    return out;
  for (int64_t s = b / w; s <= (e - 1) / w; ++s)
    out.push_back(s);
  return out;
}

void attn::dist::keyRange(const Ranges &ranges, const Dilated &d, size_t k,
                          int dst, int64_t seg, int64_t &lo, int64_t &hi) {
  int64_t w = d.segments[k];
  lo = seg * w;
  hi = std::min(lo + w, ranges.total());
  if (d.causal)
    hi = std::min(hi, ranges.end(dst));
}

std::vector<Piece> attn::dist::exchange(const Ranges &ranges, const Dilated &d,
                                        size_t k, int src, int dst) {
  std::vector<Piece> out;
  const int64_t w = d.segments[k], r = d.rates[k];
  for (int64_t seg : segmentsOf(ranges, d, k, dst)) {
    int64_t lo, hi;
    keyRange(ranges, d, k, dst, seg, lo, hi);
    lo = std::max(lo, ranges.begin(src));
    hi = std::min(hi, ranges.end(src));
    if (lo >= hi)
      continue;
    const int64_t s0 = seg * w;
    for (int64_t h = 0; h < d.heads; ++h) {
      // Only heads with queries of dst's in this segment need keys.
      if (!selected(s0, r, d.offset(k, h), std::max(s0, ranges.begin(dst)),
                    std::min({s0 + w, ranges.total(), ranges.end(dst)}))
               .count)
        continue;
      Piece p{seg, h, selected(s0, r, d.offset(k, h), lo, hi)};
      if (p.rows.count > 0)
        out.push_back(p);
    }
  }
  return out;
}

int64_t attn::dist::rowsOf(const std::vector<Piece> &pieces) {
  int64_t n = 0;
  for (const Piece &p : pieces)
    n += p.rows.count;
  return n;
}

Traffic attn::dist::dilatedTraffic(const Ranges &ranges, const Dilated &d,
                                   int rank, int64_t batch, int64_t rowBytes) {
  Traffic t;
  for (size_t k = 0; k < d.segments.size(); ++k)
    for (int q = 0; q < ranges.ranks(); ++q) {
      if (q == rank)
        continue;
      t.sent += uint64_t(rowsOf(exchange(ranges, d, k, rank, q)) * batch *
                         rowBytes);
      t.received += uint64_t(rowsOf(exchange(ranges, d, k, q, rank)) * batch *
                             rowBytes);
    }
  return t;
}
