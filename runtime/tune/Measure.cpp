//===- Measure.cpp - the tuner's gate and timer, over the runtime alone ---===//
#include "runtime/tune/Measure.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>

namespace attn::measure {

namespace {

template <typename To, typename From> To bitsOf(From f) {
  static_assert(sizeof(To) == sizeof(From));
  To t;
  std::memcpy(&t, &f, sizeof(t));
  return t;
}
uint16_t toHalf(float f) { return bitsOf<uint16_t>(_Float16(f)); }
uint16_t toBF16(float f) {
  uint32_t u = bitsOf<uint32_t>(f);
  return uint16_t((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}
double fromElem(const void *p, size_t i, attn_dtype t) {
  if (t == ATTN_F32)
    return static_cast<const float *>(p)[i];
  uint16_t h = static_cast<const uint16_t *>(p)[i];
  if (t == ATTN_F16)
    return double(bitsOf<_Float16>(h));
  return double(bitsOf<float>(uint32_t(h) << 16));
}
size_t elemSize(attn_dtype t) { return t == ATTN_F32 ? 4 : 2; }

} // namespace

/// A contiguous tensor: its bytes on the host and, on a GPU, a copy in
/// device memory that the launches use.
struct Bench::Tensor {
  attn_context *ctx = nullptr;
  std::vector<char> host;
  void *device = nullptr; ///< the host bytes on a CPU context
  attn_tensor t{};

  Tensor(attn_context *ctx, attn_dtype dtype, std::vector<int64_t> shape)
      : ctx(ctx) {
    t.dtype = dtype;
    t.rank = int32_t(shape.size());
    size_t n = 1;
    for (int i = t.rank - 1; i >= 0; --i) {
      t.shape[i] = shape[i];
      t.strides[i] = int64_t(n);
      n *= size_t(shape[i]);
    }
    host.assign(n * elemSize(dtype), 0);
  }
  ~Tensor() {
    if (device && device != host.data())
      attn_device_free(ctx, device);
  }
  size_t count() const { return host.size() / elemSize(t.dtype); }
  /// Places the tensor where launches read it; "" or why not.
  std::string place(bool cuda) {
    if (!cuda) {
      device = host.data();
    } else if (attn_device_alloc(ctx, host.size(), &device) != ATTN_OK) {
      return attn_last_error();
    }
    t.data = device;
    return upload();
  }
  std::string upload() {
    if (device != host.data() &&
        attn_copy_to_device(ctx, device, host.data(), host.size()) != ATTN_OK)
      return attn_last_error();
    return "";
  }
  std::string download() {
    if (device != host.data() &&
        attn_copy_to_host(ctx, host.data(), device, host.size()) != ATTN_OK)
      return attn_last_error();
    return "";
  }
  /// Uniform in [lo, hi) from splitmix64 seeded by `rng` (fast enough for
  /// the hundreds of millions of elements of long GPU shapes).
  void fill(std::mt19937_64 &rng, float lo, float hi) {
    uint64_t state = rng();
    for (size_t i = 0; i < count(); ++i) {
      uint64_t z = (state += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      float x = lo + (hi - lo) * float(z >> 40) * (1.0f / 16777216.0f);
      if (t.dtype == ATTN_F32)
        reinterpret_cast<float *>(host.data())[i] = x;
      else
        reinterpret_cast<uint16_t *>(host.data())[i] =
            t.dtype == ATTN_F16 ? toHalf(x) : toBF16(x);
    }
  }
  /// All-ones bits: a NaN in every dtype.
  std::string poison() {
    std::memset(host.data(), 0xFF, host.size());
    return upload();
  }
  double at(size_t i) const { return fromElem(host.data(), i, t.dtype); }
};

/// The tensors of one launch.
struct Bench::Set {
  std::vector<Tensor *> in;  ///< q, k, v (+ slopes, state_in)
  std::vector<Tensor *> out; ///< o (+ lse or state_out)
  std::vector<attn_tensor> args;
  ~Set() {
    for (Tensor *t : in)
      delete t;
    for (Tensor *t : out)
      delete t;
  }
};

std::string checkProblem(const Problem &p) {
  if (p.op != "attention" && p.op != "lightning")
    return "op must be attention or lightning, got '" + p.op + "'";
  if (p.batch < 1 || p.heads < 1 || p.kvHeads < 1 || p.nq < 1 || p.nk < 1 ||
      p.d < 1 || p.dv < 1 || p.heads % p.kvHeads)
    return "shape must be positive with H a multiple of Hk, got B = " +
           std::to_string(p.batch) + ", H = " + std::to_string(p.heads) +
           ", Hk = " + std::to_string(p.kvHeads) + ", Nq = " +
           std::to_string(p.nq) + ", Nk = " + std::to_string(p.nk) +
           ", D = " + std::to_string(p.d) + ", Dv = " + std::to_string(p.dv);
  if (p.op == "lightning" && p.nq != p.nk)
    return "lightning needs Nq = Nk";
  return "";
}

double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

Bench::Bench(attn_context *ctx, const Problem &p)
    : ctx(ctx), p(p), cuda(attn_context_threads(ctx) == 0) {}

Bench::~Bench() {
  for (Set *s : sets)
    delete s;
}

std::string Bench::prepare() {
  if (std::string why = checkProblem(p); !why.empty())
    return why;
  std::mt19937_64 rng(std::random_device{}());
  bool light = p.op == "lightning";
  size_t setBytes = elemSize(p.dtype) * size_t(p.batch) *
                    size_t(p.heads * p.nq * (p.d + p.dv) +
                           p.kvHeads * p.nk * (p.d + p.dv));
  // Rotating inputs: up to 3 sets within 768 MB, so a run does not find the
  // previous run's data in cache (on a GPU the L2 flush does that too).
  size_t numSets = std::clamp<size_t>(
      (768u << 20) / std::max<size_t>(setBytes, 1), 1, 3);
  for (size_t s = 0; s < numSets; ++s) {
    Set *a = new Set;
    sets.push_back(a);
    auto add = [&](std::vector<Tensor *> &to, attn_dtype dtype,
                   std::vector<int64_t> shape) {
      to.push_back(new Tensor(ctx, dtype, std::move(shape)));
      return to.back();
    };
    add(a->in, p.dtype, {p.batch, p.heads, p.nq, p.d});
    add(a->in, p.dtype, {p.batch, p.kvHeads, p.nk, p.d});
    add(a->in, p.dtype, {p.batch, p.kvHeads, p.nk, p.dv});
    for (Tensor *t : a->in)
      t->fill(rng, -1, 1);
    add(a->out, p.dtype, {p.batch, p.heads, p.nq, p.dv});
    if (light) {
      if (p.lightningFlags & ATTN_LIGHTNING_SLOPES)
        add(a->in, ATTN_F32, {p.heads})->fill(rng, 0.01f, 0.5f);
      if (p.lightningFlags & ATTN_LIGHTNING_STATE_IN)
        add(a->in, ATTN_F32, {p.batch, p.heads, p.d, p.dv})->fill(rng, -1, 1);
      if (p.lightningFlags & ATTN_LIGHTNING_STATE_OUT)
        add(a->out, ATTN_F32, {p.batch, p.heads, p.d, p.dv});
    } else if (p.lse) {
      add(a->out, ATTN_F32, {p.batch, p.heads, p.nq});
    }
    for (Tensor *t : a->in)
      if (std::string why = t->place(cuda); !why.empty())
        return "inputs: " + why;
    for (Tensor *t : a->out)
      if (std::string why = t->place(cuda); !why.empty())
        return "outputs: " + why;
    // In the kernel's order: q, k, v, o, then the optional ones.
    for (size_t i = 0; i < 3; ++i)
      a->args.push_back(a->in[i]->t);
    a->args.push_back(a->out[0]->t);
    for (size_t i = 3; i < a->in.size(); ++i)
      a->args.push_back(a->in[i]->t);
    if (a->out.size() > 1)
      a->args.push_back(a->out[1]->t);
  }
  return "";
}

double Bench::time(attn_kernel *k, size_t s, std::string &why) {
  Set &a = *sets[s % sets.size()];
  float ms = 0;
  if (attn_benchmark(ctx, k, a.args.data(), int(a.args.size()), 1,
                     /*flush_l2=*/1, &ms) != ATTN_OK) {
    why = attn_last_error();
    return -1;
  }
  return ms;
}

bool Bench::gateRun(attn_kernel *k, double &ms, std::string &why) {
  Set &a = *sets[0];
  for (Tensor *t : a.out)
    if (why = t->poison(); !why.empty())
      return false;
  ms = time(k, 0, why);
  if (ms < 0)
    return false;
  for (Tensor *t : a.out)
    if (why = t->download(); !why.empty())
      return false;
  return true;
}

Outcome Bench::run(attn_kernel *k, bool isDefault, double targetMs) {
  Outcome c;
  double t = 0;
  if (!gateRun(k, t, c.reason)) {
    c.verdict = "failed";
    return c;
  }
  const std::vector<Tensor *> &outs = sets[0]->out;
  bool f32 = p.dtype == ATTN_F32;
  if (isDefault) {
    reference.clear();
    for (const Tensor *o : outs) {
      for (size_t j = 0; j < o->count(); ++j)
        if (std::isnan(o->at(j))) {
          c.verdict = "failed";
          c.reason = "the default config left NaN or unwritten outputs";
          return c;
        }
      reference.push_back(o->host);
    }
  } else {
    // Against the default's output on the same inputs, relative to max
    // |O|: SPEC.md's tolerance twice (both carry rounding error).
    double tol = 2 * (f32 ? 1e-5 : 1e-2);
    for (size_t o = 0; o < reference.size(); ++o) {
      const Tensor &got = *outs[o];
      const void *ref = reference[o].data();
      bool isLse = p.op != "lightning" && o == 1;
      double maxRef = 0, maxErr = 0;
      bool nan = false;
      for (size_t j = 0; j < got.count(); ++j) {
        double a = fromElem(ref, j, got.t.dtype), b = got.at(j);
        if (std::isnan(b)) {
          nan = true;
          break;
        }
        if (isLse) {
          // Natural-log sums: absolute error, -inf where no key is allowed.
          if (a != b)
            maxErr = std::max(maxErr, std::fabs(a - b));
          continue;
        }
        maxRef = std::max(maxRef, std::fabs(a));
        maxErr = std::max(maxErr, std::fabs(a - b));
      }
      double rel = isLse ? maxErr : maxErr / std::max(maxRef, 1e-30);
      if (!isLse)
        c.maxError = std::max(c.maxError, rel);
      if (nan || !(rel <= (isLse ? 10 * tol : tol))) {
        c.verdict = "rejected";
        char buf[160];
        std::snprintf(buf, sizeof(buf),
                      nan ? "gate: NaN or unwritten %s elements"
                          : "gate: %s differs from the default's by %.3g "
                            "(tolerance %.3g)",
                      isLse ? "LSE" : (o ? "state" : "O"), rel,
                      isLse ? 10 * tol : tol);
        c.reason = buf;
        return c;
      }
    }
  }
  // Timing: the median of repeated runs over the rotating input sets; the
  // gate run was the warm-up.
  int reps = int(std::clamp(targetMs / std::max(t, 1e-3), 3.0, 15.0));
  for (int rep = 0; rep < reps; ++rep) {
    double ms = time(k, size_t(rep + 1), c.reason);
    if (ms < 0) {
      c.verdict = "failed";
      return c;
    }
    c.samples.push_back(ms);
  }
  c.medianMs = median(c.samples);
  if (isDefault)
    defaultMs_ = c.medianMs;
  c.verdict = "timed";
  return c;
}

size_t Bench::retime(const std::vector<attn_kernel *> &kernels,
                     std::vector<Outcome> &outcomes, double leftSeconds,
                     size_t keep) {
  std::vector<size_t> order;
  for (size_t i = 0; i < outcomes.size(); ++i)
    if (outcomes[i].medianMs > 0 && kernels[i])
      order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return outcomes[a].medianMs < outcomes[b].medianMs;
  });
  // Up to `keep` and the default, as many as three rounds of fit in what is
  // left (at least the best and the default).
  auto roundOf = [&](size_t n) {
    double ms = outcomes[0].medianMs;
    for (size_t j = 0; j < std::min(n, order.size()); ++j)
      ms += order[j] ? outcomes[order[j]].medianMs : 0;
    return ms;
  };
  while (keep > 1 && 3 * roundOf(keep) > leftSeconds * 1000)
    --keep;
  if (order.size() > keep)
    order.resize(keep);
  if (std::find(order.begin(), order.end(), size_t(0)) == order.end() &&
      outcomes[0].medianMs > 0 && kernels[0])
    order.push_back(0);
  double roundMs = 0;
  for (size_t i : order)
    roundMs += outcomes[i].medianMs;
  int rounds =
      int(std::clamp(leftSeconds * 1000 / std::max(roundMs, 1e-3), 3.0, 9.0));
  std::map<size_t, std::vector<double>> again;
  std::string why;
  for (int round = 0; round < rounds; ++round)
    for (size_t i : order) {
      double ms = time(kernels[i], size_t(round) + i, why);
      if (ms >= 0)
        again[i].push_back(ms);
    }
  size_t best = 0;
  double bestMs = 0;
  for (auto &[i, v] : again) {
    outcomes[i].medianMs = median(v);
    if (bestMs == 0 || outcomes[i].medianMs < bestMs) {
      best = i;
      bestMs = outcomes[i].medianMs;
    }
  }
  // Within 2 % of the default, the default stays: noise does not move it.
  double defMs = outcomes[0].medianMs;
  if (best != 0 && defMs > 0 && bestMs > 0.98 * defMs) {
    outcomes[best].reason = "within 2 % of the default: not chosen";
    best = 0;
  }
  return best;
}

} // namespace attn::measure
