"""Watch backpropagation run: every backward step, the formula it applied, and its gradients.

    with tg.trace(keep=["h1", "logits"], params=model) as tr:
        loss.backward()
    print(tr)                 # a table: step, op, output ← inputs, shapes, ‖g‖, ‖∂input‖, formula
    tr.grads["h1"]            # d loss / d h1, kept without any retain_grad boilerplate
    print(tr.table(numbers=True))   # one-element steps with the numbers put into the formula
    tr.to_markdown(); tr.to_json()

The formula printed is the ``formula`` string the op declares beside its ``backward`` -- the
same one ``tg.draw`` shows -- so there is no second table of formulas to drift. Its symbols are
replaced by the names of the tensors they stand for when those have names (a parameter's, from
``params=``, or ``t.name``): linear's ``∂W = gᵀ·x`` reads ``∂fc1.weight = gᵀ·x`` in the row of
``fc1``. When an input was broadcast in forward, the row says over which axes backward summed
its gradient (a bias added to every row of a batch: "Σ over axis 0").
"""
from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import numpy as np

from .. import autograd

__all__ = ["trace", "Trace", "TraceStep"]

NO_NAME = "–"  # an input with no name that needs no gradient: data, a target, a constant


@dataclass
class TraceStep:
    """One backward step: an op received the gradient of its output and produced its inputs'."""

    step: int
    op: str
    formula: str                     # as the op declares it
    output: str                      # the output tensor's name (or op#k)
    output_shape: tuple[int, ...]
    input_shapes: list[tuple[int, ...]]
    grad_norm: float                 # of the gradient arriving at the op's output
    grad_min: float
    grad_max: float
    input_grad_norms: list[float | None]  # of each input's gradient (None: not needed)
    seconds: float
    fused: tuple[str, ...] = ()      # the ops a fused node computes ("linear", "relu"), else ()
    inputs: list[str] = field(default_factory=list)  # each input's name (op#k, or – for a constant)
    named_formula: str = ""          # the formula with the inputs' names for its symbols
    numbers: str | None = None       # one-element steps: the formula with the numbers put in
    summed: list[str] = field(default_factory=list)  # "Σ over axis 0 for b1": broadcasts undone
    node_key: int = field(repr=False, default=0)  # identifies the op node (for tg.draw frames)


def _stats(array: np.ndarray) -> tuple[float, float, float]:
    if array.size == 0:
        return 0.0, 0.0, 0.0
    return float(np.linalg.norm(array.ravel())), float(array.min()), float(array.max())


def substitute(formula: str, symbols: dict[str, str]) -> str:
    """``formula`` with each whole-word symbol of ``symbols`` replaced: ``substitute("∂a = g·bᵀ",
    {"b": "W1"})`` is ``"∂a = g·W1ᵀ"``. A symbol is whole when no ASCII letter or digit touches
    it, so the ``a`` of ``g·a`` is replaced, the one of ``mean`` is not, and ``Wᵀ`` keeps its ᵀ."""
    if not symbols:
        return formula
    alternatives = "|".join(re.escape(symbol) for symbol in sorted(symbols, key=len, reverse=True))
    return re.sub(rf"(?<![A-Za-z0-9_])({alternatives})(?![A-Za-z0-9_])", lambda m: symbols[m.group(1)], formula)


def summed_axes(raw_shape: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes of ``raw_shape`` (an op's gradient in the broadcast shape it computed with) that
    the engine summed to give ``shape`` (its input's): new leading axes, and axes of length 1."""
    extra = len(raw_shape) - len(shape)
    return tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1 and raw_shape[extra + i] != 1)


def _number(value: float) -> str:
    text = f"{value:.4g}"
    return f"({text})" if text.startswith("-") else text


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

    def _input_name(self, tensor: Any) -> str:
        """An input's name: a parameter's or the user's, an intermediate's op#k (the name its own
        step's output has), or – for a constant that needs no gradient."""
        if tensor.grad_fn is None and not tensor.requires_grad and not tensor.name and id(tensor) not in self._param_names:
            return NO_NAME
        return self._name(tensor, tensor.grad_fn)

    def _wants(self, name: str) -> bool:
        return self.keep_all or name in self.keep

    def _observe(self, node: Any, grad_out: np.ndarray, raw_grads: tuple, grads_in: list, seconds: float) -> None:
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
        labels = [self._input_name(t) for t in node.inputs]
        named = {symbol: label for symbol, label in zip(node.input_names, labels)
                 if len(node.input_names) == len(labels) and label != NO_NAME and "#" not in label}
        summed = []
        for label, symbol, raw, grad in zip(labels, node.input_names or [""] * len(labels), raw_grads, grads_in):
            if grad is not None and raw is not None and np.shape(raw) != grad.shape:
                axes = summed_axes(np.shape(raw), grad.shape)
                where = "axis" if len(axes) == 1 else "axes"
                summed.append(f"∂{label if label != NO_NAME else symbol}: Σ over {where} "
                              f"{', '.join(map(str, axes))}, {np.shape(raw)} → {grad.shape}")
        norm, low, high = _stats(grad_out)
        self.steps.append(TraceStep(
            step=len(self.steps) + 1, op=node.name, formula=node.formula, output=name,
            output_shape=tuple(np.shape(grad_out)), input_shapes=[t.shape for t in node.inputs],
            grad_norm=norm, grad_min=low, grad_max=high,
            input_grad_norms=[None if g is None else float(np.linalg.norm(np.ravel(g))) for g in grads_in],
            seconds=seconds, fused=node.fused, inputs=labels, named_formula=substitute(node.formula, named),
            numbers=_with_numbers(node, output, grad_out, grads_in, labels), summed=summed, node_key=id(node)))

    def __enter__(self) -> "Trace":
        self._context = autograd.observe_backward(self._observe)
        self._context.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._context.__exit__(*exc)

    # ------------------------------------------------------------------ reporting
    def _columns(self, numbers: bool, timing: bool) -> tuple[list[str], list[list[str]]]:
        header = ["step", "op", "output ← inputs", "shapes (out ← in)", "‖g‖", "‖∂input‖"]
        header += ["ms"] if timing else []
        header += ["formula applied"]
        rows = []
        for s in self.steps:
            op = f"{s.op} (fused)" if s.fused else s.op
            norms = ", ".join("–" if n is None else f"{n:.3g}" for n in s.input_grad_norms)
            shapes = ", ".join(str(shape) for shape in s.input_shapes)
            formula = s.numbers if numbers and s.numbers else s.named_formula or s.formula
            if s.summed:
                formula += "   [" + "; ".join(s.summed) + "]"
            row = [str(s.step), op, f"{s.output} ← {', '.join(s.inputs)}", f"{s.output_shape} ← [{shapes}]",
                   f"{s.grad_norm:.4g}", norms] + ([f"{s.seconds * 1e3:.3f}"] if timing else []) + [formula]
            rows.append(row)
        return header, rows

    def table(self, numbers: bool = False, timing: bool = False) -> str:
        """The steps as an aligned text table (what ``print(tr)`` shows).

        Args:
            numbers: for steps on one-element tensors (micrograd's scalars), show the formula with
                the numbers put in, as one does by hand: ``∂x1 = 0.5·(-3) = -1.5``.
            timing: add each step's time in milliseconds.
        """
        header, rows = self._columns(numbers, timing)
        rows = [header] + rows
        widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
        lines = []
        for index, row in enumerate(rows):
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
            if index == 0:
                lines.append("-" * (sum(widths) + 2 * len(widths) + len(header[-1])))
        total = f", {sum(s.seconds for s in self.steps) * 1e3:.3f} ms" if timing else ""
        lines.append(f"{len(self.steps)} backward steps{total}"
                     + (f"; gradients kept: {', '.join(self.grads)}" if self.grads else ""))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    __repr__ = __str__

    def to_markdown(self, numbers: bool = False, timing: bool = False) -> str:
        """The table as GitHub Markdown (options as ``table``)."""
        escape = lambda text: text.replace("|", "\\|")  # noqa: E731
        header, rows = self._columns(numbers, timing)
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(escape(cell) for cell in row) + " |" for row in rows]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """The table in Jupyter."""
        header, rows = self._columns(numbers=False, timing=False)
        cells = lambda row, tag: "".join(f"<{tag}>{html.escape(cell)}</{tag}>" for cell in row)  # noqa: E731
        body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
        kept = f"<p>gradients kept: {html.escape(', '.join(self.grads))}</p>" if self.grads else ""
        return (f"<table><thead><tr>{cells(header, 'th')}</tr></thead><tbody>{body}</tbody></table>"
                f"<p>{len(self.steps)} backward steps</p>{kept}")

    def to_json(self) -> str:
        """The steps as a JSON list (kept gradients are not included; see ``.grads``)."""
        steps = []
        for s in self.steps:
            record = asdict(s)
            record.pop("node_key")
            steps.append(record)
        return json.dumps(steps, indent=2)


def _with_numbers(node: Any, output: Any, grad_out: np.ndarray, grads_in: list, labels: list[str]) -> str | None:
    """For a step on one-element tensors, each input's gradient as its formula with the numbers
    put in and the result: "∂x1 = 0.5·(-3) = -1.5" (the g, y and input symbols replaced by their
    values). None for larger tensors, fused nodes, or an op whose formula names no inputs."""
    if node.fused or np.size(grad_out) != 1 or any(t.data.size != 1 for t in node.inputs):
        return None
    if len(node.input_names) != len(node.inputs):
        return None
    values = {"g": _number(float(np.ravel(grad_out)[0]))}
    if output is not None and output.data.size == 1:
        values["y"] = _number(float(output.data.ravel()[0]))
    values.update({symbol: _number(float(t.data.ravel()[0])) for symbol, t in zip(node.input_names, node.inputs)})
    parts = []
    for segment in node.formula.split("  (")[0].split(",  "):  # "∂a = g·b,  ∂b = g·a   (remark)"
        symbol, _, expression = segment.strip().partition(" = ")
        symbol = symbol.lstrip("∂")
        if symbol not in node.input_names:
            continue
        index = node.input_names.index(symbol)
        if grads_in[index] is None:
            continue
        label = labels[index] if labels[index] != NO_NAME else symbol
        worked, result = substitute(expression, values), f"{float(np.ravel(grads_in[index])[0]):.4g}"
        plain = worked.replace("−", "-")  # (the formula's minus sign, the number's hyphen)
        parts.append(f"∂{label} = {worked}" + ("" if plain in (result, f"({result})") else f" = {result}"))
    return ",  ".join(parts) or None


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
