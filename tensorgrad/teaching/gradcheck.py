"""Gradient checking: autograd's gradients against central finite differences, in float64."""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..autograd import enable_grad, grad, no_grad
from ..errors import GradcheckError
from ..tensor import Tensor

__all__ = ["gradcheck", "gradgradcheck", "GradcheckResult", "GradcheckError", "InputCheck"]


@dataclass
class InputCheck:
    """The comparison for one input: the worst element and its analytic and numeric gradients."""

    index: int
    name: str
    shape: tuple[int, ...]
    ok: bool
    worst_element: tuple[int, ...]
    analytic: float
    numeric: float
    abs_error: float
    rel_error: float

    def describe(self) -> str:
        verdict = "ok" if self.ok else "MISMATCH"
        return (f"input {self.index} ({self.name}, shape {self.shape}): {verdict}; worst element "
                f"{self.worst_element}: analytic {self.analytic:.10g}, numeric {self.numeric:.10g}, "
                f"abs error {self.abs_error:.3g}, rel error {self.rel_error:.3g}")


@dataclass
class GradcheckResult:
    """What ``tg.gradcheck`` returns: truthy when every checked gradient agrees (a failing result is
    returned only with ``raise_exception=False``). Its repr, also the message of the
    :class:`GradcheckError` that ``gradcheck`` raises, names each input, its worst element and both
    values; in Jupyter it shows as a table."""

    inputs: list[InputCheck] = field(default_factory=list)
    atol: float = 0.0
    rtol: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every checked input's gradient agrees (what ``bool(result)`` gives)."""
        return all(check.ok for check in self.inputs)

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        head = f"gradcheck {'passed' if self.ok else 'FAILED'} (atol={self.atol:g}, rtol={self.rtol:g})"
        return "\n".join([head] + ["  " + check.describe() for check in self.inputs])

    __str__ = __repr__

    def _repr_html_(self) -> str:
        """A small table for Jupyter: one row per checked input."""
        head = ["input", "shape", "verdict", "worst element", "analytic", "numeric", "abs error", "rel error"]
        rows = []
        for c in self.inputs:
            cells = [f"{c.index} ({c.name})", str(c.shape), "ok" if c.ok else "<b>MISMATCH</b>",
                     str(c.worst_element), f"{c.analytic:.10g}", f"{c.numeric:.10g}",
                     f"{c.abs_error:.3g}", f"{c.rel_error:.3g}"]
            cells = [cell if cell.startswith("<b>") else html.escape(cell) for cell in cells]
            rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
        verdict = "passed" if self.ok else "<b>FAILED</b>"
        return (f"<table><caption>gradcheck {verdict} (atol={self.atol:g}, rtol={self.rtol:g})</caption>"
                "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>"
                "<tbody>" + "".join(rows) + "</tbody></table>")


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    *,
    raise_exception: bool = True,
) -> GradcheckResult:
    """Compare autograd's gradients of ``fn(*inputs)`` with central finite differences.

    Every floating input is copied to float64 first (so the check is precise whatever dtype the
    model uses); the inputs that are Tensors with ``requires_grad=True`` are checked. A non-scalar
    output is reduced to a scalar with fixed random weights, ``sum(fn(*inputs) * w)``, which checks
    the whole Jacobian in one random direction.

    Args:
        fn: a function of the inputs returning a Tensor.
        inputs: Tensors (those with requires_grad=True are checked), arrays or numbers; a single
            Tensor stands for ``[tensor]``.
        eps: finite-difference step.
        atol: absolute tolerance: an element passes when |analytic − numeric| <= atol + rtol·|numeric|.
        rtol: relative tolerance (see atol).
        seed: seed of the random output weights.
        raise_exception: as in PyTorch: on a mismatch, raise :class:`GradcheckError` (an
            ``AssertionError``) whose message names each input, its worst element and both
            gradients. ``False`` returns the failing result instead.

    Returns:
        A :class:`GradcheckResult`, truthy when all gradients agree (with the default
        ``raise_exception=True``, only ever a passing one).

    Raises:
        GradcheckError: a gradient disagrees and ``raise_exception`` is True.

    Example:
        >>> x = tg.tensor(np.random.randn(3, 4), requires_grad=True)
        >>> assert tg.gradcheck(lambda t: (t * t).sum(axis=1), [x])
        >>> result = tg.gradcheck(lambda t: (t * t).sum(axis=1), [x], raise_exception=False)
    """
    if isinstance(inputs, Tensor):
        inputs = [inputs]
    if not eps > 0:
        raise ValueError(f"gradcheck: eps must be a positive step, got {eps!r}")
    args, checked = _float64_copies("gradcheck", inputs)

    output = fn(*args)
    if not isinstance(output, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(output).__name__}")
    # a scalar output is checked as it is; a larger one in a fixed random direction
    # (the stream is keyed by ("gradcheck", seed), not seed alone: inputs drawn with default_rng(0)
    # would otherwise be the weights themselves, a direction in which errors can hide)
    weights = (np.random.default_rng([0x67726164, seed]).standard_normal(output.shape) if output.size > 1
               else np.ones(output.shape))

    def objective() -> float:
        with no_grad():
            return float(np.sum(fn(*args).data * weights))

    if output.requires_grad:  # else fn ignores its inputs: every analytic gradient is 0
        (output * weights).sum().backward()

    result = GradcheckResult(atol=atol, rtol=rtol)
    for i in checked:
        tensor = args[i]
        analytic = tensor.grad if tensor.grad is not None else np.zeros_like(tensor.data)
        numeric = np.zeros(tensor.data.shape, tensor.data.dtype)
        # .flat writes through to the tensor whatever its memory layout (reshape(-1) of a
        # non-contiguous array, e.g. a conv's channels-last output, would perturb a copy)
        flat_data, flat_numeric = tensor.data.flat, numeric.reshape(-1)
        for k in range(numeric.size):  # one input element at a time: this is a test tool
            original = flat_data[k]
            flat_data[k] = original + eps
            plus = objective()
            flat_data[k] = original - eps
            minus = objective()
            flat_data[k] = original
            flat_numeric[k] = (plus - minus) / (2 * eps)
        error = np.abs(analytic - numeric)
        excess = error - (atol + rtol * np.abs(numeric))
        worst = np.unravel_index(int(np.argmax(excess)), numeric.shape) if numeric.size else ()
        result.inputs.append(InputCheck(
            index=i,
            name=tensor.name or f"inputs[{i}]",
            shape=tensor.shape,
            ok=bool(np.all(excess <= 0)) and bool(np.all(np.isfinite(analytic))),
            worst_element=tuple(int(w) for w in worst),
            analytic=float(analytic[worst]) if numeric.size else 0.0,
            numeric=float(numeric[worst]) if numeric.size else 0.0,
            abs_error=float(error[worst]) if numeric.size else 0.0,
            rel_error=float(error[worst] / max(abs(numeric[worst]), 1e-300)) if numeric.size else 0.0,
        ))
    if raise_exception and not result.ok:
        raise GradcheckError(repr(result), result)
    return result


def _float64_copies(op: str, inputs: Sequence[Any]) -> tuple[list[Any], list[int]]:
    """The inputs with every floating Tensor and array copied to float64 (a Tensor keeps its
    requires_grad and name), and the positions of those that require a gradient (at least one)."""
    args: list[Any] = []
    for x in inputs:
        if isinstance(x, Tensor):
            data = x.data.astype(np.float64) if x.dtype.kind == "f" else x.data
            args.append(Tensor(data, requires_grad=x.requires_grad, name=x.name))
        elif isinstance(x, np.ndarray) and x.dtype.kind == "f":
            args.append(x.astype(np.float64))
        else:
            args.append(x)
    checked = [i for i, x in enumerate(args) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError(f"{op}: no input has requires_grad=True, so there is nothing to check")
    return args, checked


def gradgradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    grad_outputs: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    *,
    raise_exception: bool = True,
) -> GradcheckResult:
    """Check second derivatives: the gradient of the gradient of ``fn``, against central finite
    differences of the first derivative (in float64), as PyTorch's ``gradgradcheck``.

    The first derivative is taken with ``create_graph=True`` in a direction ``w`` of the output
    (``grad_outputs``, random by default) and reduced to a number with fixed random weights ``u``:
    ``F(inputs, w) = Σᵢ ⟨∂⟨fn(inputs), w⟩/∂inputsᵢ, uᵢ⟩``. ``tg.gradcheck`` then compares F's
    gradient, which backward computes by differentiating the recorded backward pass, with finite
    differences of F, for every input and for ``w`` (the backward is linear in it).

    Args:
        fn: a function of the inputs returning a Tensor (as ``gradcheck``).
        inputs: Tensors (those with requires_grad=True are checked), arrays or numbers.
        grad_outputs: the direction ``w`` of the output (its shape); random when None.
        eps: finite-difference step.
        atol: absolute tolerance (as ``gradcheck``).
        rtol: relative tolerance (as ``gradcheck``).
        seed: seed of the random ``w`` and ``u``.
        raise_exception: raise :class:`GradcheckError` on a mismatch (as ``gradcheck``).

    Returns:
        A :class:`GradcheckResult` over the inputs and ``w`` (the last entry).
    """
    if isinstance(inputs, Tensor):
        inputs = [inputs]
    inputs, checked = _float64_copies("gradgradcheck", inputs)
    rng = np.random.default_rng([0x67726164, 2, seed])
    shape = fn(*inputs).shape
    w = rng.standard_normal(shape) if grad_outputs is None else np.asarray(
        grad_outputs.data if isinstance(grad_outputs, Tensor) else grad_outputs, dtype=np.float64)
    directions = {i: rng.standard_normal(inputs[i].shape) for i in checked}

    def first_derivative_along(*args: Any) -> Tensor:
        *xs, w_tensor = args
        with enable_grad():
            grads = grad(fn(*xs), [xs[i] for i in checked], grad_outputs=w_tensor, create_graph=True,
                          allow_unused=True)
        terms = [(g * directions[i]).sum() for i, g in zip(checked, grads) if g is not None]
        total = terms[0] if terms else (w_tensor * 0.0).sum()
        for term in terms[1:]:
            total = total + term
        return total

    return gradcheck(first_derivative_along, [*inputs, Tensor(w, requires_grad=True, name="grad_outputs")],
                     eps=eps, atol=atol, rtol=rtol, seed=seed, raise_exception=raise_exception)
