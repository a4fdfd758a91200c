"""Attention: ``F.scaled_dot_product_attention`` (also importable from here) and
``MultiheadAttention``, with PyTorch's arguments, parameter names and masks.

softmax(q·kᵀ/√d + mask)·v, written with tensor ops, so its gradient (and the softmax's coupling
of the scores) comes from the engine.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..creation import default_rng
from ..tensor import Tensor
from . import functional as F
from .functional import scaled_dot_product_attention
from .layers import Linear
from .module import Module, Parameter

__all__ = ["scaled_dot_product_attention", "MultiheadAttention"]


class MultiheadAttention(Module):
    """PyTorch's ``nn.MultiheadAttention``: the query, key and value projected by one
    ``in_proj_weight`` (3E, E), split into ``num_heads`` heads, attention per head, the heads
    joined and projected by ``out_proj``. Returns (output, attention weights averaged over the
    heads, or None with ``need_weights=False``)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False, dtype: Any = np.float32) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim={embed_dim} must be divisible by num_heads={num_heads}")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        bound = math.sqrt(6.0 / (embed_dim + 3 * embed_dim))  # xavier_uniform_ of (3E, E), as PyTorch
        self.in_proj_weight = Parameter(default_rng().uniform(-bound, bound, (3 * embed_dim, embed_dim)).astype(dtype))
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dtype))
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        if bias:
            self.out_proj.bias.data[...] = 0

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None, need_weights: bool = True,
                attn_mask: Any = None, average_attn_weights: bool = True, is_causal: bool = False) -> tuple[Tensor, Any]:
        q, k, v = (t if isinstance(t, Tensor) else Tensor(t) for t in (query, key, value))
        layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
        for what, t in (("query", q), ("key", k), ("value", v)):
            if t.ndim != 3 or t.shape[-1] != self.embed_dim:
                raise ValueError(f"MultiheadAttention: expected {what} of shape {layout} with E = embed_dim = "
                                 f"{self.embed_dim}, got shape {t.shape}")
        if k.shape != v.shape or k.shape[0 if self.batch_first else 1] != q.shape[0 if self.batch_first else 1]:
            raise ValueError(f"MultiheadAttention: key {k.shape} and value {v.shape} must have the same shape, and "
                             f"the same batch size as query {q.shape} ({layout})")
        if self.batch_first:
            q, k, v = (t.transpose(0, 1) for t in (q, k, v))  # (L, N, E) from here on
        L, N, E = q.shape
        S = k.shape[0]
        H, D = self.num_heads, E // self.num_heads
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3) if "in_proj_bias" in self._parameters else (None, None, None)

        def heads(x: Tensor, w: Tensor, b: Any, length: int) -> Tensor:  # (length, N, E) -> (N, H, length, D)
            projected = x @ w.T if b is None else x @ w.T + b
            return projected.reshape(length, N, H, D).permute(1, 2, 0, 3)

        qh, kh, vh = heads(q, w_q, b_q, L), heads(k, w_k, b_k, S), heads(v, w_v, b_v, S)
        scores = (qh @ kh.transpose(-2, -1)) * (1.0 / math.sqrt(D))  # (N, H, L, S)
        blocked = np.zeros((N, 1, L, S), dtype=bool)
        if is_causal and attn_mask is None:
            attn_mask = ~np.tril(np.ones((L, S), dtype=bool))
        if attn_mask is not None:  # here True (or -inf) means "may NOT attend", as in PyTorch's module
            mask = np.asarray(attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask)
            if mask.dtype == bool:
                blocked = blocked | mask.reshape((1, 1) + mask.shape[-2:]) if mask.ndim == 2 else blocked | mask.reshape(N, H, L, S)
            else:
                scores = scores + (mask if mask.ndim == 2 else mask.reshape(N, H, L, S))
        if key_padding_mask is not None:
            padding = np.asarray(key_padding_mask.data if isinstance(key_padding_mask, Tensor) else key_padding_mask, dtype=bool)
            blocked = blocked | padding.reshape(N, 1, 1, S)
        if blocked.any():
            scores = scores.masked_fill(np.broadcast_to(blocked, scores.shape), float("-inf"))
        weights = scores.softmax(dim=-1)
        attended = F.dropout(weights, self.dropout, self.training) if self.dropout else weights
        out = (attended @ vh).permute(2, 0, 1, 3).reshape(L, N, E)  # heads joined
        out = self.out_proj(out)
        if self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        return out, (weights.mean(dim=1) if average_attn_weights else weights)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"
