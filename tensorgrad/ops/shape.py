"""Ops that move values around without changing them: reshape, transpose, expand and repeat,
indexing (gather, scatter_add, index_select), joining, and the triangle masks.

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
        return scatter(g, self.index, self.shape)


def scatter(g, index, shape):
    """A zero array of ``shape`` with ``g`` added at ``index``: the gradient of picking ``index``
    (repeated positions add up). On a Tensor ``g`` (a recorded backward) it is the op IndexAdd."""
    if not isinstance(g, np.ndarray):
        return IndexAdd.apply(g, index=index, shape=shape)
    grad = np.zeros(shape, dtype=g.dtype)
    if _picks_each_element_once(index):
        grad[index] = g
    else:  # x[[0, 0]] picks element 0 twice: its gradient is the sum of both
        np.add.at(grad, index, g)  # (27x slower than the assignment for a slice: only when needed)
    return grad


class IndexAdd(Function):
    name = "index_add"
    formula = "∂g = a[index]   (y = zeros with g added at index)"
    input_names = ("g",)

    def forward(self, g, index, shape):
        self.index = index
        return scatter(g, index, shape)

    def backward(self, gg):
        return gg[self.index]


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


class Expand(Function):
    formula = "∂a = g summed over the axes expand copied a along"

    def forward(self, a, shape):
        try:  # a read-only view, as NumPy's broadcast_to (no copy, as PyTorch's expand)
            return np.broadcast_to(a, shape)
        except ValueError:
            raise InputError(f"expand: cannot expand a tensor of shape {a.shape} to {tuple(shape)}: only axes "
                             "of length 1 can grow, and new axes go in front") from None

    def backward(self, g):
        return g  # the engine sums it back to a's shape, as for any broadcast


class Repeat(Function):
    formula = "∂a = g summed over the copies"

    def forward(self, a, repeats):
        repeats = tuple(repeats)
        if len(repeats) < a.ndim or any(r < 0 for r in repeats):
            raise InputError(f"repeat: needs a non-negative count for each of the {a.ndim} axes of shape {a.shape}, "
                             f"got {repeats}")
        self.shape, self.repeats = a.shape, repeats
        self.padded = (1,) * (len(repeats) - a.ndim) + a.shape  # new axes go in front, as PyTorch's repeat
        return np.tile(a.reshape(self.padded), repeats)

    def backward(self, g):
        # axis k of g is repeats[k] copies of length padded[k]: split it in two and sum the copies
        split = [n for pair in zip(self.repeats, self.padded) for n in pair]
        return g.reshape(split).sum(axis=tuple(range(0, len(split), 2))).reshape(self.shape)


class Triangle(Function):
    formula = "∂a = g with the same triangle kept"

    def forward(self, a, upper=False, diagonal=0):
        if a.ndim < 2:
            raise InputError(f"{'triu' if upper else 'tril'}: needs at least 2 dimensions, got shape {a.shape}")
        self.name = "triu" if upper else "tril"
        self.keep = (np.triu if upper else np.tril)(np.ones(a.shape[-2:], dtype=bool), diagonal)
        return np.where(self.keep, a, np.zeros((), a.dtype))

    def backward(self, g):
        return np.where(self.keep, g, np.zeros((), g.dtype))


def along(index: np.ndarray, axis: int) -> tuple:
    """The full index that ``index`` (integer positions along ``axis``) means in gather and
    scatter: every other axis indexed by its own position (NumPy's take_along_axis, spelled out)."""
    grid = list(np.indices(index.shape, sparse=True))
    grid[axis] = index
    return tuple(grid)


def _check_index(op: str, index: np.ndarray, axis: int, shape: tuple[int, ...]) -> None:
    if index.dtype.kind not in "iu":
        raise InputIndexError(f"{op}: index must hold integers, got dtype {index.dtype}")
    if index.size and (index.min() < -shape[axis] or index.max() >= shape[axis]):
        raise InputIndexError(f"{op}: index values from {index.min()} to {index.max()} do not fit axis {axis} "
                              f"of length {shape[axis]} (shape {shape})")


class Gather(Function):
    formula = "∂a = g added back at the gathered positions"
    input_names = ("a", "index")

    def forward(self, a, index, axis=0):
        axis = normalize_axis(self.name, axis, a.shape)
        if index.ndim != a.ndim or any(i > n for k, (i, n) in enumerate(zip(index.shape, a.shape)) if k != axis):
            raise InputIndexError(f"gather: index of shape {index.shape} does not fit input of shape {a.shape} "
                                  f"along axis {axis} (same number of axes, no longer than the input's off that axis)")
        _check_index(self.name, index, axis, a.shape)
        self.where, self.shape = along(index, axis), a.shape
        return a[self.where]

    def backward(self, g):
        return scatter(g, self.where, self.shape), None  # a position gathered twice gets both gradients


class ScatterAdd(Function):
    name = "scatter_add"
    formula = "∂a = g,  ∂src = g at the positions src was added to"
    input_names = ("a", "index", "src")

    def forward(self, a, index, src, axis=0):
        axis = normalize_axis(self.name, axis, a.shape)
        if index.ndim != a.ndim or src.ndim != a.ndim or any(i > n for i, n in zip(index.shape, src.shape)):
            raise InputIndexError(f"scatter_add: input {a.shape}, index {index.shape} and src {src.shape} need the "
                                  "same number of axes, with index no larger than src")
        _check_index(self.name, index, axis, a.shape)
        self.where = along(index, axis)
        self.used = tuple(slice(0, n) for n in index.shape)  # the part of src that index covers
        self.src_shape = src.shape
        out = a.astype(np.result_type(a, src), copy=True)
        np.add.at(out, self.where, src[self.used])
        return out

    def backward(self, g):
        return g, None, scatter(g[self.where], self.used, self.src_shape)


class IndexSelect(Function):
    name = "index_select"
    formula = "∂a = g added back at the selected rows"
    input_names = ("a", "index")

    def forward(self, a, index, axis=0):
        self.axis = normalize_axis(self.name, axis, a.shape)
        if index.ndim != 1:
            raise InputIndexError(f"index_select: index must be 1-D, got shape {index.shape}")
        _check_index(self.name, index, self.axis, a.shape)
        self.where, self.shape = (slice(None),) * self.axis + (index,), a.shape
        return np.take(a, index, axis=self.axis)

    def backward(self, g):
        return scatter(g, self.where, self.shape), None  # repeated rows add up
