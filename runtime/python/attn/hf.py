"""Hugging Face transformers: run a Llama-family model's attention layers
(Llama, SmolLM2, Mistral, Qwen2, ... anything whose attention modules call
transformers' attention interface) through attn.attention, with a chosen
pattern per layer.

    from transformers import AutoModelForCausalLM
    import attn.hf
    model = AutoModelForCausalLM.from_pretrained("HuggingFaceTB/SmolLM2-135M")
    attn.hf.use_attn(model, pattern="#attn.sliding_window<window = 1024>")
    model.generate(...)            # prefill and KV-cache decoding through attn

Queries are aligned bottom-right (SPEC.md), which is what a KV cache needs:
a decode step's query sits after every cached key. Grouped-query attention
runs as it is (no repeat of K/V). transformers builds no attention mask for
this implementation: the pattern is the mask, so padded batches (a padding
mask) are not supported; use batches of equal length.
"""
from __future__ import annotations

from typing import Callable, Optional, Tuple, Union

import torch

import attn

__all__ = ["use_attn", "attention_forward", "NAME"]

NAME = "attn"


def attention_forward(module: torch.nn.Module, query: torch.Tensor,
                      key: torch.Tensor, value: torch.Tensor,
                      attention_mask: Optional[torch.Tensor],
                      scaling: Optional[float] = None, dropout: float = 0.0,
                      **kwargs) -> Tuple[torch.Tensor, None]:
    """transformers' attention-interface function: query [B, H, N, D],
    key/value [B, Hk, Nk, D] -> ([B, N, H, Dv], None). The pattern is the
    module's `attn_pattern` (set by use_attn), default causal."""
    if dropout and module.training:
        raise ValueError("attn.hf: attention dropout in training is not "
                         "supported (the kernels are forward only)")
    pattern = getattr(module, "attn_pattern", "causal")
    o = attn.attention(query, key, value, pattern=pattern, scale=scaling)
    # o is stored like query, i.e. [B, N, H, D] memory: this is free.
    return o.transpose(1, 2), None


def use_attn(model: torch.nn.Module,
             pattern: Union[str, Callable[[int], str]] = "causal",
             name: str = NAME) -> torch.nn.Module:
    """Makes `model` (a transformers PreTrainedModel) run its attention
    layers through attn.attention.

    Args:
      model: e.g. LlamaForCausalLM; changed in place and returned.
      pattern: one pattern for every layer ("causal",
        "#attn.sliding_window<window = 1024>", attn.patterns.*), or a
        function of the layer index, e.g. local/global alternation:
        ``lambda i: "causal" if i % 4 == 3 else attn.patterns.sliding_window(512)``.
      name: the attention-implementation name registered with transformers.
    """
    from transformers import AttentionInterface
    AttentionInterface.register(name, attention_forward)
    n = 0
    for mod in model.modules():
        idx = getattr(mod, "layer_idx", None)
        if idx is not None and hasattr(mod, "num_key_value_groups"):
            text = pattern(idx) if callable(pattern) else pattern
            attn.patterns.normalize(text)  # fail now, not in the forward
            mod.attn_pattern = text
            n += 1
    if n == 0:
        raise ValueError("attn.hf.use_attn: no attention layers found (modules "
                         "with layer_idx and num_key_value_groups)")
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation(name)
    else:
        model.config._attn_implementation = name
    return model
