"""Normalization, the op behind BatchNorm, LayerNorm and GroupNorm: x̂ = (x − mean) / √(var + eps)
over some axes (the biased variance, as the layers normalize). Its backward is the formula a
hand-written BatchNorm backward must arrive at: every x moves the mean and the variance, so each
input's gradient has two terms besides g/σ (the "coupling" of notebook 06's exercise 7).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ._args import normalize_axes


class Normalize(Function):
    formula = "∂x = (g − mean(g) − n·mean(g·n))/σ   (n = (x − mean)/σ the output, σ = √(var + eps), means over the axes)"
    input_names = ("x",)

    def forward(self, x, axes, eps=1e-5):
        self.axes = normalize_axes(self.name, axes, x.shape)
        self.eps = eps
        mean = x.mean(axis=self.axes, keepdims=True)
        centered = x - mean
        inv_std = 1.0 / np.sqrt((centered * centered).mean(axis=self.axes, keepdims=True) + eps)
        normalized = centered * inv_std
        self.save(normalized, inv_std)
        return normalized

    def backward(self, g):
        normalized, inv_std = self.saved
        mean_g = g.mean(axis=self.axes, keepdims=True)
        mean_gx = (g * normalized).mean(axis=self.axes, keepdims=True)
        return (g - mean_g - normalized * mean_gx) * inv_std

    def composite(self, x):  # for gradients of gradients: x̂ and σ depend on x
        centered = x - x.mean(axis=self.axes, keepdims=True)
        return centered / ((centered * centered).mean(axis=self.axes, keepdims=True) + self.eps).sqrt()
