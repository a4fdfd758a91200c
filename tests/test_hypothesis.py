"""Random shapes and random compositions of ops, every gradient checked by finite differences."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorgrad as tg

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


@st.composite
def broadcastable_pair(draw):
    """Two shapes that broadcast: drop leading axes and set some axes to 1 in the second."""
    shape = draw(shapes)
    keep = draw(st.integers(0, len(shape)))
    other = list(shape[len(shape) - keep:])
    for i in range(len(other)):
        if draw(st.booleans()):
            other[i] = 1
    return shape, tuple(other)


# Smooth ops (no kinks, bounded growth) so finite differences are exact to the tolerance.
# Each takes the tensor, an axis and a keepdims flag; shape-changing ones keep any ndim valid.
UNARY = [
    lambda t, ax, k: t.tanh(),
    lambda t, ax, k: t.sigmoid(),
    lambda t, ax, k: (t * 0.5).exp(),
    lambda t, ax, k: (t * t + 1.0).log(),
    lambda t, ax, k: (t * t + 0.5).sqrt(),
    lambda t, ax, k: t.gelu(),
    lambda t, ax, k: t ** 2,
    lambda t, ax, k: t.softmax(axis=ax),
    lambda t, ax, k: t.log_softmax(axis=ax),
    lambda t, ax, k: t.sum(axis=ax, keepdims=k),
    lambda t, ax, k: t.mean(axis=ax, keepdims=k),
    lambda t, ax, k: t.var(axis=ax, keepdims=True),
    lambda t, ax, k: t.transpose(),
    lambda t, ax, k: t.reshape(-1),
    lambda t, ax, k: t[::-1],
]
BINARY = {
    "add": lambda u, y: u + y,
    "sub": lambda u, y: u - y,
    "mul": lambda u, y: u * y,
    "div": lambda u, y: u / (y * y + 1.0),
}
op_spec = st.tuples(st.integers(0, len(UNARY) - 1), st.integers(0, 2), st.booleans(), st.sampled_from(sorted(BINARY)))


def compose(specs, x, y):
    """Apply the drawn ops in order; the second input joins whenever the shapes still broadcast."""
    t = x
    for unary, axis_pick, keepdims, binary in specs:
        if t.ndim:
            t = UNARY[unary](t, axis_pick % t.ndim, keepdims)
        try:
            np.broadcast_shapes(t.shape, y.shape)
        except ValueError:
            continue
        t = BINARY[binary](t, y)
    return t


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
