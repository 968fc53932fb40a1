//===- PatternInterfaceTest.cpp - pattern interface vs brute force --------===//
// Checks the analytic tile structure of every pattern attribute against a
// brute-force enumeration of m(p, j) written here, independently, from
// SPEC.md: no skipped tile holds an allowed pair, a full tile holds only
// pairs of multiplicity 1, no allowed key lies outside a query tile's key
// range, and the pairs in the visited tiles add up to all allowed pairs.
// Then the IR the tilers generate from the same interface (buildKeyTiles,
// buildTileIsFull, buildClampedRowBounds) is evaluated on constants by a
// small interpreter written here and compared with the analytic answers:
// the unit test checks the code that runs.
// Exits nonzero on the first kind of failure, after printing it.
//===----------------------------------------------------------------------===//
#include "dialect/AttnDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/MLIRContext.h"

#include "llvm/ADT/DenseMap.h"

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

using namespace mlir;
using namespace mlir::attn;

namespace {

int64_t fdiv(int64_t a, int64_t b) { return (a >= 0) ? a / b : -((-a + b - 1) / b); }

using RefFn = std::function<int64_t(int64_t p, int64_t j, int64_t h,
                                    int64_t numHeads, int64_t nk)>;

// ---- SPEC.md's m(p, j), written from the table, not from the interface ----

RefFn refFull() {
  return [](int64_t, int64_t, int64_t, int64_t, int64_t) { return 1; };
}
RefFn refCausal() {
  return [](int64_t p, int64_t j, int64_t, int64_t, int64_t) {
    return int64_t(j <= p);
  };
}
RefFn refWindow(int64_t w) {
  return [w](int64_t p, int64_t j, int64_t, int64_t, int64_t) {
    return int64_t(0 <= p - j && p - j <= w);
  };
}
RefFn refBlockCausal(int64_t b) {
  return [b](int64_t p, int64_t j, int64_t, int64_t, int64_t) {
    return int64_t(j <= p && fdiv(j, b) >= fdiv(p, b) - 1);
  };
}
RefFn refDilated(std::vector<int64_t> ws, std::vector<int64_t> rs, bool causal,
                 bool grouped) {
  return [=](int64_t p, int64_t j, int64_t h, int64_t numHeads, int64_t) {
    if (p < 0)
      return int64_t(0);
    int64_t m = 0;
    for (size_t k = 0; k < ws.size(); ++k) {
      int64_t w = ws[k], r = rs[k];
      int64_t o = grouped ? h / ((numHeads + r - 1) / r) : h % r;
      bool selP = (p % w) % r == o, selJ = (j % w) % r == o;
      m += selP && selJ && p / w == j / w && (!causal || j <= p);
    }
    return m;
  };
}
/// Landmark: 1 when query p reads key j (top-level or block-local softmax).
RefFn refLandmark(int64_t L) {
  return [L](int64_t p, int64_t j, int64_t, int64_t, int64_t) {
    if (p < 0)
      return int64_t(0);
    int64_t bp = p / L, bj = j / L;
    if (bj < bp)
      return int64_t(1);
    return int64_t(bj == bp && j <= p && j % L != L - 1);
  };
}

struct Stats {
  long tiles = 0, skip = 0, full = 0, partial = 0, pairs = 0, failures = 0;
};

void fail(Stats &s, const std::string &what) {
  if (s.failures++ < 10)
    std::printf("FAIL: %s\n", what.c_str());
}

void checkOne(PatternAttrInterface pattern, const RefFn &ref, int64_t nq,
              int64_t nk, int64_t bm, int64_t bn, int64_t numHeads,
              Stats &s) {
  std::string where;
  for (int64_t h = 0; h < numHeads; ++h) {
    int64_t total = 0, visited = 0;
    // Element predicate against the reference, and the total.
    for (int64_t i = 0; i < nq; ++i)
      for (int64_t j = 0; j < nk; ++j) {
        int64_t p = nk - nq + i;
        int64_t want = ref(p, j, h, numHeads, nk);
        int64_t got = pattern.multiplicity(p, j, h, numHeads, nk);
        total += want;
        if (want != got)
          fail(s, "multiplicity(p=" + std::to_string(p) + ", j=" +
                      std::to_string(j) + ", h=" + std::to_string(h) +
                      ") = " + std::to_string(got) + ", SPEC says " +
                      std::to_string(want));
      }
    for (int64_t m0 = 0; m0 < nq; m0 += bm) {
      int64_t m1 = std::min(nq, m0 + bm);
      int64_t p0 = nk - nq + m0, p1 = nk - nq + m1;
      KeyRange range = pattern.keyRange(p0, p1, h, numHeads, nk);
      for (int64_t n0 = 0; n0 < nk; n0 += bn) {
        int64_t n1 = std::min(nk, n0 + bn);
        int64_t count = 0;
        bool allOne = true;
        for (int64_t p = p0; p < p1; ++p)
          for (int64_t j = n0; j < n1; ++j) {
            int64_t m = ref(p, j, h, numHeads, nk);
            count += m;
            allOne &= m == 1;
          }
        where = " (Nq=" + std::to_string(nq) + " Nk=" + std::to_string(nk) +
                " tile p[" + std::to_string(p0) + "," + std::to_string(p1) +
                ") j[" + std::to_string(n0) + "," + std::to_string(n1) +
                ") head " + std::to_string(h) + ")";
        bool inRange = n1 > range.first && n0 < range.last;
        if (!inRange) {
          if (count > 0)
            fail(s, "allowed pairs outside keyRange" + where);
          continue;
        }
        TileKind kind =
            pattern.classifyTile(p0, p1, n0, n1, h, numHeads, nk);
        ++s.tiles;
        if (kind == TileKind::Skip) {
          ++s.skip;
          if (count > 0)
            fail(s, "skipped tile holds " + std::to_string(count) +
                        " allowed pairs" + where);
          continue;
        }
        if (kind == TileKind::Full) {
          ++s.full;
          if (!allOne)
            fail(s, "full tile holds a pair with m != 1" + where);
        } else {
          ++s.partial;
        }
        visited += count;
      }
    }
    if (visited != total)
      fail(s, "visited tiles hold " + std::to_string(visited) +
                  " allowed pairs, SPEC counts " + std::to_string(total) +
                  where);
    s.pairs += total;
  }
}

} // namespace

/// Evaluates the index arithmetic the pattern interface builds (constants,
/// add/sub/mul, floordiv, min/max, compares, and) on the ops of `block`.
static llvm::DenseMap<Value, int64_t> evaluate(Block &block) {
  llvm::DenseMap<Value, int64_t> v;
  for (Operation &op : block) {
    auto in = [&](unsigned i) { return v.lookup(op.getOperand(i)); };
    int64_t r = 0;
    if (auto c = dyn_cast<arith::ConstantOp>(op))
      r = cast<IntegerAttr>(c.getValue()).getInt();
    else if (isa<arith::AddIOp>(op))
      r = in(0) + in(1);
    else if (isa<arith::SubIOp>(op))
      r = in(0) - in(1);
    else if (isa<arith::MulIOp>(op))
      r = in(0) * in(1);
    else if (isa<arith::FloorDivSIOp>(op))
      r = fdiv(in(0), in(1));
    else if (isa<arith::MinSIOp>(op))
      r = std::min(in(0), in(1));
    else if (isa<arith::MaxSIOp>(op))
      r = std::max(in(0), in(1));
    else if (isa<arith::AndIOp>(op))
      r = in(0) & in(1);
    else if (auto cmp = dyn_cast<arith::CmpIOp>(op)) {
      int64_t x = in(0), y = in(1);
      switch (cmp.getPredicate()) {
      case arith::CmpIPredicate::sge: r = x >= y; break;
      case arith::CmpIPredicate::sle: r = x <= y; break;
      case arith::CmpIPredicate::sgt: r = x > y; break;
      case arith::CmpIPredicate::slt: r = x < y; break;
      case arith::CmpIPredicate::eq: r = x == y; break;
      default:
        std::printf("FAIL: interpreter: unexpected predicate\n");
        std::exit(1);
      }
    } else {
      std::printf("FAIL: interpreter: unexpected op %s\n",
                  op.getName().getStringRef().str().c_str());
      std::exit(1);
    }
    v[op.getResult(0)] = r;
  }
  return v;
}

/// The generated key tiles, tile masks and row bounds of query positions
/// [p0, p1) against the integer interface; the number of mismatches.
static long checkIR(MLIRContext &ctx, PatternAttrInterface attr, int64_t p0,
                    int64_t p1, int64_t nk, int64_t bn, long &checks) {
  Block block;
  OpBuilder b(&ctx);
  b.setInsertionPointToEnd(&block);
  Location loc = b.getUnknownLoc();
  auto cst = [&](int64_t x) -> Value {
    return arith::ConstantIndexOp::create(b, loc, x);
  };
  Value n = cst(nk);
  KeyTileBounds t = attr.buildKeyTiles(b, loc, cst(p0), cst(p1 - 1), n);
  std::vector<std::pair<int64_t, Value>> full;
  KeyRange range = attr.keyRange(p0, p1, 0, 1, nk);
  for (int64_t n0 = range.first; n0 < range.last; n0 += bn)
    full.push_back({n0, attr.buildTileIsFull(b, loc, t, cst(n0), bn)});
  std::vector<std::pair<Value, Value>> rows;
  for (int64_t p = p0; p < p1; ++p)
    rows.push_back(attr.buildClampedRowBounds(b, loc, cst(p), n));
  llvm::DenseMap<Value, int64_t> v = evaluate(block);
  long bad = 0;
  auto expect = [&](bool ok) { ++checks; bad += !ok; };
  expect(v.lookup(t.first) == range.first);
  expect(std::max(v.lookup(t.last), v.lookup(t.first)) == range.last);
  for (auto [n0, isFull] : full) {
    int64_t n1 = std::min(n0 + bn, nk);
    // A tile that runs past the keys is never full (it needs the mask).
    bool want = n0 + bn <= nk &&
                attr.classifyTile(p0, p1, n0, n1, 0, 1, nk) == TileKind::Full;
    expect(bool(v.lookup(isFull)) == want);
  }
  for (int64_t p = p0; p < p1; ++p) {
    int64_t lo, hi;
    attr.rowBounds(p, nk, lo, hi);
    auto [l, h] = rows[p - p0];
    expect(v.lookup(l) == std::max<int64_t>(lo, 0) &&
           v.lookup(h) == std::min(hi, nk - 1));
  }
  block.clear();
  return bad;
}

int main() {
  MLIRContext ctx;
  ctx.loadDialect<AttnDialect, arith::ArithDialect>();
  struct Case {
    std::string name;
    PatternAttrInterface attr;
    RefFn ref;
    bool squareOnly;
  };
  auto dil = [&](std::vector<int64_t> ws, std::vector<int64_t> rs, bool causal,
                 bool grouped) {
    return DilatedAttr::get(&ctx, ws, rs, causal,
                            grouped ? OffsetMode::grouped
                                    : OffsetMode::interleaved);
  };
  std::vector<Case> cases = {
      {"full", FullAttr::get(&ctx), refFull(), false},
      {"causal", CausalAttr::get(&ctx), refCausal(), false},
      {"sliding_window<1>", SlidingWindowAttr::get(&ctx, 1), refWindow(1), false},
      {"sliding_window<5>", SlidingWindowAttr::get(&ctx, 5), refWindow(5), false},
      {"sliding_window<37>", SlidingWindowAttr::get(&ctx, 37), refWindow(37), false},
      {"block_causal<1>", BlockCausalAttr::get(&ctx, 1), refBlockCausal(1), false},
      {"block_causal<4>", BlockCausalAttr::get(&ctx, 4), refBlockCausal(4), false},
      {"block_causal<33>", BlockCausalAttr::get(&ctx, 33), refBlockCausal(33), false},
      {"dilated[4,8,16]/[1,2,4]", dil({4, 8, 16}, {1, 2, 4}, true, false),
       refDilated({4, 8, 16}, {1, 2, 4}, true, false), true},
      {"dilated[6,12]/[2,3] grouped", dil({6, 12}, {2, 3}, true, true),
       refDilated({6, 12}, {2, 3}, true, true), true},
      {"dilated[8]/[1] non-causal", dil({8}, {1}, false, false),
       refDilated({8}, {1}, false, false), true},
      {"dilated[5,10,40]/[1,2,8] non-causal grouped",
       dil({5, 10, 40}, {1, 2, 8}, false, true),
       refDilated({5, 10, 40}, {1, 2, 8}, false, true), true},
      {"dilated[16,32]/[4,8] (unselected rows)", dil({16, 32}, {4, 8}, true, false),
       refDilated({16, 32}, {4, 8}, true, false), true},
      {"landmark<2>", LandmarkAttr::get(&ctx, 2, 0), refLandmark(2), false},
      {"landmark<5>", LandmarkAttr::get(&ctx, 5, 0), refLandmark(5), false},
      {"landmark<16, topk 2>", LandmarkAttr::get(&ctx, 16, 2), refLandmark(16), false},
  };
  std::vector<std::pair<int64_t, int64_t>> lengths = {
      {1, 1}, {7, 7}, {33, 33}, {64, 64}, {100, 100}, {1, 50}, {20, 77}, {77, 20}};
  std::vector<std::pair<int64_t, int64_t>> tiles = {
      {1, 1}, {4, 8}, {16, 16}, {32, 8}, {8, 32}, {64, 64}};
  long failures = 0;
  for (Case &c : cases) {
    Stats s;
    for (auto [nq, nk] : lengths) {
      if (c.squareOnly && nq != nk)
        continue;
      for (auto [bm, bn] : tiles)
        checkOne(c.attr, c.ref, nq, nk, bm, bn, c.squareOnly ? 6 : 1, s);
    }
    std::printf("%-44s tiles %6ld skip %6ld full %6ld partial %6ld pairs %8ld "
                "%s\n",
                c.name.c_str(), s.tiles, s.skip, s.full, s.partial, s.pairs,
                s.failures ? "FAILED" : "ok");
    failures += s.failures;
  }
  // The generated code of the interval patterns, on constants.
  long irChecks = 0, irFailures = 0;
  for (Case &c : cases) {
    int64_t lo0, hi0;
    if (!c.attr.rowBounds(0, 1, lo0, hi0))
      continue;
    for (auto [nq, nk] : lengths)
      for (auto [bm, bn] : tiles)
        for (int64_t m0 = 0; m0 < nq; m0 += bm) {
          int64_t p0 = nk - nq + m0, p1 = nk - nq + std::min(m0 + bm, nq);
          long bad = checkIR(ctx, c.attr, p0, p1, nk, bn, irChecks);
          if (bad)
            std::printf("FAIL: %s: generated key tiles differ from the "
                        "interface (Nq=%ld Nk=%ld p[%ld,%ld) bn %ld)\n",
                        c.name.c_str(), long(nq), long(nk), long(p0),
                        long(p1), long(bn));
          irFailures += bad;
        }
  }
  std::printf("generated code: %ld values checked, %ld failures\n", irChecks,
              irFailures);
  failures += irFailures;
  std::printf("%ld patterns, %ld failures\n", long(cases.size()), failures);
  return failures ? 1 : 0;
}
