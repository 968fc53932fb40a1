//===- Cuda.h - the runtime core's CUDA backend -----------------*- C++ -*-===//
// CUDA devices, modules, launches and device memory, on the CUDA driver API
// loaded with dlopen at run time: the core links no CUDA library, so one
// build runs on machines with and without a GPU.
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_CORE_CUDA_H
#define ATTN_RUNTIME_CORE_CUDA_H

#include "runtime/attnrt.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace attnrt {
namespace cuda {
// The driver API's handle types, as cuda.h declares them (cuda.h itself is
// not needed to build the runtime).
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;

/// A device's primary context (the one the CUDA runtime and PyTorch use),
/// retained while this object lives, and the stream launches go to.
struct Device {
  int ordinal = 0;
  CUdevice device = 0;
  CUcontext context = nullptr;
  int computeCapability = 0;             // major * 10 + minor
  int64_t maxSharedPerBlock = 0;         // dynamic shared memory, opted in
  std::string name;                      // "NVIDIA H100 80GB HBM3"
  int multiprocessors = 0;
  std::atomic<CUstream> stream{nullptr}; // null: the legacy default stream
  /// Scratch memory of launches, per stream so that launches on different
  /// streams never share it (workspace(), counters()): the split-KV
  /// partials, and the fused merge's counters (zero between launches).
  struct Buffer {
    void *data = nullptr;
    size_t bytes = 0;
  };
  struct Scratch {
    CUstream stream;
    Buffer partials, counters;
  };
  mutable std::mutex scratchMutex;
  mutable std::vector<Scratch> scratch;
  ~Device();
};

/// Loads the driver (once per process) and retains device `ordinal`'s
/// primary context.
attn_status openDevice(int ordinal, std::unique_ptr<Device> &out);

/// A loaded module and its entry function. It retains the primary context
/// itself, so a kernel stays valid after the attn_context that loaded it is
/// destroyed.
struct Module {
  int ordinal = 0;
  CUdevice device = 0;
  CUcontext context = nullptr;
  CUmodule module = nullptr;
  CUfunction function = nullptr;
  /// The entry points of the kernel's launches, in order (the first is
  /// `function`); filled by resolveLaunches.
  std::vector<CUfunction> launches;
  ~Module();
};

/// Loads `image` (a cubin, or PTX ending in NUL) on `device`, finds the
/// entry function `name` and reads its metadata, the NUL-terminated global
/// `name__attn_meta`, into `meta`. `origin` names the image in messages.
attn_status loadModule(const Device &device, const void *image,
                       const std::string &name, const std::string &origin,
                       std::unique_ptr<Module> &out, std::string &meta);

/// Looks up the entry point of each launch (`entries`, in order: name and
/// dynamic shared memory) and lets each use its shared memory (an opt-in
/// above the default 48 KiB).
attn_status
resolveLaunches(Module &module,
                const std::vector<std::pair<std::string, int64_t>> &entries);

/// INVALID_ARGUMENT "`what` is not device memory" unless `p` points to
/// device (or managed) memory.
attn_status checkDevicePointer(const Device &device, const void *p,
                               const std::string &what);

/// Queues launch `index` of the module on the device's stream.
attn_status launch(const Device &device, const Module &module, size_t index,
                   const unsigned grid[3], unsigned threads,
                   unsigned sharedBytes, void **params);

/// Waits for the work queued on the device's stream.
attn_status synchronize(const Device &device);

/// Times `runs` calls of `launch` (which queues work on the device's
/// stream) with CUDA events, flushing the L2 cache before each when asked;
/// `ms` gets each run's milliseconds. Waits for the last run.
attn_status timeLaunches(const Device &device, int runs, bool flushL2,
                         const std::function<attn_status()> &launch,
                         std::vector<float> &ms);

/// A CUtensorMap: 128 opaque bytes, 64-byte aligned.
struct alignas(64) TensorMap {
  uint64_t words[16];
};
/// The TMA descriptor of a [B, H, N, X] f16/bf16 device tensor (sizes and
/// strides in elements, innermost stride 1) for boxes of boxRows x boxCols
/// elements, 128-byte swizzle, zero fill out of bounds. `rate` > 1 (which
/// must divide N): the tensor seen as [B, H, N / rate, rate, X], boxes of
/// boxRows rows `rate` apart. The device's context is made current for the
/// call (the driver refuses to encode on a thread with none current).
attn_status encodeTensorMap(const Device &device, const void *base, bool bf16,
                            const int64_t sizes[4], const int64_t strides[4],
                            int64_t boxCols, int64_t boxRows, int64_t rate,
                            const std::string &what, TensorMap &out);

attn_status allocate(const Device &device, size_t bytes, void **out);
/// At least `bytes` of scratch device memory for the launches queued on the
/// device's current stream, valid until the next call for that stream. A
/// buffer that must grow is freed once the stream's earlier work is done;
/// buffers live until the device is closed. (Not under CUDA graph capture:
/// growing allocates.)
attn_status workspace(const Device &device, size_t bytes, void **out);
/// At least `words` uint32 counters for the launches queued on the current
/// stream, all zero when those launches start: a split-KV kernel that
/// merges in its last CTA counts its finished CTAs there and sets the count
/// back to zero. Zeroed (on the stream) when allocated.
attn_status counters(const Device &device, size_t words, void **out);
attn_status release(const Device &device, void *p);
/// Synchronous copies; they first wait for the device's stream, so that they
/// are ordered after the launches queued on it.
attn_status copyToDevice(const Device &device, void *dst, const void *src,
                         size_t bytes);
attn_status copyToHost(const Device &device, void *dst, const void *src,
                       size_t bytes);
} // namespace cuda
} // namespace attnrt

#endif
