"""Random shapes and random compositions of ops, every gradient checked by finite differences."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorgrad as tg
from graph_strategies import broadcastable_pair, compose, op_spec, shapes


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

@SETTINGS
@given(pair=broadcastable_pair(), specs=st.lists(op_spec, min_size=3, max_size=6), seed=st.integers(0, 2**16))
def test_random_compositions_match_finite_differences(pair, specs, seed):
    rng = np.random.default_rng(seed)
    a = tg.tensor(rng.standard_normal(pair[0]), requires_grad=True)
    b = tg.tensor(rng.standard_normal(pair[1]), requires_grad=True)
    assert tg.gradcheck(lambda x, y: compose(specs, x, y), [a, b], atol=1e-6, rtol=1e-4)


@SETTINGS
@given(pair=broadcastable_pair(), seed=st.integers(0, 2**16))
def test_binary_ops_broadcast_in_backward(pair, seed):
    rng = np.random.default_rng(seed)
    a = tg.tensor(rng.standard_normal(pair[0]), requires_grad=True)
    b = tg.tensor(rng.standard_normal(pair[1]), requires_grad=True)
    assert tg.gradcheck(lambda x, y: (x * y + x / (y * y + 1.0) - y).tanh(), [a, b])
    assert tg.gradcheck(lambda x, y: tg.maximum(x, y * 0.5 + 3.0) * tg.where(x.data > 0, x, y), [a, b])


@SETTINGS
@given(shape=shapes, data=st.data(), seed=st.integers(0, 2**16))
def test_reductions_over_random_axes(shape, data, seed):
    rng = np.random.default_rng(seed)
    x = tg.tensor(rng.standard_normal(shape), requires_grad=True)
    axes = data.draw(st.lists(st.integers(0, len(shape) - 1), unique=True, max_size=len(shape)))
    axis = tuple(axes) if axes else None
    keepdims = data.draw(st.booleans())
    for reduce in ("sum", "mean", "var"):
        assert tg.gradcheck(lambda t: getattr(t, reduce)(axis=axis, keepdims=keepdims) ** 2, [x])
    assert tg.gradcheck(lambda t: t.max(axis=axis, keepdims=keepdims), [x])


@SETTINGS
@given(batch=st.integers(1, 3), n=st.integers(1, 4), k=st.integers(1, 4), m=st.integers(1, 4),
       lead_a=st.booleans(), lead_b=st.booleans(), seed=st.integers(0, 2**16))
def test_matmul_random_shapes(batch, n, k, m, lead_a, lead_b, seed):
    rng = np.random.default_rng(seed)
    a = tg.tensor(rng.standard_normal(((batch,) if lead_a else ()) + (n, k)), requires_grad=True)
    b = tg.tensor(rng.standard_normal(((batch,) if lead_b else ()) + (k, m)), requires_grad=True)
    assert tg.gradcheck(lambda x, y: (x @ y).tanh(), [a, b])
