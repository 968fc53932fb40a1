/*===- attndist.h - sequence-parallel attention across ranks: C API ------===*
 *
 * libattndist runs one attention over a sequence split across P ranks
 * (processes, each with its own attn_context): rank p holds a contiguous
 * range of the positions, ranks in position order, any lengths (N need not
 * be divisible by P). Each rank passes its own rows of Q, K, V and gets its
 * own rows of O. The communication goes through the caller's communicator,
 * never a transport of this library's own:
 *
 *  - MPI (CPU contexts): attn_comm_create_mpi(&comm) takes a pointer to the
 *    caller's MPI_Comm (duplicated, so this library's messages never match
 *    the caller's). Built when Open MPI (or another MPI) is found.
 *  - NCCL (CUDA contexts): attn_comm_create_nccl(nccl_comm, stream), the
 *    caller's ncclComm_t; libnccl.so.2 is loaded at run time like the CUDA
 *    driver. The exchange plans and the transport are written; the
 *    attention itself does not run on CUDA contexts yet
 *    (ATTN_ERROR_UNSUPPORTED): see docs/distributed.md.
 *
 * Algorithms (docs/distributed.md):
 *  - dilated attention (LongNet, SPEC.md's semantics, causal exact): per
 *    pattern (w, r), a rank's queries in a segment see the segment's
 *    selected keys; those rows are exchanged once per pattern with an
 *    all-to-all of the rows each rank's queries see, per query head (a
 *    GQA group's heads with one offset receive the same rows each; segments
 *    inside one rank move nothing), then each (segment, head) is one dense
 *    attention over the gathered rows, and the patterns merge by LSE;
 *  - lightning attention (LASP-2 style): each rank runs its rows from a
 *    zero state, the per-rank final states are all-gathered, each rank
 *    folds the states before it with the decay (S = lambda^n_q S + S_q) and
 *    runs its rows again from that state.
 * Every rank must make the same calls in the same order (collectives).
 * Errors are attn_status values with attn_last_error() set; a rank that
 * fails after the exchange began leaves the others waiting in the
 * collective, as MPI and NCCL programs do.
 *===----------------------------------------------------------------------===*/
#ifndef ATTNDIST_H
#define ATTNDIST_H

#include "runtime/attnrt.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct attn_comm attn_comm;

/* A communicator over MPI. `mpi_comm` points to an MPI_Comm (e.g.
 * &MPI_COMM_WORLD's handle); MPI must be initialised. ATTN_ERROR_UNSUPPORTED
 * when libattndist was built without MPI. */
attn_status attn_comm_create_mpi(const void *mpi_comm, attn_comm **out);
/* A communicator over NCCL: `nccl_comm` is an ncclComm_t, `cu_stream` the
 * CUstream its collectives run on. libnccl.so.2 is loaded on first use
 * (ATTN_ERROR_NO_DEVICE, saying why, without it). */
attn_status attn_comm_create_nccl(void *nccl_comm, void *cu_stream,
                                  attn_comm **out);
attn_status attn_comm_destroy(attn_comm *comm);
/* This rank and the number of ranks. */
attn_status attn_comm_rank(const attn_comm *comm, int *rank, int *size);

/* What a call moved, for benchmarks: the bytes this rank sent to and
 * received from other ranks (its own rows not counted). */
typedef struct attn_dist_stats {
  uint64_t bytes_sent, bytes_received;
} attn_dist_stats;

/* A dilated attention (SPEC.md): `num_patterns` segment lengths and rates,
 * head offsets grouped (torchscale) or interleaved, causal or not, score
 * scale (0: 1/sqrt(D)). */
typedef struct attn_dilated_params {
  int num_patterns;
  const int64_t *segments;
  const int64_t *rates;
  int grouped;
  int causal;
  float scale;
} attn_dilated_params;

/* Sequence-parallel dilated attention. q [B, H, n, D], k [B, Hk, n, D],
 * v [B, Hk, n, Dv], o [B, H, n, Dv]: this rank's n positions (n may differ
 * between ranks, and be 0); f32, f16 or bf16. `stats` may be NULL. */
attn_status attn_dilated_seqpar(attn_context *ctx, attn_comm *comm,
                                const attn_dilated_params *params,
                                const attn_tensor *q, const attn_tensor *k,
                                const attn_tensor *v, const attn_tensor *o,
                                attn_dist_stats *stats);

/* Sequence-parallel lightning attention (SPEC.md: causal, decayed, H = Hk).
 * `slopes`: H float32 decay slopes in host memory, or NULL for SPEC's
 * default ALiBi slopes; `scale` (0: 1). `state_out` (optional, float32
 * [B, H, D, Dv]): the state after this rank's last position, so the last
 * rank's is the sequence's final state. */
attn_status attn_lightning_seqpar(attn_context *ctx, attn_comm *comm,
                                  const attn_tensor *q, const attn_tensor *k,
                                  const attn_tensor *v, const attn_tensor *o,
                                  const float *slopes,
                                  const attn_tensor *state_out, float scale,
                                  attn_dist_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* ATTNDIST_H */
