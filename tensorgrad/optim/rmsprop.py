"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from .optimizer import Optimizer, Params

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (PyTorch's ``torch.optim.RMSprop``), optionally centered and with momentum.

    Update rule, for a parameter ``p`` with gradient ``g`` (``v``, ``g_avg``
    and the momentum buffer ``b`` start at zero)::

        g = -g                                    if maximize
        g = g + weight_decay * p                  if weight_decay != 0
        v = alpha * v + (1 - alpha) * g**2
        if centered:
            g_avg = alpha * g_avg + (1 - alpha) * g
            avg = sqrt(v - g_avg**2) + eps        (estimate of the gradient's std)
        else:
            avg = sqrt(v) + eps
        if momentum > 0:
            b = momentum * b + g / avg
            p = p - lr * b
        else:
            p = p - lr * g / avg

    Note that ``eps`` is added outside the square root.

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant of the running mean square (default 0.99).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty coefficient (default 0).
        momentum: momentum factor (default 0).
        centered: normalize by an estimate of the gradient's variance instead
            of its mean square (default False).
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: Params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_options(self, options: dict[str, Any]) -> None:
        # the same checks as PyTorch (which, in particular, bounds alpha only from below)
        self._require(options["lr"] >= 0, "lr", options["lr"], ">= 0")
        self._require(options["eps"] >= 0, "eps", options["eps"], ">= 0")
        self._require(options["momentum"] >= 0, "momentum", options["momentum"], ">= 0")
        self._require(options["weight_decay"] >= 0, "weight_decay", options["weight_decay"], ">= 0")
        self._require(options["alpha"] >= 0, "alpha", options["alpha"], ">= 0")

    def _update_parameter(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                          group: dict[str, Any]) -> None:
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        weight_decay, momentum = float(group["weight_decay"]), float(group["momentum"])

        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(data)
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(data)
        state["step"] += 1
        square_avg = state["square_avg"]

        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = grad + weight_decay * data

        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg *= alpha
            grad_avg += (1 - alpha) * grad
            avg = np.sqrt(square_avg - grad_avg * grad_avg) + eps
        else:
            avg = np.sqrt(square_avg) + eps

        if momentum > 0:
            buffer = state["momentum_buffer"]
            buffer *= momentum
            buffer += grad / avg
            data -= lr * buffer
        else:
            data -= lr * grad / avg
