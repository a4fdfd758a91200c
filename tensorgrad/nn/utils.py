"""Gradient clipping, as ``torch.nn.utils``: ``clip_grad_norm_`` and ``clip_grad_value_``.

Call them after ``loss.backward()`` and before ``optimizer.step()``; they change each
parameter's ``.grad`` in place.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _with_grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale every gradient by ``max_norm / total_norm`` when the norm of all of them together
    (as one vector) is above ``max_norm``; returns that total norm (before clipping)."""
    params = _with_grads(parameters)
    if not params:
        return 0.0
    if norm_type == float("inf"):
        total = max(float(np.abs(p.grad).max()) for p in params)
    else:
        total = float(sum(float((np.abs(p.grad) ** norm_type).sum()) for p in params) ** (1.0 / norm_type))
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}")
    scale = max_norm / (total + 1e-6)  # (PyTorch's epsilon)
    if scale < 1:
        for p in params:
            p.grad *= np.asarray(scale, dtype=p.grad.dtype)
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient element to [−clip_value, clip_value]."""
    for p in _with_grads(parameters):
        np.clip(p.grad, -clip_value, clip_value, out=p.grad)

