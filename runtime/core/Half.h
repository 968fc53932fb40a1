//===- Half.h - f32 <-> bf16 / f16 on the host ------------------*- C++ -*-===//
// Header-only conversions for host code that handles 16-bit tensors (the
// sequence-parallel merge, the model runner's CPU and GPU operations):
// round to nearest even, NaN kept a NaN; f16 through the compiler's
// _Float16.
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_CORE_HALF_H
#define ATTN_RUNTIME_CORE_HALF_H

#include "runtime/attnrt.h"

#include <cstdint>
#include <cstring>

namespace attnrt {

inline uint16_t floatToHalf(float f, attn_dtype t) {
  uint16_t u;
  if (t == ATTN_BF16) {
    uint32_t w;
    std::memcpy(&w, &f, 4);
    if ((w & 0x7fffffffu) > 0x7f800000u)
      return uint16_t((w >> 16) | 0x40);
    return uint16_t((w + 0x7fffu + ((w >> 16) & 1)) >> 16);
  }
  _Float16 h = static_cast<_Float16>(f);
  std::memcpy(&u, &h, 2);
  return u;
}

inline float halfToFloat(uint16_t u, attn_dtype t) {
  if (t == ATTN_BF16) {
    uint32_t w = uint32_t(u) << 16;
    float f;
    std::memcpy(&f, &w, 4);
    return f;
  }
  _Float16 h;
  std::memcpy(&h, &u, 2);
  return float(h);
}

} // namespace attnrt

#endif
