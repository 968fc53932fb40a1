//===- SeqParallel.cpp - sequence-parallel dilated and lightning ----------===//
// The algorithms of attndist.h over a Transport and the runtime's kernels:
//  - dilated: per pattern, the exchange Plan.h describes (one all-to-all),
//    then per (batch, segment, query head) one dense attention with its LSE
//    (causal: the rank's selected queries are the last rows of the gathered
//    keys, so the kernel's bottom-right alignment is the causal mask), then
//    SPEC's merge of the patterns by LSE;
//  - lightning: a pass from a zero state, an all-gather of the final
//    states, the decayed fold of the earlier ranks' states, a pass from it.
// Before any data moves, every rank shares its shapes and whether its
// arguments are valid, so that a bad argument on one rank fails every rank
// with the same status instead of leaving the others in a collective.
// The data path is host memory (CPU contexts).
//===----------------------------------------------------------------------===//
#include "runtime/attndist.h"
#include "runtime/core/Half.h"
#include "runtime/core/Internal.h"
#include "runtime/dist/Plan.h"
#include "runtime/dist/Transport.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

using namespace attn::dist;
using attnrt::fail;

namespace {

size_t elementBytes(attn_dtype t) { return t == ATTN_F32 ? 4 : 2; }

float toFloat(const char *p, attn_dtype t) {
  if (t == ATTN_F32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  uint16_t u;
  std::memcpy(&u, p, 2);
  return attnrt::halfToFloat(u, t);
}

void fromFloat(float f, char *p, attn_dtype t) {
  if (t == ATTN_F32) {
    std::memcpy(p, &f, 4);
    return;
  }
  uint16_t u = attnrt::floatToHalf(f, t);
  std::memcpy(p, &u, 2);
}

/// A [B, H, n, D] tensor's element (b, h, i, j).
char *at(const attn_tensor &t, int64_t b, int64_t h, int64_t i, int64_t j = 0) {
  return static_cast<char *>(t.data) +
         (b * t.strides[0] + h * t.strides[1] + i * t.strides[2] + j) *
             int64_t(elementBytes(t.dtype));
}

attn_tensor tensor4(void *data, attn_dtype dtype, int64_t s0, int64_t s1,
                    int64_t s2, int64_t s3, int64_t t0, int64_t t1, int64_t t2) {
  attn_tensor t{};
  t.data = data;
  t.dtype = dtype;
  t.rank = 4;
  int64_t shape[4] = {s0, s1, s2, s3}, strides[4] = {t0, t1, t2, 1};
  for (int i = 0; i < 4; ++i) {
    t.shape[i] = shape[i];
    t.strides[i] = strides[i];
  }
  return t;
}

/// What every rank tells the others before data moves.
struct Header {
  int64_t status, batch, heads, kvHeads, d, dv, n, dtype;
  uint64_t params; // a digest of the call's parameters
};

/// FNV-1a, for the parameters' digests.
struct Digest {
  uint64_t h = 1469598103934665603ull;
  void add(const void *p, size_t bytes) {
    for (size_t i = 0; i < bytes; ++i) {
      h ^= static_cast<const unsigned char *>(p)[i];
      h *= 1099511628211ull;
    }
  }
  template <typename T> void add(T x) { add(&x, sizeof x); }
};

/// The dilated parameters' digest, so that ranks called with different
/// schedules or scales fail instead of exchanging mismatched sizes.
uint64_t digest(const Dilated &d, float scale) {
  Digest g;
  for (size_t k = 0; k < d.segments.size(); ++k) {
    g.add(d.segments[k]);
    g.add(d.rates[k]);
  }
  g.add(d.grouped);
  g.add(d.causal);
  g.add(scale);
  return g.h;
}

/// Checks the local arguments (an error text, empty when valid).
std::string checkTensors(const attn_tensor *q, const attn_tensor *k,
                         const attn_tensor *v, const attn_tensor *o) {
  if (!q || !k || !v || !o)
    return "q, k, v and o are required";
  for (const attn_tensor *t : {q, k, v, o}) {
    if (t->rank != 4)
      return "q, k, v and o are rank-4 [B, H, n, D] tensors";
    if (t->strides[3] != 1)
      return "the innermost stride must be 1";
    if (t->dtype != q->dtype)
      return "q, k, v and o must have one dtype";
    if (unsigned(t->dtype) > unsigned(ATTN_BF16))
      return "unknown dtype";
    if (!t->data && t->shape[2] > 0)
      return "a tensor with rows has no data";
    for (int i = 0; i < 4; ++i)
      if (t->shape[i] < 0 || t->strides[i] < 0)
        return "negative shape or stride";
  }
  int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2];
  if (k->shape[0] != B || v->shape[0] != B || o->shape[0] != B)
    return "q, k, v and o must have one batch size";
  if (k->shape[2] != n || v->shape[2] != n || o->shape[2] != n)
    return "q, k, v and o must hold the same positions (n rows each)";
  if (k->shape[1] == 0 || H % k->shape[1] != 0 || v->shape[1] != k->shape[1])
    return "k and v have Hk heads, a divisor of q's H";
  if (o->shape[1] != H || k->shape[3] != q->shape[3] ||
      o->shape[3] != v->shape[3])
    return "o is [B, H, n, Dv] for q [B, H, n, D], k [B, Hk, n, D], "
           "v [B, Hk, n, Dv]";
  return "";
}

/// A rank's local verdict before the handshake: a status and its message.
struct Local {
  attn_status status = ATTN_OK;
  std::string error;
  void set(attn_status s, const std::string &message) {
    if (status == ATTN_OK) {
      status = s;
      error = message;
    }
  }
};

/// Shares the headers and fails every rank alike when one failed its local
/// checks (arguments, kernels) or the shapes or parameters disagree;
/// `counts` gets every rank's n.
attn_status agree(Transport &t, const Local &local, const attn_tensor *q,
                  const attn_tensor *k, const attn_tensor *v, uint64_t params,
                  std::vector<int64_t> &counts) {
  Header mine{int64_t(local.status), 0, 0, 0, 0, 0, 0, 0, 0};
  if (local.status == ATTN_OK)
    mine = {0,           q->shape[0], q->shape[1], k->shape[1],
            q->shape[3], v->shape[3], q->shape[2], int64_t(q->dtype), params};
  std::vector<Header> all(size_t(t.size()));
  if (attn_status s = t.allGather(&mine, sizeof mine, all.data()))
    return s;
  for (size_t p = 0; p < all.size(); ++p)
    if (all[p].status != ATTN_OK)
      return fail(attn_status(all[p].status),
                  int(p) == t.rank()
                      ? "sequence parallel: " + local.error
                      : "sequence parallel: rank " + std::to_string(p) +
                            " failed: " +
                            attn_status_name(attn_status(all[p].status)));
  counts.clear();
  for (const Header &h : all) {
    if (h.batch != mine.batch || h.heads != mine.heads ||
        h.kvHeads != mine.kvHeads || h.d != mine.d || h.dv != mine.dv ||
        h.dtype != mine.dtype || h.params != mine.params)
      return fail(ATTN_ERROR_INVALID_ARGUMENT,
                  "sequence parallel: the ranks' calls disagree in batch, "
                  "heads, head dims, dtype or parameters");
    counts.push_back(h.n);
  }
  return ATTN_OK;
}

const char *kNoGpu =
    "sequence parallelism on CUDA contexts (NCCL) does not run yet: the "
    "exchange plans and the NCCL transport are there, the device-side "
    "gathers and merge are not (docs/distributed.md)";

/// The communicator itself, before the handshake (every rank has the same
/// kind of transport, so every rank returns alike).
attn_status usable(attn_comm *comm) {
  if (!comm || !comm->transport)
    return fail(ATTN_ERROR_INVALID_ARGUMENT,
                "sequence parallel: null communicator");
  if (comm->transport->onDevice())
    return fail(ATTN_ERROR_UNSUPPORTED, kNoGpu);
  return ATTN_OK;
}

/// The context, into the local verdict.
void checkContext(attn_context *ctx, Local &local) {
  if (!ctx)
    local.set(ATTN_ERROR_INVALID_ARGUMENT, "null context");
  else if (attnrt::isCuda(ctx))
    local.set(ATTN_ERROR_UNSUPPORTED, kNoGpu);
}

/// What both entry points check first: the communicator (returned: every
/// rank has the same kind), then the context and tensors (into `local`,
/// shared at the handshake).
attn_status start(attn_context *ctx, attn_comm *comm, const attn_tensor *q,
                  const attn_tensor *k, const attn_tensor *v,
                  const attn_tensor *o, Local &local) {
  if (attn_status s = usable(comm))
    return s;
  checkContext(ctx, local);
  std::string bad = checkTensors(q, k, v, o);
  if (!bad.empty())
    local.set(ATTN_ERROR_INVALID_ARGUMENT, bad);
  return ATTN_OK;
}

/// Before an exchange, every rank learns the largest one any rank makes:
/// beyond what the transport carries, every rank fails alike.
attn_status checkSizes(Transport &t, uint64_t sendTotal, uint64_t recvTotal) {
  uint64_t mine[2] = {sendTotal, recvTotal};
  std::vector<uint64_t> all(2 * size_t(t.size()));
  if (attn_status s = t.allGather(mine, sizeof mine, all.data()))
    return s;
  uint64_t most = *std::max_element(all.begin(), all.end());
  if (most > t.maxBytes())
    return fail(ATTN_ERROR_UNSUPPORTED,
                "sequence parallel: one rank's exchange is " +
                    std::to_string(most) + " bytes, more than the transport "
                    "carries in one call (" +
                    std::to_string(t.maxBytes()) +
                    "; MPI counts bytes in int): split the batch or the "
                    "heads over several calls");
  return ATTN_OK;
}

/// SPEC's default lightning slopes (ALiBi) for H heads.
std::vector<float> alibiSlopes(int64_t H) {
  auto powers = [](int64_t n) {
    std::vector<double> s;
    for (int64_t h = 0; h < n; ++h)
      s.push_back(std::pow(2.0, -8.0 * double(h + 1) / double(n)));
    return s;
  };
  int64_t p = 1;
  while (p * 2 <= H)
    p *= 2;
  std::vector<double> s = powers(p), more = powers(2 * p);
  for (size_t i = 0; int64_t(s.size()) < H; i += 2)
    s.push_back(more[i]);
  return std::vector<float>(s.begin(), s.begin() + H);
}

} // namespace

extern "C" {

attn_status attn_comm_create_mpi(const void *mpiComm, attn_comm **out) {
  if (!mpiComm || !out)
    return fail(ATTN_ERROR_INVALID_ARGUMENT, "attn_comm_create_mpi: null argument");
  *out = nullptr;
  std::unique_ptr<Transport> t;
  if (attn_status s = createMpiTransport(mpiComm, t))
    return s;
  *out = new attn_comm{std::move(t)};
  return ATTN_OK;
}

attn_status attn_comm_create_nccl(void *ncclComm, void *stream,
                                  attn_comm **out) {
  if (!ncclComm || !out)
    return fail(ATTN_ERROR_INVALID_ARGUMENT,
                "attn_comm_create_nccl: null communicator or out");
  *out = nullptr;
  std::unique_ptr<Transport> t;
  if (attn_status s = createNcclTransport(ncclComm, stream, t))
    return s;
  *out = new attn_comm{std::move(t)};
  return ATTN_OK;
}

attn_status attn_comm_destroy(attn_comm *comm) {
  if (!comm)
    return fail(ATTN_ERROR_INVALID_ARGUMENT, "attn_comm_destroy: null");
  delete comm;
  return ATTN_OK;
}

attn_status attn_comm_rank(const attn_comm *comm, int *rank, int *size) {
  if (!comm || !comm->transport || !rank || !size)
    return fail(ATTN_ERROR_INVALID_ARGUMENT, "attn_comm_rank: null argument");
  *rank = comm->transport->rank();
  *size = comm->transport->size();
  return ATTN_OK;
}

attn_status attn_dilated_seqpar(attn_context *ctx, attn_comm *comm,
                                const attn_dilated_params *params,
                                const attn_tensor *q, const attn_tensor *k,
                                const attn_tensor *v, const attn_tensor *o,
                                attn_dist_stats *stats) {
  Local local;
  if (attn_status s = start(ctx, comm, q, k, v, o, local))
    return s;
  Transport &t = *comm->transport;
  Dilated d;
  if (local.status == ATTN_OK &&
      (!params || params->num_patterns <= 0 || !params->segments ||
       !params->rates))
    local.set(ATTN_ERROR_INVALID_ARGUMENT,
              "dilated parameters: at least one segment length and rate");
  if (local.status == ATTN_OK) {
    d.segments.assign(params->segments, params->segments + params->num_patterns);
    d.rates.assign(params->rates, params->rates + params->num_patterns);
    d.grouped = params->grouped != 0;
    d.causal = params->causal != 0;
    d.heads = q->shape[1];
    if (const char *why = d.check())
      local.set(ATTN_ERROR_INVALID_ARGUMENT,
                std::string("dilated parameters: ") + why);
    else if (!std::isfinite(params->scale) || params->scale < 0)
      local.set(ATTN_ERROR_INVALID_ARGUMENT,
                "dilated parameters: the scale is finite and >= 0");
  }
  // The kernel before the handshake: a rank that cannot get it fails every
  // rank instead of leaving them in the exchange.
  attn_kernel *kernel = nullptr;
  if (local.status == ATTN_OK)
    if (attn_status s = attn_get_kernel(
            ctx, d.causal ? "#attn.causal" : "#attn.full", q->dtype,
            q->shape[3], v->shape[3], params->scale, 1, &kernel))
      local.set(s, attn_last_error());
  struct Release {
    attn_kernel *k;
    ~Release() {
      if (k)
        attn_kernel_release(k);
    }
  } release{kernel};
  std::vector<int64_t> counts;
  if (attn_status s = agree(t, local, q, k, v,
                            local.status == ATTN_OK ? digest(d, params->scale)
                                                    : 0,
                            counts))
    return s;
  const Ranges ranges = Ranges::fromCounts(counts);
  const int me = t.rank(), P = t.size();
  const attn_dtype dt = q->dtype;
  const int64_t B = q->shape[0], H = q->shape[1], G = H / k->shape[1],
                D = q->shape[3], Dv = v->shape[3], n = q->shape[2],
                begin = ranges.begin(me);
  const size_t esz = elementBytes(dt);
  const int64_t rowK = D * int64_t(esz), rowV = Dv * int64_t(esz),
                rowBytes = rowK + rowV;


  const size_t K = d.segments.size();
  // The current pattern's output (this rank's rows, contiguous) and LSE
  // (-inf where it selects no key for a row), and the merge of the patterns
  // so far (SPEC's merge, in f32): memory does not grow with the patterns.
  std::vector<char> part;
  std::vector<float> lse, merged(size_t(B * H * n * Dv), 0.0f),
      mergedLse(size_t(B * H * n), -INFINITY);
  attn_dist_stats moved{0, 0};
  std::vector<char> keys, values;
  std::vector<float> lseRows;
  for (size_t kk = 0; kk < K; ++kk) {
    const int64_t w = d.segments[kk], r = d.rates[kk];
    // The exchange: per destination, per batch, its pieces' K rows then V
    // rows.
    const size_t ranksCount = static_cast<size_t>(P);
    std::vector<std::vector<Piece>> out(ranksCount), in(ranksCount);
    std::vector<uint64_t> sendBytes(ranksCount), sendOff(ranksCount),
        recvBytes(ranksCount), recvOff(ranksCount);
    uint64_t sendTotal = 0, recvTotal = 0;
    for (int p = 0; p < P; ++p) {
      out[size_t(p)] = exchange(ranges, d, kk, me, p);
      in[size_t(p)] = exchange(ranges, d, kk, p, me);
      // This rank's own rows are read in place, not sent to itself.
      if (p != me) {
        sendBytes[size_t(p)] = uint64_t(rowsOf(out[size_t(p)]) * B * rowBytes);
        recvBytes[size_t(p)] = uint64_t(rowsOf(in[size_t(p)]) * B * rowBytes);
      }
      sendOff[size_t(p)] = sendTotal;
      recvOff[size_t(p)] = recvTotal;
      sendTotal += sendBytes[size_t(p)];
      recvTotal += recvBytes[size_t(p)];
      if (p != me) {
        moved.bytes_sent += sendBytes[size_t(p)];
        moved.bytes_received += recvBytes[size_t(p)];
      }
    }
    if (attn_status s = checkSizes(t, sendTotal, recvTotal))
      return s;
    std::vector<char> send(sendTotal), recv(recvTotal);
    for (int p = 0; p < P; ++p) {
      if (p == me)
        continue;
      char *dst = send.data() + sendOff[size_t(p)];
      for (int64_t b = 0; b < B; ++b)
        for (const Piece &pc : out[size_t(p)]) {
          const int64_t kvh = pc.head / G;
          for (int64_t i = 0; i < pc.rows.count; ++i, dst += rowK)
            std::memcpy(dst, at(*k, b, kvh, pc.rows.first + i * r - begin),
                        size_t(rowK));
          for (int64_t i = 0; i < pc.rows.count; ++i, dst += rowV)
            std::memcpy(dst, at(*v, b, kvh, pc.rows.first + i * r - begin),
                        size_t(rowV));
        }
    }
    if (attn_status s = t.allToAll(send.data(), sendBytes, sendOff, recv.data(),
                                   recvBytes, recvOff))
      return s;

    // Where each source's (batch, piece) block starts in recv.
    // (Prefix sums of each source's pieces, so a lookup is O(1).)
    std::vector<std::vector<uint64_t>> pieceOff(ranksCount);
    std::vector<uint64_t> batchBytes(ranksCount);
    for (int p = 0; p < P; ++p) {
      uint64_t off = 0;
      for (const Piece &pc : in[size_t(p)]) {
        pieceOff[size_t(p)].push_back(off);
        off += uint64_t(pc.rows.count * rowBytes);
      }
      batchBytes[size_t(p)] = off;
    }
    auto blockOf = [&](int p, int64_t b, size_t piece) {
      return recv.data() + recvOff[size_t(p)] +
             uint64_t(b) * batchBytes[size_t(p)] + pieceOff[size_t(p)][piece];
    };
    part.assign(size_t(B * H * n * Dv) * esz, 0);
    lse.assign(size_t(B * H * n), -INFINITY);
    std::vector<size_t> cursor(ranksCount);
    for (int64_t seg : segmentsOf(ranges, d, kk, me))
      for (int64_t h = 0; h < H; ++h) {
        // Each source's piece of (seg, h), if it sent one.
        std::vector<std::pair<int, size_t>> sources;
        int64_t nk = 0;
        for (int p = 0; p < P; ++p) {
          size_t &c = cursor[size_t(p)];
          const std::vector<Piece> &ps = in[size_t(p)];
          if (c < ps.size() && ps[c].segment == seg && ps[c].head == h) {
            sources.push_back({p, c});
            nk += ps[c].rows.count;
            ++c;
          }
        }
        const int64_t s0 = seg * w;
        Rows rowsQ = selected(s0, r, d.offset(kk, h), std::max(s0, begin),
                              std::min({s0 + w, ranges.total(), ranges.end(me)}));
        if (rowsQ.count == 0 || nk == 0)
          continue;
        keys.resize(size_t(nk * rowK));
        values.resize(size_t(nk * rowV));
        for (int64_t b = 0; b < B; ++b) {
          char *kd = keys.data(), *vd = values.data();
          for (auto [p, pc] : sources) {
            const Piece &piece = in[size_t(p)][pc];
            const int64_t c = piece.rows.count;
            if (p == me) { // own rows, from the tensors themselves
              const int64_t kvh = h / G;
              for (int64_t i = 0; i < c; ++i, kd += rowK, vd += rowV) {
                const int64_t row = piece.rows.first + i * r - begin;
                std::memcpy(kd, at(*k, b, kvh, row), size_t(rowK));
                std::memcpy(vd, at(*v, b, kvh, row), size_t(rowV));
              }
              continue;
            }
            const char *src = blockOf(p, b, pc);
            std::memcpy(kd, src, size_t(c * rowK));
            std::memcpy(vd, src + c * rowK, size_t(c * rowV));
            kd += c * rowK;
            vd += c * rowV;
          }
          const int64_t i0 = rowsQ.first - begin;
          // One (batch, head) problem: unit batch and head dims with the
          // strides of whole tensors.
          const int64_t qs = q->strides[2];
          attn_tensor args[5] = {
              tensor4(at(*q, b, h, i0), dt, 1, 1, rowsQ.count, D,
                      rowsQ.count * r * qs, rowsQ.count * r * qs, r * qs),
              tensor4(keys.data(), dt, 1, 1, nk, D, nk * D, nk * D, D),
              tensor4(values.data(), dt, 1, 1, nk, Dv, nk * Dv, nk * Dv, Dv),
              tensor4(part.data() + ((b * H + h) * n + i0) * Dv * int64_t(esz),
                      dt, 1, 1, rowsQ.count, Dv, H * n * Dv, n * Dv, r * Dv),
              attn_tensor{}};
          // The LSE's innermost stride is 1: the kernel writes it
          // contiguously and it goes to rows r apart after.
          lseRows.resize(size_t(rowsQ.count));
          attn_tensor &l = args[4];
          l.data = lseRows.data();
          l.dtype = ATTN_F32;
          l.rank = 3;
          l.shape[0] = l.shape[1] = 1;
          l.shape[2] = rowsQ.count;
          l.strides[0] = l.strides[1] = rowsQ.count;
          l.strides[2] = 1;
          if (attn_status s = attn_launch(ctx, kernel, args, 5))
            return s;
          for (int64_t i = 0; i < rowsQ.count; ++i)
            lse[size_t((b * H + h) * n + i0 + i * r)] = lseRows[size_t(i)];
        }
      }
    // SPEC's merge of this pattern into the others (one softmax over the
    // multiset union): L = ln(e^La + e^Lb), O = e^(La-L) Oa + e^(Lb-L) Ob.
    for (size_t row = 0; row < lse.size(); ++row) {
      const float lb = lse[row], la = mergedLse[row];
      if (lb == -INFINITY)
        continue;
      const float m = std::max(la, lb);
      const float total = m + std::log(std::exp(la - m) + std::exp(lb - m));
      const float wa = std::exp(la - total), wb = std::exp(lb - total);
      float *acc = merged.data() + row * size_t(Dv);
      const char *src = part.data() + row * size_t(Dv) * esz;
      for (int64_t j = 0; j < Dv; ++j)
        acc[j] = wa * acc[j] + wb * toFloat(src + size_t(j) * esz, dt);
      mergedLse[row] = total;
    }
  }

  // Rows no pattern selects stay zeros (SPEC).
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < n; ++i) {
        const float *acc = merged.data() + size_t((b * H + h) * n + i) * size_t(Dv);
        for (int64_t j = 0; j < Dv; ++j)
          fromFloat(acc[j], at(*o, b, h, i, j), dt);
      }
  if (stats)
    *stats = moved;
  return ATTN_OK;
}

attn_status attn_lightning_seqpar(attn_context *ctx, attn_comm *comm,
                                  const attn_tensor *q, const attn_tensor *k,
                                  const attn_tensor *v, const attn_tensor *o,
                                  const float *slopes,
                                  const attn_tensor *stateOut, float scale,
                                  attn_dist_stats *stats) {
  Local local;
  if (attn_status s = start(ctx, comm, q, k, v, o, local))
    return s;
  Transport &t = *comm->transport;
  const bool ok = local.status == ATTN_OK;
  if (ok && k->shape[1] != q->shape[1])
    local.set(ATTN_ERROR_INVALID_ARGUMENT,
              "lightning attention has as many K/V heads as query heads");
  if (!std::isfinite(scale) || scale < 0)
    local.set(ATTN_ERROR_INVALID_ARGUMENT, "the scale is finite and >= 0");
  const int64_t B = ok ? q->shape[0] : 0, H = ok ? q->shape[1] : 0,
                D = ok ? q->shape[3] : 0, Dv = ok ? v->shape[3] : 0;
  if (stateOut &&
      (stateOut->rank != 4 || stateOut->dtype != ATTN_F32 ||
       stateOut->shape[0] != B || stateOut->shape[1] != H ||
       stateOut->shape[2] != D || stateOut->shape[3] != Dv ||
       stateOut->strides[3] != 1 || !stateOut->data))
    local.set(ATTN_ERROR_INVALID_ARGUMENT,
              "state_out is a float32 [B, H, D, Dv] tensor");
  if (slopes)
    for (int64_t h = 0; h < H; ++h)
      if (!std::isfinite(slopes[h]) || slopes[h] < 0)
        local.set(ATTN_ERROR_INVALID_ARGUMENT, "slopes are finite and >= 0");
  std::vector<float> slope =
      slopes ? std::vector<float>(slopes, slopes + H) : alibiSlopes(H);
  // The kernels before the handshake (a rank that cannot get them fails
  // every rank), and a digest of the scale and slopes.
  attn_kernel *first = nullptr, *second = nullptr;
  struct Release {
    attn_kernel *&a, *&b;
    ~Release() {
      if (a)
        attn_kernel_release(a);
      if (b)
        attn_kernel_release(b);
    }
  } release{first, second};
  const int flags1 = ATTN_LIGHTNING_SLOPES | ATTN_LIGHTNING_STATE_OUT,
            flags2 = flags1 | ATTN_LIGHTNING_STATE_IN;
  if (local.status == ATTN_OK)
    for (auto [flags, kernel] : {std::pair(flags1, &first),
                                 std::pair(flags2, &second)})
      if (attn_status s = attn_get_lightning_kernel(ctx, q->dtype, D, Dv, scale,
                                                    flags, kernel)) {
        local.set(s, attn_last_error());
        break;
      }
  Digest g;
  g.add(scale);
  g.add(slopes != nullptr);
  g.add(slope.data(), slope.size() * sizeof(float));
  std::vector<int64_t> counts;
  if (attn_status s = agree(t, local, q, k, v, g.h, counts))
    return s;
  const int me = t.rank(), P = t.size();
  const int64_t n = q->shape[2];
  const attn_dtype dt = q->dtype;

  const int64_t plane = D * Dv, stateCount = B * H * plane;
  attn_tensor slopeT{};
  slopeT.data = slope.data();
  slopeT.dtype = ATTN_F32;
  slopeT.rank = 1;
  slopeT.shape[0] = H;
  slopeT.strides[0] = 1;
  auto state = [&](float *p) {
    return tensor4(p, ATTN_F32, B, H, D, Dv, H * plane, plane, Dv);
  };
  // Pass 1: this rank's rows from a zero state; only the state is kept.
  std::vector<float> mine(size_t(stateCount), 0.0f);
  if (n > 0) {
    const size_t esz = elementBytes(dt);
    std::vector<char> scratch(size_t(B * H * n * Dv) * esz);
    attn_tensor args[6] = {*q, *k, *v,
                           tensor4(scratch.data(), dt, B, H, n, Dv, H * n * Dv,
                                   n * Dv, Dv),
                           slopeT, state(mine.data())};
    if (attn_status s = attn_launch(ctx, first, args, 6))
      return s;
  }
  std::vector<float> all(size_t(stateCount) * size_t(P));
  if (attn_status s = t.allGather(mine.data(), uint64_t(stateCount) * 4,
                                  all.data()))
    return s;
  // The state entering this rank: S = lambda^{n_p} S + S_p over p < me.
  std::vector<float> in(size_t(stateCount), 0.0f);
  for (int p = 0; p < me; ++p)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h) {
        const float decay =
            float(std::exp(-double(slope[size_t(h)]) * double(counts[size_t(p)])));
        float *s = in.data() + (b * H + h) * plane;
        const float *sp = all.data() + size_t(p) * size_t(stateCount) +
                          size_t((b * H + h) * plane);
        for (int64_t j = 0; j < plane; ++j)
          s[j] = decay * s[j] + sp[j];
      }
  // Pass 2: from that state; its final state is this rank's state_out.
  std::vector<float> last(static_cast<size_t>(stateCount));
  float *outState = last.data();
  if (n > 0) {
    attn_tensor args[7] = {*q,     *k,        *v, *o, slopeT, state(in.data()),
                           state(outState)};
    if (attn_status s = attn_launch(ctx, second, args, 7))
      return s;
  } else {
    last = in;
    outState = last.data();
  }
  if (stateOut)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < D; ++i)
          std::memcpy(static_cast<float *>(stateOut->data) +
                          b * stateOut->strides[0] + h * stateOut->strides[1] +
                          i * stateOut->strides[2],
                      outState + (b * H + h) * plane + i * Dv,
                      size_t(Dv) * 4);
  if (stats) {
    stats->bytes_sent = uint64_t(stateCount) * 4 * uint64_t(P - 1);
    stats->bytes_received = stats->bytes_sent;
  }
  return ATTN_OK;
}

} // extern "C"
