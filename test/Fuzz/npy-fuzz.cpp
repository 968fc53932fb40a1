//===- npy-fuzz.cpp - libFuzzer harness for attn-run's .npy reader --------===//
// Feeds each input to readNpy as a file (a memfd, so no disk traffic) and
// checks what a successful read promises: the element count matches the
// shape and the data the file holds.
//===----------------------------------------------------------------------===//
#include "tools/attn-run/Npy.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int fd = memfd_create("npy-fuzz", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (fd < 0 || ftruncate(fd, 0) != 0 ||
      pwrite(fd, data, size, 0) != ssize_t(size))
    std::abort();
  attn::Array array;
  std::string error;
  if (!attn::readNpy(path, array, error)) {
    if (error.empty())
      std::abort(); // every failure names its reason
    return 0;
  }
  // A read array fits the file it came from.
  int64_t item = array.dtype == "f32" ? 4 : 2;
  if (array.size() < 0 || uint64_t(array.size()) != array.data.size() ||
      array.data.size() * uint64_t(item) > size)
    std::abort();
  return 0;
}
