"""Weight initialisation, in place, with PyTorch's names and formulas, plus the documents' schemes.

fan_in / fan_out of a weight: for a Linear weight (out, in) they are ``in`` and ``out``; for a
Conv2d weight (out, in, kh, kw) they are ``in·kh·kw`` and ``out·kh·kw``.

| document | its code | here |
|---|---|---|
| 000 | ``randn(out, in) / sqrt(in)`` (the text calls it Xavier) | ``lecun_normal_`` (= ``kaiming_normal_(w, nonlinearity="linear")``) |
| 004 | ``randn(out, in) * sqrt(2 / in)`` (He) | ``he_normal_`` (= ``kaiming_normal_(w)``) |
| 003 | ``randn(out, in) * 0.01`` | ``normal_(w, std=0.01)`` |

Document 000's scheme is LeCun's, not Xavier/Glorot's: Glorot's normal uses
std = sqrt(2 / (fan_in + fan_out)).

Every function fills the tensor in place and returns it. Random ones take ``rng``, a NumPy
Generator; by default they draw from tensorgrad's, which ``tg.manual_seed`` seeds.
"""
from __future__ import annotations

import math

import numpy as np

from ..creation import default_rng
from ..tensor import Tensor, mark_changed

__all__ = [
    "calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "xavier_uniform_",
    "xavier_normal_", "glorot_uniform_", "glorot_normal_", "kaiming_uniform_", "kaiming_normal_",
    "he_uniform_", "he_normal_", "lecun_normal_", "trunc_normal_", "orthogonal_",
]


def _fans(tensor: Tensor) -> tuple[int, int]:
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(f"init: fan in/out need a weight with at least 2 dimensions, got shape {shape}")
    receptive_field = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive_field, shape[0] * receptive_field


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """PyTorch's recommended gain: 1 for linear/sigmoid, 5/3 for tanh, √2 for relu, leaky relu √(2/(1+a²))."""
    if nonlinearity in ("linear", "conv2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    tensor.data[...] = values
    mark_changed(tensor)
    return tensor


def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    return rng if rng is not None else default_rng()


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, rng: np.random.Generator | None = None) -> Tensor:
    """Fill with U(a, b)."""
    return _fill(tensor, _rng(rng).uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, rng: np.random.Generator | None = None) -> Tensor:
    """Fill with N(mean, std²)."""
    return _fill(tensor, mean + std * _rng(rng).standard_normal(tensor.shape))


def constant_(tensor: Tensor, value: float) -> Tensor:
    """Fill with ``value``."""
    return _fill(tensor, value)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0 (e.g. biases)."""
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return _fill(tensor, 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, rng: np.random.Generator | None = None) -> Tensor:
    """Glorot uniform: U(−a, a), a = gain·√(6/(fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, rng)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, rng: np.random.Generator | None = None) -> Tensor:
    """Glorot normal: N(0, std²), std = gain·√(2/(fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    fan_in, fan_out = _fans(tensor)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     rng: np.random.Generator | None = None) -> Tensor:
    """He uniform: U(−b, b), b = gain·√(3/fan), gain and fan as in ``kaiming_normal_`` (same
    defaults, as PyTorch). PyTorch's Linear/Conv default initialisation is this with a=√5."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, rng)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    rng: np.random.Generator | None = None) -> Tensor:
    """He normal: N(0, std²), std = gain/√fan, gain = calculate_gain(nonlinearity, a); with the
    defaults (leaky_relu with slope a = 0, i.e. ReLU; fan = fan_in, as PyTorch) std = √(2/fan_in),
    document 004's initialisation."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), rng)


def lecun_normal_(tensor: Tensor, rng: np.random.Generator | None = None) -> Tensor:
    """N(0, 1/fan_in): ``randn(out, in) / sqrt(in)``, document 000's initialisation."""
    return kaiming_normal_(tensor, nonlinearity="linear", rng=rng)


glorot_uniform_ = xavier_uniform_
glorot_normal_ = xavier_normal_
he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  rng: np.random.Generator | None = None) -> Tensor:
    """Fill with N(mean, std²) truncated to [a, b] (absolute bounds, as PyTorch's): values outside
    are drawn again until every one is inside."""
    if not a < b:
        raise ValueError(f"trunc_normal_: the bounds must satisfy a < b, got a={a}, b={b}")
    generator = _rng(rng)
    values = mean + std * generator.standard_normal(tensor.shape)
    outside = (values < a) | (values > b)
    for _ in range(1000):  # redraw only the values outside: each round keeps most of the rest
        if not outside.any():
            break
        values[outside] = mean + std * generator.standard_normal(int(outside.sum()))
        outside = (values < a) | (values > b)
    else:
        raise ValueError(f"trunc_normal_: [a, b] = [{a}, {b}] is too far from N({mean}, {std}²) to draw from")
    return _fill(tensor, values)


def orthogonal_(tensor: Tensor, gain: float = 1.0, rng: np.random.Generator | None = None) -> Tensor:
    """Fill with a (semi-)orthogonal matrix times ``gain``: the weight flattened to (rows, rest)
    has orthonormal rows or columns (the Q of a QR decomposition of a Gaussian matrix, signs fixed
    so that it is uniformly distributed, as PyTorch's)."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: needs at least 2 dimensions, got shape {tensor.shape}")
    rows = tensor.shape[0]
    cols = tensor.size // rows
    flat = _rng(rng).standard_normal((rows, cols))
    q, r = np.linalg.qr(flat.T if rows < cols else flat)
    q *= np.sign(np.diag(r))
    return _fill(tensor, gain * (q.T if rows < cols else q).reshape(tensor.shape))
