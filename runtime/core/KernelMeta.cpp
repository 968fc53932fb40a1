//===- KernelMeta.cpp - print and parse kernel metadata -------------------===//
// Strict on purpose: metadata comes from files a user may have damaged, and
// everything downstream (grids, shared memory, argument checks) trusts it.
//===----------------------------------------------------------------------===//
#include "runtime/core/KernelMeta.h"
#include "runtime/core/LaunchRule.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <set>
#include <sstream>

namespace attnmeta {
namespace {

const char *const kHeader = "attn-kernel v1";
const char *const kRoles[] = {"q",         "k",        "v",
                              "out",       "lse",      "slopes",
                              "state_in",  "state_out", "block_table",
                              "kv_lens"};

std::vector<std::string> split(const std::string &line) {
  std::vector<std::string> out;
  std::istringstream ls(line);
  std::string word;
  while (ls >> word)
    out.push_back(word);
  return out;
}

/// A decimal integer in [lo, hi], all of `s`.
bool toInt(const std::string &s, int64_t lo, int64_t hi, int64_t &out) {
  if (s.empty() || s.size() > 20)
    return false;
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno || *end || (s[0] != '-' && !(s[0] >= '0' && s[0] <= '9')))
    return false;
  if (v < lo || v > hi)
    return false;
  out = v;
  return true;
}

bool knownRole(const std::string &r) {
  for (const char *k : kRoles)
    if (r == k)
      return true;
  return false;
}

struct Parser {
  std::string &error;
  int lineNo = 0;
  std::string line;

  bool fail(const std::string &what) {
    error = "line " + std::to_string(lineNo) + " ('" + line + "'): " + what;
    return false;
  }
  bool field(const std::vector<std::string> &f, size_t i, int64_t lo,
             int64_t hi, int64_t &out, const char *name) {
    if (i >= f.size())
      return fail(std::string("missing ") + name);
    if (!toInt(f[i], lo, hi, out))
      return fail(std::string(name) + " must be an integer in [" +
                  std::to_string(lo) + ", " + std::to_string(hi) + "], got '" +
                  f[i] + "'");
    return true;
  }

  bool launch(const std::vector<std::string> &f, Launch &l) {
    if (f.size() < 4)
      return fail("a launch needs ENTRY SEG PERSEG");
    l.entry = f[1];
    if (!field(f, 2, 0, INT32_MAX, l.seg, "seg") ||
        !field(f, 3, 1, INT32_MAX, l.perSeg, "per-seg"))
      return false;
    size_t i = 4;
    if (i < f.size() && f[i] != "if" && f[i] != "unless" && f[i] != "keys" &&
        f[i] != "ctas" && f[i] != "rows" && f[i] != "split" &&
        f[i] != "merge" && f[i] != "persistent") {
      if (!field(f, i, 1, 1024, l.threads, "threads") ||
          !field(f, i + 1, 0, INT32_MAX, l.smem, "smem"))
        return false;
      i += 2;
    }
    std::set<std::string> seen;
    while (i < f.size()) {
      const std::string &w = f[i];
      if (!seen.insert(w == "unless" ? "if" : w).second)
        return fail("condition '" + w + "' given twice");
      if (w == "if" || w == "unless") {
        if (!field(f, i + 1, 1, INT32_MAX, l.cond, "the rate"))
          return false;
        if (w == "unless")
          l.cond = -l.cond;
        i += 2;
      } else if (w == "split") {
        if (!field(f, i + 1, 1, INT32_MAX, l.splitKeys, "the split's keys") ||
            !field(f, i + 2, 1, 64, l.splitCtas, "the split's CTAs per SM") ||
            !field(f, i + 3, 0, INT64_MAX / 2, l.splitSpan, "the split's span"))
          return false;
        i += 4;
      } else if (w == "merge") {
        l.merge = true;
        i += 1;
      } else if (w == "persistent") {
        if (!field(f, i + 1, 1, 64, l.persistent, "the persistent CTAs per SM"))
          return false;
        i += 2;
      } else if (w == "keys" || w == "ctas" || w == "rows") {
        int64_t &lo = w == "keys" ? l.keysLo : w == "ctas" ? l.ctasLo : l.rowsLo;
        int64_t &hi = w == "keys" ? l.keysHi : w == "ctas" ? l.ctasHi : l.rowsHi;
        if (!field(f, i + 1, 0, INT64_MAX / 2, lo, "the lower bound") ||
            !field(f, i + 2, 0, INT64_MAX / 2, hi, "the upper bound"))
          return false;
        if (hi && hi <= lo)
          return fail("empty range " + std::to_string(lo) + " .. " +
                      std::to_string(hi));
        i += 3;
      } else {
        return fail("unknown launch condition '" + w +
                    "' (if, unless, keys, ctas, rows, split, merge, "
                    "persistent)");
      }
    }
    if ((l.splitKeys || l.merge) && !l.rowsHi)
      return fail("split and merge launches need a rows bound (the packed "
                  "query rows of one KV head)");
    if (l.persistent && (l.splitKeys || l.merge || l.cond))
      return fail("a persistent launch takes whole sequences (no split, "
                  "merge, if or unless)");
    return true;
  }

  bool tensorMap(const std::vector<std::string> &f, TensorMap &t) {
    if (f.size() != 4 && f.size() != 5)
      return fail("a tensormap is ROLE COLS ROWS [RATE]");
    t.role = f[1];
    if (t.role != "q" && t.role != "k" && t.role != "v")
      return fail("tensor maps are of q, k or v, got '" + t.role + "'");
    return field(f, 2, 1, 256, t.cols, "box columns") &&
           field(f, 3, 1, 256, t.rows, "box rows") &&
           (f.size() == 4 || field(f, 4, 1, 1 << 20, t.rate, "rate"));
  }

  bool arg(const std::vector<std::string> &f, Arg &a) {
    if (f.size() < 4)
      return fail("an arg is ROLE DTYPE RANK DIM...");
    a.role = f[1];
    a.dtype = f[2];
    if (!knownRole(a.role))
      return fail("unknown argument role '" + a.role + "'");
    bool index = a.role == "block_table" || a.role == "kv_lens";
    if (index ? a.dtype != "i32"
              : a.dtype != "f32" && a.dtype != "f16" && a.dtype != "bf16")
      return fail(index ? "dtype of '" + a.role + "' must be i32, got '" +
                              a.dtype + "'"
                        : "dtype must be f32, f16 or bf16, got '" + a.dtype +
                              "'");
    int64_t rank;
    if (!field(f, 3, 1, 4, rank, "rank"))
      return false;
    if (f.size() != size_t(4 + rank))
      return fail("rank " + std::to_string(rank) + " needs " +
                  std::to_string(rank) + " dims, got " +
                  std::to_string(f.size() - 4));
    for (int64_t i = 0; i < rank; ++i) {
      int64_t d;
      if (!field(f, 4 + i, -1, INT32_MAX, d, "a dim"))
        return false;
      if (d == 0)
        return fail("dims are -1 (dynamic) or positive");
      a.dims.push_back(d);
    }
    return true;
  }
};

} // namespace

std::vector<Launch>
KernelMeta::effectiveLaunches(const std::string &kernelName) const {
  std::vector<Launch> out = launches;
  if (out.empty() && tileM >= 1) {
    Launch l;
    l.entry = kernelName;
    l.seg = tileM;
    out.push_back(l);
  }
  for (Launch &l : out)
    if (l.threads == 0) {
      l.threads = threads;
      l.smem = smem;
    }
  return out;
}

std::string print(const KernelMeta &m) {
  std::ostringstream os;
  os << kHeader << "\nop " << m.op << "\n";
  if (!m.pattern.empty())
    os << "pattern " << m.pattern << "\n";
  os << "phases " << m.phases << "\n";
  if (!m.cpu.empty())
    os << "cpu " << m.cpu << "\n";
  if (!m.features.empty()) {
    os << "features ";
    for (size_t i = 0; i < m.features.size(); ++i)
      os << (i ? "," : "") << m.features[i];
    os << "\n";
  }
  if (!m.target.empty())
    os << "target " << m.target << "\nthreads " << m.threads << "\nsmem "
       << m.smem << "\n";
  if (m.tileM)
    os << "tile_m " << m.tileM << "\n";
  if (m.tileN)
    os << "tile_n " << m.tileN << "\n";
  if (m.stages)
    os << "stages " << m.stages << "\n";
  for (const Launch &l : m.launches) {
    os << "launch " << l.entry << " " << l.seg << " " << l.perSeg;
    if (l.threads)
      os << " " << l.threads << " " << l.smem;
    if (l.cond)
      os << (l.cond > 0 ? " if " : " unless ") << (l.cond > 0 ? l.cond : -l.cond);
    if (l.keysLo || l.keysHi)
      os << " keys " << l.keysLo << " " << l.keysHi;
    if (l.ctasLo || l.ctasHi)
      os << " ctas " << l.ctasLo << " " << l.ctasHi;
    if (l.rowsLo || l.rowsHi)
      os << " rows " << l.rowsLo << " " << l.rowsHi;
    if (l.splitKeys)
      os << " split " << l.splitKeys << " " << l.splitCtas << " "
         << l.splitSpan;
    if (l.merge)
      os << " merge";
    if (l.persistent)
      os << " persistent " << l.persistent;
    os << "\n";
  }
  for (const TensorMap &t : m.tensorMaps) {
    os << "tensormap " << t.role << " " << t.cols << " " << t.rows;
    if (t.rate > 1)
      os << " " << t.rate;
    os << "\n";
  }
  for (const Arg &a : m.args) {
    os << "arg " << a.role << " " << a.dtype << " " << a.dims.size();
    for (int64_t d : a.dims)
      os << " " << d;
    os << "\n";
  }
  return os.str();
}

bool parse(const std::string &text, KernelMeta &out, std::string &error) {
  out = KernelMeta();
  Parser p{error};
  std::istringstream in(text);
  if (!std::getline(in, p.line) || p.line != kHeader) {
    error = "not attn kernel metadata (first line '" +
            p.line.substr(0, 40) + "', expected '" + kHeader + "')";
    return false;
  }
  p.lineNo = 1;
  std::set<std::string> seen;
  while (std::getline(in, p.line)) {
    ++p.lineNo;
    std::vector<std::string> f = split(p.line);
    if (f.empty())
      return p.fail("empty line");
    const std::string &key = f[0];
    bool repeatable = key == "launch" || key == "tensormap" || key == "arg";
    if (!repeatable && !seen.insert(key).second)
      return p.fail("'" + key + "' given twice");
    auto one = [&](const char *what) {
      return f.size() == 2 ? true : p.fail(std::string(what) + " takes one value");
    };
    if (key == "op") {
      if (!one("op"))
        return false;
      out.op = f[1];
    } else if (key == "pattern") {
      // The rest of the line, verbatim (attributes contain spaces).
      if (f.size() < 2)
        return p.fail("empty pattern");
      out.pattern = p.line.substr(p.line.find("pattern") + 8);
    } else if (key == "phases") {
      if (!one("phases") || !p.field(f, 1, 1, 64, out.phases, "phases"))
        return false;
    } else if (key == "cpu") {
      if (!one("cpu"))
        return false;
      out.cpu = f[1];
    } else if (key == "features") {
      if (!one("features (comma-separated)"))
        return false;
      std::istringstream fs(f[1]);
      std::string x;
      while (std::getline(fs, x, ','))
        if (x.empty())
          return p.fail("empty feature in the list");
        else
          out.features.push_back(x);
    } else if (key == "target") {
      if (!one("target"))
        return false;
      if (f[1] != "sm_80" && f[1] != "sm_90a")
        return p.fail("target must be sm_80 or sm_90a");
      out.target = f[1];
    } else if (key == "threads") {
      if (!one("threads") || !p.field(f, 1, 1, 1024, out.threads, "threads"))
        return false;
    } else if (key == "smem") {
      if (!one("smem") || !p.field(f, 1, 0, INT32_MAX, out.smem, "smem"))
        return false;
    } else if (key == "tile_m" || key == "tile_n" || key == "stages") {
      int64_t &v = key == "tile_m" ? out.tileM
                   : key == "tile_n" ? out.tileN
                                     : out.stages;
      if (!one(key.c_str()) || !p.field(f, 1, 1, 1 << 16, v, key.c_str()))
        return false;
    } else if (key == "launch") {
      Launch l;
      if (!p.launch(f, l))
        return false;
      out.launches.push_back(l);
    } else if (key == "tensormap") {
      TensorMap t;
      if (!p.tensorMap(f, t))
        return false;
      if (out.tensorMaps.size() >= 24)
        return p.fail("more than 24 tensor maps");
      out.tensorMaps.push_back(t);
    } else if (key == "arg") {
      Arg a;
      if (!p.arg(f, a))
        return false;
      if (out.args.size() >= 10)
        return p.fail("more than 10 arguments");
      out.args.push_back(a);
    } else {
      return p.fail("unknown field '" + key + "'");
    }
  }
  // Complete: what every reader relies on.
  if (out.op.empty())
    return error = "no 'op' line", false;
  if (out.phases < 1)
    return error = "no 'phases' line", false;
  if (out.args.empty())
    return error = "no 'arg' lines", false;
  if (out.isGPU()) {
    if (out.threads < 1 || out.smem < 0)
      return error = "GPU metadata needs 'threads' and 'smem'", false;
    if (out.launches.empty() && out.tileM < 1)
      return error = "GPU metadata needs 'tile_m' or launch lines", false;
    size_t launches = out.launches.empty() ? 1 : out.launches.size();
    if (int64_t(launches) != out.phases)
      return error = "'phases " + std::to_string(out.phases) + "' but " +
                     std::to_string(launches) + " launch(es)",
             false;
  } else if (!out.tensorMaps.empty()) {
    return error = "tensormap lines need a GPU 'target'", false;
  } else if (!out.launches.empty() &&
             int64_t(out.launches.size()) != out.phases) {
    // CPU: optional, one per phase (the condition under which it runs).
    return error = "'phases " + std::to_string(out.phases) + "' but " +
                   std::to_string(out.launches.size()) + " launch line(s)",
           false;
  }
  return true;
}

bool launchApplies(const Launch &l, int64_t nq, int64_t nk, int64_t ctas,
                   int64_t rows) {
  return attn_launch_applies(l.cond, l.keysLo, l.keysHi, l.ctasLo, l.ctasHi,
                             l.rowsLo, l.rowsHi, nq, nk, ctas, rows) != 0;
}

int64_t splitCount(const Launch &l, int64_t nk, int64_t rows, int64_t pairs,
                   int64_t sms) {
  return attn_split_count(l.splitKeys, l.splitCtas, l.splitSpan, kMaxSplits,
                          nk, rows, pairs, sms);
}

} // namespace attnmeta
