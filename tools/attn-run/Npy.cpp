//===- Npy.cpp - .npy files in and out ------------------------------------===//
// The .npy format: magic, version, a Python-dict header, then raw data.
//===----------------------------------------------------------------------===//
#include "tools/attn-run/Npy.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace attn {

float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f,
           man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { // subnormal: normalise
      int e = -1;
      do {
        ++e;
        man <<= 1;
      } while (!(man & 0x400));
      bits = sign | uint32_t(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | man << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | man << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t floatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  int32_t exp = int32_t((x >> 23) & 0xff) - 127 + 15;
  uint32_t man = x & 0x7fffff;
  if (((x >> 23) & 0xff) == 0xff) // inf or nan
    return uint16_t(sign | 0x7c00 | (man ? 0x200 : 0));
  if (exp >= 31)
    return uint16_t(sign | 0x7c00);
  if (exp <= 0) { // subnormal or zero, round to nearest even
    if (exp < -10)
      return uint16_t(sign);
    man |= 0x800000;
    uint32_t shift = uint32_t(14 - exp);
    uint32_t half = man >> shift, rest = man & ((1u << shift) - 1),
             mid = 1u << (shift - 1);
    if (rest > mid || (rest == mid && (half & 1)))
      ++half;
    return uint16_t(sign | half);
  }
  uint32_t h = sign | uint32_t(exp) << 10 | man >> 13;
  uint32_t rest = man & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
    ++h; // may carry into the exponent, which is the correct rounding
  return uint16_t(h);
}

float bf16ToFloat(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t floatToBf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000)
    return uint16_t((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1); // round to nearest even
  return uint16_t(x >> 16);
}

bool readNpy(const std::string &path, Array &out, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open '" + path + "'";
    return false;
  }
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  auto bad = [&](const std::string &why) {
    error = "'" + path + "' is not a valid .npy file: " + why;
    return false;
  };
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    return bad("missing the \\x93NUMPY magic");
  unsigned major = uint8_t(bytes[6]);
  size_t headerLen, offset;
  if (major == 1) {
    headerLen = uint8_t(bytes[8]) | size_t(uint8_t(bytes[9])) << 8;
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return bad("truncated header");
    headerLen = uint8_t(bytes[8]) | size_t(uint8_t(bytes[9])) << 8 |
                size_t(uint8_t(bytes[10])) << 16 |
                size_t(uint8_t(bytes[11])) << 24;
    offset = 12;
  } else {
    return bad("unknown format version " + std::to_string(major));
  }
  if (bytes.size() < offset + headerLen)
    return bad("truncated header");
  std::string header = bytes.substr(offset, headerLen);
  auto field = [&](const std::string &key) -> std::string {
    size_t k = header.find("'" + key + "'");
    if (k == std::string::npos)
      return "";
    size_t colon = header.find(':', k);
    if (colon == std::string::npos)
      return "";
    size_t start = header.find_first_not_of(" ", colon + 1);
    if (start == std::string::npos)
      return "";
    if (header[start] == '(') {
      size_t end = header.find(')', start);
      return end == std::string::npos ? ""
                                      : header.substr(start, end - start + 1);
    }
    size_t end = header.find_first_of(",}", start);
    return header.substr(start, end - start);
  };
  std::string descr = field("descr"), order = field("fortran_order"),
              shape = field("shape");
  if (descr.empty() || order.empty() || shape.empty())
    return bad("header lacks descr, fortran_order or shape");
  if (order != "False")
    return bad("Fortran order is not supported (save C-order arrays)");
  size_t item;
  if (descr == "'<f4'") {
    out.dtype = "f32";
    item = 4;
  } else if (descr == "'<f2'") {
    out.dtype = "f16";
    item = 2;
  } else {
    error = "'" + path + "' has dtype " + descr +
            "; attn-run reads float32 ('<f4') and float16 ('<f2')";
    return false;
  }
  out.shape.clear();
  std::string dims = shape.substr(1, shape.size() - 2);
  std::stringstream ss(dims);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    size_t a = tok.find_first_not_of(" ");
    if (a == std::string::npos)
      continue;
    char *end = nullptr;
    long long v = std::strtoll(tok.c_str() + a, &end, 10);
    if (end == tok.c_str() + a || v < 0 || v > (1ll << 40))
      return bad("bad shape " + shape);
    out.shape.push_back(v);
  }
  int64_t n = out.size();
  size_t dataStart = offset + headerLen;
  if (n < 0 || (bytes.size() - dataStart) / item < size_t(n))
    return bad("truncated data: shape " + shape + " needs " +
               std::to_string(n * item) + " bytes, file has " +
               std::to_string(bytes.size() - dataStart));
  out.data.resize(n);
  const char *p = bytes.data() + dataStart;
  for (int64_t i = 0; i < n; ++i) {
    if (item == 4) {
      float f;
      std::memcpy(&f, p + 4 * i, 4);
      out.data[i] = f;
    } else {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      out.data[i] = halfToFloat(h);
    }
  }
  return true;
}

bool writeNpy(const std::string &path, const std::vector<int64_t> &shape,
              const std::vector<float> &data, const std::string &dtype,
              std::string &error) {
  std::string dims;
  for (int64_t d : shape)
    dims += std::to_string(d) + ", ";
  if (shape.size() > 1)
    dims.resize(dims.size() - 2);
  std::string header = "{'descr': '" +
                       std::string(dtype == "f16" ? "<f2" : "<f4") +
                       "', 'fortran_order': False, 'shape': (" + dims + "), }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string bytes = "\x93NUMPY\x01";
  bytes.push_back('\0');
  bytes.push_back(char(header.size() & 0xff));
  bytes.push_back(char(header.size() >> 8));
  bytes += header;
  for (float f : data) {
    if (dtype == "f16") {
      uint16_t h = floatToHalf(f);
      bytes.append(reinterpret_cast<const char *>(&h), 2);
    } else {
      bytes.append(reinterpret_cast<const char *>(&f), 4);
    }
  }
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream os(tmp, std::ios::binary);
    os.write(bytes.data(), std::streamsize(bytes.size()));
    if (!os) {
      error = "cannot write '" + path + "'";
      std::remove(tmp.c_str());
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot write '" + path + "'";
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

} // namespace attn
