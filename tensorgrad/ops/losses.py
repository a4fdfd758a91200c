"""Loss functions, each one node: its backward is simpler as a whole than as a chain of small
ops, and it is numerically stable by construction (log-sum-exp, logs clamped, logits never
exponentiated upwards).

The same losses can be written op by op, ``-(x.log_softmax(axis=1) * onehot).sum(axis=1).mean()``:
tests/ checks that both give the same values and gradients. ``reduction`` is "mean" (over the
samples), "sum" or "none" (one loss per sample), as in PyTorch.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..errors import InputError
from ._args import check_floating
from .elementwise import Maximum, Softplus
from .softmax import LogSoftmax

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(op: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise InputError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def check_paired_inputs(op: str, input: np.ndarray, target: np.ndarray, reduction: str, what: str) -> None:  # noqa: A002
    """What a loss of an input and a target of the same shape checks first."""
    check_reduction(op, reduction)
    if input.shape != target.shape:
        raise InputError(f"{op}: input shape {input.shape} and target shape {target.shape} differ")
    check_floating(op, what, input)


def reduce_losses(per_sample: np.ndarray, reduction: str) -> np.ndarray:
    """The loss from one loss per sample; backward undoes it with ``upstream``."""
    if reduction == "mean":
        return per_sample.sum() / max(per_sample.size, 1)  # (0.0 for no samples, not NumPy's NaN)
    if reduction == "sum":
        return per_sample.sum()
    return per_sample


def upstream(g: np.ndarray, reduction: str, count: int) -> np.ndarray:
    """The gradient reaching each sample's loss: g/N for "mean", g for "sum", g[i] for "none"."""
    return g / count if reduction == "mean" else g


class CrossEntropy(Function):
    name = "cross_entropy"
    formula = "∂z = (softmax(z) − t)·g/N   (t the one-hot or probability target; N for mean)"
    input_names = ("z", "t")

    def forward(self, logits, target, reduction="mean"):
        check_reduction(self.name, reduction)
        if logits.ndim != 2:
            raise InputError(f"cross_entropy: input must be (N, C) logits, got shape {logits.shape}")
        check_floating(self.name, "input (the logits)", logits)
        n, classes = logits.shape
        # log-sum-exp: every exponent is <= 0, so exp never overflows
        shifted = logits - logits.max(axis=1, keepdims=True)
        exps = np.exp(shifted)
        totals = exps.sum(axis=1)  # log softmax(z) = shifted − log(totals)
        if target.ndim == 1 and target.dtype.kind in "iu":  # class labels
            if target.shape[0] != n:
                raise InputError(f"cross_entropy: input has {n} samples (shape {logits.shape}) "
                                 f"but target has shape {target.shape}")
            self.rows = np.arange(n)
            try:  # a label >= C fails the indexing; a negative one would wrap around, so it is tested
                picked = shifted[self.rows, target]
                valid = not n or target.min() >= 0
            except IndexError:
                valid = False
            if not valid:
                raise InputError(f"cross_entropy: target labels must be in [0, {classes}) for input of shape "
                                 f"{logits.shape}, got labels from {target.min()} to {target.max()}")
            per_sample = np.log(totals) - picked
        elif target.shape == logits.shape and target.dtype.kind == "f":  # one-hot / probabilities
            per_sample = -(target * (shifted - np.log(totals)[:, None])).sum(axis=1)
        else:
            raise InputError(f"cross_entropy: target must be class labels of shape ({n},) (integers) or "
                             f"probabilities of shape {logits.shape} (floats), got shape {target.shape} "
                             f"dtype {target.dtype}")
        self.save(exps, totals, target)
        self.reduction = reduction
        # in the logits' dtype (float64 probabilities would otherwise promote a float32 loss)
        return reduce_losses(per_sample, reduction).astype(logits.dtype, copy=False)

    def backward(self, g):
        exps, totals, target = self.saved
        g_sample = upstream(g, self.reduction, len(exps))  # g/N, g, or one g per sample
        grad = exps * (g_sample / totals)[:, None]  # softmax(z) · g_sample
        if target.ndim == 1:  # − onehot · g_sample, without building the one-hot matrix
            grad[self.rows, target] -= g_sample
        else:
            grad -= target * (g_sample[:, None] if g_sample.ndim else g_sample)
        return grad, None

    def composite(self, logits, target):  # for gradients of gradients: log-softmax, then the pick
        logp = LogSoftmax.apply(logits, axis=1)
        labels = target.data
        if labels.ndim == 1:
            per_sample = -logp[np.arange(len(labels)), labels]
        else:
            per_sample = -(logp * target).sum(axis=1)
        return reduced(per_sample, self.reduction)


class BinaryCrossEntropy(Function):
    name = "binary_cross_entropy"
    formula = "∂p = g·(p − t)/(p·(1 − p))/N   (logs clamped at −100, as PyTorch)"
    input_names = ("p", "t")

    def forward(self, p, target, reduction="mean"):
        check_paired_inputs(self.name, p, target, reduction, "input (probabilities)")
        if p.size and not (p.min() >= 0 and p.max() <= 1):  # written so that NaN fails it too
            raise InputError(f"binary_cross_entropy: input must be probabilities in [0, 1], got values from "
                             f"{p.min()} to {p.max()} (for logits use binary_cross_entropy_with_logits)")
        if target.size and not (target.min() >= 0 and target.max() <= 1):
            raise InputError(f"binary_cross_entropy: target must be in [0, 1], got values from "
                             f"{target.min()} to {target.max()}")
        with np.errstate(divide="ignore"):  # log(0) = −inf, clamped to −100 below
            log_p = np.maximum(np.log(p), -100)
            log_1mp = np.maximum(np.log1p(-p), -100)
        per_sample = -(target * log_p + (1 - target) * log_1mp)
        self.save(p, target)
        self.reduction = reduction
        return reduce_losses(per_sample, reduction).astype(p.dtype, copy=False)

    def backward(self, g):
        p, target = self.saved
        g_sample = upstream(g, self.reduction, p.size)
        return (p - target) / np.maximum(p * (1 - p), 1e-12) * g_sample, None

    def composite(self, p, target):  # for gradients of gradients
        log_p, log_1mp = Maximum.apply(p.log(), -100.0), Maximum.apply((1 - p).log(), -100.0)
        return reduced(-(target * log_p + (1 - target) * log_1mp), self.reduction)


class BinaryCrossEntropyWithLogits(Function):
    name = "binary_cross_entropy_with_logits"
    formula = "∂z = g·(σ(z) − t)/N"
    input_names = ("z", "t")

    def forward(self, z, target, reduction="mean"):
        check_paired_inputs(self.name, z, target, reduction, "input (logits)")
        # −t·log σ(z) − (1−t)·log(1−σ(z)), written so that nothing overflows: log(1 + e^−|z|)
        per_sample = np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))
        self.save(z, target)
        self.reduction = reduction
        return reduce_losses(per_sample, reduction).astype(z.dtype, copy=False)

    def backward(self, g):
        z, target = self.saved
        sigmoid = 0.5 * (1 + np.tanh(0.5 * z))  # σ(z) without overflow for any z
        return (sigmoid - target) * upstream(g, self.reduction, z.size), None

    def composite(self, z, target):  # for gradients of gradients: softplus(z) − z·t, smooth at z = 0 too
        return reduced(Softplus.apply(z) - z * target, self.reduction)


def reduced(per_sample, reduction):
    """``reduce_losses`` on a tensor (the composites above)."""
    if reduction == "mean":
        return per_sample.sum() / max(per_sample.size, 1)
    return per_sample.sum() if reduction == "sum" else per_sample
