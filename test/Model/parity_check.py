"""The comparison both parity tests make (llama_parity.py, seed_parity.py):
the runner's logits at every position against a reference's, and its
greedy tokens against the reference's argmax after the prompt."""
import numpy as np


def compare(label, ids, tokens, got, want, tol, need_same=True):
    """Prints the errors (relative to each position's largest logit) and the
    smallest top-2 margin of the reference's greedy choices (how far the
    error is from flipping a token); whether `got` is within `tol` and
    (with `need_same`) the greedy tokens are the same."""
    assert got.shape == want.shape, (got.shape, want.shape)
    err = np.abs(got - want).max(-1) / np.abs(want).max(-1)
    greedy = want[len(ids) - 1:].argmax(-1).tolist()
    same = greedy == tokens
    top2 = np.sort(want[len(ids) - 1:], -1)[:, -2:]
    margin = float((top2[:, 1] - top2[:, 0]).min())
    print(f"{label}: {len(got)} positions, max relative logit error "
          f"{err.max():.2e} (prompt {err[:len(ids)].max():.2e}, decode "
          f"{err[len(ids):].max():.2e}); {len(tokens)} greedy tokens "
          f"{'equal' if same else 'DIFFER'} (smallest top-2 margin {margin:.3f})")
    if not same:
        print(f"  runner:    {tokens}\n  reference: {greedy}")
    return bool(err.max() <= tol and np.isfinite(got).all() and (same or not need_same))
