"""Making tensors: zeros, ones, random samples, ranges, and the seeded generator behind them.

``tg.tensor(data)`` and ``tg.from_numpy(array)`` are in tensor.py, beside the class. Shapes are
given as ``tg.zeros(2, 3)`` or ``tg.zeros((2, 3))``; the dtype is float32 unless ``dtype=`` says
otherwise, as PyTorch.
"""
from __future__ import annotations

import operator
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import InputError, InputTypeError
from .tensor import DEFAULT_DTYPE, ArrayLike, Tensor, _to_array

__all__ = [
    "zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "rand", "randn", "rand_like",
    "randn_like", "arange", "eye", "manual_seed", "default_rng",
]

_rng = np.random.default_rng()


def manual_seed(seed: int | Sequence[int]) -> np.random.Generator:
    """Seed the generator behind ``tg.randn`` / ``tg.rand``, the nn initialisers and dropout
    (an int, or a sequence of ints such as (seed, epoch))."""
    global _rng
    _rng = np.random.default_rng(seed)
    return _rng


def default_rng() -> np.random.Generator:
    """The generator behind tg.randn / tg.rand (set with ``tg.manual_seed``)."""
    return _rng


def _shape_arg(shape: tuple, op: str) -> tuple[int, ...]:
    """A creation function's shape, given as ``f(2, 3)`` or ``f((2, 3))``: whole numbers >= 0."""
    dims = shape[0] if len(shape) == 1 and isinstance(shape[0], Iterable) and not isinstance(shape[0], str) else shape
    try:
        dims = tuple(operator.index(n) for n in dims)
    except TypeError:
        raise InputTypeError(f"{op}: a shape is whole numbers, got {shape[0] if len(shape) == 1 else shape!r}") from None
    if any(n < 0 for n in dims):
        raise InputError(f"{op}: a shape cannot have negative sizes, got {dims}")
    return dims


def _make(array: np.ndarray, requires_grad: bool, name: str | None = None) -> Tensor:
    t = Tensor._from_op(array, None)
    t.requires_grad = requires_grad
    t.name = name
    return t


def zeros(*shape: int, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """A tensor of zeros: ``tg.zeros(2, 3)`` or ``tg.zeros((2, 3))``."""
    return _make(np.zeros(_shape_arg(shape, "zeros"), dtype=dtype), requires_grad, name)


def ones(*shape: int, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """A tensor of ones: ``tg.ones(2, 3)`` or ``tg.ones((2, 3))``."""
    return _make(np.ones(_shape_arg(shape, "ones"), dtype=dtype), requires_grad, name)


def full(shape: int | Sequence[int], value: float, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """A tensor filled with ``value``."""
    return _make(np.full(_shape_arg((shape,), "full"), value, dtype=dtype), requires_grad, name)


def zeros_like(t: ArrayLike, dtype: Any = None, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """Zeros of ``t``'s shape, in ``t``'s dtype unless ``dtype`` is given."""
    return _make(np.zeros_like(_to_array(t, copy=False), dtype=dtype), requires_grad, name)


def ones_like(t: ArrayLike, dtype: Any = None, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """Ones of ``t``'s shape, in ``t``'s dtype unless ``dtype`` is given."""
    return _make(np.ones_like(_to_array(t, copy=False), dtype=dtype), requires_grad, name)


def full_like(t: ArrayLike, value: float, dtype: Any = None, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """``value`` everywhere, in ``t``'s shape and dtype (unless ``dtype`` is given)."""
    return _make(np.full_like(_to_array(t, copy=False), value, dtype=dtype), requires_grad, name)


def randn(*shape: int, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False,
          rng: np.random.Generator | None = None, generator: Any = None, name: str | None = None) -> Tensor:
    """Standard normal samples: ``tg.randn(784, 128)``. Seed with ``tg.manual_seed``, or pass ``rng`` (a NumPy Generator) or
    ``generator`` (a ``tg.Generator``, as PyTorch's)."""
    array = (rng or _generator_rng(generator) or _rng).standard_normal(_shape_arg(shape, "randn"), dtype=np.dtype(dtype).type)
    return _make(array, requires_grad, name)


def rand(*shape: int, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False,
         rng: np.random.Generator | None = None, generator: Any = None, name: str | None = None) -> Tensor:
    """Uniform samples in [0, 1): ``tg.rand(3, 4)``. Seed with ``tg.manual_seed``, or pass ``rng`` (a NumPy Generator) or
    ``generator`` (a ``tg.Generator``, as PyTorch's)."""
    array = (rng or _generator_rng(generator) or _rng).random(_shape_arg(shape, "rand"), dtype=np.dtype(dtype).type)
    return _make(array, requires_grad, name)


def randn_like(t: ArrayLike, requires_grad: bool = False, *, dtype: Any = None) -> Tensor:
    """Standard normal samples of ``t``'s shape, in ``t``'s dtype (or ``dtype``; floats only)."""
    return randn(*np.shape(t), dtype=_random_dtype("randn_like", t, dtype), requires_grad=requires_grad)


def rand_like(t: ArrayLike, requires_grad: bool = False, *, dtype: Any = None) -> Tensor:
    """Uniform samples in [0, 1) of ``t``'s shape, in ``t``'s dtype (or ``dtype``; floats only)."""
    return rand(*np.shape(t), dtype=_random_dtype("rand_like", t, dtype), requires_grad=requires_grad)


def _random_dtype(op: str, like: ArrayLike, dtype: Any) -> np.dtype:
    chosen = np.dtype(dtype) if dtype is not None else _to_array(like, copy=False).dtype
    if chosen.kind != "f":
        raise InputTypeError(f"{op}: random samples are floating point, but the tensor is {chosen}; pass "
                        "dtype=np.float32 (or another float type)")
    return chosen


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False, name: str | None = None) -> Tensor:
    """Evenly spaced values from ``start`` up to, not including, ``stop``, ``step`` apart, as
    ``np.arange``: with ``stop`` omitted, from 0 up to ``start`` (``arange(5, step=2)`` is 0, 2, 4).
    Integer arguments give int64 (like NumPy and PyTorch), float arguments float32."""
    if step == 0:
        raise InputError(f"arange: step must not be 0 (start={start}, stop={stop})")
    array = np.arange(start, stop, step)  # NumPy reads stop=None as arange(0, start, step)
    if dtype is not None:
        array = array.astype(dtype)
    elif array.dtype.kind == "f":
        array = array.astype(DEFAULT_DTYPE)
    return _make(array, requires_grad, name)


def eye(n: int, m: int | None = None, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """Identity matrix."""
    return _make(np.eye(n, m, dtype=dtype), requires_grad, name)


def _generator_rng(generator: Any) -> np.random.Generator | None:
    """The NumPy generator behind PyTorch's ``generator=`` argument (a tg.Generator), or None."""
    if generator is None:
        return None
    rng = getattr(generator, "rng", generator)
    if not isinstance(rng, np.random.Generator):
        raise InputTypeError(f"generator: expected a tg.Generator or numpy Generator, got {type(generator).__name__}")
    return rng
