"""Max and average pooling over (N, C, H, W) images.

Both loop over the kh·kw kernel offsets (4 for 2×2), each offset being one strided slice of the
image across all windows; nothing loops over windows or pixels. Max pooling sends each window's
gradient to its *first* maximum (row-major), as PyTorch does, so ties never split it.

Max pooling has a second, faster path for what a CNN feeds it: windows that tile an image stored
channels-last (a Conv2d's output, see ops/conv.py). There the image reshaped to
(N, OH, kh, OW, kw, C) is every window at once, and a running max over the offsets keeps the
index of each window's first maximum; backward needs only those indices. It goes through the
batch a few images at a time (in the CPU cache), in shares on tensorgrad's threads. The functions
of that path are also what a Conv2d node fused with its pooling ("conv2d+relu+max_pool2d") runs.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from ..autograd import Function
from ..errors import InputError
from ..speed import parallel
from ._args import check_floating, check_pair
from . import _composite
from ._windows import Window, chunks, images_per_chunk, is_channels_last, pad, sliding_window


def pool_window(op: str, x: np.ndarray, kernel_size: Any, stride: Any, padding: Any) -> Window:
    """The pooling window: stride defaults to the kernel, padding at most half the kernel."""
    kernel = check_pair(op, "kernel_size", kernel_size, 1)
    window = sliding_window(op, x, kernel, kernel if stride is None else stride, padding)
    (ph, pw), (kh, kw) = window.padding, kernel
    if 2 * ph > kh or 2 * pw > kw:
        raise InputError(f"{op}: padding {(ph, pw)} must be at most half the kernel size {(kh, kw)}")
    return window


def _lowest(dtype: np.dtype) -> Any:
    """The value below every other of ``dtype``, for max-pooling borders: −inf, or an integer
    type's minimum (−inf cannot be stored in an integer array)."""
    return np.iinfo(dtype).min if dtype.kind in "iu" else False if dtype.kind == "b" else -np.inf


class MaxPool2d(Function):
    """Max over each kernel window: ``MaxPool2d.apply(x, kernel_size=2, stride=None, padding=0)``.

    ``stride`` defaults to ``kernel_size``; padding adds −inf borders (at most half the kernel, as
    PyTorch). The gradient goes to the first maximum of each window only, as PyTorch does.
    """

    name = "max_pool2d"
    formula = "∂x = g routed to the (first) max of each window, 0 elsewhere"

    def forward(self, x, kernel_size=2, stride=None, padding=0):
        self.window = window = pool_window(self.name, x, kernel_size, stride, padding)
        self.x_shape = x.shape
        self.tiles = window.stride == window.kernel and window.padding == (0, 0) and is_channels_last(x)
        if self.tiles:
            return self._forward_tiles(x)
        xp = pad(x, window.padding, _lowest(x.dtype))
        self.padded_shape = xp.shape
        # windows[k] = kernel offset k of every window, (N, C, OH, OW): one strided copy per offset.
        # Kept for backward, whose compares are then on contiguous arrays (measured: backward 1.6x
        # faster than comparing against strided views of x again, for 2x2 pooling of the CNN).
        offsets = window.offsets()
        windows = np.empty((len(offsets),) + x.shape[:2] + (window.out_h, window.out_w), xp.dtype)
        for k, (rows, cols) in enumerate(offsets):
            windows[k] = xp[:, :, rows, cols]
        y = windows.max(axis=0)
        self.save(windows, y)
        return y

    def composite(self, x):  # for gradients of gradients (see _composite.py)
        return _composite.max_pool2d(x, self.window)

    def backward(self, g):
        if self.tiles:
            return self._backward_tiles(g)
        windows, y = self.saved
        offsets = self.window.offsets()
        overlapping = any(s < k for s, k in zip(self.window.stride, self.window.kernel))
        grad_xp = np.zeros(self.padded_shape, g.dtype)
        remaining = g  # per window: its gradient until a maximum has taken it, then 0
        for k, (rows, cols) in enumerate(offsets):  # row-major order: the first max takes it
            routed = remaining * (windows[k] == y)
            if overlapping:
                grad_xp[:, :, rows, cols] += routed  # a pixel in several windows gets all their gradients
            else:
                grad_xp[:, :, rows, cols] = routed
            remaining = remaining - routed
        return self.window.unpad(grad_xp)

    # the fast path: windows that tile a channels-last image
    def _forward_tiles(self, x):
        """A few images at a time, so that the passes over the kernel offsets re-read them from
        the CPU cache."""
        N, C, H, W = x.shape
        OH, OW = self.window.out_h, self.window.out_w
        y = np.empty((N, OH, OW, C), x.dtype)
        first = np.empty((N, OH, OW, C), index_dtype(self.window.kernel))
        tiles = tiles_of(x.transpose(0, 2, 3, 1), self.window.kernel, OH, OW)
        self.chunk = images_per_chunk(H * W * C * x.itemsize)

        def pool(images: range) -> None:  # a share of the batch, chunk by chunk
            for s, n in chunks(images, self.chunk):
                max_of_tiles(tiles[s:s + n], y[s:s + n], first[s:s + n])

        parallel.run_shares(N, lambda: pool)
        self.save(first)  # backward needs only where each maximum was, not x
        return y.transpose(0, 3, 1, 2)  # (N, C, OH, OW), channels-last like x

    def _backward_tiles(self, g):
        (first,) = self.saved
        N, C, H, W = self.x_shape
        # (N, OH, OW, C): a view when g is channels-last; else a copy (from a Flatten, say), as
        # the routing's strided passes over a strided g took 1.5x as long
        gt = np.ascontiguousarray(g.transpose(0, 2, 3, 1))
        grad_xt = pooled_gradient((N, H, W, C), g.dtype, self.window.kernel, first.shape[1:3])
        grad_tiles = tiles_of(grad_xt, self.window.kernel, *first.shape[1:3])
        def route(images: range) -> None:  # a share of the batch, chunk by chunk
            for s, n in chunks(images, self.chunk):
                route_to_first_max(gt[s:s + n], first[s:s + n], grad_tiles[s:s + n])

        parallel.run_shares(N, lambda: route)
        return grad_xt.transpose(0, 3, 1, 2)


class AvgPool2d(Function):
    """Mean over each kernel window: ``AvgPool2d.apply(x, kernel_size=2, stride=None, padding=0)``.

    ``stride`` defaults to ``kernel_size``; zero padding counts in the mean (PyTorch's default
    count_include_pad=True), so every window divides by kh·kw.
    """

    name = "avg_pool2d"
    formula = "∂x = g/(kh·kw) spread over each window"

    def forward(self, x, kernel_size=2, stride=None, padding=0):
        check_floating(self.name, "input", x)  # a mean of integers is not one
        self.window = pool_window(self.name, x, kernel_size, stride, padding)
        xp = pad(x, self.window.padding)
        self.padded_shape = xp.shape
        offsets = self.window.offsets()
        total = xp[:, :, offsets[0][0], offsets[0][1]].copy()
        for rows, cols in offsets[1:]:
            total += xp[:, :, rows, cols]
        return total / len(offsets)

    def composite(self, x):  # for gradients of gradients (see _composite.py)
        return _composite.avg_pool2d(x, self.window)

    def backward(self, g):
        offsets = self.window.offsets()
        share = g / len(offsets)
        grad_xp = np.zeros(self.padded_shape, g.dtype)
        for rows, cols in offsets:
            grad_xp[:, :, rows, cols] += share
        return self.window.unpad(grad_xp)


# ---------------------------------------------------- max pooling of channels-last tiles (fast)
def tiles_of(xt: np.ndarray, kernel: tuple[int, int], OH: int, OW: int) -> np.ndarray:
    """The windows of non-overlapping kh×kw pooling of channels-last images xt (N, H, W, C), as
    the view (N, OH, kh, OW, kw, C) (rows and columns past the last whole window left out)."""
    kh, kw = kernel
    return xt[:, :OH * kh, :OW * kw].reshape(xt.shape[0], OH, kh, OW, kw, xt.shape[3])


@lru_cache(maxsize=None)
def _window_pixels(kh: int, kw: int) -> tuple[tuple[int, int], ...]:
    """The (row, column) of each pixel of a kh×kw window, row-major (pixel k = i·kw + j): a tuple
    made once, as np.ndindex costs ~25 µs a call (0.6 ms per forward of the CNN's pooled conv)."""
    return tuple((i, j) for i in range(kh) for j in range(kw))


def index_dtype(kernel: tuple[int, int]) -> np.dtype:
    """The smallest unsigned integer type that numbers a window's pixels (uint8 up to 256)."""
    return np.min_scalar_type(max(kernel[0] * kernel[1] - 1, 0))


def max_of_tiles(tiles: np.ndarray, pooled: np.ndarray, first: np.ndarray) -> None:
    """Max pooling of ``tiles`` (N, OH, kh, OW, kw, C) into ``pooled`` (N, OH, OW, C), and into
    ``first`` the row-major index (i·kw + j) of each window's first maximum: the one PyTorch
    gives the gradient to. A running max over the kernel offsets, where offset k takes a window
    over only if it is strictly greater (a tie stays with the earlier offset); as k only grows,
    first = max(first, k·[taken over]), two passes over small integers instead of a masked copy
    (measured on the CNN's pooling: 0.1 ms against 7 ms for np.copyto(first, k, where=...))."""
    kh, kw = tiles.shape[2], tiles.shape[4]
    np.copyto(pooled, tiles[:, :, 0, :, 0])
    first.fill(0)
    greater = np.empty(pooled.shape, bool)
    taken = np.empty(first.shape, first.dtype)
    for k, (i, j) in enumerate(_window_pixels(kh, kw)):
        if k:
            np.greater(tiles[:, :, i, :, j], pooled, out=greater)
            np.multiply(greater, first.dtype.type(k), out=taken)
            np.maximum(first, taken, out=first)
            np.maximum(pooled, tiles[:, :, i, :, j], out=pooled)


def route_to_first_max(g: np.ndarray, first: np.ndarray, grad_tiles: np.ndarray) -> None:
    """Max pooling's backward: ``grad_tiles`` (N, OH, kh, OW, kw, C) = ``g`` (N, OH, OW, C) at each
    window's first maximum (``first``, from max_of_tiles), 0 at its other pixels."""
    kh, kw = grad_tiles.shape[2], grad_tiles.shape[4]
    hit = np.empty(first.shape, bool)
    for k, (i, j) in enumerate(_window_pixels(kh, kw)):
        np.equal(first, k, out=hit)
        np.multiply(g, hit, out=grad_tiles[:, :, i, :, j])


def pooled_gradient(shape: tuple[int, ...], dtype: Any, kernel: tuple[int, int], out_size: tuple[int, int]) -> np.ndarray:
    """An array for the gradient of channels-last images ``shape`` (N, H, W, C) that
    route_to_first_max fills window by window: zeros where no whole window reaches (rows and
    columns past the last one get no gradient), left unset otherwise."""
    covered = shape[1:3] == (out_size[0] * kernel[0], out_size[1] * kernel[1])
    return (np.empty if covered else np.zeros)(shape, dtype)
