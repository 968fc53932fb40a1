//===- CPUCodegen.h - building blocks of the CPU kernels ---------*- C++ -*-===//
// The CPU code generator's shared pieces: FlashAttention-style tiles with the
// online softmax in transposed form (one vector lane per query),
// register-blocked broadcast-FMA micro-kernels (TileCodegen: CPUTiles.cpp,
// landmark scores and top-k in CPULandmark.cpp), and Lightning-Attention-2
// blocks (LightningCodegen: CPULightning.cpp). attn-lower-to-cpu
// (LowerToCPU.cpp) builds the kernel ABI of phases from them.
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_CPUCODEGEN_H
#define ATTN_PASSES_CPUCODEGEN_H

#include "dialect/AttnDialect.h"
#include "passes/Emitter.h"
#include "passes/Passes.h"

#include "mlir/Dialect/AMX/AMXDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>

namespace mlir::attn::cpucg {

/// Rows of a 4-D [B, H, N, X] operand seen by one work item: logical row
/// of local row t is base + stride * t (stride > 1 for dilated segments).
/// A paged K/V cache ([P, S, Hk, X], `table` set) keeps logical row r in
/// row r mod S of page table[batch, r / S] (clamped to [0, lastPage]; S
/// divides by multiplication, rows below 2^32).
struct RowView {
  Value mem, batch, head, base, stride;
  Value table, lastPage;
  Divisor pageSize;
  /// GQA-packed decode rows (set on Q, O and LSE): local row t is query
  /// t mod packNq of head `head + t / packNq`.
  Value packNq;
  Value row(Emitter &e, Value t) const {
    if (packNq)
      t = e.rem(t, packNq);
    return e.add(base, e.mul(stride, t));
  }
  Value headOf(Emitter &e, Value t) const {
    return packNq ? e.add(head, e.div(t, packNq)) : head;
  }
  /// The indices of element (t, col) of a 4-D operand, or of element t of
  /// 3-D LSE rows when col is null.
  SmallVector<Value, 4> at(Emitter &e, Value t, Value col) const {
    Value r = row(e, t);
    if (!table) {
      SmallVector<Value, 4> idx = {batch, headOf(e, t), r};
      if (col)
        idx.push_back(col);
      return idx;
    }
    Value slot = e.divBy(pageSize, r);
    Value page = arith::IndexCastOp::create(e.b, e.loc, e.b.getIndexType(),
                                            e.load(table, {batch, slot}));
    page = e.min(e.max(page, e.idx(0)), lastPage);
    return {page, e.remBy(pageSize, r, slot), head, col};
  }
  Value load(Emitter &e, Value t, Value col) const {
    return e.load(mem, at(e, t, col));
  }
  void store(Emitter &e, Value v, Value t, Value col) const {
    e.store(v, mem, at(e, t, col));
  }
};

/// Per-thread scratch of the tile code, allocated once per run function.
struct Scratch {
  Value qT;    // [D][BM] f32: queries of the tile, transposed and scaled
  Value qP;    // [D/2][BM] i32: bf16 pairs of the queries (bf16 dot only);
               // AMX: [D/2][2 BM] bf16, Q^T in the VNNI layout
  Value pP;    // [BN/2][BM] i32: bf16 pairs of the probabilities (idem);
               // AMX: [BM][BN] bf16, P row-major
  Value pW;    // AMX: [BN/2][BM] i32, the same pairs as the softmax writes
               // them (keys 2j, 2j + 1 of a query in one word)
  Value dS;    // decode rows: [4 w] f32, one row's scores of a key block
  Value dQ, dO; // decode rows: [rows][D] scaled queries, [rows][Dv] O
  Value kP, vP; // AMX: [BN][D] bf16 key rows; [BN/2][2 Dv] bf16, V in the
                // VNNI layout (pairs of keys interleaved)
  Value sT;    // [BN][BM] f32: scores, then probabilities, transposed
  Value oT;    // [Dv][BM] f32: unnormalised output accumulator, transposed
               // (AMX: [BM][Dv], not transposed)
  Value m, l;  // [BM] f32: running row max and row sum
  Value alpha; // [BM] f32: rescale factor of the current key tile
  Value lo, hi; // [BM] i32: first and last allowed key of each query row
  // Landmark top-k only: the k best landmark scores per query (sorted,
  // [k][BM]), the k-th of them, how many blocks scoring exactly that may
  // still be taken, and how many were.
  Value best, threshold, tiesAllowed, tiesTaken;
  Value keep; // [BM] i32: the current earlier block is retrieved
};

/// How a tile's result reaches the output.
enum class Epilogue { Store, Merge };

class TileCodegen {
public:
  TileCodegen(OpBuilder &b, Location loc, const CPUOptions &opt, int64_t d,
              int64_t dv, Type outType, double scale)
      : e{b, loc}, opt(opt), d(d), dv(dv), outType(outType), scale(scale) {
    f32 = b.getF32Type();
    vec = VectorType::get({opt.vectorWidth}, f32);
    ivec = VectorType::get({opt.vectorWidth}, b.getI32Type());
    qBlock = 2 * opt.vectorWidth;
  }

  /// bf16 inputs on an AVX512-BF16 target (16 lanes): Q K^T by vdpbf16ps
  /// on bf16 pairs (x86vector.avx512.dot), f32 accumulation, the score
  /// scale applied to the sums.
  /// P V too: P rounded to bf16 pairs of consecutive keys, V's pairs
  /// broadcast (a key tile of an even number of keys).
  void setBF16Dot(bool on) {
    bf16Dot = on && opt.vectorWidth == 16 && d % 2 == 0 &&
              opt.blockN % 2 == 0;
  }

  /// bf16 inputs on an AMX target: Q K^T and P V as tile products
  /// (amx.tile_mulf, tdpbf16ps) into 16 x 16 f32 tiles; the softmax stays
  /// lane-wise on the f32 scores, P is rounded to bf16 (configure checked
  /// the shapes: amxFits).
  void setAMX(bool on) { amx = on; }

  /// A CPU with AVX512-BF16: P's roundings to bf16 (the AMX and bf16-pair
  /// paths) by vcvtneps2bf16, one instruction a vector, instead of the
  /// integer code arith-expand writes for any CPU (nine).
  void setNativeBF16(bool on) { nativeBF16 = on; }

  /// Query tiles of at most `rows` rows run row by row with the keys across
  /// the lanes (CPUDecode.cpp); 0: never.
  void setDecodeRows(int64_t rows) { decodeRows = rows; }

  /// Landmark attention: key tiles are the landmark blocks of this size.
  void setLandmarkBlock(int64_t block, int64_t topk) {
    landmarkBlock = block;
    landmarkTopk = topk;
  }

  Scratch allocScratch() {
    auto alloc = [&](ArrayRef<int64_t> shape, Type t) -> Value {
      auto type = MemRefType::get(shape, t);
      return memref::AllocaOp::create(e.b, e.loc, type, ValueRange{},
                                      e.b.getI64IntegerAttr(64));
    };
    Scratch s;
    if (amx) {
      Type bf16 = e.b.getBF16Type();
      s.qP = alloc({d / 2, 2 * opt.blockM}, bf16);
      s.kP = alloc({opt.blockN, d}, bf16);
      s.pP = alloc({opt.blockM, opt.blockN}, bf16);
      s.vP = alloc({opt.blockN / 2, 2 * dv}, bf16);
      s.pW = alloc({opt.blockN / 2, opt.blockM}, e.b.getI32Type());
      s.oT = alloc({opt.blockM, dv}, f32);
    } else {
      s.qT = alloc({d, opt.blockM}, f32);
      s.oT = alloc({dv, opt.blockM}, f32);
    }
    if (bf16Dot) {
      s.qP = alloc({d / 2, opt.blockM}, e.b.getI32Type());
      s.pP = alloc({opt.blockN / 2, opt.blockM}, e.b.getI32Type());
    }
    s.sT = alloc({opt.blockN, opt.blockM}, f32);
    if (decodeRows) {
      s.dS = alloc({4 * opt.vectorWidth}, f32);
      s.dQ = alloc({decodeRows, d}, f32);
      s.dO = alloc({decodeRows, dv}, f32);
    }
    s.m = alloc({opt.blockM}, f32);
    s.l = alloc({opt.blockM}, f32);
    s.alpha = alloc({opt.blockM}, f32);
    s.lo = alloc({opt.blockM}, e.b.getI32Type());
    s.hi = alloc({opt.blockM}, e.b.getI32Type());
    if (landmarkTopk) {
      s.best = alloc({landmarkTopk, opt.blockM}, f32);
      s.threshold = alloc({opt.blockM}, f32);
      s.tiesAllowed = alloc({opt.blockM}, e.b.getI32Type());
      s.tiesTaken = alloc({opt.blockM}, e.b.getI32Type());
      s.keep = alloc({opt.blockM}, e.b.getI32Type());
    }
    return s;
  }

  /// One query tile `qt` of local length nq against nk local keys, with the
  /// interval pattern giving each local query position its key bounds.
  void emitTile(const Scratch &s, PatternAttrInterface pattern,
                const RowView &q, const RowView &k, const RowView &v,
                const RowView &o, std::optional<RowView> lse, Value qt,
                Value nq, Value nk, Epilogue epilogue);

private:
  Emitter e;
  const CPUOptions &opt;
  int64_t d, dv;
  Type outType, f32;
  double scale;
  VectorType vec, ivec;
  int64_t qBlock;
  int64_t landmarkBlock = 0, landmarkTopk = 0;
  bool bf16Dot = false;
  bool amx = false;
  bool nativeBF16 = false;
  int64_t decodeRows = 0;

  /// An f32 vector rounded to bf16 (to nearest even), as setNativeBF16 says.
  Value toBF16(Value x);
  /// f32 vectors of keys 2j (`even`) and 2j + 1 (`odd`), one lane per
  /// query, rounded to bf16 and paired into one i32 word per lane (the
  /// even key in the low half).
  Value bf16Pairs(Value even, Value odd);

  /// The bf16 pair (col, col + 1) of row t as one i32 (col in the low half).
  Value loadPair(const RowView &x, Value t, Value col);
  void emitScoresBF16(const Scratch &s, const RowView &k, Value n0, Value nk);
  /// P as bf16 pairs of consecutive keys (s.pP), for the P V dot products.
  void emitPackProbabilities(const Scratch &s);
  /// `lanes` (2, 16 or 32) elements of x from (t, col) as bf16, f16
  /// inputs rounded (CPUAmx.cpp).
  Value loadBF16(const RowView &x, Value t, Value col, int64_t lanes);
  /// The AMX forms of Q K^T and P V (CPUAmx.cpp).
  void emitScoresAMX(const Scratch &s, const RowView &k, Value n0, Value nk);
  void emitValuesAMX(const Scratch &s, const RowView &v, Value n0, Value nk);
  void emitQueriesAMX(const Scratch &s, const RowView &q, Value row, Value i);
  /// The `valid` rows of the tile from m0, one at a time, keys across the
  /// lanes; leaves m, l and O^T as the key-tile loop would (CPUDecode.cpp).
  void emitDecodeRows(const Scratch &s, const RowView &q, const RowView &k,
                      const RowView &v, Value m0, Value valid);
  /// The bf16 pair (v(key, col), v(key + 1, col)) as one i32.
  Value valuePair(const RowView &v, Value key, Value col);

  Value negInf() { return e.f32(-std::numeric_limits<double>::infinity()); }
  /// 2^x for x <= 127, by a polynomial of `degree` 3 or 5 (CPUTiles.cpp).
  Value exp2(Value x, int degree = 5);
  void emitScores(const Scratch &s, const RowView &k, Value n0, Value nk);
  void emitMask(const Scratch &s, Value n0);
  void emitLandmarkScores(const Scratch &s, Value n0);
  Value landmarkScore(const Scratch &s, const RowView &k, Value key, Value i);
  void emitTopkSelection(const Scratch &s, const RowView &k, Value last);
  Value emitTopkKeep(const Scratch &s, const RowView &k, Value n0);
  void emitSoftmax(const Scratch &s);
  void emitValues(const Scratch &s, const RowView &v, Value n0, Value nk);
  /// nValid: keys of the tile that exist (the rest have probability 0).
  void emitValueBlock(const Scratch &s, const RowView &v, Value n0,
                      Value nValid, Value col0, int64_t rows);
  void emitEpilogue(const Scratch &s, const RowView &o,
                    std::optional<RowView> lse, Value m0, Value valid,
                    Epilogue epilogue);
};

/// One (batch, head) of attn.lightning: blocks of `bl` rows in order; the
/// intra-block product with the decay mask, the inter-block product with the
/// f32 state KV [D][Dv], then the state update. Decay powers come from a
/// table of lambda^x for 0 <= x <= bl, so lambda^-t never appears.
class LightningCodegen {
public:
  LightningCodegen(Emitter &e, int64_t w, int64_t bl, int64_t d, int64_t dv,
                   Type outType, double scale)
      : e(e), w(w), bl(bl), d(d), dv(dv), dvp((dv + w - 1) / w * w),
        outType(outType), scale(scale) {
    vec = VectorType::get({w}, e.b.getF32Type());
  }

  struct Scratch {
    Value kv, s, pw;
  };
  /// The state's columns are padded to whole vectors (zeros past Dv), so
  /// only the operands' last vector of a row needs a mask.
  Scratch alloc() {
    auto f32 = e.b.getF32Type();
    auto mk = [&](ArrayRef<int64_t> shape) -> Value {
      return memref::AllocaOp::create(e.b, e.loc, MemRefType::get(shape, f32),
                                      ValueRange{}, e.b.getI64IntegerAttr(64));
    };
    return {mk({d, dvp}), mk({bl, bl}), mk({bl + 1})};
  }

  void emitItem(const Scratch &sc, const KernelArgs &a, Value item);

private:
  Emitter &e;
  int64_t w, bl, d, dv, dvp;
  Type outType;
  double scale;
  VectorType vec;

  /// Lanes [0, lanes) of a vector at mem[idx], widened to f32; lanes past
  /// `lanes` read as 0 and touch no memory.
  Value vload(Value mem, ValueRange idx, int64_t lanes) {
    auto t = cast<MemRefType>(mem.getType()).getElementType();
    auto vt = VectorType::get({w}, t);
    Value x;
    if (lanes >= w) {
      x = e.vload(vt, mem, idx);
    } else {
      Value zero = arith::ConstantOp::create(
          e.b, e.loc, vt, DenseElementsAttr::get(vt, e.b.getZeroAttr(t)));
      x = vector::MaskedLoadOp::create(e.b, e.loc, vt, mem, idx, mask(lanes),
                                       zero);
    }
    if (t.isF32())
      return x;
    return arith::ExtFOp::create(e.b, e.loc, vec, x);
  }
  /// Stores lanes [0, lanes) of x at mem[idx].
  void vstore(Value x, Value mem, ValueRange idx, int64_t lanes) {
    if (lanes >= w)
      return e.vstore(x, mem, idx);
    vector::MaskedStoreOp::create(e.b, e.loc, mem, idx, mask(lanes), x);
  }
  Value mask(int64_t lanes) {
    return vector::ConstantMaskOp::create(
        e.b, e.loc, VectorType::get({w}, e.b.getI1Type()),
        ArrayRef<int64_t>{lanes});
  }
  /// body(c, lanes) for the vectors of a row of n columns: a loop over the
  /// whole vectors, then the tail (lanes < w) once.
  void forColumns(int64_t n, function_ref<void(Value, int64_t)> body) {
    int64_t whole = n / w * w;
    if (whole > 0)
      e.forLoop(0, whole, w, [&](Value c) { body(c, w); });
    if (whole < n)
      body(e.idx(whole), n - whole);
  }
  Value mulf(Value x, Value y) {
    return arith::MulFOp::create(e.b, e.loc, x, y);
  }
  Value fma(Value a, Value x, Value acc) {
    return vector::FMAOp::create(e.b, e.loc, a, x, acc);
  }
  Value defaultSlope(Value head, Value numHeads);
};

} // namespace mlir::attn::cpucg

#endif // ATTN_PASSES_CPUCODEGEN_H
