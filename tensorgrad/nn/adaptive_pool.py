"""Adaptive pooling: ``AdaptiveAvgPool2d`` / ``AdaptiveMaxPool2d`` to a fixed output size,
whatever the input's (PyTorch's windows: rows floor(i·H/out) to ceil((i+1)·H/out))."""
from __future__ import annotations

import math
from typing import Any

from ..tensor import Tensor, stack
from . import functional as F
from .module import Module

__all__ = ["AdaptiveAvgPool2d", "AdaptiveMaxPool2d"]


def _windows(size: int, out: int) -> list[slice]:
    return [slice(i * size // out, math.ceil((i + 1) * size / out)) for i in range(out)]


def adaptive_pool2d(x: Tensor, output_size: Any, reduce: str) -> Tensor:
    """Pool (N, C, H, W) (or (C, H, W)) to ``output_size`` with ``reduce`` ("mean" or "max")."""
    out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else output_size
    out_h, out_w = out_h or x.shape[-2], out_w or x.shape[-1]  # None keeps the input's size, as PyTorch
    if (out_h, out_w) == (1, 1):  # the common case (a global average before the classifier): one reduction
        return getattr(x, reduce)(axis=(-2, -1), keepdims=True)
    rows, cols = _windows(x.shape[-2], out_h), _windows(x.shape[-1], out_w)
    cells = [stack([getattr(x[..., r, c], reduce)(axis=(-2, -1)) for c in cols], axis=-1) for r in rows]
    return stack(cells, axis=-2)


class AdaptiveAvgPool2d(Module):
    """The mean over adaptive windows, to ``output_size`` (an int or (rows, cols))."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Any) -> Tensor:
        return adaptive_pool2d(F._tensor(x), self.output_size, "mean")

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(AdaptiveAvgPool2d):
    """The maximum over adaptive windows, to ``output_size``."""

    def forward(self, x: Any) -> Tensor:
        return adaptive_pool2d(F._tensor(x), self.output_size, "max")
