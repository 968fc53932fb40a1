"""Tampers with a JIT cache entry the way issue 15 did: reseal.py ENTRY
[truncate|garbage|copy=FILE] [--old] rewrites ENTRY (a .so: cut in half,
garbage, or FILE's bytes) and then its .sha256
sidecar so that the hash matches the new bytes; the key and size lines are
kept (rewritten for the new size) unless --old writes the hash alone, as an
older runtime did."""
import hashlib
import sys

entry, how = sys.argv[1], sys.argv[2]
data = open(entry, "rb").read()
if how == "truncate":
    data = data[: len(data) // 2]
elif how.startswith("copy="):
    data = open(how[5:], "rb").read()
else:
    data = b"garbage\n" * 64
open(entry, "wb").write(data)
lines = open(entry + ".sha256").read().split("\n")
digest = hashlib.sha256(data).hexdigest()
if "--old" in sys.argv:
    text = digest + "\n"
else:
    text = "\n".join([digest, lines[1], f"size {len(data)}"]) + "\n"
open(entry + ".sha256", "w").write(text)
