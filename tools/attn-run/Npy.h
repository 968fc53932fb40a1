//===- Npy.h - .npy files in and out ----------------------------*- C++ -*-===//
// Reads and writes NumPy .npy arrays (float32 and float16, C order,
// little-endian), with every malformation reported by name.
//===----------------------------------------------------------------------===//
#ifndef ATTN_TOOLS_NPY_H
#define ATTN_TOOLS_NPY_H

#include <cstdint>
#include <string>
#include <vector>

namespace attn {

struct Array {
  std::vector<int64_t> shape;
  std::vector<double> data; // values, whatever the file's dtype
  std::string dtype;        // "f32" or "f16"
  /// The element count; readNpy has checked that it fits the file.
  int64_t size() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
};

/// Reads `path`; on failure returns false and sets `error`. The header is
/// checked against the file's size before the data is read; only regular
/// files are read.
bool readNpy(const std::string &path, Array &out, std::string &error);
/// The bytes of a .npy file of float32 or float16 ("f32"/"f16") data.
std::string encodeNpy(const std::vector<int64_t> &shape,
                      const std::vector<float> &data, const std::string &dtype);
/// Writes float32 or float16 ("f32"/"f16") atomically.
bool writeNpy(const std::string &path, const std::vector<int64_t> &shape,
              const std::vector<float> &data, const std::string &dtype,
              std::string &error);

float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);
float bf16ToFloat(uint16_t h);
uint16_t floatToBf16(float f);

} // namespace attn

#endif
