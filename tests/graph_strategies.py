"""Random expression graphs for property tests and for benchmarks/fuzz.py: broadcastable shapes,
and chains of smooth ops (no kinks, bounded growth) whose gradients finite differences check."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

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


# Each takes the tensor, an axis and a keepdims flag; shape-changing ones keep any ndim valid. None
# squares what it is given again and again (tanh first), so that a chain of six stays where finite
# differences can see it.
UNARY = [
    lambda t, ax, k: t.tanh(),
    lambda t, ax, k: t.sigmoid(),
    lambda t, ax, k: (t.tanh() * 0.5).exp(),  # tanh first: exp of exp of ... would overflow
    lambda t, ax, k: (t * t + 1.0).log(),
    lambda t, ax, k: (t * t + 0.5).sqrt(),
    lambda t, ax, k: t.gelu(),
    lambda t, ax, k: t.tanh() ** 2,  # squared again and again, t itself reached 1e51 (finite differences then see 0)
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


