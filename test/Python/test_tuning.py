"""ATTN_AUTOTUNE=1 through the package: a call whose shape no tuning record
covers tunes it (CPU), saves a record, and the tuned kernel is right."""
import json
import os

import numpy as np
import pytest

import attn
from reference import attention as ref_attention


@pytest.mark.skipif(os.environ.get("ATTN_TEST_DEVICE", "cpu") != "cpu",
                    reason="tuning runs on CPU contexts")
def test_autotune_on_miss(tmp_path, monkeypatch, seed):
    monkeypatch.setenv("ATTN_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("ATTN_AUTOTUNE", "1")
    monkeypatch.setenv("ATTN_TUNE_BUDGET", "2")
    monkeypatch.setenv("ATTN_TUNING_TABLES", str(tmp_path / "none"))
    rng = np.random.default_rng(seed)
    # D = 24: a head dim no other test asks for, so the kernel is not one
    # this process already holds.
    q, k, v = (rng.standard_normal((1, 2, 72, 24), dtype=np.float32)
               for _ in range(3))
    o = attn.attention(q, k, v, pattern="causal")
    path = tmp_path / "tuning" / "attention-causal.json"
    with open(path) as f:
        records = json.load(f)["records"]
    assert len(records) == 1
    key = records[0]["key"]
    assert (key["d"], key["nq_bucket"], key["nk_bucket"]) == (24, 6, 6)
    ref, _ = ref_attention(q, k, v, {"kind": "causal"})
    err = np.abs(o - ref).max() / np.abs(ref).max()
    assert err < 1e-5, err
