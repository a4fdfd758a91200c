"""gradcheck itself: it passes correct gradients and names the worst element of wrong ones."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.autograd import Function


class WrongSquare(Function):
    """x² with a deliberately wrong derivative (x instead of 2x)."""
    name = "wrong_square"
    formula = "∂a = g·a   (wrong on purpose)"

    def forward(self, a):
        self.save(a)
        return a * a

    def backward(self, g):
        (a,) = self.saved
        return (g * a,)


def test_passes_and_is_truthy_for_correct_gradients():
    x = tg.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    result = tg.gradcheck(lambda t: (t * t).sum(axis=1), [x])
    assert result and result.ok
    assert "passed" in repr(result)


def test_names_the_input_and_worst_element_when_wrong():
    x = tg.tensor(np.array([[1.0, -3.0], [0.5, 2.0]]), requires_grad=True, name="x")
    y = tg.tensor(np.ones(2), requires_grad=True)
    result = tg.gradcheck(lambda a, b: WrongSquare.apply(a).sum() + (b * 2).sum(), [x, y])
    assert not result
    text = repr(result)
    assert "FAILED" in text
    assert "input 0 (x, shape (2, 2)): MISMATCH; worst element (0, 1)" in text
    assert "analytic -3, numeric -6" in text
    assert "input 1 (inputs[1], shape (2,)): ok" in text
    assert result.inputs[0].rel_error == pytest.approx(0.5)


def test_perturbs_inputs_in_place_whatever_their_memory_layout():
    data = np.random.default_rng(1).standard_normal((4, 3)).T  # Fortran-ordered: not C-contiguous
    x = tg.tensor(data, requires_grad=True)
    assert not x.data.flags.c_contiguous
    assert tg.gradcheck(lambda t: (t * t * t).sum(), [x])
    assert not tg.gradcheck(lambda t: WrongSquare.apply(t).sum(), [x])  # a numeric 0 would not say so


def test_runs_in_float64_whatever_the_input_dtype():
    x = tg.tensor(np.array([0.3, 0.7], dtype=np.float32), requires_grad=True)
    seen = []

    def fn(t):
        seen.append(t.dtype)
        return t.exp()

    assert tg.gradcheck(fn, [x])
    assert set(seen) == {np.dtype(np.float64)}


def test_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="no input has requires_grad=True"):
        tg.gradcheck(lambda t: t * 2, [tg.tensor([1.0])])
