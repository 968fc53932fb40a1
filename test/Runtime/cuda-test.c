/* A C program that uses the CUDA half of attnrt.h, linked with the runtime
 * core only (no JIT, no LLVM), so that it runs on a GPU machine by itself.
 *   attn-cuda-test context       creates a CUDA context on device 0 and
 *                                prints the outcome
 *   attn-cuda-test launch K.ptx  loads kernel 'causal' of K.ptx
 *                                (Inputs/cuda-causal.cu), launches it,
 *                                compares with a naive double-precision
 *                                causal attention and exercises the errors
 * Prints one line per check; exits 1 if any fails. */
#include "runtime/attnrt.h"

#include <math.h>
#include <pthread.h>
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
/* The message of a failed call ("" after a successful one). */
#define WHY(status) ((status) == ATTN_OK ? "" : attn_last_error())

enum { B = 2, H = 4, HK = 2, N = 100, D = 16 };

static attn_tensor tensor(void *data, int64_t b, int64_t h, int64_t n,
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

/* Q is stored [B, N, H, D] and passed as a [B, H, N, D] view. */
static float q[B * N * H * D], k[B * HK * N * D], v[B * HK * N * D];
static float o[B * H * N * D];

static float qAt(int b, int h, int i, int c) {
  return q[((b * N + i) * H + h) * D + c];
}

static double naiveError(void) {
  double worst = 0;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < N; ++i) {
        const float *kb = k + (b * HK + h / (H / HK)) * N * D;
        const float *vb = v + (b * HK + h / (H / HK)) * N * D;
        double s[N], mx = -INFINITY, sum = 0;
        for (int j = 0; j <= i; ++j) {
          s[j] = 0;
          for (int c = 0; c < D; ++c)
            s[j] += (double)qAt(b, h, i, c) * kb[j * D + c];
          s[j] /= sqrt((double)D);
          mx = fmax(mx, s[j]);
        }
        for (int j = 0; j <= i; ++j)
          sum += exp(s[j] - mx);
        for (int c = 0; c < D; ++c) {
          double want = 0;
          for (int j = 0; j <= i; ++j)
            want += exp(s[j] - mx) / sum * vb[j * D + c];
          double err = fabs(want - o[((b * H + h) * N + i) * D + c]);
          if (!(err <= worst)) /* NaN counts as a failure */
            worst = isnan(err) ? INFINITY : err;
        }
      }
  return worst;
}

static int contextOnly(void) {
  attn_context *ctx = NULL;
  attn_status s = attn_context_create(ATTN_DEVICE_CUDA, 0, &ctx);
  printf("CUDA context: %s: %s\n", attn_status_name(s), attn_last_error());
  attn_context_destroy(ctx);
  return 0;
}

struct Job {
  attn_context *ctx;
  const attn_kernel *kernel;
  attn_tensor *args;
  attn_status status;
};

/* A launch from a thread that has never made a CUDA context current. */
static void *launchThread(void *p) {
  struct Job *job = (struct Job *)p;
  job->status = attn_launch(job->ctx, job->kernel, job->args, 4);
  if (job->status == ATTN_OK)
    job->status = attn_synchronize(job->ctx);
  return NULL;
}

static void *deviceCopy(attn_context *ctx, const void *host, size_t bytes) {
  void *p = NULL;
  if (attn_device_alloc(ctx, bytes, &p) != ATTN_OK ||
      attn_copy_to_device(ctx, p, host, bytes) != ATTN_OK)
    return NULL;
  return p;
}

static int launch(const char *ptx) {
  srand(7);
  for (size_t i = 0; i < sizeof q / sizeof *q; ++i)
    q[i] = (float)rand() / RAND_MAX - 0.5f;
  for (size_t i = 0; i < sizeof k / sizeof *k; ++i) {
    k[i] = (float)rand() / RAND_MAX - 0.5f;
    v[i] = (float)rand() / RAND_MAX - 0.5f;
  }
  for (size_t i = 0; i < sizeof o / sizeof *o; ++i)
    o[i] = NAN;

  attn_context *ctx = NULL;
  attn_status s = attn_context_create(ATTN_DEVICE_CUDA, 0, &ctx);
  CHECK(s == ATTN_OK && ctx && attn_context_threads(ctx) == 0,
        "CUDA context on device 0%s", WHY(s));
  if (!ctx)
    return 1;
  attn_context *none = NULL;
  s = attn_context_create(ATTN_DEVICE_CUDA, 999, &none);
  CHECK(s == ATTN_ERROR_NO_DEVICE && !none &&
            strstr(attn_last_error(), "CUDA device 999 does not exist"),
        "device 999: %s", attn_last_error());

  attn_kernel *kernel = NULL, *bad = NULL;
  s = attn_kernel_load(ctx, "/nonexistent/kernel.ptx", "causal", &bad);
  CHECK(s == ATTN_ERROR_IO && !bad, "missing file: %s", attn_last_error());
  s = attn_kernel_load(ctx, "/", "causal", &bad);
  CHECK(s == ATTN_ERROR_IO && !bad, "directory: %s", attn_last_error());
  s = attn_kernel_load(ctx, ptx, "nope", &bad);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT && !bad &&
            strstr(attn_last_error(), "has no attn kernel named 'nope'"),
        "missing entry: %s", attn_last_error());
  s = attn_kernel_load(ctx, ptx, "greedy", &bad);
  CHECK(s == ATTN_ERROR_UNSUPPORTED && !bad &&
            strstr(attn_last_error(), "needs 1048576 bytes of shared memory"),
        "too much shared memory: %s", attn_last_error());
  s = attn_kernel_load(ctx, ptx, "causal", &kernel);
  CHECK(s == ATTN_OK && kernel && attn_kernel_num_args(kernel) == 4 &&
            strstr(attn_kernel_info(kernel), "smem 65536"),
        "kernel 'causal' with 64 KiB of shared memory%s", WHY(s));
  if (!kernel)
    return 1;

  float *dq = deviceCopy(ctx, q, sizeof q), *dk = deviceCopy(ctx, k, sizeof k);
  float *dv = deviceCopy(ctx, v, sizeof v),
        *dout = deviceCopy(ctx, o, sizeof o);
  CHECK(dq && dk && dv && dout, "device buffers%s",
        dq && dk && dv && dout ? "" : attn_last_error());
  attn_tensor args[4] = {tensor(dq, B, H, N, D), tensor(dk, B, HK, N, D),
                         tensor(dv, B, HK, N, D), tensor(dout, B, H, N, D)};
  args[0].strides[0] = N * H * D, args[0].strides[1] = D,
  args[0].strides[2] = H * D;
  s = attn_context_set_stream(ctx, NULL);
  CHECK(s == ATTN_OK, "legacy default stream");
  s = attn_launch(ctx, kernel, args, 4);
  attn_status synced = attn_synchronize(ctx);
  attn_status copied = attn_copy_to_host(ctx, o, dout, sizeof o);
  double err = naiveError();
  CHECK(s == ATTN_OK && synced == ATTN_OK && copied == ATTN_OK && err < 1e-5,
        "causal GQA launch on a strided q view, max error %.2e%s", err,
        WHY(s        ? s
            : synced ? synced
                     : copied));

  /* Event timing with an L2 flush before each run (attn_benchmark). */
  {
    float ms[5] = {-1, -1, -1, -1, -1};
    s = attn_benchmark(ctx, kernel, args, 4, 5, 1, ms);
    int sane = s == ATTN_OK;
    for (int r = 0; r < 5; ++r)
      sane &= ms[r] > 0 && ms[r] < 1000;
    CHECK(sane, "benchmark: 5 runs with L2 flush, first %.3f ms%s", ms[0],
          WHY(s));
    s = attn_benchmark(ctx, kernel, args, 4, 0, 1, ms);
    CHECK(s == ATTN_ERROR_INVALID_ARGUMENT, "benchmark of 0 runs: %s",
          attn_last_error());
  }

  /* The image from memory, PTX without its NUL, on a second context that is
   * destroyed before the kernel runs (the kernel keeps the device). */
  FILE *f = fopen(ptx, "rb");
  static char text[1 << 20];
  size_t size = f ? fread(text, 1, sizeof text, f) : 0;
  if (f)
    fclose(f);
  attn_context *other = NULL;
  attn_kernel *fromImage = NULL;
  attn_context_create(ATTN_DEVICE_CUDA, 0, &other);
  s = attn_kernel_load_image(other, text, size, "causal", &fromImage);
  attn_context_destroy(other);
  for (size_t i = 0; i < sizeof o / sizeof *o; ++i)
    o[i] = NAN;
  attn_copy_to_device(ctx, dout, o, sizeof o);
  if (s == ATTN_OK)
    s = attn_launch(ctx, fromImage, args, 4);
  attn_copy_to_host(ctx, o, dout, sizeof o);
  err = naiveError();
  CHECK(s == ATTN_OK && err < 1e-5,
        "kernel from an image, its context destroyed, max error %.2e%s", err,
        WHY(s));
  attn_kernel_release(fromImage);

  for (size_t i = 0; i < sizeof o / sizeof *o; ++i)
    o[i] = NAN;
  attn_copy_to_device(ctx, dout, o, sizeof o);
  struct Job job = {ctx, kernel, args, ATTN_OK};
  pthread_t thread;
  pthread_create(&thread, NULL, launchThread, &job);
  pthread_join(thread, NULL);
  attn_copy_to_host(ctx, o, dout, sizeof o);
  err = naiveError();
  CHECK(job.status == ATTN_OK && err < 1e-5,
        "launch from another thread, max error %.2e%s", err, WHY(job.status));

  /* Error paths: each returns a code and names the problem. */
  attn_tensor wrong[4];
  memcpy(wrong, args, sizeof wrong);
  wrong[0].data = q;
  s = attn_launch(ctx, kernel, wrong, 4);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT &&
            strstr(attn_last_error(), "argument 0 (q) is not device memory"),
        "host pointer: %s", attn_last_error());
  memcpy(wrong, args, sizeof wrong);
  wrong[2].dtype = ATTN_BF16;
  s = attn_launch(ctx, kernel, wrong, 4);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT &&
            strstr(attn_last_error(), "(v) must be f32"),
        "wrong dtype: %s", attn_last_error());
  /* 70000 batches: the inputs repeat one batch (stride 0), the output has
   * memory of its own (else the overlap check speaks first). */
  memcpy(wrong, args, sizeof wrong);
  void *bigOut = NULL;
  size_t bigBytes = (size_t)70000 * H * N * D * sizeof(float);
  if (attn_device_alloc(ctx, bigBytes, &bigOut) == ATTN_OK) {
    for (int i = 0; i < 4; ++i) {
      wrong[i].shape[0] = 70000;
      if (i < 3)
        wrong[i].strides[0] = 0;
    }
    wrong[3].data = bigOut;
    s = attn_launch(ctx, kernel, wrong, 4);
    CHECK(s == ATTN_ERROR_UNSUPPORTED && strstr(attn_last_error(), "65535"),
          "batch beyond the grid: %s", attn_last_error());
    attn_device_free(ctx, bigOut);
  } else {
    CHECK(0, "batch beyond the grid: cannot allocate %zu bytes: %s", bigBytes,
          attn_last_error());
  }
  attn_context *cpu = NULL;
  attn_context_create(ATTN_DEVICE_CPU, 1, &cpu);
  s = attn_launch(cpu, kernel, args, 4);
  CHECK(s == ATTN_ERROR_INVALID_ARGUMENT &&
            strstr(attn_last_error(), "cannot run on a CPU context"),
        "GPU kernel on a CPU context: %s", attn_last_error());
  attn_context_destroy(cpu);

  attn_device_free(ctx, dq), attn_device_free(ctx, dk);
  attn_device_free(ctx, dv), attn_device_free(ctx, dout);
  attn_kernel_release(kernel);
  attn_context_destroy(ctx);
  printf("%d failures\n", failures);
  return failures ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "context"))
    return contextOnly();
  if (argc == 3 && !strcmp(argv[1], "launch"))
    return launch(argv[2]);
  fprintf(stderr, "usage: attn-cuda-test context | launch KERNEL.ptx\n");
  return 2;
}
