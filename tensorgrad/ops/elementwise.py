"""Elementwise ops: arithmetic (with NumPy broadcasting) and activation functions.

Notation in the formulas: ``g`` is the gradient arriving from the op's output, ``y`` the op's
output, ``a``/``b`` its inputs. Binary ops sum their gradients back over broadcast axes with the
shared ``unbroadcast`` helper.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function, unbroadcast
from ._erf import erf

# Python floats, not NumPy float64 scalars: they must not promote a float32 array to float64
_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class Add(Function):
    name = "add"
    formula = "∂a = g,  ∂b = g"

    def forward(self, a, b):
        self.shapes = (a.shape, a.dtype, b.shape, b.dtype)
        return a + b

    def backward(self, g):
        a_shape, a_dtype, b_shape, b_dtype = self.shapes
        need_a, need_b = self.needs_input_grad
        return (unbroadcast(g, a_shape, a_dtype) if need_a else None,
                unbroadcast(g, b_shape, b_dtype) if need_b else None)


class Sub(Function):
    name = "sub"
    formula = "∂a = g,  ∂b = −g"

    def forward(self, a, b):
        self.shapes = (a.shape, a.dtype, b.shape, b.dtype)
        return a - b

    def backward(self, g):
        a_shape, a_dtype, b_shape, b_dtype = self.shapes
        need_a, need_b = self.needs_input_grad
        return (unbroadcast(g, a_shape, a_dtype) if need_a else None,
                unbroadcast(-g, b_shape, b_dtype) if need_b else None)


class Mul(Function):
    name = "mul"
    formula = "∂a = g·b,  ∂b = g·a"

    def forward(self, a, b):
        self.save(a, b)
        return a * b

    def backward(self, g):
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        return (unbroadcast(g * b, a.shape, a.dtype) if need_a else None,
                unbroadcast(g * a, b.shape, b.dtype) if need_b else None)


class Div(Function):
    name = "div"
    formula = "∂a = g/b,  ∂b = −g·a/b²"

    def forward(self, a, b):
        self.save(a, b)
        return a / b

    def backward(self, g):
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        g_over_b = g / b
        return (unbroadcast(g_over_b, a.shape, a.dtype) if need_a else None,
                unbroadcast(-g_over_b * a / b, b.shape, b.dtype) if need_b else None)


class Neg(Function):
    name = "neg"
    formula = "∂a = −g"

    def forward(self, a):
        return -a

    def backward(self, g):
        return (-g,)


class Pow(Function):
    name = "pow"
    formula = "∂a = g·b·a^(b−1),  ∂b = g·a^b·ln a"

    def forward(self, a, b):
        y = a ** b
        self.save(a, b, y)
        return y

    def backward(self, g):
        a, b, y = self.saved
        need_a, need_b = self.needs_input_grad
        grad_a = grad_b = None
        if need_a:
            grad_a = unbroadcast(g * b * a ** (b - 1), a.shape, a.dtype)
        if need_b:
            with np.errstate(divide="ignore", invalid="ignore"):
                # a^b·ln a -> 0 where a == 0 (the limit for b > 0), as PyTorch does
                local = np.where(a == 0, 0, y * np.log(np.where(a == 0, 1, a)))
            grad_b = unbroadcast(g * local, b.shape, b.dtype)
        return grad_a, grad_b


class Exp(Function):
    name = "exp"
    formula = "∂a = g·y   (y = eᵃ)"

    def forward(self, a):
        y = np.exp(a)
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        return (g * y,)


class Log(Function):
    name = "log"
    formula = "∂a = g/a"

    def forward(self, a):
        self.save(a)
        return np.log(a)

    def backward(self, g):
        (a,) = self.saved
        return (g / a,)


class Sqrt(Function):
    name = "sqrt"
    formula = "∂a = g/(2y)   (y = √a)"

    def forward(self, a):
        y = np.sqrt(a)
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        return (g / (2 * y),)


class Abs(Function):
    name = "abs"
    formula = "∂a = g·sign(a)   (0 at a = 0)"

    def forward(self, a):
        self.save(a)
        return np.abs(a)

    def backward(self, g):
        (a,) = self.saved
        return (g * np.sign(a),)


class Activation(Function):
    """An activation whose derivative is written from its output y alone. ``activate`` and
    ``slope`` are the whole op; Linear and Conv2d reuse them for a fused activation (their
    ``activation`` option), applying ``activate`` in place on their own output."""

    @staticmethod
    def activate(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def slope(g: np.ndarray, y: np.ndarray) -> np.ndarray:  # pragma: no cover
        """g times the derivative, from the output y."""
        raise NotImplementedError

    def forward(self, a):
        y = self.activate(a)
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        return (self.slope(g, y),)


class Tanh(Activation):
    name = "tanh"
    formula = "∂a = g·(1 − y²)   (y = tanh a)"

    @staticmethod
    def activate(a, out=None):
        return np.tanh(a, out=out)

    @staticmethod
    def slope(g, y):
        slope = y * y
        np.subtract(1, slope, out=slope)  # 1 − y²
        slope *= g
        return slope


class Sigmoid(Activation):
    name = "sigmoid"
    formula = "∂a = g·y·(1 − y)   (y = σ(a))"

    @staticmethod
    def activate(a, out=None):
        # 1/(1 + e^−a). For a < −88 (float32) e^−a overflows to inf and 1/(1 + inf) = 0, the right
        # limit: IEEE arithmetic keeps it stable, so only the warning is silenced. A new array is
        # float64 for integer input, as np.exp gives.
        y = np.negative(a, out=out, dtype=None if out is not None else np.result_type(a, np.float16))
        with np.errstate(over="ignore"):
            np.exp(y, out=y)
        y += 1
        return np.reciprocal(y, out=y)

    @staticmethod
    def slope(g, y):
        slope = 1 - y
        slope *= y  # y·(1 − y)
        slope *= g
        return slope


class Relu(Activation):
    name = "relu"
    formula = "∂a = g·[a > 0]"

    @staticmethod
    def activate(a, out=None):
        return np.maximum(a, 0, out=out)

    @staticmethod
    def slope(g, y):
        return g * (y > 0)


#: the activations a Linear or Conv2d can fuse, by the name their ``activation`` option takes
FUSABLE_ACTIVATIONS: dict[str, type[Activation]] = {"relu": Relu, "sigmoid": Sigmoid, "tanh": Tanh}


class Gelu(Function):
    name = "gelu"
    formula = "∂a = g·(Φ(a) + a·φ(a))   (y = a·Φ(a), Φ the normal CDF, φ its density)"

    def forward(self, a, approximate="none"):
        if approximate == "none":
            cdf = 0.5 * (1 + erf(a / _SQRT_2))
            self.approximate = False
        elif approximate == "tanh":
            # Φ(a) ≈ ½·(1 + tanh(√(2/π)·(a + 0.044715·a³)))
            cdf = 0.5 * (1 + np.tanh(_SQRT_2_OVER_PI * (a + 0.044715 * a ** 3)))
            self.approximate = True
        else:
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.save(a, cdf)
        return a * cdf

    def backward(self, g):
        a, cdf = self.saved
        if self.approximate:
            inner_slope = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * a * a)
            tanh_term = 2 * cdf - 1
            slope = cdf + a * 0.5 * (1 - tanh_term * tanh_term) * inner_slope
        else:
            slope = cdf + a * _INV_SQRT_2PI * np.exp(-0.5 * a * a)
        return ((g * slope).astype(a.dtype, copy=False),)


class Clip(Function):
    name = "clip"
    formula = "∂a = g·[low ≤ a ≤ high]"

    def forward(self, a, low=None, high=None):
        if low is None and high is None:
            raise ValueError("clip: give at least one of min and max")
        self.save(a)
        self.low, self.high = low, high
        return np.clip(a, low, high)

    def backward(self, g):
        (a,) = self.saved
        inside = np.ones(a.shape, dtype=bool)
        if self.low is not None:
            inside &= a >= self.low
        if self.high is not None:
            inside &= a <= self.high
        return (g * inside,)


class Maximum(Function):
    name = "maximum"
    formula = "∂a = g·[a > b] + ½g·[a = b],  ∂b = g·[b > a] + ½g·[a = b]"

    def forward(self, a, b):
        self.save(a, b)
        return np.maximum(a, b)

    def backward(self, g):
        a, b = self.saved
        return _share_by_mask(g, a, b, np.greater(a, b), self.needs_input_grad)


class Minimum(Function):
    name = "minimum"
    formula = "∂a = g·[a < b] + ½g·[a = b],  ∂b = g·[b < a] + ½g·[a = b]"

    def forward(self, a, b):
        self.save(a, b)
        return np.minimum(a, b)

    def backward(self, g):
        a, b = self.saved
        return _share_by_mask(g, a, b, np.less(a, b), self.needs_input_grad)


def _share_by_mask(g, a, b, a_wins, needs):
    """Gradient of an elementwise max/min: all to the winner, split evenly on ties (as PyTorch)."""
    share_a = a_wins + 0.5 * np.equal(a, b)
    share_a = share_a.astype(g.dtype, copy=False)
    return (unbroadcast(g * share_a, a.shape, a.dtype) if needs[0] else None,
            unbroadcast(g * (1 - share_a), b.shape, b.dtype) if needs[1] else None)


class Where(Function):
    name = "where"
    formula = "∂a = g·[cond],  ∂b = g·[not cond]"

    def forward(self, condition, a, b):
        condition = np.asarray(condition, dtype=bool)
        self.save(condition)
        self.shapes = (a.shape, a.dtype, b.shape, b.dtype)
        return np.where(condition, a, b)

    def backward(self, g):
        (condition,) = self.saved
        a_shape, a_dtype, b_shape, b_dtype = self.shapes
        zero = np.zeros((), dtype=g.dtype)
        _, need_a, need_b = self.needs_input_grad
        return (None,
                unbroadcast(np.where(condition, g, zero), a_shape, a_dtype) if need_a else None,
                unbroadcast(np.where(condition, zero, g), b_shape, b_dtype) if need_b else None)


class Cast(Function):
    name = "astype"
    formula = "∂a = g converted back to a's dtype"

    def forward(self, a, dtype):
        self.dtype = a.dtype
        return a.astype(dtype)

    def backward(self, g):
        return (g.astype(self.dtype),)
