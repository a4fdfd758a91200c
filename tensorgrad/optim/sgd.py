"""Stochastic gradient descent, with optional (Nesterov) momentum."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .optimizer import Optimizer, Params

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum (PyTorch's ``torch.optim.SGD``).

    Update rule, for a parameter ``p`` with gradient ``g`` (``b`` is the momentum buffer)::

        g = -g                                 if maximize
        g = g + weight_decay * p               if weight_decay != 0
        if momentum != 0:
            b = g                              on the first step
            b = momentum * b + (1 - dampening) * g   on later steps
            g = g + momentum * b               if nesterov, else  g = b
        p = p - lr * g

    Like PyTorch, ``lr`` multiplies the momentum buffer rather than being folded
    into it (Sutskever et al. write ``b = momentum * b + lr * g; p = p - b``).

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default 1e-3, as in PyTorch >= 2.6).
        momentum: momentum factor (default 0).
        dampening: dampening for momentum (default 0).
        weight_decay: L2 penalty coefficient (default 0).
        nesterov: use Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
        maximize: maximize the objective instead of minimizing it.

    Example::

        optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    """

    def __init__(self, params: Params, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_options(self, options: dict[str, Any]) -> None:
        self._require(options["lr"] >= 0, "lr", options["lr"], ">= 0")
        self._require(options["momentum"] >= 0, "momentum", options["momentum"], ">= 0")
        self._require(options["weight_decay"] >= 0, "weight_decay", options["weight_decay"], ">= 0")
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError(f"{self._name}: nesterov=True requires momentum > 0 and dampening = 0, "
                             f"but got momentum={options['momentum']!r}, "
                             f"dampening={options['dampening']!r}")

    def _group_update(self, group: dict[str, Any]) -> Callable[..., None]:
        if group["momentum"] != 0 or group["weight_decay"] != 0 or group["maximize"]:
            return self._update_parameter
        # Plain SGD, the common case: p = p - lr * g needs no other option, so it skips the general
        # rule's reading of them for every parameter (same numbers; see test_optim).
        lr = float(group["lr"])

        def plain_update(data: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
            data -= lr * grad
        return plain_update

    def _update_parameter(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                          group: dict[str, Any]) -> None:
        lr, momentum = float(group["lr"]), float(group["momentum"])
        dampening, weight_decay = float(group["dampening"]), float(group["weight_decay"])

        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = grad + weight_decay * data
        if momentum != 0:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                # copy: the buffer must not alias the parameter's .grad array
                buffer = state["momentum_buffer"] = grad.astype(data.dtype, copy=True)
            else:
                buffer *= momentum
                buffer += (1 - dampening) * grad
            grad = grad + momentum * buffer if group["nesterov"] else buffer
        data -= lr * grad
