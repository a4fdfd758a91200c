"""Functions on tensors with PyTorch's names (``import tensorgrad.nn.functional as F``).

Axis arguments accept NumPy's ``axis=`` and PyTorch's ``dim=`` alike.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..errors import InputError
from ..ops._args import check_floating
from ..ops.conv import Conv2d
from ..ops.elementwise import Dropout, Gelu, Relu, Sigmoid, Softplus, Tanh, Where, activation_op
from ..ops.losses import (
    REDUCTIONS, BinaryCrossEntropy, BinaryCrossEntropyWithLogits, ClassLabels, CrossEntropy, check_class_weight,
    check_ignore_index, check_reduction, log_likelihood_loss, reduced,
)
from ..ops.matmul import Linear
from ..ops.normalize import BatchNorm, Normalize
from ..ops.pool import AvgPool2d, MaxPool2d
from ..ops.softmax import LogSoftmax, Softmax
from ..creation import default_rng
from ..tensor import DEFAULT_DTYPE, Tensor

__all__ = [
    "leaky_relu", "elu", "silu", "mish", "batch_norm", "layer_norm", "embedding", "scaled_dot_product_attention",
    "relu", "sigmoid", "tanh", "gelu", "softplus", "softmax", "log_softmax", "linear", "conv2d", "max_pool2d",
    "avg_pool2d", "dropout", "one_hot", "cross_entropy", "nll_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "kl_div",
]


def _axis(op: str, axis: int | None, dim: int | None, default: int = -1) -> int:
    if axis is not None and dim is not None and axis != dim:
        raise ValueError(f"{op}: give axis= or dim=, not both (got axis={axis}, dim={dim})")
    return axis if axis is not None else dim if dim is not None else default


def relu(x: Any) -> Tensor:
    """max(x, 0)."""
    return Relu.apply(x)


def sigmoid(x: Any) -> Tensor:
    """1/(1 + e^−x), stable for any x."""
    return Sigmoid.apply(x)


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent, element by element."""
    return Tanh.apply(x)


def _tensor(x: Any) -> Tensor:
    """x itself when it is a Tensor, else a constant Tensor of it (an input given as an array)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x·Φ(x); ``approximate="tanh"`` for the tanh approximation."""
    return Gelu.apply(x, approximate=approximate)


def softplus(x: Any, beta: float = 1.0, threshold: float | None = None) -> Tensor:
    """log(1 + e^(β·x))/β, a smooth ReLU, computed without overflow; its derivative is σ(β·x).
    With a ``threshold``, x itself where β·x exceeds it (as PyTorch's; ``nn.Softplus`` passes its
    20): not needed for stability here, the op is stable on its own."""
    smooth = Softplus.apply(x) if beta == 1 else Softplus.apply(_tensor(x) * beta) / beta
    if threshold is None:
        return smooth
    x = _tensor(x)
    return Where.apply(x.data * beta > threshold, x, smooth)


def softmax(x: Any, axis: int | None = None, dim: int | None = None) -> Tensor:
    """Stable softmax along ``axis`` (default the last; PyTorch's ``dim=`` also accepted)."""
    return Softmax.apply(x, axis=_axis("softmax", axis, dim))


def log_softmax(x: Any, axis: int | None = None, dim: int | None = None) -> Tensor:
    """Stable log-softmax along ``axis`` (default the last; PyTorch's ``dim=`` also accepted)."""
    return LogSoftmax.apply(x, axis=_axis("log_softmax", axis, dim))


def linear(x: Any, weight: Any, bias: Any = None, activation: str | None = None) -> Tensor:
    """``x @ weight.T + bias`` as one op; weight is (out_features, in_features), as PyTorch.
    ``activation`` ("relu", "sigmoid", "tanh") applies that too, in the same node ("linear+relu")."""
    if bias is None:
        bias = np.zeros((), dtype=getattr(weight, "dtype", DEFAULT_DTYPE))  # a list weight: float32, as tensors
    return Linear.apply(x, weight, bias, activation=activation)


def conv2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           activation: str | None = None, max_pool: Any = None) -> Tensor:
    """2-D convolution of x (N, C, H, W) with weight (O, C, kh, kw) plus an optional bias (O,).

    ``stride`` (default 1) is the step between windows and ``padding`` (default 0) the zeros added
    on each side, each an int or a (rows, columns) pair; the output is (N, O, OH, OW) with
    OH = (H + 2·padding − kh) // stride + 1 (OW alike). ``activation`` ("relu", "sigmoid",
    "tanh") applies that too, fused into the same node, and ``max_pool`` (a kernel size, after no
    activation or relu) then max pooling with stride = kernel: one node "conv2d+relu+max_pool2d",
    the numbers and gradients of the three ops in a row. (The op: ops/conv.py; the same
    convolution written plainly: ops/conv_reference.py.)"""
    options = dict(stride=stride, padding=padding, activation=activation, max_pool=max_pool)
    if bias is None:
        return Conv2d.apply(x, weight, **options)
    return Conv2d.apply(x, weight, bias, **options)


def max_pool2d(x: Any, kernel_size: Any = 2, stride: Any = None, padding: Any = 0) -> Tensor:
    """Max over kernel_size windows (default 2x2) of x (N, C, H, W); stride defaults to
    kernel_size; ``padding`` adds −inf borders, at most half the kernel."""
    return MaxPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)


def avg_pool2d(x: Any, kernel_size: Any = 2, stride: Any = None, padding: Any = 0) -> Tensor:
    """Mean over kernel_size windows (default 2x2) of floating-point x (N, C, H, W); stride
    defaults to kernel_size; ``padding`` adds zeros, at most half the kernel, that count in the mean."""
    return AvgPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)


def dropout(x: Any, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None) -> Tensor:
    """Inverted dropout: in training, zero each unit with probability ``p`` (in [0, 1)) and scale
    the rest by 1/(1−p), so evaluation needs no rescaling; identity when not training or p = 0.
    ``rng``: the NumPy generator that draws the mask (default tensorgrad's, seeded by
    ``tg.manual_seed``)."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0:
        return x if isinstance(x, Tensor) else Tensor._from_op(np.asarray(x), None)
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    generator = rng if rng is not None else default_rng()
    keep = generator.random(data.shape, dtype=np.float32) >= p
    scaled_mask = keep.astype(data.dtype) * (1.0 / (1.0 - p))
    return Dropout.apply(x, scaled_mask)


def one_hot(labels: Any, num_classes: int = -1, dtype: Any = np.float32) -> Tensor:
    """Integer labels (N,) → (N, num_classes) one-hot rows (float32 here, so they can weight a loss).
    ``num_classes=-1`` uses max(label) + 1."""
    array = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
    if array.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {array.dtype}")
    if num_classes < 0:
        num_classes = int(array.max()) + 1 if array.size else 0
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        raise ValueError(f"one_hot: labels must be in [0, {num_classes}), got {array.min()} to {array.max()}")
    return Tensor._from_op(np.eye(num_classes, dtype=dtype)[array], None)


def _target_array(target: Any) -> np.ndarray:
    return target.data if isinstance(target, Tensor) else np.asarray(target)


def _target_input(target: Any) -> Tensor:
    """A loss's target as an op input: a Tensor as it is (one that requires a gradient gets one),
    anything else a constant Tensor. Made here, directly: the op's generic wrapping of non-Tensor
    inputs costs more, on every training step."""
    return target if isinstance(target, Tensor) else Tensor._from_op(np.asarray(target), None)


def _weight_array(weight: Any) -> np.ndarray | None:
    """A loss's weight (class weights, element weights, pos_weight) as an array: a constant."""
    if weight is None:
        return None
    return weight.data if isinstance(weight, Tensor) else np.asarray(weight)


def cross_entropy(input: Any, target: Any, weight: Any = None, *, ignore_index: int = -100,  # noqa: A002
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of logits against class labels or probabilities: log-softmax and the negative
    log-likelihood fused in one stable op, as PyTorch's ``F.cross_entropy``.

    The input is (N, C) logits, (N, C, d1, ...) (the class axis is 1: a loss per position, as a
    segmentation), or (C,) for one sample; floating point. The target is integer class labels of
    the input's shape without the class axis ((N,), (N, d1, ...), or ()), in [0, C); or
    probabilities (one-hot or soft) of the input's shape, floats, which get a gradient when the
    target requires one.

    ``weight``: (C,) per-class weights (a constant), multiplying each sample's loss by its class's
    weight; with labels, "mean" then divides by the sum of the weights of the labels, as PyTorch.
    ``ignore_index``: samples with this label count neither in the sum nor in the mean (default
    -100; labels only). ``label_smoothing`` ε in [0, 1]: the target becomes (1 − ε)·target + ε/C.
    ``reduction``: "mean" (the default: the mean over samples), "sum", or "none" (one loss per
    sample, in the shape of the labels, to weight or inspect them). A mean over no samples (all
    of them ignored) is NaN, as PyTorch."""
    return CrossEntropy.apply(input, _target_input(target), reduction=reduction, weight=_weight_array(weight),
                              ignore_index=ignore_index, label_smoothing=label_smoothing)


def nll_loss(input: Any, target: Any, weight: Any = None, *, ignore_index: int = -100,  # noqa: A002
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities (e.g. from log_softmax) at integer labels, as
    PyTorch's ``F.nll_loss``: input (N, C), (N, C, d1, ...) or (C,), labels of its shape without the
    class axis 1, in [0, C). Written with tensorgrad's ops (a pick with gather, a sum).

    ``weight``: (C,) per-class weights ("mean" divides by the sum of the weights of the labels);
    ``ignore_index``: samples with this label count neither in the sum nor in the mean (default
    -100). ``reduction``: "mean" (the default: the mean over samples), "sum", or "none" (one loss
    per sample, to weight or inspect them)."""
    logp = input if isinstance(input, Tensor) else Tensor._from_op(np.asarray(input), None)
    labels = _target_array(target)
    check_reduction("nll_loss", reduction)
    check_ignore_index("nll_loss", ignore_index)
    if logp.ndim == 0 or labels.dtype.kind not in "iu":
        raise InputError(f"nll_loss: expects (N, C) (or (N, C, d1, ...), or (C,)) log-probabilities and integer "
                         f"class labels, got input {logp.shape} and target {labels.shape} {labels.dtype}")
    check_floating("nll_loss", "input (log-probabilities)", logp.data)
    class_weight = check_class_weight("nll_loss", _weight_array(weight), logp.shape, logp.dtype)
    return log_likelihood_loss(logp, ClassLabels("nll_loss", logp.shape, labels, class_weight, ignore_index), reduction)


def binary_cross_entropy(input: Any, target: Any, weight: Any = None, *, reduction: str = "mean") -> Tensor:  # noqa: A002
    """−w·[t·log p + (1−t)·log(1−p)] for probabilities p and targets t in [0, 1], of the same
    shape (logs clamped at −100, as PyTorch). A target that requires a gradient gets one.

    ``weight``: a constant that multiplies each element's loss, broadcast to the input's shape.
    ``reduction``: "mean" (the default: the mean over all elements), "sum", or "none" (one loss
    per element, to weight or inspect them)."""
    return BinaryCrossEntropy.apply(input, _target_input(target), reduction=reduction, weight=_weight_array(weight))


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None, *,  # noqa: A002
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """Binary cross-entropy of logits z against targets t of the same shape,
    −w·[pw·t·log σ(z) + (1−t)·log(1 − σ(z))], computed without overflow for any z (no sigmoid
    layer needed). A target that requires a gradient gets one.

    ``weight``: a constant that multiplies each element's loss, broadcast to the input's shape.
    ``pos_weight``: pw, the weight of the positive term, broadcast along the last axis (one per
    class: more than 1 to favour recall); default 1. ``reduction``: "mean" (the default: the mean
    over all elements), "sum", or "none" (one loss per element)."""
    return BinaryCrossEntropyWithLogits.apply(input, _target_input(target), reduction=reduction,
                                              weight=_weight_array(weight), pos_weight=_weight_array(pos_weight))


def _regression_pair(op: str, input: Any, target: Any, reduction: str,  # noqa: A002
                     reductions: tuple[str, ...] = REDUCTIONS) -> tuple[Tensor, Tensor]:
    """A loss's input and target, checked: the same shape (no broadcasting, unlike PyTorch, which
    only warns), a floating-point input. A target that requires a gradient keeps its graph; any
    other is a constant in the input's dtype."""
    check_reduction(op, reduction, reductions)
    x = input if isinstance(input, Tensor) else Tensor._from_op(np.asarray(input), None)
    if isinstance(target, Tensor) and target.requires_grad:
        t = target
    else:
        array = _target_array(target)
        t = Tensor._from_op(array.astype(x.dtype, copy=False) if array.dtype.kind in "iufb" else array, None)
    if x.shape != t.shape:
        raise InputError(f"{op}: input shape {x.shape} and target shape {t.shape} differ")
    check_floating(op, "input", x.data)
    return x, t


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Absolute error |x − t| of input and target of the same shape (no broadcasting, unlike
    PyTorch, which only warns); its gradient is sign(x − t), 0 where x = t, as PyTorch.

    ``reduction``: "mean" (the default: the mean over all elements), "sum", or "none"."""
    x, t = _regression_pair("l1_loss", input, target, reduction)
    return reduced((x - t).abs(), reduction)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Squared error (x − t)² of input and target of the same shape (no broadcasting, unlike
    PyTorch, which only warns). A target that requires a gradient gets one, as the input.

    ``reduction``: "mean" (the default: the mean over samples), "sum", or "none" (one loss per
    sample, to weight or inspect them)."""
    x, t = _regression_pair("mse_loss", input, target, reduction)
    diff = x - t
    return reduced(diff * diff, reduction)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:  # noqa: A002
    """Huber loss of input and target of the same shape, with d = x − t: ½d² where |d| < delta,
    delta·(|d| − ½delta) elsewhere (squared near 0, linear for outliers). ``delta`` > 0.

    ``reduction``: "mean" (the default: the mean over all elements), "sum", or "none"."""
    x, t = _regression_pair("huber_loss", input, target, reduction)
    if not delta > 0:
        raise InputError(f"huber_loss: delta must be positive, got {delta}")
    delta = float(delta)  # (a NumPy float64 would promote a float32 loss)
    diff = x - t
    size = diff.abs()
    losses = Where.apply(size.data < delta, 0.5 * diff * diff, delta * (size - 0.5 * delta))
    return reduced(losses, reduction)


def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0) -> Tensor:  # noqa: A002
    """Smooth L1 loss of input and target of the same shape, with d = x − t: ½d²/beta where
    |d| < beta, |d| − ½beta elsewhere: huber_loss(delta=beta)/beta. ``beta`` >= 0; beta = 0 is
    l1_loss, as PyTorch.

    ``reduction``: "mean" (the default: the mean over all elements), "sum", or "none"."""
    x, t = _regression_pair("smooth_l1_loss", input, target, reduction)
    if not beta >= 0:
        raise InputError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    beta = float(beta)
    diff = x - t
    size = diff.abs()
    if beta == 0:
        return reduced(size, reduction)
    losses = Where.apply(size.data < beta, diff * diff * (0.5 / beta), size - 0.5 * beta)
    return reduced(losses, reduction)


def kl_div(input: Any, target: Any, reduction: str = "mean", log_target: bool = False) -> Tensor:  # noqa: A002
    """The Kullback-Leibler divergence of ``target`` from the distribution whose log-probabilities
    are ``input`` (of the same shape), element by element, as PyTorch's ``F.kl_div``:
    t·(log t − x), 0 where t = 0; with ``log_target=True`` the target is log-probabilities too,
    eᵗ·(t − x). A target that requires a gradient gets one.

    ``reduction``: "batchmean" (the sum divided by the batch size, input.shape[0]: the KL
    divergence per sample, what you usually want), "sum", "none", or "mean" (the default, as
    PyTorch's: the mean over all elements, which divides by the number of classes too; it warns,
    as PyTorch's does)."""
    x, t = _regression_pair("kl_div", input, target, reduction, REDUCTIONS + ("batchmean",))
    if reduction == "mean":
        warnings.warn("kl_div: reduction='mean' divides the total loss by both the batch size and the support "
                      "size; 'batchmean' divides by the batch size only, which is the KL divergence (PyTorch "
                      "warns the same)", UserWarning, stacklevel=2)
    if log_target:
        losses = t.exp() * (t - x)
    else:  # t·log t with 0·log 0 = 0: log of 1 where t = 0 (a negative t gives NaN, as PyTorch)
        with np.errstate(invalid="ignore"):
            losses = t * t.masked_fill(t.data == 0, 1.0).log() - t * x
    if reduction == "batchmean":
        total = losses.sum()
        return total / float(x.shape[0]) if x.ndim else total
    return reduced(losses, reduction)


# ------------------------------------------------------------- the courses after the documents
def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, ``negative_slope``·x otherwise."""
    x = _tensor(x)
    return Where.apply(x.data > 0, x, x * negative_slope)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """x for x > 0, α·(eˣ − 1) otherwise."""
    x = _tensor(x)
    negative = x.data <= 0
    # eˣ of the negative part only: eˣ of a large positive x would overflow in the branch not taken
    return Where.apply(negative, (x * negative).exp() * alpha - alpha, x)


def silu(x: Any) -> Tensor:
    """x·σ(x) (swish)."""
    x = _tensor(x)
    return x * x.sigmoid()


def mish(x: Any) -> Tensor:
    """x·tanh(softplus(x))."""
    x = _tensor(x)
    return x * Softplus.apply(x).tanh()


def batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None, bias: Any = None,  # noqa: A002
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5,
               activation: str | None = None) -> Tensor:
    """Batch normalization of each channel (axis 1 of (N, C) or (N, C, ...)), PyTorch's signature.

    ``training=True``: with the batch's own mean and biased variance over every axis but the
    channels, as one node (ops/normalize.py's BatchNorm); ``running_mean`` and ``running_var``
    (arrays or Tensors, or None) then move ``momentum`` of the way to the batch's mean and
    unbiased variance, in place. ``training=False``: with ``running_mean`` and ``running_var``.
    Then ``·weight + bias`` per channel if given, then ``activation`` ("relu", "sigmoid", "tanh";
    a tensorgrad option, fused into the training node as Linear's is).
    """
    x = _tensor(input)
    stats = [None if r is None else (r.data if isinstance(r, Tensor) else np.asarray(r)) for r in (running_mean, running_var)]
    if training:
        affine = () if weight is None and bias is None else (
            weight if weight is not None else np.ones(x.shape[1], x.dtype),
            bias if bias is not None else np.zeros(x.shape[1], x.dtype))
        return BatchNorm.apply(x, *affine, eps=eps, momentum=momentum, running_mean=stats[0],
                               running_var=stats[1], activation=activation)
    if stats[0] is None or stats[1] is None:
        raise ValueError("batch_norm: running_mean and running_var are needed when training=False")
    stage = activation_op("batch_norm", activation)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = (x - stats[0].reshape(shape)) / np.sqrt(stats[1].reshape(shape) + eps)
    if weight is not None:
        y = y * _tensor(weight).reshape(shape)
    if bias is not None:
        y = y + _tensor(bias).reshape(shape)
    return y if stage is None else stage.apply(y)


def layer_norm(x: Any, normalized_shape: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the last ``len(normalized_shape)`` axes (mean 0, variance 1, the biased
    variance as PyTorch), then ``·weight + bias`` if given."""
    x = _tensor(x)
    k = len((normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape))
    normalized = Normalize.apply(x, axes=tuple(range(x.ndim - k, x.ndim)), eps=eps)
    if weight is not None:
        normalized = normalized * weight
    return normalized if bias is None else normalized + bias


def embedding(indices: Any, weight: Tensor) -> Tensor:
    """The rows of ``weight`` at the integer ``indices``: ``weight[indices]`` (repeated rows'
    gradients add up)."""
    index = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if index.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {index.dtype}")
    return weight[index]


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 training: bool = True) -> Tensor:
    """softmax(q·kᵀ·scale + mask)·v over the last two axes (…, L, E) × (…, S, E) → (…, L, Ev).

    ``attn_mask``: a boolean mask (True = may attend, as PyTorch) or a float mask added to the
    scores, broadcasting to (…, L, S); ``is_causal``: each position attends to itself and the
    ones before it (a GPT block); ``scale`` defaults to 1/√E."""
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: give attn_mask or is_causal, not both (as PyTorch)")
    scores = (query @ key.transpose(-2, -1)) * (1.0 / np.sqrt(query.shape[-1]) if scale is None else scale)
    L, S = scores.shape[-2], scores.shape[-1]
    if is_causal:
        attn_mask = np.tril(np.ones((L, S), dtype=bool))
    if attn_mask is not None:
        mask = np.asarray(attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask)
        if mask.dtype == bool:
            scores = scores.masked_fill(np.broadcast_to(~mask, scores.shape), float("-inf"))
        else:
            scores = scores + mask
    weights = scores.softmax(dim=-1)
    if dropout_p:
        weights = dropout(weights, dropout_p, training)
    return weights @ value
