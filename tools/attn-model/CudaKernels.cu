//===- CudaKernels.cu - the runner's small CUDA kernels --------------------===//
// The GPU's non-attention, non-matmul operations of attn-model (CudaOps.cpp
// launches them; cuBLAS does the matmuls, this project's kernels the
// attention). Each is one pass over its rows, memory-bound, O(n d) against
// the matmuls' O(n d^2). Built by nvcc to PTX for compute_80 (the driver
// compiles it for the GPU it loads on) and embedded in the runner.
// Sizes are 64-bit; grids are grid-stride loops.
//===----------------------------------------------------------------------===//
#include <cuda_bf16.h>
#include <cuda_fp16.h>

typedef long long i64;

#define GRID_STRIDE(i, count)                                                  \
  for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < (count);        \
       i += i64(gridDim.x) * blockDim.x)

extern "C" {

// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w (no weight when w is null);
// one block of 256 threads per row; y may be x.
__global__ void attnm_rms_norm(const float *x, const float *w, float *y,
                               i64 d, float eps) {
  __shared__ float partial[256];
  const float *xr = x + i64(blockIdx.x) * d;
  float *yr = y + i64(blockIdx.x) * d;
  float s = 0;
  for (i64 j = threadIdx.x; j < d; j += blockDim.x)
    s += xr[j] * xr[j];
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half)
      partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  const float r = rsqrtf(partial[0] / float(d) + eps);
  for (i64 j = threadIdx.x; j < d; j += blockDim.x)
    yr[j] = w ? xr[j] * r * w[j] : xr[j] * r;
}

// Rotary embedding in rotate-half order, in place: row i (rowStride apart)
// holds `heads` vectors of `dim` at position pos0 + i.
__global__ void attnm_rope(float *x, i64 n, i64 heads, i64 dim, i64 rowStride,
                           i64 pos0, const float *cosTable,
                           const float *sinTable) {
  const i64 half = dim / 2;
  GRID_STRIDE(t, n * heads * half) {
    i64 j = t % half, hd = (t / half) % heads, i = t / (half * heads);
    float *v = x + i * rowStride + hd * dim;
    float c = cosTable[(pos0 + i) * half + j], s = sinTable[(pos0 + i) * half + j];
    float a = v[j], b = v[j + half];
    v[j] = a * c - b * s;
    v[j + half] = b * c + a * s;
  }
}

// out[n, f] = silu(gu[:, :f]) * gu[:, f:].
__global__ void attnm_swiglu(const float *gu, float *out, i64 n, i64 f) {
  GRID_STRIDE(t, n * f) {
    i64 i = t / f, j = t % f;
    float g = gu[i * 2 * f + j], u = gu[i * 2 * f + f + j];
    out[t] = g / (1.0f + __expf(-g)) * u;
  }
}

// x = silu(x), rows of cols, stride apart.
__global__ void attnm_silu(float *x, i64 rows, i64 cols, i64 stride) {
  GRID_STRIDE(t, rows * cols) {
    float *v = x + (t / cols) * stride + t % cols;
    *v = *v / (1.0f + __expf(-*v));
  }
}

// y = a * b, each with its row stride.
__global__ void attnm_mul(const float *a, i64 aStride, const float *b,
                          i64 bStride, float *y, i64 yStride, i64 rows,
                          i64 cols) {
  GRID_STRIDE(t, rows * cols) {
    i64 i = t / cols, j = t % cols;
    y[i * yStride + j] = a[i * aStride + j] * b[i * bStride + j];
  }
}

// x[i] = table[ids[i]], rows of d.
__global__ void attnm_embed(const float *table, const int *ids, i64 n, i64 d,
                            float *x) {
  GRID_STRIDE(t, n * d) { x[t] = table[i64(ids[t / d]) * d + t % d]; }
}

// dst rows = src rows (f32), each with its stride.
__global__ void attnm_copy_rows(float *dst, i64 dstStride, const float *src,
                                i64 srcStride, i64 rows, i64 cols) {
  GRID_STRIDE(t, rows * cols) {
    i64 i = t / cols, j = t % cols;
    dst[i * dstStride + j] = src[i * srcStride + j];
  }
}

// The conversions and the merge for each 16-bit type T, named by suffix:
// to_T_rows (round to nearest even), from_T_rows, merge_T.
// dst rows (T) = src rows (f32).
#define SIXTEEN_BIT_KERNELS(T, suffix, toT, fromT)                              \
  __global__ void attnm_to_##suffix##_rows(T *dst, i64 dstStride,              \
                                           const float *src, i64 srcStride,    \
                                           i64 rows, i64 cols) {               \
    GRID_STRIDE(t, rows * cols) {                                              \
      i64 i = t / cols, j = t % cols;                                          \
      dst[i * dstStride + j] = toT(src[i * srcStride + j]);                    \
    }                                                                          \
  }                                                                            \
  /* dst rows (f32) = src rows (T). */                                         \
  __global__ void attnm_from_##suffix##_rows(float *dst, i64 dstStride,        \
                                             const T *src, i64 srcStride,      \
                                             i64 rows, i64 cols) {             \
    GRID_STRIDE(t, rows * cols) {                                              \
      i64 i = t / cols, j = t % cols;                                          \
      dst[i * dstStride + j] = fromT(src[i * srcStride + j]);                  \
    }                                                                          \
  }                                                                            \
  /* SPEC's merge of partial results: o [parts, rows, dim] with their */       \
  /* log-sum-exps lse [parts, rows] into out [rows, dim]; a row whose */       \
  /* parts are all at -inf (no key) is zeros. */                               \
  __global__ void attnm_merge_##suffix(const T *o, const float *lse,           \
                                       i64 parts, i64 rows, i64 dim, T *out) { \
    GRID_STRIDE(t, rows * dim) {                                               \
      i64 r = t / dim, j = t % dim;                                            \
      float m = -INFINITY;                                                     \
      for (i64 p = 0; p < parts; ++p)                                          \
        m = fmaxf(m, lse[p * rows + r]);                                       \
      float acc = 0, total = 0;                                                \
      if (m != -INFINITY)                                                      \
        for (i64 p = 0; p < parts; ++p) {                                      \
          float w = __expf(lse[p * rows + r] - m);                             \
          total += w;                                                          \
          acc += w * fromT(o[(p * rows + r) * dim + j]);                       \
        }                                                                      \
      out[t] = toT(total > 0 ? acc / total : 0.0f);                            \
    }                                                                          \
  }

SIXTEEN_BIT_KERNELS(__nv_bfloat16, bf16, __float2bfloat16_rn, __bfloat162float)
SIXTEEN_BIT_KERNELS(__half, f16, __float2half_rn, __half2float)

} // extern "C"
