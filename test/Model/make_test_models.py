"""Writes a tiny seeded Llama model in attn-model's safetensors layout
(tiny.safetensors: 2 layers, d 64, 4/2 heads of 16, vocab 97, context 1024)
and malformed variants of it, for the runner's CLI and error tests. The
format is written here by hand (8-byte header length, JSON header, data),
independently of the safetensors package that convert_gguf.py uses.
Where the gguf package is installed, also the same model as tiny.gguf
(query/key rows in GGUF's interleaved order, the embedding in Q8_0), which
convert_gguf.py converts and llama_reference.py reads for a parity test.

usage: make_test_models.py DIR
"""
import json
import os
import struct
import sys

import numpy as np

CFG = {"n_layers": 2, "d_model": 64, "n_heads": 4, "n_kv_heads": 2, "head_dim": 16,
       "ffn_dim": 96, "vocab_size": 97, "context_length": 1024, "rope_theta": 10000.0,
       "rms_eps": 1e-5, "bos_token_id": 1, "eos_token_id": 2}
META = {k: repr(v) if isinstance(v, float) else str(v) for k, v in CFG.items()}
META.update({"format": "attn-model-llama-1", "architecture": "llama",
             "rope": "rotate_half"})


def tensors():
    rng = np.random.default_rng(7)
    d, f, qd, kvd = 64, 96, 64, 32
    # Small embeddings: tied to the output, large ones make every row's own
    # token win by far, and sampling would never vary.
    t = {"embed": 0.05 * rng.standard_normal((97, d)), "output_norm": 1 + 0.1 * rng.standard_normal(d)}
    for l in range(2):
        p = f"layers.{l}."
        t[p + "attn_norm"] = 1 + 0.1 * rng.standard_normal(d)
        t[p + "ffn_norm"] = 1 + 0.1 * rng.standard_normal(d)
        for name, shape in [("wq", (qd, d)), ("wk", (kvd, d)), ("wv", (kvd, d)),
                            ("wo", (d, qd)), ("w_gate", (f, d)), ("w_up", (f, d)),
                            ("w_down", (d, f))]:
            t[p + name] = rng.standard_normal(shape) / np.sqrt(shape[1])
    return {k: v.astype(np.float32) for k, v in t.items()}


def encode(ts, meta, dtype="F32", edit=None):
    header, blobs, off = {}, [], 0
    for name, a in ts.items():
        b = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = meta
    if edit:
        edit(header)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    ts = tensors()

    def write(name, data):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

    good = encode(ts, META)
    write("tiny.safetensors", good)
    write("truncated.safetensors", good[:len(good) // 2])
    write("short.safetensors", b"\x01\x02")
    write("header-length.safetensors", struct.pack("<Q", 1 << 40) + b"{}")
    write("not-json.safetensors", struct.pack("<Q", 8) + b"{garbage")
    write("f16.safetensors", encode(ts, META, dtype="F16"))
    missing = dict(ts)
    del missing["layers.1.wv"]
    write("missing-tensor.safetensors", encode(missing, META))
    shaped = dict(ts)
    shaped["layers.0.wk"] = np.zeros((16, 64), np.float32)
    write("wrong-shape.safetensors", encode(shaped, META))
    write("no-meta.safetensors", encode(ts, {k: v for k, v in META.items() if k != "n_heads"}))
    write("bad-gqa.safetensors", encode(ts, dict(META, n_kv_heads="3")))

    nan = dict(ts)
    nan["layers.1.w_up"] = ts["layers.1.w_up"].copy()
    nan["layers.1.w_up"][3, 5] = np.nan
    write("nan.safetensors", encode(nan, META))

    def overlap(h):
        h["layers.0.wq"]["data_offsets"] = h["embed"]["data_offsets"][:]
        h["layers.0.wq"]["shape"] = h["embed"]["shape"]
    write("overlap.safetensors", encode(ts, META, edit=overlap))
    try:
        import gguf  # noqa: F401
    except ImportError:
        return
    write_gguf(os.path.join(out, "tiny.gguf"), ts)


def write_gguf(path, ts):
    import gguf
    w = gguf.GGUFWriter(path, "llama")
    w.add_block_count(CFG["n_layers"])
    w.add_context_length(CFG["context_length"])
    w.add_embedding_length(CFG["d_model"])
    w.add_feed_forward_length(CFG["ffn_dim"])
    w.add_head_count(CFG["n_heads"])
    w.add_head_count_kv(CFG["n_kv_heads"])
    w.add_rope_freq_base(CFG["rope_theta"])
    w.add_layer_norm_rms_eps(CFG["rms_eps"])
    w.add_bos_token_id(CFG["bos_token_id"])
    w.add_eos_token_id(CFG["eos_token_id"])

    def interleave(a, heads):
        # llama.cpp's converter: each head's two halves, interleaved.
        rows, cols = a.shape
        return a.reshape(heads, 2, rows // heads // 2, cols).swapaxes(1, 2).reshape(rows, cols)

    q8 = gguf.GGMLQuantizationType.Q8_0
    w.add_tensor("token_embd.weight", gguf.quants.quantize(ts["embed"], q8), raw_dtype=q8)
    w.add_tensor("output_norm.weight", ts["output_norm"])
    names = {"attn_norm": "attn_norm", "wq": "attn_q", "wk": "attn_k", "wv": "attn_v",
             "wo": "attn_output", "ffn_norm": "ffn_norm", "w_gate": "ffn_gate",
             "w_up": "ffn_up", "w_down": "ffn_down"}
    for l in range(CFG["n_layers"]):
        for ours, theirs in names.items():
            a = ts[f"layers.{l}.{ours}"]
            if ours == "wq":
                a = interleave(a, CFG["n_heads"])
            elif ours == "wk":
                a = interleave(a, CFG["n_kv_heads"])
            w.add_tensor(f"blk.{l}.{theirs}.weight", np.ascontiguousarray(a))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
