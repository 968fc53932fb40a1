//===- Args.h - the attn-dist tools' shared argument parsing ----*- C++ -*-===//
#ifndef ATTN_TOOLS_DIST_ARGS_H
#define ATTN_TOOLS_DIST_ARGS_H

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace attn::dist {

/// "64,256,1024" -> {64, 256, 1024}; throws std::runtime_error naming
/// `flag` on anything else.
inline std::vector<int64_t> intList(const std::string &flag,
                                    const std::string &text) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    try {
      out.push_back(std::stoll(item, &used));
    } catch (const std::exception &) {
      used = 0;
    }
    if (used == 0 || used != item.size())
      throw std::runtime_error(flag + ": '" + item + "' is not an integer");
  }
  return out;
}

} // namespace attn::dist

#endif
