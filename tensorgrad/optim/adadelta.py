"""Adadelta: step sizes from running averages of squared gradients and squared updates."""

from __future__ import annotations

from typing import Any

import numpy as np

from .optimizer import Optimizer, Params

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta (PyTorch's ``torch.optim.Adadelta``).

    Update rule, for a parameter ``p`` with gradient ``g`` (``v``, the running
    mean of ``g**2``, and ``u``, the running mean of squared updates, start at zero)::

        g = -g                                    if maximize
        g = g + weight_decay * p                  if weight_decay != 0
        v = rho * v + (1 - rho) * g**2
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta**2
        p = p - lr * delta

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: coefficient that scales ``delta`` before it is applied (default 1.0).
        rho: decay rate of the running averages (default 0.9).
        eps: added inside the square roots for numerical stability (default 1e-6).
        weight_decay: L2 penalty coefficient (default 0).
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: Params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_options(self, options: dict[str, Any]) -> None:
        self._require(options["lr"] >= 0, "lr", options["lr"], ">= 0")
        self._require(0 <= options["rho"] <= 1, "rho", options["rho"], "in [0, 1]")
        self._require(options["eps"] >= 0, "eps", options["eps"], ">= 0")
        self._require(options["weight_decay"] >= 0, "weight_decay", options["weight_decay"], ">= 0")

    def _update_parameter(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                          group: dict[str, Any]) -> None:
        lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
        weight_decay = float(group["weight_decay"])

        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(data)   # v
            state["acc_delta"] = np.zeros_like(data)    # u
        state["step"] += 1
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]

        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = grad + weight_decay * data

        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        data -= lr * delta
