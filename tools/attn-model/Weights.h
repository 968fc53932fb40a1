//===- Weights.h - float32 tensors from a safetensors file ------*- C++ -*-===//
// Reads the safetensors file that convert_gguf.py writes: the JSON header
// (nlohmann/json), every tensor's dtype, shape and byte range checked
// against the file before anything is used.
//===----------------------------------------------------------------------===//
#ifndef ATTN_TOOLS_MODEL_WEIGHTS_H
#define ATTN_TOOLS_MODEL_WEIGHTS_H

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnmodel {

/// Every failure of the model runner: a message naming the problem.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class SafeTensors {
public:
  /// Opens and validates `path`; throws Error naming the problem (missing,
  /// truncated, malformed header, a tensor outside the data, overlapping
  /// tensors, a dtype other than F32).
  explicit SafeTensors(const std::string &path);
  SafeTensors(const SafeTensors &) = delete;
  SafeTensors &operator=(const SafeTensors &) = delete;
  ~SafeTensors();

  /// Copies the tensor `name`, which must have exactly `shape`, to `dst`
  /// (float32, as many elements as the shape holds); throws Error when it
  /// is missing or has another shape. (A copy: safetensors does not align
  /// its data section.)
  void copy(const std::string &name, const std::vector<int64_t> &shape,
            float *dst) const;
  bool has(const std::string &name) const { return tensors.count(name); }
  /// A metadata value; throws Error when missing.
  const std::string &meta(const std::string &key) const;
  int64_t metaInt(const std::string &key) const;
  double metaFloat(const std::string &key) const;
  /// A metadata value holding a JSON list of integers, e.g. "[8, 16]".
  std::vector<int64_t> metaInts(const std::string &key) const;
  bool hasMeta(const std::string &key) const { return metadata.count(key); }
  const std::string &path() const { return file; }

private:
  void parseHeader();
  struct Entry {
    std::vector<int64_t> shape;
    uint64_t begin, end; // byte offsets into the data section
  };
  std::string file;
  std::map<std::string, Entry> tensors;
  std::map<std::string, std::string> metadata;
  const uint8_t *data = nullptr; // start of the data section
  void *map = nullptr;
  size_t mapSize = 0;
};

} // namespace attnmodel

#endif
