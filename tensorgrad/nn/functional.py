"""Functions on tensors with PyTorch's names (``import tensorgrad.nn.functional as F``).

Axis arguments accept NumPy's ``axis=`` and PyTorch's ``dim=`` alike.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..ops.conv import Conv2d
from ..ops.elementwise import Dropout, Gelu, Relu, Sigmoid, Softplus, Tanh
from ..ops.losses import BinaryCrossEntropy, BinaryCrossEntropyWithLogits, CrossEntropy
from ..ops.matmul import Linear
from ..ops.pool import AvgPool2d, MaxPool2d
from ..ops.softmax import LogSoftmax, Softmax
from ..creation import default_rng
from ..tensor import DEFAULT_DTYPE, Tensor

__all__ = [
    "relu", "sigmoid", "tanh", "gelu", "softplus", "softmax", "log_softmax", "linear", "conv2d", "max_pool2d",
    "avg_pool2d", "dropout", "one_hot", "cross_entropy", "nll_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "mse_loss",
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


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x·Φ(x); ``approximate="tanh"`` for the tanh approximation."""
    return Gelu.apply(x, approximate=approximate)


def softplus(x: Any) -> Tensor:
    """log(1 + eˣ), a smooth ReLU, computed without overflow; its derivative is the sigmoid."""
    return Softplus.apply(x)


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


def _target_constant(target: Any) -> Tensor:
    """A loss's target as a constant Tensor (no grad). Made here, directly: the op's generic wrapping
    of non-Tensor inputs costs more, on every training step."""
    return Tensor._from_op(_target_array(target), None)


def cross_entropy(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Cross-entropy of (N, C) logits against integer labels (N,) or one-hot / probability targets
    (N, C): log-softmax and the negative log-likelihood fused in one stable op. The logits must
    be floating point; labels must be in [0, C).

    ``reduction``: "mean" (the default: the mean over samples), "sum", or "none" (one loss per
    sample, to weight or inspect them)."""
    return CrossEntropy.apply(input, _target_constant(target), reduction=reduction)


def nll_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Negative log-likelihood of (N, C) log-probabilities (e.g. from log_softmax) at integer
    labels (N,) in [0, C).

    ``reduction``: "mean" (the default: the mean over samples), "sum", or "none" (one loss per
    sample, to weight or inspect them)."""
    labels = _target_array(target)
    logp = input if isinstance(input, Tensor) else Tensor._from_op(np.asarray(input), None)
    if logp.ndim != 2 or labels.shape != (logp.shape[0],) or labels.dtype.kind not in "iu":
        raise ValueError(f"nll_loss: expects (N, C) log-probabilities and (N,) integer labels, got "
                         f"input {logp.shape} and target {labels.shape} {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= logp.shape[1]):
        raise ValueError(f"nll_loss: target labels must be in [0, {logp.shape[1]}), got {labels.min()} to {labels.max()}")
    picked = -logp[np.arange(len(labels)), labels]
    return _apply_reduction("nll_loss", picked, reduction)


def binary_cross_entropy(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """−[t·log p + (1−t)·log(1−p)] for probabilities p and targets t in [0, 1], of the same
    shape (logs clamped at −100, as PyTorch).

    ``reduction``: "mean" (the default: the mean over samples), "sum", or "none" (one loss per
    sample, to weight or inspect them)."""
    return BinaryCrossEntropy.apply(input, _target_constant(target), reduction=reduction)


def binary_cross_entropy_with_logits(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Binary cross-entropy of logits z against targets t of the same shape, computed as
    max(z, 0) − z·t + log(1 + e^−|z|): no overflow, and no sigmoid layer needed.

    ``reduction``: "mean" (the default: the mean over samples), "sum", or "none" (one loss per
    sample, to weight or inspect them)."""
    return BinaryCrossEntropyWithLogits.apply(input, _target_constant(target), reduction=reduction)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Squared error (x − t)² of input and target of the same shape (no broadcasting, unlike
    PyTorch, which only warns).

    ``reduction``: "mean" (the default: the mean over samples), "sum", or "none" (one loss per
    sample, to weight or inspect them)."""
    x = input if isinstance(input, Tensor) else Tensor._from_op(np.asarray(input), None)
    t = _target_array(target)
    if x.shape != t.shape:
        raise ValueError(f"mse_loss: input shape {x.shape} and target shape {t.shape} differ")
    diff = x - t
    return _apply_reduction("mse_loss", diff * diff, reduction)


def _apply_reduction(op: str, losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses
    raise ValueError(f"{op}: reduction must be one of ('mean', 'sum', 'none'), got {reduction!r}")
