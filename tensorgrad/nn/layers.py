"""Layers, activations and losses as Modules, with PyTorch's names, arguments and defaults."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ops._args import pair as _pair
from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = [
    "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "Dropout", "ReLU", "Sigmoid", "Tanh",
    "GELU", "Softmax", "LogSoftmax", "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCELoss",
    "BCEWithLogitsLoss",
]


def _check_sizes(layer: str, minimum: int = 1, **sizes: Any) -> None:
    """Each size (an int, or a pair of ints for a kernel) a whole number >= minimum, or a clear error."""
    for name, value in sizes.items():
        values = value if isinstance(value, tuple) else (value,)
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            raise TypeError(f"{layer}: {name} must be {'ints' if len(values) > 1 else 'an int'}, got {value!r}")
        if min(values) < minimum:
            raise ValueError(f"{layer}: {name} must be at least {minimum}, got {value!r}")


class Linear(Module):
    """y = x·Wᵀ + b with W of shape (out_features, in_features), as the documents' W1 (128, 784).

    Args:
        in_features: the size of each input row.
        out_features: the size of each output row.
        bias: learn an additive bias b (out_features,); False for none.
        dtype: of the parameters (float32; float64 for gradient checks).

    Initialised as PyTorch does: W and b uniform in ±1/√in_features. Input (..., in_features),
    output (..., out_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = np.float32) -> None:
        _check_sizes("Linear", in_features=in_features, out_features=out_features)
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        init.uniform_(self.weight, -bound, bound)
        self.bias = init.uniform_(Parameter(np.empty(out_features, dtype=dtype)), -bound, bound) if bias else None

    def forward(self, x: Any) -> Any:
        return F.linear(x, self.weight, self.bias)

    fusable_options = ("activation",)  # what Sequential may pass to forward_fused

    def forward_fused(self, x: Any, activation: str) -> Any:
        """This layer and then ``activation`` as one node (what Sequential runs for Linear, ReLU)."""
        return F.linear(x, self.weight, self.bias, activation=activation)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Conv2d(Module):
    """2-D convolution over (N, C, H, W) images; weight (out_channels, in_channels, kh, kw).

    Args:
        in_channels: channels of the input images.
        out_channels: channels of the output.
        kernel_size: kh, kw of the kernel (an int for a square one).
        stride: step between windows, rows and columns (default 1).
        padding: zeros added on each side, rows and columns (default 0).
        bias: learn one bias per output channel; False for none.
        dtype: of the parameters (float32).

    The output is (N, out_channels, OH, OW), OH = (H + 2·padding − kh) // stride + 1 (OW alike).
    Initialised as PyTorch does: uniform in ±1/√(in_channels·kh·kw).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0, bias: bool = True,
                 dtype: Any = np.float32) -> None:
        kernel_size, stride, padding = _pair(kernel_size), _pair(stride), _pair(padding)
        _check_sizes("Conv2d", in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size,
                     stride=stride)
        _check_sizes("Conv2d", minimum=0, padding=padding)  # (no 'same' padding, unlike PyTorch)
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        fan_in = in_channels * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = init.uniform_(Parameter(np.empty((out_channels, in_channels, *self.kernel_size), dtype=dtype)),
                                    -bound, bound)
        self.bias = init.uniform_(Parameter(np.empty(out_channels, dtype=dtype)), -bound, bound) if bias else None

    def forward(self, x: Any) -> Any:
        return F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)

    fusable_options = ("activation", "max_pool")  # what Sequential may pass to forward_fused

    def forward_fused(self, x: Any, activation: str | None = None, max_pool: Any = None) -> Any:
        """This layer, then ``activation``, then max pooling over ``max_pool`` windows, as one node
        (what Sequential runs for Conv2d, ReLU, MaxPool2d)."""
        return F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                        activation=activation, max_pool=max_pool)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        return text + (f", padding={self.padding}" if self.padding != (0, 0) else "") + \
            ("" if self.bias is not None else ", bias=False")


class _Pool2d(Module):
    """What max and average pooling share: a window size, a stride and a padding."""

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride if stride is not None else kernel_size, padding

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Maximum over each kernel_size window of (N, C, H, W) images.

    Args:
        kernel_size: window height and width (an int for a square window).
        stride: step between windows; defaults to kernel_size (windows side by side).
        padding: −inf borders added on each side, at most half the kernel (as PyTorch).

    Ties send the gradient to the first maximum of the window, as PyTorch.
    """

    def forward(self, x: Any) -> Any:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    @property
    def fusable_max_pool(self) -> Any:
        """The kernel size, when a Conv2d just before can run this pooling fused (stride = kernel,
        no padding), else None."""
        plain = _pair(self.stride) == _pair(self.kernel_size) and _pair(self.padding) == (0, 0)
        return self.kernel_size if plain else None


class AvgPool2d(_Pool2d):
    """Mean over each kernel_size window of (N, C, H, W) images (floating point).

    Args:
        kernel_size: window height and width (an int for a square window).
        stride: step between windows; defaults to kernel_size.
        padding: zeros added on each side, at most half the kernel; they count in the mean
            (PyTorch's default count_include_pad=True).
    """

    def forward(self, x: Any) -> Any:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class Flatten(Module):
    """Merge axes start_dim..end_dim (default: all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Any) -> Any:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Inverted dropout: zero units with probability p in training (scaling the rest by 1/(1−p));
    the identity in ``eval()`` mode."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Any) -> Any:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class ReLU(Module):
    """max(x, 0), element by element. In a Sequential, right after a Linear or Conv2d, it runs in
    that layer's node ("linear+relu")."""

    fusable_activation = "relu"  # Sequential fuses it into a Linear or Conv2d just before it

    def forward(self, x: Any) -> Any:
        return F.relu(x)


class Sigmoid(Module):
    """1/(1 + e^−x), element by element, computed stably for large |x| (fused like ReLU)."""

    fusable_activation = "sigmoid"

    def forward(self, x: Any) -> Any:
        return F.sigmoid(x)


class Tanh(Module):
    """Hyperbolic tangent, element by element (fused like ReLU)."""

    fusable_activation = "tanh"

    def forward(self, x: Any) -> Any:
        return F.tanh(x)


class GELU(Module):
    """x·Φ(x), Φ the standard normal CDF; ``approximate="tanh"`` uses PyTorch's tanh formula
    instead of the exact erf one ("none", the default, as PyTorch)."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, x: Any) -> Any:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class _AlongAxis(Module):
    """A module applied along one axis (``axis``, or PyTorch's ``dim``; default the last)."""

    def __init__(self, axis: int | None = None, dim: int | None = None) -> None:
        super().__init__()
        self.axis = F._axis(type(self).__name__, axis, dim)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class Softmax(_AlongAxis):
    """exp(x)/Σ exp(x) along ``axis`` (PyTorch's ``dim`` also accepted; default the last),
    computed stably (the maximum subtracted first)."""

    def forward(self, x: Any) -> Any:
        return F.softmax(x, axis=self.axis)


class LogSoftmax(_AlongAxis):
    """x − log Σ exp(x) along ``axis`` (PyTorch's ``dim`` also accepted; default the last), by
    log-sum-exp."""

    def forward(self, x: Any) -> Any:
        return F.log_softmax(x, axis=self.axis)


class _Loss(Module):
    """A loss module: ``loss(input, target)`` calls its function with this ``reduction``: "mean"
    (the default: over all samples), "sum", or "none" (one loss per sample)."""

    function = staticmethod(F.mse_loss)

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, input: Any, target: Any) -> Any:  # noqa: A002
        return self.function(input, target, reduction=self.reduction)


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits against labels or one-hot targets (see F.cross_entropy)."""
    function = staticmethod(F.cross_entropy)


class NLLLoss(_Loss):
    """Negative log-likelihood of (N, C) log-probabilities at integer labels (see F.nll_loss)."""
    function = staticmethod(F.nll_loss)


class MSELoss(_Loss):
    """Mean squared error between input and target of the same shape (see F.mse_loss)."""
    function = staticmethod(F.mse_loss)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities in [0, 1] against targets in [0, 1] (see
    F.binary_cross_entropy)."""
    function = staticmethod(F.binary_cross_entropy)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits, with the sigmoid inside, stably (see
    F.binary_cross_entropy_with_logits)."""
    function = staticmethod(F.binary_cross_entropy_with_logits)
