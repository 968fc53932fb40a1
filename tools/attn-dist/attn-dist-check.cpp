//===- attn-dist-check.cpp - sequence parallelism against one process -----===//
// An MPI program: every rank builds the same seeded Q, K, V of N positions,
// runs its own contiguous range of them through libattndist
// (attn_dilated_seqpar / attn_lightning_seqpar, outputs NaN-poisoned first)
// and compares its rows with the single-process kernel on the whole
// sequence (the dilated pattern's own kernel, or lightning with its final
// state), and the bytes it moved with the plan's count. Rank 0 prints the
// verdict; every rank exits 0 (equal within --tol), 1 (not) or 2 (an
// error). With --bench R it times the distributed call instead (median of
// R, the slowest rank) and prints one JSON line.
//
//   mpirun -np 4 attn-dist-check dilated --n 1000 --split uneven \
//          --segments 64,256,1024 --rates 1,4,16 --grouped
//===----------------------------------------------------------------------===//
#include "runtime/attndist.h"
#include "runtime/dist/Plan.h"
#include "tools/attn-dist/Args.h"

#include <mpi.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

const char *kUsage =
    "usage: mpirun -np P attn-dist-check dilated|lightning --n N\n"
    "         [--split even|uneven] [--batch B] [--heads H] [--kv-heads Hk]\n"
    "         [--d D] [--segments w1,w2,...] [--rates r1,r2,...] [--grouped]\n"
    "         [--noncausal] [--default-slopes] [--seed S] [--threads T]\n"
    "         [--tol X] [--bench R]\n"
    "       attn-dist-check --nccl-probe\n"
    "Checks libattndist's sequence-parallel attention (each rank a\n"
    "contiguous range of the N positions; uneven: rank p holds about\n"
    "(p + 1) shares) against one process running the whole sequence.\n"
    "--nccl-probe: attn_comm_create_nccl's checks and library loading\n"
    "(ATTN_LIBNCCL), without a GPU.\n";

std::string text(const std::vector<int64_t> &v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

attn_tensor view(float *p, int64_t b, int64_t h, int64_t n, int64_t d,
                 int64_t rowsTotal) {
  attn_tensor t{};
  t.data = p;
  t.dtype = ATTN_F32;
  t.rank = 4;
  int64_t shape[4] = {b, h, n, d},
          strides[4] = {h * rowsTotal * d, rowsTotal * d, d, 1};
  for (int i = 0; i < 4; ++i) {
    t.shape[i] = shape[i];
    t.strides[i] = strides[i];
  }
  return t;
}

struct Options {
  std::string kind;
  int64_t n = 0, batch = 1, heads = 4, kvHeads = 0, d = 32, seed = 1;
  std::vector<int64_t> segments{16, 64}, rates{1, 4};
  bool uneven = false, grouped = false, causal = true, defaultSlopes = false;
  int threads = 1, bench = 0;
  double tol = 1e-5;
};

int run(int argc, char **argv, int me, int P) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help") {
      if (me == 0)
        std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--nccl-probe") {
      // The NCCL path's host side without a GPU: the argument checks and
      // the library loading ($ATTN_LIBNCCL).
      attn_comm *c = nullptr;
      int dummy = 0;
      if (me == 0) {
        attn_status s = attn_comm_create_nccl(nullptr, nullptr, &c);
        std::printf("null communicator: %s: %s\n", attn_status_name(s),
                    attn_last_error());
        s = attn_comm_create_nccl(&dummy, nullptr, &c);
        std::printf("communicator: %s: %s\n", attn_status_name(s),
                    s == ATTN_OK ? "" : attn_last_error());
      }
      return 0;
    }
    if (a == "dilated" || a == "lightning")
      o.kind = a;
    else if (a == "--n")
      o.n = std::stoll(value());
    else if (a == "--split") {
      std::string s = value();
      if (s != "even" && s != "uneven")
        throw std::runtime_error("--split is even or uneven");
      o.uneven = s == "uneven";
    } else if (a == "--batch")
      o.batch = std::stoll(value());
    else if (a == "--heads")
      o.heads = std::stoll(value());
    else if (a == "--kv-heads")
      o.kvHeads = std::stoll(value());
    else if (a == "--d")
      o.d = std::stoll(value());
    else if (a == "--segments")
      o.segments = attn::dist::intList(a, value());
    else if (a == "--rates")
      o.rates = attn::dist::intList(a, value());
    else if (a == "--grouped")
      o.grouped = true;
    else if (a == "--noncausal")
      o.causal = false;
    else if (a == "--default-slopes")
      o.defaultSlopes = true;
    else if (a == "--seed")
      o.seed = std::stoll(value());
    else if (a == "--threads")
      o.threads = int(std::stoll(value()));
    else if (a == "--tol")
      o.tol = std::stod(value());
    else if (a == "--bench")
      o.bench = int(std::stoll(value()));
    else
      throw std::runtime_error("unknown argument '" + a + "'");
  }
  if (o.kind.empty() || o.n <= 0)
    throw std::runtime_error("give dilated or lightning, and --n N > 0");
  if (o.kvHeads == 0 || o.kind == "lightning")
    o.kvHeads = o.heads;
  const int64_t B = o.batch, H = o.heads, Hk = o.kvHeads, D = o.d, N = o.n;

  // This rank's positions.
  std::vector<int64_t> counts;
  int64_t shares = o.uneven ? int64_t(P) * (P + 1) / 2 : P, before = 0;
  for (int p = 0; p < P; ++p) {
    int64_t upto = before + (o.uneven ? p + 1 : 1);
    counts.push_back(N * upto / shares - N * before / shares);
    before = upto;
  }
  attn::dist::Ranges ranges = attn::dist::Ranges::fromCounts(counts);
  const int64_t begin = ranges.begin(me), n = counts[size_t(me)];

  // The same seeded inputs on every rank; a benchmark holds only its own
  // rows (so that its memory is what one rank of a real run holds).
  const int64_t rowsHeld = o.bench > 0 ? n : N, at = o.bench > 0 ? 0 : begin;
  std::mt19937_64 rng(uint64_t(o.seed) + (o.bench > 0 ? uint64_t(me) : 0));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto fill = [&](size_t count) {
    std::vector<float> v(count);
    for (float &x : v)
      x = normal(rng);
    return v;
  };
  std::vector<float> Q = fill(size_t(B * H * rowsHeld * D)),
                     K = fill(size_t(B * Hk * rowsHeld * D)),
                     V = fill(size_t(B * Hk * rowsHeld * D));
  if (o.kind == "lightning") // small keys keep the decayed sums moderate
    for (float &x : K)
      x *= 0.25f;
  std::vector<float> slopes(static_cast<size_t>(H));
  for (int64_t h = 0; h < H; ++h)
    slopes[size_t(h)] = 0.02f + 0.3f * float(h) / float(H);

  attn_context *ctx = nullptr;
  auto check = [&](attn_status s, const char *what) {
    if (s != ATTN_OK)
      throw std::runtime_error(std::string(what) + ": " + attn_status_name(s) +
                               ": " + attn_last_error());
  };
  check(attn_context_create(ATTN_DEVICE_CPU, o.threads, &ctx), "CPU context");
  MPI_Comm world = MPI_COMM_WORLD;
  attn_comm *comm = nullptr;
  check(attn_comm_create_mpi(&world, &comm), "attn_comm_create_mpi");

  // The distributed call on this rank's rows (views into the full arrays).
  std::vector<float> out(size_t(B * H * std::max<int64_t>(n, 1) * D),
                         std::nanf(""));
  attn_tensor q = view(Q.data() + at * D, B, H, n, D, rowsHeld),
              k = view(K.data() + at * D, B, Hk, n, D, rowsHeld),
              v = view(V.data() + at * D, B, Hk, n, D, rowsHeld),
              od = view(out.data(), B, H, n, D, n);
  attn_dilated_params params{int(o.segments.size()), o.segments.data(),
                             o.rates.data(), o.grouped, o.causal, 0.0f};
  std::vector<float> stateDist(size_t(B * H * D * D), std::nanf(""));
  attn_tensor stateT = view(stateDist.data(), B, H, D, D, D);
  attn_dist_stats stats{};
  auto distributed = [&]() {
    if (o.kind == "dilated")
      check(attn_dilated_seqpar(ctx, comm, &params, &q, &k, &v, &od, &stats),
            "attn_dilated_seqpar");
    else
      check(attn_lightning_seqpar(ctx, comm, &q, &k, &v, &od,
                                  o.defaultSlopes ? nullptr : slopes.data(),
                                  &stateT, 0.0f, &stats),
            "attn_lightning_seqpar");
  };
  distributed();

  if (o.bench > 0) {
    std::vector<double> times;
    for (int r = 0; r < o.bench; ++r) {
      MPI_Barrier(MPI_COMM_WORLD);
      auto t0 = std::chrono::steady_clock::now();
      distributed();
      double s = std::chrono::duration<double>(
                     std::chrono::steady_clock::now() - t0)
                     .count(),
             slowest = 0;
      MPI_Allreduce(&s, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      times.push_back(slowest);
    }
    std::sort(times.begin(), times.end());
    double median = times[times.size() / 2];
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    unsigned long long mine[3] = {(unsigned long long)stats.bytes_sent,
                                  (unsigned long long)stats.bytes_received,
                                  (unsigned long long)usage.ru_maxrss * 1024},
                       most[3];
    MPI_Reduce(mine, most, 3, MPI_UNSIGNED_LONG_LONG, MPI_MAX, 0,
               MPI_COMM_WORLD);
    if (me == 0)
      std::printf("{\"kind\": \"%s\", \"ranks\": %d, \"n\": %lld, "
                  "\"tokens_per_rank\": %lld, \"seconds\": %.6f, "
                  "\"tokens_per_second\": %.1f, \"max_bytes_sent\": %llu, "
                  "\"max_bytes_received\": %llu, \"max_peak_rss\": %llu}\n",
                  o.kind.c_str(), P, (long long)N, (long long)(N / P), median,
                  double(B * N) / median, most[0], most[1], most[2]);
    attn_comm_destroy(comm);
    attn_context_destroy(ctx);
    return 0;
  }

  // One process, the whole sequence.
  std::vector<float> ref(size_t(B * H * N * D)), lse(size_t(B * H * N));
  std::vector<float> stateRef(size_t(B * H * D * D));
  attn_kernel *kernel = nullptr;
  attn_tensor qa = view(Q.data(), B, H, N, D, N), ka = view(K.data(), B, Hk, N, D, N),
              va = view(V.data(), B, Hk, N, D, N), oa = view(ref.data(), B, H, N, D, N);
  if (o.kind == "dilated") {
    std::string pattern = "#attn.dilated<segments = " + text(o.segments) +
                          ", rates = " + text(o.rates) +
                          (o.causal ? "" : ", causal = false") +
                          (o.grouped ? ", offsets = grouped" : "") + ">";
    check(attn_get_kernel(ctx, pattern.c_str(), ATTN_F32, D, D, 0.0f, 1, &kernel),
          "the single-process kernel");
    attn_tensor l{};
    l.data = lse.data();
    l.dtype = ATTN_F32;
    l.rank = 3;
    int64_t shape[3] = {B, H, N}, strides[3] = {H * N, N, 1};
    for (int i = 0; i < 3; ++i) {
      l.shape[i] = shape[i];
      l.strides[i] = strides[i];
    }
    attn_tensor args[5] = {qa, ka, va, oa, l};
    check(attn_launch(ctx, kernel, args, 5), "the single-process launch");
  } else {
    int flags = ATTN_LIGHTNING_STATE_OUT |
                (o.defaultSlopes ? 0 : ATTN_LIGHTNING_SLOPES);
    check(attn_get_lightning_kernel(ctx, ATTN_F32, D, D, 0.0f, flags, &kernel),
          "the single-process kernel");
    attn_tensor s{};
    s.data = slopes.data();
    s.dtype = ATTN_F32;
    s.rank = 1;
    s.shape[0] = H;
    s.strides[0] = 1;
    attn_tensor st = view(stateRef.data(), B, H, D, D, D);
    std::vector<attn_tensor> args = {qa, ka, va, oa};
    if (!o.defaultSlopes)
      args.push_back(s);
    args.push_back(st);
    check(attn_launch(ctx, kernel, args.data(), int(args.size())),
          "the single-process launch");
  }
  attn_kernel_release(kernel);

  // This rank's rows against the reference's, relative to its largest |O|.
  double scale = 0, err = 0;
  for (float x : ref)
    scale = std::max(scale, double(std::fabs(x)));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < D; ++j) {
          double got = out[size_t(((b * H + h) * n + i) * D + j)],
                 want = ref[size_t(((b * H + h) * N + begin + i) * D + j)];
          double e = std::fabs(got - want);
          err = std::isnan(got) ? INFINITY : std::max(err, e);
        }
  err /= std::max(scale, 1e-30);
  // The last rank's state is the sequence's final state.
  double stateErr = 0;
  if (o.kind == "lightning" && me == P - 1) {
    double sScale = 0;
    for (float x : stateRef)
      sScale = std::max(sScale, double(std::fabs(x)));
    for (size_t i = 0; i < stateRef.size(); ++i)
      stateErr = std::isnan(stateDist[i])
                     ? INFINITY
                     : std::max(stateErr, std::fabs(double(stateDist[i]) -
                                                    stateRef[i]));
    stateErr /= std::max(sScale, 1e-30);
  }
  // The bytes moved against the plan's count.
  int trafficOk = 1;
  if (o.kind == "dilated") {
    attn::dist::Dilated d;
    d.segments = o.segments;
    d.rates = o.rates;
    d.grouped = o.grouped;
    d.causal = o.causal;
    d.heads = H;
    attn::dist::Traffic t = attn::dist::dilatedTraffic(ranges, d, me, B, 2 * D * 4);
    trafficOk = t.sent == stats.bytes_sent && t.received == stats.bytes_received;
  }
  double mine[2] = {err, stateErr}, worst[2];
  MPI_Allreduce(mine, worst, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  int allTraffic = 0;
  MPI_Allreduce(&trafficOk, &allTraffic, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  std::vector<unsigned long long> sent(static_cast<size_t>(P)), recv(sent.size());
  unsigned long long s0 = stats.bytes_sent, r0 = stats.bytes_received;
  MPI_Gather(&s0, 1, MPI_UNSIGNED_LONG_LONG, sent.data(), 1,
             MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
  MPI_Gather(&r0, 1, MPI_UNSIGNED_LONG_LONG, recv.data(), 1,
             MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
  bool pass = worst[0] <= o.tol && worst[1] <= o.tol && allTraffic;
  if (me == 0) {
    std::string c;
    for (int p = 0; p < P; ++p)
      c += (p ? " " : "") + std::to_string(counts[size_t(p)]);
    std::printf("%s: %d ranks, N = %lld (rows per rank %s), B = %lld, H = %lld, "
                "Hk = %lld, D = %lld",
                o.kind.c_str(), P, (long long)N, c.c_str(), (long long)B,
                (long long)H, (long long)Hk, (long long)D);
    if (o.kind == "dilated")
      std::printf(", segments %s, rates %s, %s, %s", text(o.segments).c_str(),
                  text(o.rates).c_str(), o.grouped ? "grouped" : "interleaved",
                  o.causal ? "causal" : "not causal");
    std::printf("\n  max relative error against one process %.2e", worst[0]);
    if (o.kind == "lightning")
      std::printf(", final state %.2e", worst[1]);
    std::printf(" (tolerance %.0e)\n  bytes sent/received per rank:", o.tol);
    for (int p = 0; p < P; ++p)
      std::printf(" %llu/%llu", sent[size_t(p)], recv[size_t(p)]);
    std::printf("%s\n%s\n",
                o.kind == "dilated"
                    ? (allTraffic ? " (the plan's count)" : " (NOT the plan's count)")
                    : " (the states' all-gather)",
                pass ? "PASS" : "FAIL");
  }
  attn_comm_destroy(comm);
  attn_context_destroy(ctx);
  return pass ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int me = 0, P = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  int rc;
  try {
    rc = run(argc, argv, me, P);
  } catch (const std::exception &e) {
    // Argument errors are the same on every rank: rank 0 says it.
    if (me == 0)
      std::fprintf(stderr, "attn-dist-check: %s\n", e.what());
    rc = 2;
  }
  MPI_Finalize();
  return rc;
}
