"""tensorgrad.optim against PyTorch's torch.optim: the same trajectories, step by step.

Both sides get their gradients from the same NumPy function of their own
current parameters, so any difference comes from the optimizers alone.
Skipped when torch is not installed.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tensorgrad import optim  # noqa: E402
from tensorgrad.optim import lr_scheduler  # noqa: E402
from test_optim import P  # noqa: E402  (the stand-in parameter)




STEPS = 25
SHAPES = [(3, 4), (5,)]
SIZES = [int(np.prod(s)) for s in SHAPES]
_rng = np.random.default_rng(0)
A = _rng.standard_normal((20, sum(SIZES))) / 3
C = _rng.standard_normal(20)
NOISE = _rng.standard_normal((STEPS, sum(SIZES))) * 0.3
STARTS = [_rng.standard_normal(s) for s in SHAPES]


def gradients(arrays, step):
    """Gradient of sum(log cosh(A x - c)) at x = the flattened arrays, plus fixed noise.

    Bounded and parameter dependent, so weight decay, maximize (ascent) and
    momentum all matter but nothing blows up.
    """
    x = np.concatenate([np.ravel(a) for a in arrays])
    flat = A.T @ np.tanh(A @ x - C) + NOISE[step]
    return np.split(flat, np.cumsum(SIZES)[:-1])


def skipped(step, param_index):
    """The second parameter gets no gradient on every third step (both libraries skip it)."""
    return param_index == 1 and step % 3 == 2


ONE_GROUP = [{"params": [0, 1]}]


def run_ours(name, options, dtype, groups=ONE_GROUP):
    """Run our optimizer; `groups` lists parameter indices and per-group overrides."""
    params = [P(s.astype(dtype)) for s in STARTS]
    optimizer = getattr(optim, name)([{**g, "params": [params[i] for i in g["params"]]} for g in groups],
                                     **options)
    trajectory = []
    for step in range(STEPS):
        for i, (p, g) in enumerate(zip(params, gradients([p.data for p in params], step))):
            p.grad = None if skipped(step, i) else g.reshape(p.data.shape).astype(dtype)
        optimizer.step()
        trajectory.append([p.data.copy() for p in params])
    return trajectory, optimizer


def run_torch(name, options, dtype, groups=ONE_GROUP):
    params = [torch.tensor(s.astype(dtype), requires_grad=True) for s in STARTS]
    optimizer = getattr(torch.optim, name)([{**g, "params": [params[i] for i in g["params"]]}
                                            for g in groups], **options)
    trajectory = []
    for step in range(STEPS):
        arrays = [p.detach().numpy().astype(np.float64) for p in params]
        for i, (p, g) in enumerate(zip(params, gradients(arrays, step))):
            p.grad = None if skipped(step, i) else torch.from_numpy(g.reshape(p.shape).astype(dtype))
        optimizer.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory, optimizer


def assert_same_trajectory(ours, theirs, rtol, atol):
    for step, (our_params, their_params) in enumerate(zip(ours, theirs)):
        for i, (a, b) in enumerate(zip(our_params, their_params)):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"step {step + 1}, param {i}")


CASES = {
    "SGD": [dict(), dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.1, momentum=0.9, dampening=0.5),
            dict(lr=0.1, momentum=0.9, nesterov=True), dict(lr=0.1, weight_decay=0.1),
            dict(lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True),
            dict(lr=0.1, momentum=0.5, dampening=0.3, weight_decay=0.01, maximize=True),
            dict(lr=0.1, maximize=True)],
    "Adam": [dict(), dict(lr=0.05), dict(lr=0.05, betas=(0.8, 0.99), eps=1e-3),
             dict(lr=0.05, weight_decay=0.1), dict(lr=0.05, amsgrad=True),
             dict(lr=0.05, amsgrad=True, weight_decay=0.1, maximize=True), dict(lr=0.05, maximize=True)],
    "AdamW": [dict(), dict(lr=0.05), dict(lr=0.05, weight_decay=0.3), dict(lr=0.05, weight_decay=0),
              dict(lr=0.05, amsgrad=True), dict(lr=0.05, weight_decay=0.1, amsgrad=True, maximize=True)],
    "RMSprop": [dict(), dict(alpha=0.9, eps=1e-3), dict(centered=True), dict(momentum=0.9),
                dict(centered=True, momentum=0.9), dict(weight_decay=0.1, maximize=True),
                dict(lr=0.001, centered=True, momentum=0.5, weight_decay=0.1, maximize=True)],
    "Adagrad": [dict(), dict(lr=0.1), dict(lr=0.1, lr_decay=0.1), dict(initial_accumulator_value=0.5),
                dict(eps=1e-3, weight_decay=0.1), dict(lr=0.1, lr_decay=0.05, weight_decay=0.1,
                                                       initial_accumulator_value=0.1, maximize=True)],
    "Adadelta": [dict(), dict(lr=0.5, rho=0.95), dict(eps=1e-3), dict(weight_decay=0.1),
                 dict(lr=0.5, weight_decay=0.1, maximize=True)],
}
FLAT_CASES = [(name, options) for name, cases in CASES.items() for options in cases]
FLAT_IDS = [f"{name}({', '.join(f'{k}={v}' for k, v in o.items())})" for name, o in FLAT_CASES]


@pytest.mark.parametrize("name, options", FLAT_CASES, ids=FLAT_IDS)
def test_same_trajectory_as_torch_float64(name, options):
    ours, _ = run_ours(name, options, np.float64)
    theirs, _ = run_torch(name, options, np.float64)
    assert_same_trajectory(ours, theirs, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name, options", FLAT_CASES, ids=FLAT_IDS)
def test_same_state_entries_as_torch(name, options):
    """A parameter has a state entry where PyTorch's has one, with the same keys (plain SGD keeps
    none: it has nothing to remember)."""
    _, our_optimizer = run_ours(name, options, np.float64)
    _, their_optimizer = run_torch(name, options, np.float64)
    ours, theirs = our_optimizer.state_dict()["state"], their_optimizer.state_dict()["state"]
    assert {i: set(entry) for i, entry in ours.items()} == {i: set(entry) for i, entry in theirs.items()}
    assert len(our_optimizer.state) == len(their_optimizer.state)  # no empty entries either


@pytest.mark.parametrize("name", list(CASES))
def test_same_trajectory_as_torch_float32(name):
    options = CASES[name][-1]
    ours, _ = run_ours(name, options, np.float32)
    theirs, _ = run_torch(name, options, np.float32)
    assert ours[-1][0].dtype == np.float32
    assert_same_trajectory(ours, theirs, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", list(CASES))
def test_param_groups_same_as_torch(name):
    options = CASES[name][-1]
    groups = [{"params": [0]}, {"params": [1], "lr": options.get("lr", 0.01) * 3}]
    ours, our_optimizer = run_ours(name, options, np.float64, groups)
    theirs, their_optimizer = run_torch(name, options, np.float64, groups)
    assert_same_trajectory(ours, theirs, rtol=1e-6, atol=1e-12)

    # same state entries and the same state_dict layout
    our_dict, their_dict = our_optimizer.state_dict(), their_optimizer.state_dict()
    assert set(our_dict["state"]) == set(their_dict["state"])
    for index, their_state in their_dict["state"].items():
        assert set(our_dict["state"][index]) == set(their_state)
        for key, value in their_state.items():
            if key == "step":
                assert our_dict["state"][index][key] == int(value)
            elif isinstance(value, torch.Tensor):
                np.testing.assert_allclose(our_dict["state"][index][key], value.numpy(), rtol=1e-6, atol=1e-12)
    assert [g["params"] for g in our_dict["param_groups"]] == [g["params"] for g in their_dict["param_groups"]]
    for our_group, their_group in zip(our_dict["param_groups"], their_dict["param_groups"]):
        assert {k: v for k, v in our_group.items() if k in their_group} == \
            {k: v for k, v in their_group.items() if k in our_group}


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "LBFGS"])
def test_defaults_same_as_torch(name):
    ours = inspect.signature(getattr(optim, name)).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    for argument, parameter in ours.items():
        if argument == "params":
            continue
        assert argument in theirs, f"{name}({argument}=...) is not a torch argument"
        assert parameter.default == theirs[argument].default, f"{name} default of {argument}"
    # the positional arguments come in the same order
    positional = [a for a, p in ours.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == [a for a in theirs][:len(positional)]


# --------------------------------------------------------------------------------------
# LBFGS
# --------------------------------------------------------------------------------------

def rosenbrock(x):
    loss = np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    grad = np.zeros_like(x)
    grad[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    grad[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return loss, grad


_qrng = np.random.default_rng(5)
_M = _qrng.standard_normal((8, 8))
Q_MATRIX, Q_VECTOR = _M @ _M.T + np.eye(8), _qrng.standard_normal(8)


def quadratic(x):
    return 0.5 * x @ Q_MATRIX @ x - Q_VECTOR @ x, Q_MATRIX @ x - Q_VECTOR


OBJECTIVES = {
    # objective, the shapes x is split into (as separate parameters), starting point
    "rosenbrock": (rosenbrock, [(2, 2), (2,)], np.array([-1.2, 1.0, -0.5, 1.5, 0.8, -0.3])),
    "quadratic": (quadratic, [(8,)], np.linspace(-1, 1, 8)),
}
LBFGS_OPTIONS = [
    dict(),
    dict(lr=0.1, history_size=5),
    dict(max_iter=7, history_size=3),
    dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", history_size=3, max_iter=7, max_eval=9),
    dict(line_search_fn="strong_wolfe", lr=0.5, tolerance_change=1e-12, tolerance_grad=1e-9),
]


def _split(x, shapes):
    sizes = [int(np.prod(s)) for s in shapes]
    return [part.reshape(s) for part, s in zip(np.split(x, np.cumsum(sizes)[:-1]), shapes)]


@pytest.mark.parametrize("objective_name", list(OBJECTIVES))
@pytest.mark.parametrize("options", LBFGS_OPTIONS, ids=[str(o) for o in LBFGS_OPTIONS])
def test_lbfgs_same_as_torch(objective_name, options):
    objective, shapes, start = OBJECTIVES[objective_name]

    ours = [P(part.copy()) for part in _split(start, shapes)]
    our_optimizer = optim.LBFGS(ours, **options)

    def our_closure():
        loss, grad = objective(np.concatenate([p.data.ravel() for p in ours]))
        for p, g in zip(ours, _split(grad, shapes)):
            p.grad = g
        return loss

    theirs = [torch.tensor(part.copy(), requires_grad=True) for part in _split(start, shapes)]
    their_optimizer = torch.optim.LBFGS(theirs, **options)

    def their_closure():
        loss, grad = objective(np.concatenate([p.detach().numpy().ravel() for p in theirs]))
        for p, g in zip(theirs, _split(grad, shapes)):
            p.grad = torch.from_numpy(g)
        return torch.tensor(loss)  # a Tensor loss: exercises float()/.item() on their side

    # Fixed-step L-BFGS on Rosenbrock (the default options) amplifies rounding: moving the
    # start by one ulp changes our own iterates by ~4e-7 after 3 calls. Hence a looser rtol there.
    rtol = 1e-5 if objective_name == "rosenbrock" and options.get("line_search_fn") is None \
        and options.get("lr", 1) == 1 else 1e-6
    for call in range(6):
        our_loss = our_optimizer.step(our_closure)
        their_loss = their_optimizer.step(their_closure)
        np.testing.assert_allclose(our_loss, their_loss.item(), rtol=rtol, atol=1e-12)
        for mine, other in zip(ours, theirs):
            np.testing.assert_allclose(mine.data, other.detach().numpy(), rtol=rtol, atol=1e-9,
                                       err_msg=f"after step() call {call + 1}")
        our_state, their_state = our_optimizer.state[ours[0]], their_optimizer.state[theirs[0]]
        assert (our_state["func_evals"], our_state["n_iter"]) == \
            (their_state["func_evals"], their_state["n_iter"])


# --------------------------------------------------------------------------------------
# Learning-rate schedulers
# --------------------------------------------------------------------------------------

SCHEDULERS = {
    "StepLR": dict(step_size=3, gamma=0.5),
    "ExponentialLR": dict(gamma=0.9),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_schedulers_same_as_torch(name):
    ours_optimizer = optim.SGD([{"params": [P(np.zeros(1))]}, {"params": [P(np.zeros(1))], "lr": 0.3}],
                               lr=0.1)
    theirs_optimizer = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)]},
                                        {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.3}], lr=0.1)
    ours = getattr(lr_scheduler, name)(ours_optimizer, **SCHEDULERS[name])
    theirs = getattr(torch.optim.lr_scheduler, name)(theirs_optimizer, **SCHEDULERS[name])
    assert ours.get_last_lr() == theirs.get_last_lr()
    for _ in range(20):
        ours_optimizer.step()
        theirs_optimizer.step()
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == theirs.get_last_lr()  # same float operations: exactly equal
        assert ours.last_epoch == theirs.last_epoch
        assert [g["lr"] for g in ours_optimizer.param_groups] == \
            [g["lr"] for g in theirs_optimizer.param_groups]
