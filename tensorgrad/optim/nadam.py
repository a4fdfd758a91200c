"""NAdam: Adam with Nesterov momentum."""

from __future__ import annotations

from typing import Any

import numpy as np

from .adam import AdamFamily
from .optimizer import Params

__all__ = ["NAdam"]


class NAdam(AdamFamily):
    """NAdam, Adam with Nesterov momentum (PyTorch's ``torch.optim.NAdam``; Dozat, 2016).

    Update rule at step ``t = 1, 2, ...``, for a parameter ``p`` with gradient
    ``g`` (``m`` and ``v`` start at zero, the product ``mu_prod`` at one)::

        g = -g                                    if maximize
        g = g + weight_decay * p                  if weight_decay != 0 (L2 penalty)
        mu_t    = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))        momentum schedule
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_prod = mu_prod * mu_t                  (mu_1 * mu_2 * ... * mu_t)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        d = sqrt(v / (1 - beta2**t)) + eps
        p = p - lr * (1 - mu_t) / (1 - mu_prod) * g / d                   the gradient's share
              - lr * mu_next / (1 - mu_prod * mu_next) * m / d            the momentum, one step ahead

    With ``decoupled_weight_decay=True`` the L2 line is replaced by
    ``p = p * (1 - lr * weight_decay)`` (NAdamW).

    PyTorch keeps ``mu_prod`` in a 0-d tensor of torch's *default* dtype (float32
    unless ``torch.set_default_dtype(torch.float64)``), rounded at every step; here it
    is a Python float. With float64 parameters the two agree to rounding when torch's
    default dtype is float64, and to a few 1e-7 relative when it is float32.

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default 2e-3).
        betas: decay rates ``(beta1, beta2)`` of the gradient's running mean
            and running mean square (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: weight decay coefficient (default 0).
        momentum_decay: how fast the momentum schedule ``mu_t`` approaches ``beta1``
            from ``beta1 / 2`` (default 4e-3).
        decoupled_weight_decay: decay the weights directly, as AdamW does.
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: Params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _validate_options(self, options: dict[str, Any]) -> None:
        super()._validate_options(options)
        self._require(options["momentum_decay"] >= 0, "momentum_decay", options["momentum_decay"], ">= 0")

    def _update_parameter(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                          group: dict[str, Any]) -> None:
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        momentum_decay = float(group["momentum_decay"])
        beta1, beta2 = (float(beta) for beta in group["betas"])

        step, exp_avg, exp_avg_sq = self._next_step(state, data)
        if step == 1:
            state["mu_product"] = 1.0  # the product of the momentum schedule mu_1 ... mu_t
        grad = self._prepared_gradient(data, grad, group, lr, weight_decay)

        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
        mu_product = state["mu_product"] = state["mu_product"] * mu
        mu_product_next = mu_product * mu_next

        self._update_moments(exp_avg, exp_avg_sq, grad, beta1, beta2)

        denominator = np.sqrt(exp_avg_sq / (1 - beta2 ** step)) + eps
        data -= (lr * (1.0 - mu) / (1.0 - mu_product)) * grad / denominator
        data -= (lr * mu_next / (1.0 - mu_product_next)) * exp_avg / denominator
