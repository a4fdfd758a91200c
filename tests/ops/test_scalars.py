"""0-d tensors work everywhere, as in micrograd: every op that can take a scalar, forward and
backward, in float64 (against finite differences) and float32, and a 0-d leaf's .grad is a 0-d
ndarray."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tensorgrad as tg
from op_cases import NOT_FOR_SCALARS, SCALAR_CASES, make_inputs
from tensorgrad.ops import all_ops

IDS = [c[0] for c in SCALAR_CASES]


def test_every_op_is_tested_on_scalars_or_says_why_not():
    covered = {name for _, names, *_ in SCALAR_CASES for name in names}
    assert {op.name for op in all_ops()} == covered | set(NOT_FOR_SCALARS)
    assert not covered & set(NOT_FOR_SCALARS)


@pytest.mark.parametrize("label, ops, fn, count, domain", SCALAR_CASES, ids=IDS)
def test_scalar_gradients_match_finite_differences(label, ops, fn, count, domain):
    inputs = [tg.tensor(x, requires_grad=True) for x in make_inputs([()] * count, domain, np.float64)]
    assert tg.gradcheck(fn, inputs)


@pytest.mark.parametrize("label, ops, fn, count, domain", SCALAR_CASES, ids=IDS)
def test_a_scalar_leafs_grad_is_a_0d_array_of_its_dtype(label, ops, fn, count, domain):
    inputs = [tg.tensor(x, requires_grad=True) for x in make_inputs([()] * count, domain, np.float32)]
    out = fn(*inputs)
    out.backward(np.ones(out.shape, out.dtype))
    for x in inputs:
        assert type(x.grad) is np.ndarray and x.grad.shape == () and x.grad.dtype == np.float32, (label, repr(x.grad))


def test_micrograds_neuron_runs_and_gives_its_lectures_gradients():
    # the neuron of micrograd's README and lecture, with the numbers it derives by hand
    x1, x2 = tg.tensor(2.0, requires_grad=True), tg.tensor(0.0, requires_grad=True)
    w1, w2 = tg.tensor(-3.0, requires_grad=True), tg.tensor(1.0, requires_grad=True)
    b = tg.tensor(6.8813735870195432, requires_grad=True)
    o = (x1 * w1 + x2 * w2 + b).tanh()
    o.backward()
    assert math.isclose(o.item(), math.sqrt(0.5), rel_tol=1e-6)
    expected = {"x1": -1.5, "w1": 1.0, "x2": 0.5, "w2": 0.0, "b": 0.5}
    for name, tensor in zip(expected, (x1, w1, x2, w2, b)):
        assert tensor.grad.shape == () and math.isclose(float(tensor.grad), expected[name], abs_tol=1e-6), name


def test_matmul_of_a_scalar_is_refused_naming_the_op():
    with pytest.raises(ValueError, match=r"^matmul: both operands need at least 1 dimension"):
        tg.tensor(2.0) @ tg.tensor(3.0)
