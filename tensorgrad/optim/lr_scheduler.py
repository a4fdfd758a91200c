"""Learning-rate schedules (PyTorch's ``torch.optim.lr_scheduler``).

A scheduler changes the ``"lr"`` of every parameter group of an optimizer
each time its :meth:`~LRScheduler.step` is called, usually once per epoch,
after the epoch's ``optimizer.step()`` calls::

    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, optimizer)
        scheduler.step()

Like PyTorch's, the schedules are *chainable*: each step multiplies the
group's current learning rate, so schedulers can be combined.
"""

from __future__ import annotations

import copy
from typing import Any

from .optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "ExponentialLR"]


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
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, "
                            f"but got {type(optimizer).__name__}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{type(self).__name__}: param_groups[{i}] has no 'initial_lr'; "
                                   f"resuming a schedule (last_epoch={last_epoch}) needs an optimizer "
                                   f"whose state was loaded from a checkpoint")
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch

        # The first step (epoch -1 -> 0) records the starting learning rates.
        self._is_initial_step = True
        self.step()
        self._is_initial_step = False

    def get_lr(self) -> list[float]:
        """The learning rates for epoch ``last_epoch``, computed from the current ones."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr")

    def step(self) -> None:
        """Advance the schedule by one epoch and update the optimizer's learning rates."""
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last :meth:`step`, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state: every attribute except the optimizer."""
        return {key: copy.deepcopy(value) for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`state_dict`."""
        self.__dict__.update(copy.deepcopy(state_dict))

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]


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
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR: invalid step_size value {step_size!r}; "
                             f"it must be a positive integer")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


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
