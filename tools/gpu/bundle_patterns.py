"""The kernels a GPU bundle holds (tools/gpu/bundle.py compiles them; the
GPU matrix and benchmark scripts load them by name: TAG_DTYPE_dD)."""

# Patterns of the correctness matrix: partial and full tiles, windows smaller
# and larger than a tile, blocks smaller and larger than a tile.
MATRIX_PATTERNS = [
    ("full", "#attn.full"),
    ("causal", "#attn.causal"),
    ("window7", "#attn.sliding_window<window = 7>"),
    ("window100", "#attn.sliding_window<window = 100>"),
    ("block16", "#attn.block_causal<block = 16>"),
    ("block128", "#attn.block_causal<block = 128>"),
    ("dilated3", "#attn.dilated<segments = [8, 16, 32], rates = [1, 2, 4]>"),
    ("dilatedgrp", "#attn.dilated<segments = [12, 48], rates = [2, 4], causal = false, "
                   "offsets = grouped>"),
    # No rate 1: rows of some heads are selected by no pattern (O = 0, LSE = -inf).
    ("dilatedgap", "#attn.dilated<segments = [16, 32], rates = [4, 8]>"),
    ("dilatedbig", "#attn.dilated<segments = [256, 1024], rates = [1, 4]>"),
    # Landmark: a key tile per block (blocks of 16 and 64 keys on the GPU).
    ("landmark16", "#attn.landmark<block = 16>"),
    ("landmark64", "#attn.landmark<block = 64>"),
    # Landmark top-k retrieval: each query keeps its k best earlier blocks.
    ("landmark16top3", "#attn.landmark<block = 16, topk = 3>"),
    ("landmark64top2", "#attn.landmark<block = 64, topk = 2>"),
]
# Other head dims (bf16; D = 80 and 96 are not multiples of the 64-column TMA
# atom: cp.async and mma.sync on every target; D = 256 takes TMA and wgmma on
# sm_90a, and spills registers on the sm_80 path).
EXTRA_HEAD_DIMS = (80, 96, 256)
EXTRA_D_PATTERNS = [
    ("causal", "#attn.causal"),
    ("window100", "#attn.sliding_window<window = 100>"),
]
# Patterns of the benchmark (bf16 only).
BENCH_PATTERNS = [
    ("window1024", "#attn.sliding_window<window = 1024>"),
    ("block256", "#attn.block_causal<block = 256>"),
    # LongNet's schedule (the paper's rates, segments 2K..32K).
    ("longnet", "#attn.dilated<segments = [2048, 4096, 8192, 16384, 32768], "
                "rates = [1, 2, 4, 8, 16]>"),
    # Landmark retrieval for decoding (the top 4 blocks of 64).
    ("landmark64top4", "#attn.landmark<block = 64, topk = 4>"),
]

# Paged K/V cache kernels (attn_get_paged_kernel's argument order: q, k_cache,
# v_cache, block_table, kv_lens, out, lse), loaded as paged_TAG_DTYPE_dD.
PAGED_PATTERNS = [
    ("causal", "#attn.causal"),
    ("full", "#attn.full"),
    ("window100", "#attn.sliding_window<window = 100>"),
    ("block16", "#attn.block_causal<block = 16>"),
]
