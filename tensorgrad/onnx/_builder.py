"""The ONNX graph being written: its nodes, its initializers and the names of its values.

``mapping.py``'s functions call :meth:`GraphBuilder.op` to add ONNX nodes and
:meth:`GraphBuilder.constant` to add constant arrays (as initializers); each tensorgrad node they
translate reaches them as a :class:`Step`: the node itself, the ONNX names of its inputs, the
Tensors behind them, and the name its result must have.

The ``onnx`` package is imported here, when a builder is made: ``import tensorgrad`` does not need it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = ["GraphBuilder", "Step", "Unsupported"]


class Unsupported(Exception):
    """Raised by a mapping function for a case of its op it cannot write (the exporter adds the
    op's name and place in the graph to the message)."""


@dataclass
class Step:
    """One tensorgrad node to translate.

    Attributes:
        node: the op (a ``Function``): its attributes hold the options forward saw
            (``node.axes``, ``node.window``, ``node.activation``, ...).
        inputs: the ONNX names of the node's inputs, in order.
        tensors: the input Tensors themselves (their ``.shape``, ``.dtype``; ``.data`` for a constant).
        output: the name the node's result must be written under.
        result: the output Tensor (its shape and dtype as traced).
        batched: whether each input carries the batch axis (depends on the graph's inputs), when
            the batch is dynamic; all False otherwise.
    """

    node: Any
    inputs: list[str]
    tensors: tuple
    output: str
    result: Any
    batched: tuple[bool, ...]

    @property
    def is_batched(self) -> bool:
        return any(self.batched)


class GraphBuilder:
    """Collects ONNX nodes and initializers, and makes unique value names."""

    def __init__(self, opset: int, batch: int | None) -> None:
        import onnx
        from onnx import helper, numpy_helper

        self.onnx, self.helper, self.numpy_helper = onnx, helper, numpy_helper
        self.opset = opset
        self.batch = batch  # the example's batch size when the batch axis is dynamic, else None
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.used: set[str] = set()
        self.prefix = "node"   # the tensorgrad node being translated: names the ONNX nodes it makes
        self.doc = ""

    # ---------------------------------------------------------------------------------- names
    def fresh(self, hint: str) -> str:
        """A value name not used yet: ``hint``, or ``hint_1``, ``hint_2``, ..."""
        name, k = hint, 0
        while name in self.used:
            k += 1
            name = f"{hint}_{k}"
        self.used.add(name)
        return name

    # ----------------------------------------------------------------------------- constants
    def constant(self, array: Any, hint: str | None = None) -> str:
        """Add ``array`` as an initializer; its name."""
        name = self.fresh(hint or f"{self.prefix}/const")
        array = np.asarray(array)  # (not np.ascontiguousarray, which makes a 0-d array 1-d)
        array = array if array.flags.c_contiguous else array.copy()
        self.initializers.append(self.numpy_helper.from_array(array, name))
        return name

    def scalar(self, value: float, dtype: Any, hint: str = "value") -> str:
        """A 0-d constant of ``dtype`` (the dtype of the tensor it meets: ONNX does not promote)."""
        return self.constant(np.asarray(value, dtype=dtype), f"{self.prefix}/{hint}")

    def ints(self, values: Sequence[int], hint: str = "ints") -> str:
        """A 1-D int64 constant (shapes, axes, starts and ends)."""
        return self.constant(np.asarray(list(values), dtype=np.int64).reshape(-1), f"{self.prefix}/{hint}")

    # --------------------------------------------------------------------------------- nodes
    def op(self, op_type: str, *inputs: str | None, out: str | None = None, **attributes: Any) -> str:
        """Add an ONNX node; the name of its output (``out``, or a new name). An input of None is
        an optional input left out."""
        names = [name or "" for name in inputs]
        while names and not names[-1]:
            names.pop()
        output = out if out is not None else self.fresh(f"{self.prefix}/{op_type}")
        self.used.add(output)
        node_name = f"{self.prefix}/{op_type}_{len(self.nodes)}"
        attributes = {k: v for k, v in attributes.items() if v is not None}
        self.nodes.append(self.helper.make_node(op_type, names, [output], name=node_name, doc_string=self.doc,
                                                **attributes))
        return output

    def reduce(self, op_type: str, x: str, axes: Sequence[int], keepdims: bool, out: str | None = None) -> str:
        """A Reduce* node over ``axes``: given as an input from opset 13 for ReduceSum and from
        opset 18 for the others, as an attribute before."""
        axes = [int(a) for a in axes]
        if (op_type == "ReduceSum" and self.opset >= 13) or self.opset >= 18:
            return self.op(op_type, x, self.ints(axes, "axes"), out=out, keepdims=int(bool(keepdims)))
        return self.op(op_type, x, out=out, axes=axes, keepdims=int(bool(keepdims)))

    def unsqueeze(self, x: str, axes: Sequence[int], out: str | None = None) -> str:
        """Unsqueeze (axes an input from opset 13, an attribute before)."""
        if self.opset >= 13:
            return self.op("Unsqueeze", x, self.ints(axes, "axes"), out=out)
        return self.op("Unsqueeze", x, out=out, axes=list(axes))

    def tensor_type(self, dtype: Any) -> int:
        """The ONNX element type (``TensorProto.FLOAT``, ...) of a NumPy dtype."""
        return self.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
