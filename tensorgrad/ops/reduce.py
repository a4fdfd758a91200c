"""Reductions over axes: sum, mean, max, min, var, log-sum-exp, the 2-norm; and the cumulative sum.

Each takes ``axis`` (None for all axes, an int, or a tuple) and ``keepdims`` as NumPy does. In
backward the output gradient first gets the reduced axes back (as length-1 axes), then spreads
over them by broadcasting: every input element that went into a sum receives its gradient.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..errors import InputError
from ._args import normalize_axes


_ones_by_dtype: dict[np.dtype, np.ndarray] = {}


def column_sums(matrix: np.ndarray) -> np.ndarray:
    """Σ over the rows of a 2-D ``matrix``, as ``ones @ matrix``: one BLAS matrix-vector product,
    ~5x faster than ``matrix.sum(axis=0)`` for a few columns (a bias gradient, BatchNorm's
    statistics), whose loop adds row by row. The vector of ones is kept per dtype and grown as
    needed (any thread may replace it: each one it makes is all ones)."""
    ones = _ones_by_dtype.get(matrix.dtype)
    if ones is None or ones.shape[0] < matrix.shape[0]:
        ones = np.ones(matrix.shape[0], matrix.dtype)
        ones.flags.writeable = False
        _ones_by_dtype[matrix.dtype] = ones
    return ones[:matrix.shape[0]] @ matrix


def expand_reduced(g: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """Put the reduced axes back into ``g`` as length-1 axes (a view, no copy)."""
    return g if keepdims else np.expand_dims(g, axes)


class Sum(Function):
    formula = "∂a = g broadcast over the summed axes"

    def forward(self, a, axis=None, keepdims=False):
        self.axes = normalize_axes(self.name, axis, a.shape)
        self.keepdims, self.shape = keepdims, a.shape
        return np.sum(a, axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        return np.broadcast_to(expand_reduced(g, self.axes, self.keepdims), self.shape)


class Mean(Function):
    formula = "∂a = g/N broadcast over the averaged axes (N values averaged)"

    def forward(self, a, axis=None, keepdims=False):
        self.axes = normalize_axes(self.name, axis, a.shape)
        self.keepdims, self.shape = keepdims, a.shape
        self.count = int(np.prod([a.shape[i] for i in self.axes]))
        return np.mean(a, axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        return np.broadcast_to(expand_reduced(g, self.axes, self.keepdims) / self.count, self.shape)


class Max(Function):
    formula = "∂a = g·[a = max]/(number of maxima)   (ties share)"
    reduce = staticmethod(np.max)

    def forward(self, a, axis=None, keepdims=False):
        self.axes = normalize_axes(self.name, axis, a.shape)
        if a.size == 0:
            raise InputError(f"{self.name}: cannot reduce an empty tensor of shape {a.shape}")
        self.keepdims = keepdims
        y = self.reduce(a, axis=self.axes, keepdims=True)
        self.save(a, y)
        return y if keepdims else np.squeeze(y, axis=self.axes)

    def backward(self, g):
        a, y = self.saved
        winners = a == y
        count = np.sum(winners, axis=self.axes, keepdims=True, dtype=g.dtype)  # maxima per reduced slice
        return winners * (expand_reduced(g, self.axes, self.keepdims) / count)


class Min(Max):
    formula = "∂a = g·[a = min]/(number of minima)   (ties share)"
    reduce = staticmethod(np.min)


class Var(Function):
    formula = "∂a = g·2(a − mean)/(N − ddof)"

    def forward(self, a, axis=None, keepdims=False, ddof=0):
        self.axes = normalize_axes(self.name, axis, a.shape)
        self.keepdims = keepdims
        count = int(np.prod([a.shape[i] for i in self.axes]))
        if count - ddof <= 0:
            raise InputError(f"var: {count} values with ddof={ddof} leave no degrees of freedom")
        self.divisor = count - ddof
        centered = a - np.mean(a, axis=self.axes, keepdims=True)
        self.save(centered)
        return np.sum(centered * centered, axis=self.axes, keepdims=keepdims) / self.divisor

    def backward(self, g):
        (centered,) = self.saved
        return expand_reduced(g, self.axes, self.keepdims) * 2 * centered / self.divisor

    def composite(self, a):  # for gradients of gradients: `centered` depends on a
        centered = a - a.mean(axis=self.axes, keepdims=True)
        return (centered * centered).sum(axis=self.axes, keepdims=self.keepdims) / self.divisor


class LogSumExp(Function):
    name = "logsumexp"
    formula = "∂a = g·softmax(a)   (= g·e^(a − y) over the reduced axes)"

    def forward(self, a, axis=None, keepdims=False):
        self.axes = normalize_axes(self.name, axis, a.shape)
        self.keepdims = keepdims
        top = np.max(a, axis=self.axes, keepdims=True) if a.size else np.zeros((1,) * a.ndim, a.dtype)
        top = np.where(np.isfinite(top), top, 0)  # all −inf (or inf) along an axis: nothing to shift
        y = top + np.log(np.sum(np.exp(a - top), axis=self.axes, keepdims=True))  # stable: exp of values <= 0
        self.save(a, y)
        return y if keepdims else np.squeeze(y, axis=self.axes)

    def backward(self, g):
        a, y = self.saved
        return expand_reduced(g, self.axes, self.keepdims) * np.exp(a - y)

    def composite(self, a):  # for gradients of gradients: y (kept with its axes) depends on a
        top = np.max(a.data, axis=self.axes, keepdims=True)
        top = np.where(np.isfinite(top), top, 0)
        y = (a - top).exp().sum(axis=self.axes, keepdims=True).log() + top
        return y if self.keepdims else y.reshape(np.squeeze(y.data, axis=self.axes).shape)


class Norm(Function):
    formula = "∂a = g·a/y   (y = ‖a‖, the 2-norm; 0 where y = 0)"

    def forward(self, a, axis=None, keepdims=False):
        self.axes = normalize_axes(self.name, axis, a.shape)
        self.keepdims = keepdims
        y = np.sqrt(np.sum(a * a, axis=self.axes, keepdims=True))
        self.save(a, y)
        return y if keepdims else np.squeeze(y, axis=self.axes)

    def backward(self, g):
        a, y = self.saved
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(y == 0, 0, expand_reduced(g, self.axes, self.keepdims) * a / y)  # a subgradient at 0, as PyTorch

    def composite(self, a):  # for gradients of gradients: y (kept with its axes) depends on a
        return (a * a).sum(axis=self.axes, keepdims=self.keepdims).sqrt()


class CumSum(Function):
    formula = "∂a = the cumulative sum of g taken from the end"

    def forward(self, a, axis=0):
        self.axis = normalize_axes(self.name, axis, a.shape)  # (axis,), or () for a 0-d tensor
        return np.cumsum(a, axis=self.axis[0]) if self.axis else a.copy()

    def backward(self, g):
        if not self.axis:
            return g
        axis = self.axis[0]  # each a[i] went into every y[j] with j >= i
        return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)
