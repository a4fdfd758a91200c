"""Softmax and log-softmax along an axis, numerically stable by construction.

Both subtract the maximum along the axis first: exp() then never sees a value above 0, so it
cannot overflow, and the result is unchanged because softmax(x − c) = softmax(x).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function


def _check_axis(op: str, axis: int, ndim: int) -> int:
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"{op}: axis {axis} is out of range for a tensor with {ndim} dimensions")
    return axis


class Softmax(Function):
    name = "softmax"
    formula = "∂a = y·(g − Σ(g·y))   (y = softmax(a), Σ along the axis)"

    def forward(self, a, axis=-1):
        self.axis = _check_axis(self.name, axis, a.ndim)
        y = np.exp(a - a.max(axis=axis, keepdims=True))
        y /= y.sum(axis=axis, keepdims=True)
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        gy = g * y
        return (gy - y * gy.sum(axis=self.axis, keepdims=True),)


class LogSoftmax(Function):
    name = "log_softmax"
    formula = "∂a = g − softmax(a)·Σg   (Σ along the axis)"

    def forward(self, a, axis=-1):
        self.axis = _check_axis(self.name, axis, a.ndim)
        shifted = a - a.max(axis=axis, keepdims=True)
        y = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))  # log-sum-exp
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        return (g - np.exp(y) * g.sum(axis=self.axis, keepdims=True),)
