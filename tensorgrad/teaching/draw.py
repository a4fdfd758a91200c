"""Draw a computation graph with graphviz: tensors as boxes, ops as ovals with their derivative rule.

    g = tg.draw(loss, params=model)        # a graphviz.Digraph (Jupyter shows it inline)
    tg.render(g, "graph.svg")              # or .png / .dot

    with tg.trace(keep="all") as tr:       # after a traced backward, every tensor shows its
        loss.backward()                    # gradient too, intermediate ones included
    tg.draw(loss, trace=tr)                # step=k: the graph as it stood after backward step k

What the picture says:

* a box is a tensor: its name (a parameter's from ``params=``, ``t.name``, "input" for the data
  fed in, "output"), its shape and dtype, its values (a summary for more than 8) and, once known,
  its gradient. A tensor of one value reads as in micrograd: ``data 0.7071 | grad 0.5``.
* an oval is an op, with the derivative rule its backward applies; each arrow into it is labelled
  with the name the rule gives that input (``a``, ``b``: ``∂a = g·bᵀ`` is the gradient sent back
  along the arrow labelled ``a``). A red dashed arrow is a broadcast, which backward sums over.
* a run of identical blocks of ops (a 1,000-step loop, 20 identical layers) is folded into one
  node, "× 997 more mul": the first and last blocks stay (``fold=False`` draws every op).
* the legend (on with ``trace=``, ``legend=True`` otherwise) explains the colours.

``tensorgrad.teaching.play_backprop(loss, tr)`` plays the frames ``step=1, 2, ...`` with a slider.

The output is deterministic (nodes are numbered in a fixed walk order), so tests can compare DOT
source. Rendering uses the system ``dot`` when it is on PATH, otherwise the ``graphviz-pure``
program installed from PyPI (found in this Python's scripts folder too); with neither, ``render``
writes the ``.dot`` source and says how to render it. A graph too big to lay out, or too big for a
bitmap, is refused with a RuntimeError saying what to do instead, never a crash of the renderer.
"""
from __future__ import annotations

import html
import re
import shutil
import subprocess
import sysconfig
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..tensor import Tensor

#: what draw() returns: a ``graphviz.Digraph`` (graphviz is imported when drawing, so that the
#: core works without it installed)
Digraph = Any

__all__ = ["draw", "render", "dot_program"]

# Binary elementwise ops whose backward sums the gradient over broadcast axes.
BROADCASTING_OPS = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "where"}
SMALL = 8  # tensors with at most this many values show them; larger ones a summary

# Folding: a block of ops (one op, or a layer's few) repeated at least FOLD_AT times in a row is
# drawn as its first block, one "× n more" node, and its last block. Blocks of up to
# LONGEST_BLOCK ops are looked for.
FOLD_AT = 6
LONGEST_BLOCK = 12

# Characters the fonts of graphviz-pure lack (drawn as an empty box), and what to write instead.
GLYPHS = {"⊗": "×", "⋯": "..."}

COLOURS = {
    "parameter": "#cfe8ff",     # a leaf that requires a gradient
    "constant": "#eeeeee",      # a leaf that does not: the input data, a target, a number
    "intermediate": "white",    # a tensor an op made
    "output": "#fff2cc",        # the tensor drawn from (the loss)
    "op": "#f3e5f5",            # an op whose backward has not run (yet)
    "done": "#c8f7c5",          # an op whose backward has run
    "running": "#ffb347",       # the op of the step drawn
}

# Rendering limits: beyond MAX_NODES the layout takes minutes; a bitmap beyond MAX_PIXELS (or
# MAX_SIDE pixels on a side) takes gigabytes, which is what made the renderer abort.
MAX_NODES = 5_000
MAX_PIXELS = 40_000_000
MAX_SIDE = 30_000
BITMAP_FORMATS = {"png", "jpg", "jpeg", "jpe", "gif", "bmp", "tif", "tiff", "webp", "ico"}
DEFAULT_DPI = 96  # what graphviz renders bitmaps at unless the graph sets dpi


# ------------------------------------------------------------------------- the renderer
def dot_program() -> str | None:
    """The program that renders DOT here: ``dot``, else ``graphviz-pure``, on PATH or else in this
    Python's scripts folder (where pip put graphviz-pure: a venv's bin, used without activating
    the venv, is not on PATH); None if there is neither."""
    scripts = sysconfig.get_path("scripts")
    for name in ("dot", "graphviz-pure"):
        found = shutil.which(name) or (scripts and shutil.which(name, path=scripts))
        if found:
            return found
    return None


def _graphviz() -> Any:
    """The graphviz package, imported when a graph is drawn: the core works without it."""
    try:
        import graphviz
    except ImportError as err:
        raise ImportError("draw: drawing a graph needs the graphviz Python package (pip install graphviz)") from err
    return graphviz


def _use_available_dot() -> str | None:
    graphviz = _graphviz()
    program = dot_program()
    if program is not None:
        # the python graphviz package runs this binary for render(), pipe() and Jupyter display
        graphviz.backend.dot_command.DOT_BINARY = Path(program)
    return program


_graph_class: Any = None


def _quiet_digraph() -> Any:
    """The class draw() returns: a ``graphviz.Digraph`` whose ``pipe`` -- what Jupyter's inline
    display calls -- runs quietly (``dot`` warns on stderr about the width of ∂, · and the like)
    and through the same size checks as ``render``. Made on first use, as graphviz is imported
    only when drawing."""
    global _graph_class
    if _graph_class is None:
        class TensorgradGraph(_graphviz().Digraph):
            """A graphviz.Digraph that renders quietly and refuses sizes that crash the renderer."""

            def pipe(self, format=None, renderer=None, formatter=None, neato_no_op=None,  # noqa: A002
                     quiet=True, *, engine=None, encoding=None):
                return _pipe(self, format or self.format, encoding=encoding, renderer=renderer,
                             formatter=formatter, neato_no_op=neato_no_op, quiet=quiet, engine=engine)

        TensorgradGraph.__qualname__ = "TensorgradGraph"
        _graph_class = TensorgradGraph
    return _graph_class


# ------------------------------------------------------------------------- the graph's parts
def _parameter_names(params: Any) -> tuple[dict[int, str], dict[int, Any]]:
    """id(tensor) -> name, and id(parameter) -> (module path, module) that owns it directly."""
    if params is None:
        return {}, {}
    if hasattr(params, "named_modules"):
        names = {id(p): name for name, p in params.named_parameters()}
        owners = {}
        for path, module in params.named_modules():
            for p in module._parameters.values():
                owners[id(p)] = (path, module)
        return names, owners
    return {id(t): name for name, t in dict(params).items()}, {}


def _walk(roots: list[Tensor]) -> tuple[list[Tensor], list[Any]]:
    """Tensors and op nodes reachable from the roots, in a fixed depth-first order (no recursion)."""
    tensors, nodes = [], []
    seen_tensors, seen_nodes = set(), set()
    stack = list(reversed(roots))
    while stack:
        t = stack.pop()
        if id(t) in seen_tensors:
            continue
        seen_tensors.add(id(t))
        tensors.append(t)
        node = t.grad_fn
        if node is not None and id(node) not in seen_nodes:
            seen_nodes.add(id(node))
            nodes.append(node)
            stack.extend(reversed(node.inputs))
    return tensors, nodes


def _users(nodes: list[Any]) -> dict[int, list[Any]]:
    """id(tensor) -> the op nodes that take it as an input (a node twice if it takes it twice)."""
    users: dict[int, list[Any]] = {}
    for node in nodes:
        for t in node.inputs:
            users.setdefault(id(t), []).append(node)
    return users


# ------------------------------------------------------------------------- backward progress
class _Progress:
    """How far backward had got in the frame drawn, and the gradients known by then.

    Without a trace: no op is marked, and the leaves show their ``.grad``. With one: the ops whose
    backward had run by ``step`` are done, the op of ``step`` itself is running (no step: all
    done), and a tensor shows its gradient once every op that uses it has run its backward (the
    output's from the start). An intermediate tensor's gradient is the one its op received: the
    trace keeps it for the tensors of ``keep=`` (all with ``keep="all"``); for the others it has
    its norm, min and max."""

    def __init__(self, trace: Any, step: int | None, users: dict[int, list[Any]]) -> None:
        self.trace, self.users = trace, users
        self.done: set[int] = set()
        self.current: int | None = None
        self.steps: dict[int, Any] = {}  # id(node) -> its TraceStep
        if trace is None:
            return
        if step is not None and not 1 <= step <= len(trace.steps):
            raise ValueError(f"draw: step must be in 1..{len(trace.steps)}, got {step}")
        self.done = {s.node_key for s in (trace.steps if step is None else trace.steps[:step])}
        if step is not None:
            self.current = trace.steps[step - 1].node_key
        self.steps = {s.node_key: s for s in trace.steps}

    def state(self, nodes: Iterable[Any]) -> str:
        """'running', 'done' or 'op' (not run yet) for one op node, or for the ops of a fold."""
        keys = [id(n) for n in nodes]
        if self.current in keys:
            return "running"
        return "done" if self.trace is not None and all(k in self.done for k in keys) else "op"

    def gradient(self, t: Tensor) -> Any:
        """What is known of d output / d t in this frame: an ndarray, a TraceStep (its norm, min
        and max only), or None."""
        if self.trace is None:
            return t.grad if t.grad_fn is None else None  # (only leaves have a .grad)
        if not all(id(n) in self.done for n in self.users.get(id(t), [])):
            return None  # an op that uses t has not sent its share back yet
        if t.grad_fn is None:
            return self.trace.leaf_grads.get(id(t), t.grad)
        key = id(t.grad_fn)
        return self.trace.node_grads.get(key, self.steps.get(key))


# ------------------------------------------------------------------------- folding repeated blocks
@dataclass
class _Fold:
    """A run of identical blocks of ops, drawn as one node between the run's first and last block."""

    nodes: list[Any]               # the op nodes not drawn, in forward order
    block: list[str]               # the op names of one block
    repeats: int                   # how many blocks are not drawn
    input: Tensor                  # what flows in: the output of the first block
    output: Tensor                 # what flows out: the input of the last block (drawn)
    leaves: list[Tensor] = field(default_factory=list)  # leaves the folded ops share with drawn ops
    hidden: set[int] = field(default_factory=set)       # ids of the tensors not drawn
    hidden_parameters: int = 0     # how many of those are leaves that require a gradient
    hidden_constants: int = 0      # and leaves that do not

    def label(self) -> str:
        what = self.block[0] if len(self.block) == 1 else " → ".join(self.block)
        hidden = [f"{len(self.nodes)} ops"]
        for count, kind in ((self.hidden_parameters, "parameters"), (self.hidden_constants, "constants")):
            if count:
                hidden.append(f"{count} {kind}")
        return f"× {self.repeats} more {what}\n({', '.join(hidden)} not drawn: fold=False draws them)"


@dataclass
class _ModuleFold(_Fold):
    """The ops of one module call (a BatchNorm, an attention), drawn as one box (collapse="module")."""

    title: str = ""

    def label(self) -> str:
        hidden = [f"{len(self.nodes)} ops"]
        for count, kind in ((self.hidden_parameters, "parameter"), (self.hidden_constants, "constant")):
            if count:
                hidden.append(f"{count} {kind}{'s' if count > 1 else ''}")
        return f"{self.title}\n({', '.join(hidden)} inside: collapse=None draws them)"


def _module_folds(nodes: list[Any], outputs: dict[int, Tensor], params: Any) -> list[_ModuleFold]:
    """For collapse="module": each call of a module of ``params`` that made several ops, as one box.
    Its ops are those from the call's output back to its inputs (the walk stops there and at
    leaves); a call inside another folded call is part of the outer box."""
    paths = {id(module): path for path, module in params.named_modules()}
    shown = {id(n) for n in nodes}
    folds: list[_ModuleFold] = []
    taken: set[int] = set()
    calls = [(node, module, args) for node in nodes for module, args in node.module_calls if id(module) in paths]
    calls.sort(key=lambda call: paths[id(call[1])].count("."))  # outer modules first
    for end, module, args in calls:
        if id(end) in taken or type(module).__name__ in ("Sequential", "ModuleList", "ModuleDict") or module is params:
            continue
        inputs = {id(a) for a in args if isinstance(a, Tensor)}
        block, leaves, inner, stack, seen = [], [], set(), [end], set()
        while stack:  # iterative walk from the call's output node back to its inputs
            node = stack.pop()
            if id(node) in seen or id(node) not in shown:
                continue
            seen.add(id(node))
            block.append(node)
            for t in node.inputs:
                if id(t) in inputs:
                    continue
                if t.grad_fn is None:
                    leaves.append(t)
                else:
                    inner.add(id(t))
                    stack.append(t.grad_fn)
        if len(block) < 2 or any(id(n) in taken for n in block):
            continue  # one op is drawn as it is; overlapping blocks are left to the outer one
        taken.update(id(n) for n in block)
        first_input = next((a for a in args if isinstance(a, Tensor)), None)
        unique_leaves = list({id(t): t for t in leaves}.values())
        fold = _ModuleFold(nodes=block[::-1], block=[type(module).__name__], repeats=1,
                           input=first_input if first_input is not None else unique_leaves[0],
                           output=outputs[id(end)], leaves=[t for t in unique_leaves if t is not first_input],
                           title=f"{paths[id(module)]}: {type(module).__name__}\n{module.extra_repr()}")
        fold.hidden = inner | {id(t) for t in unique_leaves}
        fold.hidden_parameters = sum(t.requires_grad for t in unique_leaves)
        fold.hidden_constants = len(unique_leaves) - fold.hidden_parameters
        fold.leaves = []  # the module's own leaves are inside the box
        folds.append(fold)
    return folds


def _signature(node: Any, output: Tensor) -> tuple:
    """What makes two ops 'the same' for folding: the op, the shape and dtype of each input and of
    the output, and which inputs are parameters (not the values). The data a first layer takes
    and the activations the next ones take are alike: the first layer folds with the others."""
    inputs = tuple((t.grad_fn is None and t.requires_grad, t.shape, t.dtype.str) for t in node.inputs)
    return node.name, node.fused, inputs, output.shape


def _chains(nodes: list[Any], outputs: dict[int, Tensor], users: dict[int, list[Any]],
            roots: set[int]) -> list[list[Any]]:
    """The graph's chains: runs of ops where each op's output goes only to the next op, whose
    other inputs are leaves. Each chain in forward order (the op nearest the root last)."""
    following = {}
    for node in nodes:
        out = outputs[id(node)]
        after = users.get(id(out), [])
        if id(out) in roots or len(after) != 1:
            continue
        if sum(t.grad_fn is not None for t in after[0].inputs) == 1:
            following[id(node)] = after[0]
    followers = {id(n) for n in following.values()}
    chains = []
    for node in nodes:
        if id(node) in followers:
            continue  # not the start of a chain
        chain = [node]
        while id(chain[-1]) in following:
            chain.append(following[id(chain[-1])])
        chains.append(chain)
    return chains


def _repeats(signatures: list[tuple], start: int, length: int) -> int:
    """How many times the block signatures[start:start + length] repeats from start on."""
    block = signatures[start:start + length]
    if len(block) < length:
        return 0
    count = 1
    while signatures[start + count * length:start + (count + 1) * length] == block:
        count += 1
    return count


def _find_folds(nodes: list[Any], outputs: dict[int, Tensor], users: dict[int, list[Any]],
                roots: set[int]) -> list[_Fold]:
    """Every run of at least FOLD_AT identical blocks along a chain, shortest blocks first."""
    folds = []
    for chain in _chains(nodes, outputs, users, roots):
        if len(chain) < FOLD_AT:
            continue
        signatures = [_signature(node, outputs[id(node)]) for node in chain]
        start = 0
        while start < len(chain):
            for length in range(1, LONGEST_BLOCK + 1):
                count = _repeats(signatures, start, length)
                if count >= FOLD_AT:  # keep the first and the last block, fold the others
                    folded = chain[start + length:start + (count - 1) * length]
                    folds.append(_fold(folded, [n.name for n in folded[:length]], count - 2, outputs, users, roots))
                    start += count * length
                    break
            else:
                start += 1
    return folds


def _fold(folded: list[Any], block: list[str], repeats: int, outputs: dict[int, Tensor],
          users: dict[int, list[Any]], roots: set[int]) -> _Fold:
    """The fold of these op nodes: what flows in and out, and which tensors are not drawn."""
    inside = {id(n) for n in folded}
    flowing_in = next(t for t in folded[0].inputs if t.grad_fn is not None)
    fold = _Fold(folded, block, repeats, input=flowing_in, output=outputs[id(folded[-1])])
    fold.hidden = {id(outputs[id(n)]) for n in folded[:-1]}
    seen = set()
    for node in folded:
        for t in node.inputs:
            if t.grad_fn is not None or id(t) in seen:
                continue
            seen.add(id(t))
            if id(t) not in roots and all(id(user) in inside for user in users[id(t)]):
                fold.hidden.add(id(t))
                if t.requires_grad:
                    fold.hidden_parameters += 1
                else:
                    fold.hidden_constants += 1
            else:
                fold.leaves.append(t)  # also used outside the fold: drawn, with an arrow to it
    return fold


# ------------------------------------------------------------------------- what each node says
def _drawable(text: str) -> str:
    """``text`` with the characters the renderer's fonts lack replaced (see GLYPHS)."""
    for glyph, replacement in GLYPHS.items():
        text = text.replace(glyph, replacement)
    return text


def _values(array: np.ndarray) -> str:
    if array.size <= SMALL:
        return np.array2string(np.asarray(array), precision=3, separator=", ", suppress_small=True).replace("\n", "")
    finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
    if finite.size == 0:
        return "no finite values"
    return (f"mean {finite.mean():.3g}  std {finite.std():.3g}\n"
            f"min {finite.min():.3g}  max {finite.max():.3g}")


def _number(value: Any) -> str:
    """One value, to 4 significant digits: 0.7071."""
    value = np.asarray(value).reshape(-1)[0]
    return f"{value:.4g}" if np.asarray(value).dtype.kind in "fc" else str(value)


def _tensor_label(t: Tensor, title: str, show_data: bool, show_grad: bool, gradient: Any) -> str:
    """A tensor's box: title, shape and dtype, values, gradient. A tensor of one value says
    ``data 0.7071 | grad 0.5`` on one line (and a 0-d one skips its shape)."""
    lines = [title] if title else []
    if t.size == 1:
        if t.ndim:
            lines.append(f"{t.shape} {t.dtype}")
        parts = ["data " + _number(t.data)] if show_data else []
        if show_grad and gradient is not None:
            # a TraceStep of a one-value gradient: its min is the value
            parts.append("grad " + _number(gradient if isinstance(gradient, np.ndarray) else gradient.grad_min))
        if parts:
            lines.append(" | ".join(parts))
    else:
        lines.append(f"{t.shape} {t.dtype}")
        if show_data:
            lines.append(_values(t.data))
        if show_grad and gradient is not None:
            if isinstance(gradient, np.ndarray):
                lines.append("grad: " + _values(gradient))
            else:  # not kept by the trace: what its table shows
                lines.append(f"grad: ‖g‖ {gradient.grad_norm:.3g}  min {gradient.grad_min:.3g}  "
                             f"max {gradient.grad_max:.3g}")
    return "\n".join(lines) or f"{t.shape} {t.dtype}"


def _formula_lines(formula: str) -> str:
    """One line per input's derivative (the formulas separate them with ",  " or ";  "), and the
    remark in parentheses on a line of its own: narrow nodes, and ∂a beside ∂b."""
    return re.sub(r"[,;] {2}", "\n", formula).replace("   (", "\n(")


def _op_label(node: Any, module_owner: Any, show_formulas: bool) -> str:
    if module_owner is not None:
        path, module = module_owner
        text = f"{path}: {type(module).__name__}\n{module.extra_repr()}"
    else:
        text = node.name
    if node.fused:  # one node computing several ops (model.fuse()): a double border says so
        text += f"  (fused: {len(node.fused)} ops, one node)"
    if show_formulas and node.formula:
        text += "\n" + _formula_lines(node.formula)
    return _drawable(text)


def _input_labels(node: Any) -> list[str | None]:
    """The name the op's formula gives each input, to label its arrow: ("a", "b") for matmul,
    a0, a1, ... for the aᵢ of concatenate; None for each when the names do not match the inputs."""
    names, count = node.input_names, len(node.inputs)
    if len(names) == 1 and names[0].endswith("ᵢ"):
        return [f"{names[0][:-1]}{i}" for i in range(count)]
    return list(names) if len(names) == count else [None] * count


def _input_arrow(node: Any, t: Tensor, out: Tensor, label: str | None) -> dict[str, str]:
    """The attributes of the arrow from input ``t`` into ``node``: its name in the formula, and
    red and dashed when the op broadcast it (then backward sums the gradient back to its shape)."""
    if node.name in BROADCASTING_OPS and t.shape != out.shape:
        text = f"broadcast {t.shape}→{out.shape}\nbackward sums"
        return {"label": f"{label}: {text}" if label else text, "color": "red", "fontcolor": "red", "style": "dashed"}
    return {"label": label} if label else {}


# ------------------------------------------------------------------------- layout choices
def _levels(names: list[str], arrows: list[tuple[str, str, dict]]) -> dict[str, int]:
    """Each drawn node's distance from the output: the length of its longest path to a node no
    arrow leaves (Kahn's algorithm, backwards; no recursion)."""
    leaving = {name: 0 for name in names}
    entering: dict[str, list[str]] = {name: [] for name in names}
    for tail, head, _ in arrows:
        leaving[tail] += 1
        entering[head].append(tail)
    level = {name: 0 for name in names}
    ready = [name for name in names if leaving[name] == 0]
    while ready:
        name = ready.pop()
        for tail in entering[name]:
            level[tail] = max(level[tail], level[name] + 1)
            leaving[tail] -= 1
            if leaving[tail] == 0:
                ready.append(tail)
    return level


def _size(label: str, shape: str) -> tuple[float, float]:
    """A node's rough width and height in inches, as dot sizes it (10-point Helvetica: ~0.063 in
    a character, 0.17 in a line; an ellipse around the same text is ~1.45 times as wide)."""
    lines = label.split("\n")
    width = 0.25 + 0.063 * max(len(line) for line in lines)
    if shape == "ellipse":
        return width * 1.45, 0.17 + 0.23 * len(lines)
    return width, max(0.1 + 0.17 * len(lines), 0.5)


SCREEN = (13.0, 16.0)  # inches: a window 1,250 pixels wide at 96 dpi, and two screens of scrolling down


def _auto_rankdir(sizes: dict[str, tuple[float, float]], levels: dict[str, int], labelled: bool) -> str:
    """"TB" or "LR": the direction in which the graph, shrunk to fit a screen's width (and a
    page of scrolling down), keeps its text largest; LR when both do as well. So a shallow graph
    lies left to right, and a chain too long for the screen's width top to bottom.

    Estimated from the nodes' sizes, rank by rank (the nodes at one distance from the output
    share a rank): along the direction, the ranks' largest nodes add up; across it, the nodes of
    the fullest rank."""
    ranks: dict[int, list[tuple[float, float]]] = {}
    for name, level in levels.items():
        ranks.setdefault(level, []).append(sizes[name])
    gap = 0.5 if labelled else 0.3  # between ranks (ranksep), and the arrows' labels

    def extent(along: int) -> tuple[float, float]:
        across = 1 - along
        length = sum(max(s[along] for s in rank) for rank in ranks.values()) + gap * (len(ranks) - 1)
        # dot seldom packs the fullest rank tight: ~1.3 times its nodes and gaps
        breadth = 1.3 * max(sum(s[across] for s in rank) + 0.25 * (len(rank) - 1) for rank in ranks.values())
        return length, breadth

    def scale(width: float, height: float) -> float:  # 1: fits as it is
        return min(1.0, SCREEN[0] / width, SCREEN[1] / height)

    lr_width, lr_height = extent(0)
    tb_height, tb_width = extent(1)
    return "TB" if scale(tb_width, tb_height) > scale(lr_width, lr_height) else "LR"


# What the legend explains: (kind, HTML cell attributes, text).
LEGEND = [
    [("parameter", f'BGCOLOR="{COLOURS["parameter"]}" STYLE="rounded"', "needs a gradient (a parameter)"),
     ("constant", f'BGCOLOR="{COLOURS["constant"]}" STYLE="rounded"', "input or constant: no gradient"),
     ("intermediate", 'STYLE="rounded"', "made by an op"),
     ("output", f'BGCOLOR="{COLOURS["output"]}" STYLE="rounded"', "output")],
    [("op", f'BGCOLOR="{COLOURS["op"]}"', "op: its derivative rule"),
     ("done", f'BGCOLOR="{COLOURS["done"]}"', "backward done"),
     ("running", f'BGCOLOR="{COLOURS["running"]}"', "backward running (this step)")],
    [("operand", "", "arrow label a, b: the input that ∂a, ∂b are for"),
     ("broadcast", 'COLOR="red" STYLE="dashed"', '<FONT COLOR="red">red dashed: broadcast, backward sums</FONT>'),
     ("fused", "", "(fused: ...) double border: several ops, one node"),
     ("fold", "", "× n more: a repeated block, folded")],
]


def _legend(kinds: set[str]) -> str:
    """An HTML-like graphviz label: a table with one cell per kind of node or arrow the graph
    holds, a row (a table of its own) for tensors, one for ops, one for marks."""
    rows = ["<TR><TD><B>legend</B></TD></TR>"]
    for row in LEGEND:
        cells = [f'<TD BORDER="1" {attributes}>{text if "<FONT" in text else html.escape(text)}</TD>'
                 for kind, attributes, text in row if kind in kinds]
        if cells:
            rows.append('<TR><TD><TABLE BORDER="0" CELLSPACING="3" CELLPADDING="3"><TR>'
                        + "".join(cells) + "</TR></TABLE></TD></TR>")
    return '<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="0">' + "".join(rows) + "</TABLE>>"


# ------------------------------------------------------------------------- draw
def draw(
    root: Tensor | list[Tensor],
    *,
    params: Any = None,
    show_data: bool = True,
    show_grad: bool = True,
    show_formulas: bool = True,
    collapse: str | None = None,
    rankdir: str | None = None,
    trace: Any = None,
    step: int | None = None,
    fold: bool = True,
    legend: bool | None = None,
) -> Digraph:
    """The computation graph that produced ``root`` as a ``graphviz.Digraph``.

    Args:
        root: the output tensor (e.g. the loss), or a list of them.
        params: a Module or a dict name -> tensor, to label the parameters. A Module names them
            itself (``0.weight``, ``fc1.bias``: its ``named_parameters()``), no ``t.name`` needed.
        show_data: show each tensor's values (small tensors) or a summary (large ones).
        show_grad: show each tensor's gradient, the same way.
        show_formulas: print each op's derivative rule.
        collapse: ``"module"``: each module of ``params`` drawn as one node: a layer of one op as
            that op with its parameters hidden, a module of several ops (a BatchNorm, a LayerNorm,
            an attention, an LSTM step) as one box saying how many ops it holds.
        rankdir: graph direction, "TB" (top to bottom) or "LR" (left to right); None (default)
            picks the one that fits a screen best: TB for deep chains, LR for shallow wide graphs.
        trace: a ``tg.trace`` record of the backward pass, to show its gradients and frames.
        step: with ``trace``, draw the graph as it stood after backward step ``step``: the op being processed highlighted, gradients known so far filled in, those
            of intermediate tensors too (``tg.trace(keep="all")`` keeps every one; without keep,
            a large intermediate shows its gradient's norm, min and max). No step: after the
            last step, every op done.
        fold: draw a run of at least 6 identical blocks of ops (a loop, identical layers) as its
            first block, one "× n more" node and its last block. False draws every op.
        legend: add a legend explaining the colours; None (default) adds it when ``trace`` is given.

    A tensor's box is titled with its parameter name, else its ``t.name``, else "output" (the
    root), "input" (the constant array farthest from the output: the data) or "constant" (the
    other constant arrays: targets, masks).

    The result is a ``graphviz.Digraph``: Jupyter shows it inline (quietly), ``tg.render`` writes it.
    """
    if collapse not in (None, "module"):
        raise ValueError(f"draw: collapse must be None or 'module', got {collapse!r}")
    if collapse == "module" and not hasattr(params, "named_modules"):
        raise ValueError("draw: collapse='module' needs params=<the Module>")
    if rankdir not in (None, "LR", "TB", "RL", "BT"):
        raise ValueError(f"draw: rankdir must be None, 'LR' or 'TB' (or 'RL', 'BT'), got {rankdir!r}")
    _use_available_dot()  # so that Jupyter can show the returned graph inline
    roots = list(root) if isinstance(root, (list, tuple)) else [root]
    for r in roots:
        if not isinstance(r, Tensor):
            raise TypeError(f"draw: expects the tensor whose graph to draw (e.g. the loss), or a list of "
                            f"them, got {type(r).__name__}")
    tensors, nodes = _walk(roots)
    names, owners = _parameter_names(params)
    users = _users(nodes)
    outputs = {id(t.grad_fn): t for t in tensors if t.grad_fn is not None}
    progress = _Progress(trace, step, users)
    root_ids = {id(r) for r in roots}
    module_folds = _module_folds(nodes, outputs, params) if collapse == "module" else []
    in_module_fold = {id(n) for f in module_folds for n in f.nodes}
    folds = module_folds + ([f for f in _find_folds(nodes, outputs, users, root_ids)
                             if not any(id(n) in in_module_fold for n in f.nodes)] if fold else [])

    # 1. What is drawn: the tensors and ops not folded away, and the arrows between them.
    in_module = {id(t) for t in tensors if collapse == "module" and id(t) in owners}  # parameters
    folded_nodes = {id(n) for f in folds for n in f.nodes}
    hidden = in_module.union(*(f.hidden for f in folds))
    shown_tensors = [t for t in tensors if id(t) not in hidden]
    shown_nodes = [n for n in nodes if id(n) not in folded_nodes]
    tensor_id = {id(t): f"t{i}" for i, t in enumerate(tensors)}
    node_id = {id(n): f"op{i}" for i, n in enumerate(nodes)}
    arrows: dict[str, list[tuple[str, str, dict]]] = {}  # op or fold -> arrows out of and into it
    kinds = {"op"} | ({"done", "running"} if trace is not None else set())
    for node in shown_nodes:
        out = outputs[id(node)]
        name = node_id[id(node)]
        arrows[name] = [(name, tensor_id[id(out)], {})]
        for t, label in zip(node.inputs, _input_labels(node)):
            if id(t) not in in_module:
                attributes = _input_arrow(node, t, out, label)
                arrows[name].append((tensor_id[id(t)], name, attributes))
                if label:
                    kinds.add("operand")
                if "color" in attributes:
                    kinds.add("broadcast")
    for i, f in enumerate(folds):
        arrows[f"fold{i}"] = [(f"fold{i}", tensor_id[id(f.output)], {})]
        arrows[f"fold{i}"] += [(tensor_id[id(t)], f"fold{i}", {}) for t in [f.input, *f.leaves] if id(t) not in in_module]
    all_arrows = [arrow for group in arrows.values() for arrow in group]
    levels = _levels([tensor_id[id(t)] for t in shown_tensors] + list(arrows), all_arrows)

    # 2. What each node says, and its colours.
    # constant leaves of data (not numbers): the one(s) farthest from the output are the input
    constants = {tensor_id[id(t)] for t in shown_tensors if t.grad_fn is None and not t.requires_grad and t.ndim}
    farthest = max((levels[name] for name in constants), default=None)
    boxes: dict[str, tuple[str, dict]] = {}  # name -> (label, attributes): tensors, then ops and folds
    for t in shown_tensors:
        if t.grad_fn is None:
            kind = "parameter" if t.requires_grad else "constant"
        else:
            kind = "output" if t is roots[0] else "intermediate"
        title = names.get(id(t)) or t.name or ("output" if t is roots[0] else "")
        if not title and tensor_id[id(t)] in constants:
            title = "input" if levels[tensor_id[id(t)]] == farthest else "constant"
        label = _tensor_label(t, title, show_data, show_grad, progress.gradient(t) if show_grad else None)
        boxes[tensor_id[id(t)]] = label, {"fillcolor": COLOURS[kind], "shape": "box", "style": "filled,rounded"}
        kinds.add(kind)
    for node in shown_nodes:
        module_owner = next((owners[id(t)] for t in node.inputs if id(t) in in_module), None)
        attributes = {"fillcolor": COLOURS[progress.state([node])], "shape": "ellipse", "style": "filled"}
        if node.fused:
            attributes["peripheries"] = "2"
            kinds.add("fused")
        boxes[node_id[id(node)]] = _op_label(node, module_owner, show_formulas), attributes
    for i, f in enumerate(folds):
        boxes[f"fold{i}"] = _drawable(f.label()), {"fillcolor": COLOURS[progress.state(f.nodes)], "shape": "box3d",
                                                    "style": "filled"}
        kinds.add("fold")

    # 3. The graph, in the direction that fits, with its legend.
    if rankdir is None:
        sizes = {name: _size(label, attributes["shape"]) for name, (label, attributes) in boxes.items()}
        rankdir = _auto_rankdir(sizes, levels, labelled=any(a for _, _, a in all_arrows))
    graph_attr = {"rankdir": rankdir, "ranksep": "0.3", "fontsize": "11"}
    if legend or (legend is None and trace is not None):
        graph_attr.update({"label": _legend(kinds), "labelloc": "b", "fontname": "Helvetica"})
    graph = _quiet_digraph()("tensorgrad", graph_attr=graph_attr,
                             node_attr={"fontname": "Helvetica", "fontsize": "10"},
                             edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    for t in shown_tensors:
        label, attributes = boxes[tensor_id[id(t)]]
        graph.node(tensor_id[id(t)], label, **attributes)
    for name, group in arrows.items():  # each op (and fold), then its arrows
        label, attributes = boxes[name]
        graph.node(name, label, **attributes)
        for tail, head, attributes in group:
            graph.edge(tail, head, **attributes)
    return graph


# ------------------------------------------------------------------------- render
def render(graph: Digraph, path: str | Path, format: str | None = None) -> Path:  # noqa: A002
    """Write ``graph`` to ``path`` (.svg, .png or .dot; the suffix gives the format unless
    ``format`` names one, e.g. ``format="png"`` for a path without a suffix).

    Returns the path written. Without a ``dot`` program it writes the DOT source next to
    ``path`` and raises RuntimeError saying how to render it. A graph too big to render (more
    than 5,000 nodes, or a bitmap over 40 million pixels) raises RuntimeError with what to do
    instead; so does a failure of the renderer, naming it and the graph's size.
    """
    path = Path(path)
    format = format or path.suffix.lstrip(".") or "svg"
    if format in ("dot", "gv"):
        path.write_text(graph.source)
        return path
    if _use_available_dot() is None:
        source = path.with_suffix(".dot")
        source.write_text(graph.source)
        raise RuntimeError(f"render: no Graphviz 'dot' program found; wrote the DOT source to {source}. "
                           f"Install one (`pip install graphviz-pure` or your system's graphviz package) "
                           f"or paste the source into any Graphviz viewer")
    path.write_bytes(_pipe(graph, format))
    return path


def _count(graph: Digraph) -> tuple[int, int]:
    """How many nodes and edges the graph's DOT statements declare (roughly, for a graphviz.Source)."""
    statements = graph.body if hasattr(graph, "body") else graph.source.splitlines()
    edges = sum(1 for line in statements if " -> " in line or " -- " in line)
    nodes = sum(1 for line in statements if re.match(r"\t[\w\"]", line) and " -> " not in line and " -- " not in line)
    return nodes, edges


def _pipe(graph: Digraph, format: str | None, encoding: str | None = None, quiet: bool = True,  # noqa: A002
          **options: Any) -> Any:
    """``graph.pipe(format)``, quietly (no warnings about the widths of ∂ and ·), after checking
    that the renderer can do it: at most MAX_NODES nodes, and for a bitmap (png, jpeg) a layout
    of at most MAX_PIXELS. A failure of the renderer becomes a RuntimeError naming the program,
    the graph's size and the renderer's message."""
    pipe = _graphviz().piping.Pipe.pipe  # the graphviz package's own (TensorgradGraph.pipe calls this function)
    program = Path(_use_available_dot() or "dot").name
    nodes, edges = _count(graph)
    size = f"{nodes:,} nodes and {edges:,} edges"
    if nodes > MAX_NODES:
        raise RuntimeError(f"render: the graph has {size}, more than {program} lays out in reasonable time "
                           f"({MAX_NODES:,} nodes at most). Draw less: tg.draw(..., fold=True) folds repeated "
                           f"blocks, collapse='module' folds each layer, or draw a smaller model or batch; the "
                           f"DOT source (render to .dot) has it all")
    try:
        if format in BITMAP_FORMATS:
            layout = pipe(graph, format="plain", quiet=True, encoding="utf-8", **options)
            _, _, width, height = layout.split("\n", 1)[0].split()[:4]  # "graph scale width height"
            dpi = float(getattr(graph, "graph_attr", {}).get("dpi", DEFAULT_DPI))
            pixels = [round((float(inches) + 0.11) * dpi) for inches in (width, height)]
            if pixels[0] * pixels[1] > MAX_PIXELS or max(pixels) > MAX_SIDE:
                raise RuntimeError(
                    f"render: the graph ({size}) would be a {pixels[0]:,} x {pixels[1]:,} pixel {format}, too big "
                    f"to draw ({MAX_PIXELS // 1_000_000} million pixels at most). Write .svg instead (a browser "
                    f"zooms it), or draw less: tg.draw(..., fold=True), collapse='module', a smaller graph")
        return pipe(graph, format=format, quiet=quiet, encoding=encoding, **options)
    except subprocess.CalledProcessError as err:
        stderr = err.stderr.decode(errors="replace") if isinstance(err.stderr, bytes) else str(err.stderr or "")
        reason = next((line for line in stderr.splitlines() if line.strip() and "Warning" not in line), "")
        instead = "Write .svg instead, or draw less" if format in BITMAP_FORMATS else "Draw less"
        raise RuntimeError(f"render: {program} failed (exit status {err.returncode}) drawing a graph of {size} as "
                           f"{format}{': ' + reason if reason else ''}. {instead}: tg.draw(..., fold=True), "
                           f"collapse='module', a smaller graph") from None
