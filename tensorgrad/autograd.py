"""The autograd engine: the op base class, grad mode, and the backward graph walk.

Every op is a :class:`Function` subclass that shows, in one place, its ``forward`` (NumPy arrays in,
an array out), its ``backward`` (the upstream gradient in, one gradient per input out) and its
``formula`` (the derivative rule as a string -- the single source that the trace and the graph
drawing print). Calling ``SomeOp.apply(*inputs)`` runs the forward and, when any input requires a
gradient, records the op as a node of the graph.

``backward_graph`` walks that graph from a root in reverse topological order, iteratively (no
recursion: a 100,000-op chain works), and hands each node the sum of the gradients of its output.
"""
from __future__ import annotations

import contextlib
import importlib
import operator
import time
from typing import Any, Callable, Iterator

import numpy as np

__all__ = [
    "Function",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "unbroadcast",
    "backward_graph",
    "detect_anomaly",
    "renamed_error",
]

# ----------------------------------------------------------------------------------- grad mode
_grad_enabled = True


def is_grad_enabled() -> bool:
    """True when new ops are recorded for backward (the default); False inside ``no_grad()``."""
    return _grad_enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager / decorator that turns graph recording on or off, restoring it on exit."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self.previous = True

    def __enter__(self) -> "set_grad_enabled":
        global _grad_enabled
        self.previous, _grad_enabled = _grad_enabled, self.mode
        return self

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self.previous


class no_grad(set_grad_enabled):
    """``with tg.no_grad(): ...`` -- run ops without recording a graph (inference, parameter updates).

    Also usable as a decorator: ``@tg.no_grad()``.
    """

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Turn graph recording back on inside a ``no_grad`` block."""

    def __init__(self) -> None:
        super().__init__(True)


# ------------------------------------------------------------------------------- broadcasting
def unbroadcast(grad: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Sum ``grad`` back down to an input's ``shape`` (undoing NumPy broadcasting) in its ``dtype``.

    Forward broadcasting copies an input along new leading axes and along axes of length 1; each
    copy received a gradient, so backward adds them up. Every binary op uses this one helper.
    """
    if grad.shape != shape:
        extra = grad.ndim - len(shape)
        if extra:
            grad = grad.sum(axis=tuple(range(extra)))
        stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
        if stretched:
            grad = grad.sum(axis=stretched, keepdims=True)
    if grad.dtype != dtype:
        # e.g. a float32 input combined with a float64 array: its gradient stays float32
        grad = grad.astype(dtype)
    return grad


# ------------------------------------------------------------------------------------ the op
class Function:
    """Base class of every op: subclasses define ``name``, ``formula``, ``forward``, ``backward``.

    ``forward(self, *arrays, **options)`` receives the inputs' ndarrays and returns the output
    ndarray; it keeps what backward needs with ``self.save(...)`` (or plain attributes for shapes
    and options). ``backward(self, grad)`` returns one gradient per input, each of that input's
    shape and dtype, or ``None`` for an input that needs none (see ``self.needs_input_grad``).
    Backward never writes into ``grad``: the engine may hand the same array to several places.
    """

    name: str = "function"
    formula: str = ""

    inputs: tuple  # the input Tensors, in order (constants included, with requires_grad False)
    needs_input_grad: tuple[bool, ...]
    input_versions: tuple[int, ...] = ()  # each input's version when forward ran
    saved: tuple | None = None
    freed: bool = False
    created_at: str = ""  # the user's line that made this op's output (anomaly mode only)
    output_ref: Any = None  # weakref to the output Tensor (no reference cycle): names for trace/draw

    def save(self, *arrays: Any) -> None:
        """Keep arrays for backward; they are released after backward unless retain_graph=True."""
        self.saved = arrays

    def forward(self, *arrays: np.ndarray, **options: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> tuple:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **options: Any):
        """Run the op on Tensors / arrays / numbers and return a Tensor, recording it if needed."""
        # This runs for every op: plain loops and C-level map() keep its Python cost low.
        for x in inputs:
            if not isinstance(x, _Tensor):
                inputs = _wrap_inputs(inputs)
                break
        node = _new_object(cls)
        try:
            out = node.forward(*map(_get_data, inputs), **options)
        except (ValueError, TypeError, IndexError) as err:
            if str(err).startswith(cls.name + ":"):
                raise  # already a message of ours
            detail = ", ".join(f"{t.shape} {t.dtype}" for t in inputs)
            raise renamed_error(err, f"{cls.name}: cannot apply to inputs of shapes/dtypes [{detail}]: {err}") from None
        if _anomaly_mode:
            _check_finite(node, "forward output", out)
        if _grad_enabled:
            needs = tuple(map(_get_requires_grad, inputs))
            if True in needs:
                node.inputs = inputs
                node.needs_input_grad = needs
                # the versions the inputs had when the op saw them (see _check_versions)
                node.input_versions = tuple(map(_get_version, inputs))
                if _anomaly_mode:
                    node.created_at = _user_line()
                return _Tensor._from_op(out, node)
        return _Tensor._from_op(out, None)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} backward>"


def renamed_error(err: Exception, message: str) -> Exception:
    """``err``'s kind of exception with our ``message`` (which names the op and its inputs).

    NumPy's own subclasses (its ufunc errors, AxisError) take other constructor arguments, so
    they become the built-in class they derive from: TypeError, ValueError or IndexError."""
    kind = next(k for k in type(err).__mro__ if k.__module__ == "builtins")
    return kind(message)


def _wrap_inputs(inputs: tuple) -> tuple:
    """Turn op inputs that are ndarrays or Python numbers into constant Tensors (no grad).

    A Python number takes the dtype NumPy gives it beside the op's array inputs, so that
    ``x * 0.5`` stays float32 for a float32 ``x`` and float64 for a float64 ``x``.
    """
    like = None
    for x in inputs:
        if isinstance(x, _Tensor):
            like = x.data
            break
        if isinstance(x, np.ndarray):
            like = x
            break
    return tuple([x if isinstance(x, _Tensor) else _Tensor._constant(x, like) for x in inputs])


def _shares_memory_with(saved: tuple, array: np.ndarray) -> bool:
    """Whether one of the ``saved`` arrays is ``array`` or a view of the same memory (such as the
    channels-last transpose that conv2d keeps of its input)."""
    owner = array if array.base is None else array.base
    for s in saved:
        if isinstance(s, np.ndarray) and (s is owner or s.base is owner):
            return True
    return False


def _check_versions(node: Function) -> None:
    """Refuse to run ``node.backward`` if an array it saved was changed in place since forward.

    Forward only records the inputs' version numbers (an output starts at version 0); which
    tensors' memory the op saved is worked out here, and only when a version has moved."""
    output = node.output_ref() if node.output_ref is not None else None
    if tuple(map(_get_version, node.inputs)) == node.input_versions and (output is None or not output._version):
        return  # nothing changed: the common case, checked at C speed
    watched = list(zip(node.inputs, node.input_versions))
    if output is not None:
        watched.append((output, 0))
    for tensor, version in watched:
        if tensor._version != version and _shares_memory_with(node.saved, tensor.data):
            name = f" '{tensor.name}'" if tensor.name else ""
            raise RuntimeError(
                f"backward: a tensor{name} of shape {tensor.shape} that op '{node.name}' saved for backward "
                f"was changed in place afterwards (version {version} -> {tensor._version}), so its "
                "gradient would be wrong. Run backward() before updating it (e.g. before optimizer.step()), "
                "or make a new tensor (x = x + 1) instead of changing it in place (x += 1)")


# ------------------------------------------------------------------------------ anomaly mode
_anomaly_mode = False


class detect_anomaly(contextlib.ContextDecorator):
    """Turn the first NaN or Inf in forward or backward into an error naming the op and the line
    of your code that created the tensor. Slower: use it to find where a NaN comes from.

        with tg.detect_anomaly():
            loss = model(x) ...
            loss.backward()
    """

    def __enter__(self) -> "detect_anomaly":
        global _anomaly_mode
        self.previous, _anomaly_mode = _anomaly_mode, True
        return self

    def __exit__(self, *exc: object) -> None:
        global _anomaly_mode
        _anomaly_mode = self.previous


def _user_line() -> str:
    """'file:line: code' of the innermost frame outside tensorgrad (where the user made the op)."""
    import os
    import traceback

    package = os.path.dirname(os.path.abspath(__file__))
    for frame in reversed(traceback.extract_stack()[:-1]):
        if not os.path.abspath(frame.filename).startswith(package + os.sep):
            return f"{frame.filename}:{frame.lineno}: {(frame.line or '').strip()}"
    return "(inside tensorgrad)"


def _check_finite(node: Function, what: str, array: Any) -> None:
    if array is None or not isinstance(array, np.ndarray) or array.dtype.kind not in "fc":
        return
    if not np.isfinite(array).all():
        bad = "NaN" if np.isnan(array).any() else "Inf"
        where = node.created_at or _user_line()
        raise FloatingPointError(f"detect_anomaly: op '{node.name}' produced {bad} in its {what} "
                                 f"(shape {array.shape}); the tensor was created at {where}")


# ------------------------------------------------------------------------------ the graph walk
# A tracer (tensorgrad.trace) sets this to a callable(node, grad_out, grads_in, seconds); None = off.
_step_observer: Callable[..., None] | None = None


def _freed_error(node: Function) -> RuntimeError:
    return RuntimeError(
        f"backward: the graph through op '{node.name}' was already freed by an earlier backward(); "
        "call backward(retain_graph=True) the first time if you need to run backward through it again"
    )


def _count_consumers(root: Function) -> dict[Function, int]:
    """For every node reachable from root, how many edges lead into it from its consumers."""
    consumers = {root: 0}
    stack = [root]
    while stack:
        node = stack.pop()
        for t in node.inputs:
            parent = t.grad_fn
            if parent is not None:
                if parent in consumers:
                    consumers[parent] += 1
                else:
                    consumers[parent] = 1
                    stack.append(parent)
    return consumers


def _accumulate_leaf(tensor, grad: np.ndarray, handed_out: set[int]) -> None:
    """Add ``grad`` into a leaf's ``.grad``, never sharing one buffer between two leaves."""
    if tensor.grad is None:
        if grad.base is not None or not grad.flags.writeable or id(grad) in handed_out:
            grad = grad.copy(order="K")  # a view, a broadcast or an array another leaf holds
        handed_out.add(id(grad))
        tensor.grad = grad
    else:
        tensor.grad = tensor.grad + grad


def backward_graph(root, grad: np.ndarray, retain_graph: bool = False) -> None:
    """Propagate ``grad`` (d loss / d root) from ``root`` to every leaf that requires a gradient.

    Nodes are processed only once all their consumers have contributed (Kahn's algorithm on the
    reversed graph), so each node's ``backward`` sees the full gradient of its output. The order
    of processing is a reverse topological order of the graph.
    """
    handed_out: set[int] = set()
    root_node = root.grad_fn
    if root_node is None:  # backward on a leaf: d root / d root = grad
        _accumulate_leaf(root, grad, handed_out)
        return
    consumers = _count_consumers(root_node)
    pending = {root_node: grad}
    ready = [root_node]
    observer = _step_observer
    while ready:
        node = ready.pop()
        grad_out = pending.pop(node, None)
        grads_in = None
        if grad_out is not None:
            if node.freed:
                raise _freed_error(node)
            if node.saved:
                _check_versions(node)
            started = time.perf_counter() if observer is not None else 0.0
            grads_in = node.backward(grad_out)
            if _anomaly_mode:
                for g in grads_in:
                    _check_finite(node, "gradient (backward)", g)
            if observer is not None:
                observer(node, grad_out, grads_in, time.perf_counter() - started)
            if not retain_graph:
                node.saved = None
                node.freed = True
        if grads_in is None:  # the node got no gradient: its inputs get none from it either
            grads_in = (None,) * len(node.inputs)
        for t, g in zip(node.inputs, grads_in):
            parent = t.grad_fn
            if parent is None:
                if g is not None and t._requires_grad:
                    _accumulate_leaf(t, g, handed_out)
                continue
            if g is not None:
                earlier = pending.get(parent)
                pending[parent] = g if earlier is None else earlier + g
            remaining = consumers[parent] - 1
            consumers[parent] = remaining
            if not remaining:
                ready.append(parent)


@contextlib.contextmanager
def observe_backward(observer: Callable[..., None]) -> Iterator[None]:
    """Call ``observer(node, grad_out, grads_in, seconds)`` after each backward step (for tracing)."""
    global _step_observer
    previous, _step_observer = _step_observer, observer
    try:
        yield
    finally:
        _step_observer = previous


# Looked up last: Tensor's methods use this module, and this module builds Tensors in apply().
# (By module path: the package attribute `tensorgrad.tensor` is the tg.tensor() function.)
_Tensor = importlib.import_module(__package__ + ".tensor").Tensor
_new_object = object.__new__
_get_data = operator.attrgetter("data")
_get_requires_grad = operator.attrgetter("_requires_grad")
_get_version = operator.attrgetter("_version")
