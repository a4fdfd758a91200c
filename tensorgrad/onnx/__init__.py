"""Export a model to ONNX: ``tg.onnx.export(model, example_inputs, "model.onnx")``.

The export reads the graph tensorgrad records anyway. It runs one forward pass on the example
inputs (``_trace.py``: in eval mode, in grad mode, with the inputs requiring a gradient, so that
every op that depends on them is recorded); then it walks the graph from the outputs back to
the leaves (each output Tensor's ``.grad_fn`` is its op's node, whose ``.inputs`` are Tensors,
and so on; iteratively, without recursion) and writes each node as ONNX operators, in order,
with the table in ``mapping.py`` (op name -> a small function building the nodes). The leaves
become the graph's inputs (the example inputs, found by identity), its parameters (an
initializer named by the model's state_dict name: ``"0.weight"``, ``"fc1.bias"``) and its other
constants (initializers too).

With ``dynamic_batch`` (the default) the inputs' first axis is the symbolic ``"batch"``: the
exported model takes any batch size. A recorded reshape has the traced shape as its target; the
batch axis is written there as 0 ("the input's") or -1 (inferred), so that it follows the batch.
To be sure no other constant holds the example's batch size, the model is traced a second time
on a batch twice as large: the two graphs must be the same, or the export is refused (export
such a model with ``dynamic_batch=False``).

An op without an entry in ``ONNX_OPS`` is refused with its name and its place in the graph
(``onnx.export: no ONNX mapping for op 'swish' (node 1, output shape (4, 5))``); an op of your
own exports once you add its entry (see ``mapping.py``).

``tensorgrad export --checkpoint runs/NAME/model.npz -o model.onnx`` exports a trained recipe.
Needs the ``onnx`` package (``pip install "tensorgrad[onnx]"``; onnxruntime runs the result).
"""
from __future__ import annotations

import os
import warnings
from typing import Any, Mapping, Sequence

import numpy as np

from .._version import __version__
from ..errors import TensorgradError
from ..tensor import Tensor
from ._builder import GraphBuilder, Step, Unsupported
from ._trace import state_names, topological_order, trace
from .mapping import HINTS, ONNX_OPS

__all__ = ["export", "ExportError", "ONNX_OPS", "DEFAULT_OPSET"]

#: the ONNX opset written by default (onnx 1.12+ and onnxruntime 1.12+ read it)
DEFAULT_OPSET = 17


class ExportError(TensorgradError, ValueError):
    """The model cannot be written as ONNX: an op without a mapping, an output that does not
    depend on the inputs, a graph that depends on the batch size (with ``dynamic_batch``),
    names that do not fit. The message names the op or constant, and where it is."""


def export(model: Any, example_inputs: Any, path: str | os.PathLike | None = None, *,
           input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None,
           dynamic_batch: bool = True, opset: int = DEFAULT_OPSET, metadata: Mapping[str, Any] | None = None,
           check: bool = True) -> Any:
    """Trace one forward pass of ``model`` and write it as an ONNX model.

    Args:
        model: a ``tg.nn.Module`` (traced in eval mode, its mode restored afterwards; fused or
            not, see ``Module.fuse``) or a function of Tensors.
        example_inputs: a Tensor or array (one input), or a tuple/list of them: inputs of the
            shapes and dtypes the model takes. Only their shapes matter to the result.
        path: the ``.onnx`` file to write; None writes nothing (the model is returned anyway).
        input_names: the graph inputs' names (default "input", or "input_0", "input_1", ...).
        output_names: the graph outputs' names (default "output", or "output_0", ...).
        dynamic_batch: make the first axis of every input (and of the outputs that follow it) the
            symbolic "batch", so that the model runs on any batch size (checked by a second
            trace on a batch twice as large); False keeps the example's sizes.
        opset: the ONNX opset to write (default 17; from 13 to the onnx package's newest).
        metadata: strings stored in the model's ``metadata_props`` (values are converted with str).
        check: run ``onnx.checker.check_model`` on the result before writing it.

    Returns:
        The ``onnx.ModelProto``.

    Raises:
        ExportError: an op without an ONNX mapping (``onnx.export: no ONNX mapping for op
            'swish' (node 1, output shape (4, 5))``), an output that does not depend on the
            inputs (computed under ``tg.no_grad()``, or from ``.data``), or, with
            ``dynamic_batch``, a graph that holds the batch size elsewhere than in axis 0.
        ImportError: the ``onnx`` package is not installed.

    Example:
        >>> from tensorgrad.models.recipes import RECIPES
        >>> model = RECIPES["doc004"].make_model()
        >>> tg.onnx.export(model, np.zeros((1, 784), np.float32), "doc004.onnx",
        ...                input_names=["images"], output_names=["logits"])
    """
    try:
        import onnx
    except ImportError as err:
        raise ImportError("tensorgrad.onnx.export needs the onnx package: pip install onnx "
                          "(or pip install \"tensorgrad[onnx]\")") from err

    if not 13 <= opset <= onnx.defs.onnx_opset_version():
        raise ExportError(f"onnx.export: opset must be from 13 (the operators' current forms) to "
                          f"{onnx.defs.onnx_opset_version()} (this onnx package's newest), got {opset}")
    examples = list(example_inputs) if isinstance(example_inputs, (tuple, list)) else [example_inputs]
    if not examples:
        raise ExportError("onnx.export: example_inputs is empty: give the model's inputs, e.g. one batch")
    input_names = _names("input", input_names, len(examples), "input_names")
    built = _build(model, examples, input_names, output_names, dynamic_batch, opset, warn=True)
    builder, inputs, outputs, output_names, batched = built
    if builder.batch is not None:  # trace a batch twice as large: the graph must not change
        _check_batch_independence(builder, model, examples, input_names, output_names, opset)

    dynamic = builder.batch is not None
    graph_inputs = [_value_info(builder, t, n, dynamic, True) for t, n in zip(inputs, input_names)]
    graph_outputs = [_value_info(builder, t, n, dynamic and id(t) in batched, False)
                     for t, n in zip(outputs, output_names)]
    # only the initializers a node reads (a Linear without bias leaves its zero stand-in unread)
    used = {name for node in builder.nodes for name in node.input} | set(output_names)
    graph = onnx.helper.make_graph(builder.nodes, "tensorgrad", graph_inputs, graph_outputs,
                                   initializer=[i for i in builder.initializers if i.name in used])
    opsets = [onnx.helper.make_opsetid("", opset)]
    onnx_model = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="tensorgrad",
                                        producer_version=__version__,
                                        ir_version=onnx.helper.find_min_ir_version_for(opsets))
    if metadata:
        onnx.helper.set_model_props(onnx_model, {str(k): str(v) for k, v in metadata.items()})
    if check:
        onnx.checker.check_model(onnx_model)
    if path is not None:
        onnx.save(onnx_model, os.fspath(path))
    return onnx_model


# --------------------------------------------------------------------------------- helpers
def _build(model: Any, examples: list[Any], input_names: list[str], output_names: Sequence[str] | None,
           dynamic_batch: bool, opset: int, warn: bool) -> tuple[GraphBuilder, list[Tensor], list[Tensor], list[str],
                                                                 set[int]]:
    """Trace the model on ``examples`` and translate its graph, node by node, into a GraphBuilder;
    also the traced inputs and outputs, the output names, and the ids of the tensors computed
    from the inputs."""
    inputs, outputs = trace(model, examples)
    output_names = _names("output", output_names, len(outputs), "output_names")
    if len(set(input_names) | set(output_names)) != len(input_names) + len(output_names):
        raise ExportError(f"onnx.export: input and output names must all differ, got {list(input_names)} "
                          f"and {list(output_names)}")

    batch = int(inputs[0].shape[0]) if dynamic_batch and inputs[0].ndim else None
    builder = GraphBuilder(opset, batch)
    builder.used.update(input_names)
    builder.used.update(output_names)
    names = _Names(builder, inputs, input_names, outputs, output_names, state_names(model))
    order = topological_order(outputs)
    batched = _batched_tensors(order, inputs)
    for output, name in zip(outputs, output_names):
        if inputs and id(output) not in batched and all(t.requires_grad for t in inputs):
            raise ExportError(f"onnx.export: output {name!r} does not depend on the inputs: it was computed "
                              "without recording the graph (under tg.no_grad(), or from .data)")
    reached = {id(t) for t in order}
    for tensor, name in zip(inputs, input_names):
        if warn and id(tensor) not in reached:
            warnings.warn(f"onnx.export: input {name!r} is not used by the traced graph (an op that reads an "
                          "input's values as a constant, as an index does, bakes the example into the model)",
                          UserWarning, stacklevel=3)

    step_index = 0
    for tensor in order:
        if tensor.grad_fn is not None:
            _translate(builder, tensor.grad_fn, tensor, step_index, names, batched)
            step_index += 1

    for output, name in zip(outputs, output_names):  # an output that is an input, a leaf or another output
        if names.of(output) != name:
            builder.prefix, builder.doc = name, ""
            builder.op("Identity", names.of(output), out=name)
    return builder, inputs, outputs, output_names, batched


_FLOAT_TYPES = {1, 10, 11, 16}  # TensorProto FLOAT, FLOAT16, DOUBLE, BFLOAT16: values may differ, not shapes


def _check_batch_independence(builder: GraphBuilder, model: Any, examples: list[Any], input_names: list[str],
                              output_names: Sequence[str] | None, opset: int) -> None:
    """Export again from a batch twice as large (each example repeated): a graph that does not
    depend on the batch size comes out the same, its shape constants included. A recorded op
    that saw the batch size elsewhere than on axis 0 (a reshape that moves it, a constant of the
    batch's shape) would only run at the example's size: refused, naming that constant."""
    batch = builder.batch
    doubled = []
    for x in examples:
        data = np.asarray(x.data if isinstance(x, Tensor) else x)
        doubled.append(np.concatenate([data, data]) if data.ndim and data.shape[0] == batch else data)
    try:
        other = _build(model, doubled, input_names, output_names, True, opset, warn=False)[0]
    except Exception as err:  # noqa: BLE001  (a model that takes only that batch size, say)
        warnings.warn(f"onnx.export: could not check that the graph runs for other batch sizes (the model on a "
                      f"batch of {2 * batch} raised {type(err).__name__}: {err})", UserWarning, stacklevel=3)
        return
    problem = None
    if [n.op_type for n in builder.nodes] != [n.op_type for n in other.nodes]:
        problem = "the traced graph itself changes with the batch size"
    for a, b in zip(builder.nodes, other.nodes):
        if problem is None and list(a.attribute) != list(b.attribute):
            problem = f"the attributes of ONNX node {a.name!r} change with it"
    for a, b in zip(builder.initializers, other.initializers):
        if problem is None and (a.name != b.name or list(a.dims) != list(b.dims)
                                or (a.data_type not in _FLOAT_TYPES and a != b)):
            first, second = builder.numpy_helper.to_array(a), other.numpy_helper.to_array(b)
            problem = (f"its constant {a.name!r} is {_describe(first)} for a batch of {batch} and "
                       f"{_describe(second)} for a batch of {2 * batch}")
    if problem is not None:
        raise ExportError(f"onnx.export: the graph depends on the batch size ({problem}), so it cannot take "
                          "a dynamic batch: export with dynamic_batch=False, for the example's batch size")


def _describe(array: np.ndarray) -> str:
    return str(array.tolist()) if array.dtype.kind in "iub" and array.size <= 8 else f"of shape {array.shape}"


def _names(kind: str, given: Sequence[str] | None, count: int, argument: str) -> list[str]:
    if given is None:
        return [kind] if count == 1 else [f"{kind}_{k}" for k in range(count)]
    given = [given] if isinstance(given, str) else list(given)
    if len(given) != count or len(set(given)) != count or not all(isinstance(n, str) and n for n in given):
        raise ExportError(f"onnx.export: {argument} must be {count} different non-empty strings (the model has "
                          f"{count} {kind}{'s' if count != 1 else ''}), got {given}")
    return given


class _Names:
    """The ONNX name of each tensor of the graph, by id (the traced graph keeps every tensor alive
    while it is exported): an input's name, a parameter's state_dict name, a constant's
    initializer, an op's result (an output's name for an output)."""

    def __init__(self, builder: GraphBuilder, inputs: list[Tensor], input_names: list[str], outputs: list[Tensor],
                 output_names: list[str], states: dict[int, tuple[str, Tensor]]) -> None:
        self.builder, self.states = builder, states
        self.names: dict[int, str] = {id(t): n for t, n in zip(inputs, input_names)}
        self.outputs: dict[int, str] = {}
        for t, n in zip(outputs, output_names):
            self.outputs.setdefault(id(t), n)  # the same tensor twice: the second is an Identity
        self.arrays = {id(tensor.data): name for name, tensor in states.values()}

    def of(self, tensor: Tensor) -> str:
        """The name of ``tensor``; a leaf not seen before becomes an initializer."""
        name = self.names.get(id(tensor))
        if name is None:
            name = self._leaf(tensor)
        return name

    def result(self, tensor: Tensor, hint: str) -> str:
        """The name an op's result is written under."""
        name = self.outputs.get(id(tensor)) or self.builder.fresh(hint)
        self.names[id(tensor)] = name
        return name

    def _leaf(self, tensor: Tensor) -> str:
        if id(tensor) in self.states:
            hint = self.states[id(tensor)][0]
        elif id(tensor.data) in self.arrays:  # another Tensor around a parameter's array
            hint = self.arrays[id(tensor.data)]
        elif tensor.data.base is not None and id(tensor.data.base) in self.arrays:  # a view of one (reshaped)
            hint = self.arrays[id(tensor.data.base)] + "/view"
        else:
            hint = tensor.name or f"{self.builder.prefix}/const"  # after the node that reads it first
        name = self.builder.constant(tensor.data, hint)
        self.names[id(tensor)] = name
        return name


def _batched_tensors(order: list[Tensor], inputs: list[Tensor]) -> set[int]:
    """ids of the tensors computed from the inputs (which carry the batch axis)."""
    batched = {id(t) for t in inputs}
    for tensor in order:
        if tensor.grad_fn is not None and any(id(t) in batched for t in tensor.grad_fn.inputs):
            batched.add(id(tensor))
    return batched


#: inputs that keep their own dtype (indices, conditions); every other numeric input of an op is
#: converted to the op's result dtype first, as NumPy's promotion did (ONNX does not promote)
_OWN_DTYPE = {"astype": None, "gather": {1}, "index_select": {1}, "where": {0}}


def _translate(builder: GraphBuilder, node: Any, tensor: Tensor, index: int, names: _Names, batched: set[int]) -> None:
    """Write one tensorgrad node as ONNX nodes, with its entry of ONNX_OPS."""
    op = type(node).name
    where = f"node {index}, output shape {tuple(tensor.shape)}"
    build = ONNX_OPS.get(op)
    if build is None:
        hint = f": {HINTS[op]}" if op in HINTS else ""
        raise ExportError(f"onnx.export: no ONNX mapping for op '{node.name}' ({where}){hint}")
    label = node.name.replace("+", "_")
    builder.prefix = f"{label}_{index}"  # names the ONNX nodes and intermediate values of this node
    builder.doc = f"tensorgrad node {index}: {node.name}"
    inputs = [names.of(t) for t in node.inputs]
    own = _OWN_DTYPE.get(op, set())
    if own is not None and tensor.dtype.kind == "f":
        for k, t in enumerate(node.inputs):
            if k not in own and t.dtype.kind in "iuf" and t.dtype != tensor.dtype:
                inputs[k] = builder.op("Cast", inputs[k], to=builder.tensor_type(tensor.dtype))
    output = names.result(tensor, builder.prefix)  # the prefix itself, unless an output's name
    step = Step(node, inputs, tuple(node.inputs), output, tensor,
                tuple(builder.batch is not None and id(t) in batched for t in node.inputs))
    try:
        build(builder, step)
    except Unsupported as err:
        raise ExportError(f"onnx.export: cannot map op '{node.name}' ({where}): {err}") from None


def _value_info(builder: GraphBuilder, tensor: Tensor, name: str, dynamic: bool, is_input: bool) -> Any:
    """A graph input's or output's type and shape; with a dynamic batch, axis 0 is "batch" (an
    output whose axis 0 is not the traced batch size gets no declared shape)."""
    shape: list[Any] | None = list(tensor.shape)
    if dynamic and shape:
        if is_input or shape[0] == builder.batch:
            shape[0] = "batch"
        else:
            shape = None
    return builder.helper.make_tensor_value_info(name, builder.tensor_type(tensor.dtype), shape)
