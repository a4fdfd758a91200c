"""Shared by the whole suite. The folders mirror the source tree: core/ (autograd.py, tensor.py,
errors.py), ops/, nn/, optim/, data/, speed/, teaching/, training/, models/, benchmarks/, and
docs/ (the README's code and examples/). ``op_cases.py`` (the table of op cases) and
``graph_strategies.py`` (random graphs for hypothesis) sit here, importable from every folder.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import autograd, parallel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # speed.py, _common.py, baselines/: the benchmark tests' subjects


@pytest.fixture
def rng() -> np.random.Generator:
    """A NumPy generator with a fixed seed: a test's random data is the same at every run."""
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def isolated_global_state():
    """Each test starts from tensorgrad's defaults and must leave them so: grad mode on, anomaly
    mode off, no tracer, threads chosen by tensorgrad (``"auto"``, started afresh for every test).
    A test that forgot to restore one would silently change the tests after it (no_grad records
    no graph; a fixed thread count would hide what "auto" does)."""
    yield
    leaked = []
    if not autograd.is_grad_enabled():
        leaked.append("grad mode off")
    if autograd._anomaly_mode:
        leaked.append("anomaly mode on")
    if autograd._step_observer is not None:
        leaked.append("a backward observer (tg.trace) still installed")
    if not parallel._auto:
        leaked.append(f"threads fixed at {tg.get_num_threads()}")
    tg.set_num_threads("auto")  # afresh: no convolution seen yet
    if leaked:
        # put the defaults back for the next test, then fail this one
        autograd.set_grad_enabled(True).__enter__()
        autograd._anomaly_mode = False
        autograd._step_observer = None
        pytest.fail("the test left global state changed: " + ", ".join(leaked))
