//===- Cuda.cpp - the runtime core's CUDA backend -------------------------===//
// The part of the CUDA driver API the runtime uses, resolved from libcuda.so.1
// with dlopen/dlsym, and the devices, modules, launches and copies built on
// it. Every driver failure becomes an attn_status naming the call.
//===----------------------------------------------------------------------===//
#include "runtime/core/Cuda.h"
#include "runtime/core/Internal.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <mutex>
#include <vector>

using namespace attnrt;
using namespace attnrt::cuda;

namespace {
// Values from cuda.h.
constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_INVALID_VALUE = 1;
constexpr CUresult CUDA_ERROR_STUB_LIBRARY = 34;
constexpr CUresult CUDA_ERROR_NOT_FOUND = 500;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
constexpr int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
constexpr int CU_POINTER_ATTRIBUTE_MEMORY_TYPE = 2;
constexpr int CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38;
constexpr int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
constexpr unsigned CU_MEMORYTYPE_HOST = 1;

/// The driver entry points, named as in cuda.h (whose macros map some of
/// them to the _v2 symbols resolved here).
struct Driver {
  CUresult (*cuInit)(unsigned flags);
  CUresult (*cuGetErrorName)(CUresult error, const char **name);
  CUresult (*cuDeviceGetCount)(int *count);
  CUresult (*cuDeviceGet)(CUdevice *device, int ordinal);
  CUresult (*cuDeviceGetAttribute)(int *value, int attribute, CUdevice device);
  CUresult (*cuDeviceGetName)(char *name, int len, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *context, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice device);
  CUresult (*cuCtxGetCurrent)(CUcontext *context);
  CUresult (*cuCtxSetCurrent)(CUcontext context);
  CUresult (*cuModuleLoadData)(CUmodule *module, const void *image);
  CUresult (*cuModuleUnload)(CUmodule module);
  CUresult (*cuModuleGetFunction)(CUfunction *function, CUmodule module,
                                  const char *name);
  CUresult (*cuModuleGetGlobal)(CUdeviceptr *ptr, size_t *bytes,
                                CUmodule module, const char *name);
  CUresult (*cuFuncSetAttribute)(CUfunction function, int attribute, int value);
  CUresult (*cuLaunchKernel)(CUfunction function, unsigned gridX,
                             unsigned gridY, unsigned gridZ, unsigned blockX,
                             unsigned blockY, unsigned blockZ,
                             unsigned sharedBytes, CUstream stream,
                             void **params, void **extra);
  CUresult (*cuStreamSynchronize)(CUstream stream);
  CUresult (*cuMemAlloc)(CUdeviceptr *ptr, size_t bytes);
  CUresult (*cuMemFree)(CUdeviceptr ptr);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr dst, const void *src, size_t bytes);
  CUresult (*cuMemcpyDtoH)(void *dst, CUdeviceptr src, size_t bytes);
  CUresult (*cuPointerGetAttribute)(void *data, int attribute, CUdeviceptr ptr);
  CUresult (*cuEventCreate)(CUevent *event, unsigned flags);
  CUresult (*cuEventDestroy)(CUevent event);
  CUresult (*cuEventRecord)(CUevent event, CUstream stream);
  CUresult (*cuEventSynchronize)(CUevent event);
  CUresult (*cuEventElapsedTime)(float *ms, CUevent start, CUevent end);
  CUresult (*cuMemsetD8Async)(CUdeviceptr ptr, unsigned char value,
                              size_t count, CUstream stream);
  /// CUDA 12+ only (sm_90a TMA kernels); null on older drivers.
  CUresult (*cuTensorMapEncodeTiled)(
      void *map, int dataType, unsigned rank, void *address,
      const uint64_t *dims, const uint64_t *strides, const unsigned *box,
      const unsigned *elementStrides, int interleave, int swizzle,
      int l2Promotion, int oobFill);
};

Driver driver;
std::once_flag driverOnce;
attn_status driverStatus = ATTN_OK;
std::string driverError;
// One module load at a time: a PTX load runs the driver's compiler, which is
// slow and memory-hungry, and concurrent ones gain nothing.
std::mutex moduleMutex;

/// The driver's name for `r`, or its number where the driver cannot say
/// (the toolkit's stub library answers every call, this one included, with
/// CUDA_ERROR_STUB_LIBRARY).
std::string errorName(CUresult r) {
  const char *name = nullptr;
  if (driver.cuGetErrorName &&
      driver.cuGetErrorName(r, &name) == CUDA_SUCCESS && name)
    return name;
  return "CUresult " + std::to_string(r);
}

/// The attn status a driver error maps to.
attn_status statusOf(CUresult r) {
  switch (r) {
  case 1:   // CUDA_ERROR_INVALID_VALUE
  case 101: // CUDA_ERROR_INVALID_DEVICE
  case 200: // CUDA_ERROR_INVALID_IMAGE
  case 400: // CUDA_ERROR_INVALID_HANDLE
    return ATTN_ERROR_INVALID_ARGUMENT;
  case 34:  // CUDA_ERROR_STUB_LIBRARY
  case 35:  // CUDA_ERROR_INSUFFICIENT_DRIVER
  case 46:  // CUDA_ERROR_DEVICE_UNAVAILABLE
  case 100: // CUDA_ERROR_NO_DEVICE
    return ATTN_ERROR_NO_DEVICE;
  case 209: // CUDA_ERROR_NO_BINARY_FOR_GPU
  case 222: // CUDA_ERROR_UNSUPPORTED_PTX_VERSION
    return ATTN_ERROR_UNSUPPORTED;
  case 218: // CUDA_ERROR_INVALID_PTX
  case 221: // CUDA_ERROR_JIT_COMPILER_NOT_FOUND
    return ATTN_ERROR_COMPILE;
  default:
    return ATTN_ERROR_INTERNAL;
  }
}

/// ATTN_OK, or the failure of driver call `call` (prefixed by `context`).
attn_status check(CUresult r, const char *call,
                  const std::string &context = "") {
  if (r == CUDA_SUCCESS)
    return ATTN_OK;
  return fail(statusOf(r), (context.empty() ? "" : context + ": ") + call +
                               " failed: " + errorName(r));
}

void loadDriver() {
  const char *path = std::getenv("ATTN_LIBCUDA");
  if (!path || !*path)
    path = "libcuda.so.1";
  // Never closed: modules and contexts may outlive any one caller.
  void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    driverStatus = ATTN_ERROR_NO_DEVICE;
    driverError = std::string("no CUDA driver: cannot load ") + path + " (" +
                  dlerror() + ")";
    return;
  }
  struct Symbol {
    const char *name;
    void *slot;
  };
  const Symbol symbols[] = {
      {"cuInit", &driver.cuInit},
      {"cuGetErrorName", &driver.cuGetErrorName},
      {"cuDeviceGetCount", &driver.cuDeviceGetCount},
      {"cuDeviceGet", &driver.cuDeviceGet},
      {"cuDeviceGetAttribute", &driver.cuDeviceGetAttribute},
      {"cuDeviceGetName", &driver.cuDeviceGetName},
      {"cuDevicePrimaryCtxRetain", &driver.cuDevicePrimaryCtxRetain},
      {"cuDevicePrimaryCtxRelease_v2", &driver.cuDevicePrimaryCtxRelease},
      {"cuCtxGetCurrent", &driver.cuCtxGetCurrent},
      {"cuCtxSetCurrent", &driver.cuCtxSetCurrent},
      {"cuModuleLoadData", &driver.cuModuleLoadData},
      {"cuModuleUnload", &driver.cuModuleUnload},
      {"cuModuleGetFunction", &driver.cuModuleGetFunction},
      {"cuModuleGetGlobal_v2", &driver.cuModuleGetGlobal},
      {"cuFuncSetAttribute", &driver.cuFuncSetAttribute},
      {"cuLaunchKernel", &driver.cuLaunchKernel},
      {"cuStreamSynchronize", &driver.cuStreamSynchronize},
      {"cuMemAlloc_v2", &driver.cuMemAlloc},
      {"cuMemFree_v2", &driver.cuMemFree},
      {"cuMemcpyHtoD_v2", &driver.cuMemcpyHtoD},
      {"cuMemcpyDtoH_v2", &driver.cuMemcpyDtoH},
      {"cuPointerGetAttribute", &driver.cuPointerGetAttribute},
      {"cuEventCreate", &driver.cuEventCreate},
      {"cuEventDestroy_v2", &driver.cuEventDestroy},
      {"cuEventRecord", &driver.cuEventRecord},
      {"cuEventSynchronize", &driver.cuEventSynchronize},
      {"cuEventElapsedTime", &driver.cuEventElapsedTime},
      {"cuMemsetD8Async", &driver.cuMemsetD8Async},
  };
  for (const Symbol &s : symbols) {
    void *fn = dlsym(handle, s.name);
    if (!fn) {
      driver = Driver();
      driverStatus = ATTN_ERROR_NO_DEVICE;
      driverError = std::string("no CUDA driver: ") + path + " lacks " +
                    s.name + " (not a driver, or one older than CUDA 11)";
      return;
    }
    std::memcpy(s.slot, &fn, sizeof fn);
  }
  if (void *fn = dlsym(handle, "cuTensorMapEncodeTiled"))
    std::memcpy(&driver.cuTensorMapEncodeTiled, &fn, sizeof fn);
  if (CUresult r = driver.cuInit(0)) {
    driverStatus = ATTN_ERROR_NO_DEVICE;
    driverError = std::string("CUDA driver ") + path +
                  " did not initialise: cuInit failed: " + errorName(r);
    if (r == CUDA_ERROR_STUB_LIBRARY)
      driverError += " (CUDA_ERROR_STUB_LIBRARY: this is the CUDA toolkit's "
                     "stub library, not a driver)";
  }
}

/// ATTN_OK once the driver is loaded and initialised; the same failure on
/// every call otherwise (ATTN_LIBCUDA is read by the first call only).
attn_status requireDriver() {
  std::call_once(driverOnce, loadDriver);
  if (driverStatus != ATTN_OK)
    return fail(driverStatus, driverError);
  return ATTN_OK;
}

/// Makes a device's primary context current on this thread for a scope and
/// then restores the caller's, so that engines sharing the thread (PyTorch)
/// find theirs as they left it.
class ScopedContext {
public:
  explicit ScopedContext(CUcontext context) {
    if (driver.cuCtxGetCurrent(&previous) != CUDA_SUCCESS)
      previous = nullptr;
    if (previous != context) {
      result = driver.cuCtxSetCurrent(context);
      switched = result == CUDA_SUCCESS;
    }
  }
  ~ScopedContext() {
    if (switched)
      driver.cuCtxSetCurrent(previous);
  }
  /// ATTN_OK, or why the context could not be made current.
  attn_status status() const { return check(result, "cuCtxSetCurrent"); }

private:
  CUcontext previous = nullptr;
  CUresult result = CUDA_SUCCESS;
  bool switched = false;
};

CUdeviceptr devicePtr(const void *p) {
  return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(p));
}
} // namespace

//===----------------------------------------------------------------------===//
// Devices
//===----------------------------------------------------------------------===//

Device::~Device() {
  if (context && !scratch.empty()) {
    ScopedContext scope(context);
    for (const Scratch &sc : scratch)
      for (const Buffer *b : {&sc.partials, &sc.counters})
        if (b->data)
          driver.cuMemFree(devicePtr(b->data));
  }
  if (context)
    driver.cuDevicePrimaryCtxRelease(device);
}

attn_status cuda::openDevice(int ordinal, std::unique_ptr<Device> &out) {
  if (attn_status s = requireDriver())
    return s;
  int count = 0;
  if (attn_status s =
          check(driver.cuDeviceGetCount(&count), "cuDeviceGetCount"))
    return s;
  if (ordinal < 0 || ordinal >= count)
    return fail(ATTN_ERROR_NO_DEVICE,
                "CUDA device " + std::to_string(ordinal) + " does not exist (" +
                    std::to_string(count) +
                    (count == 1 ? " device)" : " devices)"));
  auto d = std::make_unique<Device>();
  d->ordinal = ordinal;
  std::string where = "CUDA device " + std::to_string(ordinal);
  if (attn_status s =
          check(driver.cuDeviceGet(&d->device, ordinal), "cuDeviceGet", where))
    return s;
  auto attribute = [&](int attribute, int &value) {
    return check(driver.cuDeviceGetAttribute(&value, attribute, d->device),
                 "cuDeviceGetAttribute", where);
  };
  int major = 0, minor = 0, shared = 0;
  if (attn_status s =
          attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, major))
    return s;
  if (attn_status s =
          attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, minor))
    return s;
  if (attn_status s = attribute(
          CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, shared))
    return s;
  int sms = 0;
  if (attn_status s = attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, sms))
    return s;
  char name[256] = {};
  if (attn_status s = check(driver.cuDeviceGetName(name, sizeof(name) - 1,
                                                   d->device),
                            "cuDeviceGetName", where))
    return s;
  d->computeCapability = major * 10 + minor;
  d->maxSharedPerBlock = shared;
  d->name = name;
  d->multiprocessors = sms;
  CUcontext context = nullptr;
  if (attn_status s =
          check(driver.cuDevicePrimaryCtxRetain(&context, d->device),
                "cuDevicePrimaryCtxRetain", where))
    return s;
  d->context = context;
  out = std::move(d);
  return ATTN_OK;
}

//===----------------------------------------------------------------------===//
// Modules and launches
//===----------------------------------------------------------------------===//

Module::~Module() {
  if (!context)
    return;
  {
    ScopedContext scope(context);
    if (module)
      driver.cuModuleUnload(module);
  }
  driver.cuDevicePrimaryCtxRelease(device);
}

attn_status cuda::loadModule(const Device &device, const void *image,
                             const std::string &name, const std::string &origin,
                             std::unique_ptr<Module> &out, std::string &meta) {
  std::lock_guard<std::mutex> lock(moduleMutex);
  ScopedContext scope(device.context);
  if (attn_status s = scope.status())
    return s;
  auto m = std::make_unique<Module>();
  m->ordinal = device.ordinal;
  m->device = device.device;
  CUcontext context = nullptr;
  if (attn_status s =
          check(driver.cuDevicePrimaryCtxRetain(&context, device.device),
                "cuDevicePrimaryCtxRetain"))
    return s;
  m->context = context;
  if (attn_status s =
          check(driver.cuModuleLoadData(&m->module, image), "cuModuleLoadData",
                "cannot load " + origin + " as a CUDA module"))
    return s;
  auto missing = [&] {
    return fail(ATTN_ERROR_INVALID_ARGUMENT,
                origin + " has no attn kernel named '" + name + "'");
  };
  CUresult r =
      driver.cuModuleGetFunction(&m->function, m->module, name.c_str());
  if (r == CUDA_ERROR_NOT_FOUND)
    return missing();
  if (attn_status s = check(r, "cuModuleGetFunction"))
    return s;
  CUdeviceptr metaPtr = 0;
  size_t metaBytes = 0;
  r = driver.cuModuleGetGlobal(&metaPtr, &metaBytes, m->module,
                               (name + "__attn_meta").c_str());
  if (r == CUDA_ERROR_NOT_FOUND)
    return missing();
  if (attn_status s = check(r, "cuModuleGetGlobal"))
    return s;
  if (metaBytes == 0 || metaBytes > (1 << 20))
    return fail(ATTN_ERROR_INVALID_ARGUMENT,
                "kernel '" + name + "' has metadata of " +
                    std::to_string(metaBytes) + " bytes");
  std::vector<char> text(metaBytes);
  if (attn_status s = check(
          driver.cuMemcpyDtoH(text.data(), metaPtr, metaBytes), "cuMemcpyDtoH",
          "reading the metadata of kernel '" + name + "'"))
    return s;
  meta.assign(text.data(), strnlen(text.data(), metaBytes));
  out = std::move(m);
  return ATTN_OK;
}

attn_status cuda::resolveLaunches(
    Module &module,
    const std::vector<std::pair<std::string, int64_t>> &entries) {
  ScopedContext scope(module.context);
  if (attn_status s = scope.status())
    return s;
  module.launches.clear();
  for (const auto &[entry, sharedBytes] : entries) {
    CUfunction f = nullptr;
    CUresult r = driver.cuModuleGetFunction(&f, module.module, entry.c_str());
    if (r == CUDA_ERROR_NOT_FOUND)
      return fail(ATTN_ERROR_INVALID_ARGUMENT,
                  "the module lacks the kernel's entry point '" + entry + "'");
    if (attn_status s = check(r, "cuModuleGetFunction"))
      return s;
    if (sharedBytes > 48 * 1024)
      if (attn_status s = check(
              driver.cuFuncSetAttribute(
                  f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                  int(sharedBytes)),
              "cuFuncSetAttribute"))
        return s;
    module.launches.push_back(f);
  }
  return ATTN_OK;
}

attn_status cuda::checkDevicePointer(const Device &device, const void *p,
                                     const std::string &what) {
  ScopedContext scope(device.context);
  if (attn_status s = scope.status())
    return s;
  unsigned type = 0; // a CUmemorytype
  CUresult r = driver.cuPointerGetAttribute(
      &type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, devicePtr(p));
  // Pageable host memory is unknown to the driver: CUDA_ERROR_INVALID_VALUE.
  if (r == CUDA_ERROR_INVALID_VALUE ||
      (r == CUDA_SUCCESS && type == CU_MEMORYTYPE_HOST))
    return fail(ATTN_ERROR_INVALID_ARGUMENT, what + " is not device memory");
  return check(r, "cuPointerGetAttribute", what);
}

attn_status cuda::launch(const Device &device, const Module &module,
                         size_t index, const unsigned grid[3], unsigned threads,
                         unsigned sharedBytes, void **params) {
  ScopedContext scope(device.context);
  if (attn_status s = scope.status())
    return s;
  return check(driver.cuLaunchKernel(module.launches[index], grid[0], grid[1],
                                     grid[2],
                                     threads, 1, 1, sharedBytes,
                                     device.stream.load(), params, nullptr),
               "cuLaunchKernel");
}

attn_status cuda::synchronize(const Device &device) {
  ScopedContext scope(device.context);
  if (attn_status s = scope.status())
    return s;
  return check(driver.cuStreamSynchronize(device.stream.load()),
               "cuStreamSynchronize");
}

attn_status cuda::timeLaunches(const Device &device, int runs, bool flushL2,
                               const std::function<attn_status()> &launch,
                               std::vector<float> &ms) {
  ScopedContext scope(device.context);
  if (attn_status s = scope.status())
    return s;
  CUstream stream = device.stream.load();
  // The L2 flush: a memset of twice the L2 before each run, so no run finds
  // the previous one's data there.
  CUdeviceptr flush = 0;
  size_t flushBytes = 0;
  if (flushL2) {
    int l2 = 0;
    if (attn_status s = check(driver.cuDeviceGetAttribute(
                                  &l2, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE,
                                  device.device),
                              "cuDeviceGetAttribute"))
      return s;
    flushBytes = 2 * size_t(std::max(l2, 1 << 20));
    if (attn_status s = check(driver.cuMemAlloc(&flush, flushBytes),
                              "cuMemAlloc", "the L2 flush buffer"))
      return s;
  }
  std::vector<CUevent> events(2 * size_t(runs), nullptr);
  attn_status status = ATTN_OK;
  for (CUevent &e : events)
    if (!status)
      status = check(driver.cuEventCreate(&e, 0), "cuEventCreate");
  // Everything is queued first; the start event of each run sits after its
  // flush, so the host's launch overhead hides behind the memset.
  for (int r = 0; r < runs && !status; ++r) {
    if (flush)
      status = check(driver.cuMemsetD8Async(flush, uint8_t(r), flushBytes,
                                            stream),
                     "cuMemsetD8Async");
    if (!status)
      status = check(driver.cuEventRecord(events[2 * r], stream),
                     "cuEventRecord");
    if (!status)
      status = launch();
    if (!status)
      status = check(driver.cuEventRecord(events[2 * r + 1], stream),
                     "cuEventRecord");
  }
  if (!status)
    status = check(driver.cuEventSynchronize(events.back()),
                   "cuEventSynchronize");
  ms.clear();
  for (int r = 0; r < runs && !status; ++r) {
    float t = 0;
    status = check(driver.cuEventElapsedTime(&t, events[2 * r],
                                             events[2 * r + 1]),
                   "cuEventElapsedTime");
    ms.push_back(t);
  }
  for (CUevent e : events)
    if (e)
      driver.cuEventDestroy(e);
  if (flush) {
    // The stream may still use the buffer where a launch failed.
    driver.cuStreamSynchronize(stream);
    driver.cuMemFree(flush);
  }
  return status;
}

//===----------------------------------------------------------------------===//
// Device memory
//===----------------------------------------------------------------------===//

attn_status cuda::allocate(const Device &device, size_t bytes, void **out) {
  ScopedContext scope(device.context);
  if (attn_status s = scope.status())
    return s;
  CUdeviceptr p = 0;
  if (attn_status s =
          check(driver.cuMemAlloc(&p, bytes), "cuMemAlloc",
                "allocating " + std::to_string(bytes) +
                    " bytes on CUDA device " + std::to_string(device.ordinal)))
    return s;
  *out = reinterpret_cast<void *>(static_cast<uintptr_t>(p));
  return ATTN_OK;
}

/// The current stream's `which` buffer, at least `bytes` long: kept while
/// it is long enough, else freed once the stream's earlier work is done and
/// replaced by one of max(bytes, grown(old size)) bytes (zeroed on the
/// stream if `zero`).
static attn_status streamBuffer(const Device &device,
                                Device::Buffer Device::Scratch::*which,
                                size_t bytes, size_t (*grown)(size_t),
                                bool zero, void **out) {
  std::lock_guard<std::mutex> lock(device.scratchMutex);
  CUstream stream = device.stream.load();
  Device::Scratch *mine = nullptr;
  for (Device::Scratch &sc : device.scratch)
    if (sc.stream == stream)
      mine = &sc;
  if (!mine) {
    device.scratch.push_back({stream, {}, {}});
    mine = &device.scratch.back();
  }
  Device::Buffer &buf = mine->*which;
  if (buf.data && buf.bytes >= bytes) {
    *out = buf.data;
    return ATTN_OK;
  }
  size_t want = bytes;
  if (buf.data) {
    want = std::max(bytes, grown(buf.bytes));
    if (attn_status s = synchronize(device))
      return s;
    if (attn_status s = release(device, buf.data))
      return s;
    buf = {};
  }
  void *p = nullptr;
  if (attn_status s = allocate(device, want, &p))
    return s;
  if (zero) {
    ScopedContext scope(device.context);
    if (attn_status s = scope.status())
      return s;
    if (attn_status s =
            check(driver.cuMemsetD8Async(devicePtr(p), 0, want, stream),
                  "cuMemsetD8Async", "zeroing the split-KV counters")) {
      release(device, p);
      return s;
    }
  }
  buf = {p, want};
  *out = p;
  return ATTN_OK;
}

attn_status cuda::workspace(const Device &device, size_t bytes, void **out) {
  // Grown by half again at least, so that slowly growing decodes (one more
  // key per step does not change the size; more rows or heads do)
  // reallocate rarely.
  return streamBuffer(
      device, &Device::Scratch::partials, bytes,
      [](size_t old) { return old + old / 2; }, /*zero=*/false, out);
}

attn_status cuda::counters(const Device &device, size_t words, void **out) {
  return streamBuffer(
      device, &Device::Scratch::counters, words * 4,
      [](size_t old) { return 2 * old; }, /*zero=*/true, out);
}

attn_status cuda::release(const Device &device, void *p) {
  ScopedContext scope(device.context);
  if (attn_status s = scope.status())
    return s;
  return check(driver.cuMemFree(devicePtr(p)), "cuMemFree");
}

attn_status cuda::copyToDevice(const Device &device, void *dst, const void *src,
                               size_t bytes) {
  if (attn_status s = synchronize(device))
    return s;
  ScopedContext scope(device.context);
  if (attn_status s = scope.status())
    return s;
  return check(driver.cuMemcpyHtoD(devicePtr(dst), src, bytes), "cuMemcpyHtoD");
}

attn_status cuda::copyToHost(const Device &device, void *dst, const void *src,
                             size_t bytes) {
  if (attn_status s = synchronize(device))
    return s;
  ScopedContext scope(device.context);
  if (attn_status s = scope.status())
    return s;
  return check(driver.cuMemcpyDtoH(dst, devicePtr(src), bytes), "cuMemcpyDtoH");
}

//===----------------------------------------------------------------------===//
// TMA tensor maps
//===----------------------------------------------------------------------===//

attn_status cuda::encodeTensorMap(const Device &device, const void *base,
                                  bool bf16,
                                  const int64_t sizes[4],
                                  const int64_t strides[4], int64_t boxCols,
                                  int64_t boxRows, int64_t rate,
                                  const std::string &what, TensorMap &out) {
  if (!driver.cuTensorMapEncodeTiled)
    return fail(ATTN_ERROR_UNSUPPORTED,
                "the CUDA driver lacks cuTensorMapEncodeTiled (TMA kernels "
                "need a CUDA 12 driver or newer)");
  if (rate < 1 || sizes[2] % rate != 0)
    return fail(ATTN_ERROR_INVALID_ARGUMENT,
                "cannot describe " + what + " to TMA as rows " +
                    std::to_string(rate) + " apart: " +
                    std::to_string(rate) + " does not divide N = " +
                    std::to_string(sizes[2]));
  // [B, H, N, X] with unit innermost stride, innermost dimension first;
  // strides in bytes for the outer dimensions. Strided: [B, H, N / r, r,
  // X], the row dimension split in two.
  uint64_t dims[5] = {uint64_t(sizes[3])}, byteStrides[4];
  unsigned box[5] = {unsigned(boxCols)};
  int rank = 1;
  auto outer = [&](int64_t size, int64_t stride, int64_t boxSize) {
    dims[rank] = uint64_t(size);
    byteStrides[rank - 1] = uint64_t(stride) * 2;
    box[rank++] = unsigned(boxSize);
  };
  if (rate > 1)
    outer(rate, strides[2], 1);
  outer(sizes[2] / rate, strides[2] * rate, boxRows);
  outer(sizes[1], strides[1], 1);
  outer(sizes[0], strides[0], 1);
  unsigned elementStrides[5] = {1, 1, 1, 1, 1};
  constexpr int kFloat16 = 6, kBFloat16 = 9, kSwizzle128B = 3,
                kL2Promotion256B = 3;
  // A thread that has never used CUDA has no current context, and the
  // driver answers CUDA_ERROR_INVALID_CONTEXT without one.
  ScopedContext scope(device.context);
  if (attn_status s = scope.status())
    return s;
  CUresult r = driver.cuTensorMapEncodeTiled(
      out.words, bf16 ? kBFloat16 : kFloat16, rank, const_cast<void *>(base),
      dims, byteStrides, box, elementStrides, /*interleave=*/0, kSwizzle128B,
      kL2Promotion256B, /*oobFill=*/0);
  if (r == CUDA_ERROR_INVALID_VALUE)
    return fail(ATTN_ERROR_INVALID_ARGUMENT,
                "cannot describe " + what +
                    " to TMA (cuTensorMapEncodeTiled: CUDA_ERROR_INVALID_VALUE;"
                    " it needs a 16-byte aligned address, outer strides that "
                    "are multiples of 16 bytes and below 2^40)");
  return check(r, "cuTensorMapEncodeTiled", what);
}
