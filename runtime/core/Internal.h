//===- Internal.h - shared pieces of the runtime layers ---------*- C++ -*-===//
// Error reporting and argument checks used by the core and the JIT layer.
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_CORE_INTERNAL_H
#define ATTN_RUNTIME_CORE_INTERNAL_H

#include "runtime/attnrt.h"

#include <string>

namespace attnrt {
/// Records `message` as this thread's last error and returns `status`.
attn_status fail(attn_status status, const std::string &message);

/// Cross-argument checks of an attention launch (shapes must agree).
attn_status checkAttentionArgs(const std::string &pattern,
                               const attn_tensor *q, const attn_tensor *k,
                               const attn_tensor *v, const attn_tensor *o,
                               const attn_tensor *lse);
/// The same for attn.lightning (states [B, H, D, Dv], slopes [H]).
attn_status checkLightningArgs(const attn_tensor *q, const attn_tensor *k,
                               const attn_tensor *v, const attn_tensor *o,
                               const attn_tensor *slopes,
                               const attn_tensor *stateIn,
                               const attn_tensor *stateOut);
} // namespace attnrt

#endif
