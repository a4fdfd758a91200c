"""Ops that move values around without changing them: reshape, transpose, indexing, joining."""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor


class Reshape(Function):
    name = "reshape"
    formula = "∂a = g reshaped back to a's shape"

    def forward(self, a, shape):
        self.shape = a.shape
        try:
            if min(shape, default=0) < -1:  # (a tuple: Tensor.reshape makes one) NumPy takes any negative as -1
                raise ValueError
            return a.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} values) into {tuple(shape)}"
            ) from None

    def backward(self, g):
        return (g.reshape(self.shape),)


class Transpose(Function):
    name = "transpose"
    formula = "∂a = g with the axes permuted back"

    def forward(self, a, axes=None):
        if axes is not None and sorted(int(ax) % max(a.ndim, 1) for ax in axes) != list(range(a.ndim)):
            raise ValueError(f"transpose: axes {tuple(axes)} are not a permutation of the {a.ndim} axes of shape {a.shape}")
        self.axes = axes
        return np.transpose(a, axes)

    def backward(self, g):
        inverse = None if self.axes is None else np.argsort([ax % g.ndim for ax in self.axes])
        return (np.transpose(g, inverse),)


def _is_basic_index(index) -> bool:
    """True when indexing picks each element at most once (ints, slices, None, ..., bool masks)."""
    items = index if isinstance(index, tuple) else (index,)
    for item in items:
        if isinstance(item, (np.ndarray, list)) and np.asarray(item).dtype != bool:
            return False
    return True


class GetItem(Function):
    name = "getitem"
    formula = "∂a = g scattered back to the indexed positions (repeated indices add up)"

    def forward(self, a, index):
        # a Tensor used as an index (e.g. labels) means its values
        if isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        elif isinstance(index, Tensor):
            index = index.data
        self.index, self.shape, self.dtype = index, a.shape, a.dtype
        try:
            return a[index]
        except IndexError as err:
            raise IndexError(f"getitem: index {_describe_index(index)} does not fit shape {a.shape}: {err}") from None

    def backward(self, g):
        grad = np.zeros(self.shape, dtype=self.dtype)
        if _is_basic_index(self.index):
            grad[self.index] = g
        else:
            np.add.at(grad, self.index, g)  # the same element may be picked several times
        return (grad,)


def _describe_index(index) -> str:
    items = index if isinstance(index, tuple) else (index,)
    parts = [f"array{np.shape(i)} {np.asarray(i).dtype}" if isinstance(i, (np.ndarray, list)) else repr(i)
             for i in items]
    return "[" + ", ".join(parts) + "]"


class Concatenate(Function):
    name = "concatenate"
    formula = "∂aᵢ = the slice of g that aᵢ occupies"

    def forward(self, *arrays, axis=0):
        if not arrays:
            raise ValueError("concatenate: needs at least one tensor")
        self.axis = axis
        self.dtypes = [a.dtype for a in arrays]
        try:
            joined = np.concatenate(arrays, axis=axis)
        except (ValueError, np.exceptions.AxisError) as err:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"concatenate: cannot join shapes [{shapes}] along axis {axis}: {err}") from None
        self.sizes = [a.shape[axis] for a in arrays]  # every input has that axis, or NumPy refused
        return joined

    def backward(self, g):
        pieces = np.split(g, np.cumsum(self.sizes)[:-1], axis=self.axis)
        return tuple(p.astype(dt, copy=False) for p, dt in zip(pieces, self.dtypes))


class Stack(Function):
    name = "stack"
    formula = "∂aᵢ = g[..., i, ...] (the i-th entry along the new axis)"

    def forward(self, *arrays, axis=0):
        if not arrays:
            raise ValueError("stack: needs at least one tensor")
        self.dtypes = [a.dtype for a in arrays]
        try:
            y = np.stack(arrays, axis=axis)
        except (ValueError, np.exceptions.AxisError) as err:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"stack: cannot stack shapes [{shapes}] along axis {axis}: {err}") from None
        self.axis = axis % y.ndim
        return y

    def backward(self, g):
        pieces = np.moveaxis(g, self.axis, 0)
        return tuple(p.astype(dt, copy=False) for p, dt in zip(pieces, self.dtypes))
