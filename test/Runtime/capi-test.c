/* A C program that uses only attnrt.h: JIT a kernel, launch it, compare with
 * a naive double-precision causal attention, and exercise the error paths.
 * Prints one line per check; exits 1 if any fails. */
#include "runtime/attnrt.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    int ok_ = (cond);                                                          \
    printf("%s: ", ok_ ? "ok" : "FAIL");                                       \
    printf(__VA_ARGS__);                                                       \
    printf("\n");                                                              \
    failures += !ok_;                                                          \
  } while (0)

enum { B = 1, H = 4, HK = 2, N = 37, D = 16 };

static attn_tensor dense(float *data, int64_t b, int64_t h, int64_t n,
                         int64_t d) {
  attn_tensor t;
  memset(&t, 0, sizeof t);
  t.data = data;
  t.dtype = ATTN_F32;
  t.rank = 4;
  t.shape[0] = b, t.shape[1] = h, t.shape[2] = n, t.shape[3] = d;
  t.strides[3] = 1, t.strides[2] = d, t.strides[1] = n * d,
  t.strides[0] = h * n * d;
  return t;
}

static float q[B * H * N * D], k[B * HK * N * D], v[B * HK * N * D];
static float o[B * H * N * D], o2[B * H * N * D];

static double naiveError(const float *out) {
  double worst = 0;
  for (int h = 0; h < H; ++h)
    for (int i = 0; i < N; ++i) {
      int hk = h / (H / HK);
      double s[N], mx = -INFINITY, sum = 0;
      for (int j = 0; j <= i; ++j) {
        s[j] = 0;
        for (int c = 0; c < D; ++c)
          s[j] += (double)q[(h * N + i) * D + c] * k[(hk * N + j) * D + c];
        s[j] /= sqrt((double)D);
        if (s[j] > mx)
          mx = s[j];
      }
      for (int j = 0; j <= i; ++j)
        sum += exp(s[j] - mx);
      for (int c = 0; c < D; ++c) {
        double want = 0;
        for (int j = 0; j <= i; ++j)
          want += exp(s[j] - mx) / sum * v[(hk * N + j) * D + c];
        double err = fabs(want - out[(h * N + i) * D + c]);
        if (!(err <= worst)) /* NaN counts as a failure */
          worst = isnan(err) ? INFINITY : err;
      }
    }
  return worst;
}

struct Job {
  attn_context *ctx;
  attn_kernel *kernel;
  attn_tensor args[4];
  attn_status status;
};

static void *launchThread(void *p) {
  struct Job *job = (struct Job *)p;
  for (int r = 0; r < 20 && job->status == ATTN_OK; ++r)
    job->status = attn_launch(job->ctx, job->kernel, job->args, 4);
  return NULL;
}

int main(void) {
  srand(7);
  for (size_t i = 0; i < sizeof q / sizeof *q; ++i)
    q[i] = (float)rand() / RAND_MAX - 0.5f;
  for (size_t i = 0; i < sizeof k / sizeof *k; ++i) {
    k[i] = (float)rand() / RAND_MAX - 0.5f;
    v[i] = (float)rand() / RAND_MAX - 0.5f;
  }
  for (size_t i = 0; i < sizeof o / sizeof *o; ++i)
    o[i] = o2[i] = NAN;

  attn_context *ctx = NULL;
  attn_status s = attn_context_create(ATTN_DEVICE_CPU, 2, &ctx);
  CHECK(s == ATTN_OK && ctx, "context on the CPU with 2 threads");

  attn_kernel *kernel = NULL;
  s = attn_get_kernel(ctx, "#attn.causal", ATTN_F32, D, D, 0.0f, 0, &kernel);
  CHECK(s == ATTN_OK && kernel, "JIT kernel for #attn.causal f32 D=16 (%s)",
        attn_last_error());
  if (!kernel)
    return 1;
  CHECK(attn_kernel_num_args(kernel) == 4, "kernel takes q, k, v, out");

  attn_tensor args[4] = {dense(q, B, H, N, D), dense(k, B, HK, N, D),
                         dense(v, B, HK, N, D), dense(o, B, H, N, D)};
  s = attn_launch(ctx, kernel, args, 4);
  double err = naiveError(o);
  CHECK(s == ATTN_OK && err < 1e-5, "causal GQA launch, max error %.2e", err);
  {
    float ms[3] = {-1, -1, -1};
    s = attn_benchmark(ctx, kernel, args, 4, 3, 1, ms);
    CHECK(s == ATTN_OK && ms[0] >= 0 && ms[1] >= 0 && ms[2] >= 0 &&
              naiveError(o) < 1e-5,
          "benchmark: 3 timed runs on the CPU");
    s = attn_benchmark(ctx, kernel, args, 4, 3, 0, NULL);
    CHECK(s == ATTN_ERROR_INVALID_ARGUMENT, "benchmark without times: %s",
          attn_last_error());
  }
  {
    /* The shape-aware entry point: its own arguments are checked. */
    attn_kernel *k2 = NULL;
    attn_shape shape = {B, H, HK, N, N};
    s = attn_get_kernel_for_shape(ctx, "#attn.causal", ATTN_F32, D, D, 0, 0,
                                  NULL, 0, &k2);
    CHECK(s == ATTN_ERROR_INVALID_ARGUMENT, "kernel for no shape: %s",
          attn_last_error());
    s = attn_get_kernel_for_shape(ctx, "#attn.causal", ATTN_F32, D, D, 0, 0,
                                  &shape, 8, &k2);
    CHECK(s == ATTN_ERROR_INVALID_ARGUMENT, "kernel for shape, bad flags: %s",
          attn_last_error());
    s = attn_get_kernel_for_shape(ctx, "#attn.causal", ATTN_F32, D, D, 0, 0,
                                  &shape, 0, &k2);
    CHECK(s == ATTN_OK && k2, "kernel for a shape without tuning (%s)",
          attn_last_error());
    if (k2)
      attn_kernel_release(k2);
  }

  /* Several threads launching on one context. */
  struct Job jobs[2];
  pthread_t threads[2];
  for (int t = 0; t < 2; ++t) {
    jobs[t].ctx = ctx;
    jobs[t].kernel = kernel;
    memcpy(jobs[t].args, args, sizeof args);
    jobs[t].args[3] = dense(t ? o2 : o, B, H, N, D);
    jobs[t].status = ATTN_OK;
    pthread_create(&threads[t], NULL, launchThread, &jobs[t]);
  }
  for (int t = 0; t < 2; ++t)
    pthread_join(threads[t], NULL);
  err = fmax(naiveError(o), naiveError(o2));
  CHECK(jobs[0].status == ATTN_OK && jobs[1].status == ATTN_OK && err < 1e-5,
        "concurrent launches from 2 threads, max error %.2e", err);

  /* Error paths: each returns a code and names the problem. */
  attn_tensor bad[4];
  memcpy(bad, args, sizeof bad);
  bad[1].dtype = ATTN_F16;
  s = attn_launch(ctx, kernel, bad, 4);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT &&
            strstr(attn_last_error(), "(k) must be f32"),
        "wrong dtype: %s", attn_last_error());
  memcpy(bad, args, sizeof bad);
  bad[3].shape[2] = N - 1;
  s = attn_launch(ctx, kernel, bad, 4);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT && strstr(attn_last_error(), "out"),
        "wrong output shape: %s", attn_last_error());
  memcpy(bad, args, sizeof bad);
  bad[0].strides[3] = 2;
  s = attn_launch(ctx, kernel, bad, 4);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT &&
            strstr(attn_last_error(), "innermost stride"),
        "non-unit inner stride: %s", attn_last_error());
  memcpy(bad, args, sizeof bad);
  bad[1].shape[1] = 3, bad[2].shape[1] = 3;
  s = attn_launch(ctx, kernel, bad, 4);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT &&
            strstr(attn_last_error(), "multiple of kv heads"),
        "H %% Hk != 0: %s", attn_last_error());
  memcpy(bad, args, sizeof bad);
  bad[0].shape[3] = 8, bad[1].shape[3] = 8;
  s = attn_launch(ctx, kernel, bad, 4);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT &&
            strstr(attn_last_error(), "must be 16 for this kernel"),
        "head dim other than compiled: %s", attn_last_error());
  s = attn_launch(ctx, kernel, args, 3);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT, "argument count: %s",
        attn_last_error());

  /* Strides and memory the runtime can check (issue 15 #14). */
  memcpy(bad, args, sizeof bad);
  bad[0].strides[2] = -((int64_t)1 << 40);
  s = attn_launch(ctx, kernel, bad, 4);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT &&
            strstr(attn_last_error(), "(q) has a negative stride"),
        "negative stride: %s", attn_last_error());
  memcpy(bad, args, sizeof bad);
  bad[1].strides[0] = INT64_MAX / 2, bad[1].shape[0] = 1;
  bad[1].strides[1] = INT64_MAX / 2;
  s = attn_launch(ctx, kernel, bad, 4);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT &&
            strstr(attn_last_error(), "(k) spans more"),
        "strides whose extent overflows: %s", attn_last_error());
  memcpy(bad, args, sizeof bad);
  bad[3].strides[2] = 0;
  s = attn_launch(ctx, kernel, bad, 4);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT &&
            strstr(attn_last_error(), "elements of an output would share"),
        "zero stride in an output: %s", attn_last_error());
  memcpy(bad, args, sizeof bad);
  bad[3].data = q;
  s = attn_launch(ctx, kernel, bad, 4);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT &&
            strstr(attn_last_error(), "(out) overlaps argument 0 (q)"),
        "output aliasing an input: %s", attn_last_error());
  memcpy(bad, args, sizeof bad);
  bad[1].data = q, bad[2].data = q; /* inputs may share memory */
  bad[1].shape[1] = bad[2].shape[1] = H,
  bad[1].strides[0] = bad[2].strides[0] = H * N * D;
  s = attn_launch(ctx, kernel, bad, 4);
  CHECK(s == ATTN_OK, "inputs sharing memory: %s", attn_last_error());
  memcpy(bad, args, sizeof bad);
  {
    int raw = 7; /* an out-of-range enum value, as a C caller can store */
    memcpy(&bad[2].dtype, &raw, sizeof raw);
  }
  s = attn_launch(ctx, kernel, bad, 4);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT &&
            strstr(attn_last_error(), "(v) has an unknown dtype 7"),
        "dtype out of range: %s", attn_last_error());
  {
    attn_context *none_ctx = NULL;
    s = attn_context_create((attn_device)5, 0, &none_ctx);
    CHECK(s == ATTN_ERROR_INVALID_ARGUMENT && !none_ctx &&
              strstr(attn_last_error(), "unknown device 5"),
          "device out of range: %s", attn_last_error());
  }

  attn_kernel *none = NULL;
  s = attn_get_kernel(ctx, "#attn.sliding_window<window = 0>", ATTN_F32, D, D,
                      0.0f, 0, &none);
  CHECK(s == ATTN_ERROR_COMPILE && !none &&
            strstr(attn_last_error(), "'window' must be positive"),
        "invalid pattern: %s", attn_last_error());
  s = attn_get_kernel(ctx, "#attn.causal", ATTN_F32, 0, D, 0.0f, 0, &none);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT, "head dim 0: %s", attn_last_error());
  s = attn_kernel_load(ctx, "/nonexistent/kernel.so", "k", &none);
  CHECK(s == ATTN_ERROR_IO, "missing shared object: %s", attn_last_error());

  /* CUDA without a driver. ATTN_LIBCUDA is read by the first CUDA call; the
   * failure is then the same on every call. */
  setenv("ATTN_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
  for (int attempt = 0; attempt < 2; ++attempt) {
    attn_context *gpu = NULL;
    s = attn_context_create(ATTN_DEVICE_CUDA, 0, &gpu);
    CHECK(s == ATTN_ERROR_NO_DEVICE && !gpu &&
              strstr(attn_last_error(),
                     "no CUDA driver: cannot load /nonexistent/libcuda.so.1"),
          "CUDA context without a driver: %s", attn_last_error());
  }
  s = attn_context_set_stream(ctx, NULL);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT &&
            strstr(attn_last_error(), "needs a CUDA context"),
        "stream on a CPU context: %s", attn_last_error());
  CHECK(attn_synchronize(ctx) == ATTN_OK, "synchronize a CPU context");
  s = attn_kernel_load_image(ctx, "x", 2, "kernel", &none);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT && !none &&
            strstr(attn_last_error(), "need a CUDA context"),
        "kernel image on a CPU context: %s", attn_last_error());

  /* Device memory on a CPU context is host memory. */
  float *buffer = NULL, *empty = o;
  float back[64];
  s = attn_device_alloc(ctx, sizeof back, (void **)&buffer);
  attn_status copied = s ? s : attn_copy_to_device(ctx, buffer, q, sizeof back);
  copied = copied ? copied : attn_copy_to_host(ctx, back, buffer, sizeof back);
  CHECK(s == ATTN_OK && copied == ATTN_OK && !memcmp(back, q, sizeof back) &&
            attn_device_free(ctx, buffer) == ATTN_OK,
        "device memory roundtrip on a CPU context");
  s = attn_device_alloc(ctx, 0, (void **)&empty);
  CHECK(s == ATTN_OK && !empty && attn_device_free(ctx, NULL) == ATTN_OK,
        "empty allocation");

  /* Handles: a released kernel or destroyed context is detected, never
   * used after free; a handle of the other kind or garbage is refused. */
  s = attn_launch(ctx, (const attn_kernel *)ctx, args, 4);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT &&
            strstr(attn_last_error(), "kernel handle is not live"),
        "a context passed as a kernel: %s", attn_last_error());
  s = attn_launch(ctx, (const attn_kernel *)(uintptr_t)0x1234, args, 4);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT, "a garbage kernel handle: %s",
        attn_last_error());
  CHECK(attn_kernel_release(kernel) == ATTN_OK, "release");
  s = attn_kernel_release(kernel);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT &&
            strstr(attn_last_error(), "released twice"),
        "double release: %s", attn_last_error());
  s = attn_launch(ctx, kernel, args, 4);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT &&
            strstr(attn_last_error(), "kernel handle is not live"),
        "launch of a released kernel: %s", attn_last_error());
  CHECK(!strcmp(attn_kernel_info(kernel), "") &&
            attn_kernel_num_args(kernel) == 0,
        "info of a released kernel");
  /* A new kernel may reuse the slot; the old handle stays dead. */
  attn_kernel *again = NULL;
  s = attn_get_kernel(ctx, "#attn.causal", ATTN_F32, D, D, 0.0f, 0, &again);
  CHECK(s == ATTN_OK && again != kernel &&
            attn_launch(ctx, kernel, args, 4) == ATTN_ERROR_INVALID_ARGUMENT &&
            attn_launch(ctx, again, args, 4) == ATTN_OK,
        "stale handle after its slot is reused");
  CHECK(attn_kernel_release(again) == ATTN_OK, "release the new kernel");
  CHECK(attn_context_destroy(ctx) == ATTN_OK, "destroy");
  s = attn_context_destroy(ctx);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT &&
            strstr(attn_last_error(), "destroyed twice"),
        "double destroy: %s", attn_last_error());
  s = attn_synchronize(ctx);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT &&
            strstr(attn_last_error(), "context handle is not live"),
        "a destroyed context: %s", attn_last_error());
  CHECK(attn_kernel_release(NULL) == ATTN_ERROR_INVALID_ARGUMENT &&
            attn_context_destroy(NULL) == ATTN_ERROR_INVALID_ARGUMENT,
        "NULL handles");
  printf("%d failures\n", failures);
  return failures ? 1 : 0;
}
