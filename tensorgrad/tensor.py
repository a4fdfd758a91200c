"""The Tensor: a NumPy array, an optional gradient, and the op that produced it.

``t.data`` is a plain ``numpy.ndarray`` and ``t.grad`` is an ndarray of the same shape and dtype
(or ``None``), so students can compare gradients with their hand-derived NumPy directly. Every
operator and method is one line that applies an op from ``tensorgrad.ops`` (``x * y`` is
``Mul.apply(x, y)``); ``t.backward()`` runs the graph walk in ``tensorgrad.autograd``.

Read after autograd.py: this file is the user's side of the engine.
"""
from __future__ import annotations

import html
import numbers
import warnings
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from . import autograd
from .errors import GraphError, InputError, InputTypeError, error_like
from .ops._args import normalize_axis
from .ops.elementwise import (
    Abs, Add, Cast, Clip, Div, Exp, Gelu, Log, Maximum, Minimum, Mul, Neg, Pow, Relu, Sigmoid, Sqrt,
    Sub, Tanh, Where,
)
from .ops.matmul import MatMul
from .ops.reduce import Max, Mean, Min, Sum, Var
from .ops.shape import Concatenate, GetItem, Reshape, Stack, Transpose
from .ops.softmax import LogSoftmax, Softmax

__all__ = [
    "Tensor",
    "tensor",
    "from_numpy",
    "where",
    "maximum",
    "minimum",
    "concatenate",
    "stack",
]

Axis = int | tuple[int, ...] | None
ArrayLike = Any  # Tensor, ndarray, Python number or nested list

DEFAULT_DTYPE = np.dtype(np.float32)


def _to_array(data: ArrayLike, dtype: Any = None, copy: bool = True) -> np.ndarray:
    """Apply the dtype policy: Python numbers and lists become float32, ndarrays keep their dtype."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):
        array = np.array(data, dtype=dtype, copy=copy) if (copy or dtype is not None) else data
        return _numeric(np.asarray(array), data)
    array = np.array(data, dtype=dtype)
    if dtype is None and array.dtype.kind in "iuf":
        array = array.astype(DEFAULT_DTYPE)
    return _numeric(array, data)


def _numeric(array: np.ndarray, data: Any) -> np.ndarray:
    """``array``, if it holds numbers (bool, integer, float, complex): a string or object array
    would only fail later, in some op, with a message about ufunc loops."""
    if array.dtype.kind not in "biufc":
        raise InputTypeError(f"tensor: cannot make a tensor from {type(data).__name__} of dtype {array.dtype}: "
                             "tensors hold numbers")
    return array


def _check_can_require_grad(dtype: np.dtype) -> None:
    if dtype.kind != "f":
        raise InputTypeError(
            f"tensor: requires_grad=True needs a floating-point dtype, got {dtype}: a gradient is a "
            "rate of change, and integer/bool values cannot change by small amounts. "
            "Convert first, e.g. tg.tensor(x.astype(np.float32), requires_grad=True)."
        )


class Tensor:
    """An n-dimensional array that records the ops applied to it for reverse-mode autodiff.

    Args:
        data: array-like. Python numbers and lists become float32; a NumPy array keeps its dtype
            (float64 is how gradient checks run); integer arrays stay integer.
        requires_grad: record ops on this tensor and give it a ``.grad`` in ``backward()``.
            Only floating-point tensors can require grad.
        dtype: optional NumPy dtype to convert to.
        name: optional label shown by ``repr``, ``tg.draw`` and ``tg.trace``.

    Attributes:
        data (numpy.ndarray): the values.
        grad (numpy.ndarray | None): d(loss)/d(this tensor) after ``backward()``, same shape/dtype.
        grad_fn: the op that produced this tensor (``None`` for a leaf).

    Example:
        >>> x = tg.tensor([[1.0, 2.0]], requires_grad=True)
        >>> y = (x * x).sum()
        >>> y.backward()
        >>> x.grad
        array([[2., 4.]], dtype=float32)
    """

    # _version counts in-place changes made through tensorgrad (+=, setitem, optimizers, init), so
    # backward can refuse to use an array that changed after an op saved it (as PyTorch does).
    __slots__ = ("data", "_grad", "_requires_grad", "grad_fn", "name", "_version", "__weakref__")
    # NumPy must hand `ndarray + tensor` to Tensor.__radd__ instead of looping over elements.
    __array_ufunc__ = None

    def __init__(
        self,
        data: ArrayLike,
        requires_grad: bool = False,
        dtype: Any = None,
        name: str | None = None,
    ) -> None:
        self.data = _to_array(data, dtype)
        self._grad: np.ndarray | None = None
        self.grad_fn: autograd.Function | None = None
        self.name = name
        self._version = 0
        self._requires_grad = False
        self.requires_grad = requires_grad

    # ------------------------------------------------------------------ fast internal builders
    @classmethod
    def _from_op(cls, data: Any, node: autograd.Function | None) -> "Tensor":
        """Wrap an op's output array without copying (node=None: a result that needs no grad)."""
        t = object.__new__(cls)
        t.data = data if type(data) is np.ndarray else np.asarray(data)
        t._grad = None
        t.name = None
        t._version = 0
        t.grad_fn = node
        t._requires_grad = node is not None
        if node is not None:
            node.output_ref = weakref.ref(t)
        return t

    @classmethod
    def _constant(cls, value: Any, like: np.ndarray | None = None) -> "Tensor":
        """Wrap an op input that is not a Tensor. A Python number takes the dtype NumPy would give
        it next to ``like`` (so ``x * 0.5`` keeps float32 and float64 alike), else float32."""
        if isinstance(value, np.ndarray):
            return cls._from_op(value, None)
        if isinstance(value, numbers.Number) and not isinstance(value, np.generic):
            dtype = np.result_type(like, value) if like is not None else None
            if dtype is None:
                dtype = DEFAULT_DTYPE if isinstance(value, (int, float)) else None
            return cls._from_op(np.asarray(value, dtype=dtype), None)
        return cls._from_op(_to_array(value, copy=False), None)

    # ------------------------------------------------------------------------------ attributes
    @property
    def grad(self) -> np.ndarray | None:
        """d(loss)/d(this tensor) after ``backward()``: an ndarray of this tensor's shape and dtype,
        added to by every backward until ``zero_grad()``; None before. Only leaves get one (tensors
        you made with ``requires_grad=True``), as in PyTorch: reading it on a tensor an op made
        warns, and ``tg.trace(keep=[name])`` keeps such intermediate gradients instead."""
        if self._grad is None and self.grad_fn is not None:
            warnings.warn(f"the .grad of a tensor made by an op ('{self.grad_fn.name}') is not filled by backward(): "
                          "only leaves (tensors made with requires_grad=True) get one. To see an intermediate "
                          "gradient, give the tensor a name (t.name = 'h') and run backward inside "
                          "`with tg.trace(keep=['h']) as tr:`, then read tr.grads['h']", UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value: np.ndarray | None) -> None:
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        """Whether ops on this tensor are recorded and ``backward()`` fills its ``.grad``."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value:
            _check_can_require_grad(self.data.dtype)
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` in place and return this tensor (PyTorch's spelling), e.g.
        ``w = tg.randn(3, 4).requires_grad_()``."""
        self.requires_grad = requires_grad
        return self

    @property
    def shape(self) -> tuple[int, ...]:
        """The size of each axis, as NumPy's ``ndarray.shape`` (PyTorch's ``.shape``)."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        """The NumPy dtype of ``.data`` (float32 by default)."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """The number of axes (0 for a scalar, such as a loss)."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """The number of values: the product of the shape (NumPy's ``.size``, PyTorch's ``numel()``)."""
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (not by an op that is being recorded)."""
        return self.grad_fn is None

    @property
    def T(self) -> "Tensor":
        """All axes reversed, as NumPy's ``.T``."""
        return Transpose.apply(self, axes=None)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(", threshold=200)
        extras = [] if self.dtype == DEFAULT_DTYPE else [f"dtype={self.dtype}"]
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def _repr_html_(self) -> str:
        """How Jupyter shows a tensor: its shape, dtype and role in the graph, its values and its
        gradient."""
        role = (f"made by <code>{html.escape(self.grad_fn.name)}</code>" if self.grad_fn is not None
                else "a leaf that requires grad" if self.requires_grad else "a constant")
        name = f"<b>{html.escape(self.name)}</b> " if self.name else ""
        values = html.escape(np.array2string(self.data, separator=", ", threshold=60, precision=4))
        parts = [f"<div>{name}tensor {self.shape} {self.dtype}, {role}</div><pre>{values}</pre>"]
        if self._grad is not None:
            grad = html.escape(np.array2string(self._grad, separator=", ", threshold=60, precision=4))
            parts.append(f"<div>grad</div><pre>{grad}</pre>")
        return "".join(parts)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        # lets np.asarray(t), plt.plot(t) etc. see the values (without the graph)
        return self.data if dtype is None else self.data.astype(dtype)

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise InputError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or .all()"
            )
        return bool(self.data)

    def __hash__(self) -> int:  # comparisons are elementwise, so hash by identity (as PyTorch)
        return id(self)

    def item(self) -> float | int | bool:
        """The single value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise InputError(f"item: only one-element tensors can be converted, got shape {self.shape}")
        return self.data.item()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def tolist(self) -> Any:
        """The values as nested Python lists (a Python number for a 0-d tensor)."""
        return self.data.tolist()

    def detach(self) -> "Tensor":
        """A new leaf sharing the same data, cut from the graph (no grad)."""
        return Tensor._from_op(self.data, None)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``.grad = None``)."""
        self.grad = None

    def backward(self, grad: ArrayLike | None = None, retain_graph: bool = False) -> None:
        """Compute d(self)/d(leaf) for every leaf with ``requires_grad`` and add it into ``leaf.grad``.

        Args:
            grad: d(loss)/d(self). May be omitted only for a one-element tensor (a loss);
                otherwise it must have this tensor's shape.
            retain_graph: keep the arrays saved for backward so backward can run again through
                the same graph. By default they are freed, and a second backward raises.
        """
        if not self._requires_grad:
            raise GraphError(
                "backward: this tensor does not require grad and has no grad_fn: none of the tensors "
                "it was computed from has requires_grad=True (or it was computed under no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise GraphError(
                    f"backward: grad can be omitted only for a one-element output (a loss), this "
                    f"tensor has shape {self.shape}; pass backward(grad=...) of that shape"
                )
            grad_array = np.ones(self.data.shape, self.data.dtype)  # d loss / d loss = 1
        else:
            grad_array = np.array(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if grad_array.shape != self.shape:
                raise InputError(
                    f"backward: grad has shape {grad_array.shape} but the tensor has shape {self.shape}"
                )
        autograd.backward_graph(self, grad_array, retain_graph=retain_graph)

    def astype(self, dtype: Any) -> "Tensor":
        """A copy converted to ``dtype``; the gradient is converted back to this tensor's dtype."""
        return Cast.apply(self, dtype=np.dtype(dtype))

    # -------------------------------------------------------------------------- arithmetic
    def __add__(self, other: ArrayLike) -> "Tensor":
        return Add.apply(self, other)

    def __radd__(self, other: ArrayLike) -> "Tensor":
        return Add.apply(other, self)

    def __sub__(self, other: ArrayLike) -> "Tensor":
        return Sub.apply(self, other)

    def __rsub__(self, other: ArrayLike) -> "Tensor":
        return Sub.apply(other, self)

    def __mul__(self, other: ArrayLike) -> "Tensor":
        return Mul.apply(self, other)

    def __rmul__(self, other: ArrayLike) -> "Tensor":
        return Mul.apply(other, self)

    def __truediv__(self, other: ArrayLike) -> "Tensor":
        return Div.apply(self, other)

    def __rtruediv__(self, other: ArrayLike) -> "Tensor":
        return Div.apply(other, self)

    def __pow__(self, exponent: ArrayLike) -> "Tensor":
        return Pow.apply(self, exponent)

    def __rpow__(self, base: ArrayLike) -> "Tensor":
        return Pow.apply(base, self)

    def __matmul__(self, other: ArrayLike) -> "Tensor":
        return MatMul.apply(self, other)

    def __rmatmul__(self, other: ArrayLike) -> "Tensor":
        return MatMul.apply(other, self)

    def __neg__(self) -> "Tensor":
        return Neg.apply(self)

    def __pos__(self) -> "Tensor":
        return self

    def __abs__(self) -> "Tensor":
        return Abs.apply(self)

    # In-place operators change .data directly, as `w -= lr * w.grad` does in PyTorch under no_grad.
    def _in_place(self, ufunc: np.ufunc, other: ArrayLike, symbol: str) -> "Tensor":
        if self.requires_grad and autograd.is_grad_enabled():
            raise GraphError(
                f"{symbol}: in-place change of a tensor that requires grad while the graph is being "
                "recorded; wrap parameter updates in `with tg.no_grad():`, or write `x = x "
                f"{symbol[0]} ...` to make a new tensor"
            )
        value = other.data if isinstance(other, Tensor) else other
        try:
            ufunc(self.data, value, out=self.data, casting="same_kind")
        except (ValueError, TypeError) as err:
            raise error_like(err, f"{symbol}: cannot update a tensor of shape {self.shape} "
                                  f"{self.dtype} with {np.shape(value)} {np.result_type(value)}: {err}") from err
        self._version += 1
        return self

    def __iadd__(self, other: ArrayLike) -> "Tensor":
        return self._in_place(np.add, other, "+=")

    def __isub__(self, other: ArrayLike) -> "Tensor":
        return self._in_place(np.subtract, other, "-=")

    def __imul__(self, other: ArrayLike) -> "Tensor":
        return self._in_place(np.multiply, other, "*=")

    def __itruediv__(self, other: ArrayLike) -> "Tensor":
        return self._in_place(np.true_divide, other, "/=")

    # ------------------------------------------------------------- comparisons (no gradient)
    def _compare(self, other: ArrayLike, ufunc: np.ufunc) -> "Tensor":
        value = other.data if isinstance(other, Tensor) else other
        try:
            return Tensor._from_op(ufunc(self.data, value), None)
        except (ValueError, TypeError) as err:
            raise error_like(err, f"{ufunc.__name__}: cannot compare {self.shape} {self.dtype} with "
                                  f"{np.shape(value)} {np.result_type(value)}: {err}") from err

    def __lt__(self, other: ArrayLike) -> "Tensor":
        return self._compare(other, np.less)

    def __le__(self, other: ArrayLike) -> "Tensor":
        return self._compare(other, np.less_equal)

    def __gt__(self, other: ArrayLike) -> "Tensor":
        return self._compare(other, np.greater)

    def __ge__(self, other: ArrayLike) -> "Tensor":
        return self._compare(other, np.greater_equal)

    def __eq__(self, other: ArrayLike) -> "Tensor":  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other: ArrayLike) -> "Tensor":  # type: ignore[override]
        return self._compare(other, np.not_equal)

    # -------------------------------------------------------------------------- elementwise
    def exp(self) -> "Tensor":
        """e**x elementwise."""
        return Exp.apply(self)

    def log(self) -> "Tensor":
        """Natural logarithm (log(0) = -inf, as in NumPy)."""
        return Log.apply(self)

    def sqrt(self) -> "Tensor":
        """Square root, element by element (NaN below 0, as NumPy)."""
        return Sqrt.apply(self)

    def abs(self) -> "Tensor":
        """Absolute value, element by element (its gradient at 0 is 0)."""
        return Abs.apply(self)

    def tanh(self) -> "Tensor":
        """Hyperbolic tangent, element by element."""
        return Tanh.apply(self)

    def sigmoid(self) -> "Tensor":
        """1 / (1 + e**-x), computed without overflow for any x."""
        return Sigmoid.apply(self)

    def relu(self) -> "Tensor":
        """max(x, 0)."""
        return Relu.apply(self)

    def gelu(self, approximate: str = "none") -> "Tensor":
        """x·Φ(x) (``approximate="tanh"``: the tanh approximation), as PyTorch's GELU."""
        return Gelu.apply(self, approximate=approximate)

    def clip(self, min: float | None = None, max: float | None = None) -> "Tensor":  # noqa: A002
        """Limit values to [min, max]; the gradient passes only where x was inside."""
        return Clip.apply(self, low=min, high=max)

    # ---------------------------------------------------------------------------- reductions
    def sum(self, axis: Axis = None, keepdims: bool = False) -> "Tensor":
        """Sum over every value (``axis=None``), over one axis (an int, negative from the end) or
        over several (a tuple); ``keepdims=True`` keeps the summed axes with length 1, as NumPy."""
        return Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> "Tensor":
        """Mean over every value, one axis or a tuple of axes (``axis`` and ``keepdims`` as ``sum``)."""
        return Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False) -> "Tensor":
        """Largest value over every value, one axis or a tuple of axes (``axis`` and ``keepdims``
        as ``sum``); tied maxima share the gradient equally."""
        return Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False) -> "Tensor":
        """Smallest value over every value, one axis or a tuple of axes (as ``max``); tied minima
        share the gradient equally."""
        return Min.apply(self, axis=axis, keepdims=keepdims)

    def var(self, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> "Tensor":
        """Variance over every value, one axis or a tuple of axes (``axis`` and ``keepdims`` as
        ``sum``); divides by N − ddof (NumPy's default ddof=0; PyTorch's default is 1)."""
        return Var.apply(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def argmax(self, axis: int | None = None) -> "Tensor":
        """Index of the largest value, over all values (of the flattened tensor) or along ``axis``
        (an integer tensor, no gradient)."""
        return self._arg_extreme(np.argmax, axis)

    def argmin(self, axis: int | None = None) -> "Tensor":
        """Index of the smallest value, over all values or along ``axis`` (no gradient)."""
        return self._arg_extreme(np.argmin, axis)

    def _arg_extreme(self, find: Callable[..., np.ndarray], axis: int | None) -> "Tensor":
        try:
            return Tensor._from_op(find(self.data, axis=axis), None)
        except (ValueError, TypeError, IndexError) as err:
            raise error_like(err, f"{find.__name__}: cannot apply along axis={axis} to a tensor of "
                                  f"shape {self.shape} {self.dtype}: {err}") from err

    # --------------------------------------------------------------------------------- shape
    def reshape(self, *shape: int | Sequence[int]) -> "Tensor":
        """Same data, new shape (``t.reshape(2, -1)`` or ``t.reshape((2, -1))``)."""
        if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
            shape = tuple(shape[0])  # type: ignore[arg-type]
        return Reshape.apply(self, shape=shape)

    def transpose(self, *axes: int | Sequence[int]) -> "Tensor":
        """Permute axes (no arguments: reverse them), as NumPy's ``transpose``."""
        if len(axes) == 1 and not isinstance(axes[0], numbers.Integral):
            axes = tuple(axes[0])  # type: ignore[arg-type]
        return Transpose.apply(self, axes=axes or None)

    def flatten(self, start: int = 0, end: int = -1) -> "Tensor":
        """Merge axes ``start..end`` into one (default: all, giving 1-D as NumPy's ``flatten``);
        ``x.flatten(start=1)`` turns a batch of images (N, C, H, W) into rows (N, C*H*W)."""
        shape = self.shape
        first, last = normalize_axis("flatten", start, shape), normalize_axis("flatten", end, shape)
        if first > last:
            raise InputError(f"flatten: start axis {start} comes after end axis {end} for shape {shape}")
        merged = int(np.prod(shape[first:last + 1], dtype=np.int64))
        return Reshape.apply(self, shape=shape[:first] + (merged,) + shape[last + 1:])

    def __getitem__(self, index: Any) -> "Tensor":
        # a Tensor used as an index (e.g. labels) means its values
        if isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        elif isinstance(index, Tensor):
            index = index.data
        return GetItem.apply(self, index=index)

    def __setitem__(self, index: Any, value: ArrayLike) -> None:
        if self.requires_grad and autograd.is_grad_enabled():
            raise GraphError(
                "setitem: assigning into a tensor that requires grad is not recorded by autograd; "
                "do it under tg.no_grad(), or build the values with tg.where / tg.concatenate"
            )
        value = value.data if isinstance(value, Tensor) else value
        try:
            self.data[index] = value
        except (ValueError, TypeError, IndexError) as err:
            raise error_like(err, f"setitem: cannot assign {np.shape(value)} {np.result_type(value)} "
                                  f"to [{index!r}] of a tensor of shape {self.shape} {self.dtype}: {err}") from err
        self._version += 1

    # ----------------------------------------------------------------- softmax and friends
    def softmax(self, axis: int = -1) -> "Tensor":
        """exp(x) / sum(exp(x)) along ``axis``, computed stably (max subtracted first)."""
        return Softmax.apply(self, axis=axis)

    def log_softmax(self, axis: int = -1) -> "Tensor":
        """x - log(sum(exp(x))) along ``axis``, computed stably (log-sum-exp)."""
        return LogSoftmax.apply(self, axis=axis)

    def matmul(self, other: ArrayLike) -> "Tensor":
        """``self @ other``, with NumPy's rules for 1-D operands and batch axes."""
        return MatMul.apply(self, other)


# Ops return Tensors: the engine learns the class here. (autograd.py does not import this module,
# which imports the ops, which import autograd: the layers only import downward.)
autograd.Tensor = Tensor


# ------------------------------------------------------------------------- making tensors
def mark_changed(tensor: Any) -> None:
    """Record that ``tensor.data`` was changed in place (optimizers, initialisers call this)."""
    if isinstance(tensor, Tensor):
        tensor._version += 1


def tensor(data: ArrayLike, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> Tensor:
    """Make a tensor from a number, list or ndarray (copied). See :class:`Tensor`."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def from_numpy(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """Wrap an ndarray without copying: the tensor and the array share memory."""
    t = Tensor._from_op(np.asarray(array), None)
    t.requires_grad = requires_grad
    return t


# ------------------------------------------------------------------------ functions of several tensors
def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Elementwise ``a`` where ``condition`` is true, else ``b`` (broadcasting, as ``np.where``)."""
    if isinstance(condition, Tensor):
        condition = condition.data
    return Where.apply(condition, a, b)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise larger of ``a`` and ``b`` (ties split the gradient)."""
    return Maximum.apply(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise smaller of ``a`` and ``b`` (ties split the gradient)."""
    return Minimum.apply(a, b)


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis, as ``np.concatenate``."""
    return Concatenate.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along a new axis, as ``np.stack``."""
    return Stack.apply(*tensors, axis=axis)
