"""Pattern text for attn.attention: the attn dialect's attribute syntax
(SPEC.md's patterns), built from Python values.

    attn.attention(q, k, v, pattern=attn.patterns.sliding_window(256))
"""
from __future__ import annotations

from typing import Optional, Sequence

__all__ = ["full", "causal", "sliding_window", "block_causal", "dilated",
           "landmark", "normalize"]

full = "#attn.full"
causal = "#attn.causal"

_KINDS = ("full", "causal", "sliding_window", "block_causal", "dilated",
          "landmark")


def sliding_window(window: int) -> str:
    """Each query sees itself and the `window` keys before it (W + 1 keys)."""
    return f"#attn.sliding_window<window = {int(window)}>"


def block_causal(block: int) -> str:
    """Its own block causally plus the whole previous block."""
    return f"#attn.block_causal<block = {int(block)}>"


def dilated(segments: Sequence[int], rates: Sequence[int], causal: bool = True,
            offsets: str = "interleaved") -> str:
    """LongNet's dilated attention: segment lengths w_k, dilation rates r_k
    (w_k % r_k == 0), causal or not, head offsets "interleaved" (the paper)
    or "grouped" (torchscale)."""
    s = ", ".join(str(int(w)) for w in segments)
    r = ", ".join(str(int(x)) for x in rates)
    text = f"#attn.dilated<segments = [{s}], rates = [{r}]"
    if not causal:
        text += ", causal = false"
    if offsets != "interleaved":
        text += f", offsets = {offsets}"
    return text + ">"


def landmark(block: int, topk: Optional[int] = None) -> str:
    """Landmark attention with blocks of `block` keys (the last of each is its
    landmark); `topk` keeps only the k best earlier blocks per query."""
    text = f"#attn.landmark<block = {int(block)}"
    if topk is not None:
        text += f", topk = {int(topk)}"
    return text + ">"


def normalize(pattern: str) -> str:
    """The dialect text of `pattern`: "full" and "causal" as they are,
    "sliding_window<window = 256>" (without the "#attn." prefix) or the full
    "#attn.sliding_window<window = 256>". Raises ValueError for anything
    else; the compiler checks the parameters (attn.AttnError)."""
    if not isinstance(pattern, str):
        raise TypeError(f"attn: pattern must be a str, got {type(pattern).__name__}")
    p = pattern.strip()
    if p.startswith("#attn."):
        body = p[6:]
    elif p.startswith("attn."):
        body = p[5:]
    else:
        body = p
    kind = body.split("<", 1)[0].strip()
    if kind == "lightning":
        raise ValueError("attn: lightning attention is attn.lightning(q, k, v, ...), "
                         "not a pattern of attn.attention")
    if kind not in _KINDS:
        raise ValueError(
            f"attn: unknown pattern '{pattern}': expected one of "
            + ", ".join(_KINDS) + " (e.g. 'causal', "
            "'#attn.sliding_window<window = 256>')")
    return "#attn." + body
