/* LaunchRule.h - which launches of a GPU kernel run, in plain C.
 * The one launch-selection rule: libattnrt includes it, and attnc copies it
 * into every self-contained GPU header it writes, so both choose alike.
 * cond > 0: runs when cond divides Nq; cond < 0: when -cond does not;
 * keys: lo <= Nk < hi; ctas: lo <= grid CTAs < hi (hi 0: unbounded). */
#ifndef ATTN_LAUNCH_RULE_H
#define ATTN_LAUNCH_RULE_H
#include <stdint.h>

static inline int attn_launch_applies(int64_t cond, int64_t keys_lo,
                                      int64_t keys_hi, int64_t ctas_lo,
                                      int64_t ctas_hi, int64_t nq, int64_t nk,
                                      int64_t ctas) {
  if (cond > 0 && nq % cond != 0)
    return 0;
  if (cond < 0 && nq % -cond == 0)
    return 0;
  if (nk < keys_lo || (keys_hi && nk >= keys_hi))
    return 0;
  if (ctas < ctas_lo || (ctas_hi && ctas >= ctas_hi))
    return 0;
  return 1;
}

#endif
