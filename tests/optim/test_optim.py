"""Tests of tensorgrad.optim that need only NumPy.

Each optimizer is run on a fixed random gradient sequence and compared, step by
step, with a reference written from PyTorch's documented algorithm, literally,
in float64. (tests/test_optim_torch.py compares the same optimizers with PyTorch.)
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from tensorgrad.optim import LBFGS, SGD, Adadelta, Adagrad, Adam, AdamW, Optimizer, RMSprop
from tensorgrad.optim.lr_scheduler import ExponentialLR, StepLR


class P:
    """Stand-in for a parameter: a .data array updated in place and a .grad array (or None)."""

    __slots__ = ("data", "grad", "requires_grad")

    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self.grad = None
        self.requires_grad = True


SHAPE = (3, 4)
STEPS = 10
X0 = np.random.default_rng(0).standard_normal(SHAPE)
GRADS = list(np.random.default_rng(1).standard_normal((STEPS, *SHAPE)))


def run(optimizer_class, options, dtype=np.float64, grads=GRADS, x0=X0):
    """Step an optimizer through `grads`; return the parameter, the optimizer and the trajectory."""
    param = P(x0.astype(dtype))
    optimizer = optimizer_class([param], **options)
    trajectory = []
    for grad in grads:
        param.grad = grad.astype(dtype)
        optimizer.step()
        trajectory.append(param.data.copy())
    return param, optimizer, trajectory


# --------------------------------------------------------------------------------------
# Reference algorithms: PyTorch's documented formulas, written out literally in float64.
# Each takes the starting point and the gradient sequence and returns the iterates.
# --------------------------------------------------------------------------------------

def sgd_reference(theta, grads, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                  nesterov=False, maximize=False):
    out, b = [], None
    for g in grads:
        g = -g if maximize else g
        g = g + weight_decay * theta
        if momentum != 0:
            b = g if b is None else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        theta = theta - lr * g
        out.append(theta)
    return out


def adam_reference(theta, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   amsgrad=False, maximize=False, decoupled=False):
    beta1, beta2 = betas
    out, m, v, v_max = [], 0 * theta, 0 * theta, 0 * theta
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if decoupled:
            theta = theta * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - beta1 ** t)
        v_hat = (v_max if amsgrad else v) / (1 - beta2 ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(theta)
    return out


def adamw_reference(theta, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                    amsgrad=False, maximize=False):
    return adam_reference(theta, grads, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled=True)


def rmsprop_reference(theta, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                      centered=False, maximize=False):
    out, v, g_ave, b = [], 0 * theta, 0 * theta, 0 * theta
    for g in grads:
        g = -g if maximize else g
        g = g + weight_decay * theta
        v = alpha * v + (1 - alpha) * g ** 2
        v_tilde = v
        if centered:
            g_ave = alpha * g_ave + (1 - alpha) * g
            v_tilde = v - g_ave ** 2
        if momentum > 0:
            b = momentum * b + g / (np.sqrt(v_tilde) + eps)
            theta = theta - lr * b
        else:
            theta = theta - lr * g / (np.sqrt(v_tilde) + eps)
        out.append(theta)
    return out


def adagrad_reference(theta, grads, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                      initial_accumulator_value=0.0, eps=1e-10, maximize=False):
    out, state_sum = [], 0 * theta + initial_accumulator_value
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        g = g + weight_decay * theta
        clr = lr / (1 + (t - 1) * lr_decay)
        state_sum = state_sum + g ** 2
        theta = theta - clr * g / (np.sqrt(state_sum) + eps)
        out.append(theta)
    return out


def adadelta_reference(theta, grads, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    out, v, u = [], 0 * theta, 0 * theta
    for g in grads:
        g = -g if maximize else g
        g = g + weight_decay * theta
        v = v * rho + g ** 2 * (1 - rho)
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = u * rho + delta ** 2 * (1 - rho)
        theta = theta - lr * delta
        out.append(theta)
    return out


CASES = [
    (SGD, sgd_reference, {}),
    (SGD, sgd_reference, dict(lr=0.1)),
    (SGD, sgd_reference, dict(lr=0.1, momentum=0.9)),
    (SGD, sgd_reference, dict(lr=0.1, momentum=0.9, dampening=0.5)),
    (SGD, sgd_reference, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (SGD, sgd_reference, dict(lr=0.1, weight_decay=0.1)),
    (SGD, sgd_reference, dict(lr=0.1, momentum=0.8, weight_decay=0.1, nesterov=True, maximize=True)),
    (Adam, adam_reference, {}),
    (Adam, adam_reference, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-3)),
    (Adam, adam_reference, dict(lr=0.01, weight_decay=0.1)),
    (Adam, adam_reference, dict(lr=0.01, amsgrad=True)),
    (Adam, adam_reference, dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    (AdamW, adamw_reference, {}),
    (AdamW, adamw_reference, dict(lr=0.01, weight_decay=0.1)),
    (AdamW, adamw_reference, dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
    (RMSprop, rmsprop_reference, {}),
    (RMSprop, rmsprop_reference, dict(alpha=0.9, eps=1e-3)),
    (RMSprop, rmsprop_reference, dict(centered=True)),
    (RMSprop, rmsprop_reference, dict(momentum=0.9)),
    (RMSprop, rmsprop_reference, dict(centered=True, momentum=0.9, weight_decay=0.1, maximize=True)),
    (Adagrad, adagrad_reference, {}),
    (Adagrad, adagrad_reference, dict(lr=0.1, lr_decay=0.1)),
    (Adagrad, adagrad_reference, dict(initial_accumulator_value=0.5, eps=1e-3)),
    (Adagrad, adagrad_reference, dict(weight_decay=0.1, maximize=True)),
    (Adadelta, adadelta_reference, {}),
    (Adadelta, adadelta_reference, dict(lr=0.5, rho=0.95, eps=1e-3)),
    (Adadelta, adadelta_reference, dict(weight_decay=0.1, maximize=True)),
]
CASE_IDS = [f"{cls.__name__}({', '.join(f'{k}={v}' for k, v in opts.items())})" for cls, _, opts in CASES]


@pytest.mark.parametrize("optimizer_class, reference, options", CASES, ids=CASE_IDS)
def test_trajectory_matches_documented_formula(optimizer_class, reference, options):
    _, _, trajectory = run(optimizer_class, options)
    expected = reference(X0, GRADS, **options)
    for step, (got, want) in enumerate(zip(trajectory, expected)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13, err_msg=f"step {step + 1}")


@pytest.mark.parametrize("optimizer_class, reference, options", CASES, ids=CASE_IDS)
def test_float32_stays_float32_in_place(optimizer_class, reference, options):
    param = P(X0.astype(np.float32))
    original_array = param.data
    optimizer = optimizer_class([param], **options)
    for grad in GRADS:
        param.grad = grad.astype(np.float32)
        optimizer.step()
    assert param.data is original_array
    assert param.data.dtype == np.float32
    for value in optimizer.state[param].values():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32
    np.testing.assert_allclose(param.data, reference(X0, GRADS, **options)[-1], rtol=1e-4, atol=1e-5)


def test_optimizers_have_pytorch_defaults():
    defaults = {
        SGD: dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False),
        Adam: dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False),
        AdamW: dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False),
        RMSprop: dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False),
        Adagrad: dict(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10),
        Adadelta: dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0),
        LBFGS: dict(lr=1, max_iter=20, max_eval=25, tolerance_grad=1e-7, tolerance_change=1e-9,
                    history_size=100, line_search_fn=None),
    }
    for optimizer_class, expected in defaults.items():
        group = optimizer_class([P(np.zeros(2))]).param_groups[0]
        assert {key: group[key] for key in expected} == expected, optimizer_class.__name__


# --------------------------------------------------------------------------------------
# Base-class behaviour
# --------------------------------------------------------------------------------------

FIRST_ORDER = [SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta]


@pytest.mark.parametrize("optimizer_class", FIRST_ORDER)
def test_params_without_grad_are_skipped(optimizer_class):
    with_grad, without_grad = P(np.ones(3)), P(np.ones(2))
    optimizer = optimizer_class([with_grad, without_grad], lr=0.1)
    with_grad.grad = np.full(3, 0.5)
    optimizer.step()
    assert not np.array_equal(with_grad.data, np.ones(3))
    np.testing.assert_array_equal(without_grad.data, np.ones(2))
    assert without_grad not in optimizer.state
    # a state entry only where the rule has something to remember (plain SGD has not, as in PyTorch)
    assert (with_grad in optimizer.state) == (optimizer_class is not SGD)


class _GeneralPathSGD(SGD):
    """SGD that always runs the general update rule (no plain-SGD shortcut)."""

    _group_update = Optimizer._group_update


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lr", [0.1, np.float64(0.03), 1e-3])
def test_plain_sgd_shortcut_equals_the_general_path(dtype, lr):
    """Plain SGD (no momentum, weight decay or maximize) takes a shortcut: the same bits, the same
    state entries (none) and versions as the general rule, and parameters without a gradient untouched."""
    import tensorgrad as tg

    results = []
    for optimizer_class in (SGD, _GeneralPathSGD):
        params = [tg.tensor(X0.astype(dtype), requires_grad=True), tg.tensor(X0[0].astype(dtype)), P(X0.astype(dtype))]
        optimizer = optimizer_class([{"params": params[:2]}, {"params": params[2:], "lr": 0.5}], lr=lr)
        for grad in GRADS:
            params[0].grad, params[2].grad = grad.astype(dtype), (2 * grad).astype(dtype)
            optimizer.step()
        assert [p in optimizer.state for p in params] == [False, False, False]  # nothing to remember
        results.append(([p.data for p in params], [p._version for p in params[:2]]))
    (got, got_versions), (want, want_versions) = results
    for g, w in zip(got, want):
        assert g.dtype == w.dtype == dtype
        np.testing.assert_array_equal(g, w)
    assert got_versions == want_versions == [STEPS, 0]


def test_zero_grad():
    params = [P(np.ones(3, np.float32)), P(np.ones(2, np.float32))]
    optimizer = SGD(params)
    for p in params:
        p.grad = np.full_like(p.data, 2.0)
    grad_array = params[0].grad
    optimizer.zero_grad(set_to_none=False)
    assert params[0].grad is grad_array
    np.testing.assert_array_equal(grad_array, 0)
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)
    optimizer.zero_grad()  # no gradients at all: nothing to do


def test_step_returns_closure_loss():
    param = P(np.ones(2))
    optimizer = SGD([param], lr=0.5)

    def closure():
        param.grad = 2 * param.data
        return 7.0

    assert optimizer.step(closure) == 7.0
    np.testing.assert_allclose(param.data, [0.0, 0.0])
    assert optimizer.step() is None


def test_param_groups_have_their_own_options():
    fast, slow = P(X0.copy()), P(X0.copy())
    optimizer = SGD([{"params": [fast], "lr": 0.5, "momentum": 0.9}, {"params": [slow]}],
                    lr=0.01, momentum=0.5)
    assert [g["lr"] for g in optimizer.param_groups] == [0.5, 0.01]
    assert [g["momentum"] for g in optimizer.param_groups] == [0.9, 0.5]
    for grad in GRADS:
        fast.grad, slow.grad = grad.copy(), grad.copy()
        optimizer.step()
    np.testing.assert_allclose(fast.data, sgd_reference(X0, GRADS, lr=0.5, momentum=0.9)[-1], rtol=1e-12)
    np.testing.assert_allclose(slow.data, sgd_reference(X0, GRADS, lr=0.01, momentum=0.5)[-1], rtol=1e-12)


def test_adam_param_groups_and_add_param_group():
    a, b = P(X0.copy()), P(X0.copy())
    optimizer = Adam([a], lr=0.01)
    optimizer.add_param_group({"params": b, "lr": 0.1, "amsgrad": True})  # a single param is accepted
    for grad in GRADS:
        a.grad, b.grad = grad.copy(), grad.copy()
        optimizer.step()
    np.testing.assert_allclose(a.data, adam_reference(X0, GRADS, lr=0.01)[-1], rtol=1e-10)
    np.testing.assert_allclose(b.data, adam_reference(X0, GRADS, lr=0.1, amsgrad=True)[-1], rtol=1e-10)


def test_params_may_be_a_generator_and_repr_lists_groups():
    optimizer = Adagrad(P(np.zeros(2)) for _ in range(3))
    assert len(optimizer.param_groups[0]["params"]) == 3
    text = repr(optimizer)
    assert text.startswith("Adagrad (") and "Parameter Group 0" in text and "lr: 0.01" in text


# --------------------------------------------------------------------------------------
# state_dict / load_state_dict
# --------------------------------------------------------------------------------------

ROUND_TRIP_CASES = [
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (Adam, dict(lr=0.01, amsgrad=True)),
    (AdamW, dict(lr=0.01)),
    (RMSprop, dict(centered=True, momentum=0.5)),
    (Adagrad, dict(lr_decay=0.1)),
    (Adadelta, dict(weight_decay=0.1)),
]


@pytest.mark.parametrize("optimizer_class, options", ROUND_TRIP_CASES,
                         ids=[cls.__name__ for cls, _ in ROUND_TRIP_CASES])
def test_state_dict_round_trip_continues_bit_identically(optimizer_class, options):
    rng = np.random.default_rng(2)
    shapes = [(3, 4), (5,)]
    params = [P(rng.standard_normal(s).astype(np.float32)) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(6)]
    optimizer = optimizer_class([{"params": params[:1]}, {"params": params[1:], "lr": 0.05}], **options)

    def step(opt, ps, step_grads):
        for p, g in zip(ps, step_grads):
            p.grad = g.copy()
        opt.step()

    for step_grads in grads[:3]:
        step(optimizer, params, step_grads)
    saved = optimizer.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [[0], [1]]
    assert sorted(saved["state"]) == [0, 1]

    # a fresh optimizer (different options, which the state dict overrides) on copies of the params
    copies = [P(p.data.copy()) for p in params]
    restored = optimizer_class([{"params": copies[:1]}, {"params": copies[1:]}])
    restored.load_state_dict(pickle.loads(pickle.dumps(saved)))
    assert restored.param_groups[1]["lr"] == 0.05

    for step_grads in grads[3:]:
        step(optimizer, params, step_grads)
        step(restored, copies, step_grads)
        for p, c in zip(params, copies):
            assert c.data.dtype == np.float32
            np.testing.assert_array_equal(p.data, c.data)

    # the saved dict holds copies: stepping the optimizer did not change it
    again = optimizer_class([{"params": [P(p.data.copy()) for p in params[:1]]},
                             {"params": [P(p.data.copy()) for p in params[1:]]}])
    again.load_state_dict(saved)
    assert again.state_dict()["state"][0].get("step", 3) == 3


def test_load_state_dict_errors_name_the_optimizer():
    params = [P(np.zeros(3)), P(np.zeros(2))]
    optimizer = Adam(params)
    for p in params:
        p.grad = np.ones_like(p.data)
    optimizer.step()
    saved = optimizer.state_dict()

    with pytest.raises(ValueError, match=r"Adam: .* has 1 parameter group\(s\), but this optimizer has 2"):
        Adam([{"params": [P(np.zeros(3))]}, {"params": [P(np.zeros(2))]}]).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"Adam: parameter group 0 .* has 2 parameters, .* has 3"):
        Adam([P(np.zeros(3)), P(np.zeros(2)), P(np.zeros(1))]).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"Adam: state 'exp_avg' of parameter 0 has shape \(3,\)"):
        Adam([P(np.zeros(4)), P(np.zeros(2))]).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"Adam: a state dict must be a dict with 'state'"):
        Adam([P(np.zeros(3))]).load_state_dict({"param_groups": []})


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("optimizer_class", FIRST_ORDER + [LBFGS])
def test_empty_parameter_list(optimizer_class):
    name = optimizer_class.__name__
    with pytest.raises(ValueError, match=f"^{name}: optimizer got an empty parameter list$"):
        optimizer_class([])


@pytest.mark.parametrize("optimizer_class", FIRST_ORDER + [LBFGS])
def test_non_parameters_are_rejected(optimizer_class):
    name = optimizer_class.__name__
    with pytest.raises(TypeError, match=f"^{name}: can only optimize parameters .* is float$"):
        optimizer_class([1.5])
    with pytest.raises(TypeError, match=f"^{name}: can only optimize parameters .* is ndarray$"):
        optimizer_class([np.zeros(3)])  # a bare array has no .data/.grad
    with pytest.raises(TypeError, match=f"^{name}: .* floating-point .* P with dtype int64$"):
        optimizer_class([P(np.zeros(3, dtype=np.int64))])
    with pytest.raises(TypeError, match=f"^{name}: params should be an iterable .* single P"):
        optimizer_class(P(np.zeros(3)))
    with pytest.raises(TypeError, match=f"^{name}: params must be an ordered collection"):
        optimizer_class({P(np.zeros(3))})


HYPERPARAMETER_ERRORS = [
    (SGD, dict(lr=-0.1), r"SGD: invalid lr value -0.1"),
    (SGD, dict(momentum=-0.5), r"SGD: invalid momentum value -0.5"),
    (SGD, dict(weight_decay=-1e-4), r"SGD: invalid weight_decay value -0.0001"),
    (SGD, dict(nesterov=True), r"SGD: nesterov=True requires momentum > 0 .* momentum=0"),
    (SGD, dict(nesterov=True, momentum=0.9, dampening=0.1),
     r"SGD: nesterov=True requires .* dampening = 0.* dampening=0.1"),
    (Adam, dict(lr=-1.0), r"Adam: invalid lr value -1.0"),
    (Adam, dict(betas=(1.0, 0.999)), r"Adam: invalid betas\[0\] value 1.0; it must be in \[0, 1\)"),
    (Adam, dict(betas=(0.9, -0.1)), r"Adam: invalid betas\[1\] value -0.1"),
    (Adam, dict(eps=-1e-8), r"Adam: invalid eps value -1e-08"),
    (Adam, dict(weight_decay=-0.1), r"Adam: invalid weight_decay value -0.1"),
    (AdamW, dict(betas=(0.9, 1.0)), r"AdamW: invalid betas\[1\] value 1.0"),
    (AdamW, dict(weight_decay=-0.01), r"AdamW: invalid weight_decay value -0.01"),
    (RMSprop, dict(lr=-0.01), r"RMSprop: invalid lr value -0.01"),
    (RMSprop, dict(alpha=-0.1), r"RMSprop: invalid alpha value -0.1"),
    (RMSprop, dict(momentum=-0.9), r"RMSprop: invalid momentum value -0.9"),
    (RMSprop, dict(eps=-1.0), r"RMSprop: invalid eps value -1.0"),
    (Adagrad, dict(lr_decay=-0.1), r"Adagrad: invalid lr_decay value -0.1"),
    (Adagrad, dict(initial_accumulator_value=-1.0), r"Adagrad: invalid initial_accumulator_value value -1.0"),
    (Adagrad, dict(eps=-1e-10), r"Adagrad: invalid eps value -1e-10"),
    (Adadelta, dict(rho=1.5), r"Adadelta: invalid rho value 1.5; it must be in \[0, 1\]"),
    (Adadelta, dict(lr=-1.0), r"Adadelta: invalid lr value -1.0"),
    (LBFGS, dict(lr=-1.0), r"LBFGS: invalid lr value -1.0"),
    (LBFGS, dict(max_iter=0), r"LBFGS: invalid max_iter value 0"),
    (LBFGS, dict(line_search_fn="armijo"), r"LBFGS: invalid line_search_fn value 'armijo'"),
    (LBFGS, dict(history_size=0), r"LBFGS: invalid history_size value 0"),
]


@pytest.mark.parametrize("optimizer_class, options, message", HYPERPARAMETER_ERRORS,
                         ids=[f"{c.__name__}-{next(iter(o))}" for c, o, _ in HYPERPARAMETER_ERRORS])
def test_invalid_hyperparameters(optimizer_class, options, message):
    with pytest.raises(ValueError, match=message):
        optimizer_class([P(np.zeros(2))], **options)


def test_invalid_group_option_and_duplicate_params():
    p = P(np.zeros(2))
    with pytest.raises(ValueError, match=r"SGD: invalid lr value -1"):
        SGD([{"params": [p], "lr": -1}], lr=0.1)
    with pytest.raises(ValueError, match=r"Adam: some parameters appear more than once"):
        Adam([{"params": [p]}, {"params": [p]}])
    with pytest.raises(ValueError, match=r"SGD: a parameter group needs a 'params' entry"):
        SGD([{"lr": 0.1}])


def test_lbfgs_usage_errors():
    with pytest.raises(ValueError, match=r"LBFGS doesn't support per-parameter options"):
        LBFGS([{"params": [P(np.zeros(2))]}, {"params": [P(np.zeros(2))]}])
    param = P(np.ones(2))
    optimizer = LBFGS([param])
    with pytest.raises(TypeError, match=r"LBFGS.step\(\) requires a closure"):
        optimizer.step()

    def closure_without_loss():
        param.grad = param.data.copy()

    with pytest.raises(TypeError, match=r"LBFGS: the closure must return the loss"):
        optimizer.step(closure_without_loss)


# --------------------------------------------------------------------------------------
# LBFGS
# --------------------------------------------------------------------------------------

def rosenbrock(x):
    loss = np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    grad = np.zeros_like(x)
    grad[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    grad[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return loss, grad


class LossTensor:
    """A Tensor-like loss: LBFGS must read it through .item()."""

    def __init__(self, value):
        self.value = value

    def item(self):
        return float(self.value)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_minimizes_a_quadratic_split_over_two_params(line_search_fn):
    rng = np.random.default_rng(3)
    m = rng.standard_normal((10, 10))
    a = m @ m.T + 10 * np.eye(10)  # symmetric positive definite
    b = rng.standard_normal(10)
    solution = np.linalg.solve(a, b)
    weight, bias = P(np.zeros((2, 3))), P(np.zeros(4))  # x = [weight.ravel(), bias]
    # tight tolerances: the defaults stop once the loss changes by < 1e-9
    optimizer = LBFGS([weight, bias], line_search_fn=line_search_fn, max_iter=100,
                      tolerance_change=1e-15, tolerance_grad=1e-10)

    def closure():
        x = np.concatenate([weight.data.ravel(), bias.data])
        grad = a @ x - b
        weight.grad, bias.grad = grad[:6].reshape(2, 3), grad[6:]
        return LossTensor(0.5 * x @ a @ x - b @ x)

    first_loss = optimizer.step(closure)
    assert isinstance(first_loss, LossTensor) and first_loss.item() == 0.0
    for _ in range(3):
        optimizer.step(closure)
    x = np.concatenate([weight.data.ravel(), bias.data])
    np.testing.assert_allclose(x, solution, atol=1e-6)


@pytest.mark.parametrize("line_search_fn, lr, calls",
                         [("strong_wolfe", 1.0, 3), (None, 1.0, 5), (None, 0.1, 20)])
def test_lbfgs_minimizes_rosenbrock(line_search_fn, lr, calls):
    param = P(np.array([-1.5, 2.0]))
    optimizer = LBFGS([param], lr=lr, line_search_fn=line_search_fn, history_size=10,
                      tolerance_change=1e-15, tolerance_grad=1e-10)

    def closure():
        loss, param.grad = rosenbrock(param.data)
        return loss

    for _ in range(calls):
        optimizer.step(closure)
    np.testing.assert_allclose(param.data, [1.0, 1.0], atol=1e-6)
    assert rosenbrock(param.data)[0] < 1e-14


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_float32_in_place_and_state_dict_round_trip(line_search_fn):
    start = np.array([-1.2, 1.0, 0.5, -0.5], dtype=np.float32)
    param = P(start.copy())
    original_array = param.data
    optimizer = LBFGS([param], line_search_fn=line_search_fn, max_iter=4, history_size=3)

    def make_closure(p):
        def closure():
            loss, grad = rosenbrock(p.data.astype(np.float64))
            p.grad = grad.astype(np.float32)
            return np.float32(loss)
        return closure

    optimizer.step(make_closure(param))
    optimizer.step(make_closure(param))
    saved = optimizer.state_dict()
    assert {"func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag",
            "prev_flat_grad", "prev_loss"} <= set(saved["state"][0])

    copy = P(param.data.copy())
    restored = LBFGS([copy], line_search_fn=line_search_fn, max_iter=4, history_size=3)
    restored.load_state_dict(saved)
    for _ in range(3):
        optimizer.step(make_closure(param))
        restored.step(make_closure(copy))
        np.testing.assert_array_equal(param.data, copy.data)
    assert param.data is original_array and param.data.dtype == np.float32
    assert optimizer.state[param]["d"].dtype == np.float32
    assert rosenbrock(param.data.astype(np.float64))[0] < rosenbrock(start.astype(np.float64))[0]


def test_lbfgs_stops_at_once_at_a_stationary_point():
    param = P(np.zeros(3))
    optimizer = LBFGS([param])
    calls = []

    def closure():
        calls.append(1)
        param.grad = np.zeros(3)
        return 1.0

    assert optimizer.step(closure) == 1.0
    assert len(calls) == 1
    np.testing.assert_array_equal(param.data, 0)


# --------------------------------------------------------------------------------------
# Learning-rate schedulers
# --------------------------------------------------------------------------------------

def test_step_lr_schedule():
    optimizer = SGD([{"params": [P(np.zeros(1))]}, {"params": [P(np.zeros(1))], "lr": 1.0}], lr=0.1)
    scheduler = StepLR(optimizer, step_size=3, gamma=0.5)
    assert scheduler.get_last_lr() == [0.1, 1.0]
    for epoch in range(1, 10):
        scheduler.step()
        expected = [0.1 * 0.5 ** (epoch // 3), 1.0 * 0.5 ** (epoch // 3)]
        np.testing.assert_allclose(scheduler.get_last_lr(), expected, rtol=1e-15)
        assert [g["lr"] for g in optimizer.param_groups] == scheduler.get_last_lr()
    assert scheduler.last_epoch == 9
    assert [g["initial_lr"] for g in optimizer.param_groups] == [0.1, 1.0]


def test_exponential_lr_schedule_drives_the_optimizer():
    param = P(np.zeros(1))
    optimizer = SGD([param], lr=1.0)
    scheduler = ExponentialLR(optimizer, gamma=0.9)
    for epoch in range(6):
        param.grad = np.ones(1)
        before = param.data.copy()
        optimizer.step()
        np.testing.assert_allclose(before - param.data, [0.9 ** epoch], rtol=1e-14)  # step used lr(epoch)
        scheduler.step()
    np.testing.assert_allclose(scheduler.get_last_lr(), [0.9 ** 6], rtol=1e-14)


@pytest.mark.parametrize("make_scheduler", [lambda opt: StepLR(opt, step_size=2, gamma=0.3),
                                            lambda opt: ExponentialLR(opt, gamma=0.7)],
                         ids=["StepLR", "ExponentialLR"])
def test_scheduler_state_dict_round_trip(make_scheduler):
    optimizer = Adam([P(np.zeros(2))], lr=0.5)
    scheduler = make_scheduler(optimizer)
    for _ in range(3):
        scheduler.step()
    saved_scheduler, saved_optimizer = scheduler.state_dict(), optimizer.state_dict()
    assert "optimizer" not in saved_scheduler and saved_scheduler["last_epoch"] == 3

    other_optimizer = Adam([P(np.zeros(2))], lr=0.5)
    other = make_scheduler(other_optimizer)
    other_optimizer.load_state_dict(saved_optimizer)
    other.load_state_dict(saved_scheduler)
    assert other.get_last_lr() == scheduler.get_last_lr()
    for _ in range(5):
        scheduler.step()
        other.step()
        assert other.get_last_lr() == scheduler.get_last_lr()
        assert other_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]


def test_scheduler_errors():
    optimizer = SGD([P(np.zeros(1))], lr=0.1)
    with pytest.raises(TypeError, match=r"StepLR: expected an Optimizer, but got list"):
        StepLR([], step_size=1)
    with pytest.raises(ValueError, match=r"StepLR: invalid step_size value 0"):
        StepLR(optimizer, step_size=0)
    with pytest.raises(KeyError, match=r"ExponentialLR: param_groups\[0\] has no 'initial_lr'"):
        ExponentialLR(optimizer, gamma=0.9, last_epoch=4)


def test_base_optimizer_requires_an_update_rule():
    optimizer = Optimizer([P(np.zeros(1))], {"lr": 0.1})
    optimizer.param_groups[0]["params"][0].grad = np.ones(1)
    with pytest.raises(NotImplementedError, match="Optimizer does not implement"):
        optimizer.step()
