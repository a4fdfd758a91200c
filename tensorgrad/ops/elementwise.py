"""Elementwise ops: arithmetic (with NumPy broadcasting), activation functions, and masks.

Notation in the formulas: ``g`` is the gradient arriving from the op's output, ``y`` the op's
output, ``a``/``b`` its inputs. A backward returns each gradient in the broadcast shape of the
computation (``g * b`` may be larger than ``a``); the engine sums it back to the input's shape
(``autograd.fit_gradient``), so each backward below is only the derivative.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..autograd import Function
from ..errors import InputError
from ._erf import erf

# Python floats, not NumPy float64 scalars: they must not promote a float32 array to float64
_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# ---------------------------------------------------------------------------------- arithmetic
class Add(Function):
    formula = "∂a = g,  ∂b = g"

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    formula = "∂a = g,  ∂b = −g"

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, -g


class Mul(Function):
    formula = "∂a = g·b,  ∂b = g·a"

    def forward(self, a, b):
        self.save(a, b)
        return a * b

    def backward(self, g):
        a, b = self.saved
        return g * b, g * a


class Div(Function):
    formula = "∂a = g/b,  ∂b = −g·a/b²"

    def forward(self, a, b):
        self.save(a, b)
        return a / b

    def backward(self, g):
        a, b = self.saved
        return g / b, -g * a / (b * b)


class Neg(Function):
    formula = "∂a = −g"

    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


class Pow(Function):
    formula = "∂a = g·b·a^(b−1),  ∂b = g·a^b·ln a"

    def forward(self, a, b):
        y = a ** b
        self.save(a, b, y)
        return y

    def backward(self, g):
        a, b, y = self.saved
        need_a, need_b = self.needs_input_grad
        grad_a = g * b * a ** (b - 1) if need_a else None
        grad_b = None
        if need_b:  # (skipped for a constant exponent, x ** 2: the log would warn for a < 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                # a^b·ln a -> 0 where a = 0 (the limit for b > 0), as PyTorch does
                grad_b = g * np.where(a == 0, 0, y * np.log(np.where(a == 0, 1, a)))
        return grad_a, grad_b


class Exp(Function):
    formula = "∂a = g·y   (y = eᵃ)"

    def forward(self, a):
        y = np.exp(a)
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        return g * y


class Log(Function):
    formula = "∂a = g/a"

    def forward(self, a):
        self.save(a)
        return np.log(a)

    def backward(self, g):
        (a,) = self.saved
        return g / a


class Sqrt(Function):
    formula = "∂a = g/(2y)   (y = √a)"

    def forward(self, a):
        y = np.sqrt(a)
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        return g / (2 * y)


class Abs(Function):
    formula = "∂a = g·sign(a)   (0 at a = 0)"

    def forward(self, a):
        self.save(a)
        return np.abs(a)

    def backward(self, g):
        (a,) = self.saved
        return g * np.sign(a)


class Sin(Function):
    formula = "∂a = g·cos a"

    def forward(self, a):
        self.save(a)
        return np.sin(a)

    def backward(self, g):
        (a,) = self.saved
        return g * np.cos(a)


class Cos(Function):
    formula = "∂a = −g·sin a"

    def forward(self, a):
        self.save(a)
        return np.cos(a)

    def backward(self, g):
        (a,) = self.saved
        return -g * np.sin(a)


# --------------------------------------------------------------------------------- activations
class Activation(Function):
    """An activation whose derivative is written from its output y alone: ``activate`` and
    ``slope`` are the whole op. A Linear or Conv2d node fused with an activation (see
    ``model.fuse()``) calls the same two functions on its own output, with ``out=`` that output:
    in place, while it is in the CPU cache."""

    @staticmethod
    def activate(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def slope(g: np.ndarray, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:  # pragma: no cover
        """g times the derivative, from the output y (into ``out`` if given)."""
        raise NotImplementedError

    def forward(self, a):
        y = self.activate(a)
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        return self.slope(g, y)


class Relu(Activation):
    formula = "∂a = g·[a > 0]"

    @staticmethod
    def activate(a, out=None):
        return np.maximum(a, 0, out=out)

    @staticmethod
    def slope(g, y, out=None):
        return np.multiply(g, y > 0, out=out)  # y > 0 exactly where a > 0


class Sigmoid(Activation):
    formula = "∂a = g·y·(1 − y)   (y = σ(a))"

    @staticmethod
    def activate(a, out=None):
        # For a < −88 (float32) e^−a overflows to inf and 1/(1 + inf) = 0, the right limit:
        # IEEE arithmetic keeps σ stable, so only NumPy's overflow warning is silenced.
        with np.errstate(over="ignore"):
            if out is None:
                return 1 / (1 + np.exp(-a))
            np.exp(np.negative(a, out=out), out=out)  # a fused layer's output, in place: no temporaries
        out += 1
        return np.reciprocal(out, out=out)

    @staticmethod
    def slope(g, y, out=None):
        slope = np.subtract(1, y, out=out)  # one array, then in place (these run on every layer of a sigmoid MLP)
        slope *= y     # σ' = y·(1 − y)
        slope *= g
        return slope


class Tanh(Activation):
    formula = "∂a = g·(1 − y²)   (y = tanh a)"

    @staticmethod
    def activate(a, out=None):
        return np.tanh(a, out=out)

    @staticmethod
    def slope(g, y, out=None):
        slope = 1 - y * y  # tanh' = 1 − y²
        if out is not None:
            return np.multiply(slope, g, out=out)
        slope *= g         # in place: one array fewer
        return slope


#: the activations a Linear, Conv2d or BatchNorm node can fuse, by the name of their ``activation`` option
FUSABLE_ACTIVATIONS: dict[str, type[Activation]] = {"relu": Relu, "sigmoid": Sigmoid, "tanh": Tanh}


def activation_op(op: str, activation: str | None) -> type[Activation] | None:
    """The op class of a layer's ``activation`` option (its ``activate``, ``slope`` and
    ``apply``), or None; an error naming ``op`` for a name it cannot fuse."""
    if activation is None:
        return None
    if activation not in FUSABLE_ACTIVATIONS:
        raise InputError(f"{op}: activation must be None or one of {sorted(FUSABLE_ACTIVATIONS)}, "
                         f"got {activation!r}")
    return FUSABLE_ACTIVATIONS[activation]


def fused_activation(node: Function, activation: str | None) -> type[Activation] | None:
    """Check a layer's ``activation`` option and return the activation's op class, or None
    (activation_op); a fused node is named for both ("linear+relu")."""
    stage = activation_op(node.name, activation)
    if stage is not None:
        name_fused_node(node, type(node), stage)
    return stage


def name_fused_node(node: Function, *stages: type[Function]) -> None:
    """Give a node that computes several ops in a row their names ("conv2d+relu+max_pool2d"),
    the list of them (``node.fused``) and every formula, in backward order (the last op's first),
    as tg.trace and tg.draw show them."""
    node.fused, node.name, node.formula = _fused_description(stages)


@functools.lru_cache(maxsize=None)
def _fused_description(stages: tuple[type[Function], ...]) -> tuple[tuple[str, ...], str, str]:
    first, after = stages[0], stages[1:]
    formula = "".join(f"{stage.name}: {stage.formula};  then " for stage in reversed(after))
    return tuple(stage.name for stage in stages), "+".join(stage.name for stage in stages), \
        f"{formula}{first.name}, with g = ∂a: {first.formula}"


class Gelu(Function):
    formula = "∂a = g·(Φ(a) + a·φ(a))   (y = a·Φ(a), Φ the normal CDF, φ its density)"

    def forward(self, a, approximate="none"):
        if approximate == "none":
            cdf = 0.5 * (1 + erf(a / _SQRT_2))
        elif approximate == "tanh":  # Φ(a) ≈ ½·(1 + tanh(√(2/π)·(a + 0.044715·a³)))
            cdf = 0.5 * (1 + np.tanh(_SQRT_2_OVER_PI * (a + 0.044715 * a ** 3)))
        else:
            raise InputError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate
        self.save(a, cdf)
        return a * cdf

    def backward(self, g):
        a, cdf = self.saved
        if self.approximate == "tanh":  # the derivative of the approximation itself
            tanh_term = 2 * cdf - 1
            inner_slope = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * a * a)
            return g * (cdf + a * 0.5 * (1 - tanh_term * tanh_term) * inner_slope)
        density = _INV_SQRT_2PI * np.exp(-0.5 * a * a)  # φ(a)
        return g * (cdf + a * density)

    def composite(self, a):  # for gradients of gradients: the saved cdf depends on a
        if self.approximate == "tanh":
            return a * 0.5 * (1 + (_SQRT_2_OVER_PI * (a + 0.044715 * a * a * a)).tanh())
        return a * 0.5 * (1 + Erf.apply(a / _SQRT_2))


class Softplus(Function):
    formula = "∂a = g·σ(a)   (y = log(1 + eᵃ))"

    def forward(self, a):
        self.save(a)
        return np.logaddexp(0, a)  # log(e⁰ + eᵃ), without overflow for large a

    def backward(self, g):
        (a,) = self.saved
        return g * (0.5 * (1 + np.tanh(0.5 * a)))  # σ(a) without overflow for any a


class Erf(Function):
    formula = "∂a = g·1.128·e^(−a²)   (2/√pi = 1.128)"

    def forward(self, a):
        self.save(a)
        return erf(a)

    def backward(self, g):
        (a,) = self.saved
        return g * _TWO_OVER_SQRT_PI * np.exp(-a * a)


# -------------------------------------------------------------------------- selection and masks
class Clip(Function):
    formula = "∂a = g·[low ≤ a ≤ high]"

    def forward(self, a, low=None, high=None):
        if low is None and high is None:
            raise InputError("clip: give at least one of min and max")
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
        return g * inside


class Maximum(Function):
    formula = "∂a = g·[a > b] + ½g·[a = b],  ∂b = g·[b > a] + ½g·[a = b]"

    def forward(self, a, b):
        self.save(a, b)
        return np.maximum(a, b)

    def backward(self, g):
        a, b = self.saved
        share_a = (a > b) + 0.5 * (a == b)  # ties split the gradient evenly, as PyTorch
        return g * share_a, g * (1 - share_a)


class Minimum(Function):
    formula = "∂a = g·[a < b] + ½g·[a = b],  ∂b = g·[b < a] + ½g·[a = b]"

    def forward(self, a, b):
        self.save(a, b)
        return np.minimum(a, b)

    def backward(self, g):
        a, b = self.saved
        share_a = (a < b) + 0.5 * (a == b)
        return g * share_a, g * (1 - share_a)


class Where(Function):
    formula = "∂a = g·[cond],  ∂b = g·[not cond]"
    input_names = ("cond", "a", "b")

    def forward(self, condition, a, b):
        condition = np.asarray(condition, dtype=bool)
        self.save(condition)
        return np.where(condition, a, b)

    def backward(self, g):
        (condition,) = self.saved
        return None, np.where(condition, g, 0), np.where(condition, 0, g)


class Dropout(Function):
    formula = "∂x = g·mask/(1 − p)   (mask: the units kept in forward)"
    input_names = ("x", "mask")

    def forward(self, x, scaled_mask):
        self.save(scaled_mask)
        return x * scaled_mask

    def backward(self, g):
        (scaled_mask,) = self.saved
        return g * scaled_mask, None


class Cast(Function):
    name = "astype"
    formula = "∂a = g   (the engine converts it back to a's dtype)"

    def forward(self, a, dtype):
        return a.astype(dtype)

    def backward(self, g):
        return g
