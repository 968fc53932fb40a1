/*===- attnrt.h - the attn runtime: C API ---------------------------------===*
 *
 * The attn runtime runs attention kernels compiled by the attn compiler.
 * It has two layers:
 *
 *  - the core, libattnrt: loads compiled kernels (CPU shared objects built by
 *    `attnc --emit=so` or by the JIT; cubins and PTX for CUDA devices) and
 *    launches them, on its thread pool or on a CUDA stream. It links no
 *    LLVM or MLIR, and no CUDA library: the CUDA driver (libcuda.so.1) is
 *    loaded when the first CUDA context is created. An engine can ship it
 *    with precompiled kernels;
 *  - the JIT, libattnjit: attn_get_kernel() compiles a kernel on first use,
 *    keeps it in memory and in a disk cache ($ATTN_CACHE_DIR, default
 *    ~/.cache/attn), and hands it to the core.
 *
 * Conventions
 *  - Every function returns an attn_status; ATTN_OK is 0. On failure,
 *    attn_last_error() returns a message naming the problem (per thread,
 *    valid until the next call on that thread). Nothing aborts.
 *  - Tensors are described by attn_tensor: a data pointer, a dtype, a rank
 *    and, per dimension, the size and the stride in ELEMENTS (not bytes).
 *    The innermost stride must be 1; the others are free, so a [B, N, H, D]
 *    buffer is passed as a [B, H, N, D] view without a copy.
 *  - Attention operands follow the attn dialect: Q [B, H, Nq, D],
 *    K [B, Hk, Nk, D], V [B, Hk, Nk, Dv], O [B, H, Nq, Dv] and the optional
 *    LSE [B, H, Nq] (float32, natural log). H must be a multiple of Hk.
 *  - All functions are thread-safe. One context may launch from several
 *    threads; launches on one CPU context are serialised on its thread pool.
 *  - Handles (attn_context *, attn_kernel *) are opaque and checked: a
 *    destroyed context or released kernel, or a handle of the other kind,
 *    gives ATTN_ERROR_INVALID_ARGUMENT (with attn_kernel_info "" and
 *    attn_kernel_num_args / attn_context_threads 0), never a use after
 *    free. (A handle is recognised as stale until its slot has been reused
 *    2^24 times.) A release while another thread launches with the handle
 *    takes effect when that launch returns.
 *  - Enum arguments and fields (dtype, device) are range-checked.
 *
 * What the runtime checks in a launch, and what stays the caller's
 *  - Checked: ranks, dtypes, every shape against the kernel and the other
 *    tensors, innermost stride 1, no negative stride, a view whose extent
 *    ((shape - 1) * stride summed, in bytes) fits the address space, no
 *    output whose elements share memory (e.g. a stride of 0), and no
 *    output overlapping any other tensor's extent (inputs may overlap each
 *    other, e.g. q, k, v as views of one packed buffer).
 *  - The caller's: that each data pointer addresses an allocation at least
 *    as large as its view's extent, of the dtype given, and (on a CPU
 *    context) in host memory. The runtime cannot see allocation sizes; a
 *    shape larger than the buffer reads or writes out of bounds.
 *
 * CUDA
 *  - A CUDA context uses its device's primary context, the one the CUDA
 *    runtime (and so PyTorch) uses: pointers from cudaMalloc or
 *    torch.Tensor.data_ptr() can be passed as they are. Each call makes it
 *    current on the calling thread and restores the thread's previous
 *    context before returning.
 *  - On a CUDA context, attn_tensor.data is a device pointer, and launches
 *    are asynchronous: attn_launch returns once the kernel is queued on the
 *    context's stream (attn_context_set_stream), and the tensors must stay
 *    allocated until it has run (attn_synchronize, or the caller's own
 *    stream synchronisation).
 *  - attn_context_destroy() does not wait for queued launches; call
 *    attn_synchronize() first.
 *  - The driver is libcuda.so.1 from the library search path, or the file
 *    named by $ATTN_LIBCUDA (read once, when the first CUDA context is
 *    created).
 *===----------------------------------------------------------------------===*/
#ifndef ATTNRT_H
#define ATTNRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum attn_status {
  ATTN_OK = 0,
  ATTN_ERROR_INVALID_ARGUMENT = 1, /* bad shape, dtype, stride, pointer */
  ATTN_ERROR_UNSUPPORTED = 2,      /* valid, but not implemented yet */
  ATTN_ERROR_COMPILE = 3,          /* the JIT could not compile the kernel */
  ATTN_ERROR_IO = 4,               /* a file could not be read or written */
  ATTN_ERROR_NO_DEVICE = 5,        /* the requested device is not there */
  ATTN_ERROR_INTERNAL = 6,
} attn_status;

typedef enum attn_dtype {
  ATTN_F32 = 0,
  ATTN_F16 = 1,
  ATTN_BF16 = 2,
  ATTN_I32 = 3, /* int32: a paged cache's block table and lengths only */
} attn_dtype;

typedef enum attn_device {
  ATTN_DEVICE_CPU = 0,
  ATTN_DEVICE_CUDA = 1,
} attn_device;

#define ATTN_MAX_RANK 4

typedef struct attn_tensor {
  void *data;
  attn_dtype dtype;
  int32_t rank;
  int64_t shape[ATTN_MAX_RANK];
  int64_t strides[ATTN_MAX_RANK]; /* in elements */
} attn_tensor;

typedef struct attn_context attn_context;
typedef struct attn_kernel attn_kernel;

/* The message of the last failed call on this thread ("" if none). */
const char *attn_last_error(void);

/* Name of a status code, e.g. "ATTN_ERROR_INVALID_ARGUMENT". */
const char *attn_status_name(attn_status status);

/* Creates a context on `device`. For the CPU, `threads` worker threads
 * (0 = one per hardware thread). For ATTN_DEVICE_CUDA, the second argument
 * is the device ordinal (as in cuda:N). Without a usable driver or device
 * this returns ATTN_ERROR_NO_DEVICE, saying why: no libcuda.so.1, cuInit
 * failed (with the driver's error name), or no device with that ordinal. */
attn_status attn_context_create(attn_device device, int threads,
                                attn_context **out);
/* Destroys the context (once the calls running on it have returned).
 * ATTN_ERROR_INVALID_ARGUMENT for NULL or a handle that is not live, e.g.
 * a second destroy. */
attn_status attn_context_destroy(attn_context *ctx);
/* The CPU context's worker threads; 0 for a CUDA context. */
int attn_context_threads(const attn_context *ctx);
/* The context's device, for people and tuning keys: a CUDA context's
 * "<GPU name> | <N> SMs | sm_<major><minor>" (e.g. "NVIDIA H100 80GB HBM3 |
 * 132 SMs | sm_90"), a CPU context's "cpu | <N> threads". NULL for a handle
 * that is not live; the text lives as long as the context. */
const char *attn_context_device(const attn_context *ctx);

/* Launches on the CUDA context `ctx` go to `cu_stream` (a CUstream, or a
 * cudaStream_t such as torch.cuda.current_stream().cuda_stream) from now
 * on; NULL is the legacy default stream, the initial one. The stream must
 * belong to the context's device. ATTN_ERROR_INVALID_ARGUMENT on a CPU
 * context. */
attn_status attn_context_set_stream(attn_context *ctx, void *cu_stream);

/* Waits until the work queued on the CUDA context's stream is done and
 * reports a failure of that work (e.g. an illegal address). On a CPU
 * context launches have already finished and this returns ATTN_OK. */
attn_status attn_synchronize(attn_context *ctx);

/* Device memory, for tools and tests: cuMemAlloc/cuMemFree and synchronous
 * copies on a CUDA context (the copies first wait for the context's stream,
 * so they see the results of the launches queued on it), malloc/free/memcpy
 * on a CPU context, so that callers can be written once for both. An
 * allocation of 0 bytes gives NULL; freeing NULL does nothing. */
attn_status attn_device_alloc(attn_context *ctx, size_t bytes, void **out);
attn_status attn_device_free(attn_context *ctx, void *p);
attn_status attn_copy_to_device(attn_context *ctx, void *dst, const void *src,
                                size_t bytes);
attn_status attn_copy_to_host(attn_context *ctx, void *dst, const void *src,
                              size_t bytes);

/* Loads kernel `name`. On a CPU context, `path` is a shared object built by
 * `attnc --emit=so`; on a CUDA context, a .cubin or .ptx file, loaded as
 * attn_kernel_load_image() does (an unreadable file is ATTN_ERROR_IO). The
 * kernel stays valid until attn_kernel_release(), even after its context is
 * destroyed, and runs on contexts of the same device only. */
attn_status attn_kernel_load(attn_context *ctx, const char *path,
                             const char *name, attn_kernel **out);

/* Loads GPU kernel `name` from a CUDA module image in memory (`size`
 * bytes): a cubin, or PTX text (which the driver compiles for the device).
 * The module holds the entry function `name` and its metadata, the
 * NUL-terminated global `name__attn_meta`. CUDA contexts only; the image
 * is not needed after the call. Used by AOT headers and by the JIT. */
attn_status attn_kernel_load_image(attn_context *ctx, const void *image,
                                   size_t size, const char *name,
                                   attn_kernel **out);
/* Releases the kernel (once the launches running with it have returned).
 * ATTN_ERROR_INVALID_ARGUMENT for NULL or a handle that is not live, e.g.
 * a second release. */
attn_status attn_kernel_release(attn_kernel *kernel);

/* The kernel's metadata (argument roles, dtypes, ranks), as text, valid
 * until the kernel is released; "" for a handle that is not live. */
const char *attn_kernel_info(const attn_kernel *kernel);

/* Number of tensor arguments the kernel takes, in order (q, k, v, out and,
 * if it writes one, lse). */
int attn_kernel_num_args(const attn_kernel *kernel);

/* Runs the kernel on `args` (attn_kernel_num_args of them). Checks every
 * shape, dtype and stride against the kernel and against each other before
 * anything runs. On a CUDA context the kernel must be a GPU kernel of the
 * same device, every tensor must be in device memory (host pointers are
 * rejected), and the launch is asynchronous (see CUDA above). On a CPU
 * context the kernel must be a CPU kernel and the data host memory; device
 * pointers are not detected there and crash the process. */
attn_status attn_launch(attn_context *ctx, const attn_kernel *kernel,
                        const attn_tensor *args, int num_args);

/* Times `runs` launches of `kernel` on `args` (as attn_launch takes them)
 * and writes each run's milliseconds to times_ms[0 .. runs). On a CUDA
 * context: CUDA events around each launch on the context's stream, and,
 * with flush_l2, the L2 cache overwritten (a memset of twice its size)
 * before each run; returns once the last run is done. On a CPU context: the
 * wall clock of each launch (flush_l2 is ignored; rotate inputs instead).
 * For tuners and benchmarks: no PyTorch or CUDA runtime needed. */
attn_status attn_benchmark(attn_context *ctx, const attn_kernel *kernel,
                           const attn_tensor *args, int num_args, int runs,
                           int flush_l2, float *times_ms);

/* JIT layer (libattnjit): the kernel for `pattern` (the attn dialect's
 * attribute syntax, e.g. "#attn.sliding_window<window = 256>"), input
 * dtype, head dims D and Dv, score scale (0 means 1/sqrt(D)), with or
 * without an LSE output. Compiled on first use, then served from memory or
 * from the disk cache. Release it with attn_kernel_release(). Dilated
 * patterns need with_lse = 1 (their pieces merge through the LSE; without
 * it the compile fails with ATTN_ERROR_COMPILE saying so): pass a scratch
 * [B, H, N] float32 tensor when the LSE itself is not wanted. */
attn_status attn_get_kernel(attn_context *ctx, const char *pattern,
                            attn_dtype dtype, int64_t d, int64_t dv,
                            float scale, int with_lse, attn_kernel **out);

/* JIT layer: attention over a paged K/V cache (vLLM's layout) for the
 * same patterns, dtypes and head dims as attn_get_kernel, interval patterns
 * only (full, causal, sliding window, block-causal). The kernel takes, in
 * order: q [B, H, Nq, D]; k_cache [P, S, Hk, D] and v_cache [P, S, Hk, Dv]
 * (P pages of S key rows; any strides with the last one 1, so [P, Hk, S, D]
 * storage works as a view); block_table int32 [B, M], the pages of each
 * sequence in order; kv_lens int32 [B], the keys of each sequence
 * (Nk_b <= M S); out [B, H, Nq, Dv]; with_lse: lse float32 [B, H, Nq].
 * Key j of sequence b is row j mod S of page block_table[b, j / S], and
 * sequence b attends as attn_get_kernel's kernel over those Nk_b keys
 * (query row i at position Nk_b - Nq + i; rows with no key get O = 0 and
 * LSE = -inf). block_table and kv_lens are contiguous. On a CPU context the
 * launch checks every length and every page number a sequence uses; on a
 * CUDA context the kernel clamps lengths to [0, M S] and page numbers to
 * [0, P). Not tuned per Nk (the lengths differ per sequence). */
attn_status attn_get_paged_kernel(attn_context *ctx, const char *pattern,
                                  attn_dtype dtype, int64_t d, int64_t dv,
                                  float scale, int with_lse,
                                  attn_kernel **out);

/* Tuning (JIT layer; attn-tune is its front end, docs/tuning.md). The
 * JIT serves tuned schedules automatically: attn_get_kernel builds one
 * variant per tuned bucket of Nk (powers of two) from the records of this
 * device and compiler ($ATTN_CACHE_DIR/tuning, else the shipped tables),
 * and the kernel picks one by Nk at each launch; ATTN_JIT_LOG=1 says which
 * schedule serves which Nk, and why. */
typedef struct attn_shape {
  int64_t batch, heads, kv_heads, nq, nk;
} attn_shape;

/* Flags of attn_get_kernel_for_shape. */
#define ATTN_TUNE_ON_MISS 1 /* tune when no record covers the shape */

/* attn_get_kernel for a shape: when no record covers the shape's Nq and Nk
 * buckets and GQA ratio, and `flags` has ATTN_TUNE_ON_MISS or
 * $ATTN_AUTOTUNE is 1, tunes the shape first ($ATTN_TUNE_BUDGET seconds,
 * default 60; CPU contexts, a CUDA context keeps its default) and saves
 * the record. Otherwise the same as attn_get_kernel. */
attn_status attn_get_kernel_for_shape(attn_context *ctx, const char *pattern,
                                      attn_dtype dtype, int64_t d, int64_t dv,
                                      float scale, int with_lse,
                                      const attn_shape *shape, int flags,
                                      attn_kernel **out);

/* Flags of attn_get_lightning_kernel: which optional tensors the kernel
 * takes, in this order after q, k, v, out. */
#define ATTN_LIGHTNING_SLOPES 1    /* float32 [H] decay slopes (default ALiBi) */
#define ATTN_LIGHTNING_STATE_IN 2  /* float32 [B, H, D, Dv] initial KV state */
#define ATTN_LIGHTNING_STATE_OUT 4 /* float32 [B, H, D, Dv] final KV state */

/* JIT layer: lightning attention (causal linear attention with per-head
 * decay, SPEC.md) for input dtype, head dims D and Dv (multiples of 8),
 * score scale (0 means 1), with the optional tensors named by `flags`.
 * A prefill with ATTN_LIGHTNING_STATE_OUT returns the state a decode step
 * (N = 1, ATTN_LIGHTNING_STATE_IN | ATTN_LIGHTNING_STATE_OUT) continues. */
attn_status attn_get_lightning_kernel(attn_context *ctx, attn_dtype dtype,
                                      int64_t d, int64_t dv, float scale,
                                      int flags, attn_kernel **out);

#ifdef __cplusplus
}
#endif

#endif /* ATTNRT_H */
