"""Learning-rate schedules (PyTorch's ``torch.optim.lr_scheduler``).

A scheduler changes the ``"lr"`` of every parameter group of an optimizer
each time its :meth:`~LRScheduler.step` is called, usually once per epoch,
after the epoch's ``optimizer.step()`` calls::

    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, optimizer)
        scheduler.step()

The schedules, each with PyTorch's arguments, defaults and numbers:

- :class:`StepLR`, :class:`MultiStepLR`, :class:`ExponentialLR`: decay by ``gamma``
  every ``step_size`` epochs, at given milestones, or every epoch;
- :class:`CosineAnnealingLR`: half a cosine from the initial lr down to ``eta_min``;
- :class:`LinearLR`: a linear ramp of the lr's factor, e.g. a warm-up;
- :class:`LambdaLR`: the initial lr times any function of the epoch;
- :class:`SequentialLR`: one schedule after another (warm-up, then cosine);
- :class:`OneCycleLR`: the 1cycle policy, stepped after every *batch*, which also
  cycles the momentum (SGD's ``momentum``, Adam's ``beta1``);
- :class:`ReduceLROnPlateau`: divide the lr when a watched metric stops improving,
  ``scheduler.step(val_loss)``.

Like PyTorch's, ``StepLR``, ``MultiStepLR``, ``ExponentialLR``, ``CosineAnnealingLR``
and ``LinearLR`` are *chainable*: each step multiplies the group's current
learning rate (or, for the cosine, moves it by the ratio of two consecutive
values of the curve), so two of them stepped together combine. ``LambdaLR`` and
``OneCycleLR`` instead compute the lr from the epoch and overwrite it.
"""

from __future__ import annotations

import copy
import math
import numbers
import types
from bisect import bisect_right
from collections.abc import Callable, Iterable
from typing import Any

from .optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR",
           "LinearLR", "SequentialLR", "OneCycleLR", "ReduceLROnPlateau"]


# ---------------------------------------------------------------------- argument checks

def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _require(ok: bool, scheduler: str, argument: str, value: Any, requirement: str) -> None:
    """Raise ValueError naming the scheduler, the argument and its value unless ``ok``."""
    if not ok:
        raise ValueError(f"{scheduler}: invalid {argument} value {value!r}; it must be {requirement}")


def _check_optimizer(scheduler: str, optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{scheduler}: expected an Optimizer, but got {type(optimizer).__name__}")


def _check_milestones(scheduler: str, milestones: Any) -> list[int]:
    """Milestones as a list of strictly increasing positive integers."""
    try:
        values = list(milestones)
    except TypeError:
        raise TypeError(f"{scheduler}: milestones must be a list of epoch numbers, "
                        f"but got {type(milestones).__name__}") from None
    for i, value in enumerate(values):
        _require(_is_int(value) and value >= 1, scheduler, f"milestones[{i}]", value, "a positive integer")
    for i in range(1, len(values)):
        if values[i] <= values[i - 1]:
            raise ValueError(f"{scheduler}: milestones must be increasing, but milestones[{i - 1}] = "
                             f"{values[i - 1]} is followed by milestones[{i}] = {values[i]} "
                             f"(got {values})")
    return [int(value) for value in values]


def _per_group(scheduler: str, argument: str, value: Any, optimizer: Optimizer) -> list[Any]:
    """One value per parameter group: a list/tuple of that length, or a single value for all."""
    n_groups = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n_groups:
            raise ValueError(f"{scheduler}: {argument} has {len(value)} values, but the optimizer has "
                             f"{n_groups} parameter group(s); give one value, or one per group")
        return list(value)
    return [value] * n_groups


# ---------------------------------------------------------------------- base class

class LRScheduler:
    """Base class of the learning-rate schedulers.

    Args:
        optimizer: the optimizer whose learning rates are scheduled.
        last_epoch: index of the last epoch done; -1 (the default) starts a
            new schedule, anything else resumes one (the optimizer's groups
            must then hold ``"initial_lr"``, as after loading its state dict).

    Attributes:
        optimizer: the scheduled optimizer.
        base_lrs: each group's learning rate when the schedule started
            (also stored in the group as ``"initial_lr"``).
        last_epoch: the number of ``step()`` calls so far (0 right after construction).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(self._name, optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{self._name}: param_groups[{i}] has no 'initial_lr'; "
                                   f"resuming a schedule (last_epoch={last_epoch}) needs an optimizer "
                                   f"whose state was loaded from a checkpoint")
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """The step construction takes (epoch -1 -> 0): it sets the starting learning rates."""
        self._is_initial_step = True
        try:
            self.step()
        finally:
            self._is_initial_step = False

    def get_lr(self) -> list[float]:
        """The learning rates for epoch ``last_epoch``, computed from the current ones."""
        raise NotImplementedError(f"{self._name} does not implement get_lr")

    def _closed_form_lr(self) -> list[float]:
        """The learning rates for epoch ``last_epoch`` computed from ``base_lrs`` alone.

        Chainable schedules override this with their closed form; the others'
        ``get_lr`` already is one. Used when :class:`SequentialLR` hands over to
        this schedule at a milestone (PyTorch's ``_get_closed_form_lr``)."""
        return self.get_lr()

    def step(self) -> None:
        """Advance the schedule by one epoch and update the optimizer's learning rates."""
        self.last_epoch += 1
        self._set_lrs(self.get_lr())

    def _restart(self) -> None:
        """Go to epoch 0 of the schedule, with its closed-form learning rates (this is what
        PyTorch's ``_update_lr(0)`` does when SequentialLR reaches a milestone)."""
        self.last_epoch = 0
        self._set_lrs(self._closed_form_lr())

    def _set_lrs(self, lrs: Iterable[float]) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = self._current_lrs()

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last :meth:`step`, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state: every attribute except the optimizer."""
        return {key: copy.deepcopy(value) for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`state_dict`.

        To resume a run, build the optimizer and the scheduler as at the start, then load the
        optimizer's state dict (which holds the groups' current ``lr``) and this one.
        """
        self.__dict__.update(copy.deepcopy(state_dict))

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    @property
    def _name(self) -> str:
        return type(self).__name__


# ---------------------------------------------------------------------- decays

class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    Schedule: ``lr(epoch) = initial_lr * gamma ** (epoch // step_size)``
    (applied as a multiplication of the current lr at epochs ``step_size``,
    ``2 * step_size``, ...)::

        # lr = 0.05 for epochs 0-29, 0.005 for 30-59, 0.0005 for 60-89, ...
        scheduler = StepLR(optimizer, step_size=30, gamma=0.1)

    Args:
        optimizer: the optimizer whose learning rates are scheduled.
        step_size: number of epochs between two decays.
        gamma: multiplicative factor of the decay (default 0.1).
        last_epoch: index of the last epoch done (default -1: start a new schedule).
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        _require(_is_int(step_size) and step_size >= 1, "StepLR", "step_size", step_size,
                 "a positive integer")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each milestone epoch.

    Schedule: ``lr(epoch) = initial_lr * gamma ** (number of milestones <= epoch)``
    (applied as a multiplication of the current lr at each milestone)::

        # lr = 0.05 for epochs 0-29, 0.005 for 30-79, 0.0005 from epoch 80 on
        scheduler = MultiStepLR(optimizer, milestones=[30, 80], gamma=0.1)

    Args:
        optimizer: the optimizer whose learning rates are scheduled.
        milestones: the epochs at which to decay, increasing positive integers.
        gamma: multiplicative factor of the decay (default 0.1).
        last_epoch: index of the last epoch done (default -1: start a new schedule).
    """

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.milestones = _check_milestones("MultiStepLR", milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        passed = bisect_right(self.milestones, self.last_epoch)
        return [base_lr * self.gamma ** passed for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch.

    Schedule: ``lr(epoch) = initial_lr * gamma ** epoch``
    (applied as a multiplication of the current lr at each step).

    Args:
        optimizer: the optimizer whose learning rates are scheduled.
        gamma: multiplicative factor of the decay.
        last_epoch: index of the last epoch done (default -1: start a new schedule).
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial_step:
            return self._current_lrs()  # constructing (or resuming) keeps the current lr
        return [lr * self.gamma for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Anneal the learning rate from its initial value down to ``eta_min`` along half a cosine.

    Schedule, for ``epoch = 0 .. T_max``::

        lr(epoch) = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2

    Like PyTorch's, it is computed *recursively*, so that it chains with other
    schedulers: each step moves the current lr by the ratio of two consecutive
    values of the curve::

        lr = eta_min + (lr - eta_min) * (1 + cos(pi * epoch / T_max)) / (1 + cos(pi * (epoch - 1) / T_max))

    Alone, this gives the formula above. There is no restart: past ``T_max`` the
    lr climbs back up the cosine (period ``2 * T_max``); at the bottom, where the
    ratio would be 0 / 0, the step adds the curve's first increment instead.

    Args:
        optimizer: the optimizer whose learning rates are scheduled.
        T_max: number of epochs from the initial lr down to ``eta_min``.
        eta_min: the lowest learning rate (default 0).
        last_epoch: index of the last epoch done (default -1: start a new schedule).
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        _require(_is_real(T_max) and T_max > 0, "CosineAnnealingLR", "T_max", T_max,
                 "a positive number of epochs")
        _require(_is_real(eta_min) and eta_min >= 0, "CosineAnnealingLR", "eta_min", eta_min, ">= 0")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial_step:
            return self._current_lrs()
        epoch, T_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if (epoch - 1 - T_max) % (2 * T_max) == 0:  # leaving the bottom of the curve
            return [lr + (base_lr - eta_min) * (1 - math.cos(math.pi / T_max)) / 2
                    for lr, base_lr in zip(self._current_lrs(), self.base_lrs)]
        ratio = (1 + math.cos(math.pi * epoch / T_max)) / (1 + math.cos(math.pi * (epoch - 1) / T_max))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Multiply the initial learning rate by a factor that changes linearly, e.g. for a warm-up.

    Schedule::

        lr(epoch) = initial_lr * (start_factor + (end_factor - start_factor) * min(epoch, total_iters) / total_iters)

    applied, like PyTorch, as the ratio of the factor at ``epoch`` to the one at
    ``epoch - 1`` (so it chains with other schedulers)::

        # warm-up: lr = 0.01, 0.02, 0.03, 0.04, then 0.05 from epoch 4 on
        scheduler = LinearLR(optimizer, start_factor=0.2, total_iters=4)    # optimizer's lr = 0.05

    Args:
        optimizer: the optimizer whose learning rates are scheduled.
        start_factor: the factor at epoch 0, in (0, 1] (default 1/3).
        end_factor: the factor from epoch ``total_iters`` on, in [0, 1] (default 1).
        total_iters: number of epochs the factor takes to go from start to end (default 5).
        last_epoch: index of the last epoch done (default -1: start a new schedule).
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        _require(_is_real(start_factor) and 0 < start_factor <= 1, "LinearLR", "start_factor",
                 start_factor, "in (0, 1]")
        _require(_is_real(end_factor) and 0 <= end_factor <= 1, "LinearLR", "end_factor", end_factor,
                 "in [0, 1]")
        _require(_is_int(total_iters) and total_iters >= 1, "LinearLR", "total_iters", total_iters,
                 "a positive integer")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._current_lrs()]
        if self._is_initial_step or self.last_epoch > self.total_iters:
            return self._current_lrs()
        start, end = self.start_factor, self.end_factor
        # factor(epoch) / factor(epoch - 1)
        ratio = 1.0 + (end - start) / (self.total_iters * start + (self.last_epoch - 1) * (end - start))
        return [lr * ratio for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        start, end = self.start_factor, self.end_factor
        factor = start + (end - start) * min(self.total_iters, self.last_epoch) / self.total_iters
        return [base_lr * factor for base_lr in self.base_lrs]


class LambdaLR(LRScheduler):
    """Set the learning rate to the initial one times a function of the epoch.

    Schedule: ``lr(epoch) = initial_lr * lr_lambda(epoch)``, for each group
    (with its own function if ``lr_lambda`` is a list)::

        # warm up over 10 epochs, then decay as 1 / sqrt(epoch)
        scheduler = LambdaLR(optimizer, lambda epoch: min((epoch + 1) / 10, (10 / (epoch + 1)) ** 0.5))

    Not chainable: it overwrites the lr. :meth:`state_dict` keeps the attributes of
    callable *objects* among the functions, not plain functions or lambdas (as in
    PyTorch): a resumed scheduler is built with its functions again.

    Args:
        optimizer: the optimizer whose learning rates are scheduled.
        lr_lambda: a function of the epoch (an integer) giving the factor, or a
            list of such functions, one per parameter group.
        last_epoch: index of the last epoch done (default -1: start a new schedule).
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        _check_optimizer("LambdaLR", optimizer)
        n_groups = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n_groups:
                raise ValueError(f"LambdaLR: lr_lambda has {len(lr_lambda)} functions, but the optimizer has "
                                 f"{n_groups} parameter group(s); give one function, or one per group")
            lambdas = list(lr_lambda)
        else:
            lambdas = [lr_lambda] * n_groups
        for i, function in enumerate(lambdas):
            if not callable(function):
                where = f"lr_lambda[{i}]" if isinstance(lr_lambda, (list, tuple)) else "lr_lambda"
                raise TypeError(f"LambdaLR: {where} must be a function of the epoch, "
                                f"but got {type(function).__name__}")
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * function(self.last_epoch) for function, base_lr in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state; ``"lr_lambdas"`` holds the attributes of each function that is a
        callable object, ``None`` for plain functions and lambdas."""
        state = {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(function, types.FunctionType)
                               else copy.deepcopy(getattr(function, "__dict__", None))
                               for function in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`state_dict` (the functions stay this scheduler's own)."""
        state = dict(state_dict)
        saved_lambdas = state.pop("lr_lambdas", [])
        self.__dict__.update(copy.deepcopy(state))
        for function, attributes in zip(self.lr_lambdas, saved_lambdas):
            if attributes is not None:
                function.__dict__.update(copy.deepcopy(attributes))


# ---------------------------------------------------------------------- combining schedules

def _undo_initial_step(scheduler: LRScheduler) -> None:
    """Take back the epoch a scheduler's construction counted (inside a SequentialLR, its own)."""
    if isinstance(scheduler, SequentialLR):
        for inner in scheduler._schedulers:
            _undo_initial_step(inner)
    else:
        scheduler.last_epoch -= 1


class SequentialLR(LRScheduler):
    """Run schedulers one after the other, switching at the milestone epochs.

    Scheduler ``i`` runs from epoch ``milestones[i - 1]`` (0 for the first) until the
    next milestone; each one starts its own schedule (its epoch 0, from the initial
    learning rates) when it takes over. A warm-up followed by a cosine decay::

        warmup = LinearLR(optimizer, start_factor=0.1, total_iters=5)
        cosine = CosineAnnealingLR(optimizer, T_max=95)
        scheduler = SequentialLR(optimizer, schedulers=[warmup, cosine], milestones=[5])

    Build the schedulers first, on the same optimizer: SequentialLR takes back the
    first step their construction took and starts from the optimizer's initial lrs.

    Args:
        optimizer: the optimizer whose learning rates are scheduled.
        schedulers: the schedulers, in the order they run (not ReduceLROnPlateau,
            whose step needs a metric).
        milestones: the epochs at which the next scheduler takes over, increasing,
            one fewer than the schedulers.
        last_epoch: index of the last epoch done (default -1: start a new schedule).
    """

    def __init__(self, optimizer: Optimizer, schedulers: list[LRScheduler], milestones: list[int],
                 last_epoch: int = -1) -> None:
        _check_optimizer("SequentialLR", optimizer)
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError("SequentialLR: schedulers is empty; it needs at least one scheduler")
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(f"SequentialLR: schedulers[{i}] is a ReduceLROnPlateau, which can't run in a "
                                 f"sequence: its step() needs the metric")
            if not isinstance(scheduler, LRScheduler):
                raise TypeError(f"SequentialLR: schedulers[{i}] must be a learning-rate scheduler, "
                                f"but got {type(scheduler).__name__}")
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"SequentialLR: schedulers[{i}] ({type(scheduler).__name__}) schedules another "
                                 f"optimizer than the one given to SequentialLR; all must schedule the same one")
        milestones = _check_milestones("SequentialLR", milestones)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: got {len(schedulers)} schedulers and {len(milestones)} milestones; "
                             f"it needs one milestone fewer than schedulers (the epoch at which each scheduler "
                             f"after the first takes over)")
        self.optimizer = optimizer
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1

        # Start again from the initial learning rates: undo the step each scheduler's construction
        # took, then take the first scheduler's first step.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for scheduler in schedulers:
            _undo_initial_step(scheduler)
        first = schedulers[bisect_right(milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        """Advance by one epoch: step the scheduler running now, or start the next one at a milestone."""
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._restart()
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state, with each inner scheduler's state dict under ``"_schedulers"``."""
        state = {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`state_dict`, the inner schedulers' included."""
        state = dict(state_dict)
        inner_states = state.pop("_schedulers")
        if len(inner_states) != len(self._schedulers):
            raise ValueError(f"SequentialLR: the loaded state has {len(inner_states)} schedulers, "
                             f"but this SequentialLR has {len(self._schedulers)}")
        self.__dict__.update(copy.deepcopy(state))
        for scheduler, inner_state in zip(self._schedulers, inner_states):
            scheduler.load_state_dict(inner_state)


# ---------------------------------------------------------------------- 1cycle

def _anneal_cos(start: float, end: float, pct: float) -> float:
    """From ``start`` (pct = 0) to ``end`` (pct = 1) along half a cosine."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _anneal_linear(start: float, end: float, pct: float) -> float:
    """From ``start`` (pct = 0) to ``end`` (pct = 1) along a straight line."""
    return (end - start) * pct + start


class OneCycleLR(LRScheduler):
    """The 1cycle policy: the learning rate rises to ``max_lr``, then falls far below where it began.

    Stepped after every *batch*, for ``total_steps`` steps (or ``epochs * steps_per_epoch``).
    With ``initial_lr = max_lr / div_factor`` and ``min_lr = initial_lr / final_div_factor``,
    the phases, each annealed with ``anneal_strategy`` (half a cosine, or a line), are::

        two phases (default):   steps 0 .. pct_start * total_steps - 1:  initial_lr -> max_lr
                                then up to step total_steps - 1:         max_lr -> min_lr
        three_phase=True:       initial_lr -> max_lr -> initial_lr (symmetric about
                                pct_start * total_steps), then initial_lr -> min_lr

    With ``cycle_momentum`` the momentum goes the other way, from ``max_momentum`` down
    to ``base_momentum`` while the lr rises and back while it falls (staying at
    ``max_momentum`` in the third phase); it is SGD's or RMSprop's ``momentum``, or
    ``beta1`` for the optimizers with ``betas`` (Adam, AdamW, NAdam, RAdam). The
    groups get ``"initial_lr"``, ``"max_lr"``, ``"min_lr"``, ``"max_momentum"`` and
    ``"base_momentum"`` entries, as in PyTorch::

        scheduler = OneCycleLR(optimizer, max_lr=0.1, epochs=10, steps_per_epoch=len(loader))
        for epoch in range(10):
            for x, y in loader:
                ...
                optimizer.step()
                scheduler.step()

    Not chainable: it overwrites the lr. Like PyTorch's, it can be stepped
    ``total_steps`` times (the last call sets an lr no step uses); one more raises.

    Args:
        optimizer: the optimizer whose learning rates are scheduled.
        max_lr: the highest learning rate, or a list of them, one per group.
        total_steps: the number of steps in the cycle; if None, ``epochs * steps_per_epoch``.
        epochs: number of epochs (used with ``steps_per_epoch`` when ``total_steps`` is None).
        steps_per_epoch: number of steps per epoch.
        pct_start: fraction of the cycle spent raising the lr (default 0.3).
        anneal_strategy: ``"cos"`` (default) or ``"linear"``.
        cycle_momentum: cycle the momentum inversely to the lr (default True).
        base_momentum: lowest momentum, at the peak lr (default 0.85), or one per group.
        max_momentum: highest momentum, at the start (default 0.95), or one per group.
        div_factor: ``initial_lr = max_lr / div_factor`` (default 25).
        final_div_factor: ``min_lr = initial_lr / final_div_factor`` (default 1e4).
        three_phase: go back down to ``initial_lr`` before annealing to ``min_lr`` (default False).
        last_epoch: index of the last *step* done (default -1: start a new schedule).
    """

    def __init__(self, optimizer: Optimizer, max_lr: float | list[float], total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | list[float] = 0.85, max_momentum: float | list[float] = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        name = "OneCycleLR"
        _check_optimizer(name, optimizer)
        if total_steps is not None:
            _require(_is_int(total_steps) and total_steps >= 1, name, "total_steps", total_steps,
                     "a positive integer")
            self._built_for = f"total_steps={total_steps}"
        elif epochs is not None and steps_per_epoch is not None:
            _require(_is_int(epochs) and epochs >= 1, name, "epochs", epochs, "a positive integer")
            _require(_is_int(steps_per_epoch) and steps_per_epoch >= 1, name, "steps_per_epoch",
                     steps_per_epoch, "a positive integer")
            total_steps = epochs * steps_per_epoch
            self._built_for = f"total_steps={total_steps} (epochs={epochs} * steps_per_epoch={steps_per_epoch})"
        else:
            raise ValueError(f"{name}: give the length of the cycle: total_steps, or both epochs and "
                             f"steps_per_epoch (got epochs={epochs!r}, steps_per_epoch={steps_per_epoch!r})")
        self.total_steps = int(total_steps)
        _require(_is_real(pct_start) and 0 <= pct_start <= 1, name, "pct_start", pct_start, "in [0, 1]")
        _require(anneal_strategy in ("cos", "linear"), name, "anneal_strategy", anneal_strategy,
                 "'cos' or 'linear'")
        self.anneal_strategy = anneal_strategy
        self.pct_start = pct_start

        # Each phase: the step it ends at, and the group entries it goes from and to.
        rise_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._phases = [
                dict(end_step=rise_end, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=float(2 * pct_start * self.total_steps) - 2, start_lr="max_lr", end_lr="initial_lr",
                     start_momentum="base_momentum", end_momentum="max_momentum"),
                dict(end_step=self.total_steps - 1, start_lr="initial_lr", end_lr="min_lr",
                     start_momentum="max_momentum", end_momentum="max_momentum"),
            ]
        else:
            self._phases = [
                dict(end_step=rise_end, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=self.total_steps - 1, start_lr="max_lr", end_lr="min_lr",
                     start_momentum="base_momentum", end_momentum="max_momentum"),
            ]

        max_lrs = _per_group(name, "max_lr", max_lr, optimizer)
        if last_epoch == -1:
            for group, group_max_lr in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = group_max_lr / div_factor
                group["max_lr"] = group_max_lr
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"{name}: cycle_momentum=True needs an optimizer with a 'momentum' or 'betas' "
                                 f"option, but {type(optimizer).__name__} has neither; pass cycle_momentum=False")
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = _per_group(name, "max_momentum", max_momentum, optimizer)
            base_momentums = _per_group(name, "base_momentum", base_momentum, optimizer)
            if last_epoch == -1:
                for group, group_max, group_base in zip(optimizer.param_groups, max_momentums, base_momentums):
                    self._set_momentum(group, group_max)
                    group["max_momentum"] = group_max
                    group["base_momentum"] = group_base
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict[str, Any], momentum: float) -> None:
        if self.use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum

    def step(self) -> None:
        """Advance by one batch; raises ValueError past the ``total_steps`` the cycle was built for."""
        if self.last_epoch + 1 > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {self.last_epoch + 1} times, but it was built for "
                             f"{self._built_for} steps; build it with enough steps for every "
                             f"scheduler.step() call")
        super().step()

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        start_step = 0.0
        for i, phase in enumerate(self._phases):
            if step <= phase["end_step"] or i == len(self._phases) - 1:
                break
            start_step = phase["end_step"]
        if phase["end_step"] == start_step:  # PyTorch divides by zero here
            raise ValueError(f"OneCycleLR: phase {i + 1} of the cycle ({phase['start_lr']} -> {phase['end_lr']}) "
                             f"has no length with pct_start={self.pct_start} and total_steps={self.total_steps} "
                             f"(it starts and ends at step {start_step:g}); change pct_start or total_steps")
        pct = (step - start_step) / (phase["end_step"] - start_step)  # 0 -> 1 through the phase
        anneal = _anneal_cos if self.anneal_strategy == "cos" else _anneal_linear

        lrs = []
        for group in self.optimizer.param_groups:
            lrs.append(anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
            if self.cycle_momentum:
                self._set_momentum(group, anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct))
        return lrs


# ---------------------------------------------------------------------- on a metric

class ReduceLROnPlateau(LRScheduler):
    """Multiply the learning rate by ``factor`` when a metric has stopped improving.

    Each ``step(metric)`` (e.g. once per epoch, with the validation loss) compares the
    metric with the best so far. A metric *improves* when, in ``mode="min"``,
    ``metric < best * (1 - threshold)`` (``threshold_mode="rel"``) or
    ``metric < best - threshold`` (``"abs"``); mirrored for ``mode="max"``. After more
    than ``patience`` epochs in a row without improvement::

        lr = max(lr * factor, min_lr)      (skipped when it would change lr by eps or less)

    then ``cooldown`` epochs follow in which bad epochs are not counted::

        scheduler = ReduceLROnPlateau(optimizer, factor=0.5, patience=3)
        for epoch in range(epochs):
            train_one_epoch(model, optimizer)
            scheduler.step(validation_loss(model))

    Args:
        optimizer: the optimizer whose learning rates are scheduled.
        mode: ``"min"`` (default) for a metric that should go down, ``"max"`` for one
            that should go up (an accuracy).
        factor: the factor that reduces the lr, in [0, 1) (default 0.1).
        patience: number of epochs without improvement tolerated (default 10).
        threshold: how much better than the best a metric must be to count (default 1e-4).
        threshold_mode: ``"rel"`` (default) or ``"abs"``, see above.
        cooldown: epochs after a reduction during which bad epochs aren't counted (default 0).
        min_lr: the lowest learning rate, or a list of them, one per group (default 0).
        eps: a reduction smaller than this is skipped (default 1e-8).
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | list[float] = 0, eps: float = 1e-8) -> None:
        name = "ReduceLROnPlateau"
        _check_optimizer(name, optimizer)
        _require(mode in ("min", "max"), name, "mode", mode, "'min' or 'max'")
        _require(_is_real(factor) and 0 <= factor < 1, name, "factor", factor, "in [0, 1) (new lr = lr * factor)")
        _require(_is_int(patience) and patience >= 0, name, "patience", patience, "an integer >= 0")
        _require(_is_real(threshold) and threshold >= 0, name, "threshold", threshold, ">= 0")
        _require(threshold_mode in ("rel", "abs"), name, "threshold_mode", threshold_mode, "'rel' or 'abs'")
        _require(_is_int(cooldown) and cooldown >= 0, name, "cooldown", cooldown, "an integer >= 0")
        _require(_is_real(eps) and eps >= 0, name, "eps", eps, ">= 0")
        self.optimizer = optimizer
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else min_lr
        self.min_lrs = _per_group(name, "min_lr", min_lr, optimizer)
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.best = self.mode_worse
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def step(self, metrics: float) -> None:  # type: ignore[override]
        """Take the epoch's metric (a number, or a 0-d tensor) and reduce the lr if it stopped improving."""
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise TypeError(f"ReduceLROnPlateau: step() takes the metric to watch, a number, "
                            f"but got {type(metrics).__name__}") from None
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in the cooldown don't count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    def _is_better(self, metric: float, best: float) -> bool:
        if self.mode == "min":
            return metric < (best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return metric > (best * (self.threshold + 1.0) if self.threshold_mode == "rel" else best + self.threshold)

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise ValueError(f"ReduceLROnPlateau: the optimizer now has {len(groups)} parameter groups, "
                                 f"but min_lr has {len(self.min_lrs)} values; set scheduler.min_lrs to one "
                                 f"per group")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr
