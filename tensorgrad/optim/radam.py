"""RAdam: Adam with a rectified (variance-corrected) adaptive learning rate."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .adam import AdamFamily
from .optimizer import Params

__all__ = ["RAdam"]


class RAdam(AdamFamily):
    """RAdam, rectified Adam (PyTorch's ``torch.optim.RAdam``; Liu et al., 2019).

    In its first steps Adam divides by a second moment estimated from very few
    gradients; RAdam uses plain momentum SGD until that estimate is trustworthy
    (``rho_t > 5``), then Adam's step scaled by a rectification term ``r_t``.

    Update rule at step ``t = 1, 2, ...``, for a parameter ``p`` with gradient
    ``g`` (``m`` and ``v`` start at zero)::

        g = -g                                    if maximize
        g = g + weight_decay * p                  if weight_decay != 0 (L2 penalty)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        if rho_t > 5:
            r_t = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p = p - lr * m_hat * r_t * sqrt(1 - beta2**t) / (sqrt(v) + eps)
        else:
            p = p - lr * m_hat

    (As in PyTorch, ``eps`` is added to ``sqrt(v)`` before the bias correction, not to
    ``sqrt(v / (1 - beta2**t))`` as in Adam.) With ``decoupled_weight_decay=True``
    the L2 line is replaced by ``p = p * (1 - lr * weight_decay)`` (RAdamW).

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default 1e-3).
        betas: decay rates ``(beta1, beta2)`` of the gradient's running mean
            and running mean square (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: weight decay coefficient (default 0).
        decoupled_weight_decay: decay the weights directly, as AdamW does.
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, decoupled_weight_decay: bool = False,
                 *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update_parameter(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                          group: dict[str, Any]) -> None:
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(beta) for beta in group["betas"])

        step, exp_avg, exp_avg_sq = self._next_step(state, data)
        grad = self._prepared_gradient(data, grad, group, lr, weight_decay)

        self._update_moments(exp_avg, exp_avg_sq, grad, beta1, beta2)

        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        rho_inf = 2 / (1 - beta2) - 1                       # the longest the average of g**2 gets
        rho_t = rho_inf - 2 * step * beta2 ** step / bias_correction2   # how long it is now
        if rho_t > 5:
            rectification = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                                      / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            scale = lr / bias_correction1 * rectification * math.sqrt(bias_correction2)
            data -= scale * exp_avg / (np.sqrt(exp_avg_sq) + eps)
        else:
            data -= (lr / bias_correction1) * exp_avg
