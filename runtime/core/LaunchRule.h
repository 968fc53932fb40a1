/* LaunchRule.h - which launches of a GPU kernel run, in plain C.
 * The one launch-selection rule: libattnrt includes it, and attnc copies it
 * into every self-contained GPU header it writes, so both choose alike.
 * cond > 0: runs when cond divides Nq; cond < 0: when -cond does not;
 * keys: lo <= Nk < hi; ctas: lo <= grid CTAs < hi; rows: lo <= Nq * H / Hk
 * < hi (hi 0: unbounded). attn_split_count: the key splits of a split-KV
 * launch; attn_persistent_ctas: the grid of a persistent one. */
#ifndef ATTN_LAUNCH_RULE_H
#define ATTN_LAUNCH_RULE_H
#include <stdint.h>

static inline int attn_launch_applies(int64_t cond, int64_t keys_lo,
                                      int64_t keys_hi, int64_t ctas_lo,
                                      int64_t ctas_hi, int64_t rows_lo,
                                      int64_t rows_hi, int64_t nq, int64_t nk,
                                      int64_t ctas, int64_t rows) {
  if (cond > 0 && nq % cond != 0)
    return 0;
  if (cond < 0 && nq % -cond == 0)
    return 0;
  if (nk < keys_lo || (keys_hi && nk >= keys_hi))
    return 0;
  if (ctas < ctas_lo || (ctas_hi && ctas >= ctas_hi))
    return 0;
  if (rows < rows_lo || (rows_hi && rows >= rows_hi))
    return 0;
  return 1;
}

/* Splits of the keys: enough CTAs for ctas_per_sm on each of the `sms` SMs
 * over `pairs` (batch, KV head) CTAs per split, at least split_keys keys
 * each of those `rows` packed rows read (all nk, or at most span + rows
 * under a window: span > 0), at most max_splits. */
static inline int64_t attn_split_count(int64_t split_keys, int64_t ctas_per_sm,
                                       int64_t span, int64_t max_splits,
                                       int64_t nk, int64_t rows, int64_t pairs,
                                       int64_t sms) {
  int64_t want = (ctas_per_sm * sms + pairs - 1) / pairs;
  if (span > 0 && span + rows < nk)
    nk = span + rows;
  int64_t most = (nk + split_keys - 1) / split_keys;
  if (want > most)
    want = most;
  if (want > max_splits)
    want = max_splits;
  return want < 1 ? 1 : want;
}

/* Whether a split-KV launch gives way to the whole-row kernels after it:
 * where the query heads are not grouped (H = Hk, so those read K and V once
 * too, by TMA on sm_90a) and their grid of B * H CTAs is at least half the
 * `sms` SMs (measured on an H100: 1.3-1.4x the split kernel from B * H =
 * 128, 0.6x at 32). The launches after it then run whatever their rows
 * bounds say; its merge does not. */
static inline int attn_split_declines(int64_t group, int64_t batch_heads,
                                      int64_t sms) {
  return group == 1 && 2 * batch_heads >= sms;
}

/* The grid of a persistent launch: ctas_per_sm CTAs on each of the `sms`
 * SMs, at most one per work item (at least one). */
static inline int64_t attn_persistent_ctas(int64_t items, int64_t ctas_per_sm,
                                           int64_t sms) {
  int64_t ctas = ctas_per_sm * sms;
  if (ctas > items)
    ctas = items;
  return ctas < 1 ? 1 : ctas;
}

#endif
