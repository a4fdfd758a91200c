"""The autograd engine: the op base class, and the graph walk that is the chain rule.

Read this file first. It has three parts:

1. **The op.** Every op is a :class:`Function` subclass that shows, in one place, its ``forward``
   (NumPy arrays in, an array out), its ``backward`` (the gradient of the output in, one gradient
   per input out) and its ``formula`` (the derivative rule as a string, which ``tg.trace`` and
   ``tg.draw`` print). ``SomeOp.apply(*inputs)`` runs the forward and, when an input requires a
   gradient, records the op as a *node* of the graph: the node keeps its inputs, and the output
   tensor keeps the node as its ``grad_fn``.
2. **Fitting a gradient to its input.** An op's backward returns each input's gradient in the
   shape the op computed with, after NumPy broadcasting. The engine sums it back to the input's
   own shape and casts it to the input's dtype (:func:`fit_gradient`), so ``Add.backward`` is
   just ``return g, g``.
3. **The walk.** ``loss.backward()`` calls :func:`backward_graph`, which visits the nodes in
   reverse topological order (each after every node that used its output), hands each node the
   sum of the gradients of its output, and adds what reaches a leaf into ``leaf.grad``.

The path from ``loss.backward()`` to ``Mul.backward``::

    Tensor.backward (tensor.py)  ->  backward_graph  ->  for node in reverse_topological_order(...)
    ->  run_backward(node, g)  ->  node.backward(g)  (Mul.backward, ops/elementwise.py)
    ->  fit_gradient(...) per input  ->  pending[parent] += ..., or accumulate_leaf(...)

Also here: grad mode (``no_grad``) and anomaly mode (``detect_anomaly``).
"""
from __future__ import annotations

import contextlib
import operator
import os
import re
import time
import traceback
from typing import Any, Callable, Iterator

import numpy as np

from .errors import GraphError, TensorgradError, error_like

__all__ = [
    "Function",
    "no_grad",
    "inference_mode",
    "grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "backward_graph",
    "reverse_topological_order",
    "fit_gradient",
    "unbroadcast",
    "detect_anomaly",
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


class inference_mode(set_grad_enabled):
    """PyTorch's ``torch.inference_mode()``: run a model for predictions only (no graph recorded,
    as ``no_grad``); ``inference_mode(False)`` records again. Also usable as a decorator."""

    def __init__(self, mode: bool = True) -> None:
        super().__init__(not mode)


# ------------------------------------------------------------------------------------ the op
# Function.apply runs for every op of every training step, so it alone is written for speed, with
# C-level helpers instead of Python loops: map() with these attribute getters, and `True in`.
_get_data = operator.attrgetter("data")
_get_requires_grad = operator.attrgetter("_requires_grad")
_get_version = operator.attrgetter("_version")
_new_node = object.__new__  # a node without calling __init__ (Function has none to call)

#: The class apply() wraps op outputs in. tensor.py sets it to Tensor when it defines the class:
#: this module sits below tensor.py (Tensor's methods call the ops, which subclass Function), so
#: it does not import it.
Tensor: Any = None


class Function:
    """Base class of every op: a subclass defines ``formula``, ``forward`` and ``backward``.

    ``forward(self, *arrays, **options)`` receives the inputs' ndarrays and returns the output
    ndarray; it keeps what backward needs with ``self.save(...)`` (or plain attributes for shapes
    and options). ``backward(self, g)`` receives ``g``, the gradient of the loss with respect to
    the output, and returns one gradient per input (a tuple; a single array for a one-input op),
    or ``None`` for an input that needs none (``self.needs_input_grad`` says which do). Each
    gradient may have the broadcast shape the op computed with: the engine sums it back to the
    input's shape and casts it to the input's dtype. Backward never writes into ``g``: the
    engine may hand the same array to several places.

    ``name`` defaults to the class name in lower case, and ``input_names`` (what the formula
    calls each input, for labelling the graph's edges) to the names the formula differentiates
    by, in order: ``"∂a = g·bᵀ,  ∂b = aᵀ·g"`` gives ``("a", "b")``. An op with an input that gets no
    gradient (a target, a mask) lists all of its inputs' names itself.

    Example, a custom op (see examples/custom_op.py)::

        class Cube(tg.Function):
            formula = "∂a = g·3a²"

            def forward(self, a):
                self.save(a)
                return a ** 3

            def backward(self, g):
                (a,) = self.saved
                return g * 3 * a ** 2

        y = Cube.apply(x)          # a Tensor, recorded for backward
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
    fused: tuple[str, ...] = ()  # the ops this one node computes, when it fuses several ("linear", "relu")
    input_names: tuple[str, ...] = ()
    output_hooks: list = []  # hooks on the output's gradient (Tensor.register_hook); per node when set
    module_calls: tuple = ()  # (module, its inputs) of each nn.Module call whose output this node made
    #: For gradients of gradients (create_graph=True), an op whose backward cannot run on Tensors
    #: (threads, in-place buffers) or saved values computed from its inputs defines
    #: ``composite(self, *inputs)``: the same function written with simpler tensorgrad ops.
    composite: Callable[..., Any] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__.lower()
        if "input_names" not in cls.__dict__ and cls.formula:
            cls.input_names = tuple(dict.fromkeys(re.findall(r"∂(\w+)", cls.formula)))

    def save(self, *arrays: Any) -> None:
        """Keep arrays for backward; they are released after backward unless retain_graph=True."""
        self.saved = arrays

    def forward(self, *arrays: np.ndarray, **options: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def backward(self, g: np.ndarray) -> Any:  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} must define backward()")

    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> Any:
        """Run the op on Tensors, ndarrays or numbers and return a Tensor; record the op as a node
        of the graph when grad mode is on and an input requires a gradient."""
        for x in inputs:
            if not isinstance(x, Tensor):
                inputs = _wrap_inputs(inputs)
                break
        node = _new_node(cls)
        try:
            out = node.forward(*map(_get_data, inputs), **options)
        except TensorgradError:
            raise  # already names the op and what was wrong
        except (ValueError, TypeError, IndexError) as err:  # NumPy's, or a custom op's own
            detail = ", ".join(f"{t.shape} {t.dtype}" for t in inputs)
            raise error_like(err, f"{cls.name}: cannot apply to inputs of shapes/dtypes [{detail}]: {err}") from err
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
                return Tensor._from_op(out, node)
        return Tensor._from_op(out, None)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} backward>"


def _wrap_inputs(inputs: tuple) -> tuple:
    """Turn op inputs that are ndarrays or Python numbers into constant Tensors (no grad).

    A Python number takes the dtype NumPy gives it beside the op's array inputs, so that
    ``x * 0.5`` stays float32 for a float32 ``x`` and float64 for a float64 ``x``.
    """
    like = None  # the first array among the inputs
    for x in inputs:
        if isinstance(x, (Tensor, np.ndarray)):
            like = x.data if isinstance(x, Tensor) else x
            break
    return tuple([x if isinstance(x, Tensor) else Tensor._constant(x, like) for x in inputs])


# --------------------------------------------------------- fitting a gradient to its input
def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` back down to ``shape``, undoing NumPy broadcasting.

    Forward broadcasting copied an input along new leading axes and along its axes of length 1;
    each copy received a gradient, so backward adds them up.
    """
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and i < grad.ndim and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def fit_gradient(node: Function, tensor: Any, grad: Any) -> np.ndarray:
    """The gradient ``node.backward`` returned for its input ``tensor``, in that tensor's shape
    and dtype: summed over the axes broadcasting added, cast to the tensor's dtype. A gradient
    that cannot be the tensor's (a bug in a custom op's backward) is refused, naming the op."""
    array = tensor.data
    if type(grad) is not np.ndarray and not isinstance(grad, Tensor):  # NumPy gives scalars for 0-d arithmetic
        grad = np.asarray(grad)
    if grad.shape != array.shape:
        fitted = unbroadcast(grad, array.shape)
        if fitted.shape != array.shape:
            index = next(i for i, t in enumerate(node.inputs) if t is tensor)
            raise GraphError(f"{node.name}: backward returned a gradient of shape {grad.shape} for input "
                             f"{index}, of shape {array.shape}: it must be that shape, or broadcast to it")
        grad = fitted
    if grad.dtype != array.dtype:  # e.g. a float32 weight used with float64 data
        grad = grad.astype(array.dtype)
    return grad


# ------------------------------------------------------------------------------ the graph walk
def backward_graph(root: Any, grad: Any, retain_graph: bool = False,
                   leaf_grads: dict[int, np.ndarray] | None = None, create_graph: bool = False,
                   stop_at: frozenset[int] = frozenset()) -> None:
    """Propagate ``grad`` (d loss / d root) from ``root`` to every leaf that requires a gradient.

    The chain rule, node by node: each node receives the gradient of its output (summed over
    every node that used it), its ``backward`` turns that into its inputs' gradients, and those
    go on to the nodes that made the inputs, or into ``.grad`` for a leaf. With ``leaf_grads`` (a
    dict), the leaves' gradients are added there instead, by ``id(leaf)``, and no ``.grad``
    changes: gradients computed without touching the tensors (the teaching tools use it).
    ``root`` and ``grad`` may also be lists, for several outputs at once (``tg.grad``).

    With ``create_graph``, the gradients are Tensors and every backward step is itself recorded
    (gradients of gradients): see :func:`run_backward`. ``stop_at`` (ids of tensors) treats those
    tensors as leaves: the walk ends there.
    """
    handed_out: set[int] = set()  # gradient arrays already given to a leaf (see accumulate_leaf)
    add_to_leaf = accumulate_leaf if leaf_grads is None else _collect_into(leaf_grads)
    if type(root) is list or type(root) is tuple:
        pending = _start(root, grad, stop_at, add_to_leaf, handed_out)
    elif root.grad_fn is None or stop_at and id(root) in stop_at:  # backward on a leaf: d root / d root = grad
        add_to_leaf(root, grad, handed_out)
        return
    else:
        pending = {root.grad_fn: grad}  # node -> d loss / d (its output), summed so far
    for node in reverse_topological_order(*pending, stop_at=stop_at):
        grad_out = pending.pop(node, None)
        if grad_out is None:
            continue  # no gradient reached this node (its output only led to constants)
        if node.output_hooks:  # the output's gradient is complete: hooks may read or replace it
            grad_out = run_hooks(node.output_hooks, grad_out)
        for tensor, grad_in in zip(node.inputs, run_backward(node, grad_out, retain_graph, create_graph)):
            if grad_in is None:
                continue
            parent = tensor.grad_fn
            if parent is None or stop_at and id(tensor) in stop_at:
                add_to_leaf(tensor, grad_in, handed_out)
            elif parent in pending:
                pending[parent] = pending[parent] + grad_in  # a new array: grad_in may be shared
            else:
                pending[parent] = grad_in


def _start(roots: Any, grads: Any, stop_at: frozenset[int], add_to_leaf: Callable[..., None],
           handed_out: set[int]) -> dict:
    """backward_graph's ``pending`` for several roots: each one's node and gradient (summed)."""
    pending: dict = {}
    for tensor, grad_out in zip(roots, grads):
        if tensor.grad_fn is None or id(tensor) in stop_at:
            add_to_leaf(tensor, grad_out, handed_out)
        elif tensor.grad_fn in pending:
            pending[tensor.grad_fn] = pending[tensor.grad_fn] + grad_out
        else:
            pending[tensor.grad_fn] = grad_out
    return pending


def reverse_topological_order(*roots: Function, stop_at: frozenset[int] = frozenset()) -> Iterator[Function]:
    """Yield every node reachable from ``roots``, each one only after every node that used its
    output: then, when a node's turn comes, the gradient of its output is complete.

    Kahn's algorithm on the reversed graph: count each node's consumers, start from the roots,
    and a node becomes ready when its last consumer has been visited. Iterative, so a 100,000-op
    chain needs no recursion. The walk does not go past a tensor whose id is in ``stop_at``.
    """
    consumers = _count_consumers(roots, stop_at)
    ready = list(roots) if len(roots) == 1 else [root for root in roots if consumers[root] == 0]
    while ready:
        node = ready.pop()
        yield node
        for tensor in node.inputs:
            parent = tensor.grad_fn
            if parent is not None and not (stop_at and id(tensor) in stop_at):
                consumers[parent] -= 1
                if consumers[parent] == 0:
                    ready.append(parent)


def run_hooks(hooks: list, grad: Any) -> Any:
    """Call each hook on a gradient; a hook that returns something replaces it (register_hook)."""
    for hook in list(hooks):
        replaced = hook(grad)
        if replaced is None:
            continue
        if isinstance(grad, Tensor):  # (a recorded gradient, create_graph=True: it stays a Tensor)
            grad = replaced if isinstance(replaced, Tensor) else Tensor._from_op(np.asarray(replaced, grad.dtype), None)
        else:
            grad = np.asarray(replaced.data if isinstance(replaced, Tensor) else replaced, dtype=grad.dtype)
    return grad


def _count_consumers(roots: tuple[Function, ...], stop_at: frozenset[int] = frozenset()) -> dict[Function, int]:
    """For every node reachable from the roots, how many edges lead into it from its consumers."""
    consumers = {roots[0]: 0} if len(roots) == 1 else dict.fromkeys(roots, 0)
    stack = list(roots)
    while stack:
        node = stack.pop()
        for tensor in node.inputs:
            parent = tensor.grad_fn
            if parent is None or stop_at and id(tensor) in stop_at:
                continue
            if parent in consumers:
                consumers[parent] += 1
            else:
                consumers[parent] = 1
                stack.append(parent)
    return consumers


def run_backward(node: Function, grad_out: Any, retain_graph: bool, create_graph: bool = False) -> list[Any]:
    """``node.backward(grad_out)``, with the engine's checks around it; returns one gradient per
    input, fitted to it (see fit_gradient), or None for an input that requires none.

    Before: the graph was not freed by an earlier backward, and no array the node saved has been
    changed in place. After: NaN/Inf checks (in detect_anomaly), the tracer's observer (tg.trace),
    and freeing the saved arrays (unless retain_graph).

    With ``create_graph``, ``grad_out`` is a Tensor and the backward is recorded: the same
    backward code runs with Tensors in place of arrays (the saved inputs and output as the graph's
    own tensors, see :func:`recorded_backward`), so its NumPy calls record tensorgrad's ops.
    """
    if node.freed:
        raise GraphError(f"backward: the graph through op '{node.name}' was already freed by an earlier "
                         "backward(); call backward(retain_graph=True) the first time if you need to run "
                         "backward through it again")
    if node.saved:
        _check_versions(node)
    started = time.perf_counter() if _step_observer is not None else 0.0
    grads = node.backward(grad_out) if not create_graph else recorded_backward(node, grad_out)
    if type(grads) is not tuple and type(grads) is not list:
        grads = (grads,)  # a one-input op may return its gradient alone
    if len(grads) != len(node.inputs):
        raise GraphError(f"{node.name}: backward returned {len(grads)} gradient(s) for {len(node.inputs)} input(s)")
    grads_in = []
    for tensor, grad, needed in zip(node.inputs, grads, node.needs_input_grad):
        if grad is None or not needed:
            grad = None
        elif type(grad) is not np.ndarray or grad.shape != tensor.data.shape or grad.dtype != tensor.data.dtype:
            grad = fit_gradient(node, tensor, grad)  # (most gradients fit already: checked inline)
        grads_in.append(grad)
    shown = grads_in
    if create_graph:  # every gradient a Tensor (an array: a constant one); the tools below see numbers
        grads_in = [g if g is None or isinstance(g, Tensor) else Tensor._from_op(g, None) for g in grads_in]
        grad_out, grads, shown = _values(grad_out), [_values(g) for g in grads], [_values(g) for g in grads_in]
    if _anomaly_mode:
        for grad in shown:
            _check_finite(node, "gradient (backward)", grad)
    if _step_observer is not None:  # (it gets the op's own gradients too, to show what was summed)
        _step_observer(node, grad_out, grads, shown, time.perf_counter() - started)
    if not retain_graph:
        node.saved = None
        node.freed = True
    return grads_in


def recorded_backward(node: Function, grad_out: Any) -> Any:
    """``node.backward`` for create_graph=True: the gradient ``grad_out`` is a Tensor, and the
    node's saved arrays are handed to its backward as the graph's tensors they are (an input,
    or the output), so that every NumPy call of the backward records a tensorgrad op (see
    numpy_protocol.py) and the gradients it returns have graphs of their own. A saved array that
    is neither (a mask, an index) is a constant: its derivative is zero almost everywhere.
    An op with a ``composite`` is differentiated through it instead (its backward is written for
    arrays only, or saves values computed from its inputs)."""
    with set_grad_enabled(True), _one_thread():
        if node.composite is not None:
            return _composite_backward(node, grad_out)
        saved = node.saved
        if saved:
            node.saved = tuple(_as_graph_tensor(node, value) for value in saved)
        try:
            return node.backward(grad_out)
        finally:
            node.saved = saved


def _as_graph_tensor(node: Function, value: Any) -> Any:
    """The graph's tensor behind a saved array: the node's input or output of which it is the data."""
    output = node.output_ref() if node.output_ref is not None else None
    if isinstance(value, np.generic):  # a 0-d output that NumPy returned as a scalar: the output itself
        same = output is not None and output.data.shape == () and output.data.item() == value.item()
        return output if same else value
    if not isinstance(value, np.ndarray):
        return value
    for tensor in node.inputs:
        if tensor.data is value:
            return tensor
    if output is not None and output.data is value:
        return output
    return Tensor._from_op(value, None)


def _composite_backward(node: Function, grad_out: Any) -> tuple:
    """The gradients of ``node.composite(*inputs)`` with respect to the node's inputs, recorded:
    the walk runs from the composite's output and stops at the inputs."""
    output = node.composite(*node.inputs)
    collected: dict[int, Any] = {}
    inputs = [t for t, needed in zip(node.inputs, node.needs_input_grad) if needed]
    backward_graph(output, grad_out, retain_graph=True, leaf_grads=collected, create_graph=True,
                   stop_at=frozenset(id(t) for t in inputs))
    return tuple(collected.get(id(t)) if needed else None for t, needed in zip(node.inputs, node.needs_input_grad))


def _values(grad: Any) -> Any:
    """A gradient's numbers (the array of a recorded Tensor)."""
    return grad.data if isinstance(grad, Tensor) else grad


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """tensorgrad's threads split products into preallocated arrays: recorded ops run whole."""
    from .speed import parallel
    with parallel.num_threads(1):
        yield


def _collect_into(leaf_grads: dict[int, np.ndarray]) -> Callable[[Any, np.ndarray, set[int]], None]:
    """A stand-in for accumulate_leaf that adds a leaf's gradient into ``leaf_grads[id(leaf)]``."""
    def collect(tensor: Any, grad: np.ndarray, handed_out: set[int]) -> None:
        hooks = tensor._hooks
        if hooks:
            grad = run_hooks(hooks, grad)
        key = id(tensor)
        leaf_grads[key] = leaf_grads[key] + grad if key in leaf_grads else grad
    return collect


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, returned, with no ``.grad``
    changed: PyTorch's ``torch.autograd.grad``.

    Args:
        outputs: a tensor (or a list of tensors) to differentiate.
        inputs: the tensors (leaves or intermediate results) to differentiate with respect to.
        grad_outputs: d(something)/d(output) for each output; may be omitted for one-element outputs.
        retain_graph: keep the graph for another backward (default: False).
        create_graph: record the backward pass, so that the gradients are Tensors with graphs
            of their own (gradients of gradients, Hessian-vector products, gradient penalties).
        allow_unused: return None for an input the outputs do not depend on, instead of raising.

    Returns:
        A tuple with one ndarray (a Tensor with ``create_graph=True``), or None, per input.

    Example::

        (dW,) = tg.grad(loss, [W])        # the same as W.grad after loss.backward(), W.grad untouched
        (dx,) = tg.grad(y, [x], create_graph=True)
        (d2x,) = tg.grad(dx.sum(), [x])   # the second derivative
    """
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    grad_outputs = list(grad_outputs) if isinstance(grad_outputs, (list, tuple)) else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise GraphError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for k, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise GraphError(f"grad: input {k} does not require grad, so it has no gradient "
                             "(make it with requires_grad=True)")
    seeds = [Tensor._seed_gradient(out, g, "grad", create_graph) for out, g in zip(outputs, grad_outputs)]
    collected: dict[int, np.ndarray] = {}
    captures = []  # hooks that catch an intermediate input's gradient when its node runs
    for t in inputs:
        if t.grad_fn is not None:
            captures.append((t.grad_fn, _capture_into(collected, id(t))))
            t.grad_fn.output_hooks = [*t.grad_fn.output_hooks, captures[-1][1]]
    try:
        backward_graph(outputs, seeds, retain_graph=bool(create_graph if retain_graph is None else retain_graph),
                       leaf_grads=collected, create_graph=create_graph)
    finally:
        for node, hook in captures:
            node.output_hooks = [h for h in node.output_hooks if h is not hook]
    results = []
    for k, t in enumerate(inputs):
        if id(t) not in collected and not allow_unused:
            raise GraphError(f"grad: input {k} (shape {t.shape}) was not used to compute the outputs; pass "
                             "allow_unused=True to get None for it")
        results.append(collected.get(id(t)))
    return tuple(results)


def _capture_into(collected: dict[int, np.ndarray], key: int) -> Callable[[np.ndarray], None]:
    def capture(grad: np.ndarray) -> None:
        collected[key] = grad
    return capture


def accumulate_leaf(tensor: Any, grad: np.ndarray, handed_out: set[int]) -> None:
    """Add ``grad`` into a leaf's ``.grad`` (gradients accumulate, as in PyTorch), after the
    leaf's hooks (``register_hook``) have seen it.

    The first gradient is stored as it is, unless it is a view, read-only (a broadcast) or
    already stored in another leaf: then a copy, so that no two ``.grad`` share memory.
    """
    hooks = tensor._hooks
    if hooks:
        grad = run_hooks(hooks, grad)
    if isinstance(grad, Tensor):  # a recorded gradient (create_graph=True): .grad is a Tensor, as in PyTorch
        tensor._grad = grad if tensor._grad is None else tensor._grad + grad
        return
    if tensor._grad is None:  # (the slot behind the .grad property, which warns for non-leaves)
        if grad.base is not None or not grad.flags.writeable or id(grad) in handed_out:
            grad = grad.copy(order="K")
        handed_out.add(id(grad))
        tensor._grad = grad
    else:
        tensor._grad = np.asarray(tensor._grad + grad)  # (NumPy gives 0-d + 0-d as a scalar)


def _check_versions(node: Function) -> None:
    """Refuse to run ``node.backward`` if an array it saved was changed in place since forward.

    Forward only records the inputs' version numbers (an output starts at version 0); which
    tensors' memory the op saved is worked out here, and only when a version has moved."""
    output = node.output_ref() if node.output_ref is not None else None
    if tuple(map(_get_version, node.inputs)) == node.input_versions and (output is None or not output._version):
        return  # nothing changed: the common case
    watched = list(zip(node.inputs, node.input_versions))
    if output is not None:
        watched.append((output, 0))
    for tensor, version in watched:
        if tensor._version != version and _shares_memory_with(node.saved, tensor.data):
            name = f" '{tensor.name}'" if tensor.name else ""
            raise GraphError(
                f"backward: a tensor{name} of shape {tensor.shape} that op '{node.name}' saved for backward "
                f"was changed in place afterwards (version {version} -> {tensor._version}), so its "
                "gradient would be wrong. Run backward() before updating it (e.g. before optimizer.step()), "
                "or make a new tensor (x = x + 1) instead of changing it in place (x += 1)")


def _shares_memory_with(saved: tuple, array: np.ndarray) -> bool:
    """Whether one of the ``saved`` arrays is ``array`` or a view of the same memory (such as the
    channels-last transpose that conv2d keeps of its input)."""
    owner = array if array.base is None else array.base
    return any(isinstance(s, np.ndarray) and (s is owner or s.base is owner) for s in saved)


# A tracer (tensorgrad.teach.trace) sets this to a callable(node, grad_out, grads_in, seconds).
_step_observer: Callable[..., None] | None = None


@contextlib.contextmanager
def observe_backward(observer: Callable[..., None]) -> Iterator[None]:
    """Call ``observer(node, grad_out, raw_grads, grads_in, seconds)`` after each backward step (for tracing)."""
    global _step_observer
    previous, _step_observer = _step_observer, observer
    try:
        yield
    finally:
        _step_observer = previous


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

