"""Every differentiable op, one class each: forward, backward and the derivative formula together.

The functions below are the NumPy-style spellings of the multi-input ops
(``tg.where``, ``tg.maximum``, ``tg.minimum``, ``tg.concatenate``, ``tg.stack``).
"""
from __future__ import annotations

from typing import Any, Sequence

from ..autograd import Function
from .elementwise import (
    Abs, Add, Cast, Clip, Div, Exp, Gelu, Log, Maximum, Minimum, Mul, Neg, Pow, Relu, Sigmoid,
    Sqrt, Sub, Tanh, Where,
)
from .matmul import MatMul
from .reduce import Max, Mean, Min, Sum, Var
from .shape import Concatenate, GetItem, Reshape, Stack, Transpose
from .softmax import LogSoftmax, Softmax

__all__ = ["where", "maximum", "minimum", "concatenate", "stack", "all_ops"]


def where(condition: Any, a: Any, b: Any):
    """Elementwise ``a`` where ``condition`` is true, else ``b`` (broadcasting, as ``np.where``)."""
    return Where.apply(condition, a, b)


def maximum(a: Any, b: Any):
    """Elementwise larger of ``a`` and ``b`` (ties split the gradient)."""
    return Maximum.apply(a, b)


def minimum(a: Any, b: Any):
    """Elementwise smaller of ``a`` and ``b`` (ties split the gradient)."""
    return Minimum.apply(a, b)


def concatenate(tensors: Sequence[Any], axis: int = 0):
    """Join tensors along an existing axis, as ``np.concatenate``."""
    return Concatenate.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Any], axis: int = 0):
    """Join tensors along a new axis, as ``np.stack``."""
    return Stack.apply(*tensors, axis=axis)


def all_ops() -> list[type[Function]]:
    """Every op class, for documentation and for tests that check each has a formula."""
    seen: list[type[Function]] = []
    stack_ = [Function]
    while stack_:
        cls = stack_.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.append(sub)
                stack_.append(sub)
    return sorted((c for c in seen if c.formula), key=lambda c: c.name)
