//===- CPUAmx.cpp - Q K^T and P V on AMX tiles ----------------------------===//
// The bf16 products of a CPU attention tile on the AMX unit (cpu_schedule
// amx): amx.tile_mulf (tdpbf16ps) multiplies a 16 x 32 bf16 tile by a
// 16 x 32 bf16 tile in the VNNI layout (row r holds the pairs of rows 2r and
// 2r + 1 of the 32 x 16 operand) into a 16 x 16 f32 tile. LLVM configures
// the tiles from their static shapes (ldtilecfg at function entry). f16
// inputs are rounded to bf16 where they are packed (loadBF16).
//
//   S^T [keys x queries] = K [keys x D] * Q^T: A = the key rows (bf16 rows
//     of a whole key tile where they are; else copied to s.kP, rows past Nk
//     clamped), B = Q^T in the VNNI layout (s.qP, filled
//     once per query tile by emitQueriesAMX). The transposed scores are what
//     the lane-wise online softmax (one lane per query) reads; unscaled (the
//     softmax scales them in its exponent).
//   O [queries x Dv] += P [queries x keys] * V: A = P rounded to bf16 and
//     transposed back to rows (s.pP; the softmax writes pairs of keys as
//     words, s.pW, then 16 x 16 word transposes by shuffles),
//     B = V in the VNNI layout (s.vP: two key rows interleaved). The
//     accumulator lives in s.oT, row-major, rescaled by alpha per key tile.
//===----------------------------------------------------------------------===//
#include "passes/CPUCodegen.h"

using namespace mlir;
using namespace mlir::attn;

namespace mlir::attn::cpucg {

namespace {
constexpr int64_t kTileRows = 16; // rows of every tile
constexpr int64_t kTileK = 32;    // bf16 elements of a 64-byte tile row

/// Up to 2 x 2 output tiles at once: C[r][c] += sum_i A_r,i B_c,i over
/// i < count, A_r,i at a[aRows[r], 32 i] and B_c,i (VNNI) at
/// b[16 i, bCols[c]], all 16 x 32 bf16. With one C tile at a time every
/// product waits for the one before; four accumulators with two A and two
/// B tiles (all 8 tile registers) are independent. (No whole-kernel gain
/// measured on Sapphire Rapids: the tile's vector work bounds it,
/// docs/cpu-bf16.md.) `acc` holds the C tiles row-major (aRows.size() x
/// bCols.size()).
SmallVector<Value> tileProducts(Emitter &e, SmallVector<Value> acc, Value a,
                                ArrayRef<Value> aRows, Value b,
                                ArrayRef<Value> bCols, int64_t count) {
  auto type = amx::TileType::get({kTileRows, kTileK}, e.b.getBF16Type());
  size_t cols = bCols.size();
  for (int64_t i = 0; i < count; ++i) {
    SmallVector<Value> x, y;
    for (Value row : aRows)
      x.push_back(amx::TileLoadOp::create(e.b, e.loc, type, a,
                                          ValueRange{row, e.idx(i * kTileK)}));
    for (Value col : bCols)
      y.push_back(amx::TileLoadOp::create(
          e.b, e.loc, type, b, ValueRange{e.idx(i * kTileK / 2), col}));
    for (size_t r = 0; r < x.size(); ++r)
      for (size_t c = 0; c < cols; ++c)
        acc[r * cols + c] =
            amx::TileMulFOp::create(e.b, e.loc, acc[r * cols + c].getType(),
                                    x[r], y[c], acc[r * cols + c]);
  }
  return acc;
}

/// The tiles of one block: 1 or 2 (32 rows or columns when `extent`
/// allows), from `first`, `scale` elements per row or column.
SmallVector<Value> blockTiles(Emitter &e, Value first, int64_t extent,
                              int64_t scale = 1) {
  SmallVector<Value> at{e.mul(first, e.idx(scale))};
  if (extent % (2 * kTileRows) == 0)
    at.push_back(e.mul(e.add(first, e.idx(kTileRows)), e.idx(scale)));
  return at;
}

int64_t blockStep(int64_t extent) {
  return extent % (2 * kTileRows) == 0 ? 2 * kTileRows : kTileRows;
}

/// The transpose of 16 rows of 16 words: 64 two-source shuffles in four
/// stages (32-bit unpacks, 64-bit unpacks, then 128-bit lanes twice), each
/// one AVX-512 instruction (vunpck*, vshufi32x4) that leaves its sources
/// intact. (vector.transpose's 16 x 16 lowering took 3.5x the instructions,
/// most of them register copies for vpermt2ps.) Result c is column c.
SmallVector<Value> transpose16(Emitter &e, ArrayRef<Value> rows) {
  auto perLane = [](auto fn) {
    SmallVector<int64_t> mask;
    for (int64_t l = 0; l < 4; ++l)
      for (int64_t i : fn(4 * l))
        mask.push_back(i);
    return mask;
  };
  using Four = std::array<int64_t, 4>;
  SmallVector<int64_t> lo32 = perLane([](int64_t b) {
    return Four{b, 16 + b, b + 1, 17 + b};
  });
  SmallVector<int64_t> hi32 = perLane([](int64_t b) {
    return Four{b + 2, 18 + b, b + 3, 19 + b};
  });
  SmallVector<int64_t> lo64 = perLane([](int64_t b) {
    return Four{b, b + 1, 16 + b, 17 + b};
  });
  SmallVector<int64_t> hi64 = perLane([](int64_t b) {
    return Four{b + 2, b + 3, 18 + b, 19 + b};
  });
  // 128-bit lanes 0, 2 of a then b; 1, 3 of a then b.
  auto lanes = [](int64_t first) {
    SmallVector<int64_t> mask;
    for (int64_t src : {0, 16})
      for (int64_t lane : {first, first + 2})
        for (int64_t j = 0; j < 4; ++j)
          mask.push_back(src + 4 * lane + j);
    return mask;
  };
  SmallVector<int64_t> even = lanes(0), odd = lanes(1);
  auto shuffle = [&](Value a, Value b, ArrayRef<int64_t> mask) -> Value {
    return vector::ShuffleOp::create(e.b, e.loc, a, b, mask);
  };
  SmallVector<Value> t(16), u(16), v(16), w(16), out(16);
  for (int64_t k = 0; k < 8; ++k) {
    t[2 * k] = shuffle(rows[2 * k], rows[2 * k + 1], lo32);
    t[2 * k + 1] = shuffle(rows[2 * k], rows[2 * k + 1], hi32);
  }
  for (int64_t k = 0; k < 4; ++k) {
    u[4 * k] = shuffle(t[4 * k], t[4 * k + 2], lo64);
    u[4 * k + 1] = shuffle(t[4 * k], t[4 * k + 2], hi64);
    u[4 * k + 2] = shuffle(t[4 * k + 1], t[4 * k + 3], lo64);
    u[4 * k + 3] = shuffle(t[4 * k + 1], t[4 * k + 3], hi64);
  }
  for (int64_t k = 0; k < 8; ++k) {
    int64_t i = k / 4 * 8 + k % 4;
    v[2 * k] = shuffle(u[i], u[i + 4], even);
    v[2 * k + 1] = shuffle(u[i], u[i + 4], odd);
  }
  for (int64_t k = 0; k < 8; ++k) {
    w[2 * k] = shuffle(v[k], v[k + 8], even);
    w[2 * k + 1] = shuffle(v[k], v[k + 8], odd);
  }
  // Where the network leaves column c.
  for (int64_t c = 0; c < 16; ++c)
    out[c] = w[4 * (c % 4) + 2 * (c / 4 % 2) + c / 8];
  return out;
}
} // namespace

/// `lanes` elements of x from (t, col) as bf16: bf16 inputs as they are;
/// f16 ones widened to f32 and rounded to bf16 (vcvtph2ps, then
/// vcvtneps2bf16 on AVX512-BF16 targets), 16 lanes at a time.
Value TileCodegen::loadBF16(const RowView &x, Value t, Value col,
                            int64_t lanes) {
  Type elt = cast<MemRefType>(x.mem.getType()).getElementType();
  Value raw = vector::LoadOp::create(e.b, e.loc, VectorType::get({lanes}, elt),
                                     x.mem, x.at(e, t, col));
  if (elt.isBF16())
    return raw;
  SmallVector<Value> parts;
  for (int64_t o = 0; o < lanes; o += kTileRows) {
    int64_t n = std::min(kTileRows, lanes - o);
    Value part = n == lanes ? raw
                            : vector::ExtractStridedSliceOp::create(
                                  e.b, e.loc, raw, ArrayRef<int64_t>{o},
                                  ArrayRef<int64_t>{n}, ArrayRef<int64_t>{1});
    parts.push_back(toBF16(arith::ExtFOp::create(
        e.b, e.loc, VectorType::get({n}, e.b.getF32Type()), part)));
  }
  if (parts.size() == 1)
    return parts[0];
  assert(parts.size() == 2 && "loadBF16: at most 32 lanes");
  SmallVector<int64_t> all;
  for (int64_t i = 0; i < lanes; ++i)
    all.push_back(i);
  return vector::ShuffleOp::create(e.b, e.loc, parts[0], parts[1], all);
}

/// Query row `row` of the tile, in lane i: its bf16 pairs into Q^T's VNNI
/// layout, s.qP[c / 2][2 i + c % 2] = Q[row][c], unscaled (the scale
/// multiplies the f32 scores).
void TileCodegen::emitQueriesAMX(const Scratch &s, const RowView &q, Value row,
                                 Value i) {
  Value col = e.mul(i, e.idx(2));
  e.forLoop(0, d / 2, 1, [&](Value c2) {
    Value pair = loadBF16(q, row, e.mul(c2, e.idx(2)), 2);
    vector::StoreOp::create(e.b, e.loc, pair, s.qP, ValueRange{c2, col});
  });
}

void TileCodegen::emitScoresAMX(const Scratch &s, const RowView &k, Value n0,
                                Value nk) {
  auto cType = amx::TileType::get({kTileRows, kTileRows}, e.b.getF32Type());
  // The key rows, clamped to the last key (their scores are masked), copied
  // to s.kP.
  Value lastKey = e.sub(nk, e.idx(1));
  auto copyKeys = [&] {
    e.forLoop(0, opt.blockN, 1, [&](Value n) {
      Value key = e.min(e.add(n0, n), lastKey);
      for (int64_t c = 0; c < d; c += kTileK) {
        Value x = loadBF16(k, key, e.idx(c), kTileK);
        vector::StoreOp::create(e.b, e.loc, x, s.kP, ValueRange{n, e.idx(c)});
      }
    });
  };
  // bf16 keys in one run of rows (not paged) need no copy where the tile
  // is whole: the tile loads read them where they are, a row stride apart
  // (the view's stride; a dilated segment's rows are `stride` rows apart).
  Value keys = s.kP;
  auto kType = cast<MemRefType>(k.mem.getType());
  if (kType.getElementType().isBF16() && !k.table && kType.getRank() == 4) {
    auto viewType = MemRefType::get(
        {opt.blockN, d}, kType.getElementType(),
        StridedLayoutAttr::get(e.b.getContext(), ShapedType::kDynamic,
                               {ShapedType::kDynamic, 1}));
    Value whole = e.cmp(arith::CmpIPredicate::sle,
                        e.add(n0, e.idx(opt.blockN)), nk);
    auto choice = scf::IfOp::create(e.b, e.loc, TypeRange{viewType}, whole,
                                    /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard g(e.b);
      e.b.setInsertionPointToStart(&choice.getThenRegion().front());
      SmallVector<OpFoldResult> offsets = {k.batch, k.head, k.row(e, n0),
                                           e.b.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes = {
          e.b.getIndexAttr(1), e.b.getIndexAttr(1),
          e.b.getIndexAttr(opt.blockN), e.b.getIndexAttr(d)};
      SmallVector<OpFoldResult> strides = {e.b.getIndexAttr(1),
                                           e.b.getIndexAttr(1), k.stride,
                                           e.b.getIndexAttr(1)};
      auto exact = memref::SubViewOp::inferRankReducedResultType(
          {opt.blockN, d}, kType, offsets, sizes, strides);
      Value view = memref::SubViewOp::create(e.b, e.loc, exact, k.mem,
                                             offsets, sizes, strides);
      scf::YieldOp::create(
          e.b, e.loc, ValueRange{memref::CastOp::create(e.b, e.loc, viewType, view)});
      e.b.setInsertionPointToStart(&choice.getElseRegion().front());
      copyKeys();
      scf::YieldOp::create(
          e.b, e.loc,
          ValueRange{memref::CastOp::create(e.b, e.loc, viewType, s.kP)});
    }
    keys = choice.getResult(0);
  } else {
    copyKeys();
  }
  e.forLoop(0, opt.blockN, blockStep(opt.blockN), [&](Value kb) {
    e.forLoop(0, opt.blockM, blockStep(opt.blockM), [&](Value qb) {
      SmallVector<Value> rows = blockTiles(e, kb, opt.blockN);
      SmallVector<Value> queries = blockTiles(e, qb, opt.blockM);
      // One tile_zero per accumulator (tiles have no register moves).
      SmallVector<Value> acc;
      for (size_t t = 0; t < rows.size() * queries.size(); ++t)
        acc.push_back(amx::TileZeroOp::create(e.b, e.loc, cType));
      SmallVector<Value> cols = blockTiles(e, qb, opt.blockM, 2);
      acc = tileProducts(e, acc, keys, rows, s.qP, cols, d / kTileK);
      for (size_t r = 0; r < rows.size(); ++r)
        for (size_t c = 0; c < queries.size(); ++c)
          amx::TileStoreOp::create(e.b, e.loc, s.sT,
                                   ValueRange{rows[r], queries[c]},
                                   acc[r * queries.size() + c]);
    });
  });
  // The scores stay unscaled: emitSoftmax applies the scale (log2 units)
  // in its exponent.
}

void TileCodegen::emitValuesAMX(const Scratch &s, const RowView &v, Value n0,
                                Value nk) {
  Type bf16 = e.b.getBF16Type(), f32t = e.b.getF32Type();
  auto cType = amx::TileType::get({kTileRows, kTileRows}, f32t);

  // P rows: s.pP[i][n] = bf16(P[i][n]). The softmax left the bf16 values
  // of keys 2j and 2j + 1 of a query paired in one word (s.pW, key 2j in
  // the low half, as the tile reads them), so 32 keys x 16 queries are one
  // 16 x 16 transpose of words: half the elements a transpose of the f32
  // probabilities moves.
  auto row32 = VectorType::get({kTileK}, bf16);
  auto words = VectorType::get({kTileRows}, e.b.getI32Type());
  e.forLoop(0, opt.blockN, kTileK, [&](Value nb) {
    Value n2 = e.div(nb, e.idx(2));
    e.forLoop(0, opt.blockM, kTileRows, [&](Value ib) {
      SmallVector<Value> rows;
      for (int64_t r = 0; r < kTileRows; ++r)
        rows.push_back(e.vload(words, s.pW, {e.add(n2, e.idx(r)), ib}));
      SmallVector<Value> cols = transpose16(e, rows);
      for (int64_t q = 0; q < kTileRows; ++q)
        vector::StoreOp::create(
            e.b, e.loc, vector::BitCastOp::create(e.b, e.loc, row32, cols[q]),
            s.pP, ValueRange{e.add(ib, e.idx(q)), nb});
    });
  });

  // V in the VNNI layout: s.vP[n / 2][2 c + n % 2] = V[n0 + n][c], rows
  // past Nk clamped (their probabilities are 0).
  SmallVector<int64_t> interleave;
  for (int64_t i = 0; i < kTileRows; ++i) {
    interleave.push_back(i);
    interleave.push_back(kTileRows + i);
  }
  Value lastKey = e.sub(nk, e.idx(1));
  e.forLoop(0, opt.blockN / 2, 1, [&](Value n2) {
    Value n = e.add(n0, e.mul(n2, e.idx(2)));
    Value r0 = e.min(n, lastKey);
    Value r1 = e.min(e.add(n, e.idx(1)), lastKey);
    for (int64_t c = 0; c < dv; c += kTileRows) {
      Value a = loadBF16(v, r0, e.idx(c), kTileRows);
      Value b = loadBF16(v, r1, e.idx(c), kTileRows);
      Value ab = vector::ShuffleOp::create(e.b, e.loc, a, b, interleave);
      vector::StoreOp::create(e.b, e.loc, ab, s.vP,
                              ValueRange{n2, e.idx(2 * c)});
    }
  });

  // O = alpha * O, row by row.
  e.forLoop(0, opt.blockM, 1, [&](Value i) {
    Value alpha = e.splat(e.load(s.alpha, {i}), vec);
    for (int64_t c = 0; c < dv; c += opt.vectorWidth)
      e.vstore(arith::MulFOp::create(e.b, e.loc,
                                     e.vload(vec, s.oT, {i, e.idx(c)}), alpha),
               s.oT, {i, e.idx(c)});
  });

  // O += P V, 2 x 2 tiles at a time where the shapes allow.
  e.forLoop(0, opt.blockM, blockStep(opt.blockM), [&](Value ib) {
    e.forLoop(0, dv, blockStep(dv), [&](Value cb) {
      SmallVector<Value> rows = blockTiles(e, ib, opt.blockM);
      SmallVector<Value> cols = blockTiles(e, cb, dv);
      SmallVector<Value> acc;
      for (Value r : rows)
        for (Value c : cols)
          acc.push_back(amx::TileLoadOp::create(e.b, e.loc, cType, s.oT,
                                                ValueRange{r, c}));
      acc = tileProducts(e, acc, s.pP, rows, s.vP, blockTiles(e, cb, dv, 2),
                         opt.blockN / kTileK);
      for (size_t r = 0; r < rows.size(); ++r)
        for (size_t c = 0; c < cols.size(); ++c)
          amx::TileStoreOp::create(e.b, e.loc, s.oT,
                                   ValueRange{rows[r], cols[c]},
                                   acc[r * cols.size() + c]);
    });
  });
}

} // namespace mlir::attn::cpucg
