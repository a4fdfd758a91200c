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
from collections import namedtuple
import warnings
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from . import autograd
from .errors import GraphError, InputError, InputTypeError, error_like
from .speed import parallel
from .ops._args import normalize_axis
from .ops.elementwise import (
    Abs, Add, Cast, Clip, Cos, Div, Exp, Gelu, Log, Maximum, Minimum, Mul, Neg, Pow, Relu, Sigmoid, Sin,
    Sqrt, Sub, Tanh, Where,
)
from .ops.matmul import MatMul
from .ops.reduce import CumSum, LogSumExp, Max, Mean, Min, Norm, Sum, Var
from .ops.shape import (
    Concatenate, Expand, Gather, GetItem, IndexSelect, Repeat, Reshape, ScatterAdd, Stack, Transpose, Triangle,
)
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
    """Apply the dtype policy: Python floats (and lists with one) become float32, Python ints
    int64 and bools bool, as PyTorch; ndarrays keep their dtype."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):
        array = np.array(data, dtype=dtype, copy=copy) if (copy or dtype is not None) else data
        return _numeric(np.asarray(array), data)
    array = np.array(data, dtype=dtype)
    if dtype is None and array.dtype.kind == "f":
        array = array.astype(DEFAULT_DTYPE)
    elif dtype is None and array.dtype.kind in "iu":
        array = array.astype(np.int64, copy=False)
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
        data: array-like. Python floats (and lists holding one) become float32, Python ints int64
            (labels, indices), bools bool, as PyTorch; a NumPy array keeps its dtype (float64 is
            how gradient checks run).
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
    __slots__ = ("data", "_grad", "_requires_grad", "grad_fn", "name", "_version", "_hooks", "__weakref__")

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
        self._hooks: list | None = None  # a leaf's gradient hooks (register_hook)
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
        t._hooks = None
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
        if self._grad is None and self.grad_fn is not None and not self.retains_grad:
            warnings.warn(f"the .grad of a tensor made by an op ('{self.grad_fn.name}') is not filled by backward(): "
                          "only leaves (tensors made with requires_grad=True) get one. To see an intermediate "
                          "gradient, give the tensor a name (t.name = 'h') and run backward inside "
                          "`with tg.trace(keep=['h']) as tr:`, then read tr.grads['h']", UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value: np.ndarray | None) -> None:
        self._grad = value.data if isinstance(value, Tensor) else value  # (p.grad = tensor, as in PyTorch)

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

    # NumPy's functions on tensors record tensorgrad's ops: np.exp(t) is t.exp() (numpy_protocol.py)
    # (imported when first used: numpy_protocol builds on this module)
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        from . import numpy_protocol
        return numpy_protocol.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
        from . import numpy_protocol
        return numpy_protocol.array_function(func, args, kwargs)

    # DLPack: torch.tensor(t), torch.as_tensor(t) (shares memory), np.from_dlpack(t)
    def __dlpack__(self, **kwargs: Any) -> Any:
        return self.data.__dlpack__(**kwargs)

    def __dlpack_device__(self) -> tuple[int, int]:
        return self.data.__dlpack_device__()

    # Pickling keeps the values, the gradient, requires_grad and the name; not the graph (a
    # tensor made by an op comes back as a leaf), as torch.save does.
    def __getstate__(self) -> dict:
        return {"data": self.data, "grad": self._grad, "requires_grad": self._requires_grad, "name": self.name}

    def __setstate__(self, state: dict) -> None:
        self.data, self._grad, self.name = state["data"], state["grad"], state["name"]
        self._requires_grad, self.grad_fn, self._version, self._hooks = state["requires_grad"], None, 0, None

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

    def backward(self, grad: ArrayLike | None = None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        """Compute d(self)/d(leaf) for every leaf with ``requires_grad`` and add it into ``leaf.grad``.

        Args:
            grad: d(loss)/d(self). May be omitted only for a one-element tensor (a loss);
                otherwise it must have this tensor's shape.
            retain_graph: keep the arrays saved for backward so backward can run again through
                the same graph. By default they are freed (kept with create_graph), and a second
                backward raises.
            create_graph: record the backward pass itself, as PyTorch: each ``leaf.grad`` is then
                a Tensor with a graph of its own, to differentiate again (gradients of gradients).
        """
        parallel.follow_load()  # under set_num_threads("auto"): fewer BLAS threads while the CPUs are busy
        if grad is None and not create_graph and self._requires_grad and self.data.size == 1:
            seed = np.ones(self.data.shape, self.data.dtype)  # a loss: d loss / d loss = 1 (the common case)
        else:
            seed = Tensor._seed_gradient(self, grad, "backward", create_graph)
        autograd.backward_graph(self, seed, retain_graph=create_graph if retain_graph is None else retain_graph,
                                create_graph=create_graph)

    @staticmethod
    def _seed_gradient(output: "Tensor", grad: ArrayLike | None, op: str, create_graph: bool = False) -> Any:
        """The gradient a backward pass starts from at ``output``: ``grad``, checked, or 1 for a
        loss; a Tensor when the backward is recorded (a ``grad`` that requires grad stays itself)."""
        if create_graph:
            if isinstance(grad, Tensor) and grad.requires_grad:
                if grad.shape != output.shape:
                    raise InputError(f"{op}: grad has shape {grad.shape} but the tensor has shape {output.shape}")
                return grad
            return Tensor._from_op(Tensor._seed_gradient(output, grad, op), None)
        if not isinstance(output, Tensor) or not output._requires_grad:
            raise GraphError(
                f"{op}: this tensor does not require grad and has no grad_fn: none of the tensors "
                "it was computed from has requires_grad=True (or it was computed under no_grad())"
            )
        if grad is None:
            if output.data.size != 1:
                raise GraphError(
                    f"{op}: grad can be omitted only for a one-element output (a loss), this "
                    f"tensor has shape {output.shape}; pass backward(grad=...) of that shape"
                )
            return np.ones(output.data.shape, output.data.dtype)  # d loss / d loss = 1
        grad_array = np.array(grad.data if isinstance(grad, Tensor) else grad, dtype=output.dtype)
        if grad_array.shape != output.shape:
            raise InputError(f"{op}: grad has shape {grad_array.shape} but the tensor has shape {output.shape}")
        return grad_array

    def register_hook(self, hook: Callable[[np.ndarray], Any]) -> "RemovableHandle":
        """Call ``hook(grad)`` with this tensor's gradient during backward, once it is complete;
        if the hook returns an array, that replaces the gradient (for a leaf, before it goes into
        ``.grad``). Returns a handle whose ``remove()`` takes the hook off, as PyTorch's."""
        if not self._requires_grad:
            raise GraphError("register_hook: this tensor does not require grad, so no gradient will reach it")
        if self.grad_fn is not None:  # on the node, which backward visits (the tensor may be gone by then)
            self.grad_fn.output_hooks = [*self.grad_fn.output_hooks, hook]
            return RemovableHandle(self.grad_fn, "output_hooks", hook)
        self._hooks = [*(self._hooks or ()), hook]
        return RemovableHandle(self, "_hooks", hook)

    def retain_grad(self) -> None:
        """Fill ``.grad`` of this tensor made by an op during backward, as a leaf's (PyTorch's
        ``retain_grad``): makemore's "backprop ninja" checks every intermediate gradient this way."""
        if self.grad_fn is None or self.retains_grad:
            return  # a leaf gets its .grad anyway
        self.register_hook(_RetainGrad(self))

    @property
    def retains_grad(self) -> bool:
        """Whether ``retain_grad()`` was called on this tensor made by an op."""
        return self.grad_fn is not None and any(isinstance(h, _RetainGrad) and h.tensor() is self
                                                for h in self.grad_fn.output_hooks)

    def astype(self, dtype: Any) -> "Tensor":
        """A copy converted to ``dtype``; the gradient is converted back to this tensor's dtype."""
        return Cast.apply(self, dtype=np.dtype(dtype))

    # -------------------------------------------------------------------------- arithmetic
    # (_promoted: an integer tensor next to floats is converted first, see its docstring)
    def __add__(self, other: ArrayLike) -> "Tensor":
        return Add.apply(*_promoted(self, other))

    def __radd__(self, other: ArrayLike) -> "Tensor":
        return Add.apply(*_promoted(other, self))

    def __sub__(self, other: ArrayLike) -> "Tensor":
        return Sub.apply(*_promoted(self, other))

    def __rsub__(self, other: ArrayLike) -> "Tensor":
        return Sub.apply(*_promoted(other, self))

    def __mul__(self, other: ArrayLike) -> "Tensor":
        return Mul.apply(*_promoted(self, other))

    def __rmul__(self, other: ArrayLike) -> "Tensor":
        return Mul.apply(*_promoted(other, self))

    def __truediv__(self, other: ArrayLike) -> "Tensor":
        return Div.apply(*_promoted(self, other, divide=True))

    def __rtruediv__(self, other: ArrayLike) -> "Tensor":
        return Div.apply(*_promoted(other, self, divide=True))

    def __pow__(self, exponent: ArrayLike) -> "Tensor":
        return Pow.apply(*_promoted(self, exponent))

    def __rpow__(self, base: ArrayLike) -> "Tensor":
        return Pow.apply(*_promoted(base, self))

    def __matmul__(self, other: ArrayLike) -> "Tensor":
        return MatMul.apply(*_promoted(self, other))

    def __rmatmul__(self, other: ArrayLike) -> "Tensor":
        return MatMul.apply(*_promoted(other, self))

    def __neg__(self) -> "Tensor":
        return Neg.apply(self)

    def __pos__(self) -> "Tensor":
        return self

    def __abs__(self) -> "Tensor":
        return Abs.apply(self)

    # In-place operators change .data directly, as `w -= lr * w.grad` does in PyTorch under no_grad.
    def _in_place(self, ufunc: np.ufunc, other: ArrayLike, symbol: str) -> "Tensor":
        if self.grad_fn is not None and autograd.is_grad_enabled():
            # a tensor made by an op: `x *= y` makes a new tensor x, recorded as `x = x * y` (the
            # backward code of the ops, run on tensors for create_graph, updates its temporaries so)
            return _IN_PLACE_AS_OP[symbol](self, other)
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

    def __iter__(self) -> Any:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

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

    def clamp(self, min: float | None = None, max: float | None = None) -> "Tensor":  # noqa: A002
        """PyTorch's name for ``clip``."""
        return Clip.apply(self, low=min, high=max)

    def sin(self) -> "Tensor":
        """Sine, element by element (radians)."""
        return Sin.apply(self)

    def cos(self) -> "Tensor":
        """Cosine, element by element (radians)."""
        return Cos.apply(self)

    def pow(self, exponent: ArrayLike) -> "Tensor":
        """``self ** exponent``."""
        return self ** exponent

    # ---------------------------------------------------------------------------- reductions
    # NumPy's axis= / keepdims= and PyTorch's dim= / keepdim= are both accepted (_axis_arguments).
    def sum(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
            keepdim: bool | None = None) -> "Tensor":
        """Sum over every value (``axis=None``), over one axis (an int, negative from the end) or
        over several (a tuple); ``keepdims=True`` keeps the summed axes with length 1, as NumPy.
        PyTorch's ``dim=`` / ``keepdim=`` mean the same."""
        axis, keepdims = _axis_arguments("sum", axis, keepdims, dim, keepdim)
        return Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
             keepdim: bool | None = None) -> "Tensor":
        """Mean over every value, one axis or a tuple of axes (``axis``/``dim`` and
        ``keepdims``/``keepdim`` as ``sum``)."""
        axis, keepdims = _axis_arguments("mean", axis, keepdims, dim, keepdim)
        return Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False, *, dim: int | None = None,
            keepdim: bool | None = None) -> Any:
        """Largest value over every value, one axis or a tuple of axes, NumPy-like: ``x.max(axis=1)``
        is a tensor, and tied maxima share the gradient equally.

        With PyTorch's spelling, ``x.max(dim=1)`` (or ``keepdim=`` given), the result is PyTorch's
        pair ``(values, indices)``, and the gradient goes to the index picked."""
        if dim is not None or keepdim is not None:
            return self._extreme_along("max", axis, dim, bool(keepdim))
        return Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False, *, dim: int | None = None,
            keepdim: bool | None = None) -> Any:
        """Smallest value, as ``max``: a tensor with ``axis=``, the pair ``(values, indices)``
        with ``dim=``."""
        if dim is not None or keepdim is not None:
            return self._extreme_along("min", axis, dim, bool(keepdim))
        return Min.apply(self, axis=axis, keepdims=keepdims)

    def _extreme_along(self, op: str, axis: Any, dim: Any, keepdim: bool) -> "ValuesIndices":
        axis, _ = _axis_arguments(op, axis, False, dim, None)
        if not isinstance(axis, (int, np.integer)):
            raise InputError(f"{op}: dim= must be one axis (an int) to return (values, indices), got {axis!r}")
        indices = (self.argmax if op == "max" else self.argmin)(axis, keepdims=True)
        values = self.gather(axis, indices)
        if not keepdim:
            values, indices = values.squeeze(axis), indices.squeeze(axis)
        return ValuesIndices(values, indices)

    def var(self, axis: Axis = None, keepdims: bool = False, ddof: int | None = None, *, dim: Axis = None,
            keepdim: bool | None = None, unbiased: bool | None = None, correction: int | None = None) -> "Tensor":
        """Variance over every value, one axis or a tuple of axes (``axis``/``dim`` and
        ``keepdims``/``keepdim`` as ``sum``); divides by N − ddof. NumPy's default is ddof=0;
        PyTorch's, used when ``dim=`` is given, is 1 (``unbiased=``/``correction=`` also accepted)."""
        axis, keepdims = _axis_arguments("var", axis, keepdims, dim, keepdim)
        return Var.apply(self, axis=axis, keepdims=keepdims, ddof=_ddof(ddof, unbiased, correction, dim))

    def std(self, axis: Axis = None, keepdims: bool = False, ddof: int | None = None, *, dim: Axis = None,
            keepdim: bool | None = None, unbiased: bool | None = None, correction: int | None = None) -> "Tensor":
        """Standard deviation, the square root of ``var`` (same arguments and defaults)."""
        return self.var(axis, keepdims, ddof, dim=dim, keepdim=keepdim, unbiased=unbiased, correction=correction).sqrt()

    def logsumexp(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
                  keepdim: bool | None = None) -> "Tensor":
        """log(sum(exp(x))) over the axes, computed stably (the maximum taken out first)."""
        axis, keepdims = _axis_arguments("logsumexp", axis, keepdims, dim, keepdim)
        return LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    def norm(self, p: Any = 2, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
             keepdim: bool | None = None) -> "Tensor":
        """The p-norm over every value or over axes: p=2 (or "fro", the default) the Euclidean
        norm, p=1 the sum of absolute values, p=inf the largest absolute value."""
        axis, keepdims = _axis_arguments("norm", axis, keepdims, dim, keepdim)
        if p in (2, "fro"):
            return Norm.apply(self, axis=axis, keepdims=keepdims)
        if p == 1:
            return self.abs().sum(axis, keepdims)
        if p == float("inf"):
            return self.abs().max(axis, keepdims)
        if isinstance(p, numbers.Real) and p > 0:
            return (self.abs() ** p).sum(axis, keepdims) ** (1.0 / p)
        raise InputError(f"norm: p must be a positive number, inf or 'fro', got {p!r}")

    def cumsum(self, axis: int | None = None, *, dim: int | None = None) -> "Tensor":
        """Running sum along an axis (no axis: over the flattened values, as NumPy)."""
        axis, _ = _axis_arguments("cumsum", axis, False, dim, None)
        if axis is None:
            return CumSum.apply(self.reshape(-1), axis=0)
        return CumSum.apply(self, axis=axis)

    def argmax(self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
               keepdim: bool | None = None) -> "Tensor":
        """Index of the largest value, over all values (of the flattened tensor) or along ``axis``
        (an int64 tensor, no gradient)."""
        axis, keepdims = _axis_arguments("argmax", axis, keepdims, dim, keepdim)
        return self._arg_extreme(np.argmax, axis, keepdims)

    def argmin(self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
               keepdim: bool | None = None) -> "Tensor":
        """Index of the smallest value, over all values or along ``axis`` (no gradient)."""
        axis, keepdims = _axis_arguments("argmin", axis, keepdims, dim, keepdim)
        return self._arg_extreme(np.argmin, axis, keepdims)

    def _arg_extreme(self, find: Callable[..., np.ndarray], axis: int | None, keepdims: bool = False) -> "Tensor":
        try:
            return Tensor._from_op(np.asarray(find(self.data, axis=axis, keepdims=keepdims), dtype=np.int64), None)
        except (ValueError, TypeError, IndexError) as err:
            raise error_like(err, f"{find.__name__}: cannot apply along axis={axis} to a tensor of "
                                  f"shape {self.shape} {self.dtype}: {err}") from err

    def sort(self, dim: int = -1, descending: bool = False, *, axis: int | None = None) -> "ValuesIndices":
        """The values sorted along ``dim`` and where each came from, PyTorch's ``(values, indices)``;
        the gradient of the values goes back to those positions."""
        dim = _axis_arguments("sort", axis, False, dim, None)[0]
        indices = self.argsort(dim, descending)
        return ValuesIndices(self.gather(dim, indices), indices)

    def argsort(self, dim: int = -1, descending: bool = False, *, axis: int | None = None) -> "Tensor":
        """The indices that sort the values along ``dim`` (int64, no gradient)."""
        dim = _axis_arguments("argsort", axis, False, dim, None)[0]
        order = np.argsort(self.data, axis=normalize_axis("argsort", dim, self.shape), kind="stable")
        return Tensor._from_op(np.flip(order, dim).copy() if descending else order, None)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> "ValuesIndices":  # noqa: A002
        """The ``k`` largest (or smallest) values along ``dim`` and their indices, PyTorch's
        ``(values, indices)``, largest first."""
        dim = normalize_axis("topk", dim, self.shape)
        if not 0 <= k <= (self.shape[dim] if self.ndim else 1):
            raise InputError(f"topk: k={k} is out of range for axis {dim} of shape {self.shape}")
        order = self.argsort(dim, descending=largest).data
        indices = Tensor._from_op(np.take(order, np.arange(k), axis=dim), None)
        return ValuesIndices(self.gather(dim, indices), indices)

    # --------------------------------------------------------------------------------- shape
    def reshape(self, *shape: int | Sequence[int]) -> "Tensor":
        """Same data, new shape (``t.reshape(2, -1)`` or ``t.reshape((2, -1))``)."""
        return Reshape.apply(self, shape=_dims(shape))

    def view(self, *shape: int | Sequence[int]) -> "Tensor":
        """PyTorch's name for ``reshape``: ``x.view(-1, 784)``."""
        return Reshape.apply(self, shape=_dims(shape))

    def transpose(self, *axes: int | Sequence[int]) -> "Tensor":
        """Permute axes. No arguments: reverse them (NumPy's ``x.transpose()``, ``x.T``); two axes:
        swap those two (PyTorch's ``x.transpose(1, 2)``, on any rank); all the axes: that
        permutation (NumPy's ``x.transpose(0, 2, 1)``)."""
        axes = _dims(axes)
        if len(axes) == 2 and self.ndim != 2:
            first, second = (normalize_axis("transpose", ax, self.shape) for ax in axes)
            order = list(range(self.ndim))
            order[first], order[second] = second, first
            axes = tuple(order)
        elif len(axes) == 2 and normalize_axis("transpose", axes[0], self.shape) != normalize_axis("transpose", axes[1], self.shape):
            axes = (1, 0)  # a matrix: swapping its two axes (PyTorch) and permuting them (NumPy) agree
        return Transpose.apply(self, axes=axes or None)

    def permute(self, *dims: int | Sequence[int]) -> "Tensor":
        """The axes in the order given (PyTorch's ``x.permute(0, 2, 3, 1)``)."""
        return Transpose.apply(self, axes=_dims(dims))

    def flatten(self, start: int = 0, end: int = -1, *, start_dim: int | None = None,
                end_dim: int | None = None) -> "Tensor":
        """Merge axes ``start..end`` into one (default: all, giving 1-D as NumPy's ``flatten``);
        ``x.flatten(start=1)`` (PyTorch: ``start_dim=1``) turns a batch of images (N, C, H, W)
        into rows (N, C*H*W)."""
        start = start if start_dim is None else start_dim
        end = end if end_dim is None else end_dim
        shape = self.shape
        if not shape:
            return Reshape.apply(self, shape=(1,))
        first, last = normalize_axis("flatten", start, shape), normalize_axis("flatten", end, shape)
        if first > last:
            raise InputError(f"flatten: start axis {start} comes after end axis {end} for shape {shape}")
        merged = int(np.prod(shape[first:last + 1], dtype=np.int64))
        return Reshape.apply(self, shape=shape[:first] + (merged,) + shape[last + 1:])

    def unsqueeze(self, dim: int) -> "Tensor":
        """A new axis of length 1 at position ``dim`` (negative: from the end of the new shape)."""
        axis = normalize_axis("unsqueeze", dim, self.shape + (1,))
        return Reshape.apply(self, shape=self.shape[:axis] + (1,) + self.shape[axis:])

    def squeeze(self, dim: Axis = None, *, axis: Axis = None) -> "Tensor":
        """Drop axes of length 1: all of them, or those named by ``dim`` (an axis of another
        length is left as it is, as PyTorch)."""
        dim = _axis_arguments("squeeze", axis, False, dim, None)[0]
        named = range(self.ndim) if dim is None else [
            normalize_axis("squeeze", ax, self.shape) for ax in (dim if isinstance(dim, (tuple, list)) else (dim,))]
        drop = {ax for ax in named if self.shape[ax] == 1}
        return Reshape.apply(self, shape=tuple(n for ax, n in enumerate(self.shape) if ax not in drop))

    def expand(self, *sizes: int | Sequence[int]) -> "Tensor":
        """Repeat along axes of length 1 (and new leading axes) without copying, as broadcasting
        does; -1 keeps an axis's size: ``x.expand(32, -1)`` for x of shape (1, 10)."""
        sizes = _dims(sizes)
        own = (None,) * (len(sizes) - self.ndim) + self.shape
        return Expand.apply(self, shape=tuple(n if n != -1 else own[k] for k, n in enumerate(sizes)))

    def expand_as(self, other: "Tensor") -> "Tensor":
        """``expand`` to ``other``'s shape."""
        return Expand.apply(self, shape=other.shape)

    def repeat(self, *repeats: int | Sequence[int]) -> "Tensor":
        """Copies along each axis, PyTorch's ``repeat`` (NumPy's ``tile``): ``x.repeat(2, 1)``."""
        return Repeat.apply(self, repeats=_dims(repeats))

    def split(self, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple["Tensor", ...]:
        """Pieces along ``dim``, as PyTorch's ``split``: an int is each piece's size (the last may
        be smaller), a list the sizes of the pieces."""
        axis = normalize_axis("split", dim, self.shape)
        length = self.shape[axis]
        if isinstance(split_size_or_sections, numbers.Integral):
            if split_size_or_sections <= 0:
                raise InputError(f"split: the piece size must be positive, got {split_size_or_sections}")
            sizes = [min(split_size_or_sections, length - k) for k in range(0, length, split_size_or_sections)]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != length:
                raise InputError(f"split: sizes {sizes} add up to {sum(sizes)}, not to the length {length} of axis {axis}")
        ends = np.cumsum([0] + sizes)
        before = (slice(None),) * axis
        return tuple(self[before + (slice(int(a), int(b)),)] for a, b in zip(ends[:-1], ends[1:]))

    def chunk(self, chunks: int, dim: int = 0) -> tuple["Tensor", ...]:
        """``chunks`` pieces of equal size along ``dim`` (the last may be smaller), as PyTorch."""
        if chunks <= 0:
            raise InputError(f"chunk: the number of chunks must be positive, got {chunks}")
        length = self.shape[normalize_axis("chunk", dim, self.shape)]
        return self.split(max(-(-length // chunks), 1), dim)

    def gather(self, dim: int, index: ArrayLike) -> "Tensor":
        """``out[i][j] = self[i][index[i][j]]`` for dim=1 (any rank): picks one value per index
        along ``dim``, as PyTorch's ``gather`` (NumPy's ``take_along_axis``)."""
        return Gather.apply(self, _index_constant(index), axis=dim)

    def scatter_add(self, dim: int, index: ArrayLike, src: ArrayLike) -> "Tensor":
        """A copy with ``src`` added at the positions ``index`` names along ``dim`` (repeated
        positions add up), as PyTorch's ``scatter_add``."""
        return ScatterAdd.apply(self, _index_constant(index), src, axis=dim)

    def index_select(self, dim: int, index: ArrayLike) -> "Tensor":
        """The entries at positions ``index`` (1-D integers) along ``dim``."""
        return IndexSelect.apply(self, _index_constant(index), axis=dim)

    def masked_fill(self, mask: ArrayLike, value: float) -> "Tensor":
        """``value`` where ``mask`` is true, this tensor elsewhere (the gradient flows only where
        the mask is false): ``scores.masked_fill(causal == 0, float("-inf"))``."""
        mask_array = np.asarray(mask.data if isinstance(mask, Tensor) else mask, dtype=bool)
        return Where.apply(mask_array, np.asarray(value, dtype=self.dtype), self)

    def tril(self, diagonal: int = 0) -> "Tensor":
        """The lower triangle of the last two axes (the rest zero), as ``np.tril``."""
        return Triangle.apply(self, upper=False, diagonal=diagonal)

    def triu(self, diagonal: int = 0) -> "Tensor":
        """The upper triangle of the last two axes (the rest zero), as ``np.triu``."""
        return Triangle.apply(self, upper=True, diagonal=diagonal)

    # ------------------------------------------------------------- PyTorch's sizes and dtypes
    @property
    def size(self) -> "Size":
        """The number of values, NumPy's ``.size``; also callable as PyTorch's ``size()``: ``t.size()``
        is the shape and ``t.size(1)`` the length of axis 1."""
        return Size(self.data.size, self.data.shape)

    def dim(self) -> int:
        """The number of axes (PyTorch's name for ``ndim``)."""
        return self.data.ndim

    def numel(self) -> int:
        """The number of values (PyTorch's name for ``size``)."""
        return self.data.size

    def float(self) -> "Tensor":
        """A float32 copy (the gradient comes back in this tensor's dtype)."""
        return self.astype(np.float32)

    def double(self) -> "Tensor":
        """A float64 copy."""
        return self.astype(np.float64)

    def long(self) -> "Tensor":
        """An int64 copy (no gradient)."""
        return self.astype(np.int64)

    def int(self) -> "Tensor":
        """An int32 copy (no gradient)."""
        return self.astype(np.int32)

    def bool(self) -> "Tensor":
        """A bool copy (no gradient)."""
        return self.astype(np.bool_)

    def to(self, *args: Any, dtype: Any = None, **kwargs: Any) -> "Tensor":
        """PyTorch's ``to``: ``t.to(np.float64)`` / ``t.to(dtype=tg.float64)`` converts; a device
        (``"cpu"``) is accepted and changes nothing, since tensorgrad runs on the CPU."""
        device = kwargs.pop("device", "cpu")
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.dtype
            elif isinstance(arg, str) and arg.split(":")[0] in ("cpu", "cuda", "mps", "xpu", "meta"):
                device = arg
            else:
                dtype = arg
        if str(device).split(":")[0] != "cpu" or set(kwargs) - {"non_blocking", "copy"}:
            raise InputError(f"to: tensorgrad runs on the CPU with NumPy; got device={device!r} {kwargs or ''}")
        if dtype is None or np.dtype(dtype) == self.dtype:
            return self
        return self.astype(dtype)

    def clone(self) -> "Tensor":
        """A copy that stays in the graph (the gradient passes through)."""
        return Cast.apply(self, dtype=self.dtype)

    def contiguous(self) -> "Tensor":
        """This tensor (PyTorch's memory layout call; NumPy copies where it must by itself)."""
        return self

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
    def softmax(self, axis: int = -1, *, dim: int | None = None) -> "Tensor":
        """exp(x) / sum(exp(x)) along ``axis`` (or ``dim``), computed stably (max subtracted first)."""
        return Softmax.apply(self, axis=_axis_arguments("softmax", axis if dim is None else None, False, dim, None)[0])

    def log_softmax(self, axis: int = -1, *, dim: int | None = None) -> "Tensor":
        """x - log(sum(exp(x))) along ``axis`` (or ``dim``), computed stably (log-sum-exp)."""
        return LogSoftmax.apply(self, axis=_axis_arguments("log_softmax", axis if dim is None else None, False, dim, None)[0])

    def matmul(self, other: ArrayLike) -> "Tensor":
        """``self @ other``, with NumPy's rules for 1-D operands and batch axes."""
        return MatMul.apply(self, other)


class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` takes the hook off again."""

    def __init__(self, owner: Any, attribute: str, hook: Any) -> None:
        # a tensor or node weakly (the handle must not keep a graph alive); a module's dict of hooks as it is
        self.owner = (lambda: owner) if isinstance(owner, dict) else weakref.ref(owner)
        self.attribute, self.hook = attribute, hook

    def remove(self) -> None:
        owner = self.owner()
        if isinstance(owner, dict):
            owner[self.attribute] = [h for h in owner[self.attribute] if h is not self.hook]
        elif owner is not None:
            setattr(owner, self.attribute, [h for h in getattr(owner, self.attribute, []) if h is not self.hook])


class _RetainGrad:
    """The hook behind ``retain_grad()``: adds the complete gradient into the tensor's ``.grad``."""

    def __init__(self, tensor: "Tensor") -> None:
        self.tensor = weakref.ref(tensor)  # (no cycle: the node holds this hook)

    def __call__(self, grad: np.ndarray) -> None:
        tensor = self.tensor()
        if tensor is not None:
            tensor._grad = grad.copy() if tensor._grad is None else tensor._grad + grad


class Size(int):
    """A tensor's number of values (an int, NumPy's ``t.size``) that can also be called as
    PyTorch's ``t.size()`` (the shape) and ``t.size(d)`` (the length of axis d)."""

    shape: tuple[int, ...]

    def __new__(cls, count: int, shape: tuple[int, ...]) -> "Size":
        size = super().__new__(cls, count)
        size.shape = shape
        return size

    def __call__(self, dim: int | None = None) -> Any:
        if dim is None:
            return self.shape
        return self.shape[normalize_axis("size", dim, self.shape)]


#: PyTorch's result of ``max(dim=)``, ``min(dim=)``, ``sort`` and ``topk``: ``.values`` and ``.indices``
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def _axis_arguments(op: str, axis: Any, keepdims: bool, dim: Any, keepdim: bool | None) -> tuple[Any, bool]:
    """NumPy's ``axis=``/``keepdims=`` or PyTorch's ``dim=``/``keepdim=``, as one (axis, keepdims)."""
    if dim is not None:
        if axis is not None and axis != dim:
            raise InputError(f"{op}: give axis= (NumPy) or dim= (PyTorch), not both (got axis={axis}, dim={dim})")
        axis = tuple(dim) if isinstance(dim, list) else dim
    if keepdim is not None:
        keepdims = keepdim
    return axis, bool(keepdims)


def _ddof(ddof: int | None, unbiased: bool | None, correction: int | None, dim: Any) -> int:
    """var/std's divisor N − ddof: NumPy's ddof=0 by default, PyTorch's 1 when called with dim=."""
    if correction is not None:
        return int(correction)
    if unbiased is not None:
        return int(bool(unbiased))
    if ddof is not None:
        return int(ddof)
    return 1 if dim is not None else 0


def _dims(dims: tuple) -> tuple:
    """A shape or axes given as ``f(2, 3)`` or ``f((2, 3))``."""
    if len(dims) == 1 and not isinstance(dims[0], numbers.Integral):
        return tuple(dims[0])
    return dims


def _index_constant(index: ArrayLike) -> "Tensor":
    """An index (a Tensor, list or array of integers) as a constant int64 Tensor."""
    array = np.asarray(index.data if isinstance(index, Tensor) else index)
    if array.dtype.kind in "iu" and array.dtype != np.int64:
        array = array.astype(np.int64)
    return Tensor._from_op(array, None)


_IN_PLACE_AS_OP = {"+=": lambda a, b: a + b, "-=": lambda a, b: a - b, "*=": lambda a, b: a * b,
                   "/=": lambda a, b: a / b}


def _promoted(a: Any, b: Any, divide: bool = False) -> tuple[Any, Any]:
    """The operands of a binary op, with PyTorch's rule for integer tensors (and integer
    ndarrays): next to a float tensor they take its dtype, next to a Python float (or in a true
    division) float32, instead of NumPy's float64. Everything else promotes as NumPy does
    (float32 with float64 gives float64)."""
    if not (_is_integer_array(a) or _is_integer_array(b)):
        return a, b  # the common case: float tensors, Python numbers
    floats = [x.data.dtype if isinstance(x, Tensor) else x.dtype for x in (a, b)
              if isinstance(x, (Tensor, np.ndarray, np.generic)) and x.dtype.kind in "fc"]
    if floats:
        target = np.result_type(*floats)
    elif divide or isinstance(a, float) or isinstance(b, float):
        target = DEFAULT_DTYPE
    else:
        return a, b  # integers and bools only: NumPy's rules (int64 + int64 is int64)
    return tuple(Tensor._from_op(np.asarray(x.data if isinstance(x, Tensor) else x, dtype=target), None)
                 if _is_integer_array(x) else x for x in (a, b))  # type: ignore[return-value]


def _is_integer_array(x: Any) -> bool:
    """An integer or bool Tensor or ndarray (the operands _promoted converts)."""
    kind = type(x)
    return (kind is Tensor and x.data.dtype.kind in "biu") or (kind is np.ndarray and x.dtype.kind in "biu")


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
