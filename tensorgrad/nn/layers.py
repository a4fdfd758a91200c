"""Layers, activations and losses as Modules, with PyTorch's names, arguments and defaults."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ops import _composite
from ..ops._args import pair as _pair
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = [
    "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "Dropout", "ReLU", "Sigmoid", "Tanh",
    "GELU", "Softmax", "LogSoftmax", "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCELoss",
    "BCEWithLogitsLoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "KLDivLoss", "Conv1d", "ConvTranspose2d",
    "convolve",
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
    """2-D convolution over (N, C, H, W) images; weight (out_channels, in_channels/groups, kh, kw).

    Args:
        in_channels: channels of the input images.
        out_channels: channels of the output.
        kernel_size: kh, kw of the kernel (an int for a square one).
        stride: step between windows, rows and columns (default 1).
        padding: zeros added on each side, rows and columns (default 0); ``"same"`` keeps the
            input's size (stride 1), ``"valid"`` is 0, as PyTorch.
        dilation: spacing between the kernel's taps (default 1).
        groups: split the channels into this many groups convolved separately (default 1;
            ``groups=in_channels`` is a depthwise convolution).
        bias: learn one bias per output channel; False for none.
        dtype: of the parameters (float32).

    The output is (N, out_channels, OH, OW), OH = (H + 2·padding − dilation·(kh − 1) − 1) // stride + 1
    (OW alike). Initialised as PyTorch does: uniform in ±1/√(in_channels/groups·kh·kw). The
    documents' convolutions (no dilation, one group) run the fast op (ops/conv.py); the others a
    plain one built from slicing and einsum (ops/_composite.py).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] | str = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1, bias: bool = True,
                 dtype: Any = np.float32) -> None:
        kernel_size, stride, dilation = _pair(kernel_size), _pair(stride), _pair(dilation)
        _check_sizes("Conv2d", in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size,
                     stride=stride, dilation=dilation, groups=groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: in_channels={in_channels} and out_channels={out_channels} must both be "
                             f"divisible by groups={groups}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Conv2d: padding must be a number, a pair, 'same' or 'valid', got {padding!r}")
            if padding == "same" and stride != (1, 1):
                raise ValueError("Conv2d: padding='same' needs stride 1 (as PyTorch)")
        else:
            padding = _pair(padding)
            _check_sizes("Conv2d", minimum=0, padding=padding)
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.groups = dilation, groups
        fan_in = in_channels // groups * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = init.uniform_(Parameter(np.empty((out_channels, in_channels // groups, *self.kernel_size),
                                                       dtype=dtype)), -bound, bound)
        self.bias = init.uniform_(Parameter(np.empty(out_channels, dtype=dtype)), -bound, bound) if bias else None

    def _is_plain(self) -> bool:
        """Whether the fast op computes this layer (what the course documents use)."""
        return self.dilation == (1, 1) and self.groups == 1 and not isinstance(self.padding, str)

    def forward(self, x: Any) -> Any:
        return convolve(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    fusable_options = ("activation", "max_pool")  # what Sequential may pass to forward_fused

    def forward_fused(self, x: Any, activation: str | None = None, max_pool: Any = None) -> Any:
        """This layer, then ``activation``, then max pooling over ``max_pool`` windows, as one node
        (what Sequential runs for Conv2d, ReLU, MaxPool2d)."""
        if not self._is_plain():  # no fused op for dilation or groups: the modules one after the other
            y = self.forward(x)
            y = getattr(F, activation)(y) if activation else y
            return F.max_pool2d(y, max_pool) if max_pool else y
        return F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                        activation=activation, max_pool=max_pool)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        return text + (f", padding={self.padding}" if self.padding != (0, 0) else "") + \
            (f", dilation={self.dilation}" if self.dilation != (1, 1) else "") + \
            (f", groups={self.groups}" if self.groups != 1 else "") + \
            ("" if self.bias is not None else ", bias=False")


def convolve(x: Any, weight: Any, bias: Any, stride: tuple[int, int], padding: Any, dilation: tuple[int, int],
             groups: int) -> Tensor:
    """Conv2d's and Conv1d's forward: the fast op for the documents' convolutions (no dilation,
    one group, numeric padding), else the plain one of ops/_composite.py; ``padding`` may be
    "same" (the extra row or column at the end, as PyTorch) or "valid"."""
    if dilation == (1, 1) and groups == 1 and not isinstance(padding, str):
        return F.conv2d(x, weight, bias, stride=stride, padding=padding)
    x = F._tensor(x)
    if x.ndim != 4 or x.shape[1] != weight.shape[1] * groups:
        raise ValueError(f"Conv2d: expected (N, {weight.shape[1] * groups}, H, W) input, got shape {x.shape}")
    if padding == "valid":
        padding = (0, 0)
    elif padding == "same":  # a total of d·(k − 1) per axis
        totals = [d * (k - 1) for d, k in zip(dilation, weight.shape[2:])]
        ends = [t - t // 2 for t in totals]
        x = _composite.padded(x, tuple(ends))[:, :, ends[0] - totals[0] // 2:, ends[1] - totals[1] // 2:]
        padding = (0, 0)
    return _composite.conv2d_general(x, weight, bias, stride, padding, dilation, groups)


class Conv1d(Module):
    """1-D convolution over (N, C, L) sequences; weight (out_channels, in_channels/groups, k), as
    PyTorch's: a Conv2d over rows of height 1 (the same arguments, each one number)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int | str = 0, dilation: int = 1, groups: int = 1, bias: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        as_2d = Conv2d(in_channels, out_channels, (1, kernel_size), (1, stride),
                       padding if isinstance(padding, str) else (0, padding), (1, dilation), groups, bias, dtype)
        self.weight = Parameter(as_2d.weight.data.reshape(out_channels, in_channels // groups, kernel_size))
        self.bias = as_2d.bias
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def forward(self, x: Any) -> Any:
        x = F._tensor(x)
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv1d: expected (N, {self.in_channels}, L) input, got shape {x.shape}")
        padding = self.padding if isinstance(self.padding, str) else (0, self.padding)
        return convolve(x.unsqueeze(2), self.weight.unsqueeze(2), self.bias, (1, self.stride), padding,
                        (1, self.dilation), self.groups).squeeze(2)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"


class ConvTranspose2d(Module):
    """The transpose of a convolution (a "deconvolution", as in a GAN's generator): each input pixel
    spreads over a kernel window of the output. weight (in_channels, out_channels/groups, kh, kw);
    output size (H − 1)·stride − 2·padding + dilation·(kh − 1) + output_padding + 1."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 output_padding: int | tuple[int, int] = 0, groups: int = 1, bias: bool = True,
                 dilation: int | tuple[int, int] = 1, dtype: Any = np.float32) -> None:
        kernel_size, stride, dilation = _pair(kernel_size), _pair(stride), _pair(dilation)
        padding, output_padding = _pair(padding), _pair(output_padding)
        _check_sizes("ConvTranspose2d", in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size,
                     stride=stride, dilation=dilation, groups=groups)
        _check_sizes("ConvTranspose2d", minimum=0, padding=padding, output_padding=output_padding)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"ConvTranspose2d: in_channels={in_channels} and out_channels={out_channels} must both "
                             f"be divisible by groups={groups}")
        if any(o >= max(s, d) for o, s, d in zip(output_padding, stride, dilation)):
            raise ValueError(f"ConvTranspose2d: output_padding {output_padding} must be smaller than the stride "
                             f"{stride} or the dilation {dilation}")
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.padding, self.output_padding = stride, padding, output_padding
        self.dilation, self.groups = dilation, groups
        bound = 1.0 / math.sqrt(out_channels // groups * kernel_size[0] * kernel_size[1])  # PyTorch's fan_in here
        self.weight = init.uniform_(Parameter(np.empty((in_channels, out_channels // groups, *kernel_size),
                                                       dtype=dtype)), -bound, bound)
        self.bias = init.uniform_(Parameter(np.empty(out_channels, dtype=dtype)), -bound, bound) if bias else None

    def forward(self, x: Any) -> Any:
        x = F._tensor(x)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ConvTranspose2d: expected (N, {self.in_channels}, H, W) input, got shape {x.shape}")
        return _composite.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                           self.output_padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"


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
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1), got {p}")
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
    (the default: over all samples), "sum", or "none" (one loss per sample), and with the
    module's ``options`` (attributes, such as ``weight``) as keyword arguments."""

    function = staticmethod(F.mse_loss)
    reductions: tuple[str, ...] = ("mean", "sum", "none")
    options: tuple[str, ...] = ()  # the attributes handed to the function by name

    def __init__(self, reduction: str = "mean") -> None:
        if not isinstance(reduction, str) or reduction not in self.reductions:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {self.reductions}, got {reduction!r}")
        super().__init__()
        self.reduction = reduction

    def forward(self, input: Any, target: Any) -> Any:  # noqa: A002
        return self.function(input, target, reduction=self.reduction, **{name: getattr(self, name) for name in self.options})

    def _weight_buffer(self, name: str, value: Any) -> None:
        """Keep a weight as a buffer, as PyTorch (saved by state_dict, converted by ``to()``); None for none."""
        if isinstance(value, (str, bytes)):
            raise TypeError(f"{type(self).__name__}: {name} is an array of weights, got {value!r} (give the "
                            f"reduction by name: reduction={value!r})")
        if isinstance(value, (np.ndarray, list, tuple)) and np.asarray(value).dtype.kind not in "iuf":
            raise TypeError(f"{type(self).__name__}: {name} must hold real numbers, got dtype {np.asarray(value).dtype}")
        self.register_buffer(name, value)


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits against class labels or probabilities (see F.cross_entropy), with
    PyTorch's options: per-class ``weight`` (C,), ``ignore_index`` (labels to leave out, default
    -100) and ``label_smoothing`` (in [0, 1])."""
    function = staticmethod(F.cross_entropy)
    options = ("weight", "ignore_index", "label_smoothing")

    def __init__(self, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        self._weight_buffer("weight", weight)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities at integer labels (see F.nll_loss), with
    per-class ``weight`` (C,) and ``ignore_index`` (default -100), as PyTorch."""
    function = staticmethod(F.nll_loss)
    options = ("weight", "ignore_index")

    def __init__(self, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self._weight_buffer("weight", weight)
        self.ignore_index = ignore_index


class MSELoss(_Loss):
    """Mean squared error between input and target of the same shape (see F.mse_loss)."""
    function = staticmethod(F.mse_loss)


class L1Loss(_Loss):
    """Mean absolute error between input and target of the same shape (see F.l1_loss)."""
    function = staticmethod(F.l1_loss)


class HuberLoss(_Loss):
    """Huber loss: squared below ``delta`` (default 1), linear above (see F.huber_loss)."""
    function = staticmethod(F.huber_loss)
    options = ("delta",)

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = delta


class SmoothL1Loss(_Loss):
    """Smooth L1 loss: squared below ``beta`` (default 1), linear above; Huber loss divided by
    beta (see F.smooth_l1_loss)."""
    function = staticmethod(F.smooth_l1_loss)
    options = ("beta",)

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = beta


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of the target from log-probabilities (see F.kl_div);
    ``reduction="batchmean"`` is the divergence per sample (PyTorch's default "mean" also divides
    by the number of classes, and warns); ``log_target`` for a target given as log-probabilities."""
    function = staticmethod(F.kl_div)
    reductions = ("mean", "batchmean", "sum", "none")
    options = ("log_target",)

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(reduction)
        self.log_target = log_target


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities in [0, 1] against targets in [0, 1], each element's
    loss times ``weight`` if given (see F.binary_cross_entropy)."""
    function = staticmethod(F.binary_cross_entropy)
    options = ("weight",)

    def __init__(self, weight: Any = None, *, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self._weight_buffer("weight", weight)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits, with the sigmoid inside, stably; each element's loss times
    ``weight``, the positive term times ``pos_weight`` (one per class), if given (see
    F.binary_cross_entropy_with_logits)."""
    function = staticmethod(F.binary_cross_entropy_with_logits)
    options = ("weight", "pos_weight")

    def __init__(self, weight: Any = None, *, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(reduction)
        self._weight_buffer("weight", weight)
        self._weight_buffer("pos_weight", pos_weight)
