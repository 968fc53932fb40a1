//===- Weights.cpp - float32 tensors from a safetensors file --------------===//
// The format: 8 bytes little-endian header length N, N bytes of JSON
// ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {string: string}}), then the data. The file is mapped
// read-only; every offset is checked before a tensor is handed out.
//===----------------------------------------------------------------------===//
#include "tools/attn-model/Weights.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace attnmodel;
using json = nlohmann::json;

namespace {

std::string shapeText(const std::vector<int64_t> &s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i)
    t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

} // namespace

SafeTensors::SafeTensors(const std::string &path) : file(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw Error("cannot open weights '" + path + "': " + std::strerror(errno) +
                " (tools/attn-model/convert_gguf.py writes them)");
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error("weights '" + path + "' are not a regular file");
  }
  size_t size = size_t(st.st_size);
  auto bad = [&](const std::string &why) {
    return Error("weights '" + path + "' are not a valid safetensors file: " +
                 why);
  };
  if (size < 8) {
    ::close(fd);
    throw bad("only " + std::to_string(size) + " bytes");
  }
  map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    map = nullptr;
    throw Error("cannot map weights '" + path + "': " + std::strerror(errno));
  }
  mapSize = size;
  try {
    parseHeader();
  } catch (...) {
    ::munmap(map, mapSize); // no destructor runs after a throw here
    map = nullptr;
    throw;
  }
}

void SafeTensors::parseHeader() {
  const std::string &path = file;
  size_t size = mapSize;
  auto bad = [&](const std::string &why) {
    return Error("weights '" + path + "' are not a valid safetensors file: " +
                 why);
  };
  const uint8_t *bytes = static_cast<const uint8_t *>(map);
  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i)
    headerLen = headerLen << 8 | bytes[i];
  if (headerLen < 2 || headerLen > size - 8)
    throw bad("header length " + std::to_string(headerLen) +
              " does not fit the file's " + std::to_string(size) + " bytes");
  json header = json::parse(bytes + 8, bytes + 8 + headerLen, nullptr,
                            /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object())
    throw bad("the header is not a JSON object");
  data = bytes + 8 + headerLen;
  uint64_t dataSize = size - 8 - headerLen;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto &[name, e] : header.items()) {
    if (name == "__metadata__") {
      if (!e.is_object())
        throw bad("__metadata__ is not an object");
      for (auto &[k, v] : e.items()) {
        if (!v.is_string())
          throw bad("metadata '" + k + "' is not a string");
        metadata[k] = v.get<std::string>();
      }
      continue;
    }
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") ||
        !e.contains("data_offsets") || !e["dtype"].is_string() ||
        !e["shape"].is_array() || !e["data_offsets"].is_array() ||
        e["data_offsets"].size() != 2)
      throw bad("tensor '" + name + "' lacks dtype, shape or data_offsets");
    if (e["dtype"] != "F32")
      throw bad("tensor '" + name + "' is " + e["dtype"].get<std::string>() +
                "; attn-model reads F32 (convert_gguf.py writes it)");
    Entry t;
    uint64_t count = 1;
    for (auto &d : e["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t(1) << 40))
        throw bad("tensor '" + name + "' has a bad shape");
      t.shape.push_back(int64_t(d.get<uint64_t>()));
      count *= d.get<uint64_t>();
      if (count > (uint64_t(1) << 40))
        throw bad("tensor '" + name + "' is implausibly large");
    }
    for (auto &o : e["data_offsets"])
      if (!o.is_number_unsigned())
        throw bad("tensor '" + name + "' has bad data_offsets");
    t.begin = e["data_offsets"][0].get<uint64_t>();
    t.end = e["data_offsets"][1].get<uint64_t>();
    if (t.begin > t.end || t.end > dataSize)
      throw bad("tensor '" + name + "' lies outside the file's data (" +
                std::to_string(t.end) + " > " + std::to_string(dataSize) +
                " bytes; truncated?)");
    if (t.end - t.begin != 4 * count)
      throw bad("tensor '" + name + "' " + shapeText(t.shape) + " needs " +
                std::to_string(4 * count) + " bytes, its range has " +
                std::to_string(t.end - t.begin));
    ranges.push_back({t.begin, t.end});
    tensors[name] = t;
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second)
      throw bad("two tensors share bytes");
}

SafeTensors::~SafeTensors() {
  if (map)
    ::munmap(map, mapSize);
}

void SafeTensors::copy(const std::string &name,
                       const std::vector<int64_t> &shape, float *dst) const {
  auto it = tensors.find(name);
  if (it == tensors.end())
    throw Error("weights '" + file + "' have no tensor '" + name + "'");
  if (it->second.shape != shape)
    throw Error("weights '" + file + "': tensor '" + name + "' is " +
                shapeText(it->second.shape) + ", the model needs " +
                shapeText(shape));
  std::memcpy(dst, data + it->second.begin,
              it->second.end - it->second.begin);
}

const std::string &SafeTensors::meta(const std::string &key) const {
  auto it = metadata.find(key);
  if (it == metadata.end())
    throw Error("weights '" + file + "' have no metadata '" + key +
                "' (not written by convert_gguf.py?)");
  return it->second;
}

int64_t SafeTensors::metaInt(const std::string &key) const {
  const std::string &v = meta(key);
  char *end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || errno)
    throw Error("weights '" + file + "': metadata '" + key + "' = '" + v +
                "' is not an integer");
  return x;
}

double SafeTensors::metaFloat(const std::string &key) const {
  const std::string &v = meta(key);
  char *end = nullptr;
  errno = 0;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || errno)
    throw Error("weights '" + file + "': metadata '" + key + "' = '" + v +
                "' is not a number");
  return x;
}

std::vector<int64_t> SafeTensors::metaInts(const std::string &key) const {
  const std::string &v = meta(key);
  json j = json::parse(v, nullptr, /*allow_exceptions=*/false);
  std::vector<int64_t> out;
  bool ok = j.is_array() && !j.empty();
  for (const json &e : ok ? j : json::array()) {
    if (!e.is_number_integer()) {
      ok = false;
      break;
    }
    out.push_back(e.get<int64_t>());
  }
  if (!ok)
    throw Error("weights '" + file + "': metadata '" + key + "' = '" + v +
                "' is not a list of integers");
  return out;
}
