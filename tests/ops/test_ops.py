"""Every public op: gradients against finite differences (float64), and dtype kept in float32."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from op_cases import CASES, make_inputs
from tensorgrad.ops import all_ops

IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("label, fn, shapes, domain", CASES, ids=IDS)
def test_gradcheck(label, fn, shapes, domain):
    inputs = [tg.tensor(x, requires_grad=True) for x in make_inputs(shapes, domain, np.float64)]
    assert tg.gradcheck(fn, inputs)


@pytest.mark.parametrize("label, fn, shapes, domain", CASES, ids=IDS)
def test_float32_stays_float32_through_forward_and_backward(label, fn, shapes, domain):
    inputs = [tg.tensor(x, requires_grad=True) for x in make_inputs(shapes, domain, np.float32)]
    out = fn(*inputs)
    assert out.dtype == np.float32, f"{label}: forward gave {out.dtype}"
    out.backward(np.random.default_rng(1).standard_normal(out.shape).astype(np.float32))
    for i, x in enumerate(inputs):
        assert x.grad is not None, f"{label}: input {i} got no gradient"
        assert x.grad.dtype == np.float32, f"{label}: input {i} grad is {x.grad.dtype}"
        assert x.grad.shape == x.shape


@pytest.mark.parametrize("label, fn, shapes, domain", CASES, ids=IDS)
def test_no_grad_gives_same_values_without_a_graph(label, fn, shapes, domain):
    inputs = [tg.tensor(x, requires_grad=True) for x in make_inputs(shapes, domain, np.float64)]
    recorded = fn(*inputs)
    with tg.no_grad():
        plain = fn(*inputs)
    assert plain.grad_fn is None and not plain.requires_grad
    np.testing.assert_array_equal(plain.data, recorded.data)


def test_float32_input_mixed_with_float64_array_keeps_a_float32_gradient():
    x = tg.tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    y = x * np.full((2, 3), 2.0)  # NumPy promotes the product to float64 ...
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32  # ... but x's gradient has x's dtype
    np.testing.assert_array_equal(x.grad, 2.0)


def test_python_scalars_do_not_promote():
    for dtype in (np.float32, np.float64):
        x = tg.tensor(np.ones(3, dtype=dtype), requires_grad=True)
        y = 0.1 * x + 1 - x / 3.0
        assert y.dtype == dtype
    # a float64 gradient check is not spoilt by a float32 rounding of 0.1
    x = tg.tensor(np.array([1.0]), requires_grad=True)
    (x * 0.1).sum().backward()
    assert x.grad[0] == 0.1


def test_every_op_declares_its_formula_and_name():
    ops = all_ops()
    names = {op.name for op in ops}
    expected = {"add", "sub", "mul", "div", "neg", "pow", "matmul", "exp", "log", "sqrt", "abs",
                "tanh", "sigmoid", "relu", "gelu", "clip", "maximum", "minimum", "where", "sum",
                "mean", "max", "min", "var", "reshape", "transpose", "getitem", "concatenate",
                "stack", "softmax", "log_softmax"}
    assert expected <= names, expected - names
    for op in ops:
        assert "∂" in op.formula, op


def test_forward_values_match_numpy():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 5))
    t = tg.tensor(a)
    np.testing.assert_allclose(t.sigmoid().data, 1 / (1 + np.exp(-a)), rtol=1e-13)
    np.testing.assert_allclose(t.softmax().data, np.exp(a) / np.exp(a).sum(-1, keepdims=True), rtol=1e-13)
    np.testing.assert_allclose(t.log_softmax(axis=0).data,
                               a - np.log(np.exp(a).sum(0, keepdims=True)), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(t.var(axis=1).data, a.var(axis=1), rtol=1e-13)
    np.testing.assert_allclose(t.gelu().data, a * 0.5 * (1 + np.vectorize(__import__("math").erf)(a / np.sqrt(2))), rtol=1e-14)
    np.testing.assert_allclose(t.gelu(approximate="tanh").data, t.gelu().data, atol=1e-3)
    np.testing.assert_array_equal(t.max(axis=0).data, a.max(axis=0))
    np.testing.assert_array_equal(t.T.data, a.T)


def test_max_ties_share_the_gradient():
    x = tg.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 0.5, 0.5], [1, 0, 0]])


def test_repeated_indices_accumulate():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [3, 0, 1])


def test_softmax_family_is_stable_for_huge_logits():
    for dtype in (np.float32, np.float64):
        logits = tg.tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=dtype), requires_grad=True)
        logp = logits.log_softmax(axis=-1)
        p = logits.softmax(axis=-1)
        assert np.all(np.isfinite(logp.data)) and np.all(np.isfinite(p.data))
        np.testing.assert_allclose(p.data[1], 1 / 3, rtol=1e-6)
        assert logp.data[0, 0] == 0
        (logp[0, 1] + p[1, 0]).backward()
        assert np.all(np.isfinite(logits.grad))


def test_sigmoid_is_finite_for_huge_inputs():
    x = tg.tensor(np.array([-1e4, -50.0, 0.0, 50.0, 1e4], dtype=np.float32), requires_grad=True)
    y = x.sigmoid()
    assert np.all(np.isfinite(y.data))
    np.testing.assert_allclose(y.data, [0, 0, 0.5, 1, 1], atol=1e-7)
    y.sum().backward()
    assert np.all(np.isfinite(x.grad))


def test_log_of_zero_and_division_by_zero_follow_numpy():
    x = tg.tensor([0.0, 1.0])
    with np.errstate(divide="ignore"):
        assert x.log().data[0] == -np.inf
        assert (1.0 / x).data[0] == np.inf
