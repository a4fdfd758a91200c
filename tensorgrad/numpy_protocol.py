"""NumPy's functions on tensors: ``np.exp(t)``, ``np.mean(t, axis=0)``, ``ndarray + t``.

NumPy hands a call that involves a Tensor to ``Tensor.__array_ufunc__`` (for ufuncs such as
``np.exp``, ``np.add``) or ``Tensor.__array_function__`` (for functions such as ``np.mean``,
``np.concatenate``). Here each one that tensorgrad has an op for is recorded as that op, so the
gradient flows as if the method had been called (``np.exp(t)`` is ``t.exp()``). Anything else runs
on the plain arrays, as NumPy would, when no gradient is at stake; with a tensor that requires a
gradient it is refused, naming the function, since the gradient would silently be lost.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import autograd, functions
from .errors import InputTypeError
from .ops.elementwise import Maximum, Minimum
from .tensor import Tensor, concatenate, stack, where

__all__ = ["array_ufunc", "array_function"]


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else functions.as_tensor(x)


# ufunc -> the tensorgrad spelling of the same call (recorded: it has a gradient)
UFUNCS: dict[np.ufunc, Callable[..., Tensor]] = {
    np.add: lambda a, b: _tensor(a) + b if isinstance(a, Tensor) else _tensor(b).__radd__(a),
    np.subtract: lambda a, b: _tensor(a) - b if isinstance(a, Tensor) else _tensor(b).__rsub__(a),
    np.multiply: lambda a, b: _tensor(a) * b if isinstance(a, Tensor) else _tensor(b).__rmul__(a),
    np.true_divide: lambda a, b: _tensor(a) / b if isinstance(a, Tensor) else _tensor(b).__rtruediv__(a),
    np.power: lambda a, b: _tensor(a) ** b if isinstance(a, Tensor) else _tensor(b).__rpow__(a),
    np.matmul: lambda a, b: _tensor(a) @ b if isinstance(a, Tensor) else _tensor(b).__rmatmul__(a),
    np.maximum: lambda a, b: Maximum.apply(a, b),
    np.minimum: lambda a, b: Minimum.apply(a, b),
    np.negative: lambda a: -_tensor(a),
    np.positive: lambda a: _tensor(a),
    np.exp: lambda a: _tensor(a).exp(),
    np.log: lambda a: _tensor(a).log(),
    np.sqrt: lambda a: _tensor(a).sqrt(),
    np.absolute: lambda a: _tensor(a).abs(),
    np.tanh: lambda a: _tensor(a).tanh(),
    np.sin: lambda a: _tensor(a).sin(),
    np.cos: lambda a: _tensor(a).cos(),
    np.square: lambda a: _tensor(a) * a,
    np.reciprocal: lambda a: 1.0 / _tensor(a),
}

# ufunc reductions (np.add.reduce is what np.sum runs on arrays)
REDUCTIONS: dict[np.ufunc, str] = {np.add: "sum", np.maximum: "max", np.minimum: "min"}

# ufuncs whose result has no useful gradient (steps, rounding): computed on the arrays, a constant
CONSTANT_UFUNCS = {np.sign, np.floor, np.ceil, np.rint, np.trunc, np.heaviside}


def _unwrap(value: Any) -> Any:
    """Tensors replaced by their arrays, inside lists and tuples too."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v) for v in value)
    return value


def _needs_grad(values: Any) -> bool:
    """Whether one of the values is a tensor that requires a gradient, with grad mode on."""
    if not autograd.is_grad_enabled():
        return False
    stack_ = list(values)
    while stack_:
        value = stack_.pop()
        if isinstance(value, Tensor) and value.requires_grad:
            return True
        if isinstance(value, (list, tuple)):
            stack_.extend(value)
    return False


def _refuse(name: str, suggestion: str = "") -> InputTypeError:
    return InputTypeError(
        f"{name}: tensorgrad has no op for it, so on a tensor that requires grad the gradient would be "
        f"lost. {suggestion}Use tensorgrad's ops (t.exp(), t.sum(axis=...), tg.where, ...), or compute on "
        "t.detach().numpy() if no gradient is needed")


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    """``Tensor.__array_ufunc__``: ``np.exp(t)``, ``ndarray * t``, ``np.maximum(t, 0)``."""
    out = kwargs.get("out")
    if out is not None and any(isinstance(o, Tensor) for o in out):
        raise InputTypeError(f"np.{ufunc.__name__}(..., out=tensor): writing into a tensor is not recorded by "
                             "autograd; write `x = np.exp(x)` (a new tensor), or `t += ...` under tg.no_grad()")
    if method == "__call__" and not kwargs and ufunc in UFUNCS:
        return UFUNCS[ufunc](*inputs)
    if method == "reduce" and ufunc in REDUCTIONS and set(kwargs) <= {"axis", "keepdims"} and len(inputs) == 1:
        return getattr(_tensor(inputs[0]), REDUCTIONS[ufunc])(kwargs.get("axis", 0), kwargs.get("keepdims", False))
    result = getattr(ufunc, method)(*_unwrap(inputs), **{k: _unwrap(v) for k, v in kwargs.items()})
    if out is not None:  # the result went into the caller's arrays (ndarray += tensor)
        return result
    if _needs_grad(inputs) and ufunc not in CONSTANT_UFUNCS and np.result_type(result).kind in "fc":
        raise _refuse(f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}"))
    return Tensor._from_op(np.asarray(result), None) if isinstance(result, (np.ndarray, np.generic)) else result


def _reduction(name: str) -> Callable[..., Tensor]:
    def call(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, **rest: Any) -> Any:
        if dtype is not None or out is not None or rest:
            return NotImplemented
        return getattr(_tensor(a), name)(axis, keepdims)
    return call


def _var(name: str) -> Callable[..., Tensor]:
    def call(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0, keepdims: bool = False,
             **rest: Any) -> Any:
        if dtype is not None or out is not None or rest:
            return NotImplemented
        return getattr(_tensor(a), name)(axis, keepdims, ddof)
    return call


def _dot(a: Any, b: Any, out: Any = None) -> Any:
    if out is not None:
        return NotImplemented
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return _tensor(a) * b if isinstance(a, Tensor) else _tensor(b) * a
    return _tensor(a) @ b if isinstance(a, Tensor) else _tensor(b).__rmatmul__(a)


def _expand_dims(t: Tensor, axis: Any) -> Tensor:
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    ndim = t.ndim + len(axes)
    axes = sorted(a % ndim for a in axes)
    shape = list(t.shape)
    for a in axes:
        shape.insert(a, 1)
    return t.reshape(tuple(shape))


def _flip(t: Tensor, axis: Any) -> Tensor:
    axes = range(t.ndim) if axis is None else (axis if isinstance(axis, (tuple, list)) else (axis,))
    index = [slice(None)] * t.ndim
    for a in axes:
        index[a % t.ndim] = slice(None, None, -1)
    return t[tuple(index)]


def _split(t: Tensor, indices_or_sections: Any, axis: int) -> list[Tensor]:
    length = t.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        if length % indices_or_sections:
            return NotImplemented  # (NumPy's own error)
        bounds = list(range(0, length + 1, length // indices_or_sections))
    else:
        bounds = [0, *[int(i) for i in indices_or_sections], length]
    before = (slice(None),) * (axis % t.ndim)
    return [t[before + (slice(a, b),)] for a, b in zip(bounds[:-1], bounds[1:])]


def _moveaxis(t: Tensor, source: int, destination: int) -> Tensor:
    order = [a for a in range(t.ndim) if a != source % t.ndim]
    order.insert(destination % t.ndim, source % t.ndim)
    return t.permute(order)


# NumPy function -> the same call in tensorgrad (recorded). A call the adapter cannot take (an
# out= or dtype= argument) returns NotImplemented and falls back to the plain arrays.
FUNCTIONS: dict[Callable[..., Any], Callable[..., Any]] = {
    np.sum: _reduction("sum"),
    np.mean: _reduction("mean"),
    np.max: _reduction("max"),
    np.amax: _reduction("max"),
    np.min: _reduction("min"),
    np.amin: _reduction("min"),
    np.var: _var("var"),
    np.std: _var("std"),
    np.reshape: lambda a, shape=None, **kw: _tensor(a).reshape(kw.get("newshape", shape)),
    np.ravel: lambda a: _tensor(a).reshape(-1),
    np.transpose: lambda a, axes=None: _tensor(a).transpose(*(() if axes is None else (tuple(axes),))),
    np.swapaxes: lambda a, axis1, axis2: functions.transpose(a, axis1, axis2),
    np.squeeze: lambda a, axis=None: _tensor(a).squeeze(axis),
    np.expand_dims: lambda a, axis: _expand_dims(_tensor(a), axis),
    np.flip: lambda m, axis=None: _flip(_tensor(m), axis),
    np.split: lambda ary, indices_or_sections, axis=0: _split(_tensor(ary), indices_or_sections, axis),
    np.moveaxis: lambda a, source, destination: _moveaxis(_tensor(a), source, destination),
    np.broadcast_to: lambda a, shape: _tensor(a).expand(tuple(np.atleast_1d(shape))),
    np.tile: lambda a, reps: _tensor(a).repeat(tuple(np.atleast_1d(reps))),
    np.concatenate: lambda arrays, axis=0: concatenate(arrays, axis),
    np.stack: lambda arrays, axis=0: stack(arrays, axis),
    np.where: lambda condition, *ab: where(condition, *ab) if len(ab) == 2 else NotImplemented,
    np.clip: lambda a, a_min=None, a_max=None, **kw: _tensor(a).clip(kw.get("min", a_min), kw.get("max", a_max)),
    np.cumsum: lambda a, axis=None: _tensor(a).cumsum(axis),
    np.einsum: lambda subscripts, *operands, **kw: (functions.einsum(subscripts, *operands)
                                                   if set(kw) <= {"optimize"} else NotImplemented),
    np.tril: lambda m, k=0: _tensor(m).tril(k),
    np.triu: lambda m, k=0: _tensor(m).triu(k),
    np.dot: _dot,
    np.take_along_axis: lambda arr, indices, axis: _tensor(arr).gather(axis, indices),
    np.linalg.norm: lambda x, ord=None, axis=None, keepdims=False: _tensor(x).norm(2 if ord is None else ord, axis, keepdims),
}


def array_function(func: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """``Tensor.__array_function__``: ``np.mean(t)``, ``np.concatenate([t, u])``, ``np.allclose(t, x)``."""
    adapter = FUNCTIONS.get(func)
    if adapter is not None:
        result = adapter(*args, **kwargs)
        if result is not NotImplemented:
            return result
    result = func(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()})
    if _needs_grad(args) or _needs_grad(kwargs.values()):
        floats = [r for r in (result if isinstance(result, (tuple, list)) else [result])
                  if isinstance(r, (np.ndarray, np.generic)) and r.dtype.kind in "fc"]
        if floats:
            raise _refuse(f"np.{func.__name__}")
    return result
