"""attn.hf.use_attn on a tiny randomly initialised Llama (transformers; no
download): logits and greedy decoding with a KV cache equal the model's own
SDPA attention."""
import pytest
import torch

from conftest import DEVICE, PARAMS

transformers = pytest.importorskip("transformers")

import attn  # noqa: E402
import attn.hf  # noqa: E402

DT = torch.float16 if PARAMS == "cuda" else torch.float32
TOL = 2e-2 if DT == torch.float16 else 1e-4


def tiny_llama():
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=128, hidden_size=128,
                                   intermediate_size=256, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2,
                                   max_position_embeddings=256)
    return transformers.LlamaForCausalLM(cfg).to(DEVICE, DT).eval()


def run(model, ids, new_tokens=6):
    with torch.no_grad():
        logits = model(ids).logits
        out = model.generate(ids, max_new_tokens=new_tokens, do_sample=False,
                             min_new_tokens=new_tokens)
    return logits, out


def test_llama_matches_sdpa():
    model = tiny_llama()
    ids = torch.randint(0, 128, (2, 23), device=DEVICE)
    model.set_attn_implementation("sdpa")
    want_logits, want_ids = run(model, ids)

    attn.hf.use_attn(model, pattern="causal")
    assert model.config._attn_implementation == "attn"
    logits, out = run(model, ids)
    torch.testing.assert_close(logits, want_logits, rtol=TOL, atol=TOL)
    assert torch.equal(out, want_ids)


def test_per_layer_patterns():
    """A pattern per layer; a window longer than the sequence is causal."""
    model = tiny_llama()
    ids = torch.randint(0, 128, (1, 17), device=DEVICE)
    model.set_attn_implementation("sdpa")
    want_logits, _ = run(model, ids, 2)
    attn.hf.use_attn(model, pattern=lambda i: "causal" if i % 2 else
                     attn.patterns.sliding_window(1000))
    pats = [m.attn_pattern for m in model.modules() if hasattr(m, "attn_pattern")]
    assert pats == ["#attn.sliding_window<window = 1000>", "causal"]
    logits, _ = run(model, ids, 2)
    torch.testing.assert_close(logits, want_logits, rtol=TOL, atol=TOL)
    # A short window changes the result (the pattern is really applied).
    attn.hf.use_attn(model, pattern=attn.patterns.sliding_window(2))
    logits, _ = run(model, ids, 2)
    assert not torch.allclose(logits, want_logits, rtol=TOL, atol=TOL)


def test_bad_pattern_fails_early():
    with pytest.raises(ValueError, match="unknown pattern"):
        attn.hf.use_attn(tiny_llama(), pattern="diagonal")
