//===- Tuning.cpp - tuning keys, records and their store ------------------===//
#include "runtime/jit/Tuning.h"
#include "runtime/jit/Compiler.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <mutex>
#include <tuple>
#include <sys/file.h>
#include <unistd.h>

#ifndef ATTN_SOURCE_DIR
#define ATTN_SOURCE_DIR ""
#endif

namespace json = llvm::json;

namespace attn::tuning {

int bucketOf(int64_t n) {
  int b = 0;
  while (n > 1) {
    n >>= 1;
    ++b;
  }
  return b;
}

std::string Key::family() const {
  if (op != "attention")
    return op;
  // "#attn.sliding_window<window = 256>" -> "attention-sliding_window".
  std::string kind = pattern;
  if (kind.rfind("#attn.", 0) == 0)
    kind = kind.substr(6);
  kind = kind.substr(0, kind.find('<'));
  for (char &c : kind)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_')
      c = '_';
  return "attention-" + (kind.empty() ? std::string("unknown") : kind);
}

bool Key::sameKernel(const Key &o) const {
  // Whether the kernel writes an LSE, and its scale, change no schedule's
  // speed: they are recorded, not matched.
  return op == o.op && pattern == o.pattern && dtype == o.dtype && d == o.d &&
         dv == o.dv && flags == o.flags &&
         target == o.target && device == o.device &&
         stampVersion(compiler) == stampVersion(o.compiler);
}

bool Key::operator==(const Key &o) const {
  return sameKernel(o) && compiler == o.compiler && gqa == o.gqa &&
         nqBucket == o.nqBucket && nkBucket == o.nkBucket;
}

std::string stampVersion(const std::string &stamp) {
  size_t dash = stamp.rfind('-');
  std::string version = compilerVersion();
  // "attn-0.9-HASH" -> "attn-0.9"; a bare version stays as it is.
  if (stamp.rfind(version, 0) == 0)
    return version;
  return dash == std::string::npos ? stamp : stamp.substr(0, dash);
}

static std::string cpuModelName() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos)
        return llvm::StringRef(line).substr(colon + 1).trim().str();
    }
  return "unknown CPU";
}

std::string cpuDeviceName(const std::string &llvmCpu,
                          const std::string &features, int threads) {
  return cpuModelName() + " | " + llvmCpu + " | " + features + " | " +
         std::to_string(threads) + " threads";
}

std::string localDir() {
  if (const char *dir = std::getenv("ATTN_CACHE_DIR"))
    if (*dir)
      return std::string(dir) + "/tuning";
  if (const char *home = std::getenv("HOME"))
    return std::string(home) + "/.cache/attn/tuning";
  return "/tmp/attn-cache/tuning";
}

std::vector<std::string> shippedDirs() {
  std::vector<std::string> dirs;
  if (const char *env = std::getenv("ATTN_TUNING_TABLES")) {
    llvm::SmallVector<llvm::StringRef> parts;
    llvm::StringRef(env).split(parts, ':', -1, /*KeepEmpty=*/false);
    for (llvm::StringRef p : parts)
      dirs.push_back(p.str());
    return dirs;
  }
  if (*ATTN_SOURCE_DIR)
    dirs.push_back(std::string(ATTN_SOURCE_DIR) + "/docs/tuning");
  return dirs;
}

//===----------------------------------------------------------------------===//
// JSON
//===----------------------------------------------------------------------===//

json::Value toJSON(const Record &r) {
  const Key &k = r.key;
  json::Object key{{"op", k.op},
                   {"pattern", k.pattern},
                   {"dtype", k.dtype},
                   {"d", k.d},
                   {"dv", k.dv},
                   {"lse", k.lse},
                   {"scale", double(k.scale)},
                   {"flags", k.flags},
                   {"gqa", k.gqa},
                   {"nq_bucket", k.nqBucket},
                   {"nk_bucket", k.nkBucket},
                   {"target", k.target},
                   {"device", k.device},
                   {"compiler", k.compiler}};
  json::Array shape;
  for (int64_t s : r.shape)
    shape.push_back(s);
  return json::Object{{"key", std::move(key)},
                      {"config", r.config},
                      {"schedule", r.schedule},
                      {"shape", std::move(shape)},
                      {"median_ms", r.medianMs},
                      {"default_ms", r.defaultMs},
                      {"speedup", r.medianMs > 0 ? r.defaultMs / r.medianMs : 0},
                      {"candidates", r.candidates},
                      {"date", r.date}};
}

bool fromJSON(const json::Value &v, Record &r, std::string &why) {
  const json::Object *o = v.getAsObject();
  const json::Object *k = o ? o->getObject("key") : nullptr;
  if (!k) {
    why = "a record is not an object with a \"key\"";
    return false;
  }
  auto str = [&](const json::Object *obj, const char *name,
                 std::string &out) {
    if (auto s = obj->getString(name)) {
      out = s->str();
      return true;
    }
    why = std::string("field \"") + name + "\" is missing or not a string";
    return false;
  };
  auto num = [&](const json::Object *obj, const char *name, auto &out) {
    if (auto i = obj->getInteger(name)) {
      out = *i;
      return true;
    }
    why = std::string("field \"") + name + "\" is missing or not an integer";
    return false;
  };
  Key &key = r.key;
  int64_t nq = 0, nk = 0;
  if (!str(k, "op", key.op) || !str(k, "pattern", key.pattern) ||
      !str(k, "dtype", key.dtype) || !num(k, "d", key.d) ||
      !num(k, "dv", key.dv) || !num(k, "flags", key.flags) ||
      !num(k, "gqa", key.gqa) || !num(k, "nq_bucket", nq) ||
      !num(k, "nk_bucket", nk) || !str(k, "target", key.target) ||
      !str(k, "device", key.device) || !str(k, "compiler", key.compiler) ||
      !str(o, "schedule", r.schedule))
    return false;
  if (nq < 0 || nq > 62 || nk < 0 || nk > 62) {
    why = "a bucket is out of range";
    return false;
  }
  key.nqBucket = int(nq);
  key.nkBucket = int(nk);
  key.lse = k->getBoolean("lse").value_or(false);
  key.scale = float(k->getNumber("scale").value_or(0));
  if (auto c = o->getString("config"))
    r.config = c->str();
  if (auto d = o->getString("date"))
    r.date = d->str();
  r.medianMs = o->getNumber("median_ms").value_or(0);
  r.defaultMs = o->getNumber("default_ms").value_or(0);
  r.candidates = o->getInteger("candidates").value_or(0);
  if (const json::Array *shape = o->getArray("shape"))
    for (const json::Value &s : *shape)
      if (auto i = s.getAsInteger())
        r.shape.push_back(*i);
  return true;
}

bool readFile(const std::string &path, std::vector<Record> &out,
              std::string &error, int *skipped) {
  auto buf = llvm::MemoryBuffer::getFile(path);
  if (!buf) {
    if (buf.getError() == std::errc::no_such_file_or_directory)
      return true;
    error = "cannot read tuning records '" + path +
            "': " + buf.getError().message();
    return false;
  }
  llvm::Expected<json::Value> doc = json::parse((*buf)->getBuffer());
  if (!doc) {
    error = "tuning records '" + path +
            "' are not JSON: " + llvm::toString(doc.takeError());
    return false;
  }
  const json::Object *top = doc->getAsObject();
  const json::Array *records = top ? top->getArray("records") : nullptr;
  if (!records) {
    error = "tuning records '" + path + "' have no \"records\" array";
    return false;
  }
  // A file of another format version: its records are not read.
  if (top->getInteger("format").value_or(-1) != kFormatVersion) {
    if (skipped)
      *skipped += records->size();
    return true;
  }
  for (const json::Value &v : *records) {
    Record r;
    std::string why;
    if (!fromJSON(v, r, why)) {
      error = "tuning records '" + path + "': " + why;
      return false;
    }
    out.push_back(std::move(r));
  }
  return true;
}

bool writeFile(const std::string &path, const std::vector<Record> &records,
               std::string &error) {
  json::Array arr;
  for (const Record &r : records)
    arr.push_back(toJSON(r));
  json::Value doc = json::Object{
      {"format", kFormatVersion},
      {"about", "attn autotuner records: the schedule that won for each "
                "tuning key (attn-tune; docs/tuning.md)"},
      {"records", std::move(arr)}};
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::formatv("{0:2}", doc) << "\n";
  return writeFileAtomic(path, text, error);
}

bool save(const std::string &dir, const Record &r, std::string &error) {
  if (std::error_code ec = llvm::sys::fs::create_directories(dir)) {
    error = "cannot create the tuning directory '" + dir + "': " + ec.message();
    return false;
  }
  std::string path = dir + "/" + r.key.family() + ".json";
  // One writer at a time per file: read, merge and replace under the lock,
  // so concurrent tuners never lose each other's records.
  int fd = ::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = "cannot open '" + path + ".lock': " + std::strerror(errno);
    return false;
  }
  while (::flock(fd, LOCK_EX) != 0 && errno == EINTR) {
  }
  std::vector<Record> records;
  std::string readError;
  bool ok = true;
  if (!readFile(path, records, readError)) {
    // A corrupt file is replaced, and said so: its records are lost anyway.
    std::fprintf(stderr, "attn-tune: warning: %s; starting it afresh\n",
                 readError.c_str());
    records.clear();
  }
  // The same key's record, or one of another build of the compiler (which
  // no one may use any more), makes way for the new one.
  llvm::erase_if(records, [&](const Record &o) {
    Key k = o.key;
    k.compiler = r.key.compiler;
    return k == r.key;
  });
  records.push_back(r);
  ok = writeFile(path, records, error);
  ::flock(fd, LOCK_UN);
  ::close(fd);
  return ok;
}

bool isDecodeShape(int64_t nq, int64_t gqa, int64_t decodeRows) {
  return nq == 1 && std::max<int64_t>(1, gqa) <= decodeRows;
}

bool isDecodeKey(const Key &k, int64_t decodeRows) {
  return k.nqBucket == 0 && isDecodeShape(1, k.gqa, decodeRows);
}

std::vector<Variant> dispatchPlan(const std::vector<Record> &records,
                                  bool single, int64_t decodeRows) {
  // Per Nk bucket: the record that serves it, and (decodeRows > 0) the
  // decoding shape's record whose decoding kernels it takes.
  std::map<int, std::pair<const Record *, const Record *>> byBucket;
  auto rank = [](const Record &r) {
    return std::make_tuple(r.key.nqBucket != r.key.nkBucket, r.key.gqa);
  };
  auto better = [&](const Record &r, const Record *than) {
    return !than || rank(r) < rank(*than) ||
           (rank(r) == rank(*than) && r.date > than->date);
  };
  for (const Record &r : records) {
    auto &[main, decode] = byBucket[r.key.nkBucket];
    // (A pattern without decoding kernels, landmark attention, was tuned
    // on its prefill kernels even at Nq = 1: its record serves as one.)
    if (isDecodeKey(r.key, decodeRows) &&
        r.schedule.find("suffix = \"__decode\"") != std::string::npos) {
      // The smallest GQA ratio, then the newest.
      if (!decode || r.key.gqa < decode->key.gqa ||
          (r.key.gqa == decode->key.gqa && r.date > decode->date))
        decode = &r;
    } else if (better(r, main)) {
      main = &r;
    }
  }
  std::vector<Variant> plan;
  if (byBucket.empty())
    return plan;
  if (single) {
    auto [main, decode] = byBucket.rbegin()->second;
    plan.push_back({0, 0, main, decode});
    return plan;
  }
  int64_t covered = 0;
  for (const auto &[bucket, chosen] : byBucket) {
    int64_t lo = bucket ? int64_t(1) << bucket : 0, hi = int64_t(2) << bucket;
    if (lo > covered)
      plan.push_back({covered, lo, nullptr});
    plan.push_back({lo, hi, chosen.first, chosen.second});
    covered = hi;
  }
  plan.push_back({covered, 0, nullptr});
  return plan;
}

std::string describe(const std::vector<Variant> &plan) {
  std::string s;
  for (const Variant &v : plan) {
    if (!s.empty())
      s += "; ";
    if (v.keysLo || v.keysHi)
      s += "[" + std::to_string(v.keysLo) + ", " +
           (v.keysHi ? std::to_string(v.keysHi) : std::string("inf")) + ") ";
    else
      s += "every Nk: ";
    s += v.record ? v.record->config : std::string("default");
    if (v.decode)
      s += " + " + v.decode->config;
  }
  return s;
}

/// readFile, parsed once per version of the file (its size and time):
/// attn_get_kernel looks records up on every call, and a stat is all an
/// unchanged file costs.
static bool readFileCached(const std::string &path, std::vector<Record> &out,
                           std::string &error, int &skipped) {
  struct Entry {
    llvm::sys::TimePoint<> time;
    uint64_t size = 0;
    std::vector<Record> records;
    std::string error;
    int skipped = 0;
    bool ok = false;
  };
  static std::mutex mutex;
  static std::map<std::string, Entry> cache;
  llvm::sys::fs::file_status st;
  if (llvm::sys::fs::status(path, st) || !llvm::sys::fs::exists(st))
    return readFile(path, out, error, &skipped); // missing or unreadable
  {
    std::lock_guard<std::mutex> g(mutex);
    auto it = cache.find(path);
    if (it != cache.end() &&
        it->second.time == st.getLastModificationTime() &&
        it->second.size == st.getSize()) {
      out = it->second.records;
      error = it->second.error;
      skipped += it->second.skipped;
      return it->second.ok;
    }
  }
  Entry e;
  e.time = st.getLastModificationTime();
  e.size = st.getSize();
  e.ok = readFile(path, e.records, e.error, &e.skipped);
  out = e.records;
  error = e.error;
  skipped += e.skipped;
  std::lock_guard<std::mutex> g(mutex);
  cache[path] = e;
  return e.ok;
}

std::vector<Record> lookup(const Key &kernel, std::string &why) {
  auto gather = [&](const std::string &dir, bool local,
                    std::vector<Record> &out) {
    std::vector<Record> all;
    std::string error;
    int skipped = 0;
    if (!readFileCached(dir + "/" + kernel.family() + ".json", all, error,
                        skipped)) {
      why += error + " (ignored); ";
      return;
    }
    int otherDevice = 0, otherCompiler = 0;
    for (Record &r : all) {
      if (r.key.device != kernel.device || r.key.target != kernel.target) {
        ++otherDevice;
        continue;
      }
      bool compilerOk = local ? r.key.compiler == kernel.compiler
                              : stampVersion(r.key.compiler) ==
                                    stampVersion(kernel.compiler);
      if (!compilerOk) {
        ++otherCompiler;
        continue;
      }
      if (r.key.sameKernel(kernel))
        out.push_back(std::move(r));
    }
    if (otherDevice || otherCompiler || skipped)
      why += dir + ": ignored " + std::to_string(otherDevice) +
             " record(s) of other devices, " + std::to_string(otherCompiler) +
             " of other compilers, " + std::to_string(skipped) +
             " of other formats; ";
  };
  std::vector<Record> found;
  gather(localDir(), true, found);
  if (!found.empty()) {
    why += std::to_string(found.size()) + " local record(s)";
    return found;
  }
  for (const std::string &dir : shippedDirs()) {
    gather(dir, false, found);
    if (!found.empty()) {
      why += std::to_string(found.size()) + " record(s) of the shipped table " +
             dir + "/" + kernel.family() + ".json";
      return found;
    }
  }
  why += "no record";
  return found;
}

} // namespace attn::tuning
