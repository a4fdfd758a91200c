"""Draw a computation graph with graphviz: tensors as boxes, ops as ovals with their derivative rule.

    g = tg.draw(loss, params=model)        # a graphviz.Digraph (Jupyter shows it inline)
    tg.render(g, "graph.svg")              # or .png / .dot

The output is deterministic (nodes are numbered in a fixed walk order), so tests can compare DOT
source. Rendering uses the system ``dot`` when it is on PATH, otherwise the ``graphviz-pure``
program installed from PyPI (found in this Python's scripts folder too); with neither, ``render``
writes the ``.dot`` source and says how to render it.
"""
from __future__ import annotations

import shutil
import sysconfig
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


def _values(array: np.ndarray) -> str:
    if array.size <= SMALL:
        return np.array2string(np.asarray(array), precision=3, separator=", ", suppress_small=True).replace("\n", "")
    finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
    if finite.size == 0:
        return "no finite values"
    return (f"mean {finite.mean():.3g}  std {finite.std():.3g}\n"
            f"min {finite.min():.3g}  max {finite.max():.3g}")


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


def draw(
    root: Tensor | list[Tensor],
    *,
    params: Any = None,
    show_data: bool = True,
    show_grad: bool = True,
    show_formulas: bool = True,
    collapse: str | None = None,
    rankdir: str = "LR",
    trace: Any = None,
    step: int | None = None,
) -> Digraph:
    """The computation graph that produced ``root`` as a ``graphviz.Digraph``.

    Args:
        root: the output tensor (e.g. the loss), or a list of them.
        params: a Module or a dict name -> tensor, to label parameters (``fc1.weight``).
        show_data / show_grad: show values (small tensors) or a summary (large ones).
        show_formulas: print each op's derivative rule.
        collapse: ``"module"`` folds each module of ``params`` into one node (hides its parameters).
        rankdir: graph direction, "LR" (left to right) or "TB".
        trace, step: with a ``tg.trace`` record, draw the graph as it stood after backward step
            ``step``: the op being processed highlighted, gradients known so far filled in.
    """
    if collapse not in (None, "module"):
        raise ValueError(f"draw: collapse must be None or 'module', got {collapse!r}")
    if collapse == "module" and not hasattr(params, "named_modules"):
        raise ValueError("draw: collapse='module' needs params=<the Module>")
    _use_available_dot()  # so that Jupyter can show the returned graph inline
    roots = list(root) if isinstance(root, (list, tuple)) else [root]
    for r in roots:
        if not isinstance(r, Tensor):
            raise TypeError(f"draw: expects the tensor whose graph to draw (e.g. the loss), or a list of "
                            f"them, got {type(r).__name__}")
    tensors, nodes = _walk(roots)
    names, owners = _parameter_names(params)
    tensor_id = {id(t): f"t{i}" for i, t in enumerate(tensors)}
    node_id = {id(n): f"op{i}" for i, n in enumerate(nodes)}
    outputs = {id(t.grad_fn): t for t in tensors if t.grad_fn is not None}

    # Trace frames: which ops have run by `step`, and which one is running.
    done, current, known_grad = set(), None, {}
    if trace is not None:
        last = len(trace.steps) if step is None else step
        if not 1 <= last <= len(trace.steps):
            raise ValueError(f"draw: step must be in 1..{len(trace.steps)}, got {step}")
        for s in trace.steps[:last]:
            done.add(s.node_key)
            known_grad[s.node_key] = s
        current = trace.steps[last - 1].node_key

    graph = _graphviz().Digraph("tensorgrad", graph_attr={"rankdir": rankdir, "fontsize": "11"},
                             node_attr={"fontname": "Helvetica", "fontsize": "10"},
                             edge_attr={"fontname": "Helvetica", "fontsize": "9"})

    def folded(t: Tensor) -> bool:
        return collapse == "module" and id(t) in owners

    for t in tensors:
        if folded(t):
            continue
        label = [names.get(id(t)) or t.name or ("output" if t is roots[0] else "")]
        label.append(f"{t.shape} {t.dtype}")
        if show_data:
            label.append(_values(t.data))
        if show_grad:
            grad_text = None
            if trace is not None and t.grad_fn is not None and id(t.grad_fn) in known_grad:
                s = known_grad[id(t.grad_fn)]
                grad_text = f"‖g‖ {s.grad_norm:.3g}  min {s.grad_min:.3g}  max {s.grad_max:.3g}"
            elif t.grad is not None and (trace is None or _leaf_done(t, nodes, done)):
                grad_text = _values(t.grad)
            if grad_text:
                label.append("grad: " + grad_text)
        style = {"shape": "box", "style": "filled,rounded"}
        if t.grad_fn is None:
            style["fillcolor"] = "#cfe8ff" if t.requires_grad else "#eeeeee"
        else:
            style["fillcolor"] = "#fff2cc" if t is roots[0] else "white"
        graph.node(tensor_id[id(t)], "\n".join(line for line in label if line), **style)

    for node in nodes:
        module_owner = next((owners[id(t)] for t in node.inputs if folded(t)), None)
        if module_owner is not None:
            path, module = module_owner
            text = f"{path}: {type(module).__name__}\n{module.extra_repr()}"
        else:
            text = node.name
        if node.fused:  # one node computing several ops (model.fuse()): a double border says so
            text += f"  (fused: {len(node.fused)} ops, one node)"
        if show_formulas and node.formula:
            text += "\n" + node.formula
        fill = "#ffb347" if id(node) == current else "#c8f7c5" if id(node) in done else "#f3e5f5"
        graph.node(node_id[id(node)], text, shape="ellipse", style="filled", fillcolor=fill,
                   **({"peripheries": "2"} if node.fused else {}))
        out = outputs[id(node)]
        graph.edge(node_id[id(node)], tensor_id[id(out)])
        for t in node.inputs:
            if folded(t):
                continue
            attrs = {}
            if node.name in BROADCASTING_OPS and t.shape != out.shape:
                attrs = {"label": f"broadcast {t.shape}→{out.shape}\nbackward sums", "color": "red",
                         "fontcolor": "red", "style": "dashed"}
            graph.edge(tensor_id[id(t)], node_id[id(node)], **attrs)
    return graph


def _leaf_done(t: Tensor, nodes: list[Any], done: set[int]) -> bool:
    """A leaf's gradient is complete once every op that uses it has run its backward."""
    return all(id(n) in done for n in nodes if any(x is t for x in n.inputs))


def render(graph: Digraph, path: str | Path, format: str | None = None) -> Path:  # noqa: A002
    """Write ``graph`` to ``path`` (.svg, .png or .dot; the suffix gives the format unless
    ``format`` names one, e.g. ``format="png"`` for a path without a suffix).

    Returns the path written. Without a ``dot`` program it writes the DOT source next to
    ``path`` and raises RuntimeError saying how to render it.
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
    data = graph.pipe(format=format, quiet=True)  # quiet: dot warns about text widths of ∂ and ·
    path.write_bytes(data)
    return path
