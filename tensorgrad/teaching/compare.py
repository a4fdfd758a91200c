"""Find the mistake in a hand-derived gradient with one call.

``compare_grads(manual, autograd)`` lines up a hand-derived gradient with autograd's, name by
name, and for every name that disagrees tries the usual hand-derivation mistakes in turn:

=====  ===================================  ==========================================
step   mistake                              test
=====  ===================================  ==========================================
a      constant scale factor (often 1/m)    manual ≈ c·autograd for one least-squares c
b      sign flip                            c ≈ −1 (checked before a, which it is a case of)
b'     sign flip and a scale together       c < 0, c ≠ −1 (e.g. −1/64: y − ŷ and a 1/N too many)
c      transpose                            manual.T ≈ autograd
d      extra / missing L2 term              manual − autograd ≈ λ·param  (needs ``params``)
e      derivative of another activation     see :class:`ActivationSite`, or ``graph=loss``
f      anything else                        "no simple pattern (max rel error …)"
=====  ===================================  ==========================================

Before the values, the shapes and the names:

* **a bias gradient not summed over the batch** (manual (N, H) for a bias (H,)): summing over
  one axis gives autograd's shape; the sum is then compared like any hand gradient;
* **a sum over the wrong axis** (manual (N,) for a bias (H,)): one axis each, different lengths,
  the same total (two sums of one dz over its two axes add up to the same number);
* **gradient keys** such as ``dW1``, ``d_W1``, ``grad_W1``, ``g_W1``, ``W1_grad`` are matched to
  ``W1`` when exactly one pairing exists (the row says so);
* **no autograd gradient** (a Tensor whose ``.grad`` is None): ``loss.backward()`` was not called.

After the rows, the **root cause**: when several gradients are wrong, the first layer in backward
order (from the loss) that goes wrong, e.g. "the error starts between the output layer and layer
1: check dh / the activation derivative".

``graph=loss`` (the loss whose recorded graph autograd used) adds what only the graph knows: the
activation layers (step e without a hand-built :class:`ActivationSite`; the graph must still hold
its saved arrays: ``loss.backward(retain_graph=True)``), the order of the parameters from the loss
(for the root cause), and the gradients of named intermediate tensors (``h.name = "h"``).

Example::

    report = compare_grads({"W1": dW1, "b1": db1}, {"W1": W1, "b1": b1})   # W1, b1: tg.Tensor
    print(report)            # an aligned table, one row per name (a Jupyter cell shows HTML)
    assert report, report    # truthy when every gradient matches
"""
from __future__ import annotations

import copy
import html
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .. import autograd as engine
from ..ops._erf import erf
from ..tensor import Tensor

__all__ = ["compare_grads", "GradReport", "GradRow", "ActivationSite", "DERIVATIVE_CANDIDATES"]

#: A diagnosis "fits" when its prediction agrees with the hand gradient to this relative
#: tolerance (or to ``rtol`` when that is looser). Hand-derivation mistakes are exact
#: relations, so anything looser than rounding error but far below a real error will do.
PATTERN_RTOL = 1e-4

#: The default ``rtol`` by the bytes per number of the less precise side: a correct float32
#: backward of a 784-128-10 MLP differs from autograd's by a few 1e-7 of the largest entry.
DEFAULT_RTOL = {8: 1e-6, 4: 1e-5, 2: 1e-2}

#: How hand-written gradient keys are spelled: "dW1", "d_W1", "grad_W1", "g_W1", "W1_grad" mean W1.
GRAD_PREFIXES = ("d", "d_", "grad_", "g_")
GRAD_SUFFIXES = ("_grad",)

#: Graph nodes that are activations: these names, or the last stage of a fused node ("linear+relu").
ACTIVATION_OPS = ("sigmoid", "tanh", "relu", "gelu")


# ---------------------------------------------------------------------------- activation sites
def _gelu_derivative(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """GELU'(z) = Φ(z) + z·φ(z), Φ and φ the normal CDF and density."""
    return 0.5 * (1 + erf(z / math.sqrt(2))) + z * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _gelu_tanh_derivative(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The derivative of GELU's tanh approximation ½·z·(1 + tanh(√(2/π)·(z + 0.044715·z³)))."""
    k = math.sqrt(2 / math.pi)
    t = np.tanh(k * (z + 0.044715 * z ** 3))
    return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * k * (1 + 3 * 0.044715 * z * z)


#: The derivatives students write, in terms of the values a forward pass saves:
#: key -> (how it is written, derivative as a function of (z, a)).
DERIVATIVE_CANDIDATES: dict[str, tuple[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]] = {
    "sigmoid": ("σ'(z) = a·(1−a)", lambda z, a: a * (1 - a)),
    "tanh_of_a": ("tanh' written as 1−a²", lambda z, a: 1 - a ** 2),
    "tanh_of_z": ("tanh'(z) = 1−tanh(z)²", lambda z, a: 1 - np.tanh(z) ** 2),
    "relu": ("ReLU' = [z>0]", lambda z, a: (z > 0).astype(np.result_type(z, np.float32))),
    "identity": ("identity (1)", lambda z, a: np.ones_like(z)),
    "gelu": ("GELU'(z) = Φ(z) + z·φ(z)", _gelu_derivative),
    "gelu_tanh": ("GELU' of the tanh approximation", _gelu_tanh_derivative),
    # the activation itself where its derivative belongs (σ(z) for σ'(z)): a slip of the notation
    "activation_itself": ("the activation's value a itself (f(z) where f'(z) belongs)", lambda z, a: a),
}

#: activation name -> the candidates that ARE its derivative (when a is that activation of z).
TRUE_DERIVATIVES: dict[str, tuple[str, ...]] = {
    "sigmoid": ("sigmoid",),
    "tanh": ("tanh_of_a", "tanh_of_z"),
    "relu": ("relu",),
    "identity": ("identity",),
    "linear": ("identity",),
    "gelu": ("gelu",),
    "gelu_tanh": ("gelu_tanh",),
}


@dataclass
class ActivationSite:
    """One hidden layer ``a = activation(z)`` whose backward a hand derivation writes out.

    ``compare_grads(..., graph=loss)`` builds these from the recorded graph itself; build one by
    hand when there is no graph (a NumPy model).

    Attributes:
        name: a label for the layer, e.g. ``"hidden"``.
        activation: the layer's activation: ``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"gelu"``
            (``"gelu_tanh"`` for its tanh approximation) or ``"identity"``/``"linear"``.
        pre_activation: the saved pre-activation z.
        output: the saved output a = activation(z).
        upstream: the gradient arriving at a (dL/da, in whatever scaling ``to_param_grads``
            expects), e.g. ``W2.T @ dZ2``.
        to_param_grads: maps a dz to the parameter gradients it implies, e.g.
            ``lambda dz: {"W1": dz @ X.T / m, "b1": dz.sum(1, keepdims=True) / m}``.
            ``to_param_grads(upstream * f'(z))`` must be the correct gradients.
    """

    name: str
    activation: str
    pre_activation: np.ndarray
    output: np.ndarray
    upstream: np.ndarray
    to_param_grads: Callable[[np.ndarray], Mapping[str, Any]]

    def __post_init__(self) -> None:
        if self.activation not in TRUE_DERIVATIVES:
            raise ValueError(f"ActivationSite {self.name!r}: unknown activation {self.activation!r}; "
                             f"known: {', '.join(TRUE_DERIVATIVES)}")

    @property
    def true_derivative(self) -> str:
        """How the layer's real derivative is written, e.g. ``"σ'(z) = a·(1−a)"``."""
        return " = ".join(DERIVATIVE_CANDIDATES[k][0] for k in TRUE_DERIVATIVES[self.activation][:1])


# ---------------------------------------------------------------------------- the report
#: The columns of the report's table (``str()`` and ``_repr_html_``).
REPORT_COLUMNS = ("name", "shape", "max abs err", "max rel err", "status", "diagnosis")


@dataclass
class GradRow:
    """The comparison of one named gradient.

    ``status`` is ``"match"``, ``"mismatch"`` or ``"missing"`` (the name is in only one mapping,
    or autograd has no gradient for it); ``factor`` is the fitted number behind the diagnosis (the
    scale c, −1, or the L2 λ), if any; ``note`` says how the two were lined up (e.g. a (128, 1)
    column reshaped to (128,), or the manual key ``dW1`` matched to ``W1``); ``manual_name`` is
    the manual key when it differs from ``name`` (autograd's).
    """

    name: str
    shape: tuple[int, ...]
    max_abs_err: float
    max_rel_err: float
    status: str
    diagnosis: str
    factor: float | None = None
    note: str = ""
    manual_name: str = ""


@dataclass
class GradReport:
    """What :func:`compare_grads` found. Truthy when every gradient matches; ``str()`` is a table
    (and Jupyter shows ``_repr_html_``'s), followed by the root cause and notes, if any."""

    rows: list[GradRow] = field(default_factory=list)
    rtol: float = 1e-6
    atol: float = 1e-12
    root_cause: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every name is in both mappings and every gradient matches."""
        return all(row.status == "match" for row in self.rows)

    @property
    def mismatches(self) -> list[str]:
        """Names whose gradients disagree (names present on one side only are in ``missing``)."""
        return [row.name for row in self.rows if row.status == "mismatch"]

    @property
    def missing(self) -> list[str]:
        """Names present in only one of the two mappings, or without an autograd gradient."""
        return [row.name for row in self.rows if row.status == "missing"]

    def __getitem__(self, name: str) -> GradRow:
        for row in self.rows:
            if name in (row.name, row.manual_name):
                return row
        raise KeyError(name)

    def __bool__(self) -> bool:
        return self.ok

    def _title(self) -> str:
        verdict = ("all gradients match" if self.ok else
                   f"{len(self.mismatches)} mismatch(es), {len(self.missing)} missing")
        return f"compare_grads (rtol={self.rtol:g}, atol={self.atol:g}): {verdict}"

    def _cells(self) -> list[list[str]]:
        return [[row.name, str(row.shape), _fmt(row.max_abs_err), _fmt(row.max_rel_err), row.status,
                 row.diagnosis] for row in self.rows]

    def _footer(self) -> list[tuple[str, str]]:
        return ([("root cause", self.root_cause)] if self.root_cause else []) + [("note", n) for n in self.notes]

    def __str__(self) -> str:
        text = self._title() + "\n" + _table(list(REPORT_COLUMNS), self._cells())
        return text + "".join(f"\n{label}: {line}" for label, line in self._footer())

    __repr__ = __str__

    def _repr_html_(self) -> str:
        """An HTML table for Jupyter: the columns of ``str()``; mismatches red, missing names yellow."""
        shade = {"mismatch": "#f8d7da", "missing": "#fff3cd"}
        cells = lambda tag, row: "".join(
            f"<{tag} style='text-align:left'>{html.escape(c)}</{tag}>" for c in row)
        lines = ["<table class='tensorgrad-compare-grads'>",
                 f"<caption style='text-align:left'>{html.escape(self._title())}</caption>",
                 f"<thead><tr>{cells('th', REPORT_COLUMNS)}</tr></thead>", "<tbody>"]
        for row, texts in zip(self.rows, self._cells()):
            style = f" style='background:{shade[row.status]}'" if row.status in shade else ""
            lines.append(f"<tr class='{row.status}'{style}>{cells('td', texts)}</tr>")
        lines.append("</tbody></table>")
        lines += [f"<p><b>{label}:</b> {html.escape(line)}</p>" for label, line in self._footer()]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ok, mismatches, missing, tolerances, the rows (NaN -> None), the root
        cause and the notes."""
        rows = []
        for row in self.rows:
            d = asdict(row)
            d["shape"] = list(row.shape)
            for key in ("max_abs_err", "max_rel_err", "factor"):
                if d[key] is not None and not math.isfinite(d[key]):
                    d[key] = None
            rows.append(d)
        return {"ok": self.ok, "mismatches": self.mismatches, "missing": self.missing,
                "rtol": self.rtol, "atol": self.atol, "rows": rows, "root_cause": self.root_cause,
                "notes": list(self.notes)}


# ---------------------------------------------------------------------------- the entry point
def compare_grads(
    manual: Mapping[str, Any],
    autograd: Mapping[str, Any],
    *,
    params: Mapping[str, Any] | None = None,
    activation_sites: Sequence[ActivationSite] | None = None,
    graph: Tensor | None = None,
    rtol: float | None = None,
    atol: float = 1e-12,
) -> GradReport:
    """Compare hand-derived gradients with autograd's and diagnose each mismatch.

    Args:
        manual: name -> hand-derived gradient (array, or a Tensor whose ``.grad`` is used). Keys
            may be spelled as gradients (``dW1``, ``grad_W1``, ``W1_grad``, ...).
        autograd: name -> autograd's gradient (array, or a Tensor whose ``.grad`` is used, e.g. the
            parameter itself; ``tr.grads["h"]`` of ``tg.trace(keep=["h"])`` for an intermediate).
        params: optional name -> parameter value (array or Tensor's data), for the L2 diagnosis.
        activation_sites: optional hidden layers, for the wrong-activation diagnosis.
        graph: optional loss tensor whose recorded graph autograd used. compare_grads walks it
            for the activation layers (no hand-built sites needed; the graph must still hold its
            saved arrays: ``loss.backward(retain_graph=True)``), for the parameters' order from the
            loss (the root cause), and for gradients of named intermediate tensors (``h.name``).
        rtol: a gradient matches when max|manual − autograd| <= atol + rtol·max|autograd|;
            the reported relative error is max|manual − autograd| / max|autograd|. ``rtol``
            defaults to 1e-6 for float64 and 1e-5 when a side is float32 (see DEFAULT_RTOL).
        atol: the absolute part of that tolerance.

    Shapes may differ by size-1 axes (a (128, 1) bias column against (128,)): the hand gradient
    is reshaped and the row says so. A 2-D hand gradient with the transposed shape is compared
    transposed and is always a mismatch (it could not update the parameter as it is), and so is
    one that must still be summed over the batch.

    Returns:
        A :class:`GradReport`: ``.ok``, ``.mismatches``, ``.rows``, ``.root_cause``, ``str()`` a table.
    """
    walked = _Graph(graph, _tensor_names(autograd, params)) if graph is not None else None
    if walked is not None:
        autograd = walked.with_intermediate_grads(manual, autograd)
    pairs = _match_names(manual, autograd)
    given = [p for p in pairs if not p.missing and not _lacks_autograd_grad(p.autograd)]
    arrays = [a for p in given for a in (_as_array(p.manual), _as_array(p.autograd))]
    rtol = _default_rtol(arrays) if rtol is None else rtol
    tol = max(rtol, PATTERN_RTOL)

    lined = {p.name: _line_up(_as_array(p.manual), _as_array(p.autograd), tol, atol) for p in given}
    hand = {p.name: lined[p.name].array if lined[p.name].array is not None else _as_array(p.manual)
            for p in given}  # shapes repaired where a diagnosis knows how (for the activation sites)
    params = {k: _as_array(v, use_grad=False) for k, v in (params or {}).items()}
    sites = _SiteCache(list(activation_sites or []) + (walked.sites if walked else []))

    report = GradReport(rtol=rtol, atol=atol)
    for pair in pairs:
        if pair.missing:
            present = pair.manual if pair.missing == "autograd" else pair.autograd
            row = GradRow(pair.name, tuple(np.shape(_as_array(present))), math.nan, math.nan, "missing", pair.note)
        elif _lacks_autograd_grad(pair.autograd):
            row = GradRow(pair.name, tuple(np.shape(pair.autograd.data)), math.nan, math.nan, "missing",
                          _diagnose_no_autograd_grad(pair.name, pair.autograd, walked))
        else:
            row = _compare_one(pair.name, lined[pair.name], _as_array(pair.autograd), pair.note,
                               params, sites, hand, rtol, atol)
        row.manual_name = pair.manual_key if pair.manual_key not in (None, pair.name) else ""
        report.rows.append(row)

    names = [row.name for row in report.rows]
    groups = (walked.groups(names) if walked else []) or _groups_from_names(names)
    report.root_cause = _root_cause(report.rows, groups)
    report.notes = walked.notes_for(report.rows) if walked else []
    return report


def _compare_one(name: str, lined: _Lined, g: np.ndarray, key_note: str, params: dict[str, np.ndarray],
                 sites: _SiteCache, hand: Mapping[str, np.ndarray], rtol: float, atol: float) -> GradRow:
    note = "; ".join(n for n in (key_note, lined.note) if n)
    if lined.array is None:  # shapes that cannot be lined up: the shape diagnosis is all there is
        return GradRow(name, g.shape, math.nan, math.nan, "mismatch", "; ".join(
            n for n in (lined.shape_mistake, note) if n), note=note)
    m = lined.array
    abs_err = float(np.max(np.abs(m - g))) if g.size else 0.0
    scale = float(np.max(np.abs(g))) if g.size else 0.0
    rel_err = abs_err / scale if scale > 0 else (0.0 if abs_err == 0 else math.inf)
    row = GradRow(name, g.shape, abs_err, rel_err, "match", note, note=note)
    values_match = abs_err <= atol + rtol * scale
    if values_match and not lined.transposed and not lined.shape_mistake:
        return row

    row.status = "mismatch"
    tol = max(rtol, PATTERN_RTOL)
    pieces = [lined.shape_mistake] if lined.shape_mistake else []
    if lined.transposed and _fits(m, g, tol, atol):
        pieces.append("transpose: manual.T ≈ autograd (the hand gradient has the transposed shape)")
    elif not (lined.shape_mistake and _fits(m, g, tol, atol)):  # the values are wrong too
        text, row.factor = _diagnose(name, m, g, params, sites, hand, tol, atol)
        pieces.append(text)
    row.diagnosis = "; ".join(pieces + ([note] if note else []))
    return row


def _diagnose(name: str, m: np.ndarray, g: np.ndarray, params: dict[str, np.ndarray],
              sites: _SiteCache, hand: Mapping[str, Any], tol: float, atol: float
              ) -> tuple[str, float | None]:
    """The first diagnosis that fits, as (text, fitted factor)."""
    found = (_diagnose_zero(m, g)
             or _diagnose_sign(m, g, tol, atol)
             or _diagnose_sign_and_scale(m, g, tol, atol)
             or _diagnose_scale(m, g, tol, atol)
             or _diagnose_transpose(m, g, tol, atol)
             or _diagnose_l2(m, g, params.get(name), tol, atol)
             or sites.diagnose(name, hand, tol, atol))
    if found:
        return found
    scale = float(np.max(np.abs(g))) if g.size else 0.0
    rel = float(np.max(np.abs(m - g))) / scale if scale > 0 else math.inf
    return f"no simple pattern (max rel error {rel:.3g})", None


# ---------------------------------------------------------------------------- one function per diagnosis
def _diagnose_zero(m: np.ndarray, g: np.ndarray) -> tuple[str, float | None] | None:
    """The hand gradient is all zeros (a scale factor of 0 would 'fit' trivially)."""
    if m.size and not np.any(m):
        return "the hand gradient is all zeros (a missing term, or a gradient never written)", 0.0
    return None


def _least_squares_scale(m: np.ndarray, g: np.ndarray) -> float | None:
    denom = float(np.vdot(g, g))
    return float(np.vdot(g, m)) / denom if denom > 0 else None


def _batch_size_behind(c: float, tol: float) -> int | None:
    """n when |c| or 1/|c| is an integer n > 1 (the scale of a missing or extra 1/batch), else None."""
    k = abs(c) if abs(c) > 1 else 1 / abs(c)
    n = round(k)
    return n if n > 1 and abs(k - n) <= tol * n else None


def _diagnose_sign(m: np.ndarray, g: np.ndarray, tol: float, atol: float) -> tuple[str, float | None] | None:
    """(b) manual ≈ −autograd."""
    if _fits(m, -g, tol, atol):
        return "sign flip: manual ≈ −1·autograd (e.g. y − ŷ written for ŷ − y)", -1.0
    return None


def _diagnose_sign_and_scale(m: np.ndarray, g: np.ndarray, tol: float, atol: float
                             ) -> tuple[str, float | None] | None:
    """(b') Two mistakes at once: manual ≈ −c·autograd with c ≠ 1, e.g. −1/64 for y − ŷ written for
    ŷ − y AND a 1/batch too many. Test: the least-squares scale is negative, not −1, and fits."""
    c = _least_squares_scale(m, g)
    if c is None or c >= 0 or abs(c + 1) <= tol or not _fits(m, c * g, tol, atol):
        return None
    n = _batch_size_behind(c, tol)
    flip = "and points the other way, e.g. y − ŷ written for ŷ − y"
    if n is None:
        text = f"sign flipped and scaled by {-c:.4g} ({flip})"
    elif abs(c) > 1:
        text = (f"sign flipped and scaled by {n} (a missing or extra 1/batch? Here missing: the hand "
                f"gradient is {n}× too big, {flip})")
    else:
        text = (f"sign flipped and scaled by 1/{n} (a missing or extra 1/batch? Here extra: the hand "
                f"gradient is {n}× too small, {flip})")
    return f"{text}: manual ≈ {c:.6g}·autograd", c


def _diagnose_scale(m: np.ndarray, g: np.ndarray, tol: float, atol: float) -> tuple[str, float | None] | None:
    """(a) manual ≈ c·autograd for one c, with a batch-size hint when c or 1/c is an integer."""
    c = _least_squares_scale(m, g)
    if c is None or c == 0 or abs(c - 1) <= tol or not _fits(m, c * g, tol, atol):
        return None
    text = f"constant scale factor: manual ≈ {c:.6g}·autograd"
    n = _batch_size_behind(c, tol)
    if n is not None:
        sign = "" if c > 0 else "−"
        if abs(c) > 1:
            text += (f" (x{sign}{n}: a missing or extra 1/batch? Here missing: the hand gradient is {n}× "
                     f"too big, as if a division by a batch size of {n} was forgotten)")
        else:
            text += (f" (x{sign}1/{n}: a missing or extra 1/batch? Here extra: the hand gradient is {n}× "
                     f"too small, as if it divided by a batch size of {n} once too often)")
    return text, c


def _diagnose_transpose(m: np.ndarray, g: np.ndarray, tol: float, atol: float) -> tuple[str, float | None] | None:
    """(c) a square 2-D gradient whose transpose matches."""
    if m.ndim == 2 and m.shape[0] == m.shape[1] and _fits(m.T, g, tol, atol):
        return "transpose: manual.T ≈ autograd (rows and columns swapped, e.g. x.T @ dz for dz @ x.T)", None
    return None


def _diagnose_l2(m: np.ndarray, g: np.ndarray, param: np.ndarray | None, tol: float, atol: float
                 ) -> tuple[str, float | None] | None:
    """(d) manual − autograd ≈ λ·param: an L2 term in one of the two and not the other."""
    if param is None:
        return None
    p, _, _ = _align(param, g.shape)
    if p is None or not np.any(p):
        return None
    diff = m - g
    lam = float(np.vdot(p, diff)) / float(np.vdot(p, p))
    if lam == 0 or not _fits(m, g + lam * p, tol, atol):
        return None
    if lam > 0:
        return f"extra L2 term {lam:.4g}·w in the hand gradient (or missing from the loss)", lam
    return f"missing L2 term {-lam:.4g}·w in the hand gradient (or extra in the loss)", lam


def _diagnose_missing_batch_sum(m: np.ndarray, g: np.ndarray, tol: float, atol: float
                                ) -> tuple[str, np.ndarray | None] | None:
    """A bias gradient left per sample: manual (N, H) where autograd has (H,), i.e. dz was never
    summed over the batch. Test: the sum over one axis of manual has autograd's shape (the axis
    whose sum also has autograd's values, if one does). Returns the text and that sum, which is
    then compared like any hand gradient (it may have a 1/N or a sign wrong as well)."""
    sums = []
    for axis in range(m.ndim):
        summed, _, transposed = _align(m.sum(axis=axis), g.shape)
        if summed is not None and not transposed:
            sums.append((axis, summed))
    if not sums:
        return None
    axis, summed = next(((k, s) for k, s in sums if _fits(s, g, tol, atol)), sums[0])
    keepdims = ", keepdims=True" if g.ndim == m.ndim else ""
    text = (f"sum over the batch missing: manual is {m.shape} and Σ over axis {axis} gives autograd's "
            f"{g.shape} (add .sum(axis={axis}{keepdims}))")
    return text, summed


def _diagnose_wrong_sum_axis(m: np.ndarray, g: np.ndarray, tol: float, atol: float
                             ) -> tuple[str, np.ndarray | None] | None:
    """A bias gradient summed over the wrong axis: manual (N,) (or (N, 1), (1, N)) where autograd
    has (H,): dz (N, H) was summed over its H units instead of over its N samples. Test: one axis
    each (besides length-1 axes), of different lengths, and the same total, as the sums of one dz
    over its two axes have. (A (H, 1) column bias means dz is (H, N), samples on axis 1.)"""
    m_axes, g_axes = [s for s in m.shape if s != 1], [s for s in g.shape if s != 1]
    if len(m_axes) != 1 or len(g_axes) != 1 or m_axes == g_axes:
        return None
    if abs(float(m.sum()) - float(g.sum())) > atol + tol * max(float(np.abs(m).sum()), float(np.abs(g).sum())):
        return None
    n, h = m_axes[0], g_axes[0]
    column = g.ndim == 2 and g.shape[1] == 1
    dz_shape, right, wrong = ((h, n), 1, 0) if column else ((n, h), 0, 1)
    keepdims = ", keepdims=True" if g.ndim == 2 else ""
    return (f"summed over the wrong axis: manual {m.shape} is a {dz_shape} dz summed over axis {wrong} "
            f"(the {h} units), but a bias gradient sums over the batch: .sum(axis={right}{keepdims}) "
            f"over the {n} samples gives autograd's {g.shape}"), None


def _diagnose_no_autograd_grad(name: str, tensor: Tensor, graph: _Graph | None) -> str:
    """autograd's side is a Tensor without a gradient: ``loss.backward()`` was not called (or the
    tensor is not in the loss, or does not require grad). Test: its ``.grad`` is None."""
    if tensor.grad_fn is not None:
        return (f"autograd has no gradient for {name}: it is made by an op, and backward fills .grad of "
                f"leaves only: set {name}.name = {name!r} and pass graph=loss (with "
                f"loss.backward(retain_graph=True)), or use tg.trace(keep=[{name!r}]) and tr.grads[{name!r}]")
    if not tensor.requires_grad:
        return f"autograd has no gradient for {name}: it does not require grad (create it with requires_grad=True)"
    if graph is not None and not graph.uses(tensor):
        return f"autograd has no gradient for {name}: the loss given as graph= does not use it"
    return (f"autograd has no gradient for {name}: call loss.backward() first (or the tensor was not used "
            f"by the loss / does not require grad)")


class _SiteCache:
    """(e) the derivative of a different activation, at any site whose parameters include a name.

    For each site the parameter gradients implied by each candidate derivative are computed once.
    """

    def __init__(self, sites: Sequence[ActivationSite]) -> None:
        self.sites = list(sites)
        self._implied: dict[int, list[tuple[str, dict[str, np.ndarray]]]] = {}

    def _wrong_candidates(self, i: int) -> list[tuple[str, dict[str, np.ndarray]]]:
        """(candidate key, implied param grads) for the candidates that are not the true
        derivative here (also on these values: a candidate equal to it cannot be told apart)."""
        if i not in self._implied:
            site = self.sites[i]
            z, a = np.asarray(site.pre_activation), np.asarray(site.output)
            true_keys = TRUE_DERIVATIVES[site.activation]
            true = DERIVATIVE_CANDIDATES[true_keys[0]][1](z, a)
            found = []
            for key, (_, derivative) in DERIVATIVE_CANDIDATES.items():
                d = derivative(z, a)
                if key in true_keys or np.allclose(d, true, rtol=1e-12, atol=1e-15):
                    continue
                implied = site.to_param_grads(np.asarray(site.upstream) * d)
                found.append((key, {k: _as_array(v) for k, v in implied.items()}))
            self._implied[i] = found
        return self._implied[i]

    def diagnose(self, name: str, manual: Mapping[str, Any], tol: float, atol: float
                 ) -> tuple[str, float | None] | None:
        for i, site in enumerate(self.sites):
            for key, implied in self._wrong_candidates(i):
                if name not in implied:
                    break  # this site does not own the parameter
                shared = [k for k in implied if k in manual]
                if all(_fits_aligned(_as_array(manual[k]), implied[k], tol, atol) for k in shared):
                    return (f"uses {DERIVATIVE_CANDIDATES[key][0]} but the layer's activation is "
                            f"{site.activation} (whose derivative is {site.true_derivative})"
                            f" at site {site.name!r}"), None
        return None


# ---------------------------------------------------------------------------- names
@dataclass
class _Pair:
    """One row to be: its name (autograd's key), the manual key and the two values; ``missing``
    names the side without it, and ``note`` how the names were lined up."""

    name: str
    manual_key: str | None
    manual: Any
    autograd: Any
    missing: str = ""
    note: str = ""


def _undecorated(key: str) -> set[str]:
    """The names a gradient key may stand for: 'dW1' -> {'W1'}, 'd_W1' -> {'W1', '_W1'}, 'W1_grad' -> {'W1'}."""
    names = {key[len(p):] for p in GRAD_PREFIXES if key.startswith(p) and len(key) > len(p)}
    return names | {key[:-len(s)] for s in GRAD_SUFFIXES if key.endswith(s) and len(key) > len(s)}


def _same_gradient(manual_key: str, autograd_key: str) -> bool:
    """Whether one key is the other spelled as a gradient ('dW1' and 'W1', either way round)."""
    return autograd_key in _undecorated(manual_key) or manual_key in _undecorated(autograd_key)


def _match_names(manual: Mapping[str, Any], autograd: Mapping[str, Any]) -> list[_Pair]:
    """Line up the names: the same name, else a manual key spelled as the gradient of an autograd
    name ('dW1', 'grad_W1', 'W1_grad' for 'W1') when that pairing is the only one for both keys.
    Rows follow the manual order; autograd names left over come last."""
    lone_manual = [k for k in manual if k not in autograd]
    lone_autograd = [k for k in autograd if k not in manual]
    candidates = {k: [a for a in lone_autograd if _same_gradient(k, a)] for k in lone_manual}
    claimants = {a: [k for k in lone_manual if a in candidates[k]] for a in lone_autograd}
    matched = {k: c[0] for k, c in candidates.items() if len(c) == 1 and len(claimants[c[0]]) == 1}

    pairs = []
    for k in manual:
        if k in autograd:
            pairs.append(_Pair(k, k, manual[k], autograd[k]))
        elif k in matched:
            pairs.append(_Pair(matched[k], k, manual[k], autograd[matched[k]],
                               note=f"manual key {k!r} matched to {matched[k]}"))
        else:
            pairs.append(_Pair(k, k, manual[k], None, "autograd", "missing in autograd" + _ambiguity(
                k, candidates[k], claimants)))
    for a in lone_autograd:
        if a not in matched.values():
            why = (f": {' and '.join(map(repr, claimants[a]))} could each be its gradient (ambiguous: keep "
                   f"one key)" if len(claimants[a]) > 1 else "")
            pairs.append(_Pair(a, None, None, autograd[a], "manual", "missing in manual" + why))
    return pairs


def _ambiguity(key: str, candidates: list[str], claimants: Mapping[str, list[str]]) -> str:
    """Why a manual key spelled as a gradient was not matched: it could be several names, or
    another key could be the same name's gradient too ("" when no name fits it)."""
    if len(candidates) > 1:
        return f": {key!r} could be the gradient of {' or '.join(map(repr, candidates))} (ambiguous: rename the key)"
    if candidates:
        return (f": {' and '.join(map(repr, claimants[candidates[0]]))} could each be the gradient of "
                f"{candidates[0]!r} (ambiguous: keep one key)")
    return ""


def _tensor_names(*mappings: Mapping[str, Any] | None) -> dict[int, str]:
    """id(tensor) -> its name in the first mapping that has it (autograd's, then params')."""
    names: dict[int, str] = {}
    for mapping in mappings:
        for name, value in (mapping or {}).items():
            if isinstance(value, Tensor):
                names.setdefault(id(value), name)
    return names


# ---------------------------------------------------------------------------- the graph behind graph=loss
def _activation_of(node: engine.Function) -> str | None:
    """The activation a node applies last, as TRUE_DERIVATIVES names it: 'sigmoid' for a Sigmoid
    node or a fused 'linear+sigmoid' one, 'gelu_tanh' for GELU's tanh approximation; else None."""
    last = node.fused[-1] if node.fused else node.name
    if last not in ACTIVATION_OPS:
        return None
    return "gelu_tanh" if last == "gelu" and getattr(node, "approximate", "none") == "tanh" else last


def _pre_activation(node: engine.Function) -> np.ndarray | None:
    """z of a = act(z): the activation node's input, or for a fused "linear+act" node x·Wᵀ + b
    recomputed from its inputs (it keeps no z); None for other fused nodes (conv2d+relu)."""
    if not node.fused:
        return node.inputs[0].data
    if node.fused[0] == "linear":
        x, weight, bias = (t.data for t in node.inputs)
        return x @ weight.T + bias
    return None


def _node_backward(node: engine.Function, g: np.ndarray) -> list[np.ndarray | None]:
    """``node.backward(g)`` as the engine runs it (checked, each gradient fitted to its input),
    keeping the node's saved arrays."""
    return engine.run_backward(node, g, retain_graph=True)


def _backpropagate(tensor: Tensor, grad: np.ndarray, record: frozenset = frozenset()
                   ) -> tuple[dict[int, np.ndarray], dict[engine.Function, np.ndarray]]:
    """The engine's chain rule from ``tensor`` (whose gradient is ``grad``) down to the leaves,
    writing no ``.grad`` and freeing nothing. Returns the gradient of each leaf (by id) and the
    gradient that arrived at each node in ``record``."""
    leaves: dict[int, np.ndarray] = {}
    arrived: dict[engine.Function, np.ndarray] = {}

    def watch(node: engine.Function, grad_out: np.ndarray, *_: Any) -> None:
        if node in record:
            arrived[node] = grad_out

    with engine.observe_backward(watch):
        engine.backward_graph(tensor, grad, retain_graph=True, leaf_grads=leaves)
    return leaves, arrived


def _param_grads_from_dz(node: engine.Function, dz: np.ndarray, names: Mapping[int, str]) -> dict[str, np.ndarray]:
    """The parameter gradients that a gradient ``dz`` at the pre-activation of the activation node
    implies: backward from z to the leaves (for a fused node, its linear part first, run without
    the activation). Backward is linear in dz, so the pieces are run one by one and added."""
    if node.fused:
        linear_part = copy.copy(node)
        linear_part.activation = None
        pieces = list(zip(node.inputs, _node_backward(linear_part, dz)))
    else:
        pieces = [(node.inputs[0], dz)]
    total: dict[int, np.ndarray] = {}
    for tensor, grad in pieces:
        if grad is not None:
            for key, value in _backpropagate(tensor, grad)[0].items():
                total[key] = total[key] + value if key in total else value
    return {names[k]: v for k, v in total.items() if k in names}


def _graph_site(node: engine.Function, label: str, upstream: np.ndarray, full: Mapping[str, np.ndarray],
                names: Mapping[int, str]) -> ActivationSite | None:
    """The :class:`ActivationSite` of an activation node: z and a from the node's input and output,
    the gradient that arrived at a, and ``to_param_grads(dz)`` = the full gradients (every path of
    the loss: an L2 term on W1 does not pass through the activation) plus what ``dz`` changes from
    the true ``upstream·f'(z)``. None when z is not available (a fused conv2d+relu)."""
    z = _pre_activation(node)
    if z is None:
        return None
    a, activation = node.output_ref().data, _activation_of(node)
    true_dz = upstream * DERIVATIVE_CANDIDATES[TRUE_DERIVATIVES[activation][0]][1](z, a)

    def to_param_grads(dz: np.ndarray) -> dict[str, np.ndarray]:
        change = _param_grads_from_dz(node, dz - true_dz, names)
        return {name: full[name] + delta for name, delta in change.items() if name in full}

    return ActivationSite(label, activation, z, a, upstream, to_param_grads)


class _Graph:
    """What compare_grads reads from the graph behind ``graph=loss``, walked iteratively from the
    loss (``autograd.reverse_topological_order``: each node after every node that uses its output):

    * ``position``: name -> (activations between it and the loss, 0 for an intermediate tensor /
      1 for a parameter, distance in nodes): the backward order, for the root cause;
    * ``sites``: an :class:`ActivationSite` per activation node, its z and a from the node's input
      and output (kept after backward), its upstream and to_param_grads from running the chain rule
      again through the graph, which needs the arrays the nodes saved (``retain_graph=True``);
    * ``intermediate``: the gradients arriving at named node outputs (``h.name = "h"``).
    """

    def __init__(self, root: Tensor, names: dict[int, str]) -> None:
        self.names = dict(names)
        self.nodes = list(engine.reverse_topological_order(root.grad_fn)) if root.grad_fn is not None else []
        self.position: dict[str, tuple[float, int, int]] = {}
        self.leaf_ids: set[int] = set()
        self.sites: list[ActivationSite] = []
        self.site_feeds: list[tuple[str, str, list[str]]] = []  # (site, activation, parameter names)
        self.dh: dict[float, str] = {}  # rank of a layer's parameters -> "dh" of the activation above them
        self.intermediate: dict[str, np.ndarray] = {}
        self.problem = self._replay_problem(root)
        self._walk()
        self._read_sites(root)

    # ------------------------------------------------------------------ the walk
    def _walk(self) -> None:
        """Each node's count of activations between it and the loss (on the longest path, so that
        an L2 term on W1 does not move W1 next to the output) and distance from the loss."""
        if not self.nodes:
            return
        above: dict[engine.Function, int] = {self.nodes[0]: 0}
        depth: dict[engine.Function, int] = {self.nodes[0]: 0}
        for node in self.nodes:
            below = above[node] + (1 if _activation_of(node) else 0)
            for t in node.inputs:
                parent = t.grad_fn
                if parent is None:
                    if t.requires_grad:
                        self.leaf_ids.add(id(t))
                        name = self.names.get(id(t)) or t.name
                        if name:
                            self.names.setdefault(id(t), name)
                            old = self.position.get(name, (0, 1, depth[node] + 1))
                            self.position[name] = (max(old[0], below), 1, min(old[2], depth[node] + 1))
                else:
                    above[parent] = max(above.get(parent, 0), below)
                    depth[parent] = min(depth.get(parent, depth[node] + 1), depth[node] + 1)
        self._above, self._depth = above, depth
        for node in self.nodes:  # named intermediate tensors, e.g. h.name = "h"
            out = node.output_ref() if node.output_ref is not None else None
            if out is not None and out.name and out.name not in self.position:
                self.position[out.name] = (above[node] + (0.5 if _activation_of(node) else 0), 0, depth[node])

    def _replay_problem(self, root: Tensor) -> str:
        """Why the chain rule cannot be run again through the graph ("" when it can)."""
        if not self.nodes:
            return "graph= has no recorded graph (a leaf, or computed under no_grad())"
        if root.data.size != 1:
            return f"graph= has shape {root.shape}, not a scalar loss: pass the loss"
        if any(node.freed for node in self.nodes):
            return ("loss.backward() freed the graph's saved arrays: call loss.backward(retain_graph=True) "
                    "before compare_grads(..., graph=loss)")
        if any(t._version != v for node in self.nodes for t, v in zip(node.inputs, node.input_versions)):
            return "a tensor of the graph changed in place after the forward pass (an optimizer step?)"
        return ""

    # ------------------------------------------------------------------ activation sites
    def _read_sites(self, root: Tensor) -> None:
        site_nodes = [n for n in self.nodes if _activation_of(n) and n.output_ref is not None
                      and n.output_ref() is not None]
        ranks = [p[0] for p in self.position.values() if p[1] == 1]
        top = max(ranks, default=0)
        named_outputs = {n: n.output_ref().name for n in self.nodes
                         if n.output_ref is not None and n.output_ref() is not None and n.output_ref().name}
        leaves: dict[int, np.ndarray] = {}
        arrived: dict[engine.Function, np.ndarray] = {}
        if not self.problem:  # the chain rule once more, keeping what arrives at the activations
            leaves, arrived = _backpropagate(root, np.ones_like(root.data),
                                             frozenset(site_nodes) | frozenset(named_outputs))
            self.intermediate = {name: arrived[n] for n, name in named_outputs.items() if n in arrived}
        full = {self.names[k]: v for k, v in leaves.items() if k in self.names}
        for node in site_nodes:
            out = node.output_ref()
            label = out.name or f"layer {top - self._above[node]}"
            self.dh[self._above[node] + 1] = f"d{out.name or 'h'}"
            self.site_feeds.append((label, _activation_of(node), self._parameters_under(node)))
            site = _graph_site(node, label, arrived[node], full, self.names) if node in arrived else None
            if site is not None:
                self.sites.append(site)

    def _parameters_under(self, node: engine.Function) -> list[str]:
        """The named leaves that the node's input depends on (the parameters a site's derivative reaches)."""
        found, seen, stack = [], set(), [node]
        while stack:
            for t in stack.pop().inputs:
                if t.grad_fn is None:
                    if id(t) in self.names and self.names[id(t)] not in found:
                        found.append(self.names[id(t)])
                elif t.grad_fn not in seen:
                    seen.add(t.grad_fn)
                    stack.append(t.grad_fn)
        return found

    # ------------------------------------------------------------------ for compare_grads
    def uses(self, tensor: Tensor) -> bool:
        """Whether the loss depends on this leaf."""
        return id(tensor) in self.leaf_ids

    def with_intermediate_grads(self, manual: Mapping[str, Any], autograd: Mapping[str, Any]) -> dict[str, Any]:
        """``autograd`` plus the gradients of named intermediate tensors that ``manual`` has (by
        name, or spelled 'dh') and autograd has not, or has as the Tensor itself (no .grad)."""
        result = dict(autograd)
        for name, grad in self.intermediate.items():
            wanted = any(k == name or _same_gradient(k, name) for k in manual)
            given = result.get(name)
            if wanted and (given is None or (isinstance(given, Tensor) and given.grad_fn is not None)):
                result[name] = grad
        return result

    def groups(self, names: list[str]) -> list[_Group]:
        """The compared names in backward order, in groups: the parameters of one layer, or one
        intermediate gradient ('dh'). Names the graph does not have are left out."""
        keys = {n: self.position[n][:2] for n in names if n in self.position}
        param_ranks = [rank for rank, kind in keys.values() if kind == 1]
        if not param_ranks:
            return []
        first, top = min(param_ranks), max(param_ranks)
        groups = []
        for rank, kind in sorted(set(keys.values())):
            members = [n for n in names if keys.get(n) == (rank, kind)]
            if kind == 0:
                groups.append(_Group(f"d{members[0]}", f"d{members[0]}", members, "intermediate"))
            else:
                short = "the output layer" if rank == first else f"layer {top - rank + 1}"
                groups.append(_Group(f"{short} ({', '.join(members)})", short, members, "layer",
                                     self.dh.get(rank, "dh")))
        return groups

    def notes_for(self, rows: list[GradRow]) -> list[str]:
        """Why the activation derivative could not be checked, when that could explain a mismatch."""
        unexplained = {r.name for r in rows if r.status == "mismatch" and "no simple pattern" in r.diagnosis}
        notes = []
        for label, activation, feeds in self.site_feeds:
            hit = [r.name for r in rows if r.name in feeds and r.name in unexplained]
            if hit and self.problem:
                notes.append(f"graph=: {', '.join(hit)} sit under the {activation} at {label!r}, whose derivative "
                             f"could not be checked: {self.problem}")
        for row in rows:
            if row.status == "missing" and self.position.get(row.name, (0, 1))[1] == 0 and self.problem:
                notes.append(f"graph=: the gradient of the intermediate tensor {row.name!r} could not be computed: "
                             f"{self.problem}")
        return notes


# ---------------------------------------------------------------------------- the root cause
@dataclass
class _Group:
    """Names backward reaches together: one layer's parameters, or one intermediate gradient."""

    label: str              # "the output layer (W2, b2)", "layer 1 (W1, b1)", "dh"
    short: str              # "the output layer", "layer 1", "dh"
    names: list[str]
    kind: str               # "layer" or "intermediate"
    dh: str = "dh"          # the gradient arriving at the activation above this layer


def _layer_number(name: str) -> int | None:
    """The last number in a name: 'W2' -> 2, 'fc1.weight' -> 1, 'h' -> None."""
    found = re.findall(r"\d+", name)
    return int(found[-1]) if found else None


def _groups_from_names(names: list[str]) -> list[_Group]:
    """Backward order from the names alone (no graph=): the number in a name is its layer, the
    highest the output layer (W2, b2 before W1, b1); names without one are left out. When no
    name has a number, each name is a group and the given order is read as forward order."""
    numbers = {n: _layer_number(n) for n in names}
    layers = sorted({k for k in numbers.values() if k is not None}, reverse=True)
    if not layers:
        return [_Group(n, n, [n], "layer") for n in reversed(names)]
    groups = []
    for k in layers:
        members = [n for n in names if numbers[n] == k]
        short = "the output layer" if k == layers[0] else f"layer {k}"
        groups.append(_Group(f"{short} ({', '.join(members)})", short, members, "layer"))
    return groups


def _are(names: list[str]) -> str:
    return "is" if len(names) == 1 else "are"


def _between_hint(before: _Group, after: _Group) -> str:
    """What to check between a right group and the wrong one after it in backward order."""
    if after.kind == "intermediate":
        return f"how {after.short} is passed back from {before.short} (e.g. dh = dlogits @ W2)"
    if before.kind == "intermediate":
        return f"the activation derivative (dz = {before.short} ⊙ f'(z)) and the formulas of {after.short}"
    return f"{after.dh} / the activation derivative"


def _root_cause(rows: list[GradRow], groups: list[_Group]) -> str:
    """Where backward first goes wrong, when several gradients are wrong: the first group in backward
    order with a mismatch. A right group further back means the gradient flowing back is right
    and the first wrong ones have a mistake of their own; so does a right name in the same layer."""
    status = {row.name: row.status for row in rows}
    compared = [(g, [n for n in g.names if status.get(n) in ("match", "mismatch")]) for g in groups]
    compared = [(g, names) for g, names in compared if names]
    if len(compared) < 2 or sum(status[n] == "mismatch" for _, names in compared for n in names) < 2:
        return ""
    first = next((i for i, (_, names) in enumerate(compared) if "mismatch" in {status[n] for n in names}), None)
    if first is None:
        return ""
    group, names = compared[first]
    wrong = [n for n in names if status[n] == "mismatch"]
    right = [n for n in names if status[n] == "match"]
    further_right = [g for g, ns in compared[first + 1:] if all(status[n] == "match" for n in ns)]
    if further_right:
        return (f"{', '.join(wrong)} {_are(wrong)} wrong but {further_right[0].label}, further back, is right: "
                f"the gradient flowing back through {group.short} is right, so the mistake is in the "
                f"formula of {', '.join(wrong)} alone")
    if right:
        return (f"in {group.short}, {', '.join(right)} {_are(right)} right but {', '.join(wrong)} {_are(wrong)} "
                f"not: the gradient reaching {group.short} is right, so the mistake is in the formula of "
                f"{', '.join(wrong)} alone")
    if first == 0:
        return (f"{group.label} is wrong, the first gradients backward computes: the error starts at "
                f"{group.short}: check the output gradient (e.g. dlogits = ŷ − y, its sign and its 1/N)")
    before = compared[first - 1][0]
    factors = {round(row.factor, 6) for row in rows if row.name in wrong and row.factor is not None
               and row.diagnosis.startswith("constant scale factor")}
    if len(factors) == 1 and len(wrong) == len(names) and group.kind == "layer":  # a whole layer off by one factor
        (factor,) = factors
        return (f"{before.label} is right but every gradient of {group.label} is {factor:g}·autograd's: a factor "
                f"only {group.short}'s formulas have, e.g. the 1/N (batch size) divided out in {before.short} "
                f"but not in {', '.join(wrong)}")
    return (f"{before.label} is right but {group.label} is not: the error starts between {before.short} "
            f"and {group.short}: check {_between_hint(before, group)}")


# ---------------------------------------------------------------------------- helpers
def _lacks_autograd_grad(value: Any) -> bool:
    """Whether autograd's side is a Tensor without a gradient: a leaf whose .grad is None, or a
    tensor made by an op (backward fills no .grad there; it is not read, which would warn)."""
    return isinstance(value, Tensor) and (value.grad_fn is not None or value.grad is None)


def _as_array(value: Any, use_grad: bool = True) -> np.ndarray:
    """A Tensor's .grad (or .data for parameters); anything else as an ndarray."""
    if isinstance(value, Tensor):
        if not use_grad:
            return value.data
        grad = value.grad if value.grad_fn is None else None
        return np.zeros_like(value.data) if grad is None else grad
    return np.asarray(value)


def _default_rtol(arrays: list[np.ndarray]) -> float:
    """DEFAULT_RTOL for the least precise floating-point array (float64 when there is none)."""
    sizes = [a.dtype.itemsize for a in arrays if a.dtype.kind == "f"]
    return DEFAULT_RTOL.get(min(sizes, default=8), 1e-6)


@dataclass
class _Lined:
    """A hand gradient brought to autograd's shape, and what that took."""

    array: np.ndarray | None       # None: it could not be
    note: str = ""                 # e.g. "manual (128, 1) reshaped to (128,)"
    transposed: bool = False
    shape_mistake: str = ""        # e.g. "sum over the batch missing: ..."


def _line_up(m: np.ndarray, g: np.ndarray, tol: float, atol: float) -> _Lined:
    """``m`` in autograd's shape: reshaped or transposed (:func:`_align`), or summed over the batch
    where that was forgotten; otherwise the shape mistake alone."""
    aligned, note, transposed = _align(m, g.shape)
    if aligned is not None:
        return _Lined(aligned, note, transposed)
    found = _diagnose_missing_batch_sum(m, g, tol, atol) or _diagnose_wrong_sum_axis(m, g, tol, atol)
    if found is None:
        return _Lined(None, shape_mistake=f"shape mismatch: manual {m.shape} vs autograd {g.shape}")
    text, summed = found
    return _Lined(summed, shape_mistake=text)


def _align(m: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray | None, str, bool]:
    """Bring ``m`` to ``shape``: (array or None, note, whether it was transposed)."""
    if m.shape == tuple(shape):
        return m, "", False
    if m.size != int(np.prod(shape)):
        return None, "", False
    squeezed_m = tuple(s for s in m.shape if s != 1)
    squeezed_g = tuple(s for s in shape if s != 1)
    if squeezed_m == squeezed_g:
        return m.reshape(shape), f"manual {m.shape} reshaped to {tuple(shape)}", False
    if len(squeezed_m) == 2 and squeezed_m[::-1] == squeezed_g:
        return (m.reshape(squeezed_m).T.reshape(shape),
                f"manual {m.shape} compared transposed to {tuple(shape)}", True)
    return None, "", False


def _fits(actual: np.ndarray, predicted: np.ndarray, tol: float, atol: float) -> bool:
    """max|actual − predicted| <= atol + tol·max(|actual|, |predicted|)."""
    if actual.size == 0:
        return True
    scale = max(float(np.max(np.abs(actual))), float(np.max(np.abs(predicted))))
    return float(np.max(np.abs(actual - predicted))) <= atol + tol * scale


def _fits_aligned(actual: np.ndarray, predicted: np.ndarray, tol: float, atol: float) -> bool:
    aligned, _, _ = _align(actual, predicted.shape)
    return aligned is not None and _fits(aligned, predicted, tol, atol)


def _fmt(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"


def _table(head: list[str], body: list[list[str]]) -> str:
    """Left-aligned columns; the last column is not padded."""
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    lines = []
    for r in [head, ["-" * w for w in widths]] + body:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths[:-1])) + "  " + r[-1])
    return "\n".join(line.rstrip() for line in lines)
