//===- CPUFeatures.cpp - what the host CPU can execute --------------------===//
// cpuid leaves 1, 7.0, 7.1 and 0x80000001 for the instructions, xgetbv for
// the register state the OS saves (AVX needs YMM, AVX-512 the opmask and ZMM
// state, AMX the tile state).
//===----------------------------------------------------------------------===//
#include "runtime/core/CPUFeatures.h"

#include <cerrno>
#include <cstdint>
#include <cstring>

#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define ATTN_X86 1
#endif

namespace attnrt {
namespace {

struct Bit {
  const char *name;
  unsigned leaf, subleaf;
  char reg; // 'a', 'b', 'c', 'd'
  unsigned bit;
  uint64_t xcr0; // register state the OS must enable (0: none)
};

constexpr uint64_t kYmm = 0x6;          // SSE + AVX state
constexpr uint64_t kZmm = 0xe6;         // + opmask, ZMM_Hi256, Hi16_ZMM
constexpr uint64_t kTile = 0x60000;     // XTILECFG + XTILEDATA

const Bit kBits[] = {
    {"sse2", 1, 0, 'd', 26, 0},
    {"sse3", 1, 0, 'c', 0, 0},
    {"ssse3", 1, 0, 'c', 9, 0},
    {"fma", 1, 0, 'c', 12, kYmm},
    {"sse4.1", 1, 0, 'c', 19, 0},
    {"sse4.2", 1, 0, 'c', 20, 0},
    {"movbe", 1, 0, 'c', 22, 0},
    {"popcnt", 1, 0, 'c', 23, 0},
    {"avx", 1, 0, 'c', 28, kYmm},
    {"f16c", 1, 0, 'c', 29, kYmm},
    {"bmi", 7, 0, 'b', 3, 0},
    {"avx2", 7, 0, 'b', 5, kYmm},
    {"bmi2", 7, 0, 'b', 8, 0},
    {"avx512f", 7, 0, 'b', 16, kZmm},
    {"avx512dq", 7, 0, 'b', 17, kZmm},
    {"avx512ifma", 7, 0, 'b', 21, kZmm},
    {"avx512cd", 7, 0, 'b', 28, kZmm},
    {"avx512bw", 7, 0, 'b', 30, kZmm},
    {"avx512vl", 7, 0, 'b', 31, kZmm},
    {"avx512vbmi", 7, 0, 'c', 1, kZmm},
    {"avx512vbmi2", 7, 0, 'c', 6, kZmm},
    {"gfni", 7, 0, 'c', 8, 0},
    {"vaes", 7, 0, 'c', 9, kYmm},
    {"vpclmulqdq", 7, 0, 'c', 10, kYmm},
    {"avx512vnni", 7, 0, 'c', 11, kZmm},
    {"avx512bitalg", 7, 0, 'c', 12, kZmm},
    {"avx512vpopcntdq", 7, 0, 'c', 14, kZmm},
    {"amx-bf16", 7, 0, 'd', 22, kTile},
    {"avx512fp16", 7, 0, 'd', 23, kZmm},
    {"amx-tile", 7, 0, 'd', 24, kTile},
    {"amx-int8", 7, 0, 'd', 25, kTile},
    {"avxvnni", 7, 1, 'a', 4, kYmm},
    {"avx512bf16", 7, 1, 'a', 5, kZmm},
    {"amx-fp16", 7, 1, 'a', 21, kTile},
    {"lzcnt", 0x80000001, 0, 'c', 5, 0},
};

#ifdef ATTN_X86
bool cpuidReg(unsigned leaf, unsigned subleaf, char reg, uint32_t &out) {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(leaf, subleaf, &a, &b, &c, &d))
    return false;
  out = reg == 'a' ? a : reg == 'b' ? b : reg == 'c' ? c : d;
  return true;
}

uint64_t osEnabledState() {
  uint32_t ecx = 0;
  if (!cpuidReg(1, 0, 'c', ecx) || !(ecx & (1u << 27))) // OSXSAVE
    return 0x3; // x87 and SSE only
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}
#endif

} // namespace

/// Whether the host has each entry of kBits, asked once: cpuid traps to the
/// hypervisor on a VM (tens of microseconds), and every kernel load asks.
static const std::vector<bool> &hostBits() {
  static const std::vector<bool> bits = [] {
    std::vector<bool> out;
#ifdef ATTN_X86
    uint64_t state = osEnabledState();
    for (const Bit &b : kBits) {
      uint32_t r = 0;
      out.push_back(cpuidReg(b.leaf, b.subleaf, b.reg, r) &&
                    (r & (1u << b.bit)) && (state & b.xcr0) == b.xcr0);
    }
#else
    out.assign(sizeof(kBits) / sizeof(kBits[0]), false);
#endif
    return out;
  }();
  return bits;
}

bool hostHasCPUFeature(const std::string &name, bool &known) {
  known = false;
  for (size_t i = 0; i < sizeof(kBits) / sizeof(kBits[0]); ++i)
    if (name == kBits[i].name) {
      known = true;
      return hostBits()[i];
    }
  return false;
}

std::vector<std::string> missingCPUFeatures(
    const std::vector<std::string> &required) {
  std::vector<std::string> missing;
  for (const std::string &f : required) {
    bool known;
    if (!hostHasCPUFeature(f, known))
      missing.push_back(known ? f : f + " (unknown to this runtime)");
  }
  return missing;
}

bool enableAMX(std::string &error) {
#if defined(__linux__) && defined(__x86_64__)
  // 0x1023: ARCH_REQ_XCOMP_PERM; 18: XFEATURE_XTILEDATA (asm/prctl.h,
  // Linux 5.16). The grant is for the whole process; asking again is free
  // but the answer is kept anyway.
  static const int refused = [] {
    long r = syscall(SYS_arch_prctl, 0x1023, 18);
    return r == 0 ? 0 : errno;
  }();
  if (!refused)
    return true;
  error = std::string("the OS refused the AMX tile state "
                      "(arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA): ") +
          std::strerror(refused) + "; Linux 5.16 or newer grants it)";
  return false;
#else
  error = "AMX tiles need Linux on x86-64";
  return false;
#endif
}

} // namespace attnrt
