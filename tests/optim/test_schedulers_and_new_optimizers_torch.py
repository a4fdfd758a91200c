"""The learning-rate schedulers, NAdam and RAdam against PyTorch's, step by step, in float64.

Each run trains the same two parameters (in two parameter groups with different learning rates)
on both sides, with gradients from the same NumPy function of each side's own current
parameters; after every step the learning rates (and, for OneCycleLR, the momentum or beta1)
and the parameters must agree to 1e-10 relative. Then: state_dict() round trips resuming
mid-schedule, and the errors for bad arguments. Skipped when torch is not installed.
"""

from __future__ import annotations

import inspect
import math
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tensorgrad as tg  # noqa: E402
from tensorgrad import optim  # noqa: E402
from tensorgrad.optim import lr_scheduler  # noqa: E402
from test_optim import P  # noqa: E402  (the stand-in parameter)

RTOL, ATOL = 1e-10, 1e-14

SHAPES = [(3, 4), (5,)]
SIZES = [int(np.prod(s)) for s in SHAPES]
_rng = np.random.default_rng(7)
A = _rng.standard_normal((20, sum(SIZES))) / 3
C = _rng.standard_normal(20)
NOISE = _rng.standard_normal((64, sum(SIZES))) * 0.3
STARTS = [_rng.standard_normal(s) for s in SHAPES]


def gradients(arrays, step):
    """Gradient of sum(log cosh(A x - c)) at x = the flattened arrays, plus fixed noise."""
    x = np.concatenate([np.ravel(a) for a in arrays])
    flat = A.T @ np.tanh(A @ x - C) + NOISE[step]
    return [part.reshape(shape) for part, shape in zip(np.split(flat, np.cumsum(SIZES)[:-1]), SHAPES)]


# --------------------------------------------------------------------------------------
# One side of a comparison: tensorgrad ("ours") or torch
# --------------------------------------------------------------------------------------

class Side:
    """Parameters, an optimizer on two groups (lr, 3 * lr) and its scheduler(s), in one library."""

    def __init__(self, lib, optimizer_name, options, make_scheduler, starts=STARTS, skip_every=None):
        self.lib, self.skip_every = lib, skip_every
        if lib == "ours":
            self.params = [P(s.astype(np.float64)) for s in starts]
            optimizer_class, self.module = getattr(optim, optimizer_name), lr_scheduler
        else:
            self.params = [torch.tensor(s.astype(np.float64), requires_grad=True) for s in starts]
            optimizer_class, self.module = getattr(torch.optim, optimizer_name), torch.optim.lr_scheduler
        lr = options.get("lr", 0.1)
        groups = [{"params": [self.params[0]]}, {"params": [self.params[1]], "lr": 3 * lr}]
        self.optimizer = optimizer_class(groups, **{**options, "lr": lr})
        self.make_scheduler = make_scheduler
        made = make_scheduler(self.module, self.optimizer) if make_scheduler else []
        self.schedulers = made if isinstance(made, list) else [made]

    def arrays(self):
        if self.lib == "ours":
            return [p.data.copy() for p in self.params]
        return [p.detach().numpy().copy() for p in self.params]

    def step(self, step, metric=None):
        for i, (p, g) in enumerate(zip(self.params, gradients(self.arrays(), step))):
            skipped = self.skip_every is not None and i == 1 and step % self.skip_every == self.skip_every - 1
            p.grad = None if skipped else (g if self.lib == "ours" else torch.from_numpy(g))
        self.optimizer.step()
        for scheduler in self.schedulers:
            scheduler.step() if metric is None else scheduler.step(metric)

    def snapshot(self):
        groups = self.optimizer.param_groups
        return dict(last_lr=[float(lr) for lr in self.schedulers[-1].get_last_lr()] if self.schedulers else None,
                    lr=[float(g["lr"]) for g in groups],
                    momentum=[float(g["momentum"]) if "momentum" in g else None for g in groups],
                    beta1=[float(g["betas"][0]) if "betas" in g else None for g in groups],
                    params=self.arrays())

    def resumed(self, optimizer_name, options):
        """A fresh side built as at the start, with this side's parameters, optimizer and scheduler
        states loaded from pickled state dicts (a checkpoint), as one resumes a run."""
        checkpoint = pickle.loads(pickle.dumps(
            dict(params=self.arrays(), optimizer=self.optimizer.state_dict(),
                 schedulers=[s.state_dict() for s in self.schedulers])))
        other = Side(self.lib, optimizer_name, options, self.make_scheduler, starts=checkpoint["params"],
                     skip_every=self.skip_every)
        other.optimizer.load_state_dict(checkpoint["optimizer"])
        for scheduler, state in zip(other.schedulers, checkpoint["schedulers"]):
            scheduler.load_state_dict(state)
        return other


def assert_same(ours, theirs, where):
    if theirs["last_lr"] is not None:
        np.testing.assert_allclose(ours["last_lr"], theirs["last_lr"], rtol=RTOL, atol=0,
                                   err_msg=f"{where}: get_last_lr()")
    np.testing.assert_allclose(ours["lr"], theirs["lr"], rtol=RTOL, atol=0, err_msg=f"{where}: group lr")
    for key in ("momentum", "beta1"):
        assert [v is None for v in ours[key]] == [v is None for v in theirs[key]], f"{where}: {key}"
        if theirs[key][0] is not None:
            np.testing.assert_allclose(ours[key], theirs[key], rtol=RTOL, atol=0, err_msg=f"{where}: {key}")
    for i, (a, b) in enumerate(zip(ours["params"], theirs["params"])):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=f"{where}: param {i}")


# --------------------------------------------------------------------------------------
# The schedulers
# --------------------------------------------------------------------------------------

def _warmup_then_cosine(m, o):
    return m.SequentialLR(o, [m.LinearLR(o, start_factor=0.1, total_iters=5),
                              m.CosineAnnealingLR(o, T_max=15, eta_min=1e-3)], milestones=[5])


def _four_in_sequence(m, o):
    return m.SequentialLR(o, [m.LinearLR(o, start_factor=0.5, total_iters=3), m.ExponentialLR(o, gamma=0.8),
                              m.MultiStepLR(o, milestones=[2, 3], gamma=0.5), m.StepLR(o, step_size=2, gamma=0.7)],
                          milestones=[4, 8, 12])


SGD_MOMENTUM = ("SGD", dict(lr=0.1, momentum=0.9))
# name: (optimizer, its options, scheduler(module, optimizer), number of steps)
SCHEDULER_CASES = {
    "MultiStepLR": (*SGD_MOMENTUM, lambda m, o: m.MultiStepLR(o, milestones=[3, 7, 12], gamma=0.5), 20),
    "MultiStepLR-default-gamma-Adam": ("Adam", dict(lr=0.05), lambda m, o: m.MultiStepLR(o, [2, 5]), 10),
    # past T_max the recursive form climbs back up the cosine (its 0/0 branch at epochs 11 and 31)
    "CosineAnnealingLR": (*SGD_MOMENTUM, lambda m, o: m.CosineAnnealingLR(o, T_max=10, eta_min=1e-3), 34),
    "CosineAnnealingLR-eta_min-0-Adam": ("Adam", dict(lr=0.05), lambda m, o: m.CosineAnnealingLR(o, T_max=7), 16),
    "LambdaLR": (*SGD_MOMENTUM, lambda m, o: m.LambdaLR(o, lambda epoch: 0.95 ** epoch), 12),
    "LambdaLR-per-group": (*SGD_MOMENTUM, lambda m, o: m.LambdaLR(o, [lambda e: 1 / (e + 1),
                                                                      lambda e: 0.9 ** (e // 3)]), 12),
    "LinearLR": (*SGD_MOMENTUM, lambda m, o: m.LinearLR(o), 10),
    "LinearLR-decay": ("Adam", dict(lr=0.05),
                       lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=8), 12),
    "SequentialLR-warmup-then-cosine": (*SGD_MOMENTUM, _warmup_then_cosine, 25),
    "SequentialLR-four-schedulers": (*SGD_MOMENTUM, _four_in_sequence, 18),
    "chained-MultiStepLR-and-ExponentialLR": (*SGD_MOMENTUM, lambda m, o: [m.MultiStepLR(o, [3, 6], gamma=0.5),
                                                                          m.ExponentialLR(o, gamma=0.9)], 10),
    "OneCycleLR-SGD-momentum": (*SGD_MOMENTUM, lambda m, o: m.OneCycleLR(o, max_lr=[0.5, 1.0], total_steps=20), 20),
    "OneCycleLR-Adam-beta1": ("Adam", dict(lr=0.05), lambda m, o: m.OneCycleLR(o, max_lr=0.05, epochs=4,
                                                                               steps_per_epoch=5), 20),
    "OneCycleLR-three-phase-linear": (*SGD_MOMENTUM, lambda m, o: m.OneCycleLR(
        o, max_lr=0.3, total_steps=24, pct_start=0.25, anneal_strategy="linear", three_phase=True, div_factor=10,
        final_div_factor=100, base_momentum=0.8, max_momentum=[0.9, 0.99]), 24),
    "OneCycleLR-RAdam-beta1": ("RAdam", dict(lr=0.05), lambda m, o: m.OneCycleLR(o, max_lr=0.05, total_steps=16,
                                                                                 three_phase=True), 16),
    "OneCycleLR-no-momentum-cycling": ("Adagrad", dict(lr=0.1), lambda m, o: m.OneCycleLR(
        o, max_lr=0.2, total_steps=15, cycle_momentum=False), 15),
}

# ReduceLROnPlateau: (optimizer, options, scheduler, metrics, the epochs (1-based step calls) whose lr drops)
PLATEAU_CASES = {
    # patience 2, cooldown 2: drops after 3 bad epochs; the 2 epochs after a drop count no bad epochs
    "min-rel-cooldown": (*SGD_MOMENTUM, lambda m, o: m.ReduceLROnPlateau(o, factor=0.5, patience=2, cooldown=2),
                         [1.0, 0.8, 0.80001, 0.9, 0.85, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.7, 0.7, 0.7, 0.7, 0.5],
                         [5, 10, 15]),
    # max mode, absolute threshold, patience 0; group 0 stops at its min_lr, group 1 when a drop is below eps
    "max-abs-min_lr-eps": ("Adam", dict(lr=0.1), lambda m, o: m.ReduceLROnPlateau(
        o, mode="max", factor=0.3, patience=0, threshold=0.01, threshold_mode="abs", min_lr=[0.02, 0.0], eps=1e-3),
        [0.5, 0.505, 0.6, 0.6, 0.61, 0.611, 0.62, 0.62, 0.62, 0.62, 0.62, 0.62], [2, 4, 5, 7, 8]),
}


@pytest.mark.parametrize("case", list(SCHEDULER_CASES))
def test_scheduler_same_lrs_momentum_and_params_as_torch(case):
    optimizer_name, options, make, steps = SCHEDULER_CASES[case]
    ours = Side("ours", optimizer_name, options, make)
    theirs = Side("torch", optimizer_name, options, make)
    assert_same(ours.snapshot(), theirs.snapshot(), "after construction")
    for step in range(steps):
        ours.step(step)
        theirs.step(step)
        assert_same(ours.snapshot(), theirs.snapshot(), f"after step {step + 1}")
        assert ours.schedulers[-1].last_epoch == theirs.schedulers[-1].last_epoch


@pytest.mark.parametrize("case", list(PLATEAU_CASES))
def test_reduce_lr_on_plateau_same_as_torch(case):
    optimizer_name, options, make, metrics, drops = PLATEAU_CASES[case]
    ours = Side("ours", optimizer_name, options, make)
    theirs = Side("torch", optimizer_name, options, make)
    assert_same(ours.snapshot(), theirs.snapshot(), "after construction")
    dropped_at = []
    for step, metric in enumerate(metrics):
        before = ours.snapshot()["lr"]
        ours.step(step, metric)
        theirs.step(step, metric)
        assert_same(ours.snapshot(), theirs.snapshot(), f"after step({metric})")
        for key in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch"):
            assert getattr(ours.schedulers[0], key) == getattr(theirs.schedulers[0], key), key
        if ours.snapshot()["lr"] != before:
            dropped_at.append(step + 1)
    assert dropped_at == drops  # the sequence does trigger reductions (and cooldown delays them)


def test_plateau_floors_and_eps_hold_the_lr():
    """In the max-abs case group 0 ends at its min_lr 0.02 and group 1 stops once a drop is < eps."""
    optimizer_name, options, make, metrics, _ = PLATEAU_CASES["max-abs-min_lr-eps"]
    ours = Side("ours", optimizer_name, options, make)
    for step, metric in enumerate(metrics):
        ours.step(step, metric)
    lr0, lr1 = ours.snapshot()["lr"]
    assert lr0 == 0.02
    assert lr1 == pytest.approx(0.3 * 0.3 ** 5) and lr1 * (1 - 0.3) < 1e-3


def test_reduce_lr_on_plateau_takes_a_tensor_metric():
    scheduler = optim.ReduceLROnPlateau(optim.SGD([P(np.zeros(2))], lr=0.1), patience=0)
    scheduler.step(tg.tensor(1.0))
    scheduler.step(tg.tensor(2.0))
    assert scheduler.get_last_lr() == [pytest.approx(0.01)]


def test_cosine_annealing_follows_the_closed_form():
    """The recursive (chainable) form gives the closed form eta_min + (lr0 - eta_min)(1 + cos(pi t/T))/2."""
    scheduler = optim.CosineAnnealingLR(optim.SGD([P(np.zeros(1))], lr=0.1), T_max=10, eta_min=0.001)
    for epoch in range(1, 31):
        scheduler.step()
        closed = 0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * epoch / 10)) / 2
        assert scheduler.get_last_lr()[0] == pytest.approx(closed, rel=1e-12, abs=1e-15)


def test_warmup_then_cosine_values():
    """LinearLR warm-up for 5 epochs from 0.1 * lr, then the cosine from lr (its epoch 0) to eta_min."""
    ours = Side("ours", *SGD_MOMENTUM, _warmup_then_cosine)
    lrs = [ours.snapshot()["lr"][0]]
    for step in range(20):
        ours.step(step)
        lrs.append(ours.snapshot()["lr"][0])
    expected = [0.1 * (0.1 + 0.9 * e / 5) for e in range(5)] + \
        [1e-3 + (0.1 - 1e-3) * (1 + math.cos(math.pi * t / 15)) / 2 for t in range(16)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)


# --------------------------------------------------------------------------------------
# state_dict() round trips: stop mid-schedule, rebuild, load, go on
# --------------------------------------------------------------------------------------

ROUND_TRIP_CASES = [(case, *SCHEDULER_CASES[case][:3], SCHEDULER_CASES[case][3], None) for case in SCHEDULER_CASES] + \
    [(f"ReduceLROnPlateau-{case}", *PLATEAU_CASES[case][:3], len(PLATEAU_CASES[case][3]), PLATEAU_CASES[case][3])
     for case in PLATEAU_CASES]


@pytest.mark.parametrize("case, optimizer_name, options, make, steps, metrics", ROUND_TRIP_CASES,
                         ids=[c[0] for c in ROUND_TRIP_CASES])
def test_state_dict_round_trip_resumes_like_torch(case, optimizer_name, options, make, steps, metrics):
    """Ours: run to the middle, checkpoint (pickled state dicts), rebuild, load, run on. It must follow
    torch's uninterrupted run, and torch's own resumed run (PyTorch supports resuming all of these)."""
    stop = steps // 2 + 1  # mid-schedule: inside a SequentialLR's cosine, a plateau's cooldown, 1cycle's descent
    ours = Side("ours", optimizer_name, options, make)
    theirs = Side("torch", optimizer_name, options, make)
    theirs_uninterrupted = Side("torch", optimizer_name, options, make)
    for step in range(steps):
        if step == stop:
            ours = ours.resumed(optimizer_name, options)
            theirs = theirs.resumed(optimizer_name, options)
            assert_same(ours.snapshot(), theirs_uninterrupted.snapshot(), "right after loading")
        metric = None if metrics is None else metrics[step]
        for side in (ours, theirs, theirs_uninterrupted):
            side.step(step, metric)
        assert_same(ours.snapshot(), theirs_uninterrupted.snapshot(), f"after step {step + 1}")
        assert_same(theirs.snapshot(), theirs_uninterrupted.snapshot(), f"torch, after step {step + 1}")


def test_lambda_lr_state_dict_keeps_callable_objects_state():
    class Decay:
        def __init__(self):
            self.rate = 0.5

        def __call__(self, epoch):
            return self.rate ** epoch

    decay = Decay()
    scheduler = optim.LambdaLR(optim.SGD([P(np.zeros(1))], lr=1.0), [decay])
    decay.rate = 0.25
    state = pickle.loads(pickle.dumps(scheduler.state_dict()))
    fresh = Decay()
    other = optim.LambdaLR(optim.SGD([P(np.zeros(1))], lr=1.0), [fresh])
    other.load_state_dict(state)
    assert fresh.rate == 0.25
    other.step()
    assert other.get_last_lr() == [0.25]

    plain = optim.LambdaLR(optim.SGD([P(np.zeros(1))], lr=1.0), lambda epoch: 0.5)
    assert plain.state_dict()["lr_lambdas"] == [None]  # functions aren't saved, as in PyTorch


# --------------------------------------------------------------------------------------
# NAdam and RAdam
# --------------------------------------------------------------------------------------

@pytest.fixture
def torch_float64_scalars():
    """torch.optim.NAdam keeps mu_product in a 0-d tensor of torch's *default* dtype (float32 unless
    set); with float64 there, its numbers are the exact float64 ones ours computes."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


OPTIMIZER_CASES = {
    "NAdam": [dict(), dict(lr=0.05), dict(lr=0.05, betas=(0.8, 0.99), eps=1e-3), dict(lr=0.05, weight_decay=0.1),
              dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True), dict(lr=0.05, momentum_decay=0.05),
              dict(lr=0.05, maximize=True),
              dict(lr=0.05, betas=(0.85, 0.95), weight_decay=0.05, momentum_decay=0.01, maximize=True)],
    "RAdam": [dict(), dict(lr=0.05), dict(lr=0.05, betas=(0.8, 0.99), eps=1e-3), dict(lr=0.05, weight_decay=0.1),
              dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True), dict(lr=0.05, betas=(0.9, 0.9)),
              dict(lr=0.05, maximize=True),
              dict(lr=0.05, betas=(0.85, 0.95), weight_decay=0.05, decoupled_weight_decay=True, maximize=True)],
}
FLAT = [(name, options) for name, cases in OPTIMIZER_CASES.items() for options in cases]
FLAT_IDS = [f"{name}({', '.join(f'{k}={v}' for k, v in o.items())})" for name, o in FLAT]
OPTIMIZER_STEPS = 25


@pytest.mark.parametrize("name, options", FLAT, ids=FLAT_IDS)
def test_optimizer_same_trajectory_as_torch(name, options, torch_float64_scalars):
    """Two groups (lr, 3 * lr); the second parameter gets no gradient every third step."""
    ours = Side("ours", name, options, None, skip_every=3)
    theirs = Side("torch", name, options, None, skip_every=3)
    for step in range(OPTIMIZER_STEPS):
        ours.step(step)
        theirs.step(step)
        assert_same(ours.snapshot(), theirs.snapshot(), f"after step {step + 1}")

    # the same state entries, with the same values
    our_state, their_state = ours.optimizer.state_dict()["state"], theirs.optimizer.state_dict()["state"]
    assert {i: set(s) for i, s in our_state.items()} == {i: set(s) for i, s in their_state.items()}
    for i, entry in their_state.items():
        for key, value in entry.items():
            np.testing.assert_allclose(our_state[i][key], value.numpy(), rtol=RTOL, atol=ATOL, err_msg=key)


def test_radam_takes_both_branches():
    """With the default beta2 the rectified step starts at step 6 (rho_t > 5): the runs above see both."""
    beta2 = 0.999
    rho_inf = 2 / (1 - beta2) - 1
    rho = [rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t) for t in range(1, OPTIMIZER_STEPS + 1)]
    assert [r > 5 for r in rho] == [False] * 5 + [True] * (OPTIMIZER_STEPS - 5)


@pytest.mark.parametrize("name", list(OPTIMIZER_CASES))
def test_optimizer_state_dict_round_trip_resumes_like_torch(name, torch_float64_scalars):
    options = OPTIMIZER_CASES[name][-1]
    ours = Side("ours", name, options, None, skip_every=3)
    theirs = Side("torch", name, options, None, skip_every=3)
    for step in range(OPTIMIZER_STEPS):
        if step == 12:
            ours = ours.resumed(name, options)
            assert ours.optimizer.state[ours.params[0]]["step"] == 12
        ours.step(step)
        theirs.step(step)
        assert_same(ours.snapshot(), theirs.snapshot(), f"after step {step + 1}")


def test_nadam_with_torchs_default_float32_mu_product():
    """Under torch's default dtype (float32) torch rounds NAdam's mu_product to float32 each step; ours
    keeps it in float64, so with float64 parameters the two differ by ~1e-7 relative (not 1e-10)."""
    assert torch.get_default_dtype() == torch.float32
    ours = Side("ours", "NAdam", dict(lr=0.05), None)
    theirs = Side("torch", "NAdam", dict(lr=0.05), None)
    for step in range(OPTIMIZER_STEPS):
        ours.step(step)
        theirs.step(step)
        for a, b in zip(ours.arrays(), theirs.arrays()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-9)
    their_state = theirs.optimizer.state[theirs.params[0]]
    assert their_state["mu_product"].dtype == torch.float32  # where the difference comes from


@pytest.mark.parametrize("name", list(OPTIMIZER_CASES))
def test_optimizer_float32_same_as_torch(name):
    options = OPTIMIZER_CASES[name][-1]
    starts = [s.astype(np.float32) for s in STARTS]
    ours = [P(s.copy()) for s in starts]
    theirs = [torch.tensor(s.copy(), requires_grad=True) for s in starts]
    our_optimizer = getattr(optim, name)(ours, **options)
    their_optimizer = getattr(torch.optim, name)(theirs, **options)
    for step in range(OPTIMIZER_STEPS):
        our_grads = gradients([p.data.astype(np.float64) for p in ours], step)
        their_grads = gradients([p.detach().numpy().astype(np.float64) for p in theirs], step)
        for p, g in zip(ours, our_grads):
            p.grad = g.astype(np.float32)
        for p, g in zip(theirs, their_grads):
            p.grad = torch.from_numpy(g.astype(np.float32))
        our_optimizer.step()
        their_optimizer.step()
    for a, b in zip(ours, theirs):
        assert a.data.dtype == np.float32
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_new_optimizers_train_a_tensorgrad_model():
    """On real tensorgrad parameters, NAdam with OneCycleLR and RAdam with warm-up + cosine lower a loss."""
    x = tg.tensor(np.random.default_rng(0).standard_normal((32, 3)))
    y = x @ tg.tensor(np.array([[1.0], [-2.0], [0.5]]))
    for name, make in [("NAdam", lambda o: optim.OneCycleLR(o, max_lr=0.2, total_steps=40)),
                       ("RAdam", lambda o: optim.SequentialLR(o, [optim.LinearLR(o, start_factor=0.1),
                                                                  optim.CosineAnnealingLR(o, T_max=35)], [5]))]:
        model = tg.nn.Linear(3, 1)
        optimizer = getattr(optim, name)(model.parameters(), lr=0.2)
        scheduler = make(optimizer)
        losses = []
        for _ in range(40):
            optimizer.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(float(loss))
        assert losses[-1] < 0.5 * losses[0], name


# --------------------------------------------------------------------------------------
# Signatures, exports, errors
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("owner, name", [("optim", "NAdam"), ("optim", "RAdam")] +
                         [("lr_scheduler", n) for n in ["MultiStepLR", "CosineAnnealingLR", "LambdaLR", "LinearLR",
                                                        "SequentialLR", "OneCycleLR", "ReduceLROnPlateau"]])
def test_defaults_same_as_torch(owner, name):
    ours = inspect.signature(getattr(optim if owner == "optim" else lr_scheduler, name)).parameters
    theirs = inspect.signature(getattr(torch.optim if owner == "optim" else torch.optim.lr_scheduler, name)).parameters
    for argument, parameter in ours.items():
        assert argument in theirs, f"{name}({argument}=...) is not a torch argument"
        assert parameter.default == theirs[argument].default, f"{name} default of {argument}"
    positional = [a for a, p in ours.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == list(theirs)[:len(positional)]


def test_exported_from_tg_optim_and_lr_scheduler():
    for name in ["MultiStepLR", "CosineAnnealingLR", "LambdaLR", "LinearLR", "SequentialLR", "OneCycleLR",
                 "ReduceLROnPlateau", "StepLR", "ExponentialLR", "LRScheduler"]:
        assert getattr(tg.optim, name) is getattr(tg.optim.lr_scheduler, name)
        assert name in tg.optim.__all__ and name in tg.optim.lr_scheduler.__all__
    assert "NAdam" in tg.optim.__all__ and "RAdam" in tg.optim.__all__


def _sgd(groups=1, **options):
    return optim.SGD([{"params": [P(np.zeros(1))]} for _ in range(groups)], lr=0.1, **options)


def _torch_sgd(**options):
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, **options)


@pytest.mark.parametrize("make, error, message", [
    (lambda: optim.MultiStepLR(_sgd(), milestones=[5, 3]),
     ValueError, r"MultiStepLR: milestones must be increasing, "
                 r"but milestones\[0\] = 5 is followed by milestones\[1\] = 3"),
    (lambda: optim.MultiStepLR(_sgd(), milestones=[2, 2]), ValueError, "MultiStepLR: milestones must be increasing"),
    (lambda: optim.MultiStepLR(_sgd(), milestones=[0, 3]), ValueError,
     r"MultiStepLR: invalid milestones\[0\] value 0; it must be a positive integer"),
    (lambda: optim.MultiStepLR(_sgd(), milestones=5), TypeError, "MultiStepLR: milestones must be a list"),
    (lambda: optim.CosineAnnealingLR(_sgd(), T_max=0), ValueError,
     "CosineAnnealingLR: invalid T_max value 0; it must be a positive number of epochs"),
    (lambda: optim.CosineAnnealingLR(_sgd(), T_max=-3), ValueError, "CosineAnnealingLR: invalid T_max value -3"),
    (lambda: optim.CosineAnnealingLR(_sgd(), T_max=10, eta_min=-1.0), ValueError, "CosineAnnealingLR: invalid eta_min"),
    (lambda: optim.LambdaLR(_sgd(groups=2), [lambda e: 1.0]), ValueError,
     r"LambdaLR: lr_lambda has 1 functions, but the optimizer has 2 parameter group\(s\)"),
    (lambda: optim.LambdaLR(_sgd(), 0.5), TypeError, "LambdaLR: lr_lambda must be a function of the epoch"),
    (lambda: optim.LinearLR(_sgd(), start_factor=0), ValueError,
     r"LinearLR: invalid start_factor value 0; it must be in \(0, 1\]"),
    (lambda: optim.LinearLR(_sgd(), end_factor=1.5), ValueError,
     r"LinearLR: invalid end_factor value 1.5; it must be in \[0, 1\]"),
    (lambda: optim.LinearLR(_sgd(), total_iters=0), ValueError, "LinearLR: invalid total_iters value 0"),
    (lambda: optim.OneCycleLR(_sgd(momentum=0.9), max_lr=0.1), ValueError,
     "OneCycleLR: give the length of the cycle: total_steps, or both epochs and steps_per_epoch"),
    (lambda: optim.OneCycleLR(_sgd(momentum=0.9), max_lr=0.1, total_steps=0), ValueError,
     "OneCycleLR: invalid total_steps value 0; it must be a positive integer"),
    (lambda: optim.OneCycleLR(_sgd(momentum=0.9), max_lr=0.1, total_steps=10, pct_start=1.5), ValueError,
     r"OneCycleLR: invalid pct_start value 1.5; it must be in \[0, 1\]"),
    (lambda: optim.OneCycleLR(_sgd(momentum=0.9), max_lr=0.1, total_steps=10, anneal_strategy="exp"), ValueError,
     "OneCycleLR: invalid anneal_strategy value 'exp'; it must be 'cos' or 'linear'"),
    (lambda: optim.OneCycleLR(_sgd(momentum=0.9), max_lr=0.1, total_steps=10, pct_start=0.1), ValueError,
     r"OneCycleLR: phase 1 of the cycle \(initial_lr -> max_lr\) has no length with pct_start=0.1 and total_steps=10"),
    (lambda: optim.OneCycleLR(_sgd(groups=2, momentum=0.9), max_lr=[0.1], total_steps=10), ValueError,
     r"OneCycleLR: max_lr has 1 values, but the optimizer has 2 parameter group\(s\)"),
    (lambda: optim.OneCycleLR(optim.Adagrad([P(np.zeros(1))]), max_lr=0.1, total_steps=10), ValueError,
     "OneCycleLR: cycle_momentum=True needs an optimizer with a 'momentum' or 'betas' option, but Adagrad"),
    (lambda: optim.ReduceLROnPlateau(_sgd(), factor=1.0), ValueError,
     r"ReduceLROnPlateau: invalid factor value 1.0; it must be in \[0, 1\)"),
    (lambda: optim.ReduceLROnPlateau(_sgd(), mode="minimum"), ValueError,
     "ReduceLROnPlateau: invalid mode value 'minimum'; it must be 'min' or 'max'"),
    (lambda: optim.ReduceLROnPlateau(_sgd(), threshold_mode="relative"), ValueError,
     "ReduceLROnPlateau: invalid threshold_mode value 'relative'"),
    (lambda: optim.ReduceLROnPlateau(_sgd(groups=2), min_lr=[0.1]), ValueError,
     r"ReduceLROnPlateau: min_lr has 1 values, but the optimizer has 2 parameter group\(s\)"),
    (lambda: optim.ReduceLROnPlateau(_sgd()).step("low"), TypeError,
     "ReduceLROnPlateau: step\\(\\) takes the metric to watch, a number, but got str"),
    (lambda: optim.MultiStepLR([P(np.zeros(1))], milestones=[1]), TypeError,
     "MultiStepLR: expected an Optimizer, but got list"),
    (lambda: optim.NAdam([P(np.zeros(1))], momentum_decay=-1.0), ValueError,
     "NAdam: invalid momentum_decay value -1.0; it must be >= 0"),
    (lambda: optim.NAdam([P(np.zeros(1))], betas=(0.9, 1.0)), ValueError,
     r"NAdam: invalid betas\[1\] value 1.0; it must be in \[0, 1\)"),
    (lambda: optim.RAdam([P(np.zeros(1))], lr=-0.1), ValueError, "RAdam: invalid lr value -0.1; it must be >= 0"),
    (lambda: optim.RAdam([P(np.zeros(1))], weight_decay=-0.1), ValueError, "RAdam: invalid weight_decay value -0.1"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_errors_name_the_scheduler_and_argument(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_sequential_lr_errors():
    optimizer, other = _sgd(), _sgd()
    warmup, cosine = optim.LinearLR(optimizer), optim.CosineAnnealingLR(optimizer, T_max=10)
    with pytest.raises(ValueError, match="SequentialLR: got 2 schedulers and 2 milestones; it needs one milestone"):
        optim.SequentialLR(optimizer, [warmup, cosine], milestones=[3, 6])
    with pytest.raises(ValueError, match=r"SequentialLR: schedulers\[1\] \(CosineAnnealingLR\) schedules another"):
        optim.SequentialLR(optimizer, [warmup, optim.CosineAnnealingLR(other, T_max=10)], milestones=[3])
    with pytest.raises(ValueError, match=r"SequentialLR: schedulers\[1\] is a ReduceLROnPlateau"):
        optim.SequentialLR(optimizer, [warmup, optim.ReduceLROnPlateau(optimizer)], milestones=[3])
    with pytest.raises(ValueError, match="SequentialLR: schedulers is empty"):
        optim.SequentialLR(optimizer, [], milestones=[])
    with pytest.raises(ValueError, match="SequentialLR: milestones must be increasing"):
        optim.SequentialLR(optimizer, [warmup, cosine, optim.ExponentialLR(optimizer, 0.9)], milestones=[6, 3])


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")  # no optimizer.step() here
@pytest.mark.parametrize("options, built_for", [
    (dict(total_steps=6), r"total_steps=6 steps"),
    (dict(epochs=2, steps_per_epoch=3), r"total_steps=6 \(epochs=2 \* steps_per_epoch=3\) steps"),
], ids=["total_steps", "epochs*steps_per_epoch"])
def test_one_cycle_stepped_past_total_steps_raises_like_torch(options, built_for):
    """Both allow total_steps calls of step() (the last sets an lr no step uses) and refuse the next."""
    ours = optim.OneCycleLR(_sgd(momentum=0.9), max_lr=0.5, **options)
    theirs = torch.optim.lr_scheduler.OneCycleLR(_torch_sgd(momentum=0.9), max_lr=0.5, **options)
    for _ in range(6):
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=RTOL)
    with pytest.raises(ValueError, match=f"OneCycleLR: tried to step 7 times, but it was built for {built_for}"):
        ours.step()
    with pytest.raises(ValueError, match="Tried to step 7 times"):
        theirs.step()
    with pytest.raises(ValueError, match="OneCycleLR: tried to step 7 times"):  # still refused, nothing changed
        ours.step()
