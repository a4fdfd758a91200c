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
    O, C, kh, kw = weight.shape
    y = Einsum.apply(window_stack(x, window), weight.reshape(O, C, kh * kw), subscripts="knchw,ock->nohw")
    return y if bias is None else y + bias.reshape(1, O, 1, 1)


def max_pool2d(x: Any, window: Window) -> Any:
    """The first maximum of each window, picked with gather (as the fast op routes its gradient)."""
    stack = window_stack(x, window, -np.inf)
    first = np.argmax(stack.data, axis=0)[None]
    return Gather.apply(stack, first, axis=0).reshape(stack.shape[1:])


def avg_pool2d(x: Any, window: Window) -> Any:
    return window_stack(x, window).mean(axis=0)
