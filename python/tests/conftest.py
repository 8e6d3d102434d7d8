"""Shared fixtures: small seeded data made here (never downloaded), the program as the package
runs it, and the rule for tests that cannot run (SKIPPED with the reason, counted by ./run)."""

import os
import subprocess
import sys

import numpy as np
import pytest


@pytest.fixture
def blobs():
    """Three well-separated Gaussian blobs in 10 dimensions, 60 items each, and their classes."""
    rng = np.random.default_rng(7)
    centres = rng.normal(0, 10, size=(3, 10))
    X = np.concatenate([c + rng.normal(0, 0.5, size=(60, 10)) for c in centres])
    y = np.repeat(np.arange(3), 60)
    return X.astype(np.float32), y


def run_program(*args, cwd=None):
    """``ivt-explore ARGS`` as the installed package runs it (``python -m ivt_explore``)."""
    return subprocess.run(
        [sys.executable, "-m", "ivt_explore", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def require(what):
    """Skip (or, with IVT_REQUIRE_<WHAT>=1 as ./run sets where it installed it, fail)."""
    if os.environ.get(f"IVT_REQUIRE_{what.upper()}") == "1":
        pytest.fail(f"{what} is required here (IVT_REQUIRE_{what.upper()}=1) but not available")
    pytest.skip(f"{what} is not installed")
