"""L-BFGS: a limited-memory quasi-Newton method, with an optional strong-Wolfe line search.

The algorithm (and the line search, ported by PyTorch from Torch7's
``lswolfe.lua`` / minFunc) follows PyTorch's ``torch.optim.LBFGS`` step for
step, so that both produce the same iterates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .optimizer import Optimizer, Params, _mark_changed

__all__ = ["LBFGS"]


def _loss_as_float(loss: Any) -> float:
    """The closure's loss as a Python float: a Tensor-like (with ``.item()``) or a number."""
    if loss is None:
        raise TypeError("LBFGS: the closure must return the loss (a Tensor or a number), "
                        "but it returned None")
    item = getattr(loss, "item", None)
    return float(item()) if callable(item) else float(loss)


def _cubic_interpolate(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                       bounds: tuple[float, float] | None = None) -> float:
    """Minimizer of the cubic through ``(x1, f1)`` and ``(x2, f2)`` with slopes ``g1``, ``g2``.

    The result is clipped to ``bounds`` (by default the interval between x1 and
    x2); when the cubic has no minimizer, the middle of the bounds is returned.
    """
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    # numpy scalars so that a degenerate case gives inf/nan (as in PyTorch) instead of raising
    x1, f1, g1, x2, f2, g2 = (np.float64(v) for v in (x1, f1, g1, x2, f2, g2))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
        d2_square = d1 ** 2 - g1 * g2
        if d2_square >= 0:
            d2 = np.sqrt(d2_square)
            if x1 <= x2:
                minimizer = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
            else:
                minimizer = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
            return float(min(max(minimizer, low), high))
        return float((low + high) / 2)


class _LinePoint(NamedTuple):
    """The objective evaluated at ``params + step * direction``."""
    step: float
    loss: float
    grad: np.ndarray
    slope: float  # directional derivative: grad . direction


def _strong_wolfe(evaluate: Callable[[float], _LinePoint], direction: np.ndarray,
                  start: _LinePoint, step: float, c1: float = 1e-4, c2: float = 0.9,
                  tolerance_change: float = 1e-9, max_ls: int = 25) -> tuple[_LinePoint, int]:
    """Search along ``direction`` for a step satisfying the strong Wolfe conditions.

    The conditions, with ``start`` the point at step 0::

        loss(t) <= start.loss + c1 * t * start.slope     (sufficient decrease, "Armijo")
        |slope(t)| <= c2 * |start.slope|                 (curvature)

    First extrapolates (cubic interpolation, growing the step up to 10x) until
    an interval is found that must contain such a step, then shrinks that
    interval ("zoom"). Returns the best point found and how many times
    ``evaluate`` was called (at most ``max_ls``, plus one).
    """
    direction_size = np.abs(direction).max()

    def violates_armijo(point: _LinePoint) -> bool:
        return point.loss > start.loss + c1 * point.step * start.slope

    def satisfies_curvature(point: _LinePoint) -> bool:
        return abs(point.slope) <= -c2 * start.slope

    # Phase 1: bracket an interval containing an acceptable step.
    new = evaluate(step)
    evaluations = 1
    previous = start
    bracket: list[_LinePoint] | None = None
    done = False
    iteration = 0
    while iteration < max_ls:
        if violates_armijo(new) or (iteration > 1 and new.loss >= previous.loss):
            bracket = [previous, new]
            break
        if satisfies_curvature(new):
            bracket, done = [new], True
            break
        if new.slope >= 0:
            bracket = [previous, new]
            break
        # still going down: extrapolate to a longer step
        min_step = new.step + 0.01 * (new.step - previous.step)
        max_step = new.step * 10
        step = _cubic_interpolate(previous.step, previous.loss, previous.slope,
                                  new.step, new.loss, new.slope, bounds=(min_step, max_step))
        previous = new
        new = evaluate(step)
        evaluations += 1
        iteration += 1
    if bracket is None:  # out of evaluations while still going down
        bracket = [start, new]

    # Phase 2 ("zoom"): shrink the bracket until a point satisfies both conditions.
    # bracket[low] is the end with the lower loss.
    low, high = (0, 1) if bracket[0].loss <= bracket[-1].loss else (1, 0)
    insufficient_progress = False
    while not done and iteration < max_ls:
        if abs(bracket[1].step - bracket[0].step) * direction_size < tolerance_change:
            break  # the bracket is too small to make progress
        step = _cubic_interpolate(bracket[0].step, bracket[0].loss, bracket[0].slope,
                                  bracket[1].step, bracket[1].loss, bracket[1].slope)

        # A step right next to an end of the bracket shrinks it very little: if that
        # happens twice in a row (or the step is outside), move it 10% inside.
        upper = max(bracket[0].step, bracket[1].step)
        lower = min(bracket[0].step, bracket[1].step)
        margin = 0.1 * (upper - lower)
        if min(upper - step, step - lower) < margin:
            if insufficient_progress or step >= upper or step <= lower:
                step = upper - margin if abs(step - upper) < abs(step - lower) else lower + margin
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False

        new = evaluate(step)
        evaluations += 1
        iteration += 1
        if violates_armijo(new) or new.loss >= bracket[low].loss:
            bracket[high] = new  # too high: the new point closes the bracket
            low, high = (0, 1) if bracket[0].loss <= bracket[1].loss else (1, 0)
        else:
            if satisfies_curvature(new):
                done = True
            elif new.slope * (bracket[high].step - bracket[low].step) >= 0:
                bracket[high] = bracket[low]  # the minimum lies between low and new
            bracket[low] = new
    return bracket[low], evaluations


class LBFGS(Optimizer):
    """L-BFGS (PyTorch's ``torch.optim.LBFGS``).

    ``step(closure)`` runs up to ``max_iter`` iterations, each calling the
    closure (which must zero the gradients, recompute the loss, call
    ``backward()`` and return the loss). With ``x`` all parameters as one flat
    vector and ``g`` its gradient, one iteration is::

        s, y = t * d, g - g_prev                  remember the pair (s, y) if y.s > 1e-10,
                                                  keeping the last history_size pairs
        d = -H g                                  H: the inverse-Hessian estimate from the
                                                  pairs (two-loop recursion), starting from
                                                  (y.s / y.y) * identity; d = -g at first
        t = min(1, 1 / sum|g|) * lr on the very first iteration, lr afterwards
        t = strong_wolfe(t)                       if line_search_fn == "strong_wolfe"
        x = x + t * d

    It stops when ``max|g| <= tolerance_grad``, when ``max|t * d|`` or the
    change in loss is below ``tolerance_change``, when ``g.d > -tolerance_change``
    (not a descent direction), or after ``max_eval`` closure evaluations. The
    history is kept across calls to ``step``.

    Only one parameter group is supported. The algorithm keeps
    ``history_size`` pairs of flat vectors as large as all parameters together.

    Args:
        params: parameters to optimize.
        lr: learning rate, the step length tried first (default 1).
        max_iter: maximal number of iterations per ``step`` (default 20).
        max_eval: maximal number of closure evaluations per ``step``
            (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when every gradient entry is this small (default 1e-7).
        tolerance_change: stop when the loss or the parameters change less (default 1e-9).
        history_size: number of (s, y) pairs remembered (default 100).
        line_search_fn: ``None`` (fixed step ``lr``) or ``"strong_wolfe"``.

    Example::

        optimizer = LBFGS(model.parameters(), line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            return loss

        optimizer.step(closure)
    """

    _state_shaped_like_params = False  # the state holds flat vectors over all parameters

    def __init__(self, params: Params, lr: float = 1.0, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size,
                        line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError(f"{self._name} doesn't support per-parameter options (parameter groups), "
                             f"but got {len(self.param_groups)} groups")

    def _validate_options(self, options: dict[str, Any]) -> None:
        self._require(options["lr"] >= 0, "lr", options["lr"], ">= 0")
        self._require(options["max_iter"] >= 1, "max_iter", options["max_iter"], ">= 1")
        self._require(options["max_eval"] >= 1, "max_eval", options["max_eval"], ">= 1")
        self._require(options["history_size"] >= 1, "history_size", options["history_size"], ">= 1")
        self._require(options["line_search_fn"] in (None, "strong_wolfe"), "line_search_fn",
                      options["line_search_fn"], "None or 'strong_wolfe'")

    # ------------------------------------------------------------------ flat-vector helpers

    @property
    def _params(self) -> list[Any]:
        return self.param_groups[0]["params"]

    def _gather_flat_grad(self) -> np.ndarray:
        """All gradients as one new flat vector (zeros for parameters without a gradient)."""
        return np.concatenate([
            np.zeros(p.data.size, dtype=p.data.dtype) if p.grad is None else np.ravel(p.grad)
            for p in self._params
        ])

    def _add_to_params(self, step: float, direction: np.ndarray) -> None:
        """params += step * direction, in place."""
        offset = 0
        for p in self._params:
            size = p.data.size
            p.data += step * direction[offset:offset + size].reshape(p.data.shape)
            _mark_changed(p)
            offset += size

    def _copy_params(self) -> list[np.ndarray]:
        return [p.data.copy() for p in self._params]

    def _set_params(self, values: list[np.ndarray]) -> None:
        for p, value in zip(self._params, values):
            np.copyto(p.data, value)
            _mark_changed(p)

    def _evaluate(self, closure: Callable[[], Any]) -> tuple[float, np.ndarray]:
        loss = _loss_as_float(closure())
        return loss, self._gather_flat_grad()

    @staticmethod
    def _two_loop_direction(flat_grad: np.ndarray, old_dirs: list[np.ndarray],
                            old_stps: list[np.ndarray], ro: list[float], h_diag: float) -> np.ndarray:
        """-H g by the L-BFGS two-loop recursion (y's in old_dirs, s's in old_stps, ro = 1/(y.s))."""
        q = -flat_grad
        alphas = [0.0] * len(old_dirs)
        for i in reversed(range(len(old_dirs))):
            alphas[i] = float(old_stps[i] @ q) * ro[i]
            q -= alphas[i] * old_dirs[i]
        r = q * h_diag
        for i in range(len(old_dirs)):
            beta = float(old_dirs[i] @ r) * ro[i]
            r += (alphas[i] - beta) * old_stps[i]
        return r

    # ------------------------------------------------------------------ the step

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations.

        Args:
            closure: function that zeroes the gradients, recomputes the loss,
                calls ``backward()`` and returns the loss (required).

        Returns:
            The loss returned by the first call of the closure.
        """
        if closure is None:
            raise TypeError(f"{self._name}.step() requires a closure that zeroes the gradients, "
                            f"recomputes the loss, calls backward() and returns the loss")
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval, history_size = group["max_iter"], group["max_eval"], group["history_size"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]

        # L-BFGS's state is global; like PyTorch, keep it under the first parameter.
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        original_loss = closure()
        loss = _loss_as_float(original_loss)
        evaluations = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if np.abs(flat_grad).max() <= tolerance_grad:
            return original_loss  # already at a stationary point

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag = state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        iteration = 0
        while iteration < max_iter:
            iteration += 1
            state["n_iter"] += 1

            # --- search direction
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                h_diag = 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:  # keep the pair only if it has positive curvature
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / float(y @ y)
                d = self._two_loop_direction(flat_grad, old_dirs, old_stps, ro, h_diag)
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss

            # --- step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(np.abs(flat_grad).sum())) * lr
            else:
                t = lr
            directional_derivative = float(flat_grad @ d)
            if directional_derivative > -tolerance_change:
                break  # d is (numerically) not a descent direction

            evaluations_now = 0
            optimal = False
            if group["line_search_fn"] == "strong_wolfe":
                start_params = self._copy_params()

                def evaluate_at(step: float) -> _LinePoint:
                    self._add_to_params(step, d)
                    loss_at, grad_at = self._evaluate(closure)
                    self._set_params(start_params)
                    return _LinePoint(step, loss_at, grad_at, float(grad_at @ d))

                # (the line search uses its own default tolerance_change, as PyTorch's does)
                point, evaluations_now = _strong_wolfe(
                    evaluate_at, d, _LinePoint(0.0, loss, flat_grad, directional_derivative), t,
                    max_ls=max_eval - evaluations)
                loss, flat_grad, t = point.loss, point.grad, point.step
                self._add_to_params(t, d)
                optimal = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_to_params(t, d)
                if iteration != max_iter:
                    # no need to re-evaluate after the last iteration
                    loss, flat_grad = self._evaluate(closure)
                    optimal = np.abs(flat_grad).max() <= tolerance_grad
                    evaluations_now = 1
            evaluations += evaluations_now
            state["func_evals"] += evaluations_now

            # --- stopping conditions
            if iteration == max_iter or evaluations >= max_eval or optimal:
                break
            if np.abs(d * t).max() <= tolerance_change:
                break  # the parameters barely move
            if abs(loss - prev_loss) < tolerance_change:
                break  # the loss barely changes

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return original_loss
