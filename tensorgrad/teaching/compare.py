"""Find the mistake in a hand-derived gradient with one call.

``compare_grads(manual, autograd)`` lines up a hand-derived gradient with autograd's, name by
name, and for every name that disagrees tries the usual hand-derivation mistakes in turn:

=====  ===================================  ==========================================
step   mistake                              test
=====  ===================================  ==========================================
a      constant scale factor (often 1/m)    manual ≈ c·autograd for one least-squares c
b      sign flip                            c ≈ −1 (checked before a, which it is a case of)
c      transpose                            manual.T ≈ autograd
d      extra / missing L2 term              manual − autograd ≈ λ·param  (needs ``params``)
e      derivative of another activation     see :class:`ActivationSite`
f      anything else                        "no simple pattern (max rel error …)"
=====  ===================================  ==========================================

Example::

    report = compare_grads({"W1": dW1, "b1": db1}, {"W1": W1, "b1": b1})   # W1, b1: tg.Tensor
    print(report)            # an aligned table, one row per name
    assert report, report    # truthy when every gradient matches
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..tensor import Tensor

__all__ = ["compare_grads", "GradReport", "GradRow", "ActivationSite", "DERIVATIVE_CANDIDATES"]

#: A diagnosis "fits" when its prediction agrees with the hand gradient to this relative
#: tolerance (or to ``rtol`` when that is looser). Hand-derivation mistakes are exact
#: relations, so anything looser than rounding error but far below a real error will do.
PATTERN_RTOL = 1e-4


# ---------------------------------------------------------------------------- activation sites
#: The derivatives students write, in terms of the values a forward pass saves:
#: key -> (how it is written, derivative as a function of (z, a)).
DERIVATIVE_CANDIDATES: dict[str, tuple[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]] = {
    "sigmoid": ("σ'(z) = a·(1−a)", lambda z, a: a * (1 - a)),
    "tanh_of_a": ("tanh' written as 1−a²", lambda z, a: 1 - a ** 2),
    "tanh_of_z": ("tanh'(z) = 1−tanh(z)²", lambda z, a: 1 - np.tanh(z) ** 2),
    "relu": ("ReLU' = [z>0]", lambda z, a: (z > 0).astype(np.result_type(z, np.float32))),
    "identity": ("identity (1)", lambda z, a: np.ones_like(z)),
}

#: activation name -> the candidates that ARE its derivative (when a is that activation of z).
TRUE_DERIVATIVES: dict[str, tuple[str, ...]] = {
    "sigmoid": ("sigmoid",),
    "tanh": ("tanh_of_a", "tanh_of_z"),
    "relu": ("relu",),
    "identity": ("identity",),
    "linear": ("identity",),
}


@dataclass
class ActivationSite:
    """One hidden layer ``a = activation(z)`` whose backward a hand derivation writes out.

    Attributes:
        name: a label for the layer, e.g. ``"hidden"``.
        activation: the layer's activation: ``"sigmoid"``, ``"tanh"``, ``"relu"`` or
            ``"identity"``/``"linear"``.
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
@dataclass
class GradRow:
    """The comparison of one named gradient.

    ``status`` is ``"match"``, ``"mismatch"`` or ``"missing"`` (the name is in only one mapping);
    ``factor`` is the fitted number behind the diagnosis (the scale c, −1, or the L2 λ), if any;
    ``note`` says how the shapes were lined up (e.g. a (128, 1) column reshaped to (128,)).
    """

    name: str
    shape: tuple[int, ...]
    max_abs_err: float
    max_rel_err: float
    status: str
    diagnosis: str
    factor: float | None = None
    note: str = ""


@dataclass
class GradReport:
    """What :func:`compare_grads` found. Truthy when every gradient matches; ``str()`` is a table."""

    rows: list[GradRow] = field(default_factory=list)
    rtol: float = 1e-6
    atol: float = 1e-12

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
        """Names present in only one of the two mappings."""
        return [row.name for row in self.rows if row.status == "missing"]

    def __getitem__(self, name: str) -> GradRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        head = ["name", "shape", "max abs err", "max rel err", "status", "diagnosis"]
        body = [[row.name, str(row.shape), _fmt(row.max_abs_err), _fmt(row.max_rel_err), row.status,
                 row.diagnosis] for row in self.rows]
        verdict = ("all gradients match" if self.ok else
                   f"{len(self.mismatches)} mismatch(es), {len(self.missing)} missing")
        return f"compare_grads (rtol={self.rtol:g}, atol={self.atol:g}): {verdict}\n" + _table(head, body)

    __repr__ = __str__

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ok, mismatches, missing, tolerances and the rows (NaN -> None)."""
        rows = []
        for row in self.rows:
            d = asdict(row)
            d["shape"] = list(row.shape)
            for key in ("max_abs_err", "max_rel_err", "factor"):
                if d[key] is not None and not math.isfinite(d[key]):
                    d[key] = None
            rows.append(d)
        return {"ok": self.ok, "mismatches": self.mismatches, "missing": self.missing,
                "rtol": self.rtol, "atol": self.atol, "rows": rows}


# ---------------------------------------------------------------------------- the entry point
def compare_grads(
    manual: Mapping[str, Any],
    autograd: Mapping[str, Any],
    *,
    params: Mapping[str, Any] | None = None,
    activation_sites: Sequence[ActivationSite] | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-12,
) -> GradReport:
    """Compare hand-derived gradients with autograd's and diagnose each mismatch.

    Args:
        manual: name -> hand-derived gradient (array, or a Tensor whose ``.grad`` is used).
        autograd: name -> autograd's gradient (array, or a Tensor whose ``.grad`` is used).
        params: optional name -> parameter value (array or Tensor's data), for the L2 diagnosis.
        activation_sites: optional hidden layers, for the wrong-activation diagnosis.
        rtol, atol: a gradient matches when max|manual − autograd| <= atol + rtol·max|autograd|;
            the reported relative error is max|manual − autograd| / max|autograd|.

    Shapes may differ by size-1 axes (a (128, 1) bias column against (128,)): the hand gradient
    is reshaped and the row says so. A 2-D hand gradient with the transposed shape is compared
    transposed and is always a mismatch (it could not update the parameter as it is).

    Returns:
        A :class:`GradReport`: ``.ok``, ``.mismatches``, ``.rows``, ``str()`` a table.
    """
    params = {k: _as_array(v, use_grad=False) for k, v in (params or {}).items()}
    sites = _SiteCache(activation_sites or [])
    report = GradReport(rtol=rtol, atol=atol)
    names = list(manual) + [k for k in autograd if k not in manual]
    for name in names:
        if name not in autograd or name not in manual:
            side = "autograd" if name not in autograd else "manual"
            present = manual.get(name) if side == "autograd" else autograd.get(name)
            report.rows.append(GradRow(name, tuple(np.shape(_as_array(present))), math.nan, math.nan,
                                       "missing", f"missing in {side}"))
            continue
        report.rows.append(_compare_one(name, _as_array(manual[name]), _as_array(autograd[name]),
                                        params, sites, manual, rtol, atol))
    return report


def _compare_one(name: str, m: np.ndarray, g: np.ndarray, params: dict[str, np.ndarray],
                 sites: "_SiteCache", manual: Mapping[str, Any], rtol: float, atol: float) -> GradRow:
    aligned, note, transposed = _align(m, g.shape)
    if aligned is None:
        return GradRow(name, g.shape, math.nan, math.nan, "mismatch",
                       f"shape mismatch: manual {m.shape} vs autograd {g.shape}")
    m = aligned
    abs_err = float(np.max(np.abs(m - g))) if g.size else 0.0
    scale = float(np.max(np.abs(g))) if g.size else 0.0
    rel_err = abs_err / scale if scale > 0 else (0.0 if abs_err == 0 else math.inf)
    row = GradRow(name, g.shape, abs_err, rel_err, "match", note, note=note)
    if abs_err <= atol + rtol * scale and not transposed:
        return row

    row.status = "mismatch"
    tol = max(rtol, PATTERN_RTOL)
    if transposed and _fits(m, g, tol, atol):
        text, factor = "transpose: manual.T ≈ autograd (the hand gradient has the transposed shape)", None
    else:
        text, factor = _diagnose(name, m, g, params, sites, manual, tol, atol)
    row.diagnosis = text + (f"; {note}" if note else "")
    row.factor = factor
    return row


def _diagnose(name: str, m: np.ndarray, g: np.ndarray, params: dict[str, np.ndarray],
              sites: "_SiteCache", manual: Mapping[str, Any], tol: float, atol: float
              ) -> tuple[str, float | None]:
    """The first diagnosis that fits, as (text, fitted factor)."""
    found = (_diagnose_zero(m, g)
             or _diagnose_sign(m, g, tol, atol)
             or _diagnose_scale(m, g, tol, atol)
             or _diagnose_transpose(m, g, tol, atol)
             or _diagnose_l2(m, g, params.get(name), tol, atol)
             or sites.diagnose(name, manual, tol, atol))
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


def _diagnose_sign(m: np.ndarray, g: np.ndarray, tol: float, atol: float) -> tuple[str, float | None] | None:
    """(b) manual ≈ −autograd."""
    if _fits(m, -g, tol, atol):
        return "sign flip: manual ≈ −1·autograd (e.g. y − ŷ written for ŷ − y)", -1.0
    return None


def _diagnose_scale(m: np.ndarray, g: np.ndarray, tol: float, atol: float) -> tuple[str, float | None] | None:
    """(a) manual ≈ c·autograd for one c, with a batch-size hint when c or 1/c is an integer."""
    c = _least_squares_scale(m, g)
    if c is None or c == 0 or abs(c - 1) <= tol or not _fits(m, c * g, tol, atol):
        return None
    text = f"constant scale factor: manual ≈ {c:.6g}·autograd"
    k = c if abs(c) > 1 else 1 / c
    n = round(abs(k))
    if n > 1 and abs(abs(k) - n) <= tol * n:
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


# ---------------------------------------------------------------------------- helpers
def _as_array(value: Any, use_grad: bool = True) -> np.ndarray:
    """A Tensor's .grad (or .data for parameters); anything else as an ndarray."""
    if isinstance(value, Tensor):
        if not use_grad:
            return value.data
        if value.grad is None:
            return np.zeros_like(value.data)
        return value.grad
    return np.asarray(value)


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
