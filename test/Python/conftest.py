"""pytest configuration of the attn package's tests.

ATTN_TEST_DEVICE=cuda runs them on the GPU (CUDA tensors, the current
stream); the default is the CPU. ATTN_TEST_PARAMS=cuda runs, on the CPU, the
dtypes and head dims the GPU run uses (tools/gpu/python_bundle.py records
the kernels it asks for, to compile them for a GPU machine without LLVM). Inputs are fresh random numbers every run:
the seed is printed in the header (ATTN_TEST_SEED=n repeats a run).
"""
import os
import random
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
# The float64 reference written from SPEC.md (test/Numerics/reference.py).
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "Numerics"))

SEED = int(os.environ.get("ATTN_TEST_SEED") or random.SystemRandom().randrange(2**31))
DEVICE = os.environ.get("ATTN_TEST_DEVICE", "cpu")
PARAMS = os.environ.get("ATTN_TEST_PARAMS", DEVICE)


def pytest_report_header(config):
    import attn
    return [f"attn {attn.__version__} from {os.path.dirname(attn.__file__)}; "
            f"device {DEVICE} (parameters of {PARAMS}); ATTN_TEST_SEED={SEED}"]


@pytest.fixture
def seed(request):
    """A seed per test: the run's seed mixed with the test's name."""
    return (SEED + sum(map(ord, request.node.name)) * 7919) % 2**31


@pytest.fixture
def device():
    return DEVICE
