"""Watch backpropagation run: every backward step, the formula it applied, and its gradients.

    with tg.trace(keep=["h1", "logits"]) as tr:
        loss.backward()
    print(tr)                 # a table: step, op, formula, shapes, gradient norm/min/max, time
    tr.grads["h1"]            # d loss / d h1, kept without any retain_grad boilerplate
    tr.to_markdown(); tr.to_json()

The formula printed is the ``formula`` string the op declares beside its ``backward`` -- the
same one ``tg.draw`` shows -- so there is no second table of formulas to drift.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import numpy as np

from .. import autograd

__all__ = ["trace", "Trace", "TraceStep"]


@dataclass
class TraceStep:
    """One backward step: an op received the gradient of its output and produced its inputs'."""

    step: int
    op: str
    formula: str
    output: str                      # the output tensor's name (or op#k)
    output_shape: tuple[int, ...]
    input_shapes: list[tuple[int, ...]]
    grad_norm: float                 # of the gradient arriving at the op's output
    grad_min: float
    grad_max: float
    input_grad_norms: list[float | None]  # of each input's gradient (None: not needed)
    seconds: float
    fused: tuple[str, ...] = ()      # the ops a fused node computes ("linear", "relu"), else ()
    node_key: int = field(repr=False, default=0)  # identifies the op node (for tg.draw frames)


def _stats(array: np.ndarray) -> tuple[float, float, float]:
    if array.size == 0:
        return 0.0, 0.0, 0.0
    return float(np.linalg.norm(array.ravel())), float(array.min()), float(array.max())


class Trace:
    """The record of one or more backward passes run inside ``with tg.trace():``."""

    def __init__(self, keep: Iterable[str] | str | None = None, params: Any = None) -> None:
        self.steps: list[TraceStep] = []
        self.grads: dict[str, np.ndarray] = {}
        #: the kept gradients again, by the node whose output they belong to (id(node)) and by leaf
        #: tensor (id(tensor)): what tg.draw needs to put them on the graph's tensors
        self.node_grads: dict[int, np.ndarray] = {}
        self.leaf_grads: dict[int, np.ndarray] = {}
        self.keep_all = keep == "all" or keep is True
        self.keep = set() if keep is None or self.keep_all else {keep} if isinstance(keep, str) else set(keep)
        self._param_names = _parameter_names(params)
        self._anonymous: dict[int, str] = {}
        self._context: Any = None

    # ------------------------------------------------------------------ recording
    def _name(self, tensor: Any, node: Any = None) -> str:
        if tensor is not None:
            if id(tensor) in self._param_names:
                return self._param_names[id(tensor)]
            if tensor.name:
                return tensor.name
        key = id(node) if node is not None else id(tensor)
        if key not in self._anonymous:
            op = node.name if node is not None else "tensor"
            self._anonymous[key] = f"{op}#{len(self._anonymous) + 1}"
        return self._anonymous[key]

    def _wants(self, name: str) -> bool:
        return self.keep_all or name in self.keep

    def _observe(self, node: Any, grad_out: np.ndarray, grads_in: tuple, seconds: float) -> None:
        output = node.output_ref() if node.output_ref is not None else None
        name = self._name(output, node)
        if self._wants(name):
            self.grads[name] = self.node_grads[id(node)] = np.array(grad_out, copy=True)
        for tensor, grad in zip(node.inputs, grads_in):
            if grad is not None and tensor.grad_fn is None and tensor.requires_grad:
                leaf = self._name(tensor)
                if self._wants(leaf):  # a leaf may be reached by several ops: add the contributions
                    total = self.grads[leaf] + grad if leaf in self.grads else np.array(grad, copy=True)
                    self.grads[leaf] = self.leaf_grads[id(tensor)] = total
        norm, low, high = _stats(grad_out)
        self.steps.append(TraceStep(
            step=len(self.steps) + 1, op=node.name, formula=node.formula, output=name,
            output_shape=tuple(np.shape(grad_out)), input_shapes=[t.shape for t in node.inputs],
            grad_norm=norm, grad_min=low, grad_max=high,
            input_grad_norms=[None if g is None else float(np.linalg.norm(np.ravel(g))) for g in grads_in],
            seconds=seconds, fused=node.fused, node_key=id(node)))

    def __enter__(self) -> "Trace":
        self._context = autograd.observe_backward(self._observe)
        self._context.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._context.__exit__(*exc)

    # ------------------------------------------------------------------ reporting
    def _rows(self) -> list[list[str]]:
        rows = []
        for s in self.steps:
            inputs = ", ".join(str(shape) for shape in s.input_shapes)
            op = f"{s.op} (fused)" if s.fused else s.op
            rows.append([str(s.step), op, s.output, f"{s.output_shape} ← [{inputs}]", f"{s.grad_norm:.4g}",
                         f"{s.grad_min:.3g}", f"{s.grad_max:.3g}", f"{s.seconds * 1e3:.3f}", s.formula])
        return rows

    HEADER = ["step", "op", "output", "shapes (out ← in)", "‖g‖", "min g", "max g", "ms", "formula applied"]

    def __str__(self) -> str:
        rows = [self.HEADER] + self._rows()
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.HEADER) - 1)]
        lines = []
        for index, row in enumerate(rows):
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
            if index == 0:
                lines.append("-" * (sum(widths) + 2 * len(widths) + len(self.HEADER[-1])))
        total = sum(s.seconds for s in self.steps) * 1e3
        lines.append(f"{len(self.steps)} backward steps, {total:.3f} ms"
                     + (f"; gradients kept: {', '.join(self.grads)}" if self.grads else ""))
        return "\n".join(lines)

    __repr__ = __str__

    def to_markdown(self) -> str:
        """The table as GitHub Markdown."""
        escape = lambda text: text.replace("|", "\\|")  # noqa: E731
        lines = ["| " + " | ".join(self.HEADER) + " |", "|" + "---|" * len(self.HEADER)]
        lines += ["| " + " | ".join(escape(cell) for cell in row) + " |" for row in self._rows()]
        return "\n".join(lines)

    def to_json(self) -> str:
        """The steps as a JSON list (kept gradients are not included; see ``.grads``)."""
        steps = []
        for s in self.steps:
            record = asdict(s)
            record.pop("node_key")
            steps.append(record)
        return json.dumps(steps, indent=2)


def _parameter_names(params: Any) -> dict[int, str]:
    """id(tensor) -> name, from a Module (dotted names) or a dict of tensors."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        return {id(p): name for name, p in params.named_parameters()}
    return {id(t): name for name, t in dict(params).items()}


def trace(keep: Iterable[str] | str | None = None, params: Any = None) -> Trace:
    """Record every backward step run inside the ``with`` block.

    Args:
        keep: names of tensors whose gradients to keep in ``tr.grads`` (``t.name``, or a parameter
            name from ``params``); ``"all"`` keeps every one (unnamed ones as ``op#k``).
        params: a Module or a dict name -> tensor, to name parameters (e.g. ``fc1.weight``).
    """
    return Trace(keep=keep, params=params)
