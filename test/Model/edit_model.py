"""Writes a copy of an attn-model safetensors file with tensors dropped or
metadata changed, for the error tests (the format handled here by hand).

usage: edit_model.py IN OUT [--drop NAME]... [--meta KEY=VALUE]... [--unset KEY]...
"""
import argparse
import json
import struct


def main():
    p = argparse.ArgumentParser()
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--drop", action="append", default=[])
    p.add_argument("--meta", action="append", default=[])
    p.add_argument("--unset", action="append", default=[])
    a = p.parse_args()
    raw = open(a.src, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    meta = header.pop("__metadata__")
    for k in a.unset:
        del meta[k]
    for kv in a.meta:
        k, v = kv.split("=", 1)
        meta[k] = v
    out, blobs, off = {}, [], 0
    for name, e in header.items():
        if name in a.drop:
            continue
        b, end = e["data_offsets"]
        blobs.append(data[b:end])
        out[name] = dict(e, data_offsets=[off, off + end - b])
        off += end - b
    out["__metadata__"] = meta
    h = json.dumps(out).encode()
    h += b" " * (-len(h) % 8)
    with open(a.dst, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


if __name__ == "__main__":
    main()
