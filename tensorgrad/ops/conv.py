"""2-D convolution and pooling over (N, C, H, W) images, as PyTorch lays them out.

Notation in the formulas: ``g`` is the gradient arriving from the output, ``x`` the input image,
``w`` the kernel (O, C, kh, kw), ``b`` the bias (O,).

How the convolution is computed (im2col): ``sliding_window_view`` gives every kh×kw window of the
image as a strided view (no copy); one copy lays the windows out as a matrix of "patches" with one
column per output pixel and one row per (channel, kernel row, kernel column); then the whole
convolution is one matrix product ``w (O, C·kh·kw) @ patches``. Backward is two more products:
``∂w = g @ patchesᵀ`` and ``∂patches = wᵀ @ g``, and the patch gradients are added back onto the
image (col2im) with one strided add per kernel offset (9 for a 3×3 kernel) -- never a Python loop
over output pixels (for stride 1, one contiguous add per offset on the flattened image).

Speed: the batch is processed in chunks of a few images, so the patch matrix (C·kh·kw times
larger than the image) is a few MB that stays in the CPU cache and is reused from chunk to chunk,
instead of one array of ~85 MB per layer that is paged in afresh at every step. Backward rebuilds
each chunk's patches rather than keeping them from forward, for the same reason.

Pooling loops over the kh·kw kernel offsets (4 for 2×2), each offset being one strided slice of
the image across all windows; nothing loops over windows or pixels.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..autograd import Function

__all__ = ["Conv2d", "MaxPool2d", "AvgPool2d", "conv2d", "max_pool2d", "avg_pool2d"]

# Size of the per-chunk patch matrix. Measured on the two convs of document 003's CNN (batch 128,
# float32, forward + backward): 2-8 MB chunks are fastest (143 ms); 0.5 MB 160 ms; 16 MB 161 ms;
# one chunk for the whole batch (85 MB of patches for the second conv) 184 ms.
CHUNK_BYTES = 4 * 2**20


# ------------------------------------------------------------------------------------- helpers
def _pair(value: Any, what: str, op: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints as (height, width), at least ``minimum`` each, or a ValueError."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{op}: {what} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{op}: {what} must be {'positive' if minimum else 'non-negative'}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _geometry(op: str, x: np.ndarray, kernel: tuple[int, int], stride: Any, padding: Any,
              detail: str) -> tuple[tuple[int, int], tuple[int, int], int, int]:
    """Check a 4-D input against a kernel; return (stride, padding, output height, output width)."""
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {x.shape}{detail}")
    sh, sw = _pair(stride, "stride", op, 1)
    ph, pw = _pair(padding, "padding", op, 0)
    kh, kw = kernel
    h, w = x.shape[2] + 2 * ph, x.shape[3] + 2 * pw
    if kh > h or kw > w:
        raise ValueError(f"{op}: kernel {kh}x{kw} is larger than the padded input {h}x{w} "
                         f"(input {x.shape}, padding {(ph, pw)}){detail}")
    return (sh, sw), (ph, pw), (h - kh) // sh + 1, (w - kw) // sw + 1


def _pad(x: np.ndarray, ph: int, pw: int, value: float = 0.0) -> np.ndarray:
    """x with ``ph`` rows and ``pw`` columns of ``value`` on each side (x itself when none)."""
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _windows(xp: np.ndarray, kh: int, kw: int, sh: int, sw: int) -> np.ndarray:
    """Every kh×kw window of ``xp`` at the given stride: a (N, C, OH, OW, kh, kw) view, no copy."""
    return sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def _im2col(xp: np.ndarray, kh: int, kw: int, sh: int, sw: int, out: np.ndarray) -> np.ndarray:
    """Copy the windows of ``xp`` into ``out`` (n, C·kh·kw, OH·OW) and return it.

    Row (c, i, j) of image n holds x[n, c, oh·sh + i, ow·sw + j] for every output pixel (oh, ow).
    Copying with the output pixels last keeps the image's rows contiguous, which is the fast order.
    """
    view = _windows(xp, kh, kw, sh, sw).transpose(0, 1, 4, 5, 2, 3)  # (n, C, kh, kw, OH, OW)
    np.copyto(out.reshape(view.shape), view)
    return out


def _col2im(dcols: np.ndarray, dxp: np.ndarray, offsets: list[tuple[slice, slice]]) -> None:
    """Add patch gradients (n, C, kh·kw, OH, OW) back onto the image gradient ``dxp`` (n, C, H, W).

    One strided add per kernel offset (i, j): that offset of every window read the image pixels
    (oh·sh + i, ow·sw + j), a strided slice of the image, so its gradients go back there.
    """
    for k, (rows, cols) in enumerate(offsets):
        dxp[:, :, rows, cols] += dcols[:, :, k]


def _col2im_stride1(dcols: np.ndarray, dflat: np.ndarray, kh: int, kw: int, width: int) -> None:
    """_col2im for stride 1 with long contiguous adds: each image flattened to one row of pixels.

    ``dcols`` (n, C, kh·kw, OH·width) holds patch gradients for "wide" output rows of the padded
    image's full ``width`` (the columns past OW hold zeros); ``dflat`` (n, C, H·width + kw − 1) is
    the image gradient, flattened. Kernel offset (i, j) then moves every output pixel by the same
    i·width + j places, so its add is one contiguous run of OH·width numbers per channel instead of
    OH runs of OW: fewer, longer inner loops (the zero columns spill only zeros into the next row).
    Measured on the CNN's second conv: its backward 104 -> 97 ms (8% more GEMM work, faster adds).
    """
    length = dcols.shape[-1]
    for k in range(kh * kw):
        start = (k // kw) * width + k % kw
        dflat[:, :, start:start + length] += dcols[:, :, k]


def _offsets(kh: int, kw: int, sh: int, sw: int, oh: int, ow: int) -> list[tuple[slice, slice]]:
    """For each kernel offset (i, j), row-major: the (rows, cols) slices of the padded image that
    offset covers across all windows, i.e. pixels (oh·sh + i, ow·sw + j)."""
    return [(slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw))
            for i in range(kh) for j in range(kw)]


def _pool_geometry(op: str, x: np.ndarray, kernel: tuple[int, int], stride: Any, padding: Any):
    """Pooling's checks on top of _geometry: stride defaults to the kernel, padding ≤ kernel/2."""
    geometry = _geometry(op, x, kernel, kernel if stride is None else stride, padding, "")
    (ph, pw), (kh, kw) = geometry[1], kernel
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"{op}: padding {(ph, pw)} must be at most half the kernel size {(kh, kw)}")
    return geometry


def _chunk(per_image: int) -> int:
    """How many images per chunk keep a chunk's patch matrix near CHUNK_BYTES."""
    return max(1, CHUNK_BYTES // max(per_image, 1))


# ---------------------------------------------------------------------------------------- ops
class Conv2d(Function):
    """2-D convolution (cross-correlation, as PyTorch): ``Conv2d.apply(x, w[, b], stride=, padding=)``.

    x (N, C, H, W), w (O, C, kh, kw), optional b (O,) -> (N, O, OH, OW) with
    OH = (H + 2·padding − kh) // stride + 1. ``stride`` and ``padding`` are an int or (height, width).
    Without a bias, pass only x and w (``conv2d(x, w)`` does that for ``bias=None``).
    """

    name = "conv2d"
    formula = "∂x = full correlation of g with the flipped kernel,  ∂w = Σ g ⊗ patches,  ∂b = Σ g"

    def forward(self, x, weight, bias=None, stride=1, padding=0):
        detail = f" (input {x.shape}, weight {weight.shape})"
        if weight.ndim != 4:
            raise ValueError(f"conv2d: weight must be 4-D (out_channels, in_channels, kh, kw), got shape {weight.shape}")
        O, C, kh, kw = weight.shape
        (sh, sw), (ph, pw), OH, OW = _geometry(self.name, x, (kh, kw), stride, padding, detail)
        if x.shape[1] != C:
            raise ValueError(f"conv2d: input has {x.shape[1]} channels but weight expects {C}{detail}")
        if bias is not None and bias.shape != (O,):
            raise ValueError(f"conv2d: bias must have shape ({O},) to match the weight's {O} output channels, "
                             f"got {bias.shape}{detail}")
        dtype = np.result_type(x, weight) if bias is None else np.result_type(x, weight, bias)
        N, L, K = x.shape[0], OH * OW, C * kh * kw
        xp = _pad(x, ph, pw)
        w2 = weight.reshape(O, K).astype(dtype, copy=False)

        out = np.empty((N, O, L), dtype)
        step = _chunk(K * L * dtype.itemsize)
        cols = np.empty((min(step, N), K, L), dtype)  # one buffer, reused by every chunk
        for s in range(0, N, step):
            n = min(step, N - s)
            patches = _im2col(xp[s:s + n], kh, kw, sh, sw, cols[:n])
            np.matmul(w2, patches, out=out[s:s + n])  # (O, K) @ (n, K, L) -> (n, O, L)
            if bias is not None:
                out[s:s + n] += bias.reshape(O, 1)  # while the chunk is still in cache
        self.save(xp, weight)
        self.geometry = (x.shape, x.dtype, bias.dtype if bias is not None else None,
                         (sh, sw), (ph, pw), (OH, OW), dtype, step)
        return out.reshape(N, O, OH, OW)

    def backward(self, g):
        xp, weight = self.saved
        x_shape, x_dtype, b_dtype, (sh, sw), (ph, pw), (OH, OW), dtype, step = self.geometry
        need_x, need_w = self.needs_input_grad[:2]
        need_b = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        O, C, kh, kw = weight.shape
        N, L, K = x_shape[0], OH * OW, C * kh * kw
        g3 = np.ascontiguousarray(g, dtype).reshape(N, O, L)  # e.g. the broadcast g of a .sum()

        # Per chunk of images: ∂w += g @ patchesᵀ (patches rebuilt into the reused buffer) and
        # ∂patches = wᵀ @ g, added back onto the image by _col2im. That is the "full correlation of g
        # with the flipped kernel" of the formula, computed the cheaper way: doing it literally needs
        # im2col of g padded by k−1, a patch matrix O/C times larger than x's (2x for the second conv
        # of the CNN), and measured 1.2x slower for that conv (its col2im is 9 strided adds).
        grad_w = np.zeros((O, K), dtype) if need_w else None
        wide = need_x and (sh, sw) == (1, 1)
        chunk = min(step, N)
        if need_w or (need_x and not wide):
            cols = np.empty((chunk, K, L), dtype)
        if need_w:
            gw_parts = np.empty((chunk, O, K), dtype)
        if need_x:  # (the first conv of a net, on the data, skips all of this)
            w2t = np.ascontiguousarray(weight.reshape(O, K).T, dtype=dtype)
            Hp, Wp = xp.shape[2:]
            if wide:  # see _col2im_stride1: g gets zero columns up to the padded width Wp
                g_wide = np.zeros((chunk, O, OH, Wp), dtype)
                dcols_wide = np.empty((chunk, K, OH * Wp), dtype)
                dx_flat = np.zeros((N, C, Hp * Wp + kw - 1), dtype)
            else:
                offsets = _offsets(kh, kw, sh, sw, OH, OW)
                dxp = np.zeros(xp.shape, dtype)
        for s in range(0, N, step):
            n = min(step, N - s)
            gs = g3[s:s + n]
            if need_w:
                patches = _im2col(xp[s:s + n], kh, kw, sh, sw, cols[:n])
                grad_w += np.matmul(gs, patches.transpose(0, 2, 1), out=gw_parts[:n]).sum(axis=0)
            if wide:
                g_wide[:n, :, :, :OW] = gs.reshape(n, O, OH, OW)
                dcols = np.matmul(w2t, g_wide[:n].reshape(n, O, OH * Wp), out=dcols_wide[:n])
                _col2im_stride1(dcols.reshape(n, C, kh * kw, OH * Wp), dx_flat[s:s + n], kh, kw, Wp)
            elif need_x:
                dcols = np.matmul(w2t, gs, out=cols[:n])  # (K, O) @ (n, O, L) -> (n, K, L)
                _col2im(dcols.reshape(n, C, kh * kw, OH, OW), dxp[s:s + n], offsets)
        if wide:
            dxp = dx_flat[:, :, :Hp * Wp].reshape(N, C, Hp, Wp)

        grad_x = grad_b = None
        if need_x:
            grad_x = dxp[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]].astype(x_dtype, copy=False)
        if need_w:
            grad_w = grad_w.reshape(weight.shape).astype(weight.dtype, copy=False)
        if need_b:
            grad_b = g.sum(axis=(0, 2, 3)).astype(b_dtype, copy=False)
        return (grad_x, grad_w, grad_b)[:len(self.needs_input_grad)]


class MaxPool2d(Function):
    """Max over each kernel window: ``MaxPool2d.apply(x, kernel_size=2, stride=None, padding=0)``.

    ``stride`` defaults to ``kernel_size``; padding adds −inf borders (at most half the kernel, as
    PyTorch). The gradient goes to the first maximum of each window only, as PyTorch does.
    """

    name = "max_pool2d"
    formula = "∂x = g routed to the (first) max of each window, 0 elsewhere"

    def forward(self, x, kernel_size=2, stride=None, padding=0):
        kh, kw = _pair(kernel_size, "kernel_size", self.name, 1)
        (sh, sw), (ph, pw), OH, OW = _pool_geometry(self.name, x, (kh, kw), stride, padding)
        xp = _pad(x, ph, pw, -np.inf)
        # windows[k] = kernel offset k of every window, (N, C, OH, OW): one strided copy per offset.
        # Kept for backward, whose compares are then on contiguous arrays (measured: backward 1.6x
        # faster than comparing against strided views of x again, for 2x2 pooling of the CNN).
        offsets = _offsets(kh, kw, sh, sw, OH, OW)
        windows = np.empty((len(offsets),) + x.shape[:2] + (OH, OW), xp.dtype)
        for k, (rows, cols) in enumerate(offsets):
            np.copyto(windows[k], xp[:, :, rows, cols])
        y = windows.max(axis=0)
        self.save(windows, y)
        self.geometry = (x.shape, xp.shape, offsets, sh < kh or sw < kw, (ph, pw))
        return y

    def backward(self, g):
        windows, y = self.saved
        x_shape, padded_shape, offsets, overlapping, (ph, pw) = self.geometry
        dxp = np.zeros(padded_shape, np.result_type(g, y))
        remaining = g  # per window: its gradient until a maximum has taken it, then 0
        for k, (rows, cols) in enumerate(offsets):  # row-major order: the first max wins ties
            routed = remaining * (windows[k] == y)
            if overlapping:
                dxp[:, :, rows, cols] += routed  # a pixel in several windows gets all their gradients
            else:
                dxp[:, :, rows, cols] = routed
            if k < len(offsets) - 1:
                remaining = remaining - routed
        return (dxp[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]].astype(y.dtype, copy=False),)


class AvgPool2d(Function):
    """Mean over each kernel window: ``AvgPool2d.apply(x, kernel_size=2, stride=None, padding=0)``.

    ``stride`` defaults to ``kernel_size``; zero padding counts in the mean (PyTorch's default
    count_include_pad=True), so every window divides by kh·kw.
    """

    name = "avg_pool2d"
    formula = "∂x = g/(kh·kw) spread over each window"

    def forward(self, x, kernel_size=2, stride=None, padding=0):
        kh, kw = _pair(kernel_size, "kernel_size", self.name, 1)
        (sh, sw), (ph, pw), OH, OW = _pool_geometry(self.name, x, (kh, kw), stride, padding)
        xp = _pad(x, ph, pw)
        offsets = _offsets(kh, kw, sh, sw, OH, OW)
        total = xp[:, :, offsets[0][0], offsets[0][1]].copy()
        for rows, cols in offsets[1:]:
            total += xp[:, :, rows, cols]
        total *= np.asarray(1.0 / (kh * kw), total.dtype)
        self.geometry = (x.shape, x.dtype, xp.shape, offsets, (ph, pw), kh * kw)
        return total

    def backward(self, g):
        x_shape, x_dtype, padded_shape, offsets, (ph, pw), count = self.geometry
        share = g * np.asarray(1.0 / count, g.dtype)
        dxp = np.zeros(padded_shape, np.result_type(g, x_dtype))
        for rows, cols in offsets:
            dxp[:, :, rows, cols] += share
        return (dxp[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]].astype(x_dtype, copy=False),)


# ------------------------------------------------------------------------------ functional API
def conv2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0):
    """2-D convolution of x (N, C, H, W) with weight (O, C, kh, kw) plus an optional bias (O,)."""
    if bias is None:
        return Conv2d.apply(x, weight, stride=stride, padding=padding)
    return Conv2d.apply(x, weight, bias, stride=stride, padding=padding)


def max_pool2d(x: Any, kernel_size: Any = 2, stride: Any = None, padding: Any = 0):
    """Max over kernel_size windows of x (N, C, H, W); stride defaults to kernel_size."""
    return MaxPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)


def avg_pool2d(x: Any, kernel_size: Any = 2, stride: Any = None, padding: Any = 0):
    """Mean over kernel_size windows of x (N, C, H, W) (zero padding counted); stride defaults to kernel_size."""
    return AvgPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)
