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
]
# Patterns of the benchmark (bf16 only).
BENCH_PATTERNS = [
    ("window1024", "#attn.sliding_window<window = 1024>"),
    ("block256", "#attn.block_causal<block = 256>"),
]
