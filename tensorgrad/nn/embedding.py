"""Embedding tables and channel dropout: ``nn.Embedding`` (makemore's ``C[X]``) and ``nn.Dropout2d``."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..creation import default_rng
from ..tensor import Tensor, where
from . import functional as F
from .layers import Dropout
from .module import Module, Parameter

__all__ = ["Embedding", "Dropout2d"]


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of ``embedding_dim`` numbers, looked up by integer
    index: ``emb(X)`` is ``weight[X]``, of shape X.shape + (embedding_dim,). Initialised N(0, 1),
    as PyTorch; the row ``padding_idx`` starts at zero and gets no gradient. A row looked up
    several times in a batch gets the sum of its gradients."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx={padding_idx} is out of range for {num_embeddings} embeddings")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        weight = default_rng().standard_normal((num_embeddings, embedding_dim)).astype(dtype)
        if padding_idx is not None:
            weight[padding_idx] = 0
        self.weight = Parameter(weight)

    def forward(self, indices: Any) -> Tensor:
        index = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
        if index.dtype.kind not in "iu":
            raise TypeError(f"Embedding: indices must be integers, got dtype {index.dtype}")
        if index.size and (index.min() < 0 or index.max() >= self.num_embeddings):
            raise IndexError(f"Embedding: indices must be in [0, {self.num_embeddings}), got {index.min()} to {index.max()}")
        rows = self.weight[index]
        if self.padding_idx is None:
            return rows
        # the padding row's value, with no gradient back to it
        return where((index != self.padding_idx)[..., None], rows, rows.detach())

    def extra_repr(self) -> str:
        extra = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{extra}"


class Dropout2d(Dropout):
    """Zero whole channels of (N, C, H, W) images with probability p in training (scaling the rest
    by 1/(1−p)); the identity in ``eval()`` mode."""

    def forward(self, x: Any) -> Any:
        if not self.training or self.p == 0:
            return x
        x = F._tensor(x)
        if x.ndim not in (3, 4):
            raise ValueError(f"Dropout2d: expected (N, C, H, W) or (C, H, W) input, got shape {x.shape}")
        channels = x.shape[:-2] + (1, 1)
        keep = default_rng().random(channels, dtype=np.float32) >= self.p
        return x * (keep.astype(x.dtype) / (1 - self.p))
