//===- Runtime.cpp - the attn runtime core --------------------------------===//
// Loads compiled kernels (CPU shared objects with the phase ABI of
// attn-lower-to-cpu; CUDA modules, through Cuda.cpp), checks launches against
// their metadata and runs them: CPU work items on a thread pool, GPU grids on
// the context's stream. Links no LLVM or MLIR.
//===----------------------------------------------------------------------===//
#include "runtime/attnrt.h"
#include "runtime/core/CPUFeatures.h"
#include "runtime/core/Cuda.h"
#include "runtime/core/Internal.h"
#include "runtime/core/KernelMeta.h"
#include "runtime/core/LaunchRule.h"

#include <algorithm>
#include <chrono>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {
thread_local std::string lastError;
} // namespace

attn_status attnrt::fail(attn_status status, const std::string &message) {
  lastError = message;
  return status;
}

extern "C" const char *attn_last_error(void) { return lastError.c_str(); }

extern "C" const char *attn_status_name(attn_status status) {
  switch (status) {
  case ATTN_OK:
    return "ATTN_OK";
  case ATTN_ERROR_INVALID_ARGUMENT:
    return "ATTN_ERROR_INVALID_ARGUMENT";
  case ATTN_ERROR_UNSUPPORTED:
    return "ATTN_ERROR_UNSUPPORTED";
  case ATTN_ERROR_COMPILE:
    return "ATTN_ERROR_COMPILE";
  case ATTN_ERROR_IO:
    return "ATTN_ERROR_IO";
  case ATTN_ERROR_NO_DEVICE:
    return "ATTN_ERROR_NO_DEVICE";
  case ATTN_ERROR_INTERNAL:
    return "ATTN_ERROR_INTERNAL";
  }
  return "unknown status";
}

//===----------------------------------------------------------------------===//
// Thread pool: one job at a time, items handed out one by one.
//===----------------------------------------------------------------------===//

namespace {
class ThreadPool {
public:
  explicit ThreadPool(int threads) {
    for (int i = 1; i < threads; ++i)
      workers.emplace_back([this, i] { loop(i); });
    size = threads;
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> g(mutex);
      stopping = true;
    }
    wake.notify_all();
    for (std::thread &t : workers)
      t.join();
  }
  int threads() const { return size; }

  /// Runs fn(item) for every item in [0, n), the caller taking part; at
  /// most `maxThreads` threads (0: all) take items.
  void parallelFor(int64_t n, const std::function<void(int64_t)> &fn,
                   int64_t maxThreads = 0) {
    std::lock_guard<std::mutex> launch(launchMutex);
    if (n <= 0)
      return;
    if (workers.empty() || n == 1 || maxThreads == 1) {
      for (int64_t i = 0; i < n; ++i)
        fn(i);
      return;
    }
    {
      std::lock_guard<std::mutex> g(mutex);
      job = &fn;
      total = n;
      limit = maxThreads > 0 ? maxThreads : size;
      next.store(0);
      active = int(workers.size());
      ++generation;
    }
    wake.notify_all();
    work();
    std::unique_lock<std::mutex> lock(mutex);
    done.wait(lock, [&] { return active == 0; });
    job = nullptr;
  }

private:
  void work() {
    for (int64_t i = next.fetch_add(1); i < total; i = next.fetch_add(1))
      (*job)(i);
  }
  void loop(int index) {
    uint64_t seen = 0;
    bool takesPart = true;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] { return stopping || generation != seen; });
        if (stopping)
          return;
        seen = generation;
        // Worker i takes part when the job allows i + 1 threads (the
        // caller is thread 0).
        takesPart = index < limit;
      }
      if (takesPart)
        work();
      std::lock_guard<std::mutex> g(mutex);
      if (--active == 0)
        done.notify_all();
    }
  }

  std::vector<std::thread> workers;
  int size = 1;
  std::mutex mutex, launchMutex;
  std::condition_variable wake, done;
  const std::function<void(int64_t)> *job = nullptr;
  int64_t total = 0, limit = 0;
  std::atomic<int64_t> next{0};
  int active = 0;
  uint64_t generation = 0;
  bool stopping = false;
};
} // namespace

struct attn_context {
  std::unique_ptr<ThreadPool> pool;           // a CPU context
  std::unique_ptr<attnrt::cuda::Device> cuda; // a CUDA context
  std::string device;                         // attn_context_device
};

//===----------------------------------------------------------------------===//
// Handles
//===----------------------------------------------------------------------===//

namespace {
/// The objects behind the C API's opaque handles. A handle encodes a kind
/// tag, a slot and the slot's generation, never an address, so a released
/// handle (or a context passed as a kernel) is reported instead of being a
/// use after free, until its slot has been reused 2^24 times. Calls hold a
/// shared_ptr while they run: a release on another thread cannot free an
/// object under a launch.
template <class T, uintptr_t Tag> class HandleTable {
  static_assert(sizeof(uintptr_t) == 8, "handles need 64-bit pointers");

public:
  T *add(std::unique_ptr<T> object) {
    std::lock_guard<std::mutex> g(mutex);
    uint32_t slot;
    if (freeSlots.empty()) {
      slot = uint32_t(slots.size());
      slots.emplace_back();
    } else {
      slot = freeSlots.back();
      freeSlots.pop_back();
    }
    slots[slot].object = std::move(object);
    uintptr_t handle = Tag << 56 | uintptr_t(slot + 1) << 24 |
                       (slots[slot].generation & kGenerationMask);
    return reinterpret_cast<T *>(handle);
  }

  /// The live object of `handle`, or null.
  std::shared_ptr<T> get(const T *handle) {
    std::lock_guard<std::mutex> g(mutex);
    Slot *s = find(handle);
    return s ? s->object : nullptr;
  }

  /// Takes the object of `handle` out of the table; null when not live.
  std::shared_ptr<T> remove(const T *handle) {
    std::lock_guard<std::mutex> g(mutex);
    Slot *s = find(handle);
    if (!s)
      return nullptr;
    std::shared_ptr<T> object = std::move(s->object);
    s->object.reset();
    ++s->generation;
    freeSlots.push_back(uint32_t(s - slots.data()));
    return object;
  }

private:
  static constexpr uint32_t kGenerationMask = (1u << 24) - 1;
  struct Slot {
    std::shared_ptr<T> object;
    uint32_t generation = 0;
  };
  Slot *find(const T *handle) {
    uintptr_t h = reinterpret_cast<uintptr_t>(handle);
    uintptr_t slot = (h >> 24 & 0xffffffff) - 1;
    if (h >> 56 != Tag || slot >= slots.size())
      return nullptr;
    Slot &s = slots[slot];
    if (!s.object || (s.generation & kGenerationMask) != (h & kGenerationMask))
      return nullptr;
    return &s;
  }

  std::mutex mutex;
  std::vector<Slot> slots;
  std::vector<uint32_t> freeSlots;
};

// Never destroyed: objects still live at exit are not torn down under
// threads that may still use them (as before handles were checked).
HandleTable<attn_context, 0xC7> &contexts() {
  static auto *table = new HandleTable<attn_context, 0xC7>();
  return *table;
}
HandleTable<attn_kernel, 0x4B> &kernels() {
  static auto *table = new HandleTable<attn_kernel, 0x4B>();
  return *table;
}

/// The context behind `handle`; null, with the error recorded, when it is
/// null or not live.
std::shared_ptr<attn_context> liveContext(const attn_context *handle) {
  if (!handle) {
    attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT, "null context");
    return nullptr;
  }
  std::shared_ptr<attn_context> ctx = contexts().get(handle);
  if (!ctx)
    attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                 "context handle is not live (already destroyed, or not an "
                 "attn_context)");
  return ctx;
}

std::shared_ptr<attn_kernel> liveKernel(const attn_kernel *handle) {
  if (!handle) {
    attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT, "null kernel");
    return nullptr;
  }
  std::shared_ptr<attn_kernel> kernel = kernels().get(handle);
  if (!kernel)
    attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                 "kernel handle is not live (already released, or not an "
                 "attn_kernel)");
  return kernel;
}

/// An enum field of a caller's struct as the integer it holds: a C caller
/// may store any int there, and loading an out-of-range value as the C++
/// enum type is undefined.
template <class E> int enumValue(const E &e) {
  static_assert(sizeof(E) == sizeof(int), "C enums are int-sized here");
  int v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}
} // namespace

extern "C" attn_status attn_context_create(attn_device device, int threads,
                                           attn_context **out) {
  if (!out)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT, "out pointer is null");
  *out = nullptr;
  if (device == ATTN_DEVICE_CUDA) {
    // For CUDA the second argument is the device ordinal.
    auto ctx = std::make_unique<attn_context>();
    if (attn_status s = attnrt::cuda::openDevice(threads, ctx->cuda))
      return s;
    const attnrt::cuda::Device &d = *ctx->cuda;
    ctx->device = d.name + " | " + std::to_string(d.multiprocessors) +
                  " SMs | sm_" + std::to_string(d.computeCapability);
    *out = contexts().add(std::move(ctx));
    return ATTN_OK;
  }
  if (device != ATTN_DEVICE_CPU)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        "unknown device " + std::to_string(int(device)) +
                            " (ATTN_DEVICE_CPU or ATTN_DEVICE_CUDA)");
  if (threads < 0 || threads > 1024)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        "threads must be in [0, 1024], got " +
                            std::to_string(threads));
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  auto ctx = std::make_unique<attn_context>();
  ctx->pool = std::make_unique<ThreadPool>(threads);
  ctx->device = "cpu | " + std::to_string(threads) + " threads";
  *out = contexts().add(std::move(ctx));
  return ATTN_OK;
}

extern "C" attn_status attn_context_destroy(attn_context *handle) {
  // Destroyed here, or by the last call still running on it.
  if (!handle)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT, "null context");
  if (!contexts().remove(handle))
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        "attn_context_destroy: the context handle is not "
                        "live (destroyed twice, or not an attn_context)");
  return ATTN_OK;
}

extern "C" int attn_context_threads(const attn_context *handle) {
  std::shared_ptr<attn_context> ctx = liveContext(handle);
  return ctx && ctx->pool ? ctx->pool->threads() : 0;
}

extern "C" const char *attn_context_device(const attn_context *handle) {
  std::shared_ptr<attn_context> ctx = liveContext(handle);
  return ctx ? ctx->device.c_str() : nullptr;
}

bool attnrt::isCuda(const attn_context *handle) {
  std::shared_ptr<attn_context> ctx = handle ? contexts().get(handle) : nullptr;
  return ctx && ctx->cuda;
}

int attnrt::cudaComputeCapability(const attn_context *handle) {
  std::shared_ptr<attn_context> ctx = handle ? contexts().get(handle) : nullptr;
  return ctx && ctx->cuda ? ctx->cuda->computeCapability : 0;
}

extern "C" attn_status attn_context_set_stream(attn_context *handle,
                                               void *cu_stream) {
  std::shared_ptr<attn_context> ctx = liveContext(handle);
  if (!ctx)
    return ATTN_ERROR_INVALID_ARGUMENT;
  if (!ctx->cuda)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        "attn_context_set_stream needs a CUDA context, this "
                        "is a CPU context");
  ctx->cuda->stream.store(static_cast<attnrt::cuda::CUstream>(cu_stream));
  return ATTN_OK;
}

extern "C" attn_status attn_synchronize(attn_context *handle) {
  std::shared_ptr<attn_context> ctx = liveContext(handle);
  if (!ctx)
    return ATTN_ERROR_INVALID_ARGUMENT;
  // CPU launches return when they are done.
  return ctx->cuda ? attnrt::cuda::synchronize(*ctx->cuda) : ATTN_OK;
}

//===----------------------------------------------------------------------===//
// Device memory (host memory on a CPU context)
//===----------------------------------------------------------------------===//

extern "C" attn_status attn_device_alloc(attn_context *handle, size_t bytes,
                                         void **out) {
  if (!out)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT, "null argument");
  *out = nullptr;
  std::shared_ptr<attn_context> ctx = liveContext(handle);
  if (!ctx)
    return ATTN_ERROR_INVALID_ARGUMENT;
  if (bytes == 0)
    return ATTN_OK;
  if (ctx->cuda)
    return attnrt::cuda::allocate(*ctx->cuda, bytes, out);
  *out = std::malloc(bytes);
  if (!*out)
    return attnrt::fail(ATTN_ERROR_INTERNAL, "out of memory allocating " +
                                                 std::to_string(bytes) +
                                                 " bytes");
  return ATTN_OK;
}

extern "C" attn_status attn_device_free(attn_context *handle, void *p) {
  std::shared_ptr<attn_context> ctx = liveContext(handle);
  if (!ctx)
    return ATTN_ERROR_INVALID_ARGUMENT;
  if (!p)
    return ATTN_OK;
  if (ctx->cuda)
    return attnrt::cuda::release(*ctx->cuda, p);
  std::free(p);
  return ATTN_OK;
}

/// attn_copy_to_device and attn_copy_to_host: a memcpy on the CPU.
static attn_status copyBytes(attn_context *handle, void *dst, const void *src,
                             size_t bytes, bool toDevice) {
  std::shared_ptr<attn_context> ctx = liveContext(handle);
  if (!ctx)
    return ATTN_ERROR_INVALID_ARGUMENT;
  if ((!dst || !src) && bytes)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT, "null argument");
  if (bytes == 0)
    return ATTN_OK;
  if (ctx->cuda)
    return toDevice ? attnrt::cuda::copyToDevice(*ctx->cuda, dst, src, bytes)
                    : attnrt::cuda::copyToHost(*ctx->cuda, dst, src, bytes);
  std::memcpy(dst, src, bytes);
  return ATTN_OK;
}

extern "C" attn_status attn_copy_to_device(attn_context *ctx, void *dst,
                                           const void *src, size_t bytes) {
  return copyBytes(ctx, dst, src, bytes, /*toDevice=*/true);
}

extern "C" attn_status attn_copy_to_host(attn_context *ctx, void *dst,
                                         const void *src, size_t bytes) {
  return copyBytes(ctx, dst, src, bytes, /*toDevice=*/false);
}

//===----------------------------------------------------------------------===//
// Kernels
//===----------------------------------------------------------------------===//

namespace {
struct ArgMeta {
  std::string role;
  attn_dtype dtype;
  int rank;
  std::vector<int64_t> dims; // -1: dynamic
};
} // namespace

struct attn_kernel {
  void *handle = nullptr;                    // a CPU kernel's shared object
  std::unique_ptr<attnrt::cuda::Module> gpu; // a GPU kernel's module
  std::string name, info, pattern, op;
  std::vector<ArgMeta> args;
  std::vector<void *> count, run; // CPU: the phases' entry points
  // GPU: the launches (defaults filled in, attnmeta::Launch says what each
  // field means) and the tensor maps appended to every launch's params.
  std::vector<attnmeta::Launch> launches;
  std::vector<attnmeta::TensorMap> tensorMaps;
  ~attn_kernel() {
    if (handle)
      dlclose(handle);
  }
};

static bool parseDtype(const std::string &s, attn_dtype &out) {
  if (s == "f32")
    out = ATTN_F32;
  else if (s == "f16")
    out = ATTN_F16;
  else if (s == "bf16")
    out = ATTN_BF16;
  else if (s == "i32")
    out = ATTN_I32;
  else
    return false;
  return true;
}

static const char *dtypeName(attn_dtype t) {
  switch (t) {
  case ATTN_F32:
    return "f32";
  case ATTN_F16:
    return "f16";
  case ATTN_BF16:
    return "bf16";
  case ATTN_I32:
    return "i32";
  }
  return "?";
}

static attn_status parseMeta(attn_kernel &k) {
  attnmeta::KernelMeta meta;
  std::string error;
  if (!attnmeta::parse(k.info, meta, error))
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        "kernel '" + k.name + "' has bad metadata: " + error);
  if (meta.op != "attention" && meta.op != "lightning")
    return attnrt::fail(ATTN_ERROR_UNSUPPORTED,
                        "kernel '" + k.name + "' is a '" + meta.op +
                            "' kernel, which this runtime cannot launch");
  if (meta.isGPU() != bool(k.gpu))
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        "kernel '" + k.name + "' is a " +
                            (meta.isGPU() ? "GPU" : "CPU") +
                            " kernel in a " + (k.gpu ? "GPU" : "CPU") +
                            " binary");
  k.op = meta.op;
  k.pattern = meta.pattern;
  for (const attnmeta::Arg &a : meta.args) {
    ArgMeta m;
    m.role = a.role;
    if (!parseDtype(a.dtype, m.dtype))
      return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                          "kernel '" + k.name + "' has an argument of dtype '" +
                              a.dtype + "', which this runtime does not know");
    m.rank = int(a.dims.size());
    m.dims = a.dims;
    k.args.push_back(m);
  }
  k.launches = meta.effectiveLaunches(k.name);
  k.tensorMaps = meta.tensorMaps;
  int64_t phases = meta.phases;
  const std::string &cpuName = meta.cpu;
  const std::vector<std::string> &cpuFeatures = meta.features;
  // A GPU kernel is one grid: no phase entry points to look up.
  // (The parser checked that it has one launch per phase.)
  if (k.gpu)
    return ATTN_OK;
  // Code for another CPU may contain instructions this host cannot run.
  std::vector<std::string> missing = attnrt::missingCPUFeatures(cpuFeatures);
  if (!missing.empty()) {
    std::string list;
    for (const std::string &m : missing)
      list += (list.empty() ? "" : ", ") + m;
    return attnrt::fail(ATTN_ERROR_UNSUPPORTED,
                        "kernel '" + k.name + "' was compiled for CPU '" +
                            cpuName + "' and needs " + list +
                            ", which this host lacks");
  }
  // Code that may use AMX tiles needs the OS's permission first.
  if (std::find(cpuFeatures.begin(), cpuFeatures.end(), "amx-tile") !=
      cpuFeatures.end()) {
    std::string why;
    if (!attnrt::enableAMX(why))
      return attnrt::fail(ATTN_ERROR_UNSUPPORTED,
                          "kernel '" + k.name + "' uses AMX tiles, but " + why);
  }
  for (int64_t p = 0; p < phases; ++p) {
    std::string c = "_mlir_ciface_" + k.name + "__count" + std::to_string(p);
    std::string r = "_mlir_ciface_" + k.name + "__run" + std::to_string(p);
    void *cf = dlsym(k.handle, c.c_str()), *rf = dlsym(k.handle, r.c_str());
    if (!cf || !rf)
      return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                          "kernel '" + k.name + "' lacks phase " +
                              std::to_string(p) + " entry points");
    k.count.push_back(cf);
    k.run.push_back(rf);
  }
  return ATTN_OK;
}

/// The whole of file `path`, or ATTN_ERROR_IO naming it.
static attn_status readFile(const char *path, std::string &out) {
  std::FILE *file = std::fopen(path, "rb");
  if (!file)
    return attnrt::fail(ATTN_ERROR_IO, std::string("cannot open '") + path +
                                           "': " + std::strerror(errno));
  char buffer[1 << 16];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, file))
    out.append(buffer, n);
  int error = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (error)
    return attnrt::fail(ATTN_ERROR_IO, std::string("cannot read '") + path +
                                           "': " + std::strerror(error));
  return ATTN_OK;
}

extern "C" attn_status attn_kernel_load(attn_context *ctxHandle,
                                        const char *path, const char *name,
                                        attn_kernel **out) {
  if (!path || !name || !out)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT, "null argument");
  *out = nullptr;
  std::shared_ptr<attn_context> ctx = liveContext(ctxHandle);
  if (!ctx)
    return ATTN_ERROR_INVALID_ARGUMENT;
  if (ctx->cuda) {
    std::string image;
    if (attn_status s = readFile(path, image))
      return s;
    // cuModuleLoadData takes no size: PTX is read up to its NUL.
    image.push_back('\0');
    return attnrt::loadImage(ctxHandle, image.data(), image.size(), name, out,
                             std::string("'") + path + "'");
  }
  void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    return attnrt::fail(ATTN_ERROR_IO, std::string("cannot load '") + path +
                                           "': " + dlerror());
  auto k = std::make_unique<attn_kernel>();
  k->handle = handle;
  k->name = name;
  auto *meta = static_cast<const char *>(
      dlsym(handle, (std::string(name) + "__attn_meta").c_str()));
  if (!meta)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        std::string("'") + path + "' has no attn kernel named '" +
                            name + "'");
  k->info = meta;
  if (attn_status s = parseMeta(*k))
    return s;
  *out = kernels().add(std::move(k));
  return ATTN_OK;
}

attn_status attnrt::loadImage(attn_context *handle, const void *image,
                              size_t size, const std::string &name,
                              attn_kernel **out, const std::string &origin) {
  if (!image || !out)
    return fail(ATTN_ERROR_INVALID_ARGUMENT, "null argument");
  *out = nullptr;
  std::shared_ptr<attn_context> ctx = liveContext(handle);
  if (!ctx)
    return ATTN_ERROR_INVALID_ARGUMENT;
  if (!ctx->cuda)
    return fail(ATTN_ERROR_INVALID_ARGUMENT,
                "kernel images are CUDA modules and need a CUDA context; "
                "load CPU kernels with attn_kernel_load");
  if (size == 0)
    return fail(ATTN_ERROR_INVALID_ARGUMENT, origin + " is empty");
  // cuModuleLoadData takes no size: give PTX its NUL if it lacks one.
  const char *bytes = static_cast<const char *>(image);
  std::string terminated;
  const char elfMagic[4] = {0x7f, 'E', 'L', 'F'};
  bool elf = size >= 4 && std::memcmp(bytes, elfMagic, 4) == 0;
  if (!elf && bytes[size - 1] != '\0') {
    terminated.assign(bytes, size);
    image = terminated.c_str();
  }
  auto k = std::make_unique<attn_kernel>();
  k->name = name;
  if (attn_status s =
          cuda::loadModule(*ctx->cuda, image, name, origin, k->gpu, k->info))
    return s;
  if (attn_status s = parseMeta(*k))
    return s;
  // Above 48 KiB of dynamic shared memory a kernel has to opt in; the
  // launches of one kernel may differ (dilated phases).
  int64_t mostShared = 0;
  for (const attnmeta::Launch &l : k->launches)
    mostShared = std::max(mostShared, l.smem);
  if (mostShared > 48 * 1024 && mostShared > ctx->cuda->maxSharedPerBlock)
    return fail(ATTN_ERROR_UNSUPPORTED,
                "kernel '" + name + "' needs " + std::to_string(mostShared) +
                    " bytes of shared memory per block, CUDA device " +
                    std::to_string(ctx->cuda->ordinal) + " has " +
                    std::to_string(ctx->cuda->maxSharedPerBlock));
  std::vector<std::pair<std::string, int64_t>> entries;
  for (const attnmeta::Launch &l : k->launches)
    entries.push_back({l.entry, l.smem});
  if (attn_status s = cuda::resolveLaunches(*k->gpu, entries))
    return s;
  *out = kernels().add(std::move(k));
  return ATTN_OK;
}

extern "C" attn_status attn_kernel_load_image(attn_context *ctx,
                                              const void *image, size_t size,
                                              const char *name,
                                              attn_kernel **out) {
  if (!name)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT, "null argument");
  return attnrt::loadImage(ctx, image, size, name, out);
}

extern "C" attn_status attn_kernel_release(attn_kernel *handle) {
  // Freed here, or by the last launch still running with it.
  if (!handle)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT, "null kernel");
  if (!kernels().remove(handle))
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        "attn_kernel_release: the kernel handle is not live "
                        "(released twice, or not an attn_kernel)");
  return ATTN_OK;
}

extern "C" const char *attn_kernel_info(const attn_kernel *handle) {
  // The table keeps the kernel, and so its text, alive until release.
  std::shared_ptr<attn_kernel> kernel = liveKernel(handle);
  return kernel ? kernel->info.c_str() : "";
}

extern "C" int attn_kernel_num_args(const attn_kernel *handle) {
  std::shared_ptr<attn_kernel> kernel = liveKernel(handle);
  return kernel ? int(kernel->args.size()) : 0;
}

//===----------------------------------------------------------------------===//
// Launch
//===----------------------------------------------------------------------===//

namespace {
/// A memref descriptor as MLIR's C interface lays it out.
struct Descriptor {
  int64_t words[3 + 2 * ATTN_MAX_RANK];
};

template <size_t... I>
int64_t callCount(void *fn, void **d, std::index_sequence<I...>) {
  using F = int64_t (*)(decltype((void)I, (void *)nullptr)...);
  return reinterpret_cast<F>(fn)(d[I]...);
}
template <size_t... I>
void callRun(void *fn, void **d, int64_t b, int64_t e,
             std::index_sequence<I...>) {
  using F = void (*)(decltype((void)I, (void *)nullptr)..., int64_t, int64_t);
  reinterpret_cast<F>(fn)(d[I]..., b, e);
}
template <size_t N> struct Caller {
  static int64_t count(void *fn, void **d) {
    return callCount(fn, d, std::make_index_sequence<N>{});
  }
  static void run(void *fn, void **d, int64_t b, int64_t e) {
    callRun(fn, d, b, e, std::make_index_sequence<N>{});
  }
};

int64_t countFor(size_t n, void *fn, void **d) {
  switch (n) {
  case 1: return Caller<1>::count(fn, d);
  case 2: return Caller<2>::count(fn, d);
  case 3: return Caller<3>::count(fn, d);
  case 4: return Caller<4>::count(fn, d);
  case 5: return Caller<5>::count(fn, d);
  case 6: return Caller<6>::count(fn, d);
  case 7: return Caller<7>::count(fn, d);
  default: return Caller<8>::count(fn, d);
  }
}
void runFor(size_t n, void *fn, void **d, int64_t b, int64_t e) {
  switch (n) {
  case 1: return Caller<1>::run(fn, d, b, e);
  case 2: return Caller<2>::run(fn, d, b, e);
  case 3: return Caller<3>::run(fn, d, b, e);
  case 4: return Caller<4>::run(fn, d, b, e);
  case 5: return Caller<5>::run(fn, d, b, e);
  case 6: return Caller<6>::run(fn, d, b, e);
  case 7: return Caller<7>::run(fn, d, b, e);
  default: return Caller<8>::run(fn, d, b, e);
  }
}
} // namespace

static std::string dimsText(const attn_tensor *t) {
  std::string s = "[";
  for (int i = 0; i < t->rank; ++i)
    s += (i ? ", " : "") + std::to_string(t->shape[i]);
  return s + "]";
}

attn_status attnrt::checkAttentionArgs(const std::string &pattern,
                                       const attn_tensor *q,
                                       const attn_tensor *k,
                                       const attn_tensor *v,
                                       const attn_tensor *o,
                                       const attn_tensor *lse,
                                       const attn_tensor *table,
                                       const attn_tensor *lens) {
  auto bad = [](const std::string &m) {
    return fail(ATTN_ERROR_INVALID_ARGUMENT, m);
  };
  int64_t B = q->shape[0], H = q->shape[1], Nq = q->shape[2], D = q->shape[3];
  bool paged = table != nullptr;
  if (lens && !paged)
    return bad("kv_lens without block_table (a paged kernel takes both)");
  int64_t Hk = k->shape[paged ? 2 : 1], Nk = k->shape[2], Dv = v->shape[3];
  auto dims = dimsText;
  if (paged) {
    if (!lens)
      return bad("a paged kernel needs kv_lens beside block_table");
    if (o->shape[0] != B || table->shape[0] != B || lens->shape[0] != B)
      return bad("batch sizes differ: q " + dims(q) + ", block_table " +
                 dims(table) + ", kv_lens " + dims(lens) + ", out " + dims(o));
    if (v->shape[0] != k->shape[0] || v->shape[1] != k->shape[1] ||
        v->shape[2] != Hk)
      return bad("k_cache " + dims(k) + " and v_cache " + dims(v) +
                 " must agree on pages, page size and kv heads ([P, S, Hk, "
                 "D] and [P, S, Hk, Dv])");
    Nk = table->shape[1] * k->shape[1];
  } else if (k->shape[0] != B || v->shape[0] != B || o->shape[0] != B) {
    return bad("batch sizes differ: q " + dims(q) + ", k " + dims(k) +
               ", v " + dims(v) + ", out " + dims(o));
  } else if (v->shape[1] != Hk || v->shape[2] != Nk) {
    return bad("k " + dims(k) + " and v " + dims(v) +
               " must agree on kv heads and length");
  }
  if (k->shape[3] != D)
    return bad("head dim D differs: q " + dims(q) + ", k " + dims(k));
  if (H % Hk != 0)
    return bad("query heads H = " + std::to_string(H) +
               " must be a multiple of kv heads Hk = " + std::to_string(Hk));
  if (o->shape[1] != H || o->shape[2] != Nq || o->shape[3] != Dv)
    return bad("out " + dims(o) + " must be [B, H, Nq, Dv] = [" +
               std::to_string(B) + ", " + std::to_string(H) + ", " +
               std::to_string(Nq) + ", " + std::to_string(Dv) + "]");
  if (lse && (lse->shape[0] != B || lse->shape[1] != H || lse->shape[2] != Nq))
    return bad("lse " + dims(lse) + " must be [B, H, Nq]");
  if (pattern.rfind("#attn.dilated", 0) == 0 && Nq != Nk)
    return bad("dilated attention needs Nq == Nk, got " + std::to_string(Nq) +
               " and " + std::to_string(Nk));
  return ATTN_OK;
}

attn_status attnrt::checkPagedContents(const attn_tensor *k,
                                       const attn_tensor *table,
                                       const attn_tensor *lens) {
  int64_t pages = k->shape[0], pageSize = k->shape[1];
  int64_t perSeq = table->shape[1];
  const int32_t *len = static_cast<const int32_t *>(lens->data);
  const int32_t *tab = static_cast<const int32_t *>(table->data);
  for (int64_t b = 0; b < table->shape[0]; ++b) {
    int64_t n = len[b];
    if (n < 0 || n > perSeq * pageSize)
      return fail(ATTN_ERROR_INVALID_ARGUMENT,
                  "kv_lens[" + std::to_string(b) + "] = " + std::to_string(n) +
                      " is outside [0, " + std::to_string(perSeq * pageSize) +
                      "] (block_table " + dimsText(table) + " x page size " +
                      std::to_string(pageSize) + ")");
    for (int64_t j = 0; j < (n + pageSize - 1) / pageSize; ++j) {
      int32_t page = tab[b * perSeq + j];
      if (page < 0 || page >= pages)
        return fail(ATTN_ERROR_INVALID_ARGUMENT,
                    "block_table[" + std::to_string(b) + ", " +
                        std::to_string(j) + "] = " + std::to_string(page) +
                        " is not a page of the cache (it has " +
                        std::to_string(pages) + ")");
    }
  }
  return ATTN_OK;
}

static bool isOutputRole(const std::string &role) {
  return role == "out" || role == "lse" || role == "state_out";
}

/// Checks the strides of tensor `t` (rank and shape already checked):
/// none negative, the bytes it spans representable, and for an output no
/// two elements at one address. Sets `extent` to the bytes it spans.
static attn_status checkExtent(const std::string &what, const attn_tensor &t,
                               bool output,
                               std::pair<uintptr_t, uintptr_t> &extent) {
  auto bad = [&](const std::string &m) {
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT, what + " " + m);
  };
  int64_t last = 0; // offset of the last element, in elements
  for (int d = 0; d < t.rank; ++d) {
    if (t.strides[d] < 0)
      return bad("has a negative stride " + std::to_string(t.strides[d]) +
                 " in dimension " + std::to_string(d) +
                 " (views must have non-negative strides)");
    int64_t step;
    if (__builtin_mul_overflow(t.shape[d] - 1, t.strides[d], &step) ||
        __builtin_add_overflow(last, step, &last))
      return bad("spans more elements than fit in 64 bits (shape and "
                 "strides too large)");
  }
  int64_t elt =
      enumValue(t.dtype) == ATTN_F32 || enumValue(t.dtype) == ATTN_I32 ? 4 : 2;
  int64_t bytes;
  uintptr_t lo = reinterpret_cast<uintptr_t>(t.data), hi;
  if (__builtin_mul_overflow(last + 1, elt, &bytes) ||
      __builtin_add_overflow(lo, uintptr_t(bytes), &hi))
    return bad("spans more bytes than the address space has");
  extent = {lo, hi};
  if (!output)
    return ATTN_OK;
  // No self-overlap: ordered by stride, each dimension's stride clears the
  // span of the dimensions inside it (so a stride of 0 over an extent above
  // 1 is refused).
  std::vector<int> dims;
  for (int d = 0; d < t.rank; ++d)
    if (t.shape[d] > 1)
      dims.push_back(d);
  std::sort(dims.begin(), dims.end(),
            [&](int a, int b) { return t.strides[a] < t.strides[b]; });
  int64_t span = 1;
  for (int d : dims) {
    if (t.strides[d] < span)
      return bad("has stride " + std::to_string(t.strides[d]) +
                 " in dimension " + std::to_string(d) + " of extent " +
                 std::to_string(t.shape[d]) +
                 ": elements of an output would share memory");
    span = t.strides[d] * (t.shape[d] - 1) + span;
  }
  return ATTN_OK;
}

static bool isDenseRole(const std::string &role) {
  return role == "slopes" || role == "state_in" || role == "state_out" ||
         role == "block_table" || role == "kv_lens";
}

attn_status attnrt::checkLightningArgs(const attn_tensor *q,
                                       const attn_tensor *k,
                                       const attn_tensor *v,
                                       const attn_tensor *o,
                                       const attn_tensor *slopes,
                                       const attn_tensor *stateIn,
                                       const attn_tensor *stateOut) {
  if (q->shape[2] != k->shape[2])
    return fail(ATTN_ERROR_INVALID_ARGUMENT,
                "lightning attention needs q and k of one length N, got " +
                    std::to_string(q->shape[2]) + " and " +
                    std::to_string(k->shape[2]));
  if (attn_status s = checkAttentionArgs("", q, k, v, o, nullptr))
    return s;
  int64_t B = q->shape[0], H = q->shape[1], D = q->shape[3],
          Dv = v->shape[3];
  if (slopes && slopes->shape[0] != H)
    return fail(ATTN_ERROR_INVALID_ARGUMENT,
                "slopes must have H = " + std::to_string(H) +
                    " entries, got " + std::to_string(slopes->shape[0]));
  for (const attn_tensor *st : {stateIn, stateOut})
    if (st && (st->shape[0] != B || st->shape[1] != H || st->shape[2] != D ||
               st->shape[3] != Dv))
      return fail(ATTN_ERROR_INVALID_ARGUMENT,
                  std::string(st == stateIn ? "state_in" : "state_out") +
                      " must be [B, H, D, Dv] = [" + std::to_string(B) +
                      ", " + std::to_string(H) + ", " + std::to_string(D) +
                      ", " + std::to_string(Dv) + "]");
  return ATTN_OK;
}

/// The GPU half of attn_launch, once the arguments have passed the checks:
/// one CTA per (tile_m query rows, head, batch), each descriptor word its own
/// kernel parameter.
static attn_status launchCuda(const attnrt::cuda::Device &device,
                              const attn_kernel &kernel,
                              const attn_tensor *args,
                              std::vector<Descriptor> &descs) {
  std::vector<void *> params;
  for (size_t i = 0; i < kernel.args.size(); ++i) {
    const ArgMeta &m = kernel.args[i];
    std::string what = "argument " + std::to_string(i) + " (" + m.role + ")";
    if (attn_status s =
            attnrt::cuda::checkDevicePointer(device, args[i].data, what))
      return s;
    // Tiles move in 16-byte cp.async chunks: every row of a 4-D operand
    // must start 16-byte aligned.
    if (m.rank == 4) {
      int64_t elt = m.dtype == ATTN_F32 ? 4 : 2;
      bool aligned = reinterpret_cast<uintptr_t>(args[i].data) % 16 == 0;
      for (int d = 0; d < 3; ++d)
        aligned = aligned && (args[i].strides[d] * elt) % 16 == 0;
      if (!aligned)
        return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                            what + " must be 16-byte aligned with outer "
                                   "strides that are multiples of 16 bytes "
                                   "(GPU kernels copy rows in 16-byte "
                                   "chunks)");
    }
    for (int w = 0; w < 3 + 2 * m.rank; ++w)
      params.push_back(&descs[i].words[w]);
  }
  const attn_tensor *q = nullptr, *k = nullptr, *table = nullptr;
  for (size_t i = 0; i < kernel.args.size(); ++i) {
    if (kernel.args[i].role == "q")
      q = &args[i];
    if (kernel.args[i].role == "k")
      k = &args[i];
    if (kernel.args[i].role == "block_table")
      table = &args[i];
  }
  // TMA kernels: one CUtensorMap per tensormap line, by value, last. A
  // strided map whose rate does not divide N is left zero: only launches
  // for the N it divides read it.
  std::vector<attnrt::cuda::TensorMap> maps(kernel.tensorMaps.size());
  for (size_t t = 0; t < maps.size(); ++t) {
    const attnmeta::TensorMap &tm = kernel.tensorMaps[t];
    size_t i = 0;
    while (i < kernel.args.size() && kernel.args[i].role != tm.role)
      ++i;
    if (i == kernel.args.size() || kernel.args[i].rank != 4 ||
        kernel.args[i].dtype == ATTN_F32)
      return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                          "kernel '" + kernel.name + "' has a tensormap for "
                          "'" + tm.role + "', which is not an f16/bf16 "
                          "[B, H, N, D] argument");
    params.push_back(&maps[t]);
    if (args[i].shape[2] % tm.rate != 0)
      continue;
    if (attn_status s = attnrt::cuda::encodeTensorMap(
            device, args[i].data, kernel.args[i].dtype == ATTN_BF16, args[i].shape,
            args[i].strides, tm.cols, tm.rows, tm.rate,
            "argument " + std::to_string(i) + " (" + tm.role + ")", maps[t]))
      return s;
  }
  // Split-KV launches write their partials to the stream's workspace, f32
  // [S, B, H, Nq, Dv + 2], passed to every launch after the tensor maps.
  bool takesWorkspace = false;
  const attn_tensor *v = nullptr;
  for (size_t i = 0; i < kernel.args.size(); ++i)
    if (kernel.args[i].role == "v")
      v = &args[i];
  // A split launch that merges in its last CTAs also takes the stream's
  // counters, u32 [B * Hk], after the workspace.
  bool takesCounters = false;
  for (const attnmeta::Launch &launch : kernel.launches) {
    takesWorkspace = takesWorkspace || launch.splitKeys || launch.merge;
    takesCounters =
        takesCounters || launch.fusedMerge() || launch.persistent;
  }
  int64_t wsWords[3 + 2 * 5] = {};
  int64_t counterWords[3 + 2 * 1] = {};
  if (takesWorkspace)
    for (int w = 0; w < 3 + 2 * 5; ++w)
      params.push_back(&wsWords[w]);
  if (takesCounters)
    for (int w = 0; w < 3 + 2 * 1; ++w)
      params.push_back(&counterWords[w]);
  // The argument checks made every dimension positive, so no grid is
  // empty. Launches run in order on the context's stream.
  int64_t heads = q->shape[1], batch = q->shape[0];
  int64_t kvHeads = k ? k->shape[table ? 2 : 1] : heads;
  int64_t nq = q->shape[2], nk = k ? k->shape[2] : nq;
  // A paged cache: the lengths are in device memory, so the grid is sized
  // for the longest a sequence can be (pages per sequence x page size);
  // the splits past a shorter sequence's keys are empty and merge as such.
  if (table)
    nk = table->shape[1] * k->shape[1];
  // The query rows of one KV head: what a packed CTA holds.
  int64_t rows = nq * (heads / kvHeads);
  int64_t splits = 0; // of the last split launch
  bool wholeRows = false; // a split launch gave way
  for (size_t l = 0; l < kernel.launches.size(); ++l) {
    const attnmeta::Launch &launch = kernel.launches[l];
    int64_t tiles = launch.seg ? (nq + launch.seg - 1) / launch.seg : 1;
    int64_t gridX = tiles * launch.perSeg, gridY = heads, gridZ = batch;
    if (launch.splitKeys) {
      gridX = attnmeta::splitCount(launch, nk, rows, batch * kvHeads,
                                   device.multiprocessors);
      gridY = kvHeads;
    }
    if (tiles > INT32_MAX / launch.perSeg || heads > 65535 || batch > 65535)
      return attnrt::fail(ATTN_ERROR_UNSUPPORTED,
                          "kernel '" + kernel.name + "' would need a grid of (" +
                              std::to_string(tiles) + " * " +
                              std::to_string(launch.perSeg) + ", " +
                              std::to_string(heads) + ", " +
                              std::to_string(batch) +
                              ") blocks; CUDA allows at most (2^31 - 1, "
                              "65535, 65535)");
    if (launch.persistent) {
      // At most one CTA per item (tiles * perSeg < 2^31, H and B < 2^16:
      // the product fits in 64 bits; the kernel counts items in 32 bits).
      int64_t items = tiles * launch.perSeg * heads * batch;
      if (items > INT32_MAX)
        return attnrt::fail(ATTN_ERROR_UNSUPPORTED,
                            "kernel '" + kernel.name + "' is persistent and "
                            "counts its " + std::to_string(items) +
                            " (query tile, head, batch) items in 32 bits");
      gridX = attn_persistent_ctas(items, launch.persistent,
                                   device.multiprocessors);
      gridY = gridZ = 1;
    }
    unsigned grid[3] = {unsigned(gridX), unsigned(gridY), unsigned(gridZ)};
    int64_t ctas = gridX * gridY * gridZ;
    // After a split launch that gave way, the launches run above their
    // rows bounds.
    if (!attn_launch_applies(launch.cond, launch.keysLo, launch.keysHi,
                             launch.ctasLo, launch.ctasHi,
                             wholeRows ? 0 : launch.rowsLo,
                             wholeRows ? 0 : launch.rowsHi, nq, nk, ctas, rows))
      continue;
    if (launch.merge && !launch.splitKeys && (wholeRows || splits <= 1))
      continue;
    // (Not over a paged cache: the whole-row kernels that read faster are
    // the TMA ones, and a paged cache's load by cp.async.)
    if (launch.splitKeys && !table && attn_split_declines(heads / kvHeads,
                                                batch * heads,
                                                device.multiprocessors)) {
      wholeRows = true;
      continue;
    }
    if (launch.persistent) {
      // Its next work item: counter 0 of the stream's counters (zero
      // between launches: the kernel's last draw resets it).
      void *count = nullptr;
      if (attn_status s = attnrt::cuda::counters(device, 1, &count))
        return s;
      counterWords[0] = counterWords[1] =
          int64_t(reinterpret_cast<uintptr_t>(count));
      counterWords[2] = 0;
      counterWords[3] = 1;
      counterWords[4] = 1;
    }
    if (launch.splitKeys) {
      splits = gridX;
      int64_t dv = v ? v->shape[3] : 0;
      int64_t shape[5] = {splits, batch, heads, nq, dv + 2};
      void *data = nullptr;
      if (splits > 1)
        if (attn_status s = attnrt::cuda::workspace(
                device,
                size_t(attnmeta::workspaceBytes(splits, batch, heads, nq, dv)),
                &data))
          return s;
      wsWords[0] = wsWords[1] = int64_t(reinterpret_cast<uintptr_t>(data));
      wsWords[2] = 0;
      if (launch.fusedMerge() && splits > 1) {
        void *count = nullptr;
        if (attn_status s = attnrt::cuda::counters(
                device, size_t(batch * kvHeads), &count))
          return s;
        counterWords[0] = counterWords[1] =
            int64_t(reinterpret_cast<uintptr_t>(count));
        counterWords[2] = 0;
        counterWords[3] = batch * kvHeads;
        counterWords[4] = 1;
      }
      int64_t stride = 1;
      for (int d = 4; d >= 0; --d) {
        wsWords[3 + d] = shape[d];
        wsWords[8 + d] = stride;
        stride *= shape[d];
      }
    }
    if (attn_status s = attnrt::cuda::launch(
            device, *kernel.gpu, l, grid, unsigned(launch.threads),
            unsigned(launch.smem), params.data()))
      return s;
  }
  return ATTN_OK;
}

extern "C" attn_status attn_launch(attn_context *contextHandle,
                                   const attn_kernel *kernelHandle,
                                   const attn_tensor *args, int num_args) {
  std::shared_ptr<attn_context> ctx = liveContext(contextHandle);
  if (!ctx)
    return ATTN_ERROR_INVALID_ARGUMENT;
  std::shared_ptr<attn_kernel> kernel = liveKernel(kernelHandle);
  if (!kernel)
    return ATTN_ERROR_INVALID_ARGUMENT;
  if (!args)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT, "null argument");
  if (kernel->gpu && !ctx->cuda)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        "kernel '" + kernel->name +
                            "' is a CUDA kernel and cannot run on a CPU "
                            "context");
  if (!kernel->gpu && ctx->cuda)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        "kernel '" + kernel->name +
                            "' is a CPU kernel and cannot run on a CUDA "
                            "context");
  if (kernel->gpu && kernel->gpu->ordinal != ctx->cuda->ordinal)
    return attnrt::fail(
        ATTN_ERROR_INVALID_ARGUMENT,
        "kernel '" + kernel->name + "' was loaded on CUDA device " +
            std::to_string(kernel->gpu->ordinal) +
            ", the context is on device " + std::to_string(ctx->cuda->ordinal));
  size_t n = kernel->args.size();
  if (num_args != int(n))
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        "kernel '" + kernel->name + "' takes " +
                            std::to_string(n) + " tensors, got " +
                            std::to_string(num_args));
  const attn_tensor *byRole[10] = {};
  const char *roles[10] = {"q",         "k",          "v",
                           "out",       "lse",        "slopes",
                           "state_in",  "state_out",  "block_table",
                           "kv_lens"};
  std::vector<Descriptor> descs(n);
  std::vector<void *> ptrs(n);
  std::vector<std::pair<uintptr_t, uintptr_t>> extents(n); // bytes [lo, hi)
  for (size_t i = 0; i < n; ++i) {
    const ArgMeta &m = kernel->args[i];
    const attn_tensor &t = args[i];
    std::string what = "argument " + std::to_string(i) + " (" + m.role + ")";
    if (!t.data)
      return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT, what + " has no data");
    int dtype = enumValue(t.dtype);
    if (dtype < ATTN_F32 || dtype > ATTN_I32)
      return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                          what + " has an unknown dtype " +
                              std::to_string(dtype));
    if (t.dtype != m.dtype)
      return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                          what + " must be " + dtypeName(m.dtype) + ", got " +
                              dtypeName(t.dtype));
    if (t.rank != m.rank)
      return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                          what + " must have rank " + std::to_string(m.rank) +
                              ", got " + std::to_string(t.rank));
    for (int dIdx = 0; dIdx < m.rank; ++dIdx) {
      if (t.shape[dIdx] <= 0)
        return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                            what + " dimension " + std::to_string(dIdx) +
                                " must be positive, got " +
                                std::to_string(t.shape[dIdx]));
      if (m.dims[dIdx] >= 0 && t.shape[dIdx] != m.dims[dIdx])
        return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                            what + " dimension " + std::to_string(dIdx) +
                                " must be " + std::to_string(m.dims[dIdx]) +
                                " for this kernel, got " +
                                std::to_string(t.shape[dIdx]));
    }
    if (t.strides[m.rank - 1] != 1)
      return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                          what + " must have innermost stride 1, got " +
                              std::to_string(t.strides[m.rank - 1]));
    if (attn_status s = checkExtent(what, t, isOutputRole(m.role), extents[i]))
      return s;
    for (int r = 0; r < 10; ++r)
      if (m.role == roles[r])
        byRole[r] = &t;
    // Slopes and states are plain contiguous arrays in the kernel ABI.
    if (isDenseRole(m.role)) {
      int64_t stride = 1;
      for (int dIdx = m.rank - 1; dIdx >= 0; --dIdx) {
        if (t.strides[dIdx] != stride)
          return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                              what + " must be contiguous (row-major)");
        stride *= t.shape[dIdx];
      }
    }
    int64_t *w = descs[i].words;
    std::memcpy(&w[0], &t.data, sizeof(void *));
    std::memcpy(&w[1], &t.data, sizeof(void *));
    w[2] = 0;
    for (int dIdx = 0; dIdx < m.rank; ++dIdx) {
      w[3 + dIdx] = t.shape[dIdx];
      w[3 + m.rank + dIdx] = t.strides[dIdx];
    }
    ptrs[i] = &descs[i];
  }
  // An output that shares memory with another tensor would be read while
  // it is written (or written twice): the result is undefined.
  for (size_t i = 0; i < n; ++i) {
    if (!isOutputRole(kernel->args[i].role))
      continue;
    for (size_t j = 0; j < n; ++j)
      if (j != i && extents[i].first < extents[j].second &&
          extents[j].first < extents[i].second)
        return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                            "argument " + std::to_string(i) + " (" +
                                kernel->args[i].role + ") overlaps argument " +
                                std::to_string(j) + " (" +
                                kernel->args[j].role +
                                ") in memory; outputs need memory of "
                                "their own");
  }
  if (!byRole[0] || !byRole[1] || !byRole[2] || !byRole[3])
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        "kernel '" + kernel->name + "' metadata lacks q, k, v "
                        "or out");
  attn_status checked =
      kernel->op == "lightning"
          ? attnrt::checkLightningArgs(byRole[0], byRole[1], byRole[2],
                                       byRole[3], byRole[5], byRole[6],
                                       byRole[7])
          : attnrt::checkAttentionArgs(kernel->pattern, byRole[0], byRole[1],
                                       byRole[2], byRole[3], byRole[4],
                                       byRole[8], byRole[9]);
  if (checked != ATTN_OK)
    return checked;
  bool paged = byRole[8] != nullptr;
  // Host memory: every length and page number a sequence uses is checked
  // (the kernels clamp them, which keeps memory safe but not the result).
  if (paged && !ctx->cuda)
    if (attn_status s = attnrt::checkPagedContents(byRole[1], byRole[8],
                                                   byRole[9]))
      return s;
  if (ctx->cuda)
    return launchCuda(*ctx->cuda, *kernel, args, descs);
  for (size_t p = 0; p < kernel->count.size(); ++p) {
    // Phases with a condition (schedules tuned per sequence length) run
    // where it holds.
    // (A paged cache: Nk up to pages per sequence x page size.)
    int64_t nk = paged ? byRole[8]->shape[1] * byRole[1]->shape[1]
                       : byRole[1]->shape[2];
    int64_t kvHeads = byRole[1]->shape[paged ? 2 : 1];
    if (!kernel->launches.empty() &&
        !attnmeta::launchApplies(
            kernel->launches[p], byRole[0]->shape[2], nk, 0,
            byRole[0]->shape[2] * (byRole[0]->shape[1] / kvHeads)))
      continue;
    int64_t items = countFor(n, kernel->count[p], ptrs.data());
    void *run = kernel->run[p];
    // A schedule may run the phase on fewer workers (`threads`).
    int64_t maxThreads =
        kernel->launches.empty() ? 0 : kernel->launches[p].threads;
    ctx->pool->parallelFor(
        items, [&](int64_t item) { runFor(n, run, ptrs.data(), item, item + 1); },
        maxThreads);
  }
  return ATTN_OK;
}

//===----------------------------------------------------------------------===//
// Timing
//===----------------------------------------------------------------------===//

extern "C" attn_status attn_benchmark(attn_context *contextHandle,
                                      const attn_kernel *kernel,
                                      const attn_tensor *args, int num_args,
                                      int runs, int flush_l2,
                                      float *times_ms) {
  if (!times_ms)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT, "null argument");
  if (runs < 1 || runs > 100000)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        "runs must be in [1, 100000], got " +
                            std::to_string(runs));
  std::shared_ptr<attn_context> ctx = liveContext(contextHandle);
  if (!ctx)
    return ATTN_ERROR_INVALID_ARGUMENT;
  auto launch = [&] {
    return attn_launch(contextHandle, kernel, args, num_args);
  };
  if (ctx->cuda) {
    std::vector<float> ms;
    if (attn_status s = attnrt::cuda::timeLaunches(*ctx->cuda, runs,
                                                   flush_l2 != 0, launch, ms))
      return s;
    std::copy(ms.begin(), ms.end(), times_ms);
    return ATTN_OK;
  }
  // CPU launches return when done: the wall clock of each.
  for (int r = 0; r < runs; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    if (attn_status s = launch())
      return s;
    times_ms[r] = float(std::chrono::duration<double, std::milli>(
                            std::chrono::steady_clock::now() - t0)
                            .count());
  }
  return ATTN_OK;
}
