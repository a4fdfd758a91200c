"""The documents' two-layer MLP from raw ops: ``h = relu(x @ W1.T + b1)``, log-softmax output.

Documents 000, 002 and 004 all train this network (784-128-10 or 784-200-10, ReLU, softmax,
cross-entropy); only the initialisation, the batch and the regularisation differ.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

import tensorgrad as tg


class MLPParams(NamedTuple):
    """Weights in the documents' layout: W1 is (hidden, inputs), W2 is (classes, hidden)."""

    W1: tg.Tensor
    b1: tg.Tensor
    W2: tg.Tensor
    b2: tg.Tensor


def init_mlp(n_inputs: int = 784, n_hidden: int = 128, n_classes: int = 10, scheme: str = "he",
             seed: int = 0, dtype=np.float32) -> MLPParams:
    """Random weights and zero biases.

    ``scheme="he"``: randn·√(2/fan_in) (document 004); ``"lecun"``: randn/√fan_in (document 000,
    whose text calls it Xavier: Xavier/Glorot's normal scheme uses √(2/(fan_in + fan_out))).
    """
    rng = np.random.default_rng(seed)
    gains = {"he": 2.0, "lecun": 1.0}
    if scheme not in gains:
        raise ValueError(f"init_mlp: scheme must be one of {sorted(gains)}, got {scheme!r}")
    gain = gains[scheme]

    def weight(fan_out: int, fan_in: int) -> tg.Tensor:
        w = rng.standard_normal((fan_out, fan_in)) * np.sqrt(gain / fan_in)
        return tg.tensor(w.astype(dtype), requires_grad=True)

    def bias(n: int) -> tg.Tensor:
        return tg.zeros(n, dtype=dtype, requires_grad=True)

    return MLPParams(weight(n_hidden, n_inputs), bias(n_hidden), weight(n_classes, n_hidden), bias(n_classes))


def mlp_log_probs(x, params: MLPParams) -> tg.Tensor:
    """Log-probabilities of the classes for a batch of rows ``x`` (N, inputs)."""
    W1, b1, W2, b2 = params
    h = (x @ W1.T + b1).relu()
    return (h @ W2.T + b2).log_softmax(axis=-1)


def mlp_loss(x, targets_one_hot, params: MLPParams, l2: float = 0.0) -> tg.Tensor:
    """Mean cross-entropy −Σ y·log p (one-hot ``y``), plus ``l2/2·(‖W1‖² + ‖W2‖²)`` (document 000)."""
    logp = mlp_log_probs(x, params)
    loss = -(logp * targets_one_hot).sum(axis=1).mean()
    if l2:
        loss = loss + 0.5 * l2 * ((params.W1 ** 2).sum() + (params.W2 ** 2).sum())
    return loss
