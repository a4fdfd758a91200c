"""2-D convolution written plainly: im2col, then one matrix product. Read this one first.

It computes what ``ops/conv.py``'s ``Conv2d`` computes, and is the oracle its tests compare with
(forward and every gradient). The fast op departs from it only for speed: the batch in chunks
that stay in the CPU cache, channels-last memory, threads, and fused activation and pooling.

Notation: x (N, C, H, W) images, w (O, C, kh, kw) kernels, b (O,) biases, g the gradient of the
output (N, O, OH, OW). A *patch* is the C·kh·kw pixels of one window, flattened.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..autograd import Function
from . import _composite
from ._windows import pad, sliding_window


class Conv2dReference(Function):
    """``Conv2dReference.apply(x, w[, b], stride=1, padding=0)``: the same as ``F.conv2d``, slowly."""

    name = "conv2d_reference"
    formula = "∂x = col2im(g·W),  ∂w = gᵀ·patches,  ∂b = Σ g   (y = patches·Wᵀ + b, W = w as (O, C·kh·kw))"

    def forward(self, x, w, b=None, stride=1, padding=0):
        O, C, kh, kw = w.shape
        self.window = window = sliding_window(self.name, x, (kh, kw), stride, padding)
        (sh, sw), N, OH, OW = window.stride, x.shape[0], window.out_h, window.out_w
        xp = pad(x, window.padding)
        self.padded_shape = xp.shape
        # im2col: every window of every image as one row, (N·OH·OW, C·kh·kw)
        windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]  # (N, C, OH, OW, kh, kw)
        patches = windows.transpose(0, 2, 3, 1, 4, 5).reshape(N * OH * OW, C * kh * kw)
        W = w.reshape(O, C * kh * kw)
        y = patches @ W.T  # (N·OH·OW, O): every output pixel of every channel in one product
        if b is not None:
            y = y + b
        self.save(patches, W)
        return y.reshape(N, OH, OW, O).transpose(0, 3, 1, 2)

    def backward(self, g):
        patches, W = self.saved
        (kh, kw), (sh, sw) = self.window.kernel, self.window.stride
        N, O, OH, OW = g.shape
        C = W.shape[1] // (kh * kw)
        g_rows = g.transpose(0, 2, 3, 1).reshape(N * OH * OW, O)  # one row per output pixel
        grad_w = (g_rows.T @ patches).reshape(O, C, kh, kw)
        grad_b = g_rows.sum(axis=0)
        # col2im: each patch's gradient goes back onto the pixels the patch was read from; a
        # pixel read by several windows (overlapping, stride < kernel) adds up their gradients
        grad_windows = (g_rows @ W).reshape(N, OH, OW, C, kh, kw)
        grad_xp = np.zeros(self.padded_shape, g.dtype)
        for i in range(kh):
            for j in range(kw):
                grad_xp[:, :, i:i + sh * OH:sh, j:j + sw * OW:sw] += grad_windows[..., i, j].transpose(0, 3, 1, 2)
        grad_x = self.window.unpad(grad_xp)
        return (grad_x, grad_w, grad_b)[:len(self.needs_input_grad)]  # no ∂b without a b

    def composite(self, x, w, b=None):  # for gradients of gradients: the saved patches depend on x
        return _composite.conv2d(x, w, b, self.window)
