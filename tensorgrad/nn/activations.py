"""More activations with PyTorch's names and defaults, each written with tensor ops (so each
has gradients of every order): LeakyReLU, ELU, SiLU, Softplus, Mish, and Identity.
(ReLU, Sigmoid, Tanh and GELU, which layers can fuse, are in layers.py.)"""
from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["Identity", "LeakyReLU", "ELU", "SiLU", "Softplus", "Mish"]


class Identity(Module):
    """Returns its input (a placeholder: ``model.fc = nn.Identity()`` to take a layer out)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # (PyTorch's ignores its arguments too)
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


class LeakyReLU(Module):
    """x for x > 0, ``negative_slope``·x otherwise."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Any) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x for x > 0, α·(eˣ − 1) otherwise."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, x: Any) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SiLU(Module):
    """x·σ(x) (swish)."""

    def forward(self, x: Any) -> Tensor:
        return F.silu(x)


class Softplus(Module):
    """log(1 + e^(β·x))/β, and x itself where β·x > ``threshold`` (as PyTorch, for stability)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Any) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Mish(Module):
    """x·tanh(softplus(x))."""

    def forward(self, x: Any) -> Tensor:
        return F.mish(x)
