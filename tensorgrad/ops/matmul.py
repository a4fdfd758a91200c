"""Matrix product with NumPy's rules: 1-D vectors, 2-D matrices, and stacks of matrices."""
from __future__ import annotations

import numpy as np

from ..autograd import Function, unbroadcast
from .. import parallel


class MatMul(Function):
    name = "matmul"
    formula = "∂a = g·bᵀ,  ∂b = aᵀ·g"

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {a.shape} and {b.shape}"
                             " (use * to multiply by a scalar)")
        inner_a = a.shape[-1]
        inner_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if inner_a != inner_b:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned ({inner_a} != {inner_b})")
        self.save(a, b)
        try:
            return parallel.matmul(a, b)  # split over tensorgrad's threads when there are several
        except ValueError as err:  # batch dimensions that do not broadcast
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape}: batch dimensions do not broadcast ({err})") from None

    def backward(self, g):
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:  # the common case, without reshaping
            return (parallel.matmul(g, b.T) if need_a else None, parallel.matmul(a.T, g) if need_b else None)
        # Treat vectors as matrices (a: 1×k row, b: k×1 column), as NumPy does in forward.
        a2 = a[np.newaxis, :] if a.ndim == 1 else a
        b2 = b[:, np.newaxis] if b.ndim == 1 else b
        g2 = g
        if b.ndim == 1:  # first: for vector·vector, g is 0-d and gains its column axis here
            g2 = np.expand_dims(g2, -1)
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        grad_a = grad_b = None
        if need_a:
            grad_a = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape, a.dtype).reshape(a.shape)
        if need_b:
            grad_b = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape, b.dtype).reshape(b.shape)
        return grad_a, grad_b
