//===- KernelDir.cpp - precompiled kernels for machines without the JIT ---===//
// A GPU machine without LLVM/MLIR runs the runner on kernels compiled
// elsewhere by attnc (tools/attn-model/gpu_bundle.py builds such a folder):
// manifest.tsv maps each kernel the runner asks for, by a key that names
// what the JIT would be asked (kind, pattern, dtype, head dim, outputs), to
// files attn_kernel_load takes. The same keys work for CPU shared objects,
// so the path is tested on any machine (test/Model/kernel-dir.test).
//===----------------------------------------------------------------------===//
#include "tools/attn-model/Model.h"

#include <fstream>
#include <sstream>

using namespace attnmodel;

namespace {

const char *dtypeName(attn_dtype t) {
  switch (t) {
  case ATTN_F32:
    return "f32";
  case ATTN_F16:
    return "f16";
  case ATTN_BF16:
    return "bf16";
  case ATTN_I32:
    return "i32";
  }
  return "?";
}

} // namespace

std::string attnmodel::attentionKernelKey(const std::string &pattern,
                                          attn_dtype dtype, int64_t d,
                                          bool withLse) {
  return "attention|" + pattern + "|" + dtypeName(dtype) + "|" +
         std::to_string(d) + "|lse=" + (withLse ? "1" : "0");
}

std::string attnmodel::lightningKernelKey(attn_dtype dtype, int64_t d,
                                          int flags) {
  return std::string("lightning|") + dtypeName(dtype) + "|" +
         std::to_string(d) + "|flags=" + std::to_string(flags);
}

attn_status attnmodel::loadKernel(attn_context *ctx, const std::string &dir,
                                  const std::string &key, attn_kernel **out) {
  const std::string manifest = dir + "/manifest.tsv";
  std::ifstream in(manifest);
  if (!in)
    throw Error("--kernel-dir: cannot read '" + manifest + "'");
  std::string line, tried;
  int64_t lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    if (line.empty() || line[0] == '#')
      continue;
    size_t a = line.find('\t'), b = line.find('\t', a + 1);
    if (a == std::string::npos || b == std::string::npos)
      throw Error("'" + manifest + "' line " + std::to_string(lineNo) +
                  ": expected KEY<TAB>FILE<TAB>ENTRY");
    if (line.compare(0, a, key) != 0 || a != key.size())
      continue;
    std::string file = dir + "/" + line.substr(a + 1, b - a - 1);
    std::string entry = line.substr(b + 1);
    attn_status s = attn_kernel_load(ctx, file.c_str(), entry.c_str(), out);
    if (s == ATTN_OK)
      return ATTN_OK;
    tried += "\n  " + file + ": " + attn_status_name(s) + ": " +
             attn_last_error();
  }
  if (tried.empty())
    throw Error("--kernel-dir '" + dir + "' has no kernel for '" + key +
                "' (tools/attn-model/gpu_bundle.py compiles the runner's "
                "kernels with attnc)");
  throw Error("--kernel-dir '" + dir + "': no file of '" + key +
              "' loads on this device:" + tried);
}

attn_status attnmodel::noJit(attn_kernel **) {
  throw Error("this attn-model is built without the JIT: give the "
              "precompiled kernels with --kernel-dir");
}
