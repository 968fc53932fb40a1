//===- Plan.h - who sends which rows to whom in sequence parallelism -*- C++ -*-===//
// The host-side logic of sequence-parallel attention (SeqParallel.cpp), the
// same for every transport (MPI, NCCL) and tested without one
// (tools/attn-dist/attn-dist-plan.cpp): each of P ranks holds a contiguous
// range of the sequence's N positions (in rank order); for each pattern
// (w, r) of a dilated attention (SPEC.md), a rank's queries in segment S
// (positions [S0, S1), S0 a multiple of w) see the selected keys of S for
// their head: positions S0 + o + r i, up to the rank's last position when
// causal. Those rows are exchanged once per pattern (an all-to-all of
// variable sizes): rank p sends rank q, per segment of q's and per query
// head, the selected rows of that segment that p holds and q's queries see.
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_DIST_PLAN_H
#define ATTN_RUNTIME_DIST_PLAN_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace attn::dist {

using std::size_t;

/// Rank p holds positions [start[p], start[p + 1]); start[0] = 0 and
/// start[P] = N.
struct Ranges {
  std::vector<int64_t> start;
  int ranks() const { return int(start.size()) - 1; }
  int64_t total() const { return start.back(); }
  int64_t begin(int p) const { return start[size_t(p)]; }
  int64_t end(int p) const { return start[size_t(p) + 1]; }
  /// From each rank's count, in rank order.
  static Ranges fromCounts(const std::vector<int64_t> &counts);
};

/// A dilated attention's parameters (SPEC.md: segment lengths w_k, rates
/// r_k, head offsets, causal), for `heads` query heads.
struct Dilated {
  std::vector<int64_t> segments, rates;
  bool grouped = false, causal = true;
  int64_t heads = 1;
  /// Query head h's offset for pattern k (interleaved: h mod r; grouped:
  /// floor(h / ceil(H / r))).
  int64_t offset(size_t k, int64_t h) const;
  /// Empty when valid, else what is wrong (w mod r != 0, ...).
  const char *check() const;
};

/// Positions first, first + step, ... (count of them).
struct Rows {
  int64_t first = 0, count = 0, step = 1;
};

/// The positions of [lo, hi) that pattern (w, r) selects for offset o in
/// the segment starting at s0 (lo, hi inside it).
Rows selected(int64_t s0, int64_t r, int64_t o, int64_t lo, int64_t hi);

/// One block of an exchange: the rows of query head `head` in segment
/// `segment` (its index, S0 = segment * w) that the sender holds and the
/// receiver's queries see.
struct Piece {
  int64_t segment = 0, head = 0;
  Rows rows;
};

/// The segments of pattern k that rank p's positions touch, in order.
std::vector<int64_t> segmentsOf(const Ranges &ranges, const Dilated &d,
                                size_t k, int p);
/// The positions of segment `seg` of pattern k (width w) that rank `dst`'s
/// queries of head h may see: [S0, S1) or, causal, [S0, min(S1, end(dst))).
/// Its selected positions in [lo, hi) are the keys.
void keyRange(const Ranges &ranges, const Dilated &d, size_t k, int dst,
              int64_t seg, int64_t &lo, int64_t &hi);
/// What rank `src` sends rank `dst` for pattern k: for each segment of
/// dst's (in order), each query head (in order) with queries of dst's in
/// that segment, the key rows src holds; pieces with no rows are left out.
/// Both sides compute the same list. (Per query head: the heads of a GQA
/// group with the same offset receive the same K/V rows once each.)
std::vector<Piece> exchange(const Ranges &ranges, const Dilated &d, size_t k,
                            int src, int dst);
/// Rows of a list of pieces.
int64_t rowsOf(const std::vector<Piece> &pieces);

/// What one rank moves over the transport for a dilated attention of batch
/// B with K/V rows of `rowBytes` (K and V together): the bytes it sends to
/// and receives from the other ranks (its own rows stay local).
struct Traffic {
  uint64_t sent = 0, received = 0;
};
Traffic dilatedTraffic(const Ranges &ranges, const Dilated &d, int rank,
                       int64_t batch, int64_t rowBytes);

} // namespace attn::dist

#endif
