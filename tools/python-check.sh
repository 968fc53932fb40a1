#!/usr/bin/env bash
# Installs the attn Python package from this clone the way a user does
# (`pip install .`, which builds the libraries in build/, so after
# tools/setup.sh it only packages them), with torch, pytest and transformers for its tests,
# and checks that the installed package imports and computes from another
# folder. test/Python (run by lit) tests the package in depth.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=python3
quiet() { grep -v -i -E 'warning|notice|root user' || true; }
if ! $PY -c 'import torch, pytest, transformers, accelerate, mpi4py' >/dev/null 2>&1; then
  # accelerate: transformers' GGUF loader needs it (test/Model's second path);
  # mpi4py: attn.dist's communicators (test/Dist; its wheel uses Open MPI).
  echo "python-check: installing torch, pytest, transformers, accelerate, mpi4py (the tests)"
  $PY -m pip install -q torch pytest transformers accelerate mpi4py 2>&1 | quiet
fi
echo "python-check: pip install . (the attn package)"
CMAKE_BUILD_PARALLEL_LEVEL="${ATTN_JOBS:-$(nproc)}" \
  $PY -m pip install -q . 2>&1 | quiet
(cd / && $PY - <<'PY'
import os, sys
import numpy as np
import torch
import attn
assert "site-packages" in attn.__file__ or "dist-packages" in attn.__file__, attn.__file__
q, k, v = (torch.randn(1, 4, 40, 32) for _ in range(3))
o = attn.attention(q, k, v, pattern="causal")
s = (q @ k.transpose(-1, -2)) / 32 ** 0.5
s = s.masked_fill(torch.ones(40, 40, dtype=torch.bool).triu(1), float("-inf"))
err = (o - torch.softmax(s, -1) @ v).abs().max().item()
assert err < 1e-5, err
# The compiled fast path (attn._ext, built where nanobind is: setup.sh
# installs it) must have come with the package and loaded.
import attn._torch as at
assert at.fast is not None, "attn._ext missing from the installed package"
# libattndist came along where MPI is (setup.sh installs Open MPI).
import attn.dist
attn.dist._library()
print(f"python-check: installed attn {attn.__version__} at "
      f"{os.path.dirname(attn.__file__)} works (causal error {err:.1e}, "
      f"fast path {os.path.basename(at.ext.__file__)})")
PY
)
