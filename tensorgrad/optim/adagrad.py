"""Adagrad: per-coordinate learning rates from the sum of all past squared gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from .optimizer import Optimizer, Params

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (PyTorch's ``torch.optim.Adagrad``).

    Update rule at step ``t = 1, 2, ...``, for a parameter ``p`` with gradient
    ``g`` (the accumulator ``sum`` starts at ``initial_accumulator_value``)::

        g = -g                                    if maximize
        g = g + weight_decay * p                  if weight_decay != 0
        clr = lr / (1 + (t - 1) * lr_decay)
        sum = sum + g**2
        p = p - clr * g / (sqrt(sum) + eps)

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default 1e-2).
        lr_decay: learning rate decay (default 0).
        weight_decay: L2 penalty coefficient (default 0).
        initial_accumulator_value: starting value of the squared-gradient sum (default 0).
        eps: added to the denominator for numerical stability (default 1e-10).
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: Params, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _validate_options(self, options: dict[str, Any]) -> None:
        self._require(options["lr"] >= 0, "lr", options["lr"], ">= 0")
        self._require(options["lr_decay"] >= 0, "lr_decay", options["lr_decay"], ">= 0")
        self._require(options["weight_decay"] >= 0, "weight_decay", options["weight_decay"], ">= 0")
        self._require(options["initial_accumulator_value"] >= 0, "initial_accumulator_value",
                      options["initial_accumulator_value"], ">= 0")
        self._require(options["eps"] >= 0, "eps", options["eps"], ">= 0")

    def _update_parameter(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                          group: dict[str, Any]) -> None:
        lr, lr_decay, eps = float(group["lr"]), float(group["lr_decay"]), float(group["eps"])
        weight_decay = float(group["weight_decay"])

        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(data, float(group["initial_accumulator_value"]))
        state["step"] += 1
        step, squared_grad_sum = state["step"], state["sum"]

        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = grad + weight_decay * data

        decayed_lr = lr / (1 + (step - 1) * lr_decay)
        squared_grad_sum += grad * grad
        data -= decayed_lr * grad / (np.sqrt(squared_grad_sum) + eps)
