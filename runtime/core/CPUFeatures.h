//===- CPUFeatures.h - what the host CPU can execute -------------*- C++ -*-===//
// The runtime core's check that a CPU kernel's ISA extensions (its metadata's
// `features` line, in LLVM's spelling) exist on the host, so that a kernel
// built for another CPU is refused with a message instead of dying of SIGILL.
// No LLVM: cpuid and xgetbv.
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_CORE_CPUFEATURES_H
#define ATTN_RUNTIME_CORE_CPUFEATURES_H

#include <string>
#include <vector>

namespace attnrt {

/// Whether the host CPU (and the OS, for register state) supports ISA
/// extension `name` as LLVM spells it (avx2, avx512f, amx-bf16, ...).
/// `known` is false for a name this runtime cannot check.
bool hostHasCPUFeature(const std::string &name, bool &known);

/// The extensions of `required` that the host lacks or that this runtime
/// cannot check (those are reported as "name (unknown)").
std::vector<std::string> missingCPUFeatures(
    const std::vector<std::string> &required);
/// Asks Linux for the AMX tile data state for this process
/// (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)), once: without it
/// the first tile load dies of SIGILL. False with `error` saying why when
/// the OS refuses (or is not Linux on x86-64).
bool enableAMX(std::string &error);

} // namespace attnrt

#endif
