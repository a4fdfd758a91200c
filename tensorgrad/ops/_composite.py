"""The windowed ops written with simpler ops, for gradients of gradients (``create_graph=True``).

The fast convolution and pooling compute their backward on arrays, in chunks and on threads;
to differentiate that backward again, the engine differentiates these plain definitions instead
(each op's ``composite``): padding as a concatenation, every kernel offset as a strided slice of
the image, and the product with the kernel as an einsum. The same numbers, recorded op by op.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._windows import Window
from .matmul import Einsum
from .shape import Concatenate, Gather, Stack


def padded(x: Any, padding: tuple[int, int], fill: float = 0.0) -> Any:
    """The (N, C, H, W) tensor x with ``fill`` rows and columns around it."""
    ph, pw = padding
    if ph:
        rows = np.full(x.shape[:2] + (ph, x.shape[3]), fill, x.dtype)
        x = Concatenate.apply(rows, x, rows, axis=2)
    if pw:
        cols = np.full(x.shape[:3] + (pw,), fill, x.dtype)
        x = Concatenate.apply(cols, x, cols, axis=3)
    return x


def window_stack(x: Any, window: Window, fill: float = 0.0) -> Any:
    """(kh·kw, N, C, OH, OW): for each kernel offset, the pixel it reads in every window."""
    xp = padded(x, window.padding, fill)
    return Stack.apply(*[xp[:, :, rows, cols] for rows, cols in window.offsets()], axis=0)


def conv2d(x: Any, weight: Any, bias: Any, window: Window) -> Any:
    """y[n, o] = Σ over channels and kernel offsets of weight · window pixel, plus the bias."""
    return conv2d_general(x, weight, bias, window.stride, window.padding, (1, 1), 1)


def max_pool2d(x: Any, window: Window) -> Any:
    """The first maximum of each window, picked with gather (as the fast op routes its gradient)."""
    stack = window_stack(x, window, -np.inf)
    first = np.argmax(stack.data, axis=0)[None]
    return Gather.apply(stack, first, axis=0).reshape(stack.shape[1:])


def avg_pool2d(x: Any, window: Window) -> Any:
    return window_stack(x, window).mean(axis=0)


# ------------------------------------------------------------- convolutions with every option
# nn.Conv2d(dilation=, groups=, padding="same"), nn.Conv1d and nn.ConvTranspose2d run these: plain
# slicing, einsum and scatter ops (slower than ops/conv.py, which covers the documents' layers).
def _dilated_offsets(kh: int, kw: int, stride: tuple[int, int], dilation: tuple[int, int], oh: int, ow: int):
    (sh, sw), (dh, dw) = stride, dilation
    return [(slice(i * dh, i * dh + sh * (oh - 1) + 1, sh), slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))
            for i in range(kh) for j in range(kw)]


def conv2d_general(x: Any, weight: Any, bias: Any, stride: tuple[int, int], padding: tuple[int, int],
                   dilation: tuple[int, int], groups: int) -> Any:
    """y[n, o] = Σ over the group's channels and the kernel offsets (spaced by ``dilation``) of
    weight · pixel, for (N, C, H, W) x and (O, C/groups, kh, kw) weight."""
    N, C, H, W = x.shape
    O, Cg, kh, kw = weight.shape
    xp = padded(x, padding)
    Hp, Wp = xp.shape[2], xp.shape[3]
    oh = (Hp - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (Wp - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    stack = Stack.apply(*[xp[:, :, rows, cols] for rows, cols in _dilated_offsets(kh, kw, stride, dilation, oh, ow)],
                        axis=0)                                                     # (K, N, C, OH, OW)
    stack = stack.reshape(kh * kw, N, groups, Cg, oh, ow)
    kernel = weight.reshape(groups, O // groups, Cg, kh * kw)
    y = Einsum.apply(stack, kernel, subscripts="kngchw,gock->ngohw").reshape(N, O, oh, ow)
    return y if bias is None else y + bias.reshape(1, O, 1, 1)


def conv_transpose2d(x: Any, weight: Any, bias: Any, stride: tuple[int, int], padding: tuple[int, int],
                     output_padding: tuple[int, int], dilation: tuple[int, int], groups: int) -> Any:
    """The gradient of a convolution with respect to its input, as a layer: each input pixel
    spreads weight · pixel over its kernel window in the (larger) output. x (N, C, H, W), weight
    (C, O/groups, kh, kw), output (N, O, (H−1)·s − 2p + d·(k−1) + output_padding + 1, ...)."""
    from .shape import IndexAdd
    N, C, H, W = x.shape
    _, Og, kh, kw = weight.shape
    (sh, sw), (dh, dw) = stride, dilation
    full_h = (H - 1) * sh + dh * (kh - 1) + 1 + output_padding[0]
    full_w = (W - 1) * sw + dw * (kw - 1) + 1 + output_padding[1]
    grouped = x.reshape(N, groups, C // groups, H, W)
    kernel = weight.reshape(groups, C // groups, Og, kh, kw)
    total = None
    for i in range(kh):
        for j in range(kw):
            part = Einsum.apply(grouped, kernel[:, :, :, i, j], subscripts="ngchw,gco->ngohw").reshape(N, groups * Og, H, W)
            where = (slice(None), slice(None), slice(i * dh, i * dh + sh * (H - 1) + 1, sh),
                     slice(j * dw, j * dw + sw * (W - 1) + 1, sw))
            spread = IndexAdd.apply(part, index=where, shape=(N, groups * Og, full_h, full_w))
            total = spread if total is None else total + spread
    ph, pw = padding
    y = total[:, :, ph:full_h - ph, pw:full_w - pw]
    return y if bias is None else y + bias.reshape(1, groups * Og, 1, 1)
