//===- KernelMetaTest.cpp - the kernel-metadata printer and parser ---------===//
// Round trips of real metadata, every line removed, every truncation, bad
// values (each with the message it must give), and the launch rule. Prints
// one line per group and exits 1 on any failure.
//===----------------------------------------------------------------------===//
#include "runtime/core/KernelMeta.h"
#include "runtime/core/LaunchRule.h"

#include <cstdio>
#include <string>
#include <vector>

using namespace attnmeta;

static int failures = 0;

static void expect(bool ok, const std::string &what) {
  if (!ok) {
    ++failures;
    std::printf("FAIL: %s\n", what.c_str());
  }
}

// As attn-lower-to-gpu writes them (a dilated kernel with strided maps) and
// as attn-lower-to-cpu does.
static const char *kGPU =
    "attn-kernel v1\n"
    "op attention\n"
    "pattern #attn.dilated<segments = [2048, 4096], rates = [1, 2]>\n"
    "phases 3\n"
    "target sm_90a\n"
    "threads 256\n"
    "smem 98304\n"
    "tile_m 128\n"
    "tile_n 64\n"
    "stages 2\n"
    "launch k__phase1 2048 16 256 98304\n"
    "launch k__phase2 4096 16 256 98304 if 2\n"
    "launch k__phase2_rows 4096 16 128 40960 unless 2\n"
    "tensormap q 64 128\n"
    "tensormap k 64 64\n"
    "tensormap v 64 64\n"
    "tensormap q 64 128 2\n"
    "tensormap k 64 64 2\n"
    "tensormap v 64 64 2\n"
    "arg q bf16 4 -1 -1 -1 128\n"
    "arg k bf16 4 -1 -1 -1 128\n"
    "arg v bf16 4 -1 -1 -1 128\n"
    "arg out bf16 4 -1 -1 -1 128\n"
    "arg lse f32 3 -1 -1 -1\n";
static const char *kGPULong =
    "attn-kernel v1\n"
    "op attention\n"
    "pattern #attn.causal\n"
    "phases 4\n"
    "target sm_90a\n"
    "threads 384\n"
    "smem 200000\n"
    "tile_m 128\n"
    "tile_n 64\n"
    "stages 2\n"
    "launch c__decode 0 1 32 40000 rows 0 17 split 256 4 0\n"
    "launch c__merge 4 1 128 0 rows 0 17 merge\n"
    "launch c 128 1 256 81920 keys 0 3968 rows 17 0\n"
    "launch c__long 128 1 384 200000 keys 3968 0 rows 17 0\n"
    "arg q f16 4 -1 -1 -1 128\n"
    "arg k f16 4 -1 -1 -1 128\n"
    "arg v f16 4 -1 -1 -1 128\n"
    "arg out f16 4 -1 -1 -1 128\n";
// Split-KV decoding that merges in the split kernel's last CTAs.
static const char *kGPUFused =
    "attn-kernel v1\n"
    "op attention\n"
    "pattern #attn.causal\n"
    "phases 2\n"
    "target sm_90a\n"
    "threads 256\n"
    "smem 81920\n"
    "tile_m 128\n"
    "tile_n 64\n"
    "stages 2\n"
    "launch c__decode 0 1 32 40000 rows 0 17 split 256 8 0 merge\n"
    "launch c 128 1 256 81920 rows 17 0\n"
    "arg q bf16 4 -1 -1 -1 128\n"
    "arg k bf16 4 -1 -1 -1 128\n"
    "arg v bf16 4 -1 -1 -1 128\n"
    "arg out bf16 4 -1 -1 -1 128\n";
// A persistent warp-specialized kernel above the decoding rows.
static const char *kGPUPersistent =
    "attn-kernel v1\n"
    "op attention\n"
    "pattern #attn.causal\n"
    "phases 2\n"
    "target sm_90a\n"
    "threads 384\n"
    "smem 163904\n"
    "tile_m 128\n"
    "tile_n 128\n"
    "stages 2\n"
    "launch c__decode 0 1 32 40000 rows 0 17 split 256 8 0 merge\n"
    "launch c 128 1 384 163904 rows 17 0 persistent 1\n"
    "tensormap q 64 128\n"
    "tensormap k 64 128\n"
    "tensormap v 64 128\n"
    "arg q bf16 4 -1 -1 -1 128\n"
    "arg k bf16 4 -1 -1 -1 128\n"
    "arg v bf16 4 -1 -1 -1 128\n"
    "arg out bf16 4 -1 -1 -1 128\n";
static const char *kLightning =
    "attn-kernel v1\n"
    "op lightning\n"
    "phases 2\n"
    "target sm_80\n"
    "threads 128\n"
    "smem 40000\n"
    "tile_m 64\n"
    "tile_n 64\n"
    "stages 2\n"
    "launch l__s64 0 2 128 40000 ctas 256 0\n"
    "launch l__s32 0 4 128 30000 ctas 0 256\n"
    "arg q bf16 4 -1 -1 -1 128\n"
    "arg k bf16 4 -1 -1 -1 128\n"
    "arg v bf16 4 -1 -1 -1 128\n"
    "arg out bf16 4 -1 -1 -1 128\n"
    "arg state_out f32 4 -1 -1 128 128\n";
static const char *kCPU =
    "attn-kernel v1\n"
    "op attention\n"
    "pattern #attn.sliding_window<window = 256>\n"
    "phases 1\n"
    "cpu znver4\n"
    "features sse2,avx,avx2,fma,avx512f\n"
    "arg q f32 4 -1 -1 -1 64\n"
    "arg k f32 4 -1 -1 -1 64\n"
    "arg v f32 4 -1 -1 -1 64\n"
    "arg out f32 4 -1 -1 -1 64\n";

static std::vector<std::string> lines(const std::string &text) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    out.push_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  return out;
}

static std::string join(const std::vector<std::string> &ls, size_t skip) {
  std::string out;
  for (size_t i = 0; i < ls.size(); ++i)
    if (i != skip)
      out += ls[i] + "\n";
  return out;
}

static void roundTrips() {
  int n = 0;
  for (const char *text :
       {kGPU, kGPULong, kGPUFused, kGPUPersistent, kLightning, kCPU}) {
    KernelMeta m;
    std::string err;
    bool ok = parse(text, m, err);
    expect(ok, "parse a good text: " + err);
    expect(ok && print(m) == text, "print(parse(x)) == x for:\n" + std::string(text));
    ++n;
  }
  KernelMeta m;
  std::string err;
  parse(kGPU, m, err);
  expect(m.launches.size() == 3 && m.launches[1].cond == 2 &&
             m.launches[2].cond == -2 && m.tensorMaps[3].rate == 2 &&
             m.args[4].dims.size() == 3 && m.smem == 98304,
         "fields of the dilated kernel");
  parse(kGPULong, m, err);
  expect(m.launches.size() == 4 && m.launches[0].splitKeys == 256 &&
             m.launches[0].splitCtas == 4 && m.launches[0].rowsHi == 17 &&
             m.launches[1].merge && !m.launches[2].merge &&
             m.launches[2].rowsLo == 17,
         "fields of the decode launches");
  parse(kGPUFused, m, err);
  expect(m.launches.size() == 2 && m.launches[0].fusedMerge() &&
             m.launches[0].splitCtas == 8 && !m.launches[1].fusedMerge() &&
             !m.launches[1].merge,
         "fields of the fused split-KV launch");
  expect(!m.launches[1].fusedMerge(), "a merge launch alone is not fused");
  parse(kGPUPersistent, m, err);
  expect(m.launches.size() == 2 && !m.launches[0].persistent &&
             m.launches[1].persistent == 1 && m.launches[1].rowsLo == 17,
         "fields of the persistent launch");
  parse(kCPU, m, err);
  expect(m.cpu == "znver4" && m.features.size() == 5 &&
             m.features[4] == "avx512f" && !m.isGPU(),
         "fields of the CPU kernel");
  // Defaults: no launch lines -> one grid of tile_m rows of the kernel.
  KernelMeta d;
  parse("attn-kernel v1\nop attention\nphases 1\ntarget sm_80\nthreads 128\n"
        "smem 1024\ntile_m 64\narg q f16 4 -1 -1 -1 64\n",
        d, err);
  auto eff = d.effectiveLaunches("kern");
  expect(eff.size() == 1 && eff[0].entry == "kern" && eff[0].seg == 64 &&
             eff[0].perSeg == 1 && eff[0].threads == 128 && eff[0].smem == 1024,
         "default launch");
  std::printf("round trips: %d texts\n", n);
}

/// Every line dropped in turn: optional lines parse, the others fail with
/// a message; never a crash.
static void missingLines() {
  int dropped = 0, refused = 0;
  for (const char *text :
       {kGPU, kGPULong, kGPUFused, kGPUPersistent, kLightning, kCPU}) {
    std::vector<std::string> ls = lines(text);
    for (size_t i = 0; i < ls.size(); ++i) {
      KernelMeta m;
      std::string err;
      bool ok = parse(join(ls, i), m, err);
      std::string key = ls[i].substr(0, ls[i].find(' '));
      bool optional = key == "pattern" || key == "tile_n" || key == "stages" ||
                      key == "tensormap" || key == "cpu" ||
                      key == "features" || key == "tile_m" ||
                      (key == "arg" && ls.size() > 0);
      // Required: the header, op, phases, target fields, and a launch line
      // (phases would no longer match).
      bool required = i == 0 || key == "op" || key == "phases" ||
                      key == "threads" || key == "smem" || key == "launch";
      if (required)
        expect(!ok && !err.empty(), "dropping '" + ls[i] + "' must fail");
      else if (optional && key != "target")
        expect(ok, "dropping '" + ls[i] + "' must parse: " + err);
      refused += !ok;
      ++dropped;
    }
  }
  std::printf("missing lines: %d dropped, %d refused\n", dropped, refused);
}

/// Every prefix of every text: parses or fails with a message.
static void truncations() {
  int cut = 0;
  for (const char *text :
       {kGPU, kGPULong, kGPUFused, kGPUPersistent, kLightning, kCPU}) {
    std::string t = text;
    for (size_t n = 0; n < t.size(); ++n) {
      KernelMeta m;
      std::string err;
      bool ok = parse(t.substr(0, n), m, err);
      expect(ok || !err.empty(), "a truncation fails with a message");
      ++cut;
    }
  }
  std::printf("truncations: %d, no crash\n", cut);
}

static void badValues() {
  struct Case {
    const char *from, *to, *message;
  };
  const Case cases[] = {
      {"attn-kernel v1", "attn-kernel v2", "not attn kernel metadata"},
      {"phases 3", "phases 0", "phases must be an integer in [1, 64]"},
      {"phases 3", "phases 3x", "phases must be an integer in [1, 64], got '3x'"},
      {"phases 3", "phases 99999999999999999999999", "phases must be an integer"},
      {"phases 3", "phases 3 4", "phases takes one value"},
      {"threads 256", "threads 2000", "threads must be an integer in [1, 1024]"},
      {"smem 98304", "smem -5", "smem must be an integer in [0, 2147483647]"},
      {"target sm_90a", "target sm_70", "target must be sm_80 or sm_90a"},
      {"launch k__phase1 2048 16 256 98304",
       "launch k__phase1 2048 0 256 98304", "per-seg must be an integer"},
      {"launch k__phase1 2048 16 256 98304",
       "launch k__phase1 2048 16 256", "missing smem"},
      {"launch k__phase1 2048 16 256 98304",
       "launch k__phase1 2048 16 256 98304 if 0", "the rate must be an integer"},
      {"launch k__phase1 2048 16 256 98304",
       "launch k__phase1 2048 16 256 98304 when 2", "unknown launch condition 'when'"},
      {"launch k__phase1 2048 16 256 98304",
       "launch k__phase1 2048 16 256 98304 keys 10 5", "empty range 10 .. 5"},
      {"launch k__phase1 2048 16 256 98304",
       "launch k__phase1 2048 16 256 98304 keys 1", "missing the upper bound"},
      {"launch k__phase1 2048 16 256 98304",
       "launch k__phase1 2048 16 256 98304 if 2 unless 3", "given twice"},
      {"launch k__phase1 2048 16 256 98304",
       "launch k__phase1 2048 16 256 98304 split 256 4 0", "need a rows bound"},
      {"launch k__phase1 2048 16 256 98304",
       "launch k__phase1 2048 16 256 98304 rows 0 17 split 0 4 0",
       "the split's keys must be"},
      {"launch k__phase1 2048 16 256 98304",
       "launch k__phase1 2048 16 256 98304 merge", "need a rows bound"},
      {"launch k__phase1 2048 16 256 98304", "launch k__phase1",
       "a launch needs ENTRY SEG PERSEG"},
      {"launch k__phase1 2048 16 256 98304",
       "launch k__phase1 2048 16 256 98304 persistent 0",
       "the persistent CTAs per SM must be an integer in [1, 64]"},
      {"launch k__phase1 2048 16 256 98304",
       "launch k__phase1 2048 16 256 98304 if 2 persistent 1",
       "a persistent launch takes whole sequences"},
      {"tensormap q 64 128\n", "tensormap o 64 128\n", "tensor maps are of q, k or v"},
      {"tensormap q 64 128\n", "tensormap q 64 512\n", "box rows must be an integer in [1, 256]"},
      {"tensormap q 64 128\n", "tensormap q 64\n", "a tensormap is ROLE COLS ROWS"},
      {"arg lse f32 3 -1 -1 -1", "arg lse f64 3 -1 -1 -1", "dtype must be f32, f16 or bf16"},
      {"arg lse f32 3 -1 -1 -1", "arg lse f32 3 -1 -1", "rank 3 needs 3 dims, got 2"},
      {"arg lse f32 3 -1 -1 -1", "arg lse f32 5 -1 -1 -1 -1 -1", "rank must be an integer in [1, 4]"},
      {"arg lse f32 3 -1 -1 -1", "arg lse f32 3 -1 0 -1", "dims are -1 (dynamic) or positive"},
      {"arg lse f32 3 -1 -1 -1", "arg bias f32 3 -1 -1 -1", "unknown argument role 'bias'"},
      // A paged cache's block table and lengths are i32, and only they.
      {"arg lse f32 3 -1 -1 -1", "arg block_table f32 2 -1 -1",
       "dtype of 'block_table' must be i32, got 'f32'"},
      {"arg lse f32 3 -1 -1 -1", "arg lse i32 3 -1 -1 -1",
       "dtype must be f32, f16 or bf16, got 'i32'"},
      {"op attention", "op attention\nop attention", "'op' given twice"},
      {"stages 2", "stages 2\nsurprise 1", "unknown field 'surprise'"},
      {"stages 2", "stages 2\n", "empty line"},
      {"launch k__phase2_rows 4096 16 128 40960 unless 2\n", "", "'phases 3' but 2 launch(es)"},
  };
  int n = 0;
  for (const Case &c : cases) {
    std::string t = kGPU;
    size_t at = t.find(c.from);
    if (at == std::string::npos) {
      expect(false, std::string("test setup: '") + c.from + "' not in the text");
      continue;
    }
    t.replace(at, std::string(c.from).size(), c.to);
    KernelMeta m;
    std::string err;
    bool ok = parse(t, m, err);
    expect(!ok && err.find(c.message) != std::string::npos,
           std::string("'") + c.to + "': expected '" + c.message + "', got '" +
               (ok ? "success" : err) + "'");
    ++n;
  }
  // A CPU kernel's launch lines, when it has them, are one per phase (the
  // condition under which each runs); no tensor maps.
  KernelMeta m;
  std::string err;
  expect(!parse(std::string(kCPU) + "launch x 0 1\nlaunch y 0 1\n", m, err) &&
             err.find("'phases 1' but 2 launch line(s)") != std::string::npos,
         "two launches for one CPU phase");
  expect(parse(std::string(kCPU) + "launch x__run0 0 1 keys 64 0\n", m, err) &&
             m.launches.size() == 1 && m.launches[0].keysLo == 64 &&
             launchApplies(m.launches[0], 100, 100, 0, 0) &&
             !launchApplies(m.launches[0], 40, 40, 0, 0),
         "a CPU phase for Nk >= 64: " + err);
  expect(!parse(std::string(kCPU) + "tensormap q 64 64\n", m, err) &&
             err.find("need a GPU 'target'") != std::string::npos,
         "a tensor map without a target");
  expect(!parse("", m, err) && !err.empty(), "empty text");
  expect(!parse(std::string("attn-kernel v1\n\0op x\n", 21), m, err), "NUL");
  std::printf("bad values: %d refused with their message\n", n + 4);
}

static void launchRule() {
  Launch always, ifTwo, unlessTwo, keys, ctas;
  ifTwo.cond = 2;
  unlessTwo.cond = -2;
  keys.keysLo = 2048;
  keys.keysHi = 3968;
  ctas.ctasLo = 128;
  ctas.ctasHi = 256;
  expect(launchApplies(always, 7, 7, 1, 0), "no condition");
  expect(launchApplies(ifTwo, 8, 1, 1, 0) && !launchApplies(ifTwo, 7, 1, 1, 0), "if 2");
  expect(!launchApplies(unlessTwo, 8, 1, 1, 0) && launchApplies(unlessTwo, 7, 1, 1, 0),
         "unless 2");
  expect(!launchApplies(keys, 1, 2047, 1, 0) && launchApplies(keys, 1, 2048, 1, 0) &&
             launchApplies(keys, 1, 3967, 1, 0) && !launchApplies(keys, 1, 3968, 1, 0),
         "keys 2048 3968");
  expect(!launchApplies(ctas, 1, 1, 127, 0) && launchApplies(ctas, 1, 1, 128, 0) &&
             !launchApplies(ctas, 1, 1, 256, 0),
         "ctas 128 256");
  Launch rows, split;
  rows.rowsHi = 17;
  expect(launchApplies(rows, 1, 1, 1, 16) && !launchApplies(rows, 1, 1, 1, 17),
         "rows 0 17");
  split.splitKeys = 256;
  split.splitCtas = 4;
  // 132 SMs x 4 over 32 pairs: 17 splits, unless the keys run out first.
  expect(splitCount(split, 32768, 4, 32, 132) == 17 &&
             splitCount(split, 1024, 4, 32, 132) == 4 &&
             splitCount(split, 100, 4, 32, 132) == 1 &&
             splitCount(split, 1 << 30, 4, 1, 132) == kMaxSplits &&
             splitCount(split, 32768, 4, 1024, 132) == 1,
         "split counts");
  split.splitSpan = 1024; // a window: 1024 + 4 keys at most
  expect(splitCount(split, 1 << 20, 4, 1, 132) == 5, "split under a window");
  expect(!attn_split_declines(1, 32, 132) && attn_split_declines(1, 66, 132) &&
             !attn_split_declines(4, 1024, 132),
         "split-KV gives way to whole rows");
  // A persistent grid: one CTA per SM, no more CTAs than items.
  expect(attn_persistent_ctas(2048, 1, 132) == 132 &&
             attn_persistent_ctas(2048, 2, 132) == 264 &&
             attn_persistent_ctas(100, 1, 132) == 100 &&
             attn_persistent_ctas(0, 1, 132) == 1,
         "persistent grids");
  std::printf("launch rule: 6 conditions, split counts, persistent grids\n");
}

int main() {
  roundTrips();
  missingLines();
  truncations();
  badValues();
  launchRule();
  std::printf("kernel metadata: %d failures\n", failures);
  return failures ? 1 : 0;
}
