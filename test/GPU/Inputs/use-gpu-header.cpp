/* Uses the header attnc emits for the GPU (C and C++): load the module and
 * launch one kernel on device buffers. Compiled and linked in CI (against
 * the CUDA stub driver); it runs only where a GPU is. */
#include "kernels.h"
#include <stdio.h>

int main(void) {
  CUdevice dev;
  CUcontext ctx;
  if (cuInit(0) != CUDA_SUCCESS || cuDeviceGet(&dev, 0) != CUDA_SUCCESS ||
      cuDevicePrimaryCtxRetain(&ctx, dev) != CUDA_SUCCESS ||
      cuCtxSetCurrent(ctx) != CUDA_SUCCESS) {
    printf("no CUDA device\n");
    return 0;
  }
  attn_causal_bf16_d128_module m;
  CUresult r = attn_causal_bf16_d128_load(&m);
  if (r != CUDA_SUCCESS) {
    printf("load failed: %d\n", (int)r);
    return 1;
  }
  const int64_t B = 1, H = 2, N = 100, D = 128;
  int64_t sizes[4] = {B, H, N, D}, strides[4] = {H * N * D, N * D, D, 1};
  int64_t lseSizes[3] = {B, H, N}, lseStrides[3] = {H * N, N, 1};
  CUdeviceptr q, k, v, o, lse;
  size_t bytes = (size_t)(B * H * N * D) * 2;
  cuMemAlloc(&q, bytes);
  cuMemAlloc(&k, bytes);
  cuMemAlloc(&v, bytes);
  cuMemAlloc(&o, bytes);
  cuMemAlloc(&lse, (size_t)(B * H * N) * 4);
  cuMemsetD8(q, 0, bytes);
  cuMemsetD8(k, 0, bytes);
  cuMemsetD8(v, 0, bytes);
  r = attn_causal_bf16_d128(&m, NULL, q, sizes, strides, k, sizes, strides, v,
                            sizes, strides, o, sizes, strides, lse, lseSizes,
                            lseStrides);
  if (r == CUDA_SUCCESS)
    r = cuCtxSynchronize();
  printf("launch: %s\n", r == CUDA_SUCCESS ? "ok" : "failed");
  return r == CUDA_SUCCESS ? 0 : 1;
}
