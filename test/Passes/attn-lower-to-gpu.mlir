// attn-lower-to-gpu builds what a schedule says: each input under
// Inputs/scheduled/ is an attn kernel with its #attn.gpu_schedule (and
// tensor maps) given by hand, one per variant of the code generator; which
// schedule attn-configure-gpu chooses is attn-configure-gpu.mlir's test.
// RUN: attn-opt %S/Inputs/scheduled/sm80-causal64.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=CHECK
// RUN: attn-opt %S/Inputs/scheduled/sm80-causal64-8warps.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=CFG
// RUN: attn-opt %S/Inputs/scheduled/sm80-dilated.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=DIL
// RUN: attn-opt %S/Inputs/scheduled/sm90a-dilated.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=DIL90
// RUN: attn-opt %S/Inputs/scheduled/sm90a-dilated-cpasync.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=DILNS
// RUN: attn-opt %S/Inputs/scheduled/sm90a-causal64-wgmma.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=WGMMA
// RUN: attn-opt %S/Inputs/scheduled/sm90a-causal64-tma.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=TMA
// RUN: attn-opt %S/Inputs/scheduled/sm90a-causal64-tma-4warps.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=TMA4
// RUN: attn-opt %S/Inputs/scheduled/sm90a-causal64-async-qk.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=ASYNC
// RUN: attn-opt %S/Inputs/scheduled/sm80-lightning.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=LIGHT
// RUN: attn-opt %S/Inputs/scheduled/sm90a-landmark-topk.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=TOPK
// RUN: attn-opt %S/Inputs/scheduled/sm90a-causal128.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=WS
// RUN: attn-opt %S/Inputs/scheduled/sm90a-causal128-persistent.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=PERSIST
// RUN: attn-opt %S/Inputs/scheduled/sm90a-causal128-pingpong.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=PP
// RUN: attn-opt %S/Inputs/scheduled/sm90a-causal128-no-ws.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=NOWS
// RUN: attn-opt %S/Inputs/scheduled/sm90a-causal128-ws-overlap.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=OVERLAP
// RUN: attn-opt %S/Inputs/scheduled/sm90a-causal128-4stages.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=WS4
// RUN: attn-opt %S/Inputs/scheduled/sm90a-dilated128-ws.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=DIL128
// RUN: attn-opt %S/Inputs/scheduled/sm90a-dilated128.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=DIL128S
// RUN: attn-opt %S/Inputs/scheduled/sm90a-causal128-ws-only.mlir --attn-lower-to-gpu | FileCheck %s --check-prefix=WSONLY

// Warp specialisation (sm_90a, D = 128, the default): 384 threads. Thread 0
// of the producer warpgroup sets up full (1 arrival), Q and empty (256
// arrivals: every consumer thread) mbarriers; after the one CTA barrier the
// producer gives registers away and loads key tile t once its stage's empty
// barrier has completed use t / 2 - 1. The consumers take the registers,
// wait for Q, issue the first Q K^T (an empty wgmma group when there is no
// tile), then per tile: wait for S, softmax, P V (committed, not waited
// for) and the next Q K^T in flight together, wait_group 1 (P V done),
// release the stage. Key tiles of 128, loaded as two boxes of 64 rows per
// 64-column atom (the tensor maps are the short-row kernel's).
//
// That kernel is causal128__long: causal attention reads Nk / 2 keys per
// query tile on average, fewer than ws-min-keys (2048) below Nk = 3968,
// where two CTAs per SM of the plain 8-warp kernel (key tiles of 64,
// registers capped at 128) run instead. The runtime launches the one for
// Nk (metadata `keys LO HI`).
// WS-LABEL: gpu.func @causal128(
// WS-SAME: known_block_size = array<i32: 256, 1, 1>, nvvm.maxntid = array<i32: 256, 1, 1>, nvvm.minctasm = 2 : i32
// WS-NOT: nvvm.setmaxregister
// WS-LABEL: gpu.func @causal128__long(
// WS-SAME: known_block_size = array<i32: 384, 1, 1>
// WS-COUNT-3: nvvm.mbarrier.init %{{.*}}, %c1_i32
// WS-COUNT-2: nvvm.mbarrier.init %{{.*}}, %c256_i32
// WS: gpu.barrier
// WS: nvvm.setmaxregister  decrease 24
// WS: scf.for
// WS: nvvm.mbarrier.try_wait.parity
// WS: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %c65536_i32
// WS-COUNT-4: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %arg6,
// WS-COUNT-4: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %arg7,
// WS: } else {
// WS-NEXT: nvvm.setmaxregister  increase 240
// WS: nvvm.mbarrier.try_wait.parity
// WS: scf.if %{{.*}} -> (!llvm.struct<(f32
// WS: nvvm.wgmma.commit.group.sync.aligned
// WS: } else {
// WS-NEXT: nvvm.wgmma.commit.group.sync.aligned
// WS: scf.for
// WS: nvvm.wgmma.wait.group.sync.aligned 0
// WS: llvm.inline_asm has_side_effects {{.*}}wgmma.commit_group.sync.aligned;\0A}"
// WS: nvvm.mbarrier.try_wait.parity
// WS: nvvm.wgmma.mma_async
// WS: nvvm.wgmma.wait.group.sync.aligned 1
// WS: nvvm.mbarrier.arrive %{{.*}} : !llvm.ptr<3>
// WS-NOT: gpu.barrier
// WS: launch causal128 128 1 256 98328 keys 0 3968\0Alaunch causal128__long 128 1 384 163880 keys 3968 0\0A
// WS-SAME: tensormap k 64 64\0A

// ws-min-keys=0: one warp-specialized kernel whatever the rows, its maps'
// boxes its own key tiles.
// WSONLY-LABEL: gpu.func @causal128(
// WSONLY-SAME: known_block_size = array<i32: 384, 1, 1>
// WSONLY-NOT: gpu.func
// WSONLY: launch causal128 128 1 384 163880\0Atensormap q 64 128\0Atensormap k 64 128\0A

// Ping-pong: the second warpgroup starts the turn (named barrier 1); each
// waits for its turn before issuing and passes it on after.
// PP-LABEL: gpu.func @causal128(
// PP: nvvm.setmaxregister  increase 240
// PP: nvvm.barrier.arrive id = %c1_i32{{.*}} number_of_threads = %c256_i32
// PP: nvvm.barrier id = %c1_i32{{.*}} number_of_threads = %c256_i32
// PP: nvvm.barrier id = %c2_i32{{.*}} number_of_threads = %c256_i32
// PP: nvvm.barrier.arrive id = %c2_i32{{.*}} number_of_threads = %c256_i32
// PP: scf.for
// PP: nvvm.barrier id = %c1_i32{{.*}} number_of_threads = %c256_i32
// PP: nvvm.wgmma.wait.group.sync.aligned 1

// ws-overlap: the softmax of tile t + 1 under P V of tile t. The loop runs
// T - 1 times with unconditional wgmma: Q K^T of t + 1, P V of t (P packed,
// not waited for), wait_group 1, the softmax, then P V's wait as inline PTX
// that keeps P's and O's registers, the stage's release; the last P V is
// peeled.
// OVERLAP-LABEL: gpu.func @causal128(
// OVERLAP: scf.for
// OVERLAP: nvvm.mbarrier.try_wait.parity
// OVERLAP: nvvm.wgmma.mma_async
// OVERLAP: llvm.inline_asm has_side_effects {{.*}}wgmma.commit_group.sync.aligned;\0A}"
// OVERLAP: nvvm.wgmma.wait.group.sync.aligned 1
// OVERLAP: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"
// OVERLAP: llvm.inline_asm has_side_effects asm_dialect = att "wgmma.wait_group.sync.aligned 0;", "=r,{{.*}},=f,
// OVERLAP: nvvm.mbarrier.arrive
// OVERLAP: scf.yield
// OVERLAP: scf.if %{{.*}} -> (vector<2x2xf32>
// OVERLAP: llvm.inline_asm has_side_effects {{.*}}wgmma.commit_group.sync.aligned;\0A}"
// OVERLAP: "wgmma.wait_group.sync.aligned 0;"
// OVERLAP: nvvm.mbarrier.arrive

// Four stages of 128-key tiles do not fit in shared memory: 64-key tiles.
// WS4: launch causal128__long 128 1 384 163912 keys 3968 0\0A
// WS4-SAME: tensormap k 64 64\0A

// Dilated at D = 128 with ws-min-keys=0: the phases on the dense CTA are
// warp-specialized (rate 1, and rate 2 when 2 divides N); their merge waits on a named
// barrier of the consumer threads (the producer warpgroup has left). The
// `_rows` kernels keep 4 warps and CTA barriers.
// DIL128-LABEL: gpu.func @dilated128__phase1(
// DIL128: nvvm.setmaxregister  decrease 24
// DIL128: nvvm.setmaxregister  increase 240
// DIL128: nvvm.mbarrier.arrive %{{.*}} : !llvm.ptr<3>
// DIL128-NOT: gpu.barrier
// DIL128: nvvm.barrier id = %c3_i32 number_of_threads = %c256_i32
// DIL128-NOT: gpu.barrier
// DIL128-LABEL: gpu.func @dilated128__phase2(
// DIL128: nvvm.setmaxregister  decrease 24
// DIL128: nvvm.barrier id = %c3_i32 number_of_threads = %c256_i32
// DIL128-LABEL: gpu.func @dilated128__phase2_rows(
// DIL128-NOT: nvvm.setmaxregister
// DIL128: gpu.barrier
// DIL128: launch dilated128__phase1 2048 16 384 163880\0Alaunch dilated128__phase2 4096 16 384 163880 if 2\0Alaunch dilated128__phase2_rows 4096 32 128 87040 unless 2\0A

// By default these phases (2048 rows each, causal: ~1K keys per query tile)
// run two plain 8-warp CTAs per SM instead (ws-min-keys).
// DIL128S-LABEL: gpu.func @dilated128__phase1(
// DIL128S-SAME: nvvm.minctasm = 2 : i32
// DIL128S-NOT: nvvm.setmaxregister
// DIL128S: launch dilated128__phase1 2048 16 256 98328\0Alaunch dilated128__phase2 4096 16 256 98328 if 2\0A

// warp-specialize=0: two warpgroups, key tiles of 64, a CTA barrier per tile.
// NOWS-LABEL: gpu.func @causal128(
// NOWS-SAME: known_block_size = array<i32: 256, 1, 1>
// NOWS-NOT: nvvm.setmaxregister
// NOWS: launch causal128 128 1 256 98328\0A

// Lightning: the state KV [64][32] of this CTA's V columns is carried in
// registers across the blocks (4 m16n8 fragments per warp), a rounded copy
// in shared memory [64][40] is Q KV's B operand (transposed ldmatrix); K^T
// for the state update by transposed ldmatrix of K's rows; the final state
// goes to state_out. Grid (Dv / ev, H, B); the checks follow the 32-column
// slice.
// LIGHT: gpu.func @lightning_bf16_d64(
// LIGHT: gpu.func @lightning_bf16_d64__cols32(
// LIGHT: scf.for {{.*}} -> (vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>)
// LIGHT: nvgpu.device_async_wait %{{.*}} {numGroups = 1 : i32}
// LIGHT: nvgpu.ldmatrix {{.*}}transpose = true{{.*}} : memref<64x40xbf16, #gpu.address_space<workgroup>>
// LIGHT: nvgpu.ldmatrix {{.*}}transpose = true{{.*}} : memref<2x64x72xbf16, #gpu.address_space<workgroup>>
// LIGHT: gpu.barrier
// LIGHT: scf.yield
// LIGHT: vector.store {{.*}} : memref<?x?x64x64xf32>, vector<2xf32>
// LIGHT: gpu.func @lightning_bf16_d64__cols16(
// One kernel per slice of V's columns (64, 32, 16); the runtime launches the
// largest whose grid reaches 256 CTAs (64), 128 (32), else 16.
// LIGHT: op lightning\0Aphases 3\0Atarget sm_80\0Athreads 128\0Asmem 64512\0Atile_m 64\0Atile_n 64\0Astages 2\0Alaunch lightning_bf16_d64 0 1 128 64512 ctas 256 0\0Alaunch lightning_bf16_d64__cols32 0 2 128 52224 ctas 128 512\0Alaunch lightning_bf16_d64__cols16 0 4 128 46080 ctas 0 256\0A

// sm_90a: the kernel takes the CUtensorMaps of Q, K and V last; the leader
// thread sets up stages + 1 mbarriers, expects each tile's bytes and starts
// one 4-D TMA per 64-column atom (column, row, head, batch); every thread
// waits on the barrier's phase. wgmma reads the 128-byte-swizzled tiles
// (no proxy fence: TMA writes through the async proxy already). D = 64:
// key tiles of 128, registers capped for two CTAs per SM.
// TMA: gpu.func @causal({{.*}}, %[[MQ:.*]]: !llvm.ptr, %[[MK:.*]]: !llvm.ptr, %[[MV:.*]]: !llvm.ptr) kernel attributes {attn.tensormaps = 3 : i64, known_block_size = array<i32: 256, 1, 1>, nvvm.maxntid = array<i32: 256, 1, 1>, nvvm.minctasm = 2 : i32}
// TMA-COUNT-3: nvvm.mbarrier.init
// TMA: nvvm.fence.mbarrier.init
// TMA: gpu.barrier
// TMA: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %c16384_i32
// TMA: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[MQ]], %{{.*}}, box[%c0_i32, %{{.*}}, %{{.*}}, %{{.*}}] : !llvm.ptr<7>, !llvm.ptr
// TMA: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[MK]],
// TMA: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[MV]],
// TMA: nvvm.mbarrier.try_wait.parity
// TMA: scf.for
// TMA: nvvm.mbarrier.try_wait.parity
// TMA-NOT: nvvm.fence.proxy
// TMA: nvvm.wgmma.mma_async {{.*}}, <m = 64, n = 128, k = 16>
// P V: one inline-PTX block, fence, eight register-A wgmmas (k16 steps of the
// 128 keys) with V's MN-major descriptor (trans-b = 1), commit, wait.
// TMA: llvm.inline_asm has_side_effects {{.*}}wgmma.fence.sync.aligned;{{.*}}wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {{.*}}p, 1, 1, 1;{{.*}}wgmma.wait_group.sync.aligned 0;
// TMA: tensormap q 64 128\0Atensormap k 64 128\0Atensormap v 64 128\0A
// Four warps: the same loads; ldmatrix addresses the swizzled 1-D tiles.
// TMA4: nvvm.cp.async.bulk.tensor.shared.cluster.global
// TMA4: arith.xori
// TMA4: nvgpu.ldmatrix %{{.*}} : memref<4096xf16, #gpu.address_space<workgroup>> -> vector<4x2xf16>
// TMA4: scf.for
// TMA4: nvgpu.ldmatrix %{{.*}} : memref<2x4096xf16, #gpu.address_space<workgroup>> -> vector<4x2xf16>
// TMA4: nvgpu.ldmatrix {{.*}}transpose = true{{.*}} : memref<2x4096xf16, #gpu.address_space<workgroup>> -> vector<4x2xf16>

// sm_90a with two warpgroups: S by wgmma from descriptors of Q and K in
// the core-matrix layout (1-D tiles), the first step with scale-d = 0.
// WGMMA: known_block_size = array<i32: 256, 1, 1>
// WGMMA: nvgpu.device_async_copy {{.*}} to memref<8192xf16, #gpu.address_space<workgroup>>
// WGMMA: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// WGMMA: nvvm.wgmma.fence.aligned
// WGMMA: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>, D[<f32>, <zero>], A[<f16>, <one>, <row>], B[<f16>, <one>, <col>]
// WGMMA: nvvm.wgmma.mma_async {{.*}} D[<f32>, <one>]
// WGMMA: nvvm.wgmma.commit.group.sync.aligned
// WGMMA: nvvm.wgmma.wait.group.sync.aligned 0
// WGMMA: nvgpu.ldmatrix {{.*}}transpose = true

// Dilated: launch 0 clears O and LSE; one launch per (segment, rate) runs
// the dense tile code over strided rows and merges by log-sum-exp.
// DIL: gpu.func @dilated(
// DIL: memref.store %{{.*}}, %{{.*}} : memref<?x?x?x64xbf16
// DIL: memref.store %cst{{.*}} : memref<?x?x?xf32
// DIL: gpu.func @dilated__phase1(
// DIL: nvgpu.device_async_copy
// DIL: nvvm.mma.sync
// Every lane reads the old LSE before any lane writes it.
// DIL: memref.load %{{.*}} : memref<?x?x?xf32
// DIL: gpu.barrier
// DIL: vector.load {{.*}} vector<2xbf16>
// DIL: vector.fma
// DIL: vector.store {{.*}} vector<2xbf16>
// DIL: gpu.func @dilated__phase2(
// DIL: gpu.func @dilated__phase3(
// DIL: phases 4\0A{{.*}}launch dilated 64 1 128 46080\0Alaunch dilated__phase1 2048 32 128 46080\0Alaunch dilated__phase2 4096 32 128 46080\0Alaunch dilated__phase3 8192 32 128 46080\0A

// On sm_90a every phase takes the dense CTA (8 warps, TMA, wgmma) and its
// own launch size. The rate-1 phase reads contiguous rows (4-D boxes at
// rows segment start + m0); a phase of rate r > 1 reads rows r apart
// through 5-D maps (coordinates: row mod r, row / r) and runs when r
// divides N; its `_rows` kernel (4 warps, cp.async, mma.sync) runs for the
// other N. Every launch takes the nine tensor maps (Q, K, V of rates 1, 2
// and 4).
// DIL90: gpu.func @dilated(%{{.*}}, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr) kernel attributes {attn.tensormaps = 9
// DIL90: gpu.func @dilated__phase1({{.*}}) kernel attributes {attn.tensormaps = 9 : i64, known_block_size = array<i32: 256, 1, 1>
// DIL90: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %arg5, %{{.*}}, box[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] :
// DIL90: nvvm.wgmma.mma_async
// DIL90: gpu.func @dilated__phase2({{.*}}) kernel attributes {attn.tensormaps = 9 : i64, known_block_size = array<i32: 256, 1, 1>
// DIL90: nvvm.mbarrier.arrive.expect_tx
// DIL90: %[[OFF:.*]] = arith.remui %[[ROW:.*]], %c2{{(_[0-9]+)?}} : index
// DIL90-NEXT: %[[OFF32:.*]] = arith.index_cast %[[OFF]] : index to i32
// DIL90-NEXT: %c2
// DIL90-NEXT: %[[GRP:.*]] = arith.divui %[[ROW]], %c2{{(_[0-9]+)?}} : index
// DIL90-NEXT: %[[GRP32:.*]] = arith.index_cast %[[GRP]] : index to i32
// DIL90: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %arg8, %{{.*}}, box[%{{.*}}, %[[OFF32]], %[[GRP32]], %{{.*}}, %{{.*}}] :
// DIL90: nvvm.wgmma.mma_async
// DIL90: gpu.func @dilated__phase2_rows({{.*}}) kernel attributes {attn.tensormaps = 9 : i64, known_block_size = array<i32: 128, 1, 1>
// DIL90-NOT: nvvm.cp.async.bulk.tensor
// DIL90: nvvm.mma.sync
// DIL90: gpu.func @dilated__phase3(
// DIL90: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %arg11, %{{.*}}, box[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] :
// DIL90: gpu.func @dilated__phase3_rows(
// DIL90: launch dilated 64 1 128 46080\0Alaunch dilated__phase1 2048 16 256 81944\0Alaunch dilated__phase2 4096 16 256 81944 if 2\0Alaunch dilated__phase2_rows 4096 32 128 46080 unless 2\0Alaunch dilated__phase3 8192 16 256 81944 if 4\0Alaunch dilated__phase3_rows 8192 32 128 46080 unless 4\0Atensormap q 64 128\0Atensormap k 64 128\0Atensormap v 64 128\0Atensormap q 64 128 2\0Atensormap k 64 128 2\0Atensormap v 64 128 2\0Atensormap q 64 128 4\0Atensormap k 64 128 4\0Atensormap v 64 128 4\0A

// strided-tma=0: the phases of rate > 1 read their rows by cp.async only
// (4 warps, one launch each); the kernels take the rate-1 maps.
// DILNS: gpu.func @dilated__phase2({{.*}}) kernel attributes {attn.tensormaps = 3 : i64, known_block_size = array<i32: 128, 1, 1>
// DILNS-NOT: nvvm.cp.async.bulk.tensor
// DILNS: launch dilated 64 1 128 46080\0Alaunch dilated__phase1 2048 16 256 81944\0Alaunch dilated__phase2 4096 32 128 46080\0Alaunch dilated__phase3 8192 32 128 46080\0Atensormap q 64 128\0Atensormap k 64 128\0Atensormap v 64 128\0A

// The kernel moves into a gpu.module with its memref arguments; the host
// function is gone; the metadata names roles, threads and shared memory.
// CHECK: module attributes {gpu.container_module}
// CHECK-NOT: func.func
// CHECK: gpu.module @attn_kernels
// CHECK: memref.global "public" @__attn_smem : memref<0xi8, #gpu.address_space<workgroup>> {alignment = 1024 : i64}
// CHECK: gpu.func @causal(%{{.*}}: memref<?x?x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>, {{.*}}) kernel attributes {known_block_size = array<i32: 128, 1, 1>
// Q and the first K/V tile go to shared memory asynchronously, zero-filled
// past the sequence (a source element count).
// CHECK: nvgpu.device_async_copy %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}], %{{.*}}[%{{.*}}, %{{.*}}], 8, %{{.*}} {bypassL1}
// CHECK: nvgpu.device_async_create_group
// CHECK: nvgpu.device_async_wait %{{.*}} {numGroups = 0 : i32}
// Q fragments, loaded once.
// CHECK: nvgpu.ldmatrix %{{.*}} {numTiles = 4 : i32, transpose = false} : memref<64x72xf16, #gpu.address_space<workgroup>> -> vector<4x2xf16>
// The key-tile loop carries max, sum and 8 O fragments (Dv / 8).
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>)
// CHECK: nvgpu.device_async_wait %{{.*}} {numGroups = 1 : i32}
// CHECK: gpu.barrier
// CHECK: nvgpu.ldmatrix {{.*}}transpose = false{{.*}} : memref<2x64x72xf16, #gpu.address_space<workgroup>> -> vector<4x2xf16>
// CHECK: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
// Partial tiles only are masked.
// CHECK: scf.if
// CHECK: arith.select
// Row max and sum over the quad of lanes.
// CHECK: gpu.shuffle  xor
// CHECK: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"
// P V: V through transposed ldmatrix.
// CHECK: nvgpu.ldmatrix {{.*}}transpose = true{{.*}} : memref<2x64x72xf16, #gpu.address_space<workgroup>> -> vector<4x2xf16>
// CHECK: nvgpu.mma.sync
// CHECK: gpu.barrier
// CHECK: scf.yield
// Epilogue: O / l stored as f16 pairs, LSE by one lane of the quad.
// CHECK: llvm.call_intrinsic "llvm.nvvm.lg2.approx.f"
// CHECK: vector.store {{.*}} vector<2xf16>
// CHECK: memref.store {{.*}} memref<?x?x?xf32
// CHECK: gpu.return
// CHECK: llvm.mlir.global external constant @causal__attn_meta("attn-kernel v1\0Aop attention\0Apattern #attn.causal\0Aphases 1\0Atarget sm_80\0Athreads 128\0Asmem 46080\0Atile_m 64\0Atile_n 64\0Astages 2\0Alaunch causal 64 1 128 46080\0Aarg q f16 4 -1 -1 -1 64\0A

// 8 warps own 128 rows; 3 stages of 32-key tiles.
// CFG: known_block_size = array<i32: 256, 1, 1>
// CFG: memref<3x32x72xf16, #gpu.address_space<workgroup>>
// CFG: threads 256\0Asmem 46080\0Atile_m 128\0Atile_n 32\0Astages 3\0Alaunch causal 128 1


// Landmark top-k (block 32, k = 3), even on sm_90a: cp.async and mma.sync, a
// shared-memory exchange of one i32 per warp and two rows after the tiles;
// the landmark keys (rows 31 + 32 t) scored first, each row carrying its 3
// best (score, block) pairs (kNoBlock = 2^31 - 1 where it has fewer); then a
// while loop over the CTA's blocks, one key tile each, until kNoBlock.
// TOPK-LABEL: gpu.func @topk(
// TOPK: memref.view %{{.*}}[%c27648][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<8xi32, #gpu.address_space<workgroup>>
// TOPK: %[[OFF:.*]] = arith.addi %c31, %{{.*}} : index
// TOPK: nvgpu.device_async_copy %arg1[%{{.*}}, %{{.*}}, %[[OFF]], %{{.*}}]
// TOPK: scf.for {{.*}} iter_args({{.*}}%c2147483647_i32{{.*}}) -> (f32, f32, f32, i32, i32, i32, f32, f32, f32, i32, i32, i32)
// TOPK: nvgpu.mma.sync
// TOPK: gpu.shuffle  xor %{{.*}} : i32
// TOPK: scf.while
// TOPK: scf.condition
// TOPK: nvgpu.mma.sync
// TOPK: smem 27680\0Atile_m 64\0Atile_n 32

// async-qk: S of key tile 0 is issued before the loop and rides in the loop
// state as the wgmma accumulator struct; each iteration waits for it, issues
// the next tile's (after that tile's mbarrier), then runs this tile's softmax.
// ASYNC-LABEL: gpu.func @causal(
// ASYNC: scf.if %{{.*}} -> (!llvm.struct<(f32
// ASYNC: nvvm.wgmma.commit.group.sync.aligned
// ASYNC: scf.for {{.*}} iter_args({{.*}}) -> ({{.*}}, !llvm.struct<(f32
// ASYNC: nvvm.wgmma.wait.group.sync.aligned 0
// ASYNC: scf.if %{{.*}} -> (!llvm.struct<(f32
// ASYNC: nvvm.mbarrier.try_wait.parity
// ASYNC: nvvm.wgmma.mma_async
// ASYNC: nvvm.wgmma.commit.group.sync.aligned
// ASYNC: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"

// Persistent: the kernel takes the runtime's counters after the maps; the
// stages' empty barriers and Q's (256 consumer arrivals each). The
// producer's leader walks the items from block x: per item it waits for
// Q's empty barrier, writes the item's four words (query tile, head,
// batch, KV head) to the slot, loads Q and the key tiles, and draws the
// next item from counter 0 (grid + counter); past the last it writes query
// tile -1, arrives on Q's barrier, and the CTA that drew last resets the
// counter. The consumers wait for Q, read the slot, run the key tiles and arrive on Q's empty barrier after their last
// Q K^T, before the epilogue. The launch takes ctas_per_sm CTAs per SM.
// PERSIST-LABEL: gpu.func @causal128(
// PERSIST-SAME: %arg8: memref<?xi32>) kernel attributes {attn.after_maps = 5 : i64, attn.tensormaps = 3 : i64, known_block_size = array<i32: 384, 1, 1>
// PERSIST-COUNT-3: nvvm.mbarrier.init %{{.*}}, %c256_i32{{.*}} : !llvm.ptr<3>, i32
// PERSIST: %[[BX:.*]] = gpu.block_id  x
// PERSIST: %[[FIRST:.*]] = arith.index_cast %[[BX]] : index to i32
// PERSIST: memref.extract_aligned_pointer_as_index %arg8
// PERSIST: nvvm.setmaxregister decrease 56
// PERSIST: scf.while (%{{.*}} = %[[FIRST]], {{.*}}) : (i32, i32, i32) -> (i32, i32, i32)
// PERSIST: nvvm.mbarrier.try_wait.parity
// PERSIST-COUNT-4: llvm.store %{{.*}} : i32, !llvm.ptr<3>
// PERSIST: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %c32768_i32
// PERSIST: scf.for
// PERSIST: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %c65536_i32
// PERSIST: memref.atomic_rmw addi %{{.*}}, %arg8[%{{.*}}] : (i32, memref<?xi32>) -> i32
// PERSIST: llvm.store %c-1_i32, %{{.*}} : i32, !llvm.ptr<3>
// PERSIST: nvvm.mbarrier.arrive %{{.*}} : !llvm.ptr<3>
// PERSIST: memref.atomic_rmw assign %{{.*}}, %arg8[%{{.*}}] : (i32, memref<?xi32>) -> i32
// PERSIST: nvvm.setmaxregister increase 224
// PERSIST: scf.while
// PERSIST: nvvm.mbarrier.try_wait.parity
// PERSIST: llvm.load %{{.*}} : !llvm.ptr<3> -> i32
// PERSIST: scf.condition
// PERSIST-COUNT-3: llvm.load %{{.*}} : !llvm.ptr<3> -> i32
// PERSIST: scf.for
// PERSIST: nvvm.wgmma.wait.group.sync.aligned 1
// PERSIST: nvvm.mbarrier.arrive %{{.*}} : !llvm.ptr<3>
// PERSIST: scf.yield
// PERSIST: nvvm.mbarrier.arrive %{{.*}} : !llvm.ptr<3>
// PERSIST-NOT: gpu.barrier
// PERSIST: launch causal128 128 1 384 163904 persistent 1\0A
