//===- Internal.h - shared pieces of the runtime layers ---------*- C++ -*-===//
// Error reporting, argument checks and CUDA module loading used by the core
// and the JIT layer.
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_CORE_INTERNAL_H
#define ATTN_RUNTIME_CORE_INTERNAL_H

#include "runtime/attnrt.h"

#include <cstddef>
#include <string>

namespace attnrt {
/// Records `message` as this thread's last error and returns `status`.
attn_status fail(attn_status status, const std::string &message);

/// Cross-argument checks of an attention launch (shapes must agree).
attn_status checkAttentionArgs(const std::string &pattern,
                               const attn_tensor *q, const attn_tensor *k,
                               const attn_tensor *v, const attn_tensor *o,
                               const attn_tensor *lse,
                               const attn_tensor *table = nullptr,
                               const attn_tensor *lens = nullptr);
/// A paged launch on host memory: every kv_lens in [0, M S] and every page
/// number a sequence uses in [0, P).
attn_status checkPagedContents(const attn_tensor *k, const attn_tensor *table,
                               const attn_tensor *lens);
/// The same for attn.lightning (states [B, H, D, Dv], slopes [H]).
attn_status checkLightningArgs(const attn_tensor *q, const attn_tensor *k,
                               const attn_tensor *v, const attn_tensor *o,
                               const attn_tensor *slopes,
                               const attn_tensor *stateIn,
                               const attn_tensor *stateOut);

/// Loads GPU kernel `name` from a CUDA module image (a cubin, or PTX; PTX
/// without a final NUL is copied and given one) on a CUDA context, as
/// attn_kernel_load_image does; `origin` names the image in messages (e.g.
/// the cache file it came from).
attn_status loadImage(attn_context *ctx, const void *image, size_t size,
                      const std::string &name, attn_kernel **out,
                      const std::string &origin = "the image");

/// Whether `ctx` is a CUDA context.
bool isCuda(const attn_context *ctx);
/// The compute capability of a CUDA context's device as major * 10 + minor
/// (80 for sm_80, 90 for sm_90a); 0 for a CPU context.
int cudaComputeCapability(const attn_context *ctx);
} // namespace attnrt

#endif
