/* Uses an attnc header built with --tuning and its shared object, nothing
 * else of the project: runs causal_f32_d64 at N = 50, 100 and 300 through
 * the phase ABI, running each phase only where attn_F__phase_runs says,
 * and compares every output with a float64 causal attention. */
#include "dense.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { H = 2, D = 64, NMAX = 300 };
static float q[H * NMAX * D], k[H * NMAX * D], v[H * NMAX * D], o[H * NMAX * D];
static float lse[H * NMAX];

static attn_memref4 view(float *p, int64_t n) {
  attn_memref4 m = {p, p, 0, {1, H, n, D}, {H * n * D, n * D, D, 1}};
  return m;
}

static int run(int64_t n) {
  for (int64_t i = 0; i < H * n * D; ++i) {
    q[i] = sinf(i * 0.37f), k[i] = cosf(i * 0.11f), v[i] = sinf(i * 0.05f);
    o[i] = NAN;
  }
  attn_memref4 mq = view(q, n), mk = view(k, n), mv = view(v, n), mo = view(o, n);
  attn_memref3 ml = {lse, lse, 0, {1, H, n}, {H * n, n, 1}};
  char ran[64] = "";
  int len = 0;
  for (int64_t p = 0; p < _mlir_ciface_causal_f32_d64__phases(); ++p) {
    if (!attn_causal_f32_d64__phase_runs(p, n))
      continue;
    len += snprintf(ran + len, sizeof(ran) - len, "%s%lld", len ? "," : "", (long long)p);
    int64_t items, i;
    switch (p) {
    case 0:
      items = _mlir_ciface_causal_f32_d64__count0(&mq, &mk, &mv, &mo, &ml);
      for (i = 0; i < items; ++i)
        _mlir_ciface_causal_f32_d64__run0(&mq, &mk, &mv, &mo, &ml, i, i + 1);
      break;
    case 1:
      items = _mlir_ciface_causal_f32_d64__count1(&mq, &mk, &mv, &mo, &ml);
      for (i = 0; i < items; ++i)
        _mlir_ciface_causal_f32_d64__run1(&mq, &mk, &mv, &mo, &ml, i, i + 1);
      break;
    case 2:
      items = _mlir_ciface_causal_f32_d64__count2(&mq, &mk, &mv, &mo, &ml);
      for (i = 0; i < items; ++i)
        _mlir_ciface_causal_f32_d64__run2(&mq, &mk, &mv, &mo, &ml, i, i + 1);
      break;
    }
  }
  /* float64 causal attention, scale 1/sqrt(D). */
  double maxErr = 0, maxO = 0;
  static double s[NMAX];
  for (int h = 0; h < H; ++h)
    for (int64_t r = 0; r < n; ++r) {
      const float *qr = q + (h * n + r) * D;
      double m = -INFINITY, l = 0;
      for (int64_t j = 0; j <= r; ++j) {
        double dot = 0;
        for (int c = 0; c < D; ++c)
          dot += (double)qr[c] * k[(h * n + j) * D + c];
        s[j] = dot / sqrt((double)D);
        if (s[j] > m)
          m = s[j];
      }
      for (int64_t j = 0; j <= r; ++j)
        l += exp(s[j] - m);
      for (int c = 0; c < D; ++c) {
        double acc = 0;
        for (int64_t j = 0; j <= r; ++j)
          acc += exp(s[j] - m) / l * v[(h * n + j) * D + c];
        double got = o[(h * n + r) * D + c];
        double err = isnan(got) ? INFINITY : fabs(got - acc);
        if (err > maxErr)
          maxErr = err;
        if (fabs(acc) > maxO)
          maxO = fabs(acc);
      }
    }
  int ok = maxErr <= 1e-5 * maxO;
  printf("N=%lld: phases run %s, max error %g, %s\n", (long long)n, ran,
         maxErr, ok ? "PASS" : "FAIL");
  return ok;
}

int main(void) {
  int ok = run(50) & run(100) & run(300);
  return ok ? 0 : 1;
}
