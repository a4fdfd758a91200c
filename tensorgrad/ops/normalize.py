"""Normalization: x̂ = (x − mean) / √(var + eps) over some axes (the biased variance, as the layers
normalize). Every x moves the mean and the variance, so each input's gradient has two terms
besides g/σ (the "coupling" of notebook 06's exercise 7).

- ``Normalize``: the normalization alone, over any axes; LayerNorm and GroupNorm are it then
  ``·w + b`` as ordinary ops. Read this one first.
- ``BatchNorm``: what BatchNorm1d/2d train with, the same numbers as Normalize over every axis
  but the channels then ``·w + b`` (then an activation, when fused), in one node: its backward is
  the formula a hand-written BatchNorm backward must arrive at, and it runs 2.9-4.2x faster than
  the three nodes on a small CNN's BatchNorm2d, 1.7x on a BatchNorm1d (statistics as
  matrix-vector products, no broadcast gradients to sum back; ``benchmarks/batch_norm.py``).
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from ..autograd import Function
from ..errors import InputError
from ..speed import parallel
from ._args import check_floating, normalize_axes
from .elementwise import fused_activation
from .reduce import column_sums


class Normalize(Function):
    formula = "∂x = (g − mean(g) − n·mean(g·n))/σ   (n = (x − mean)/σ the output, σ = √(var + eps), means over the axes)"
    input_names = ("x",)

    def forward(self, x, axes, eps=1e-5):
        self.axes = normalize_axes(self.name, axes, x.shape)
        self.eps = eps
        mean = x.mean(axis=self.axes, keepdims=True)
        centered = x - mean
        inv_std = 1.0 / np.sqrt((centered * centered).mean(axis=self.axes, keepdims=True) + eps)
        normalized = centered * inv_std
        self.save(normalized, inv_std)
        return normalized

    def backward(self, g):
        normalized, inv_std = self.saved
        mean_g = g.mean(axis=self.axes, keepdims=True)
        mean_gx = (g * normalized).mean(axis=self.axes, keepdims=True)
        return (g - mean_g - normalized * mean_gx) * inv_std

    def composite(self, x):  # for gradients of gradients: x̂ and σ depend on x
        centered = x - x.mean(axis=self.axes, keepdims=True)
        return centered / ((centered * centered).mean(axis=self.axes, keepdims=True) + self.eps).sqrt()


class BatchNorm(Function):
    """Batch normalization in training, one node: each channel (axis 1) of x normalized with the
    batch's own mean and biased variance over every other axis, then scaled and shifted per
    channel, then the optional activation: y = act(x̂·w + b), x̂ = (x − mean)/σ, σ = √(var + eps).

    ``BatchNorm.apply(x, w, b, eps=1e-5)``; ``BatchNorm.apply(x)`` without the scale and shift.
    Given ``running_mean`` and ``running_var`` arrays, forward also moves them ``momentum`` of the
    way to the batch's mean and unbiased variance, in place (PyTorch's batch_norm does the same).

    The same numbers as ``Normalize`` over the axes (0, 2, 3, ...) then ``·w + b``, which is how
    LayerNorm and GroupNorm are built (read that op first). This node is what BatchNorm1d/2d train
    with, for speed and for its formula: it is the backward a hand-written BatchNorm must arrive
    at, the scale w/σ on the normalization's "coupling" terms included. The statistics are
    matrix-vector products over x seen as a (values, channels) matrix: a view, no copy, for
    (N, C) rows and for channels-last images (every convolution's output).
    """

    name = "batch_norm"
    formula = ("∂x = (w/σ)·(g − mean(g) − n·mean(g·n)),  ∂w = Σ g·n,  ∂b = Σ g   "
               "(n = (x − mean)/σ the normalized x; means and sums over every axis but the channels)")

    def forward(self, x, weight=None, bias=None, eps=1e-5, momentum=0.1, running_mean=None, running_var=None,
                activation=None):
        if x.ndim < 2:
            raise InputError(f"batch_norm: input must be (N, C) or (N, C, ...), got shape {x.shape}")
        check_floating(self.name, "input", x)
        C = x.shape[1]
        for what, param in (("weight", weight), ("bias", bias)):
            if param is not None and param.shape != (C,):
                raise InputError(f"batch_norm: {what} must have shape ({C},) for an input with {C} channels on "
                                 f"axis 1, got {param.shape} (input {x.shape})")
        self.activation = fused_activation(self, activation)
        self.eps, self.axes = eps, (0,) + tuple(range(2, x.ndim))  # (the axes: for tg.onnx and composite)
        dtype = np.result_type(*(a for a in (x, weight, bias) if a is not None))
        rows, self.shape_back = _channel_rows(x, dtype)
        M = rows.shape[0]
        if M < 2:
            raise InputError(f"batch_norm: expected more than 1 value per channel when training, got input shape {x.shape}")
        # Three passes over x, each by shares of its rows (a few at a time, in the CPU cache, on
        # tensorgrad's threads): the mean; x − mean and its variance; the output. x̂ is never
        # stored: the output is (x − mean)·(w/σ) + b, and backward works from x − mean.
        by_shares = functools.partial(_by_shares, rows)
        mean = _added(by_shares(lambda r: column_sums(rows[r]))) / M
        centered, mean_wide = np.empty_like(rows), _wide(mean, rows)

        def center(r: slice) -> tuple[np.ndarray, np.ndarray]:
            part = _per_channel(np.subtract, rows[r], mean_wide, centered[r])
            return column_sums(part), _column_dots(part, part)

        # the float32 sum behind mean is off by up to ~1e-6 of the values: centered's own mean,
        # the error, corrects it (x − mean is then centered − error, as the shifts below say)
        error, squares = _added(by_shares(center))
        error /= M
        var = squares / M - error * error                            # Σ (x − mean)² / M
        inv_std = 1.0 / np.sqrt(var + eps)
        scale = inv_std if weight is None else inv_std * weight      # w/σ
        shift = (0 if bias is None else bias) - error * scale
        mean += error
        y = np.empty_like(rows)
        scale_wide, shift_wide = _wide(scale, rows), _wide(shift, rows)

        def output(r: slice) -> None:
            part = _per_channel(np.multiply, centered[r], scale_wide, y[r])
            _per_channel(np.add, part, shift_wide, part)
            if self.activation is not None:
                self.activation.activate(part, out=part)

        by_shares(output)
        if running_mean is not None:  # PyTorch's update: unbiased variance, momentum of the way
            running_mean *= 1 - momentum
            running_mean += momentum * mean
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += momentum * M / (M - 1) * var
        self.save(centered, error, inv_std, scale, y if self.activation else None)
        return self.shape_back(y)

    def backward(self, g):
        centered, error, inv_std, scale, y = self.saved  # x − mean = centered − error
        g = _channel_rows(g, centered.dtype)[0]
        M = g.shape[0]
        by_shares = functools.partial(_by_shares, centered)
        # ∂ of the pre-activation, where there is an activation: a new array, written into below
        grad = g if self.activation is None else np.empty_like(centered)

        def sums(r: slice) -> tuple[np.ndarray, np.ndarray]:
            part = g[r] if self.activation is None else self.activation.slope(g[r], y[r], out=grad[r])
            return column_sums(part), _column_dots(part, centered[r])

        sum_g, sum_g_centered = _added(by_shares(sums))
        sum_g_normalized = (sum_g_centered - error * sum_g) * inv_std             # Σ g·n
        grad_x = None
        if self.needs_input_grad[0]:
            # (w/σ)·(g − mean(g) − n·mean(g·n)), n = (x − mean)/σ: g·(w/σ) − (x − mean)·k − (w/σ)·mean(g)
            k = scale * inv_std * sum_g_normalized / M
            shift = error * k - scale * sum_g / M
            grad_x = np.empty_like(centered) if self.activation is None else grad  # (then a new array)
            scale_wide, k_wide, shift_wide = (_wide(v, centered) for v in (scale, k, shift))

            def input_gradient(r: slice) -> None:
                part = _per_channel(np.multiply, grad[r], scale_wide, grad_x[r])
                part -= _per_channel(np.multiply, centered[r], k_wide, np.empty_like(part))
                _per_channel(np.add, part, shift_wide, part)

            by_shares(input_gradient)
            grad_x = self.shape_back(grad_x)
        return (grad_x, sum_g_normalized, sum_g)[:len(self.needs_input_grad)]

    def composite(self, x, weight=None, bias=None):  # for gradients of gradients (see _composite.py)
        centered = x - x.mean(axis=self.axes, keepdims=True)
        y = centered / ((centered * centered).mean(axis=self.axes, keepdims=True) + self.eps).sqrt()
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        if weight is not None:
            y = y * weight.reshape(shape)
        if bias is not None:
            y = y + bias.reshape(shape)
        return y if self.activation is None else self.activation.apply(y)


def _channel_rows(x: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """x (N, C, ...) as a (values, C) matrix, a channel per column: a view when the channels are
    x's fastest axis in memory ((N, C) rows, channels-last images), else a copy; and the function
    that gives such a matrix x's shape back (as a view, channels-last)."""
    if x.ndim == 2:
        return x.astype(dtype, copy=False), lambda matrix: matrix
    last = (0,) + tuple(range(2, x.ndim)) + (1,)           # channels last: (N, ..., C)
    moved = x.transpose(last)
    back = tuple(np.argsort(last))
    rows = moved.reshape(-1, x.shape[1]).astype(dtype, copy=False)
    return rows, lambda matrix: matrix.reshape(moved.shape).transpose(back)


#: below this many values, batch_norm makes each pass over the whole array at once: shares would
#: cost more calls than they save (a BatchNorm1d of a hidden layer, 128 x 256)
SHARE_MIN_VALUES = 2**16


def _goes_by_shares(rows: np.ndarray) -> bool:
    return rows.size >= SHARE_MIN_VALUES


def _by_shares(rows: np.ndarray, work: Callable[[slice], Any]) -> list[Any]:
    """[work(rows a:b) for each share of the rows]: for a large array, parallel.SHARES shares, on
    tensorgrad's threads (each share small enough to stay in the CPU cache between passes, on
    one thread too); else one share, all of them."""
    if not _goes_by_shares(rows):
        return [work(slice(0, rows.shape[0]))]
    return parallel.run_shares(rows.shape[0], lambda: lambda share: work(slice(share.start, share.stop)))


#: how many numbers a row of the per-channel arithmetic spans at least (see _per_channel)
WIDE_ROW = 1024


def _wide(vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """A per-channel vector (C,) repeated to span WIDE_ROW numbers, for _per_channel on ``rows``;
    the vector itself for an array too small to go by shares (where tiling costs more than it saves)."""
    if not _goes_by_shares(rows) or vector.shape[0] * 2 > WIDE_ROW:
        return vector
    return np.tile(vector, WIDE_ROW // vector.shape[0])


def _per_channel(ufunc: np.ufunc, block: np.ndarray, wide: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``ufunc(block, vector, out=out)`` for a (rows, C) block and a per-channel vector given as
    ``_wide(vector, rows)``: on the block seen as rows of len(wide) numbers. NumPy's loop goes row by
    row, and over rows of only C numbers (16 for a small CNN) it cost 1.7x the arithmetic."""
    rows, C = block.shape
    repeats = wide.shape[0] // C
    whole = rows // repeats * repeats
    if whole:
        ufunc(block[:whole].reshape(-1, wide.shape[0]), wide, out=out[:whole].reshape(-1, wide.shape[0]))
    if whole < rows:
        ufunc(block[whole:], wide[:C], out=out[whole:])
    return out


def _added(results: list[Any]) -> Any:
    """The shares' results added in share order (the same sums whatever the thread count); each
    result an array or a tuple of arrays."""
    total = results[0]
    for more in results[1:]:
        total = tuple(a + b for a, b in zip(total, more)) if isinstance(total, tuple) else total + more
    return total


def _column_dots(a: np.ndarray, b: np.ndarray, block: int = 1024) -> np.ndarray:
    """Σ a·b down each column of two (rows, C) matrices, without a product matrix (einsum).
    Summed a block of rows at a time, then the blocks' sums: a float32 sum of 100,000 values
    in one run is off by ~2e-5 of it, by blocks ~3e-7 for the same time."""
    whole = a.shape[0] // block * block
    sums = np.einsum("ij,ij->j", a[whole:], b[whole:])
    if whole:
        shape = (whole // block, block, a.shape[1])
        sums += np.einsum("bij,bij->bj", a[:whole].reshape(shape), b[:whole].reshape(shape)).sum(axis=0)
    return sums
