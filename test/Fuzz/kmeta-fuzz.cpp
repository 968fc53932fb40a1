//===- kmeta-fuzz.cpp - libFuzzer harness for the kernel-metadata parser --===//
// Feeds each input to attnmeta::parse and checks what the parser promises:
// every failure names its reason, and accepted metadata round-trips (its
// printed text parses again and prints the same), so a cache entry or AOT
// header written from parsed metadata reads back as what was written.
//===----------------------------------------------------------------------===//
#include "runtime/core/KernelMeta.h"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size), error;
  attnmeta::KernelMeta m;
  if (!attnmeta::parse(text, m, error)) {
    if (error.empty())
      std::abort(); // every failure names its reason
    return 0;
  }
  std::string printed = attnmeta::print(m);
  attnmeta::KernelMeta again;
  if (!attnmeta::parse(printed, again, error) ||
      attnmeta::print(again) != printed)
    std::abort(); // accepted metadata round-trips
  // What the runtime derives from accepted metadata stays in range.
  for (const attnmeta::Launch &l : m.effectiveLaunches("kernel")) {
    if (m.isGPU() && (l.threads < 1 || l.threads > 1024 || l.smem < 0 ||
                      l.perSeg < 1 || l.seg < 0))
      std::abort();
    for (int64_t n : {int64_t(1), int64_t(4096), int64_t(1) << 40}) {
      (void)attnmeta::launchApplies(l, n, n, n, n);
      if (l.splitKeys && attnmeta::splitCount(l, n, n, n, 132) < 1)
        std::abort();
    }
  }
  return 0;
}
