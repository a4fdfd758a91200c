"""Reductions over axes: sum, mean, max, min, var.

Each takes ``axis`` (None for all axes, an int, or a tuple) and ``keepdims`` as NumPy does. In
backward the output gradient is first given back the reduced axes (as length-1 axes), then spread
over them by broadcasting.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function


def normalize_axes(op: str, axis, ndim: int) -> tuple[int, ...]:
    """``axis`` as a sorted tuple of non-negative axes, or a clear error naming ``op``."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    normalized = []
    for ax in axes:
        if not -ndim <= ax < max(ndim, 1):
            raise ValueError(f"{op}: axis {ax} is out of range for a tensor with {ndim} dimensions")
        normalized.append(int(ax) % max(ndim, 1))
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(normalized))


def expand_reduced(g: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """Put the reduced axes back into ``g`` as length-1 axes (a view, no copy)."""
    return g if keepdims else np.expand_dims(g, axes)


class Sum(Function):
    name = "sum"
    formula = "∂a = g broadcast over the summed axes"

    def forward(self, a, axis=None, keepdims=False):
        self.axes = normalize_axes(self.name, axis, a.ndim)
        self.keepdims, self.shape = keepdims, a.shape
        return np.sum(a, axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        return (np.broadcast_to(expand_reduced(g, self.axes, self.keepdims), self.shape),)


class Mean(Function):
    name = "mean"
    formula = "∂a = g/N broadcast over the averaged axes (N values averaged)"

    def forward(self, a, axis=None, keepdims=False):
        self.axes = normalize_axes(self.name, axis, a.ndim)
        self.keepdims, self.shape = keepdims, a.shape
        self.count = int(np.prod([a.shape[i] for i in self.axes]))
        return np.mean(a, axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        g = expand_reduced(g, self.axes, self.keepdims) * (1.0 / self.count)
        return (np.broadcast_to(g, self.shape),)


class Max(Function):
    name = "max"
    formula = "∂a = g·[a = max]/(number of maxima)   (ties share)"
    reduce = staticmethod(np.max)

    def forward(self, a, axis=None, keepdims=False):
        self.axes = normalize_axes(self.name, axis, a.ndim)
        if a.size == 0:
            raise ValueError(f"{self.name}: cannot reduce an empty tensor of shape {a.shape}")
        self.keepdims = keepdims
        y = self.reduce(a, axis=self.axes, keepdims=True)
        self.save(a, y)
        return y if keepdims else np.squeeze(y, axis=self.axes)

    def backward(self, g):
        a, y = self.saved
        winners = (a == y).astype(a.dtype)
        winners /= winners.sum(axis=self.axes, keepdims=True)
        return (winners * expand_reduced(g, self.axes, self.keepdims),)


class Min(Max):
    name = "min"
    formula = "∂a = g·[a = min]/(number of minima)   (ties share)"
    reduce = staticmethod(np.min)


class Var(Function):
    name = "var"
    formula = "∂a = g·2(a − mean)/(N − ddof)"

    def forward(self, a, axis=None, keepdims=False, ddof=0):
        self.axes = normalize_axes(self.name, axis, a.ndim)
        self.keepdims = keepdims
        count = int(np.prod([a.shape[i] for i in self.axes]))
        if count - ddof <= 0:
            raise ValueError(f"var: {count} values with ddof={ddof} leave no degrees of freedom")
        self.scale = 2.0 / (count - ddof)
        centered = a - np.mean(a, axis=self.axes, keepdims=True)
        self.save(centered)
        return np.sum(centered * centered, axis=self.axes, keepdims=keepdims) * (1.0 / (count - ddof))

    def backward(self, g):
        (centered,) = self.saved
        return (centered * (expand_reduced(g, self.axes, self.keepdims) * self.scale),)
