"""Matrix products: ``a @ b`` with NumPy's rules, and the linear layer ``x @ Wᵀ + b`` as one op.

``parallel.matmul(a, b)`` is ``a @ b``, split over tensorgrad's threads when there are several
(``tg.set_num_threads``) and the product is big enough to gain from it.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..errors import InputError
from ..speed import parallel
from .elementwise import fused_activation


class MatMul(Function):
    formula = "∂a = g·bᵀ,  ∂b = aᵀ·g"

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise InputError(f"matmul: both operands need at least 1 dimension, got shapes {a.shape} and {b.shape}"
                             " (use * to multiply by a scalar)")
        inner_a = a.shape[-1]
        inner_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if inner_a != inner_b:
            raise InputError(f"matmul: shapes {a.shape} and {b.shape} are not aligned ({inner_a} != {inner_b})")
        self.save(a, b)
        try:
            return parallel.matmul(a, b)
        except ValueError as err:  # batch dimensions that do not broadcast
            raise InputError(f"matmul: shapes {a.shape} and {b.shape}: batch dimensions do not broadcast ({err})") from None

    def backward(self, g):
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        # NumPy treats a vector a as a 1×k row and b as a k×1 column: do the same here, then drop
        # the added axis from each gradient. (Batch axes that broadcast are summed by the engine.)
        a2 = a[np.newaxis, :] if a.ndim == 1 else a
        b2 = b[:, np.newaxis] if b.ndim == 1 else b
        if b.ndim == 1:
            g = g[..., np.newaxis]
        if a.ndim == 1:
            g = g[..., np.newaxis, :]
        grad_a = parallel.matmul(g, np.swapaxes(b2, -1, -2)) if need_a else None
        grad_b = parallel.matmul(np.swapaxes(a2, -1, -2), g) if need_b else None
        if a.ndim == 1 and need_a:
            grad_a = grad_a[..., 0, :]
        if b.ndim == 1 and need_b:
            grad_b = grad_b[..., 0]
        return grad_a, grad_b


class Linear(Function):
    """``x @ weight.T + bias`` as one node (PyTorch's weight layout: (out_features, in_features)).

    With ``activation`` ("relu", "sigmoid", "tanh"), a fused node "linear+relu" applies it too, in
    place on the output while it is in the CPU cache, and backward starts from its derivative;
    ``model.fuse()`` turns this on for a Linear followed by its activation."""

    formula = "∂x = g·W,  ∂W = gᵀ·x,  ∂b = Σₙ g   (y = x·Wᵀ + b)"

    def forward(self, x, weight, bias, activation=None):
        if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
            raise InputError(f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape} "
                             f"(expects (..., {weight.shape[1] if weight.ndim == 2 else '?'}))")
        if bias.shape not in ((weight.shape[0],), ()):
            raise InputError(f"linear: bias of shape {bias.shape} does not fit weight of shape {weight.shape}")
        self.activation = fused_activation(self, activation)
        y = parallel.matmul(x, weight.T)
        y += bias  # in place: one pass fewer over the output
        if self.activation is not None:
            self.activation.activate(y, out=y)
        self.save(x, weight, y if self.activation else None)  # y only for the activation's slope
        return y

    def backward(self, g):
        x, weight, y = self.saved
        if self.activation is not None:
            g = self.activation.slope(g, y)  # ∂ of the pre-activation
        need_x, need_w, need_b = self.needs_input_grad
        x2 = x.reshape(-1, x.shape[-1])  # any batch axes as rows
        g2 = g.reshape(-1, g.shape[-1])
        grad_x = parallel.matmul(g, weight) if need_x else None
        grad_w = grad_b = None
        if need_w:
            # one sample: an outer product. einsum's, not np.outer's (multiply of broadcast views):
            # 35 against 61 µs for 784-128 (a matmul with inner size 1 took 273 µs)
            grad_w = np.einsum("i,j->ij", g2[0], x2[0]) if len(x2) == 1 else parallel.matmul(g2.T, x2)
        if need_b:
            grad_b = g2.sum(axis=0)  # the engine sums it to () for a 0-d bias
        return grad_x, grad_w, grad_b

    def composite(self, x, weight, bias):  # for gradients of gradients: the product, then the activation
        y = x @ weight.T + bias
        return y if self.activation is None else self.activation.apply(y)


class Einsum(Function):
    formula = "∂aᵢ = einsum of g with the other operands, back to aᵢ's subscripts"

    def forward(self, *operands, subscripts):
        self.inputs_subscripts, self.output_subscripts = parse_einsum(subscripts, [a.ndim for a in operands])
        for term in self.inputs_subscripts:
            if len(set(term)) != len(term):
                raise InputError(f"einsum: a repeated index inside one operand ('{term}', a diagonal) is not "
                                 "supported for gradients")
        try:
            y = np.einsum(subscripts, *operands, optimize=len(operands) > 2)
        except ValueError as err:
            shapes = ", ".join(str(a.shape) for a in operands)
            raise InputError(f"einsum: '{subscripts}' does not fit operands of shapes [{shapes}]: {err}") from None
        self.save(*operands)
        return y

    def backward(self, g):
        operands = self.saved
        grads = []
        for i, term in enumerate(self.inputs_subscripts):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [(t, a) for j, (t, a) in enumerate(zip(self.inputs_subscripts, operands)) if j != i]
            present = "".join(c for c in term if c in self.output_subscripts or any(c in t for t, _ in others))
            spec = ",".join([self.output_subscripts] + [t for t, _ in others]) + "->" + present
            grad = np.einsum(spec, g, *[a for _, a in others], optimize=len(others) > 1)
            # an index only this operand had was summed away in forward: its gradient is the same along it
            for k, c in enumerate(term):
                if c not in present:
                    grad = np.expand_dims(grad, k)
            grads.append(np.broadcast_to(grad, operands[i].shape))
        return tuple(grads)


def parse_einsum(subscripts: str, ndims: list[int]) -> tuple[list[str], str]:
    """Each operand's index letters and the output's, with '...' spelled out as letters and the
    implicit output (no '->') made explicit, as NumPy reads them."""
    spec = subscripts.replace(" ", "")
    left, arrow, right = spec.partition("->")
    terms = left.split(",")
    if len(terms) != len(ndims):
        raise InputError(f"einsum: '{subscripts}' names {len(terms)} operand(s), got {len(ndims)}")
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in spec]
    widest = max((n - len(t.replace("...", "")) for t, n in zip(terms, ndims) if "..." in t), default=0)
    batch = "".join(free[:widest])
    terms = [t.replace("...", batch[len(batch) - (n - len(t.replace("...", ""))):] if n - len(t.replace("...", "")) else "")
             for t, n in zip(terms, ndims)]
    if arrow:
        output = right.replace("...", batch)
    else:  # implicit: the letters used once, in alphabetical order, after the broadcast ones
        letters = "".join(terms)
        output = batch + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in batch))
    return terms, output
