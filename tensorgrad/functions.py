"""Module-level functions on tensors, with PyTorch's names and NumPy's where they differ:
``tg.exp(x)``, ``tg.cat([a, b], dim=1)``, ``tg.einsum("ij,jk->ik", a, b)``, ``tg.randint(0, 27, (32,))``.

Each is a thin wrapper over a Tensor method or an op (tensor.py, ops/), so that code written for
PyTorch (``torch.exp(x)``) or NumPy (``np.exp(x)``, see numpy_protocol.py) runs with ``tg.`` in
front. Random functions take PyTorch's ``generator=`` (a :class:`Generator`).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import creation
from .errors import InputError, InputTypeError
from .ops.matmul import Einsum
from .ops.shape import Concatenate
from .tensor import DEFAULT_DTYPE, ArrayLike, Tensor, ValuesIndices, _axis_arguments, _to_array

__all__ = [
    "as_tensor", "is_tensor", "numel", "cat", "split", "chunk", "gather", "scatter_add", "index_select",
    "masked_fill", "clamp", "clip", "norm", "std", "var", "sum", "mean", "max", "min", "argmax", "argmin",
    "logsumexp", "cumsum", "sort", "argsort", "topk", "tril", "triu", "einsum", "matmul", "reshape",
    "transpose", "permute", "flatten", "unsqueeze", "squeeze", "softmax", "log_softmax",
    "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu",
    "Generator", "randint", "multinomial", "linspace",
]


def as_tensor(data: ArrayLike, dtype: Any = None) -> Tensor:
    """``data`` as a Tensor: a Tensor as it is (converted if ``dtype`` differs), anything else
    without copying when NumPy can (as ``torch.as_tensor``)."""
    if isinstance(data, Tensor):
        return data if dtype is None or np.dtype(dtype) == data.dtype else data.astype(dtype)
    return Tensor._from_op(_to_array(data, dtype, copy=False), None)


def is_tensor(obj: Any) -> bool:
    """Whether ``obj`` is a tensorgrad Tensor."""
    return isinstance(obj, Tensor)


def numel(t: Tensor) -> int:
    """The number of values of ``t``."""
    return as_tensor(t).numel()


# ------------------------------------------------------------------------------ joining, splitting
def cat(tensors: Sequence[ArrayLike], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors along an existing axis (PyTorch's ``cat``, NumPy's ``concatenate``)."""
    return Concatenate.apply(*tensors, axis=_axis_arguments("cat", axis, False, dim, None)[0])


def split(t: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of ``t`` along ``dim`` (see ``Tensor.split``: sizes, as PyTorch, not counts as NumPy)."""
    return as_tensor(t).split(split_size_or_sections, dim)


def chunk(t: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """``chunks`` pieces of ``t`` along ``dim`` (see ``Tensor.chunk``)."""
    return as_tensor(t).chunk(chunks, dim)


def gather(input: Tensor, dim: int, index: ArrayLike) -> Tensor:  # noqa: A002
    """One value per index along ``dim`` (see ``Tensor.gather``)."""
    return as_tensor(input).gather(dim, index)


def scatter_add(input: Tensor, dim: int, index: ArrayLike, src: ArrayLike) -> Tensor:  # noqa: A002
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim`` (see ``Tensor.scatter_add``)."""
    return as_tensor(input).scatter_add(dim, index, src)


def index_select(input: Tensor, dim: int, index: ArrayLike) -> Tensor:  # noqa: A002
    """The entries at ``index`` along ``dim`` (see ``Tensor.index_select``)."""
    return as_tensor(input).index_select(dim, index)


def masked_fill(input: Tensor, mask: ArrayLike, value: float) -> Tensor:  # noqa: A002
    """``value`` where ``mask`` is true (see ``Tensor.masked_fill``)."""
    return as_tensor(input).masked_fill(mask, value)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The lower triangle of the last two axes: ``tg.tril(tg.ones(T, T))`` is a causal mask."""
    return as_tensor(input).tril(diagonal)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The upper triangle of the last two axes."""
    return as_tensor(input).triu(diagonal)


# ------------------------------------------------------------------------------------ reductions
def sum(input: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None,  # noqa: A001
        keepdim: bool | None = None) -> Tensor:
    """Sum over axes (``axis``/``dim``, ``keepdims``/``keepdim``), as ``Tensor.sum``."""
    return as_tensor(input).sum(axis, keepdims, dim=dim, keepdim=keepdim)


def mean(input: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None,  # noqa: A002
         keepdim: bool | None = None) -> Tensor:
    """Mean over axes, as ``Tensor.mean``."""
    return as_tensor(input).mean(axis, keepdims, dim=dim, keepdim=keepdim)


def max(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:  # noqa: A001
    """PyTorch's ``torch.max``: the largest value, or with ``dim`` the pair ``(values, indices)``."""
    return as_tensor(input).max() if dim is None else as_tensor(input).max(dim=dim, keepdim=keepdim)


def min(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:  # noqa: A001
    """PyTorch's ``torch.min``: the smallest value, or with ``dim`` the pair ``(values, indices)``."""
    return as_tensor(input).min() if dim is None else as_tensor(input).min(dim=dim, keepdim=keepdim)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """Index of the largest value (over all values, or along ``dim``)."""
    return as_tensor(input).argmax(dim=dim, keepdim=keepdim)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """Index of the smallest value (over all values, or along ``dim``)."""
    return as_tensor(input).argmin(dim=dim, keepdim=keepdim)


def var(input: Tensor, dim: Any = None, *, unbiased: bool | None = None, correction: int | None = None,  # noqa: A002
        keepdim: bool = False) -> Tensor:
    """Variance, PyTorch's defaults (divides by N − 1 unless ``correction=0``/``unbiased=False``)."""
    if unbiased is None and correction is None:
        correction = 1
    return as_tensor(input).var(dim=dim, keepdim=keepdim, unbiased=unbiased, correction=correction)


def std(input: Tensor, dim: Any = None, *, unbiased: bool | None = None, correction: int | None = None,  # noqa: A002
        keepdim: bool = False) -> Tensor:
    """Standard deviation, PyTorch's defaults (see ``var``)."""
    return var(input, dim, unbiased=unbiased, correction=correction, keepdim=keepdim).sqrt()


def norm(input: Tensor, p: Any = 2, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """The p-norm (see ``Tensor.norm``)."""
    return as_tensor(input).norm(p, dim=dim, keepdim=keepdim)


def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:  # noqa: A002
    """log(sum(exp(x))) along ``dim``, stable."""
    return as_tensor(input).logsumexp(dim=dim, keepdim=keepdim)


def cumsum(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    """Running sum along ``dim``."""
    return as_tensor(input).cumsum(dim=dim)


def sort(input: Tensor, dim: int = -1, descending: bool = False) -> ValuesIndices:  # noqa: A002
    """``(values, indices)`` sorted along ``dim``."""
    return as_tensor(input).sort(dim, descending)


def argsort(input: Tensor, dim: int = -1, descending: bool = False) -> Tensor:  # noqa: A002
    """The indices that sort ``input`` along ``dim``."""
    return as_tensor(input).argsort(dim, descending)


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> ValuesIndices:  # noqa: A002
    """The ``k`` largest values along ``dim`` and their indices."""
    return as_tensor(input).topk(k, dim, largest, sorted)


# -------------------------------------------------------------------------- products and shapes
def einsum(subscripts: str, *operands: Any) -> Tensor:
    """Einstein summation, as ``np.einsum`` / ``torch.einsum``: ``tg.einsum("bij,bjk->bik", a, b)``
    (the operands may also come as one list). Each operand gets its gradient; a repeated index
    inside one operand (a diagonal) is not supported."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(subscripts, str):
        raise InputTypeError(f"einsum: the first argument is the subscripts string, got {type(subscripts).__name__}")
    return Einsum.apply(*operands, subscripts=subscripts)


def matmul(a: ArrayLike, b: ArrayLike) -> Tensor:
    """``a @ b``."""
    return as_tensor(a) @ b


def reshape(input: Tensor, shape: Sequence[int]) -> Tensor:  # noqa: A002
    """``input`` with a new shape."""
    return as_tensor(input).reshape(shape)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:  # noqa: A002
    """``input`` with two axes swapped."""
    t = as_tensor(input)
    order = list(range(t.ndim))
    order[dim0], order[dim1] = order[dim1], order[dim0]
    return t.permute(order)


def permute(input: Tensor, dims: Sequence[int]) -> Tensor:  # noqa: A002
    """``input`` with its axes in the order ``dims``."""
    return as_tensor(input).permute(dims)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:  # noqa: A002
    """Axes ``start_dim..end_dim`` merged into one."""
    return as_tensor(input).flatten(start_dim, end_dim)


def unsqueeze(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    """A new axis of length 1 at ``dim``."""
    return as_tensor(input).unsqueeze(dim)


def squeeze(input: Tensor, dim: Any = None) -> Tensor:  # noqa: A002
    """Axes of length 1 dropped (all, or those in ``dim``)."""
    return as_tensor(input).squeeze(dim)


def softmax(input: Tensor, dim: int = -1) -> Tensor:  # noqa: A002
    """Stable softmax along ``dim``."""
    return as_tensor(input).softmax(dim=dim)


def log_softmax(input: Tensor, dim: int = -1) -> Tensor:  # noqa: A002
    """Stable log-softmax along ``dim``."""
    return as_tensor(input).log_softmax(dim=dim)


def clamp(input: Tensor, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    """Values limited to [min, max]."""
    return as_tensor(input).clip(min, max)


clip = clamp


# ------------------------------------------------------------------- elementwise, as functions
def exp(input: ArrayLike) -> Tensor:  # noqa: A002
    """e**x, element by element."""
    return as_tensor(input).exp()


def log(input: ArrayLike) -> Tensor:  # noqa: A002
    """Natural logarithm, element by element."""
    return as_tensor(input).log()


def sqrt(input: ArrayLike) -> Tensor:  # noqa: A002
    """Square root, element by element."""
    return as_tensor(input).sqrt()


def abs(input: ArrayLike) -> Tensor:  # noqa: A001,A002
    """Absolute value, element by element."""
    return as_tensor(input).abs()


def sin(input: ArrayLike) -> Tensor:  # noqa: A002
    """Sine, element by element."""
    return as_tensor(input).sin()


def cos(input: ArrayLike) -> Tensor:  # noqa: A002
    """Cosine, element by element."""
    return as_tensor(input).cos()


def tanh(input: ArrayLike) -> Tensor:  # noqa: A002
    """Hyperbolic tangent, element by element."""
    return as_tensor(input).tanh()


def sigmoid(input: ArrayLike) -> Tensor:  # noqa: A002
    """1/(1 + e^−x), stable."""
    return as_tensor(input).sigmoid()


def relu(input: ArrayLike) -> Tensor:  # noqa: A002
    """max(x, 0)."""
    return as_tensor(input).relu()


# ------------------------------------------------------------------------------------ randomness
class Generator:
    """A seeded source of random numbers for ``generator=`` arguments, as ``torch.Generator``:
    ``g = tg.Generator().manual_seed(2147483647)``. It wraps a NumPy ``Generator`` (``.rng``)."""

    def __init__(self, device: str = "cpu") -> None:
        self.rng = np.random.default_rng()

    def manual_seed(self, seed: int) -> "Generator":
        """Reseed, and return this generator (so that it chains, as PyTorch's)."""
        self.rng = np.random.default_rng(seed)
        return self

    def __repr__(self) -> str:
        return "<tensorgrad.Generator>"


def _rng(generator: Generator | np.random.Generator | None) -> np.random.Generator:
    """The NumPy generator behind ``generator=`` (tensorgrad's default one for None)."""
    return creation._generator_rng(generator) or creation.default_rng()


def randint(low: int, high: int | None = None, size: Sequence[int] = (), *, generator: Any = None,
            dtype: Any = np.int64, requires_grad: bool = False) -> Tensor:
    """Random integers in [low, high) of shape ``size``, int64: ``tg.randint(0, 27, (32,))``
    (``tg.randint(high, size)`` draws from [0, high))."""
    if high is None:
        low, high = 0, low
    if isinstance(size, int):
        size = (size,)
    if low >= high:
        raise InputError(f"randint: low={low} must be below high={high}")
    array = _rng(generator).integers(low, high, size=tuple(size), dtype=np.int64).astype(dtype, copy=False)
    return creation._make(array, requires_grad)


def multinomial(input: ArrayLike, num_samples: int, replacement: bool = False, *,  # noqa: A002
                generator: Any = None) -> Tensor:
    """Sample category indices from the probabilities (or non-negative weights) in each row of
    ``input`` (1-D or 2-D), as ``torch.multinomial``: ``tg.multinomial(probs, 1, generator=g)``."""
    weights = np.asarray(input.data if isinstance(input, Tensor) else input, dtype=np.float64)
    rows = weights[None] if weights.ndim == 1 else weights
    if weights.ndim not in (1, 2) or (rows < 0).any() or not np.isfinite(rows).all() or (rows.sum(axis=1) <= 0).any():
        raise InputError(f"multinomial: input must be 1-D or 2-D non-negative finite weights with a positive sum "
                         f"in each row, got shape {weights.shape}")
    if not replacement and num_samples > (rows > 0).sum(axis=1).min():
        raise InputError(f"multinomial: cannot draw {num_samples} samples without replacement from rows with "
                         f"{(rows > 0).sum(axis=1).min()} non-zero weights")
    rng = _rng(generator)
    samples = np.stack([rng.choice(len(row), size=num_samples, replace=replacement, p=row / row.sum()) for row in rows])
    return Tensor._from_op(samples[0] if weights.ndim == 1 else samples, None)


def linspace(start: float, end: float, steps: int, *, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included (float32)."""
    return creation._make(np.linspace(start, end, steps, dtype=dtype), requires_grad)
