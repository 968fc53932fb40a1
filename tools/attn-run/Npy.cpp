//===- Npy.cpp - .npy files in and out ------------------------------------===//
// The .npy format: magic, version, a Python-dict header, then raw data.
//===----------------------------------------------------------------------===//
#include "tools/attn-run/Npy.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <sys/stat.h>
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

namespace {

/// The header's Python dict literal, as numpy writes it: string keys mapped
/// to strings, True/False or tuples of integers. A key given twice takes its
/// last value, as Python's dict display does.
class HeaderParser {
public:
  explicit HeaderParser(const std::string &text) : s(text) {}

  /// Parses the whole dict; false with `error` set on anything else.
  bool parse(std::map<std::string, std::string> &strings,
             std::map<std::string, bool> &bools,
             std::map<std::string, std::vector<int64_t>> &tuples,
             std::string &error) {
    skip();
    if (!eat('{'))
      return fail("the header is not a dict", error);
    for (;;) {
      skip();
      if (eat('}'))
        break;
      std::string key, str;
      if (!string(key))
        return fail("a header key is not a string", error);
      skip();
      if (!eat(':'))
        return fail("expected ':' after '" + key + "'", error);
      skip();
      strings.erase(key), bools.erase(key), tuples.erase(key);
      if (peek() == '\'' || peek() == '"') {
        if (!string(str))
          return fail("unterminated string for '" + key + "'", error);
        strings[key] = str;
      } else if (word("True")) {
        bools[key] = true;
      } else if (word("False")) {
        bools[key] = false;
      } else if (peek() == '(') {
        std::vector<int64_t> dims;
        if (!tuple(dims, error))
          return false;
        tuples[key] = dims;
      } else {
        return fail("the value of '" + key +
                        "' is not a string, True/False or a tuple",
                    error);
      }
      skip();
      if (eat(','))
        continue;
      skip();
      if (eat('}'))
        break;
      return fail("expected ',' or '}' after the value of '" + key + "'",
                  error);
    }
    skip();
    if (pos != s.size())
      return fail("text after the header's dict", error);
    return true;
  }

private:
  bool fail(const std::string &why, std::string &error) {
    error = why;
    return false;
  }
  char peek() const { return pos < s.size() ? s[pos] : '\0'; }
  bool eat(char c) {
    if (peek() != c)
      return false;
    ++pos;
    return true;
  }
  void skip() {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\n' ||
                              s[pos] == '\t' || s[pos] == '\r'))
      ++pos;
  }
  bool word(const char *w) {
    size_t n = std::strlen(w);
    if (s.compare(pos, n, w) != 0 ||
        (pos + n < s.size() &&
         (std::isalnum(uint8_t(s[pos + n])) || s[pos + n] == '_')))
      return false;
    pos += n;
    return true;
  }
  bool string(std::string &out) {
    char quote = peek();
    if (quote != '\'' && quote != '"')
      return false;
    size_t end = s.find(quote, pos + 1);
    if (end == std::string::npos || s.find('\\', pos + 1) < end)
      return false; // numpy never writes escapes; refuse rather than guess
    out = s.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    return true;
  }
  /// A Python tuple of non-negative decimal integers (digits, single '_'
  /// between digits as Python allows); floats such as 1e3 or 1.9 are not
  /// shapes, numpy rejects them too.
  bool tuple(std::vector<int64_t> &dims, std::string &error) {
    ++pos; // '('
    for (;;) {
      skip();
      if (eat(')'))
        break;
      size_t start = pos;
      uint64_t v = 0;
      bool digit = false, overflow = false;
      while (pos < s.size() && (std::isdigit(uint8_t(s[pos])) ||
                                (s[pos] == '_' && digit && pos + 1 < s.size() &&
                                 std::isdigit(uint8_t(s[pos + 1]))))) {
        if (s[pos] != '_') {
          digit = true;
          overflow |= v > (uint64_t(INT64_MAX) - 9) / 10;
          v = v * 10 + uint64_t(s[pos] - '0');
        }
        ++pos;
      }
      size_t stop = s.find_first_of(",)", pos);
      std::string tok = s.substr(
          start, (stop == std::string::npos ? s.size() : stop) - start);
      skip();
      if (!digit || (peek() != ',' && peek() != ')'))
        return fail("bad shape entry '" + tok +
                        "' (shapes are tuples of "
                        "non-negative integers)",
                    error);
      if (overflow)
        return fail("shape entry " + tok + " is too large", error);
      dims.push_back(int64_t(v));
      if (eat(','))
        continue;
      eat(')');
      break;
    }
    return true;
  }

  const std::string &s;
  size_t pos = 0;
};

/// a * b, false when it overflows int64.
bool mulChecked(int64_t a, int64_t b, int64_t &out) {
  return !__builtin_mul_overflow(a, b, &out);
}

/// Reads exactly `n` bytes at the current position of `fd` into `out`.
bool readExactly(int fd, size_t n, std::string &out) {
  out.resize(n);
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::read(fd, &out[done], n - done);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    done += size_t(r);
  }
  return true;
}

/// Closes a file descriptor on every return path.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0)
      ::close(fd);
  }
};

} // namespace

bool readNpy(const std::string &path, Array &out, std::string &error) {
  // The header is read and checked before the body, whose size it gives:
  // a device file (/dev/zero) or a huge shape fails fast, not in a read of
  // the whole file.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot open '" + path + "': " + std::strerror(errno);
    return false;
  }
  FdCloser closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    error = "cannot read '" + path + "': " + std::strerror(errno);
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    error = "'" + path + "' is a directory, not a .npy file";
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    error = "'" + path +
            "' is not a regular file (a device, pipe or "
            "socket); give a .npy file";
    return false;
  }
  int64_t fileSize = int64_t(st.st_size);
  auto bad = [&](const std::string &why) {
    error = "'" + path + "' is not a valid .npy file: " + why;
    return false;
  };
  std::string prefix;
  if (fileSize < 10 || !readExactly(fd, 10, prefix) ||
      prefix.compare(0, 6, "\x93NUMPY") != 0)
    return bad("missing the \\x93NUMPY magic");
  unsigned major = uint8_t(prefix[6]);
  size_t headerLen, offset;
  if (major == 1) {
    headerLen = uint8_t(prefix[8]) | size_t(uint8_t(prefix[9])) << 8;
    offset = 10;
  } else if (major == 2 || major == 3) {
    std::string more;
    if (fileSize < 12 || !readExactly(fd, 2, more))
      return bad("truncated header");
    headerLen = uint8_t(prefix[8]) | size_t(uint8_t(prefix[9])) << 8 |
                size_t(uint8_t(more[0])) << 16 | size_t(uint8_t(more[1])) << 24;
    offset = 12;
  } else {
    return bad("unknown format version " + std::to_string(major));
  }
  if (int64_t(offset + headerLen) > fileSize)
    return bad("truncated header");
  // numpy writes a few hundred bytes at most and reads up to 10000 by
  // default; this bound only keeps a corrupt length from costing memory.
  if (headerLen > (1u << 20))
    return bad("header of " + std::to_string(headerLen) + " bytes is too long");
  std::string header;
  if (!readExactly(fd, headerLen, header))
    return bad("truncated header");
  std::map<std::string, std::string> strings;
  std::map<std::string, bool> bools;
  std::map<std::string, std::vector<int64_t>> tuples;
  std::string why;
  if (!HeaderParser(header).parse(strings, bools, tuples, why))
    return bad(why);
  if (!strings.count("descr") || !bools.count("fortran_order") ||
      !tuples.count("shape"))
    return bad("header lacks descr, fortran_order or shape");
  if (strings.size() + bools.size() + tuples.size() != 3)
    return bad("header has keys other than descr, fortran_order and shape");
  if (bools["fortran_order"])
    return bad("Fortran order is not supported (save C-order arrays)");
  std::string descr = strings["descr"];
  int64_t item;
  if (descr == "<f4") {
    out.dtype = "f32";
    item = 4;
  } else if (descr == "<f2") {
    out.dtype = "f16";
    item = 2;
  } else {
    error = "'" + path + "' has dtype '" + descr +
            "'; attn-run reads float32 ('<f4') and float16 ('<f2')";
    return false;
  }
  out.shape = tuples["shape"];
  std::string shapeText = "(";
  for (size_t i = 0; i < out.shape.size(); ++i)
    shapeText += (i ? ", " : "") + std::to_string(out.shape[i]);
  shapeText += out.shape.size() == 1 ? ",)" : ")";
  // Checked products: a shape whose element count or byte size overflows
  // 64 bits is as invalid as one the file is too short for.
  int64_t n = 1, bytes;
  for (int64_t d : out.shape)
    if (!mulChecked(n, d, n))
      return bad("shape " + shapeText +
                 " has more elements than fit in "
                 "64 bits");
  if (!mulChecked(n, item, bytes))
    return bad("shape " + shapeText + " needs more bytes than fit in 64 bits");
  int64_t available = fileSize - int64_t(offset + headerLen);
  if (bytes > available)
    return bad("truncated data: shape " + shapeText + " needs " +
               std::to_string(bytes) + " bytes, file has " +
               std::to_string(available));
  std::string body;
  if (!readExactly(fd, size_t(bytes), body))
    return bad("truncated data: the file shrank while it was read");
  out.data.resize(size_t(n));
  const char *p = body.data();
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

std::string encodeNpy(const std::vector<int64_t> &shape,
                      const std::vector<float> &data,
                      const std::string &dtype) {
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
  return bytes;
}

bool writeNpy(const std::string &path, const std::vector<int64_t> &shape,
              const std::vector<float> &data, const std::string &dtype,
              std::string &error) {
  std::string bytes = encodeNpy(shape, data, dtype);
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
