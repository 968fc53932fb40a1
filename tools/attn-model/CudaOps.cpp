//===- CudaOps.cpp - the model's non-attention operations on a GPU --------===//
// Matmuls are cuBLAS (cublasGemmEx: bf16 or f16 weights and inputs, f32
// results and accumulation, the tensor cores), loaded at run time with dlopen like
// the runtime loads the CUDA driver, so the runner links neither and one
// binary runs on machines with and without a GPU. RMSNorm, RoPE, SwiGLU,
// the embedding gather, the conversions to and from bf16 and the split-KV
// merge are the runner's CUDA kernels (CudaKernels.cu, embedded PTX):
// single passes over their rows that no library fuses this way (cuDNN's
// graph API has a norm, but not the rest, and would be one more large
// dependency for a few microseconds per layer).
//
// Device memory and copies go through the runtime's C API (attn_device_alloc,
// attn_copy_to_device / _to_host), as an engine embedding it would; the
// runner's stream is the attn context's stream (attn_context_set_stream), so
// attention, matmuls and the small kernels run in order on one stream.
//===----------------------------------------------------------------------===//
#include "tools/attn-model/Model.h"
#include "runtime/core/Half.h"

#ifdef ATTN_MODEL_CUDA
#include <cublas_v2.h>
#include <cuda.h>
#include <dlfcn.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace attnmodel;

namespace {

// The runner's kernels as PTX text (generated from CudaKernels.cu).
#include "CudaKernels.ptx.inc"

/// dlopen the first of `names` that loads; throws Error listing them.
void *openLibrary(std::initializer_list<const char *> names, const char *what,
                  const char *hint) {
  std::string errors;
  for (const char *n : names) {
    if (void *h = dlopen(n, RTLD_NOW | RTLD_LOCAL))
      return h;
    errors += std::string("\n  ") + dlerror();
  }
  throw Error(std::string("--target cuda needs ") + what + ": " + hint +
              errors);
}

template <typename F> void symbol(void *lib, const char *name, F &fn) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (!fn)
    throw Error(std::string("--target cuda: ") + name + " is missing from " +
                "the loaded library");
}

// The runner's kernels (names in CudaKernels.cu).
enum Kernel {
  RmsNorm,
  Rope,
  SwiGLU,
  SiLU,
  Mul,
  Embed,
  CopyRows,
  ToRows, // f32 to the 16-bit type
  FromRows,
  Merge,
  KernelCount
};
const char *const kKernelNames[KernelCount] = {
    "attnm_rms_norm", "attnm_rope", "attnm_swiglu",   "attnm_silu",
    "attnm_mul",      "attnm_embed", "attnm_copy_rows", "attnm_to_%s_rows",
    "attnm_from_%s_rows", "attnm_merge_%s"};

class CudaOps final : public Ops {
public:
  CudaOps(attn_context *ctx, attn_dtype type) : ctx(ctx), type(type) {
    if (type != ATTN_BF16 && type != ATTN_F16)
      throw Error("--target cuda runs bf16 or f16");
    const char *libcuda = std::getenv("ATTN_LIBCUDA"); // as the runtime
    driver = openLibrary({libcuda ? libcuda : "libcuda.so.1"},
                         "the CUDA driver", "is there an NVIDIA driver?");
    symbol(driver, "cuDeviceGet", cuDeviceGet_);
    symbol(driver, "cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain_);
    symbol(driver, "cuDevicePrimaryCtxRelease_v2", cuDevicePrimaryCtxRelease_);
    symbol(driver, "cuCtxSetCurrent", cuCtxSetCurrent_);
    symbol(driver, "cuModuleLoadData", cuModuleLoadData_);
    symbol(driver, "cuModuleUnload", cuModuleUnload_);
    symbol(driver, "cuModuleGetFunction", cuModuleGetFunction_);
    symbol(driver, "cuLaunchKernel", cuLaunchKernel_);
    symbol(driver, "cuStreamCreate", cuStreamCreate_);
    symbol(driver, "cuStreamDestroy_v2", cuStreamDestroy_);
    symbol(driver, "cuStreamSynchronize", cuStreamSynchronize_);
    symbol(driver, "cuGetErrorName", cuGetErrorName_);
    // The attn context has initialised the driver and retained device 0's
    // primary context; the runner works in the same one.
    cu(cuDeviceGet_(&device, 0), "cuDeviceGet");
    cu(cuDevicePrimaryCtxRetain_(&context, device), "cuDevicePrimaryCtxRetain");
    retained = true;
    cu(cuCtxSetCurrent_(context), "cuCtxSetCurrent");
    // A blocking stream: the runtime's host-to-device copies run on the
    // legacy stream (synchronous from pageable memory, which may return
    // before the data lands), and a blocking stream's later kernels wait
    // for the legacy stream's work; a non-blocking one would not.
    cu(cuStreamCreate_(&stream, CU_STREAM_DEFAULT), "cuStreamCreate");
    check(attn_context_set_stream(ctx, stream), "attn_context_set_stream");
    cu(cuModuleLoadData_(&module, kCudaKernelsPtx), "cuModuleLoadData (the "
                                                     "runner's kernels)");
    for (int k = 0; k < KernelCount; ++k) {
      char name[64];
      std::snprintf(name, sizeof name, kKernelNames[k],
                    type == ATTN_BF16 ? "bf16" : "f16");
      cu(cuModuleGetFunction_(&fn[k], module, name), kKernelNames[k]);
    }

    blasLib = openLibrary(
        {"libcublas.so.13", "libcublas.so.12", "libcublas.so"}, "cuBLAS",
        "put the CUDA toolkit's lib64 or the nvidia-cublas wheel's lib "
        "folder on LD_LIBRARY_PATH");
    symbol(blasLib, "cublasCreate_v2", cublasCreate_);
    symbol(blasLib, "cublasDestroy_v2", cublasDestroy_);
    symbol(blasLib, "cublasSetStream_v2", cublasSetStream_);
    symbol(blasLib, "cublasGemmEx", cublasGemmEx_);
    blasCheck(cublasCreate_(&blas), "cublasCreate");
    blasCheck(cublasSetStream_(blas, stream), "cublasSetStream");
  }

  ~CudaOps() override {
    if (stream)
      cuStreamSynchronize_(stream);
    if (blas)
      cublasDestroy_(blas);
    for (void *p : {scratch, ids})
      attn_device_free(ctx, p);
    if (module)
      cuModuleUnload_(module);
    if (stream) {
      attn_context_set_stream(ctx, nullptr);
      cuStreamDestroy_(stream);
    }
    if (retained)
      cuDevicePrimaryCtxRelease_(device);
    // The libraries stay loaded: cuBLAS may have registered exit handlers.
  }

  const char *name() const override {
    return type == ATTN_BF16 ? "cuda (cuBLAS, bf16)" : "cuda (cuBLAS, f16)";
  }
  attn_dtype attentionType() const override { return type; }
  size_t matrixBytes(int64_t rows, int64_t cols, bool) const override {
    return size_t(rows * cols) * 2;
  }
  bool f32Matrices() const override { return false; }
  bool runnerSplitsDecode() const override { return false; }
  void synchronize() override {
    cu(cuStreamSynchronize_(stream), "cuStreamSynchronize");
  }

  float *alloc(size_t count) override {
    return static_cast<float *>(allocBytes(count * sizeof(float)));
  }
  void free(float *p) override {
    synchronize(); // queued work may still read it
    attn_device_free(ctx, p);
  }
  void upload(float *dst, const float *src, size_t count) override {
    check(attn_copy_to_device(ctx, dst, src, count * sizeof(float)),
          "copy to the GPU");
  }
  void download(float *dst, const float *src, size_t count) override {
    check(attn_copy_to_host(ctx, dst, src, count * sizeof(float)),
          "copy from the GPU");
  }

  float *uploadMatrix(const float *src, int64_t rows, int64_t cols,
                      bool) override {
    size_t count = size_t(rows * cols);
    std::vector<uint16_t> host(count);
    for (size_t i = 0; i < count; ++i) {
      if (type == ATTN_F16 && !(std::fabs(src[i]) <= 65504.0f))
        throw Error("--dtype f16: a weight (" + std::to_string(src[i]) +
                    ") is outside f16's range; use bf16");
      host[i] = attnrt::floatToHalf(src[i], type);
    }
    void *p = allocBytes(count * 2);
    check(attn_copy_to_device(ctx, p, host.data(), count * 2),
          "copy to the GPU");
    return static_cast<float *>(p);
  }

  void matmul(const float *x, const float *w, float *y, int64_t n, int64_t in,
              int64_t out, bool accumulate) override {
    void *xb = scratchBytes(size_t(n * in) * 2);
    toAttention(xb, in, x, in, n, in);
    matmulAttention(xb, w, y, n, in, out, accumulate);
  }

  void matmulAttention(const void *x, const float *w, float *y, int64_t n,
                       int64_t in, int64_t out, bool accumulate) override {
    // Row-major y[n, out] = x[n, in] W^T, W [out, in]: in column-major
    // terms y^T [out, n] = (W as [in, out])^T x^T [in, n].
    float one = 1, beta = accumulate ? 1.0f : 0.0f;
    cudaDataType t = type == ATTN_BF16 ? CUDA_R_16BF : CUDA_R_16F;
    blasCheck(cublasGemmEx_(blas, CUBLAS_OP_T, CUBLAS_OP_N, int(out), int(n),
                            int(in), &one, w, t, int(in), x, t, int(in),
                            &beta, y, CUDA_R_32F,
                            int(out), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
              "cublasGemmEx");
  }

  void toAttention(void *dst, int64_t dstStride, const float *src,
                   int64_t srcStride, int64_t rows, int64_t cols) override {
    launch(ToRows, rows * cols, dst, dstStride, src, srcStride, rows,
           cols);
  }
  void fromAttention(float *dst, int64_t dstStride, const void *src,
                     int64_t srcStride, int64_t rows, int64_t cols) override {
    launch(FromRows, rows * cols, dst, dstStride, src, srcStride, rows,
           cols);
  }

  void rmsNorm(const float *x, const float *w, float *y, int64_t n, int64_t d,
               float eps) override {
    void *args[] = {&x, &w, &y, &d, &eps};
    run(RmsNorm, unsigned(n), 256, args);
  }
  void rope(float *x, int64_t n, int64_t heads, int64_t dim, int64_t rowStride,
            int64_t pos0, const float *cos, const float *sin) override {
    launch(Rope, n * heads * (dim / 2), x, n, heads, dim, rowStride, pos0, cos,
           sin);
  }
  void swiglu(const float *gu, float *out, int64_t n, int64_t f) override {
    launch(SwiGLU, n * f, gu, out, n, f);
  }
  void silu(float *x, int64_t rows, int64_t cols, int64_t stride) override {
    launch(SiLU, rows * cols, x, rows, cols, stride);
  }
  void mul(const float *a, int64_t aStride, const float *b, int64_t bStride,
           float *y, int64_t yStride, int64_t rows, int64_t cols) override {
    launch(Mul, rows * cols, a, aStride, b, bStride, y, yStride, rows, cols);
  }
  void mergePartials(const void *o, const float *lse, int64_t parts,
                     int64_t rows, int64_t dim, void *out) override {
    launch(Merge, rows * dim, o, lse, parts, rows, dim, out);
  }
  void embed(const float *table, const int32_t *hostIds, int64_t n, int64_t d,
             float *x) override {
    if (size_t(n) > idsCount) {
      attn_device_free(ctx, ids);
      ids = allocBytes(size_t(n) * 4);
      idsCount = size_t(n);
    }
    check(attn_copy_to_device(ctx, ids, hostIds, size_t(n) * 4),
          "copy to the GPU");
    const void *idsDev = ids;
    launch(Embed, n * d, table, idsDev, n, d, x);
  }
  void copyRows(float *dst, int64_t dstStride, const float *src,
                int64_t srcStride, int64_t rows, int64_t cols) override {
    launch(CopyRows, rows * cols, dst, dstStride, src, srcStride, rows, cols);
  }

private:
  void cu(CUresult r, const char *what) {
    if (r == CUDA_SUCCESS)
      return;
    const char *name = nullptr;
    cuGetErrorName_(r, &name);
    throw Error(std::string("--target cuda: ") + what + " failed: " +
                (name ? name : "CUDA error " + std::to_string(int(r))));
  }
  void blasCheck(cublasStatus_t s, const char *what) {
    if (s != CUBLAS_STATUS_SUCCESS)
      throw Error(std::string("--target cuda: ") + what +
                  " failed: cuBLAS status " + std::to_string(int(s)));
  }
  static void check(attn_status s, const char *what) {
    if (s != ATTN_OK)
      throw Error(std::string(what) + ": " + attn_status_name(s) + ": " +
                  attn_last_error());
  }

  void *allocBytes(size_t bytes) {
    void *p = nullptr;
    check(attn_device_alloc(ctx, bytes ? bytes : 4, &p), "GPU allocation");
    return p;
  }
  /// The matmuls' bf16 copy of their input, grown as needed (the stream
  /// orders its uses).
  void *scratchBytes(size_t bytes) {
    if (bytes > scratchSize) {
      synchronize(); // queued matmuls may still read it
      attn_device_free(ctx, scratch);
      scratch = allocBytes(bytes);
      scratchSize = bytes;
    }
    return scratch;
  }

  /// Kernel k over `count` elements: a grid-stride loop of 256-thread
  /// blocks, at most 8 per SM's worth (4096 blocks).
  template <typename... A> void launch(Kernel k, int64_t count, A... a) {
    if (count <= 0)
      return;
    void *args[] = {static_cast<void *>(&a)...};
    int64_t blocks = std::min<int64_t>((count + 255) / 256, 4096);
    run(k, unsigned(blocks), 256, args);
  }
  void run(Kernel k, unsigned blocks, unsigned threads, void **args) {
    if (blocks == 0)
      return;
    cu(cuLaunchKernel_(fn[k], blocks, 1, 1, threads, 1, 1, 0, stream, args,
                       nullptr),
       kKernelNames[k]);
  }

  attn_context *ctx;
  attn_dtype type; // of the weights, matmul inputs and attention
  void *driver = nullptr, *blasLib = nullptr;
  CUdevice device = 0;
  CUcontext context = nullptr;
  bool retained = false;
  CUstream stream = nullptr;
  CUmodule module = nullptr;
  CUfunction fn[KernelCount] = {};
  cublasHandle_t blas = nullptr;
  void *scratch = nullptr, *ids = nullptr;
  size_t scratchSize = 0, idsCount = 0;

  decltype(&cuDeviceGet) cuDeviceGet_ = nullptr;
  decltype(&cuDevicePrimaryCtxRetain) cuDevicePrimaryCtxRetain_ = nullptr;
  CUresult (*cuDevicePrimaryCtxRelease_)(CUdevice) = nullptr;
  decltype(&cuCtxSetCurrent) cuCtxSetCurrent_ = nullptr;
  decltype(&cuModuleLoadData) cuModuleLoadData_ = nullptr;
  decltype(&cuModuleUnload) cuModuleUnload_ = nullptr;
  decltype(&cuModuleGetFunction) cuModuleGetFunction_ = nullptr;
  decltype(&cuLaunchKernel) cuLaunchKernel_ = nullptr;
  decltype(&cuStreamCreate) cuStreamCreate_ = nullptr;
  CUresult (*cuStreamDestroy_)(CUstream) = nullptr;
  decltype(&cuStreamSynchronize) cuStreamSynchronize_ = nullptr;
  decltype(&cuGetErrorName) cuGetErrorName_ = nullptr;
  decltype(&cublasCreate_v2) cublasCreate_ = nullptr;
  decltype(&cublasDestroy_v2) cublasDestroy_ = nullptr;
  decltype(&cublasSetStream_v2) cublasSetStream_ = nullptr;
  cublasStatus_t (*cublasGemmEx_)(cublasHandle_t, cublasOperation_t,
                                 cublasOperation_t, int, int, int,
                                 const void *, const void *, cudaDataType, int,
                                 const void *, cudaDataType, int, const void *,
                                 void *, cudaDataType, int, cublasComputeType_t,
                                 cublasGemmAlgo_t) = nullptr;
};

} // namespace

std::unique_ptr<Ops> attnmodel::createCudaOps(attn_context *ctx,
                                             attn_dtype type) {
  return std::make_unique<CudaOps>(ctx, type);
}

#else // built without the CUDA toolkit (nvcc, cuda.h, cublas_v2.h)

std::unique_ptr<attnmodel::Ops> attnmodel::createCudaOps(attn_context *,
                                                        attn_dtype) {
  throw Error("--target cuda: this attn-model was built without the CUDA "
              "toolkit (nvcc and cuBLAS's headers; CUDA_HOME or "
              "/usr/local/cuda)");
}

#endif
