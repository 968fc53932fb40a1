//===- attn-dist-plan.cpp - the exchange plans, without a transport -------===//
// Prints what each rank sends for a dilated attention split over P ranks
// (libattndist's plan, runtime/dist/Plan.h: what the MPI and the NCCL
// transports both move), and with --verify checks the plans of many random
// configurations against the definition: for every rank, pattern, segment
// and head, the rows the other ranks send are exactly the segment's
// selected positions its queries see, in position order. The host-side
// logic of the NCCL path is tested here, on any machine.
//===----------------------------------------------------------------------===//
#include "runtime/dist/Plan.h"
#include "tools/attn-dist/Args.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>

using namespace attn::dist;

namespace {

const char *kUsage =
    "usage: attn-dist-plan --n N --ranks P [--counts c0,c1,...] --segments "
    "w1,w2 --rates r1,r2\n"
    "                      [--heads H] [--grouped] [--noncausal] [--row-bytes B]\n"
    "                      [--summary]\n"
    "       attn-dist-plan --verify [--configs K]\n"
    "Prints each rank's positions and, per pattern, the rows it sends to and\n"
    "receives from each other rank, and the bytes (K and V rows of\n"
    "--row-bytes, default 512: D = Dv = 64 in f32), or with --summary only\n"
    "the most any rank sends and receives; --verify checks K random\n"
    "configurations' plans against the definition (exit 1 on a mismatch).\n";

/// The keys (seg, h) of rank dst by the definition: positions j of the
/// segment with (j - S0) mod r = o, j < end(dst) when causal; none when
/// dst has no query of head h in the segment.
std::vector<int64_t> definition(const Ranges &ranges, const Dilated &d,
                                size_t k, int dst, int64_t seg, int64_t h) {
  std::vector<int64_t> out;
  int64_t w = d.segments[k], s0 = seg * w;
  bool queries = false;
  for (int64_t j = std::max(s0, ranges.begin(dst));
       j < std::min({s0 + w, ranges.total(), ranges.end(dst)}); ++j)
    queries |= (j - s0) % d.rates[k] == d.offset(k, h);
  if (!queries)
    return out;
  for (int64_t j = s0; j < std::min(s0 + w, ranges.total()); ++j)
    if ((j - s0) % d.rates[k] == d.offset(k, h) &&
        (!d.causal || j < ranges.end(dst)))
      out.push_back(j);
  return out;
}

bool verify(const Ranges &ranges, const Dilated &d, std::string &why) {
  for (int dst = 0; dst < ranges.ranks(); ++dst)
    for (size_t k = 0; k < d.segments.size(); ++k) {
      std::vector<std::vector<Piece>> from;
      for (int src = 0; src < ranges.ranks(); ++src)
        from.push_back(exchange(ranges, d, k, src, dst));
      for (int64_t seg : segmentsOf(ranges, d, k, dst))
        for (int64_t h = 0; h < d.heads; ++h) {
          std::vector<int64_t> got;
          for (int src = 0; src < ranges.ranks(); ++src)
            for (const Piece &p : from[size_t(src)])
              if (p.segment == seg && p.head == h) {
                for (int64_t i = 0; i < p.rows.count; ++i) {
                  int64_t j = p.rows.first + i * p.rows.step;
                  if (j < ranges.begin(src) || j >= ranges.end(src)) {
                    why = "a row is sent by a rank that does not hold it";
                    return false;
                  }
                  got.push_back(j);
                }
              }
          if (got != definition(ranges, d, k, dst, seg, h)) {
            why = "rank " + std::to_string(dst) + ", pattern " +
                  std::to_string(k) + ", segment " + std::to_string(seg) +
                  ", head " + std::to_string(h) +
                  ": the exchanged keys differ from the definition";
            return false;
          }
        }
    }
  return true;
}

int randomConfigs(int configs) {
  std::mt19937_64 rng(1);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  for (int c = 0; c < configs; ++c) {
    int P = int(pick(1, 6));
    std::vector<int64_t> counts;
    for (int p = 0; p < P; ++p)
      counts.push_back(pick(0, 40));
    Ranges ranges = Ranges::fromCounts(counts);
    Dilated d;
    int K = int(pick(1, 3));
    for (int k = 0; k < K; ++k) {
      int64_t r = pick(1, 4);
      d.rates.push_back(r);
      d.segments.push_back(r * pick(1, 12));
    }
    d.heads = pick(1, 5);
    d.grouped = pick(0, 1);
    d.causal = pick(0, 1);
    std::string why;
    if (d.check() == nullptr && !verify(ranges, d, why)) {
      std::printf("attn-dist-plan: configuration %d: %s\n", c, why.c_str());
      return 1;
    }
  }
  std::printf("attn-dist-plan: %d random configurations: every exchange is "
              "the definition's keys\n",
              configs);
  return 0;
}

} // namespace

static int run(int argc, char **argv) {
  int64_t n = 0, P = 0, rowBytes = 512;
  std::vector<int64_t> counts;
  Dilated d;
  bool verifyMode = false, summary = false;
  int configs = 2000;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc)
          throw std::runtime_error(a + " needs a value");
        return argv[++i];
      };
      // A whole integer in [lo, hi], or an error naming the option.
      auto intIn = [&](int64_t lo, int64_t hi) -> int64_t {
        std::string v = value();
        size_t used = 0;
        long long x = 0;
        try {
          x = std::stoll(v, &used);
        } catch (const std::exception &) {
          used = 0;
        }
        if (used == 0 || used != v.size() || x < lo || x > hi)
          throw std::runtime_error(a + " wants an integer in [" +
                                   std::to_string(lo) + ", " +
                                   std::to_string(hi) + "], got '" + v + "'");
        return x;
      };
      if (a == "--help") {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (a == "--n")
        n = intIn(1, int64_t(1) << 40);
      else if (a == "--ranks")
        P = intIn(1, 1 << 20);
      else if (a == "--counts")
        counts = attn::dist::intList(a, value());
      else if (a == "--segments")
        d.segments = attn::dist::intList(a, value());
      else if (a == "--rates")
        d.rates = attn::dist::intList(a, value());
      else if (a == "--heads")
        d.heads = intIn(1, 1 << 20);
      else if (a == "--row-bytes")
        rowBytes = intIn(1, int64_t(1) << 30);
      else if (a == "--grouped")
        d.grouped = true;
      else if (a == "--noncausal")
        d.causal = false;
      else if (a == "--verify")
        verifyMode = true;
      else if (a == "--summary")
        summary = true;
      else if (a == "--configs")
        configs = int(intIn(1, 10000000));
      else
        throw std::runtime_error("unknown option '" + a + "'");
    }
  } catch (const std::exception &e) {
    std::fprintf(stderr, "attn-dist-plan: %s\n%s", e.what(), kUsage);
    return 2;
  }
  if (verifyMode)
    return randomConfigs(configs);
  for (int64_t c : counts)
    if (c < 0) {
      std::fprintf(stderr, "attn-dist-plan: --counts holds a negative count (%lld)\n",
                   (long long)c);
      return 2;
    }
  if (!counts.empty() && P > 0 && int64_t(counts.size()) != P) {
    std::fprintf(stderr, "attn-dist-plan: --counts lists %zu ranks, --ranks says %lld\n",
                 counts.size(), (long long)P);
    return 2;
  }
  int64_t sum = std::accumulate(counts.begin(), counts.end(), int64_t(0));
  if (!counts.empty() && n > 0 && sum != n) {
    std::fprintf(stderr, "attn-dist-plan: --counts add up to %lld positions, --n says %lld\n",
                 (long long)sum, (long long)n);
    return 2;
  }
  if (counts.empty()) {
    if (P == 0 || n == 0) {
      std::fprintf(stderr, "attn-dist-plan: give --n and --ranks, or --counts\n");
      return 2;
    }
    for (int64_t p = 0; p < P; ++p)
      counts.push_back(n * (p + 1) / P - n * p / P);
  }
  if (const char *bad = d.check()) {
    std::fprintf(stderr, "attn-dist-plan: %s\n", bad);
    return 2;
  }
  Ranges ranges = Ranges::fromCounts(counts);
  std::string why;
  if (!verify(ranges, d, why)) {
    std::printf("attn-dist-plan: %s\n", why.c_str());
    return 1;
  }
  if (summary) {
    uint64_t sent = 0, received = 0;
    for (int p = 0; p < ranges.ranks(); ++p) {
      Traffic t = dilatedTraffic(ranges, d, p, 1, rowBytes);
      sent = std::max(sent, t.sent);
      received = std::max(received, t.received);
    }
    std::printf("%d ranks, N = %lld: at most %llu bytes sent and %llu received "
                "by a rank\n",
                ranges.ranks(), (long long)ranges.total(),
                (unsigned long long)sent, (unsigned long long)received);
    return 0;
  }
  for (int p = 0; p < ranges.ranks(); ++p) {
    Traffic t = dilatedTraffic(ranges, d, p, 1, rowBytes);
    std::printf("rank %d: positions [%lld, %lld), sends %llu bytes, receives "
                "%llu bytes\n",
                p, (long long)ranges.begin(p), (long long)ranges.end(p),
                (unsigned long long)t.sent, (unsigned long long)t.received);
    for (size_t k = 0; k < d.segments.size(); ++k)
      for (int q = 0; q < ranges.ranks(); ++q) {
        if (q == p)
          continue;
        int64_t rows = rowsOf(exchange(ranges, d, k, p, q));
        if (rows)
          std::printf("  pattern (%lld, %lld): %lld rows to rank %d\n",
                      (long long)d.segments[k], (long long)d.rates[k],
                      (long long)rows, q);
      }
  }
  return 0;
}

int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const std::bad_alloc &) {
    std::fprintf(stderr, "attn-dist-plan: out of memory: the plan is too large "
                         "for this machine (lower --n or --ranks)\n");
    return 2;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "attn-dist-plan: %s\n", e.what());
    return 2;
  }
}
