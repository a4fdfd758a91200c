"""The engine's bookkeeping: it fits every gradient to its input's shape and dtype, checks what an
op's backward returns, and keeps a custom op's own errors visible."""
from __future__ import annotations

import traceback

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from tensorgrad.autograd import reverse_topological_order, unbroadcast


def test_a_gradient_has_its_tensors_dtype_whatever_the_other_operand():
    # the README's first example with x from NumPy (float64) and float32 weights
    x = tg.tensor(np.random.default_rng(0).random((4, 6)))  # float64
    w = tg.randn(3, 6, requires_grad=True)
    b = tg.zeros(3, requires_grad=True)
    for forward in (lambda: (x @ w.T + b).sum(), lambda: F.linear(x, w, b).sum(), lambda: (x[:, :3] * w[0, :3]).sum()):
        w.grad = b.grad = None
        forward().backward()
        assert w.grad.dtype == np.float32 and w.grad.shape == w.shape
        if b.grad is not None:
            assert b.grad.dtype == np.float32 and b.grad.shape == b.shape


def test_the_engine_sums_a_gradient_over_the_axes_broadcasting_added():
    a = tg.tensor(np.ones((1, 3)), requires_grad=True)
    b = tg.tensor(np.ones((2, 1)), requires_grad=True)
    c = tg.tensor(np.ones(3), requires_grad=True)
    ((a + b) * c).sum().backward()
    np.testing.assert_array_equal(a.grad, [[2.0, 2.0, 2.0]])
    np.testing.assert_array_equal(b.grad, [[3.0], [3.0]])
    np.testing.assert_array_equal(c.grad, [4.0, 4.0, 4.0])  # (a + b) = 2 in both rows
    assert unbroadcast(np.ones((4, 2, 3)), (2, 1)).shape == (2, 1)


class Cube(tg.Function):
    formula = "∂a = g·3a²"

    def forward(self, a):
        self.save(a)
        return a ** 3

    def backward(self, g):
        (a,) = self.saved
        return g * 3 * a ** 2  # one input: the gradient alone, not a tuple


def test_a_custom_op_is_named_after_its_class_and_passes_gradcheck():
    x = tg.tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn.name == "cube" and Cube.name == "cube"
    assert tg.gradcheck(lambda t: Cube.apply(t), [x])


def test_a_backward_that_returns_a_wrong_shape_is_named():
    class Wrong(tg.Function):
        def forward(self, a):
            return a * 2

        def backward(self, g):
            return g.sum(axis=0)  # forgot that a is (3, 4)

    x = tg.randn(3, 4, requires_grad=True)
    with pytest.raises(tg.TensorgradError, match=r"^wrong: backward returned a gradient of shape \(4,\) for input 0, of shape \(3, 4\)"):
        Wrong.apply(x).sum().backward()


def test_a_backward_that_returns_the_wrong_number_of_gradients_is_named():
    class TwoForOne(tg.Function):
        def forward(self, a):
            return a + 1

        def backward(self, g):
            return g, g

    with pytest.raises(RuntimeError, match=r"^twoforone: backward returned 2 gradient\(s\) for 1 input\(s\)"):
        TwoForOne.apply(tg.randn(2, requires_grad=True)).sum().backward()


def test_an_error_in_a_custom_forward_keeps_the_students_line_in_the_traceback():
    class Broken(tg.Function):
        def forward(self, a, b):
            return a @ b  # shapes that do not align: NumPy's ValueError

        def backward(self, g):  # pragma: no cover
            return g, g

    with pytest.raises(ValueError) as info:
        Broken.apply(tg.randn(2, 3), tg.randn(2, 3))
    assert isinstance(info.value, tg.TensorgradError)
    assert str(info.value).startswith("broken: cannot apply to inputs of shapes/dtypes [(2, 3) float32, (2, 3) float32]")
    cause = info.value.__cause__  # NumPy's own error, raised in Broken.forward
    assert isinstance(cause, ValueError)
    frames = [frame.name for frame in traceback.extract_tb(cause.__traceback__)]
    assert "forward" in frames


def test_tensorgrads_own_errors_are_one_class_and_still_the_builtin_kind():
    with pytest.raises(tg.TensorgradError) as info:
        tg.zeros(2, 3) @ tg.zeros(4, 5)
    assert isinstance(info.value, ValueError)
    assert info.value.__cause__ is None  # ours from the start: nothing to chain


def test_the_walk_visits_each_node_after_every_node_that_uses_its_output():
    x = tg.randn(3, requires_grad=True)
    a = x * 2
    b = a + 1
    c = a * b  # a is used twice: by b and by c
    order = [node.name for node in reverse_topological_order(c.sum().grad_fn)]
    assert order == ["sum", "mul", "add", "mul"]
    assert order.index("add") < len(order) - 1  # a's node (the last mul) comes after b's (add)
