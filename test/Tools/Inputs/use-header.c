/* Uses an attnc header and shared object, nothing else of the project: runs
 * causal_f32_d64 on B=1, H=2, N=50 and checks row 0 (which sees only key 0,
 * so O[0] = V[0]) and that no output is left NaN. */
#include "dense.h"

#include <math.h>
#include <stdio.h>

enum { H = 2, N = 50, D = 64 };
static float q[H * N * D], k[H * N * D], v[H * N * D], o[H * N * D];
static float lse[H * N];

static attn_memref4 view(float *p) {
  attn_memref4 m = {p, p, 0, {1, H, N, D}, {H * N * D, N * D, D, 1}};
  return m;
}

int main(void) {
  for (int i = 0; i < H * N * D; ++i) {
    q[i] = sinf(i * 0.37f), k[i] = cosf(i * 0.11f), v[i] = sinf(i * 0.05f);
    o[i] = NAN;
  }
  attn_memref4 mq = view(q), mk = view(k), mv = view(v), mo = view(o);
  attn_memref3 ml = {lse, lse, 0, {1, H, N}, {H * N, N, 1}};
  /* The phase ABI, as a parallel runtime would drive it. */
  for (int64_t p = 0; p < _mlir_ciface_causal_f32_d64__phases(); ++p) {
    int64_t items = _mlir_ciface_causal_f32_d64__count0(&mq, &mk, &mv, &mo, &ml);
    for (int64_t i = 0; i < items; ++i)
      _mlir_ciface_causal_f32_d64__run0(&mq, &mk, &mv, &mo, &ml, i, i + 1);
  }
  int nans = 0;
  float err = 0;
  for (int i = 0; i < H * N * D; ++i)
    nans += isnan(o[i]);
  for (int c = 0; c < D; ++c)
    err = fmaxf(err, fabsf(o[c] - v[c]));
  printf("use-header: %d NaN, row 0 error %g, %s\n", nans, err,
         nans == 0 && err < 1e-6f ? "PASS" : "FAIL");
  return nans == 0 && err < 1e-6f ? 0 : 1;
}
