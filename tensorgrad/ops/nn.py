"""Fused neural-network ops: one node each for a layer or a loss whose backward is simpler and
faster as a whole than as a chain of small ops (and numerically stable by construction).

The same models can still be written op by op (``x @ W.T + b``, ``.log_softmax()``); these are what
``tensorgrad.nn`` uses.
"""
from __future__ import annotations

import functools

import numpy as np

from ..autograd import Function
from .. import parallel
from .elementwise import FUSABLE_ACTIVATIONS, Activation

REDUCTIONS = ("mean", "sum", "none")
# ndarray.sum/max/min without their Python-level wrappers: these ops run on every training step
_sum, _max, _min = np.add.reduce, np.maximum.reduce, np.minimum.reduce


def _check_floating(op: str, what: str, array: np.ndarray) -> None:
    """A loss is computed in its input's dtype: an integer input would round it to an integer."""
    if array.dtype.kind not in "fc":
        raise TypeError(f"{op}: {what} must be floating point, got {array.dtype} of shape {array.shape}")


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduce(per_sample: np.ndarray, reduction: str) -> np.ndarray:
    """Apply the loss reduction; backward scales by the matching factor (see ``_upstream``)."""
    # the ufuncs' own reduce: ndarray.sum and np.mean go through Python-level wrappers that cost
    # more than the sum itself at these sizes (the loss runs once per training step)
    if reduction == "mean":
        return _sum(per_sample, axis=None) * (1.0 / max(per_sample.size, 1))
    if reduction == "sum":
        return _sum(per_sample, axis=None)
    return per_sample


def _upstream(g: np.ndarray, reduction: str, count: int) -> np.ndarray:
    """The gradient reaching each sample's loss: g/N for mean, g for sum, g[i] for none."""
    if reduction == "mean":
        return g * (1.0 / count)
    return g


def fused_activation(op: Function, activation: str | None) -> type[Activation] | None:
    """Check a layer's ``activation`` option; name the node after both ("linear+relu") and give
    it both formulas. Returns the activation's op class (its ``activate`` and ``slope``), or None."""
    if activation is None:
        return None
    if activation not in FUSABLE_ACTIVATIONS:
        raise ValueError(f"{op.name}: activation must be None or one of {sorted(FUSABLE_ACTIVATIONS)}, "
                         f"got {activation!r}")
    op.name, op.formula = fused_name_and_formula(type(op), FUSABLE_ACTIVATIONS[activation])
    return FUSABLE_ACTIVATIONS[activation]


@functools.lru_cache(maxsize=None)
def fused_name_and_formula(op: type[Function], *after: type[Function]) -> tuple[str, str]:
    """The name and formula of ``op`` fused with the ops ``after`` it ("conv2d+relu+max_pool2d"):
    the formulas in backward order, the last op's first. Built once per combination."""
    stages = "".join(f"{stage.name}: {stage.formula};  then " for stage in reversed(after))
    return "+".join(t.name for t in (op, *after)), f"{stages}{op.name}, with g = ∂a: {op.formula}"


class Linear(Function):
    """``x @ weight.T + bias``; with ``activation``, the activation of that too, as one node whose
    backward starts from the activation's derivative (the pre-activation is never stored)."""

    name = "linear"
    formula = "∂x = g·W,  ∂W = gᵀ·x,  ∂b = Σₙ g   (y = x·Wᵀ + b)"

    def forward(self, x, weight, bias, activation=None):
        if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
            raise ValueError(f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape} "
                             f"(expects (..., {weight.shape[1] if weight.ndim == 2 else '?'}))")
        if bias.shape not in ((weight.shape[0],), ()):
            raise ValueError(f"linear: bias of shape {bias.shape} does not fit weight of shape {weight.shape}")
        self.bias_shape = bias.shape
        y = parallel.matmul(x, weight.T)
        y += bias  # in place: one pass fewer over the output
        self.activation = fused_activation(self, activation)
        if self.activation is not None:
            self.activation.activate(y, out=y)  # in place, while y is in cache
        self.save(x, weight, y if self.activation else None)  # y only for the activation's slope
        return y

    def backward(self, g):
        x, weight, y = self.saved
        if self.activation is not None:
            g = self.activation.slope(g, y)  # ∂ pre-activation
        need_x, need_w, need_b = self.needs_input_grad
        x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
        g2 = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])
        grad_x = parallel.matmul(g2, weight).reshape(x.shape) if need_x else None
        grad_w = grad_b = None
        if need_w:
            # one sample: an outer product (a matmul with inner size 1 is several times slower in NumPy)
            grad_w = np.einsum("i,j->ij", g2[0], x2[0]) if len(x2) == 1 else parallel.matmul(g2.T, x2)
        if need_b:
            grad_b = _sum(g2, axis=0 if self.bias_shape else None)
        return grad_x, grad_w, grad_b


class CrossEntropy(Function):
    name = "cross_entropy"
    formula = "∂z = (softmax(z) − t)·g/N   (t the one-hot or probability target; N for mean)"

    def forward(self, logits, target, reduction="mean"):
        _check_reduction(self.name, reduction)
        if logits.ndim != 2:
            raise ValueError(f"cross_entropy: input must be (N, C) logits, got shape {logits.shape}")
        _check_floating(self.name, "input (the logits)", logits)
        n, classes = logits.shape
        # log-sum-exp: every exponent is <= 0, so exp never overflows
        shifted = logits - _max(logits, axis=1, keepdims=True)
        exps = np.exp(shifted)
        totals = _sum(exps, axis=1)  # log softmax = shifted − log(totals)
        if target.ndim == 1 and target.dtype.kind in "iu":  # class labels
            if target.shape[0] != n:
                raise ValueError(f"cross_entropy: input has {n} samples (shape {logits.shape}) "
                                 f"but target has shape {target.shape}")
            rows = np.arange(n)
            # a label >= C fails the indexing; a negative one would wrap around, so it is tested
            bad = target.dtype.kind == "i" and n and _min(target) < 0
            try:
                picked = shifted[rows, target]
            except IndexError:
                bad = True
            if bad:
                raise ValueError(f"cross_entropy: target labels must be in [0, {classes}) for input of shape "
                                 f"{logits.shape}, got labels from {target.min()} to {target.max()}")
            per_sample = np.log(totals) - picked
            self.rows = rows
        elif target.shape == logits.shape and target.dtype.kind == "f":  # one-hot / probabilities
            per_sample = -(target * (shifted - np.log(totals)[:, None])).sum(axis=1)
        else:
            raise ValueError(f"cross_entropy: target must be class labels of shape ({n},) (integers) or "
                             f"probabilities of shape {logits.shape} (floats), got shape {target.shape} "
                             f"dtype {target.dtype}")
        self.save(exps, totals, target)
        self.reduction = reduction
        return _reduce(per_sample, reduction).astype(logits.dtype, copy=False)

    def backward(self, g):
        exps, totals, target = self.saved
        upstream = _upstream(g, self.reduction, len(exps))  # g/N, g, or one g per sample
        grad = exps * (upstream / totals)[:, None]  # softmax · upstream, in one pass
        if target.ndim == 1:
            grad[self.rows, target] -= upstream
        else:
            grad -= target * (upstream[:, None] if upstream.ndim else upstream)
        return grad, None


class BinaryCrossEntropy(Function):
    name = "binary_cross_entropy"
    formula = "∂p = g·(p − t)/(p·(1 − p))/N   (logs clamped at −100, as PyTorch)"

    def forward(self, p, target, reduction="mean"):
        _check_reduction(self.name, reduction)
        if p.shape != target.shape:
            raise ValueError(f"binary_cross_entropy: input shape {p.shape} and target shape {target.shape} differ")
        _check_floating(self.name, "input (probabilities)", p)
        if p.size and not (p.min() >= 0 and p.max() <= 1):  # written so that NaN fails it too
            raise ValueError(f"binary_cross_entropy: input must be probabilities in [0, 1], got values from "
                             f"{p.min()} to {p.max()} (for logits use binary_cross_entropy_with_logits)")
        if target.size and not (target.min() >= 0 and target.max() <= 1):
            raise ValueError(f"binary_cross_entropy: target must be in [0, 1], got values from "
                             f"{target.min()} to {target.max()}")
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100)
            log_1mp = np.maximum(np.log1p(-p), -100)
        per_sample = -(target * log_p + (1 - target) * log_1mp)
        self.save(p, target)
        self.reduction = reduction
        return _reduce(per_sample, reduction).astype(p.dtype, copy=False)

    def backward(self, g):
        p, target = self.saved
        upstream = _upstream(g, self.reduction, p.size)
        grad = (p - target) / np.maximum(p * (1 - p), 1e-12) * upstream
        return grad.astype(p.dtype, copy=False), None


class BinaryCrossEntropyWithLogits(Function):
    name = "binary_cross_entropy_with_logits"
    formula = "∂z = g·(σ(z) − t)/N"

    def forward(self, z, target, reduction="mean"):
        _check_reduction(self.name, reduction)
        if z.shape != target.shape:
            raise ValueError(f"binary_cross_entropy_with_logits: input shape {z.shape} and target shape "
                             f"{target.shape} differ")
        _check_floating(self.name, "input (logits)", z)
        # log(1 + e^−|z|) never overflows: the stable form of −t·log σ(z) − (1−t)·log(1−σ(z))
        per_sample = np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))
        self.save(z, target)
        self.reduction = reduction
        return _reduce(per_sample, reduction).astype(z.dtype, copy=False)

    def backward(self, g):
        z, target = self.saved
        sigmoid = 0.5 * (1 + np.tanh(0.5 * z))
        upstream = _upstream(g, self.reduction, z.size)
        return ((sigmoid - target) * upstream).astype(z.dtype, copy=False), None


class Dropout(Function):
    name = "dropout"
    formula = "∂x = g·mask/(1 − p)   (mask: the units kept in forward)"

    def forward(self, x, scaled_mask):
        self.save(scaled_mask)
        return x * scaled_mask

    def backward(self, g):
        (scaled_mask,) = self.saved
        return g * scaled_mask, None
