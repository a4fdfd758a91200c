"""Normalization layers: BatchNorm1d/2d, LayerNorm, GroupNorm (PyTorch's, with its defaults).

LayerNorm and GroupNorm normalize with one op, ``Normalize`` (ops/normalize.py), whose backward
shows in one formula the gradient of the mean and the variance flowing back into every input: the
"coupling" that a hand-written BatchNorm backward most often forgets (notebook 06, exercise 7);
the scale and shift are ordinary ops after it. BatchNorm1d/2d train with one node that does all
three (F.batch_norm, ops/normalize.py's BatchNorm: the same numbers, 1.7-4.2x faster), and with a ReLU
after them in a fused Sequential, that too; in ``eval()`` they are ordinary ops with the running
statistics.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..ops.normalize import Normalize
from ..tensor import Tensor
from . import functional as F
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm"]


def _normalize(x: Tensor, axes: tuple[int, ...], eps: float) -> Tensor:
    """(x − mean) / √(var + eps) over ``axes``, with the biased variance (as PyTorch normalizes):
    one op, ops/normalize.py, whose backward is the normalization's formula."""
    return Normalize.apply(x, axes=axes, eps=eps)


class _BatchNorm(Module):
    """Normalize each channel (axis 1) over the batch and any spatial axes: in training with the
    batch's mean and variance, updating the running estimates; in ``eval()`` with those."""

    expected_ndim: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype: Any = np.float32) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype))
            self.bias = Parameter(np.zeros(num_features, dtype))
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def forward(self, x: Any) -> Tensor:
        return self.forward_fused(x)

    def forward_fused(self, x: Any, activation: str | None = None) -> Tensor:
        """This layer and then ``activation`` (what Sequential runs for BatchNorm2d, ReLU): in training,
        one node (F.batch_norm)."""
        x = F._tensor(x)
        name = type(self).__name__
        if x.ndim not in self.expected_ndim or x.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected input of {' or '.join(f'{n}-D' for n in self.expected_ndim)} with "
                             f"{self.num_features} channels on axis 1, got shape {x.shape}")
        weight, bias = self._parameters.get("weight"), self._parameters.get("bias")
        if self.training or not self.track_running_stats:
            if self.training and x.size // self.num_features <= 1:
                raise ValueError(f"{name}: expected more than 1 value per channel when training, got input shape {x.shape}")
            running, momentum = (None, None), 0.0
            if self.training and self.track_running_stats:
                self.num_batches_tracked.data += 1
                # momentum=None: a cumulative average over the batches seen, as PyTorch
                momentum = 1.0 / int(self.num_batches_tracked.data) if self.momentum is None else self.momentum
                running = (self.running_mean.data, self.running_var.data)
            return F.batch_norm(x, *running, weight, bias, training=True, momentum=momentum, eps=self.eps,
                                activation=activation)
        return F.batch_norm(x, self.running_mean, self.running_var, weight, bias, eps=self.eps, activation=activation)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs (makemore's BatchNorm1d, PyTorch's defaults:
    eps=1e-5, momentum=0.1, the running variance unbiased)."""

    expected_ndim = (2, 3)
    fusable_options = ("activation",)  # what Sequential may pass to forward_fused


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) images, per channel over the batch and the pixels."""

    expected_ndim = (4,)
    fusable_options = ("activation",)  # what Sequential may pass to forward_fused


class LayerNorm(Module):
    """Normalize over the last ``len(normalized_shape)`` axes of each sample (a Transformer's
    LayerNorm), then scale and shift elementwise (``elementwise_affine``)."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype: Any = np.float32) -> None:
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype))

    def forward(self, x: Any) -> Tensor:
        x = F._tensor(x)
        k = len(self.normalized_shape)
        if x.shape[x.ndim - k:] != self.normalized_shape:
            raise ValueError(f"LayerNorm: expected the last axes of the input to be {self.normalized_shape}, got shape {x.shape}")
        return F.layer_norm(x, self.normalized_shape, self._parameters.get("weight"), self._parameters.get("bias"),
                            self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Normalize each sample over groups of channels (``num_groups`` groups of C/num_groups
    channels, with their pixels), then scale and shift per channel."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels={num_channels} must be divisible by num_groups={num_groups}")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        if affine:
            self.weight = Parameter(np.ones(num_channels, dtype))
            self.bias = Parameter(np.zeros(num_channels, dtype))

    def forward(self, x: Any) -> Tensor:
        x = F._tensor(x)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected {self.num_channels} channels on axis 1, got shape {x.shape}")
        grouped = x.reshape(x.shape[0], self.num_groups, -1)
        normalized = _normalize(grouped, (2,), self.eps)
        normalized = normalized.reshape(x.shape)
        if self.affine:
            shape = (1, self.num_channels) + (1,) * (x.ndim - 2)
            normalized = normalized * self.weight.reshape(shape) + self.bias.reshape(shape)
        return normalized

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
