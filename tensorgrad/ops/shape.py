"""Ops that move values around without changing them: reshape, transpose, indexing, joining.

Their backward moves the gradient back the same way: each value's gradient returns to where
the value came from.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..errors import InputError, InputIndexError
from ._args import normalize_axis


class Reshape(Function):
    formula = "∂a = g reshaped back to a's shape"

    def forward(self, a, shape):
        self.shape = a.shape
        try:
            if any(n < -1 for n in shape):  # NumPy would take any negative size as -1
                raise ValueError
            return a.reshape(shape)
        except ValueError:
            raise InputError(f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} values) "
                             f"into {tuple(shape)}") from None

    def backward(self, g):
        return g.reshape(self.shape)


class Transpose(Function):
    formula = "∂a = g with the axes permuted back"

    def forward(self, a, axes=None):
        if axes is not None:
            axes = tuple(normalize_axis(self.name, ax, a.shape) for ax in axes)
            if sorted(axes) != list(range(a.ndim)):
                raise InputError(f"transpose: axes {axes} are not a permutation of the {a.ndim} axes of shape {a.shape}")
        self.axes = axes
        return np.transpose(a, axes)

    def backward(self, g):
        return np.transpose(g, None if self.axes is None else np.argsort(self.axes))  # the inverse permutation


class GetItem(Function):
    formula = "∂a = g scattered back to the indexed positions (repeated indices add up)"

    def forward(self, a, index):
        self.index, self.shape = index, a.shape
        try:
            return a[index]
        except IndexError as err:
            raise InputIndexError(f"getitem: index {_describe_index(index)} does not fit shape {a.shape}: {err}") from None

    def backward(self, g):
        grad = np.zeros(self.shape, dtype=g.dtype)
        if _picks_each_element_once(self.index):
            grad[self.index] = g
        else:  # x[[0, 0]] picks element 0 twice: its gradient is the sum of both
            np.add.at(grad, self.index, g)  # (27x slower than the assignment for a slice: only when needed)
        return grad


def _picks_each_element_once(index) -> bool:
    """True for ints, slices, None, ... and boolean masks; False for an integer array, which may
    repeat an index."""
    items = index if isinstance(index, tuple) else (index,)
    return not any(isinstance(item, (np.ndarray, list)) and np.asarray(item).dtype != bool for item in items)


def _describe_index(index) -> str:
    items = index if isinstance(index, tuple) else (index,)
    parts = [f"array{np.shape(i)} {np.asarray(i).dtype}" if isinstance(i, (np.ndarray, list)) else repr(i)
             for i in items]
    return "[" + ", ".join(parts) + "]"


class Concatenate(Function):
    formula = "∂aᵢ = the slice of g that aᵢ occupies"

    def forward(self, *arrays, axis=0):
        if not arrays:
            raise InputError("concatenate: needs at least one tensor")
        try:
            joined = np.concatenate(arrays, axis=axis)
        except (ValueError, np.exceptions.AxisError) as err:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise InputError(f"concatenate: cannot join shapes [{shapes}] along axis {axis}: {err}") from None
        self.axis = axis
        self.sizes = [a.shape[axis] for a in arrays]  # every input has that axis, or NumPy refused
        return joined

    def backward(self, g):
        return np.split(g, np.cumsum(self.sizes)[:-1], axis=self.axis)


class Stack(Function):
    formula = "∂aᵢ = g[..., i, ...] (the i-th entry along the new axis)"

    def forward(self, *arrays, axis=0):
        if not arrays:
            raise InputError("stack: needs at least one tensor")
        try:
            y = np.stack(arrays, axis=axis)
        except (ValueError, np.exceptions.AxisError) as err:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise InputError(f"stack: cannot stack shapes [{shapes}] along axis {axis}: {err}") from None
        self.axis = normalize_axis(self.name, axis, y.shape)
        return y

    def backward(self, g):
        return tuple(np.moveaxis(g, self.axis, 0))
