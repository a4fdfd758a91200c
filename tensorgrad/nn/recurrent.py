"""Recurrent layers with PyTorch's parameters, names and gate order: RNNCell, LSTMCell, GRUCell,
and the multi-step RNN, LSTM, GRU (several layers, ``batch_first``).

Each step is written with tensor ops (``x @ W_ihᵀ + b_ih + h @ W_hhᵀ + b_hh``, then the gates),
so backpropagation through time is the engine's ordinary walk over the unrolled graph, and
``tg.draw`` / ``tg.trace`` show it step by step. Weights start uniform in ±1/√hidden_size, as
PyTorch's.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..creation import default_rng
from ..tensor import Tensor, stack
from . import functional as F
from .module import Module, Parameter

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU"]

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _uniform(shape: tuple[int, ...], hidden_size: int, dtype: Any) -> Parameter:
    bound = 1.0 / math.sqrt(hidden_size)
    return Parameter(default_rng().uniform(-bound, bound, shape).astype(dtype))


def _affine(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    return x @ weight.T if bias is None else x @ weight.T + bias


def rnn_step(x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Any, b_hh: Any, nonlinearity: str) -> Tensor:
    """h' = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh) (or relu)."""
    pre = _affine(x, w_ih, b_ih) + _affine(h, w_hh, b_hh)
    return pre.tanh() if nonlinearity == "tanh" else pre.relu()


def lstm_step(x: Tensor, state: tuple[Tensor, Tensor], w_ih: Tensor, w_hh: Tensor, b_ih: Any, b_hh: Any
              ) -> tuple[Tensor, Tensor]:
    """Gates i, f, g, o (PyTorch's order) from one product each; c' = f·c + i·g, h' = o·tanh(c')."""
    h, c = state
    i, f, g, o = (_affine(x, w_ih, b_ih) + _affine(h, w_hh, b_hh)).chunk(4, dim=-1)
    c_next = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c_next.tanh(), c_next


def gru_step(x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Any, b_hh: Any) -> Tensor:
    """r, z from both products; n = tanh(x·W_inᵀ + b_in + r·(h·W_hnᵀ + b_hn)); h' = (1 − z)·n + z·h."""
    xr, xz, xn = _affine(x, w_ih, b_ih).chunk(3, dim=-1)
    hr, hz, hn = _affine(h, w_hh, b_hh).chunk(3, dim=-1)
    r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return (1 - z) * n + z * h


class _Cell(Module):
    mode = "rnn"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = np.float32) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        rows = GATES[self.mode] * hidden_size
        self.weight_ih = _uniform((rows, input_size), hidden_size, dtype)
        self.weight_hh = _uniform((rows, hidden_size), hidden_size, dtype)
        if bias:
            self.bias_ih = _uniform((rows,), hidden_size, dtype)
            self.bias_hh = _uniform((rows,), hidden_size, dtype)

    def _parameters_of_step(self) -> tuple:
        return (self.weight_ih, self.weight_hh, self._parameters.get("bias_ih"), self._parameters.get("bias_hh"))

    def _zeros(self, x: Tensor) -> Tensor:
        return Tensor(np.zeros(x.shape[:-1] + (self.hidden_size,), x.dtype))

    def _check(self, x: Any) -> Tensor:
        x = F._tensor(x)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: expected input (batch, {self.input_size}) or ({self.input_size},), "
                             f"got shape {x.shape}")
        return x

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_Cell):
    """One step of an Elman RNN: h' = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype: Any = np.float32) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x: Any, h: Any = None) -> Tensor:
        x = self._check(x)
        return rnn_step(x, self._zeros(x) if h is None else h, *self._parameters_of_step(), self.nonlinearity)


class LSTMCell(_Cell):
    """One LSTM step: returns (h', c'); gates input, forget, cell, output (PyTorch's order)."""

    mode = "lstm"

    def forward(self, x: Any, state: tuple[Any, Any] | None = None) -> tuple[Tensor, Tensor]:
        x = self._check(x)
        state = (self._zeros(x), self._zeros(x)) if state is None else state
        return lstm_step(x, state, *self._parameters_of_step())


class GRUCell(_Cell):
    """One GRU step: reset and update gates, then h' = (1 − z)·n + z·h."""

    mode = "gru"

    def forward(self, x: Any, h: Any = None) -> Tensor:
        x = self._check(x)
        return gru_step(x, self._zeros(x) if h is None else h, *self._parameters_of_step())


class _Recurrent(Module):
    """A sequence through ``num_layers`` stacked layers, step by step (parameters named
    ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ... as PyTorch's)."""

    mode = "rnn"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 nonlinearity: str = "tanh", dtype: Any = np.float32) -> None:
        super().__init__()
        name = type(self).__name__
        if bidirectional:
            raise NotImplementedError(f"{name}: bidirectional=True is not supported; run a second {name} on the "
                                      "reversed sequence (x.flip) and concatenate the outputs")
        if not 0 <= dropout < 1:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout}")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"{name}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout, self.nonlinearity = bias, batch_first, dropout, nonlinearity
        rows = GATES[self.mode] * hidden_size
        for layer in range(num_layers):
            inputs = input_size if layer == 0 else hidden_size
            setattr(self, f"weight_ih_l{layer}", _uniform((rows, inputs), hidden_size, dtype))
            setattr(self, f"weight_hh_l{layer}", _uniform((rows, hidden_size), hidden_size, dtype))
            if bias:
                setattr(self, f"bias_ih_l{layer}", _uniform((rows,), hidden_size, dtype))
                setattr(self, f"bias_hh_l{layer}", _uniform((rows,), hidden_size, dtype))

    def _layer(self, layer: int) -> tuple:
        p = self._parameters
        return (p[f"weight_ih_l{layer}"], p[f"weight_hh_l{layer}"], p.get(f"bias_ih_l{layer}"), p.get(f"bias_hh_l{layer}"))

    def forward(self, x: Any, state: Any = None) -> tuple[Tensor, Any]:
        x = F._tensor(x)
        name = type(self).__name__
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input (seq, batch, {self.input_size}) (batch first if batch_first) or "
                             f"(seq, {self.input_size}), got shape {x.shape}")
        unbatched = x.ndim == 2
        if unbatched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)  # time first from here on
        steps, batch = x.shape[0], x.shape[1]
        zeros = Tensor(np.zeros((self.num_layers, batch, self.hidden_size), x.dtype))
        if self.mode == "lstm":
            h0, c0 = (zeros, zeros) if state is None else state
            if unbatched and state is not None:
                h0, c0 = h0.unsqueeze(1), c0.unsqueeze(1)
        else:
            h0 = zeros if state is None else (state.unsqueeze(1) if unbatched else state)
        sequence = [x[t] for t in range(steps)]
        last_h, last_c = [], []
        for layer in range(self.num_layers):
            params = self._layer(layer)
            h = h0[layer]
            c = c0[layer] if self.mode == "lstm" else None
            outputs = []
            for x_t in sequence:
                if self.mode == "lstm":
                    h, c = lstm_step(x_t, (h, c), *params)
                elif self.mode == "gru":
                    h = gru_step(x_t, h, *params)
                else:
                    h = rnn_step(x_t, h, *params, self.nonlinearity)
                outputs.append(h)
            last_h.append(h)
            last_c.append(c)
            sequence = outputs
            if self.dropout and layer < self.num_layers - 1:
                sequence = [F.dropout(s, self.dropout, self.training) for s in sequence]
        output = stack(outputs, axis=0)
        h_n = stack(last_h, axis=0)
        if unbatched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        if self.mode == "lstm":
            c_n = stack(last_c, axis=0)
            return output, (h_n, c_n.squeeze(1) if unbatched else c_n)
        return output, h_n

    def extra_repr(self) -> str:
        extra = "".join(f", {k}={v}" for k, v in (("num_layers", self.num_layers), ("batch_first", self.batch_first),
                                                   ("dropout", self.dropout)) if v)
        return f"{self.input_size}, {self.hidden_size}{extra}"


class RNN(_Recurrent):
    """An Elman RNN over a sequence: returns (output of every step of the last layer, h_n)."""


class LSTM(_Recurrent):
    """An LSTM over a sequence: returns (output, (h_n, c_n))."""

    mode = "lstm"


class GRU(_Recurrent):
    """A GRU over a sequence: returns (output, h_n)."""

    mode = "gru"
