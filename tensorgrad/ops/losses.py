"""Loss functions, each one node: its backward is simpler as a whole than as a chain of small
ops, and it is numerically stable by construction (log-sum-exp, logs clamped, logits never
exponentiated upwards).

The same losses can be written op by op, ``-(x.log_softmax(axis=1) * onehot).sum(axis=1).mean()``:
each op's ``composite`` does so (for gradients of gradients), and tests/ checks that both give the
same values and gradients. ``reduction`` is "mean" (over the samples), "sum" or "none" (one loss
per sample), as in PyTorch.

The options follow PyTorch's: per-class ``weight``, ``ignore_index`` and ``label_smoothing`` for
cross-entropy (its "mean" then divides by the total weight of the samples that count), per-element
``weight`` and ``pos_weight`` for the binary losses. Weights are constants: they get no gradient.
A target that is a tensor requiring a gradient gets one (probabilities, not class labels).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function
from ..errors import InputError, InputTypeError
from ._args import check_floating
from .elementwise import Maximum, Softplus
from .shape import Gather
from .softmax import LogSoftmax

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(op: str, reduction: str, allowed: tuple[str, ...] = REDUCTIONS) -> None:
    if not isinstance(reduction, str) or reduction not in allowed:
        raise InputError(f"{op}: reduction must be one of {allowed}, got {reduction!r}")


def check_paired_inputs(op: str, input: np.ndarray, target: np.ndarray, reduction: str, what: str) -> None:  # noqa: A002
    """What a loss of an input and a target of the same shape checks first."""
    check_reduction(op, reduction)
    if input.shape != target.shape:
        raise InputError(f"{op}: input shape {input.shape} and target shape {target.shape} differ")
    check_floating(op, what, input)


def check_elementwise_weight(op: str, what: str, weight: Any, input: np.ndarray) -> np.ndarray | None:  # noqa: A002
    """A weight that multiplies the losses element by element (broadcast to the input's shape, as
    PyTorch), in the input's dtype; None for none."""
    if weight is None:
        return None
    w = np.asarray(weight)
    if w.dtype.kind not in "iuf":
        raise InputTypeError(f"{op}: {what} must hold real numbers, got dtype {w.dtype} of shape {w.shape}")
    try:
        fits = np.broadcast_shapes(w.shape, input.shape) == input.shape
    except ValueError:
        fits = False
    if not fits:
        raise InputError(f"{op}: {what} of shape {w.shape} does not broadcast to the input's shape {input.shape}")
    return w.astype(input.dtype, copy=False)


def reduce_losses(per_sample: np.ndarray, reduction: str, divisor: float | None = None) -> np.ndarray:
    """The loss from one loss per sample; backward undoes it with ``upstream``. "mean" divides by
    ``divisor`` (default: the number of samples); with none to divide by it is NaN, as PyTorch."""
    if reduction == "mean":
        divisor = per_sample.size if divisor is None else divisor
        if not divisor:
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.divide(per_sample.sum(), divisor)
        return per_sample.sum() / divisor
    if reduction == "sum":
        return per_sample.sum()
    return per_sample


def upstream(g: np.ndarray, reduction: str, count: float) -> np.ndarray:
    """The gradient reaching each sample's loss: g/N for "mean", g for "sum", g[i] for "none"."""
    if reduction != "mean":
        return g
    if not count:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.divide(g, count)
    return g / count


def reduced(per_sample: Any, reduction: str, divisor: float | None = None) -> Any:
    """``reduce_losses`` on a tensor (the composites below)."""
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return per_sample.sum() / float(per_sample.size if divisor is None else divisor)
    return per_sample.sum() if reduction == "sum" else per_sample


# ------------------------------------------------------------------------------ class targets
def check_ignore_index(op: str, ignore_index: Any) -> None:
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise InputTypeError(f"{op}: ignore_index must be an int (a label to leave out), got {ignore_index!r}")


def class_axis(shape: tuple[int, ...]) -> int:
    """The class axis of a classifier's output, as PyTorch: 1 for (N, C, d1, ...), 0 for one
    unbatched sample (C,)."""
    return 1 if len(shape) > 1 else 0


def check_class_weight(op: str, weight: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray | None:
    """Per-class weights: one real number per class, in the input's dtype; None for none."""
    if weight is None:
        return None
    w = np.asarray(weight)
    classes = shape[class_axis(shape)]
    if w.dtype.kind not in "iuf":
        raise InputTypeError(f"{op}: weight must hold real numbers (one per class), got dtype {w.dtype} "
                             f"of shape {w.shape}")
    if w.shape != (classes,):
        raise InputError(f"{op}: weight must have one entry per class, shape ({classes},) for input of shape "
                         f"{shape}, got shape {w.shape}")
    return w.astype(dtype, copy=False)


class ClassLabels:
    """Integer class labels checked against a classifier's output of ``shape`` (N, C, d1, ...):
    flattened to one label per sample, with the weight of each sample and what "mean" divides by.

    Attributes:
        axis, classes: the class axis (1, or 0 for one unbatched sample (C,)) and its length C.
        samples: the shape of one loss per sample, ``shape`` without the class axis.
        labels: (M,) int64, M = the number of samples; an ignored sample's label is 0 here.
        kept: (M,) bool, the samples that count (label != ignore_index); None when all do.
        class_weight: (C,) or None; weights: (M,) the picked class weights, or None.
        divisor: what "mean" divides by: the total weight of the samples that count.
    """

    def __init__(self, op: str, shape: tuple[int, ...], target: np.ndarray, weight: np.ndarray | None,
                 ignore_index: int) -> None:
        self.axis = class_axis(shape)
        self.classes = shape[self.axis]
        self.samples = shape[:self.axis] + shape[self.axis + 1:]
        if target.shape != self.samples:
            raise InputError(f"{op}: input has {shape[0] if shape else 0} samples (shape {shape}) but target has "
                             f"shape {target.shape}: class labels must have shape {self.samples}")
        flat = target.reshape(-1).astype(np.int64, copy=False)
        if not flat.size or (0 <= flat.min() and flat.max() < self.classes and not 0 <= ignore_index < self.classes):
            kept = None  # every label a class, none ignored: the common case, checked with two reductions
        else:
            kept = flat != ignore_index
            if (kept & ((flat < 0) | (flat >= self.classes))).any():
                counted = flat[kept]
                raise InputError(f"{op}: target labels must be in [0, {self.classes}) for input of shape {shape} (or "
                                 f"equal ignore_index={ignore_index}), got labels from {counted.min()} to {counted.max()}")
        all_kept = kept is None or bool(kept.all())
        self.kept = None if all_kept else kept
        self.labels = flat if all_kept else np.where(kept, flat, 0)
        self.rows = np.arange(flat.size)  # with labels: the (sample, label) positions, picked in forward and backward
        self.class_weight = weight
        self.weights = None if weight is None else weight[self.labels]
        if weight is not None:
            self.divisor = float((self.weights if all_kept else self.weights[kept]).sum())
        else:
            self.divisor = float(flat.size if all_kept else np.count_nonzero(kept))

    def sample_shaped(self, values: np.ndarray) -> np.ndarray:
        """(M,) per-sample values as an array of the samples' shape, to multiply a loss tensor."""
        return values.reshape(self.samples)

    def class_shaped(self, values: np.ndarray, ndim: int) -> np.ndarray:
        """(C,) per-class values shaped to broadcast along the class axis of an ndim-d input."""
        return values.reshape((self.classes,) + (1,) * (ndim - self.axis - 1))


def log_likelihood_loss(logp: Any, labels: ClassLabels, reduction: str, label_smoothing: float = 0.0) -> Any:
    """The negative log-likelihood of log-probabilities ``logp`` (a tensor, class axis
    ``labels.axis``) at the labels, with PyTorch's class weights, ignored samples and label
    smoothing, written with tensorgrad's ops: ``nll_loss`` itself, and cross-entropy's composite.

    Per sample: (1 − ε)·w[y]·(−log p[y]) + ε/C·Σ_c w[c]·(−log p[c]), 0 for an ignored sample;
    "mean" divides the sum by the total weight w[y] of the samples that count."""
    index = np.expand_dims(labels.sample_shaped(labels.labels), labels.axis)
    per_sample = -Gather.apply(logp, index, axis=labels.axis).reshape(labels.samples)
    if labels.weights is not None:
        per_sample = per_sample * labels.sample_shaped(labels.weights)
    if label_smoothing:
        across = logp if labels.class_weight is None else logp * labels.class_shaped(labels.class_weight, logp.ndim)
        smooth = -across.sum(axis=labels.axis)
        per_sample = per_sample * (1.0 - label_smoothing) + smooth * (label_smoothing / labels.classes)
    if labels.kept is not None:  # (a mask, not a product: an ignored sample's gradient is 0, never 0·inf)
        per_sample = per_sample.masked_fill(~labels.sample_shaped(labels.kept), 0.0)
    return reduced(per_sample, reduction, labels.divisor)


def _rows(array: np.ndarray, axis: int) -> np.ndarray:
    """An (N, C, d1, ...) array as (M, C) rows, one per sample (a view for (N, C) and (C,))."""
    if array.ndim == 2:
        return array
    return np.moveaxis(array, axis, -1).reshape(-1, array.shape[axis])


def _unrows(rows: np.ndarray, shape: tuple[int, ...], axis: int) -> np.ndarray:
    """``_rows`` undone: (M, C) back to ``shape``."""
    if len(shape) == 2:
        return rows
    moved = shape[:axis] + shape[axis + 1:] + (shape[axis],)
    return np.moveaxis(rows.reshape(moved), -1, axis)


class CrossEntropy(Function):
    name = "cross_entropy"
    formula = ("∂z = (softmax(z) − t)·g/N,  ∂t = −log softmax(z)·g/N   (t: the one-hot or probability target, "
               "smoothed, times the class weights; softmax(z)·Σt if t does not sum to 1; N for mean: the total "
               "weight of the samples)")
    input_names = ("z", "t")

    def forward(self, logits, target, reduction="mean", weight=None, ignore_index=-100, label_smoothing=0.0):
        check_reduction(self.name, reduction)
        if logits.ndim == 0:
            raise InputError("cross_entropy: input must be (N, C) logits (or (N, C, d1, ...), or (C,)), got shape ()")
        check_floating(self.name, "input (the logits)", logits)
        check_ignore_index(self.name, ignore_index)
        if not 0.0 <= label_smoothing <= 1.0:
            raise InputError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
        weight = check_class_weight(self.name, weight, logits.shape, logits.dtype)
        axis = class_axis(logits.shape)
        z = _rows(logits if logits.ndim > 1 else logits[None], axis if logits.ndim > 1 else 1)  # (M, C)
        classes = z.shape[1]
        # log-sum-exp: every exponent is <= 0, so exp never overflows
        z_max = z.max(axis=1, keepdims=True) if z.size else np.zeros((len(z), 1), z.dtype)
        shifted = z - z_max
        exps = np.exp(shifted)
        totals = exps.sum(axis=1)
        log_totals = np.log(totals)  # log softmax(z) = shifted − log(totals)
        self.shape, self.axis, self.reduction, self.label_smoothing = logits.shape, axis, reduction, label_smoothing
        if target.dtype.kind in "iu" and target.ndim == logits.ndim - 1:  # class labels
            self.labels = labels = ClassLabels(self.name, logits.shape, target, weight, ignore_index)
            per_sample = log_totals - shifted[labels.rows, labels.labels]
            if labels.weights is not None:
                per_sample *= labels.weights
            if label_smoothing:  # −Σ_c w[c]·log p[c] = (Σ_c w[c])·log(totals) − Σ_c w[c]·shifted[c]
                if weight is None:
                    smooth = classes * log_totals - shifted.sum(axis=1)
                else:
                    smooth = weight.sum() * log_totals - shifted @ weight
                per_sample = (1 - label_smoothing) * per_sample + (label_smoothing / classes) * smooth
            if labels.kept is not None:
                per_sample[~labels.kept] = 0.0
            divisor = labels.divisor
            self.save(exps, totals)
        elif target.shape == logits.shape and target.dtype.kind == "f":  # one-hot / probabilities
            if ignore_index >= 0:
                raise InputError(f"cross_entropy: ignore_index ({ignore_index}) is for class labels, not for "
                                 f"probability targets (shape {target.shape})")
            self.labels = None
            t = _rows(target if target.ndim > 1 else target[None], axis if target.ndim > 1 else 1)
            if label_smoothing:
                t = t * (1 - label_smoothing) + label_smoothing / classes
            if weight is not None:
                t = t * weight
            per_sample = t.sum(axis=1) * log_totals - (t * shifted).sum(axis=1)  # −Σ_c t[c]·log p[c]
            divisor = len(z)
            self.save(exps, totals, t, z, z_max, log_totals)
            self.weight = weight
        else:
            samples = logits.shape[:axis] + logits.shape[axis + 1:]
            raise InputError(f"cross_entropy: target must be class labels of shape {samples} (integers) or "
                             f"probabilities of shape {logits.shape} (floats), got shape {target.shape} "
                             f"dtype {target.dtype}")
        self.divisor = divisor
        if reduction == "none":
            per_sample = per_sample.reshape(logits.shape[:axis] + logits.shape[axis + 1:])
        # in the logits' dtype (float64 probabilities would otherwise promote a float32 loss)
        return np.asarray(reduce_losses(per_sample, reduction, divisor)).astype(logits.dtype, copy=False)

    def backward(self, g):
        if self.divisor == 0 and self.reduction == "mean":  # all samples ignored: NaN loss, 0 gradients
            with np.errstate(invalid="ignore"):
                return self._gradients(g)
        return self._gradients(g)

    def _gradients(self, g):
        exps, totals = self.saved[:2]
        g_sample = upstream(g, self.reduction, self.divisor)  # g/N, g, or one g per sample
        if self.reduction == "none":
            g_sample = g_sample.reshape(-1)
        eps, labels = self.label_smoothing, self.labels
        grad_t = None
        if labels is not None:
            # per sample: softmax(z)·((1 − ε)·w[y] + ε/C·Σw) − (1 − ε)·w[y]·onehot(y) − ε/C·w
            g_picked = g_sample if labels.weights is None else g_sample * labels.weights
            scale = g_picked
            if eps:
                total_weight = labels.classes if labels.class_weight is None else labels.class_weight.sum()
                scale = (1 - eps) * g_picked + (eps / labels.classes * total_weight) * g_sample
            grad = exps * (scale / totals)[:, None]  # softmax(z) · scale
            # − onehot · g, without building the one-hot matrix
            grad[labels.rows, labels.labels] -= (1 - eps) * g_picked if eps else g_picked
            if eps:
                spread = eps / labels.classes * (labels.class_weight if labels.class_weight is not None else 1.0)
                grad -= (g_sample[:, None] if np.ndim(g_sample) else g_sample) * spread
            if labels.kept is not None:  # an ignored sample gets 0 (also when "mean" divides by 0)
                grad[~labels.kept] = 0.0
        else:
            t, z, z_max, log_totals = self.saved[2:]
            g_rows = g_sample[:, None] if np.ndim(g_sample) else g_sample
            grad = (exps * (t.sum(axis=1) / totals)[:, None] - t) * g_rows  # softmax(z)·Σt − t
            if self.needs_input_grad[1]:  # ∂t = −(1 − ε)·w·log softmax(z)·g
                grad_t = (z - z_max - log_totals[:, None]) * (-(1 - eps) * g_rows)
                if self.weight is not None:
                    grad_t *= self.weight
                grad_t = _unrows(grad_t, self.shape, self.axis).reshape(self.shape)
        if len(self.shape) == 2:  # (N, C) logits: the rows are the input itself
            return grad, grad_t
        return _unrows(grad, self.shape, self.axis).reshape(self.shape), grad_t

    def composite(self, logits, target):  # for gradients of gradients: log-softmax, then the pick
        logp = LogSoftmax.apply(logits, axis=self.axis)
        eps = self.label_smoothing
        if self.labels is not None:
            return log_likelihood_loss(logp, self.labels, self.reduction, eps)
        t = target * (1 - eps) + eps / self.shape[self.axis] if eps else target
        if self.weight is not None:
            t = t * self.weight.reshape((-1,) + (1,) * (logits.ndim - self.axis - 1))
        return reduced(-(logp * t).sum(axis=self.axis), self.reduction, self.divisor)


class BinaryCrossEntropy(Function):
    name = "binary_cross_entropy"
    formula = ("∂p = g·w·(p − t)/(p·(1 − p))/N,  ∂t = g·w·log((1 − p)/p)/N   "
               "(logs clamped at −100, as PyTorch; w the weight)")
    input_names = ("p", "t")

    def forward(self, p, target, reduction="mean", weight=None):
        check_paired_inputs(self.name, p, target, reduction, "input (probabilities)")
        if p.size and not (p.min() >= 0 and p.max() <= 1):  # written so that NaN fails it too
            raise InputError(f"binary_cross_entropy: input must be probabilities in [0, 1], got values from "
                             f"{p.min()} to {p.max()} (for logits use binary_cross_entropy_with_logits)")
        if target.size and not (target.min() >= 0 and target.max() <= 1):
            raise InputError(f"binary_cross_entropy: target must be in [0, 1], got values from "
                             f"{target.min()} to {target.max()}")
        self.weight = check_elementwise_weight(self.name, "weight", weight, p)
        with np.errstate(divide="ignore"):  # log(0) = −inf, clamped to −100 below
            log_p = np.maximum(np.log(p), -100)
            log_1mp = np.maximum(np.log1p(-p), -100)
        per_sample = -(target * log_p + (1 - target) * log_1mp)
        if self.weight is not None:
            per_sample = per_sample * self.weight
        self.save(p, target)
        self.reduction = reduction
        return np.asarray(reduce_losses(per_sample, reduction)).astype(p.dtype, copy=False)

    def backward(self, g):
        p, target = self.saved
        g_sample = upstream(g, self.reduction, p.size)
        if self.weight is not None:
            g_sample = g_sample * self.weight
        grad_p = (p - target) / np.maximum(p * (1 - p), 1e-12) * g_sample
        grad_t = None
        if self.needs_input_grad[1]:  # −logit(p), unclamped, as PyTorch
            with np.errstate(divide="ignore"):
                grad_t = (np.log1p(-p) - np.log(p)) * g_sample
        return grad_p, grad_t

    def composite(self, p, target):  # for gradients of gradients
        log_p, log_1mp = Maximum.apply(p.log(), -100.0), Maximum.apply((1 - p).log(), -100.0)
        per_sample = -(target * log_p + (1 - target) * log_1mp)
        return reduced(per_sample if self.weight is None else per_sample * self.weight, self.reduction)


class BinaryCrossEntropyWithLogits(Function):
    name = "binary_cross_entropy_with_logits"
    formula = ("∂z = g·w·((1 + (pw − 1)·t)·σ(z) − pw·t)/N,  ∂t = g·w·((pw − 1)·log(1 + e^−z) − z)/N   "
               "(w the weight, pw the positive weight, 1 by default)")
    input_names = ("z", "t")

    def forward(self, z, target, reduction="mean", weight=None, pos_weight=None):
        check_paired_inputs(self.name, z, target, reduction, "input (logits)")
        self.weight = check_elementwise_weight(self.name, "weight", weight, z)
        self.pos_weight = check_elementwise_weight(self.name, "pos_weight", pos_weight, z)
        # −pw·t·log σ(z) − (1−t)·log(1−σ(z)) = (1−t)·z + (1 + (pw−1)·t)·log(1 + e^−z), written so that
        # nothing overflows: log(1 + e^−z) = max(−z, 0) + log(1 + e^−|z|)
        log_term = np.log1p(np.exp(-np.abs(z)))
        if self.pos_weight is None:  # (the same, with z + max(−z, 0) = max(z, 0))
            per_sample = np.maximum(z, 0) - z * target + log_term
        else:
            per_sample = (1 - target) * z + (1 + (self.pos_weight - 1) * target) * (np.maximum(-z, 0) + log_term)
        if self.weight is not None:
            per_sample = per_sample * self.weight
        self.save(z, target)
        self.reduction = reduction
        return np.asarray(reduce_losses(per_sample, reduction)).astype(z.dtype, copy=False)

    def backward(self, g):
        z, target = self.saved
        g_sample = upstream(g, self.reduction, z.size)
        if self.weight is not None:
            g_sample = g_sample * self.weight
        sigmoid = 0.5 * (1 + np.tanh(0.5 * z))  # σ(z) without overflow for any z
        pw = self.pos_weight
        if pw is None:
            grad_z = (sigmoid - target) * g_sample
        else:
            grad_z = ((1 + (pw - 1) * target) * sigmoid - pw * target) * g_sample
        grad_t = None
        if self.needs_input_grad[1]:
            if pw is None:
                grad_t = -z * g_sample
            else:
                grad_t = ((pw - 1) * (np.maximum(-z, 0) + np.log1p(np.exp(-np.abs(z)))) - z) * g_sample
        return grad_z, grad_t

    def composite(self, z, target):  # for gradients of gradients: smooth at z = 0 too
        if self.pos_weight is None:
            per_sample = Softplus.apply(z) - z * target
        else:
            per_sample = (1 - target) * z + (1 + (self.pos_weight - 1) * target) * Softplus.apply(-z)
        return reduced(per_sample if self.weight is None else per_sample * self.weight, self.reduction)
