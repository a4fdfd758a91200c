"""Softmax and log-softmax along an axis, numerically stable by construction.

Both subtract the maximum along the axis first: exp() then never sees a value above 0, so it
cannot overflow, and the result is unchanged because softmax(x − c) = softmax(x).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ._args import normalize_axes


class Softmax(Function):
    formula = "∂a = y·(g − Σ(g·y))   (y = softmax(a), Σ along the axis)"

    def forward(self, a, axis=-1):
        self.axis = normalize_axes(self.name, axis, a.shape)  # (axis,), or () for a 0-d tensor
        y = np.exp(a - a.max(axis=self.axis, keepdims=True))
        y /= y.sum(axis=self.axis, keepdims=True)
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        return y * (g - (g * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    name = "log_softmax"
    formula = "∂a = g − softmax(a)·Σg   (Σ along the axis)"

    def forward(self, a, axis=-1):
        self.axis = normalize_axes(self.name, axis, a.shape)  # (axis,), or () for a 0-d tensor
        shifted = a - a.max(axis=self.axis, keepdims=True)
        y = shifted - np.log(np.exp(shifted).sum(axis=self.axis, keepdims=True))  # log-sum-exp
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        return g - np.exp(y) * g.sum(axis=self.axis, keepdims=True)
