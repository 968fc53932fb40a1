//===- attn-run.cpp - run attention kernels on .npy inputs ----------------===//
// The runner: one pattern on .npy inputs through the runtime's C API (JIT +
// cache), or one function of a kernel file; optional float64 check and
// benchmark. Bad input: one line naming the problem, exit 2, no output file.
//===----------------------------------------------------------------------===//
#include "runtime/attnrt.h"
#include "runtime/core/Internal.h"
#include "runtime/core/KernelMeta.h"
#include "runtime/jit/Compiler.h"
#include "tools/attn-run/Npy.h"
#include "tools/attn-run/PatternText.h"
#include "tools/attn-run/Reference.h"

#include "dialect/AttnDialect.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SHA256.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace attn;
using llvm::dyn_cast;
using llvm::isa;

namespace {

const char *kUsage = R"(usage:
  attn-run --pattern PATTERN --q q.npy --k k.npy --v v.npy [--out o.npy]
           [--lse lse.npy] [--scale S] [--dtype f32|f16|bf16] [--threads N]
           [--check] [--bench N] [--tune] [--target cpu|cuda]
  attn-run FILE.mlir --entry F --arg q.npy --arg k.npy --arg v.npy
           --out o.npy [--lse lse.npy] [--threads N] [--check] [--bench N]
           (a lightning entry takes --slopes/--state-in/--state-out as its
           signature has them)

Runs one attention pattern of the attn dialect on .npy inputs (float32 or
float16, C order): Q [B, H, Nq, D], K [B, Hk, Nk, D], V [B, Hk, Nk, Dv];
writes O [B, H, Nq, Dv] (float32, or float16 for float16 kernels) and the
row log-sum-exp LSE [B, H, Nq] (float32). The kernel is compiled on first use
and cached ($ATTN_CACHE_DIR, default ~/.cache/attn).

PATTERN is the dialect's attribute syntax, e.g.
  '#attn.causal'  '#attn.sliding_window<window = 256>'
  '#attn.block_causal<block = 64>'  '#attn.full'
  '#attn.dilated<segments = [2048, 4096], rates = [1, 2]>'
  '#attn.landmark<block = 64>'  '#attn.landmark<block = 64, topk = 4>'
  '#attn.lightning' (linear attention with decay; Nq = Nk) with
     [--slopes s.npy] (float32 [H], default ALiBi) [--state-in kv.npy]
     [--state-out kv.npy] (float32 [B, H, D, Dv]); scale defaults to 1

  --dtype T     kernel input dtype (default: the inputs' dtype); bf16 rounds
                the float32 inputs to bfloat16
  --scale S     score scale (default 1/sqrt(D))
  --threads N   worker threads (default: all hardware threads)
  --check       compare with the float64 reference of SPEC.md; prints max
                abs and relative error, exits 1 beyond tolerance
                (f32 1e-5, f16/bf16 1e-2 relative to max |O|)
  --bench N     run N times, print the median time and useful GFLOP/s
  --tune        tune this shape first when no tuning record covers it
                (as ATTN_AUTOTUNE=1; $ATTN_TUNE_BUDGET seconds, default 60;
                attn-tune --help); tuned records are used in any case
  --out FILE    where O goes; optional with --check or --bench. Outputs
                are written together at the end, or not at all
  --target T    cpu (default) or cuda: the kernel is compiled for the GPU
                (sm_90a from compute capability 9.0, else sm_80; a cubin
                where ptxas is installed, else PTX), the .npy inputs move
                to the device and the outputs back
Exit status: 0 ok, 1 check failed, 2 bad input or unsupported request.
)";

void removePendingOutputs();

[[noreturn]] void die(const std::string &msg) {
  std::fprintf(stderr, "attn-run: error: %s\n", msg.c_str());
  removePendingOutputs();
  std::exit(2);
}

void warn(const std::string &msg) {
  std::fprintf(stderr, "attn-run: warning: %s\n", msg.c_str());
}

/// Absolute, dot-free spelling of `path`, to compare paths that may not
/// exist yet.
std::string normalPath(const std::string &path) {
  llvm::SmallString<256> p(path);
  (void)llvm::sys::fs::make_absolute(p);
  llvm::sys::path::remove_dots(p, /*remove_dot_dot=*/true);
  return p.str().str();
}

/// Whether two paths name one file: the same spelling once normalised, or
/// the same inode (links) when both exist.
bool sameFile(const std::string &a, const std::string &b) {
  bool same = false;
  return normalPath(a) == normalPath(b) ||
         (!llvm::sys::fs::equivalent(a, b, same) && same);
}

/// The output files of a run. Each is created as a temporary next to its
/// path before any work, so an unwritable path fails before anything is
/// computed; they are published together at the end, and on any failure
/// every temporary (and every file already published) is removed, so no
/// run leaves part of its outputs behind.
class OutputFiles {
public:
  struct File {
    std::string flag, path, tmp;
    int fd = -1;
    bool direct = false; // a device or FIFO (/dev/null): written in place
  };

  /// Registers `path` for `flag`; dies naming the problem when the path
  /// is a directory, repeats another output, names an input (`inputs`:
  /// flag and path), or cannot be created.
  void add(const std::string &flag, const std::string &path,
           const std::vector<std::pair<std::string, std::string>> &inputs) {
    if (path.empty())
      return;
    if (llvm::sys::fs::is_directory(path))
      die(flag + " '" + path + "' is a directory; give a file name");
    for (const File &f : files)
      if (sameFile(f.path, path))
        die(f.flag + " and " + flag + " both name '" + path +
            "'; give each output its own file");
    for (const auto &[inFlag, inPath] : inputs)
      if (!inPath.empty() && sameFile(inPath, path))
        die(flag + " '" + path + "' is also the input " + inFlag +
            "; writing it would overwrite that input");
    File f{flag, path, path + ".tmp." + std::to_string(getpid())};
    // An existing device or FIFO cannot be replaced by a rename (and as
    // root that would replace /dev/null): it is written in place.
    llvm::sys::fs::file_status st;
    if (!llvm::sys::fs::status(path, st) && llvm::sys::fs::exists(st) &&
        !llvm::sys::fs::is_regular_file(st)) {
      f.direct = true;
      f.tmp.clear();
      f.fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    } else {
      f.fd =
          ::open(f.tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    }
    if (f.fd < 0)
      die("cannot write " + flag + " '" + path + "': " + std::strerror(errno));
    files.push_back(f);
  }

  /// Writes `bytes` as the output of `flag` (to its temporary).
  void write(const std::string &flag, const std::string &bytes) {
    for (File &f : files) {
      if (f.flag != flag)
        continue;
      size_t done = 0;
      while (done < bytes.size()) {
        ssize_t n = ::write(f.fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR)
          continue;
        if (n <= 0)
          die("cannot write " + flag + " '" + f.path +
              "': " + std::strerror(errno));
        done += size_t(n);
      }
      if (::close(f.fd) != 0) {
        f.fd = -1;
        die("cannot write " + flag + " '" + f.path +
            "': " + std::strerror(errno));
      }
      f.fd = -1;
    }
  }

  /// Renames every temporary onto its path.
  void publish() {
    for (File &f : files) {
      if (f.direct)
        continue;
      if (std::rename(f.tmp.c_str(), f.path.c_str()) != 0)
        die("cannot write " + f.flag + " '" + f.path +
            "': " + std::strerror(errno));
      f.tmp.clear();
    }
    files.clear();
  }

  /// Removes every temporary and every output already published.
  void removeAll() {
    for (File &f : files) {
      if (f.fd >= 0)
        ::close(f.fd);
      if (!f.direct)
        std::remove(f.tmp.empty() ? f.path.c_str() : f.tmp.c_str());
    }
    files.clear();
  }

private:
  std::vector<File> files;
};

OutputFiles outputs;

void removePendingOutputs() { outputs.removeAll(); }

struct Options {
  std::string pattern, file, entry, q, k, v, out, lse, dtype, target = "cpu";
  std::string slopes, stateIn, stateOut;
  std::vector<std::string> args;
  double scale = 0;
  int threads = 0, bench = 0;
  bool check = false, tune = false;
};

Options parseArgs(int argc, char **argv) {
  Options o;
  auto value = [&](int &i) -> std::string {
    if (i + 1 >= argc)
      die(std::string("option ") + argv[i] + " needs a value");
    return argv[++i];
  };
  auto number = [&](const std::string &flag, const std::string &s) {
    char *end = nullptr;
    double x = std::strtod(s.c_str(), &end);
    if (s.empty() || *end)
      die(flag + " needs a number, got '" + s + "'");
    return x;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--pattern") {
      // Surrounding blanks (a quoted pattern with a space) are not part of
      // the attribute.
      o.pattern = llvm::StringRef(value(i)).trim().str();
    } else if (a == "--q") {
      o.q = value(i);
    } else if (a == "--k") {
      o.k = value(i);
    } else if (a == "--v") {
      o.v = value(i);
    } else if (a == "--out") {
      o.out = value(i);
    } else if (a == "--lse") {
      o.lse = value(i);
    } else if (a == "--slopes") {
      o.slopes = value(i);
    } else if (a == "--state-in") {
      o.stateIn = value(i);
    } else if (a == "--state-out") {
      o.stateOut = value(i);
    } else if (a == "--dtype") {
      o.dtype = value(i);
      if (o.dtype != "f32" && o.dtype != "f16" && o.dtype != "bf16")
        die("--dtype must be f32, f16 or bf16, got '" + o.dtype + "'");
    } else if (a == "--scale") {
      std::string text = value(i);
      o.scale = number(a, text);
      if (std::isnan(o.scale))
        die("--scale must be a number, got '" + text + "'");
      if (o.scale == 0)
        die("--scale must be nonzero");
      // The kernels take the scale as f32.
      if (std::fabs(o.scale) > std::numeric_limits<float>::max() ||
          float(o.scale) == 0)
        die("--scale " + text +
            " is out of the f32 range (|S| between "
            "1.2e-38 and 3.4e38)");
    } else if (a == "--threads") {
      double t = number(a, value(i));
      if (t < 1 || t > 1024 || t != std::floor(t))
        die("--threads must be an integer in [1, 1024]");
      o.threads = int(t);
    } else if (a == "--bench") {
      double t = number(a, value(i));
      if (t < 1 || t > 100000 || t != std::floor(t))
        die("--bench must be an integer in [1, 100000]");
      o.bench = int(t);
    } else if (a == "--check") {
      o.check = true;
    } else if (a == "--tune") {
      o.tune = true;
    } else if (a == "--target") {
      o.target = value(i);
      if (a.rfind("--target=", 0) == 0)
        o.target = a.substr(9);
    } else if (a.rfind("--target=", 0) == 0) {
      o.target = a.substr(9);
    } else if (a == "--entry") {
      o.entry = value(i);
    } else if (a == "--arg") {
      o.args.push_back(value(i));
    } else if (!a.empty() && a[0] != '-' && o.file.empty()) {
      o.file = a;
    } else {
      die("unknown option '" + a + "' (see --help)");
    }
  }
  if (o.target != "cpu" && o.target != "cuda")
    die("--target must be cpu or cuda, got '" + o.target + "'");
  if (o.file.empty() && o.pattern.empty())
    die("give --pattern or a kernel file (see --help)");
  if (!o.file.empty() && !o.pattern.empty())
    die("give either --pattern or a kernel file, not both");
  if (!o.file.empty()) {
    if (o.entry.empty())
      die("a kernel file needs --entry F");
    if (o.args.size() != 3)
      die("a kernel file needs --arg q.npy --arg k.npy --arg v.npy");
    o.q = o.args[0], o.k = o.args[1], o.v = o.args[2];
  }
  if (o.q.empty() || o.k.empty() || o.v.empty())
    die("--q, --k and --v are required");
  // Without --out the run is for --check or --bench alone.
  if (o.out.empty() && !o.check && o.bench == 0)
    die("--out is required (or --check / --bench to run without writing "
        "O)");
  bool lightning = o.pattern == "#attn.lightning";
  if (!lightning && o.file.empty() &&
      !(o.slopes.empty() && o.stateIn.empty() && o.stateOut.empty()))
    die("--slopes, --state-in and --state-out go with --pattern "
        "'#attn.lightning' or a lightning kernel file");
  if (lightning && !o.lse.empty())
    die("lightning attention has no LSE (--lse)");
  return o;
}

/// Parses and verifies the pattern text; dies with the parser's message.
mlir::Attribute parsePattern(mlir::MLIRContext &ctx, const std::string &text) {
  std::string error;
  mlir::Attribute attr = attn::parsePatternText(ctx, text, error);
  if (!attr)
    die(error);
  return attr;
}

attn_dtype dtypeOf(const std::string &s) {
  return s == "f32" ? ATTN_F32 : s == "f16" ? ATTN_F16 : ATTN_BF16;
}

/// A tensor in the kernel's dtype, dense [B, H, N, D] (or [B, H, N]).
struct Buffer {
  std::vector<int64_t> shape;
  attn_dtype dtype;
  std::vector<uint8_t> bytes;

  Buffer(std::vector<int64_t> s, attn_dtype t) : shape(std::move(s)), dtype(t) {
    bytes.resize(size_t(count()) * elementSize());
  }
  int64_t count() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
  size_t elementSize() const { return dtype == ATTN_F32 ? 4 : 2; }
  void set(int64_t i, double x) {
    if (dtype == ATTN_F32) {
      float f = float(x);
      std::memcpy(&bytes[4 * i], &f, 4);
      return;
    }
    uint16_t h = dtype == ATTN_F16 ? floatToHalf(float(x)) : floatToBf16(float(x));
    std::memcpy(&bytes[2 * i], &h, 2);
  }
  double get(int64_t i) const {
    if (dtype == ATTN_F32) {
      float f;
      std::memcpy(&f, &bytes[4 * i], 4);
      return f;
    }
    uint16_t h;
    std::memcpy(&h, &bytes[2 * i], 2);
    return dtype == ATTN_F16 ? halfToFloat(h) : bf16ToFloat(h);
  }
  attn_tensor tensor() {
    attn_tensor t{};
    t.data = bytes.data();
    t.dtype = dtype;
    t.rank = int32_t(shape.size());
    int64_t stride = 1;
    for (int d = t.rank - 1; d >= 0; --d) {
      t.shape[d] = shape[d];
      t.strides[d] = stride;
      stride *= shape[d];
    }
    return t;
  }
  ref::Tensor toRef() const {
    ref::Tensor t{shape[0], shape[1], shape[2], shape[3], {}};
    t.v.resize(count());
    for (int64_t i = 0; i < count(); ++i)
      t.v[i] = get(i);
    return t;
  }
};

/// Largest finite value of a kernel dtype.
double dtypeMax(attn_dtype t) {
  return t == ATTN_F16 ? 65504.0 : double(std::numeric_limits<float>::max());
}

const char *dtypeText(attn_dtype t) {
  return t == ATTN_F32 ? "f32" : t == ATTN_F16 ? "f16" : "bf16";
}

/// Inputs whose finite values became infinite in the kernel's dtype (each
/// has been warned about); a likely cause of non-finite outputs.
std::vector<std::string> overflowedInputs;

Buffer loadInput(const std::string &path, const std::string &name,
                 attn_dtype dtype) {
  Array a;
  std::string error;
  if (!readNpy(path, a, error))
    die(error);
  if (a.shape.size() != 4)
    die("--" + name + " '" + path + "' must have rank 4 ([B, H, N, D]), got " +
        std::to_string(a.shape.size()));
  for (size_t d = 0; d < 4; ++d)
    if (a.shape[d] <= 0)
      die("--" + name + " '" + path + "' has an empty dimension " +
          std::to_string(d));
  Buffer b(a.shape, dtype);
  int64_t overflowed = 0;
  for (int64_t i = 0; i < b.count(); ++i) {
    if (!std::isfinite(a.data[i]))
      die("--" + name + " '" + path + "' holds a non-finite value at flat "
          "index " + std::to_string(i));
    b.set(i, a.data[i]);
    overflowed += !std::isfinite(b.get(i));
  }
  if (overflowed) {
    char limit[32];
    std::snprintf(limit, sizeof limit, "%.6g", dtypeMax(dtype));
    warn("--" + name + " '" + path + "': " + std::to_string(overflowed) +
         " of " + std::to_string(b.count()) + " values exceed the " +
         dtypeText(dtype) + " range (|x| > " + limit +
         ") and become infinite; the outputs will not be finite (use "
         "--dtype f32 or scale the inputs down)");
    overflowedInputs.push_back("--" + name);
  }
  return b;
}

/// Largest Euclidean norm of a row (last dimension) of `b`.
double maxRowNorm(const Buffer &b) {
  int64_t d = b.shape.back(), rows = b.count() / d;
  double best = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (int64_t j = 0; j < d; ++j) {
      double x = b.get(r * d + j);
      sum += x * x;
    }
    best = std::max(best, std::sqrt(sum));
  }
  return best;
}

/// The likely reason for non-finite outputs from finite inputs, as a
/// sentence for the warning.
std::string overflowCause(const Buffer &q, const Buffer &k, const Buffer &v,
                          double scale, bool lightning, attn_dtype kt) {
  if (!overflowedInputs.empty()) {
    std::string names;
    for (const std::string &n : overflowedInputs)
      names += (names.empty() ? "" : ", ") + n;
    return std::string("likely cause: ") + names + " exceed the " +
           dtypeText(kt) +
           " range (use --dtype f32 or scale the inputs "
           "down)";
  }
  int64_t D = q.shape[3];
  if (scale == 0)
    scale = lightning ? 1.0 : 1.0 / std::sqrt(double(D));
  // |s| <= scale |q| |k| (Cauchy-Schwarz); scores and accumulators are f32.
  double bound = std::fabs(scale) * maxRowNorm(q) * maxRowNorm(k);
  if (lightning)
    bound *= maxRowNorm(v) * double(k.shape[2]);
  char text[160];
  double fmax = std::numeric_limits<float>::max();
  if (bound > fmax / 16) {
    std::snprintf(text, sizeof text,
                  "likely cause: the %s reach about %.3g, beyond the f32 "
                  "range of the kernel's arithmetic (3.4e38); scale the "
                  "inputs down",
                  lightning ? "outputs" : "scores scale*<q, k>", bound);
    return text;
  }
  return "likely cause: intermediate values beyond the f32 range (3.4e38) "
         "or the output dtype's range; scale the inputs down";
}

std::string fileDtype(const std::string &path) {
  Array a;
  std::string error;
  if (!readNpy(path, a, error))
    die(error);
  return a.dtype;
}

void check(attn_status s, const char *what) {
  if (s == ATTN_OK)
    return;
  die(std::string(what) + ": " + attn_last_error());
}

/// For attn_get_kernel: the step that failed, by its status (a cache or
/// load error is not a compile error).
void checkKernel(attn_status s) {
  check(s, s == ATTN_ERROR_COMPILE ? "compiling the kernel"
           : s == ATTN_ERROR_IO    ? "the kernel cache"
                                   : "getting the kernel");
}

/// A kernel of a kernel file, compiled for the context's device: the host
/// CPU, or the CUDA device's target (sm_90a from compute capability 9.0,
/// else sm_80; a cubin where ptxas is installed, else PTX).
attn_kernel *loadFileKernel(attn_context *ctx, const Options &o) {
  auto buf = llvm::MemoryBuffer::getFile(o.file);
  if (!buf)
    die("cannot open '" + o.file + "'");
  CompileOptions options;
  Emit emit = Emit::SharedObject;
  const char *ext = "so";
  if (attnrt::isCuda(ctx)) {
    options.target =
        attnrt::cudaComputeCapability(ctx) >= 90 ? "sm_90a" : "sm_80";
    bool cubin = !findPtxas().empty();
    emit = cubin ? Emit::Cubin : Emit::PTX;
    ext = cubin ? "cubin" : "ptx";
  } else {
    options.cpu = hostCPUOptions();
  }
  if (const char *dump = std::getenv("ATTN_DUMP_DIR"))
    options.dumpDir = dump;
  std::string source = (*buf)->getBuffer().str(), binary, error;
  if (std::getenv("ATTN_JIT_LOG"))
    std::fprintf(stderr, "attn-run: compiling '%s' for %s\n", o.file.c_str(),
                 options.target.c_str());
  if (!compile(source, o.file, emit, options, binary, error))
    die(error);
  llvm::SmallString<128> path;
  int fd;
  if (llvm::sys::fs::createTemporaryFile("attn-run", ext, fd, path))
    die("cannot create a temporary file");
  ::close(fd);
  if (!writeFileAtomic(path.str().str(), binary, error))
    die(error);
  attn_kernel *kernel = nullptr;
  attn_status s = attn_kernel_load(ctx, path.c_str(), o.entry.c_str(), &kernel);
  llvm::sys::fs::remove(path); // dlopen keeps the mapping
  check(s, ("loading entry '" + o.entry + "'").c_str());
  return kernel;
}

} // namespace

static int run(int argc, char **argv) {
  Options o = parseArgs(argc, argv);
  // The device first: without a GPU, say so before reading any input.
  attn_context *ctx = nullptr;
  bool cuda = o.target == "cuda";
  if (cuda) {
    if (attn_context_create(ATTN_DEVICE_CUDA, 0, &ctx) != ATTN_OK)
      die(std::string("--target cuda: ") + attn_last_error());
  } else {
    check(attn_context_create(ATTN_DEVICE_CPU, o.threads, &ctx), "context");
  }
  // Every output path is checked and created (as a temporary) before any
  // work, so a bad one fails first and nothing is left half-written.
  {
    std::vector<std::pair<std::string, std::string>> inputs = {
        {"--q", o.q},
        {"--k", o.k},
        {"--v", o.v},
        {"--slopes", o.slopes},
        {"--state-in", o.stateIn},
        {"the kernel file", o.file}};
    outputs.add("--out", o.out, inputs);
    outputs.add("--lse", o.lse, inputs);
    outputs.add("--state-out", o.stateOut, inputs);
  }

  mlir::MLIRContext mctx;
  mctx.loadDialect<mlir::attn::AttnDialect>();

  // Inputs, in the kernel's dtype.
  std::string dtype = o.dtype;
  if (dtype.empty()) {
    dtype = fileDtype(o.q);
    for (const std::string *p : {&o.k, &o.v})
      if (fileDtype(*p) != dtype)
        die("--q, --k and --v have different dtypes (" + dtype + " and " +
            fileDtype(*p) + "); convert them or pass --dtype");
  }
  attn_dtype kt = dtypeOf(dtype);
  Buffer q = loadInput(o.q, "q", kt), k = loadInput(o.k, "k", kt),
         v = loadInput(o.v, "v", kt);
  int64_t B = q.shape[0], H = q.shape[1], Nq = q.shape[2], D = q.shape[3];
  int64_t Hk = k.shape[1], Nk = k.shape[2], Dv = v.shape[3];
  auto shapeText = [](const Buffer &b) {
    std::string s = "[";
    for (size_t i = 0; i < b.shape.size(); ++i)
      s += (i ? ", " : "") + std::to_string(b.shape[i]);
    return s + "]";
  };
  if (k.shape[0] != B || v.shape[0] != B)
    die("batch sizes differ: q " + shapeText(q) + ", k " + shapeText(k) +
        ", v " + shapeText(v));
  if (k.shape[3] != D)
    die("head dim differs: q " + shapeText(q) + ", k " + shapeText(k));
  if (v.shape[1] != Hk || v.shape[2] != Nk)
    die("k " + shapeText(k) + " and v " + shapeText(v) +
        " must agree on kv heads and length");
  if (H % Hk != 0)
    die("query heads H = " + std::to_string(H) +
        " must be a multiple of kv heads Hk = " + std::to_string(Hk));

  attn_kernel *kernel = nullptr;
  std::string patternText = o.pattern;
  bool lightning = patternText == "#attn.lightning";
  int flags = (o.slopes.empty() ? 0 : ATTN_LIGHTNING_SLOPES) |
              (o.stateIn.empty() ? 0 : ATTN_LIGHTNING_STATE_IN) |
              (o.stateOut.empty() ? 0 : ATTN_LIGHTNING_STATE_OUT);
  auto t0 = std::chrono::steady_clock::now();
  if (lightning) {
    checkKernel(attn_get_lightning_kernel(ctx, kt, D, Dv, float(o.scale), flags,
                                          &kernel));
  } else if (o.file.empty()) {
    mlir::Attribute attr = parsePattern(mctx, o.pattern);
    (void)attr;
    // With the shape, so that ATTN_AUTOTUNE=1 (or --tune) tunes it on a
    // miss.
    attn_shape shape{B, H, Hk, Nq, Nk};
    checkKernel(attn_get_kernel_for_shape(
        ctx, o.pattern.c_str(), kt, D, Dv, float(o.scale),
        /*with_lse=*/1, &shape, o.tune ? ATTN_TUNE_ON_MISS : 0, &kernel));
  } else {
    kernel = loadFileKernel(ctx, o);
  }
  // What the kernel is and takes, from its metadata (the runtime's parser).
  attnmeta::KernelMeta meta;
  {
    std::string metaError;
    if (!attnmeta::parse(attn_kernel_info(kernel), meta, metaError))
      die("kernel '" + o.entry + "' has bad metadata: " + metaError);
  }
  if (!o.file.empty()) {
    patternText = meta.pattern;
    lightning = meta.op == "lightning";
    if (lightning)
      patternText = "#attn.lightning";
  }
  if (lightning && Nq != Nk)
    die("lightning attention needs q and k of one length, got " +
        std::to_string(Nq) + " and " + std::to_string(Nk));
  if (!lightning && !(o.slopes.empty() && o.stateIn.empty() &&
                      o.stateOut.empty()))
    die("--slopes, --state-in and --state-out go with lightning kernels");
  // The kernel's tensors in its own order, by role (from its metadata).
  std::vector<std::string> roles;
  for (const attnmeta::Arg &a : meta.args)
    roles.push_back(a.role);
  auto takes = [&](const char *role) {
    return std::find(roles.begin(), roles.end(), role) != roles.end();
  };
  if (lightning) {
    const std::pair<const char *, const std::string *> optional[] = {
        {"slopes", &o.slopes}, {"state_in", &o.stateIn},
        {"state_out", &o.stateOut}};
    for (auto [role, path] : optional)
      if (takes(role) != !path->empty())
        die(std::string("entry '") + o.entry + "' " +
            (takes(role) ? "takes" : "does not take") + " a " + role +
            " tensor: " + (takes(role) ? "give" : "drop") + " --" +
            (std::string(role) == "state_in"    ? "state-in"
             : std::string(role) == "state_out" ? "state-out"
                                                : "slopes"));
  }
  double getMs = std::chrono::duration<double, std::milli>(
                     std::chrono::steady_clock::now() - t0)
                     .count();
  int nargs = attn_kernel_num_args(kernel);
  if (!o.lse.empty() && !takes("lse"))
    die("entry '" + o.entry + "' writes no LSE: drop --lse");
  if (!takes("q") || !takes("k") || !takes("v") || !takes("out"))
    die("entry '" + o.entry + "' is not an attention or lightning kernel");

  // Outputs, poisoned so that an unwritten element shows.
  attn_dtype outType = kt == ATTN_F16 ? ATTN_F16 : kt;
  Buffer out({B, H, Nq, Dv}, outType), lse({B, H, Nq}, ATTN_F32);
  double nan = std::numeric_limits<double>::quiet_NaN();
  for (int64_t i = 0; i < out.count(); ++i)
    out.set(i, nan);
  for (int64_t i = 0; i < lse.count(); ++i)
    lse.set(i, nan);
  // Lightning's optional tensors, float32 and contiguous.
  auto loadF32 = [&](const std::string &path, const std::string &flag,
                     std::vector<int64_t> shape) {
    Array a;
    std::string error;
    if (!readNpy(path, a, error))
      die(error);
    if (a.shape != shape) {
      std::string want;
      for (int64_t x : shape)
        want += (want.empty() ? "" : ", ") + std::to_string(x);
      die(flag + " '" + path + "' must have shape [" + want + "]");
    }
    Buffer b(shape, ATTN_F32);
    for (int64_t i = 0; i < b.count(); ++i) {
      if (!std::isfinite(a.data[i]))
        die(flag + " '" + path + "' holds a non-finite value at flat index " +
            std::to_string(i));
      b.set(i, a.data[i]);
    }
    return b;
  };
  // Lightning's slopes and states; empty for attention kernels.
  std::vector<int64_t> stateShape = {B, H, D, Dv};
  if (!lightning)
    stateShape = {0};
  Buffer slopes({lightning ? H : 0}, ATTN_F32), stateIn(stateShape, ATTN_F32),
      stateOut(stateShape, ATTN_F32);
  if (!o.slopes.empty())
    slopes = loadF32(o.slopes, "--slopes", {H});
  if (!o.stateIn.empty())
    stateIn = loadF32(o.stateIn, "--state-in", {B, H, D, Dv});
  for (int64_t i = 0; i < stateOut.count(); ++i)
    stateOut.set(i, nan);
  std::map<std::string, Buffer *> byRole = {
      {"q", &q},         {"k", &k},           {"v", &v},
      {"out", &out},     {"lse", &lse},       {"slopes", &slopes},
      {"state_in", &stateIn}, {"state_out", &stateOut}};
  std::vector<attn_tensor> args;
  for (const std::string &role : roles) {
    auto it = byRole.find(role);
    if (it == byRole.end() && (role == "block_table" || role == "kv_lens"))
      die("entry '" + o.entry + "' reads a paged K/V cache (" + role +
          "): attn-run runs contiguous K/V only; use attn.paged_attention "
          "(Python) or attn_get_paged_kernel (C API)");
    if (it == byRole.end())
      die("entry '" + o.entry + "' has an argument of unknown role '" + role +
          "'");
    args.push_back(it->second->tensor());
  }
  // On the GPU: device copies of every argument (outputs poisoned too).
  std::vector<Buffer *> argBuffers;
  for (const std::string &role : roles)
    argBuffers.push_back(byRole[role]);
  std::vector<void *> device(args.size(), nullptr);
  if (cuda) {
    for (size_t i = 0; i < args.size(); ++i) {
      size_t bytes = std::max<size_t>(argBuffers[i]->bytes.size(), 16);
      check(attn_device_alloc(ctx, bytes, &device[i]), "device memory");
      check(attn_copy_to_device(ctx, device[i], argBuffers[i]->bytes.data(),
                                argBuffers[i]->bytes.size()),
            "copy to the device");
      args[i].data = device[i];
    }
  }
  auto launch = [&] {
    check(attn_launch(ctx, kernel, args.data(), nargs), "launch");
    if (cuda)
      check(attn_synchronize(ctx), "synchronize");
  };
  launch();
  if (cuda)
    for (size_t i = 0; i < args.size(); ++i)
      if (roles[i] == "out" || roles[i] == "lse" || roles[i] == "state_out")
        check(attn_copy_to_host(ctx, argBuffers[i]->bytes.data(), device[i],
                                argBuffers[i]->bytes.size()),
              "copy from the device");

  // Numerical honesty: every input is finite, so a non-finite output is an
  // overflow somewhere; say how many and the likely cause. (-inf LSE is a
  // row without keys, per SPEC.)
  {
    int64_t nonFinite = 0, total = out.count();
    for (int64_t i = 0; i < out.count(); ++i)
      nonFinite += !std::isfinite(out.get(i));
    if (takes("lse") && !lightning) {
      total += lse.count();
      for (int64_t i = 0; i < lse.count(); ++i) {
        double x = lse.get(i);
        nonFinite += std::isnan(x) || x == INFINITY;
      }
    }
    if (takes("state_out")) {
      total += stateOut.count();
      for (int64_t i = 0; i < stateOut.count(); ++i)
        nonFinite += !std::isfinite(stateOut.get(i));
    }
    if (nonFinite)
      warn(std::to_string(nonFinite) + " of " + std::to_string(total) +
           " outputs are NaN or infinite though every input is finite; " +
           overflowCause(q, k, v, o.scale, lightning, kt));
  }

  ref::Pattern pattern;
  if (!lightning)
    pattern = refPattern(parsePattern(mctx, patternText));
  if (o.bench > 0) {
    std::vector<double> ms;
    for (int r = 0; r < o.bench; ++r) {
      auto a = std::chrono::steady_clock::now();
      launch();
      ms.push_back(std::chrono::duration<double, std::milli>(
                       std::chrono::steady_clock::now() - a)
                       .count());
    }
    std::sort(ms.begin(), ms.end());
    double median = ms[ms.size() / 2];
    // Lightning: SPEC's block formula at the kernel's block of 64.
    double flops =
        lightning ? lightningFlops(B, H, Nq, D, Dv)
                  : ref::usefulFlops(pattern, B, H, Nq, Nk, D, Dv);
    std::printf("bench: %s B=%lld H=%lld Hk=%lld Nq=%lld Nk=%lld D=%lld "
                "Dv=%lld %s threads=%d: median %.3f ms over %d runs "
                "(min %.3f), %.1f useful GFLOP/s; kernel ready in %.1f ms\n",
                patternText.c_str(), (long long)B, (long long)H,
                (long long)Hk, (long long)Nq, (long long)Nk, (long long)D,
                (long long)Dv, dtype.c_str(), attn_context_threads(ctx),
                median, o.bench, ms.front(), flops / (median * 1e6), getMs);
  }

  int status = 0;
  if (o.check) {
    // The float64 reference runs on one thread at about 1 GFLOP/s: say so
    // before a long silence.
    double refFlops = lightning
                          ? double(B * H) * 4.0 * double(Nq) * double(D * Dv)
                          : ref::usefulFlops(pattern, B, H, Nq, Nk, D, Dv);
    if (refFlops > 1e9) {
      std::fprintf(stderr,
                   "attn-run: computing the float64 reference for --check "
                   "(%.3g GFLOP, may take %.0f s or more)...\n",
                   refFlops / 1e9, std::max(1.0, refFlops / 1e9));
      std::fflush(stderr);
    }
    ref::Tensor ro;
    std::vector<double> rl, refState;
    if (lightning) {
      std::vector<double> sl = ref::alibiSlopes(H), st;
      if (!o.slopes.empty())
        for (int64_t i = 0; i < H; ++i)
          sl[i] = slopes.get(i);
      if (!o.stateIn.empty())
        for (int64_t i = 0; i < stateIn.count(); ++i)
          st.push_back(stateIn.get(i));
      ref::lightning(q.toRef(), k.toRef(), v.toRef(), sl,
                     o.scale != 0 ? o.scale : 1.0, st, ro, refState);
    } else {
      double scale = o.scale != 0 ? o.scale : 1.0 / std::sqrt(double(D));
      ref::attention(pattern, q.toRef(), k.toRef(), v.toRef(), scale, ro, rl);
    }
    double maxAbs = 0, norm = 0, lseErr = 0, lseNorm = 1;
    int64_t bad = 0;
    for (int64_t i = 0; i < out.count(); ++i) {
      double g = out.get(i), w = ro.v[i];
      norm = std::max(norm, std::fabs(w));
      // A NaN or infinite output is an infinite error, never a zero one.
      if (!std::isfinite(g)) {
        ++bad;
        maxAbs = INFINITY;
      } else {
        maxAbs = std::max(maxAbs, std::fabs(g - w));
      }
    }
    int64_t lseMismatch = 0;
    double stateErr = 0, stateNorm = 0;
    if (lightning && !o.stateOut.empty())
      for (int64_t i = 0; i < stateOut.count(); ++i) {
        double g = stateOut.get(i);
        stateNorm = std::max(stateNorm, std::fabs(refState[i]));
        stateErr = std::isnan(g) ? INFINITY
                                 : std::max(stateErr,
                                            std::fabs(g - refState[i]));
      }
    if (!lightning && takes("lse"))
      for (int64_t i = 0; i < lse.count(); ++i) {
        double g = lse.get(i), w = rl[i];
        if (std::isinf(w) || std::isinf(g) || std::isnan(g)) {
          lseMismatch += !(std::isinf(w) && std::isinf(g) && (w < 0) == (g < 0));
          continue;
        }
        lseNorm = std::max(lseNorm, std::fabs(w));
        lseErr = std::max(lseErr, std::fabs(g - w));
      }
    double tol = kt == ATTN_F32 ? 1e-5 : 1e-2;
    double rel = norm > 0 ? maxAbs / norm : maxAbs;
    if (std::isnan(rel))
      rel = INFINITY;
    double lseRel = lseErr / lseNorm;
    double stateRel = stateNorm > 0 ? stateErr / stateNorm : stateErr;
    if (lightning) // the state plays the LSE's part in the report
      lseRel = stateRel;
    bool ok = bad == 0 && lseMismatch == 0 && rel <= tol && lseRel <= tol;
    std::printf(
        "check: %s %s: max abs error %.3g, relative %.3g (tolerance "
        "%.0e); %s relative %.3g; %lld NaN or infinite outputs, %lld LSE "
        "infinities misplaced: %s\n",
        patternText.c_str(), dtype.c_str(), maxAbs, rel, tol,
        lightning ? "state" : "lse", lseRel, (long long)bad,
        (long long)lseMismatch, ok ? "PASS" : "FAIL");
    status = ok ? 0 : 1;
  }

  // Outputs are written only now, whole, and published together.
  auto encode = [](const Buffer &b, const char *dtype) {
    std::vector<float> data(b.count());
    for (int64_t i = 0; i < b.count(); ++i)
      data[i] = float(b.get(i));
    return encodeNpy(b.shape, data, dtype);
  };
  if (!o.out.empty())
    outputs.write("--out", encode(out, outType == ATTN_F16 ? "f16" : "f32"));
  if (!o.stateOut.empty())
    outputs.write("--state-out", encode(stateOut, "f32"));
  if (!o.lse.empty())
    outputs.write("--lse", encode(lse, "f32"));
  outputs.publish();
  attn_kernel_release(kernel);
  for (void *p : device)
    if (p)
      attn_device_free(ctx, p);
  attn_context_destroy(ctx);
  return status;
}

int main(int argc, char **argv) {
  // Last line of defence: an exception (e.g. memory for a huge shape) is
  // one error line and exit 2, with the outputs removed, not an abort.
  try {
    return run(argc, argv);
  } catch (const std::bad_alloc &) {
    die("out of memory (the inputs' shapes need more than this machine "
        "has)");
  } catch (const std::exception &e) {
    die(std::string("internal error: ") + e.what());
  }
}
