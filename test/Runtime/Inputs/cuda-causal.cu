// A hand-written kernel in the runtime's GPU kernel ABI, for attn-cuda-test:
// an entry function and its NUL-terminated metadata global NAME__attn_meta;
// each tensor a memref descriptor expanded into scalar parameters; one CTA
// per (tile_m query rows, head, batch). The body is a naive causal attention
// (f32, D = Dv = 16, Nq == Nk, GQA), one query row per thread, which keeps
// its query row in dynamic shared memory so that the 64 KiB opt-in matters.
// Regenerate the PTX (kept at ISA 7.0 so that older drivers load it) with
//   nvcc -ptx -arch=sm_80 -o cuda-causal.ptx cuda-causal.cu
//   sed -i 's/^\.version .*/.version 7.0/' cuda-causal.ptx
#define MEMREF(n)                                                              \
  const float *n##Allocated, float *n, long long n##Offset, long long n##B,    \
      long long n##H, long long n##N, long long n##D, long long n##SB,         \
      long long n##SH, long long n##SN, long long n##SD

enum { D = 16, TILE_M = 64, SLOT = 256 /* floats of shared memory a row */ };

__device__ void naiveCausal(MEMREF(q), MEMREF(k), MEMREF(v), MEMREF(o)) {
  extern __shared__ float rows[];
  long long b = blockIdx.z, h = blockIdx.y;
  long long i = (long long)blockIdx.x * TILE_M + threadIdx.x;
  if (i >= qN)
    return;
  long long hk = h / (qH / kH);
  float *row = rows + threadIdx.x * SLOT;
  for (int c = 0; c < D; ++c)
    row[c] = q[qOffset + b * qSB + h * qSH + i * qSN + c] * rsqrtf((float)D);
  float m = -INFINITY, l = 0, acc[D] = {};
  for (long long j = 0; j <= i; ++j) {
    const float *kj = k + kOffset + b * kSB + hk * kSH + j * kSN;
    const float *vj = v + vOffset + b * vSB + hk * vSH + j * vSN;
    float s = 0;
    for (int c = 0; c < D; ++c)
      s += row[c] * kj[c];
    float mNew = fmaxf(m, s), correction = expf(m - mNew), p = expf(s - mNew);
    l = l * correction + p;
    for (int c = 0; c < D; ++c)
      acc[c] = acc[c] * correction + p * vj[c];
    m = mNew;
  }
  for (int c = 0; c < D; ++c)
    o[oOffset + b * oSB + h * oSH + i * oSN + c] = acc[c] / l;
}

#define META(smem)                                                             \
  "attn-kernel v1\nop attention\npattern #attn.causal\nphases 1\n"             \
  "arg q f32 4 -1 -1 -1 16\narg k f32 4 -1 -1 -1 16\n"                         \
  "arg v f32 4 -1 -1 -1 16\narg out f32 4 -1 -1 -1 16\n"                      \
  "target sm_80\nthreads 64\nsmem " #smem "\ntile_m 64\n"

#define FORWARD(n) n##Allocated, n, n##Offset, n##B, n##H, n##N, n##D, \
  n##SB, n##SH, n##SN, n##SD

// The kernel the test launches: 64 KiB of dynamic shared memory per CTA.
extern "C" __device__ const char causal__attn_meta[] = META(65536);
extern "C" __global__ void __launch_bounds__(TILE_M)
    causal(MEMREF(q), MEMREF(k), MEMREF(v), MEMREF(o)) {
  naiveCausal(FORWARD(q), FORWARD(k), FORWARD(v), FORWARD(o));
}

// The same with 1 MiB, more than any device has: loading it must fail.
extern "C" __device__ const char greedy__attn_meta[] = META(1048576);
extern "C" __global__ void greedy(MEMREF(q), MEMREF(k), MEMREF(v),
                                  MEMREF(o)) {
  naiveCausal(FORWARD(q), FORWARD(k), FORWARD(v), FORWARD(o));
}
