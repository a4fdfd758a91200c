"""The training loop: ``fit`` a model with an optimizer, ``evaluate`` it, ``predict`` with it.

Works for classifiers that output logits: (N, C) for C classes (cross-entropy) or (N, 1) for a
binary classifier (binary cross-entropy with logits). Targets are integer labels (N,), one-hot
rows (N, C), or 0/1 floats (N, 1) for the binary case.
"""
from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from ..autograd import no_grad
from ..data import DataLoader
from ..nn import functional as F
from ..nn.module import Module
from ..optim import LBFGS, Optimizer
from ..creation import manual_seed
from ..tensor import Tensor

__all__ = ["History", "fit", "evaluate", "predict_proba", "predict", "default_loss", "save_training_state",
           "load_training_state"]

LossFn = Callable[[Tensor, Any], Tensor]


@dataclass
class History:
    """Per-epoch records, as Keras' ``history.history``: ``history["val_accuracy"][-1]``."""

    history: dict[str, list[float]] = field(default_factory=dict)

    def append(self, **values: float) -> None:
        for key, value in values.items():
            self.history.setdefault(key, []).append(float(value))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: str) -> bool:
        return key in self.history

    @property
    def epochs(self) -> int:
        return len(self.history.get("loss", []))

    def to_json(self) -> str:
        return json.dumps(self.history, indent=2)


def default_loss(y: np.ndarray) -> LossFn:
    """Cross-entropy for labels or one-hot targets; BCE with logits for (N, 1) 0/1 targets."""
    if y.ndim == 2 and y.shape[1] == 1:
        return F.binary_cross_entropy_with_logits
    return F.cross_entropy


def _count_correct(logits: np.ndarray, y: np.ndarray) -> int:
    if logits.ndim == 2 and logits.shape[1] == 1:  # binary: logit > 0 means class 1
        return int(np.sum((logits > 0) == (y > 0.5)))
    labels = y if y.ndim == 1 else y.argmax(axis=1)
    return int(np.sum(logits.argmax(axis=1) == labels))


def _progress(total: int, description: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm  # shows loss, it/s and ETA

    return tqdm(total=total, desc=description, unit="batch", leave=False, dynamic_ncols=True)


def _raw_pixels_warning(x: Any) -> str | None:
    """A one-line warning when ``x`` looks like raw 0-255 pixels (training on them stalls at chance
    accuracy, with no other hint), else None. Looks at the first 1,024 samples: non-negative values
    up to 255 with a maximum above 1.5, and at least 64 values per sample (an image, not a handful of
    features)."""
    try:
        sample = np.asarray(x[:1024])
    except (TypeError, ValueError, IndexError):
        return None
    if sample.dtype.kind not in "uif" or sample.ndim < 2 or sample.size == 0 or sample[0].size < 64:
        return None
    low, high = sample.min(), sample.max()
    if not (low >= 0 and 1.5 < high <= 255):
        return None
    fix = ("tensorgrad.data.normalize(x) or x / 255" if sample.dtype.kind in "ui"
           else "x / 255 (tensorgrad.data.normalize(x) for the integer pixels as loaded)")
    return (f"fit: x looks like raw pixels ({sample.dtype}, values {low:g} to {high:g}): a model trained on "
            f"them usually stays at chance accuracy; scale them to [0, 1] first with {fix}")


def fit(
    model: Module,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = 1,
    batch_size: int | None = 32,
    loss_fn: LossFn | None = None,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    scheduler: Any = None,
    shuffle: bool = True,
    seed: int | None = None,
    penalty: Callable[[], Tensor] | None = None,
    progress: bool = True,
    on_epoch_end: Callable[[int, History], None] | None = None,
    start_epoch: int = 0,
    history: History | None = None,
    log: Callable[[str], None] | None = print,
) -> History:
    """Train ``model`` on (x, y) and return the per-epoch history.

    Args:
        model: a Module that maps a batch of inputs to logits.
        optimizer: any ``tg.optim`` optimizer over the model's parameters (L-BFGS gets a closure).
        x: training inputs (a NumPy array).
        y: training targets (a NumPy array).
        epochs: passes over the training set.
        batch_size: examples per step; None for the whole set at once (full-batch gradient descent).
        loss_fn: loss of (logits, targets); default from the targets (see ``default_loss``).
        validation_data: (x_val, y_val), evaluated after every epoch.
        scheduler: a learning-rate scheduler, stepped after every epoch.
        shuffle: reshuffle the training set every epoch.
        seed: makes the run reproducible: epoch e shuffles with, and seeds ``tg.manual_seed``
            (dropout) with, the pair (seed, e) -- so a run resumed at any epoch continues exactly
            as the uninterrupted run would.
        penalty: a function returning an extra term added to every loss (e.g. L2).
        progress: show a tqdm progress bar with the running loss, it/s and ETA.
        on_epoch_end: called as ``on_epoch_end(epoch, history)`` (e.g. to save a checkpoint).
        start_epoch: continue a run that stopped after this many epochs ...
        history: ... with the History it had by then.
        log: where the one-line summary of each epoch goes (None: nowhere).

    Returns:
        A :class:`History` with "loss", "accuracy", "seconds", "lr" and, with validation data,
        "val_loss" and "val_accuracy" per epoch.

    Warns:
        UserWarning: once, when ``x`` looks like raw 0-255 pixels (scale them to [0, 1] first).
    """
    warning = _raw_pixels_warning(x)
    if warning is not None:
        warnings.warn(warning, UserWarning, stacklevel=2)
    loss_fn = loss_fn or default_loss(y)
    loader = DataLoader(x, y, batch_size=batch_size or len(x), shuffle=shuffle, seed=seed)
    history = history or History()
    use_closure = isinstance(optimizer, LBFGS)

    for epoch in range(start_epoch + 1, epochs + 1):
        if seed is not None:  # every epoch's randomness depends on (seed, epoch) only
            manual_seed([seed, epoch])
            loader = DataLoader(x, y, batch_size=batch_size or len(x), shuffle=shuffle, seed=[seed, epoch])
        model.train()
        started = time.perf_counter()
        total_loss, correct, seen = 0.0, 0, 0
        bar = _progress(len(loader), f"epoch {epoch}/{epochs}", progress)
        for step, (xb, yb) in enumerate(loader):
            def closure() -> Tensor:
                optimizer.zero_grad()
                out = model(xb)
                loss = loss_fn(out, yb)
                if penalty is not None:
                    loss = loss + penalty()
                loss.backward()
                closure.logits, closure.loss = out.data, loss  # type: ignore[attr-defined]
                return loss

            if use_closure:
                # L-BFGS evaluates many times and returns the first loss; record the last one, which
                # the accuracy below also comes from (the point where the step ended)
                optimizer.step(closure)
                loss_value = closure.loss.item()  # type: ignore[attr-defined]
            else:
                loss_value = closure().item()
                optimizer.step()
            total_loss += loss_value * len(xb)
            correct += _count_correct(closure.logits, yb)  # type: ignore[attr-defined]
            seen += len(xb)
            if bar is not None:
                bar.update(1)
                if step % 20 == 0:
                    bar.set_postfix(loss=f"{total_loss / seen:.4f}", refresh=False)
        if bar is not None:
            bar.close()

        record = {"loss": total_loss / seen, "accuracy": correct / seen,
                  "lr": optimizer.param_groups[0]["lr"]}
        if validation_data is not None:
            val = evaluate(model, *validation_data, loss_fn=loss_fn)
            record.update(val_loss=val["loss"], val_accuracy=val["accuracy"])
        if scheduler is not None:
            scheduler.step()
        record["seconds"] = time.perf_counter() - started
        history.append(**record)
        if log is not None:
            text = "  ".join(f"{k} {v:.4f}" for k, v in record.items() if k not in ("lr", "seconds"))
            log(f"epoch {epoch}/{epochs}  {text}  ({record['seconds']:.1f} s)")
            if not math.isfinite(record["loss"]):
                log(f"warning: the loss is {record['loss']} after epoch {epoch}: the weights have overflowed "
                    f"(a learning rate too large? lr {record['lr']:g}); tg.detect_anomaly() finds the first op")
        if on_epoch_end is not None:
            on_epoch_end(epoch, history)
    model.eval()
    return history


def _batches(x: np.ndarray, batch_size: int) -> Iterable[np.ndarray]:
    for start in range(0, len(x), batch_size):
        yield x[start:start + batch_size]


def predict_logits(model: Module, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The model's outputs for every input, in eval mode and without a graph."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            outputs = [model(xb).data for xb in _batches(x, batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(outputs) if outputs else np.zeros((0,))


def predict_proba(model: Module, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities: softmax of (N, C) logits, or σ of a binary model's (N, 1) logit."""
    logits = predict_logits(model, x, batch_size)
    if logits.ndim == 2 and logits.shape[1] == 1:
        return 0.5 * (1 + np.tanh(0.5 * logits))
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def predict(model: Module, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Predicted class for every input (0/1 for a binary model)."""
    logits = predict_logits(model, x, batch_size)
    if logits.ndim == 2 and logits.shape[1] == 1:
        return (logits[:, 0] > 0).astype(np.int64)
    return logits.argmax(axis=1)


def evaluate(model: Module, x: np.ndarray, y: np.ndarray, loss_fn: LossFn | None = None,
             batch_size: int = 1000) -> dict[str, float]:
    """Mean loss and accuracy over (x, y), in eval mode (no dropout) and without a graph."""
    loss_fn = loss_fn or default_loss(y)
    logits = predict_logits(model, x, batch_size)
    with no_grad():
        loss = loss_fn(Tensor._from_op(logits, None), y).item()
    return {"loss": loss, "accuracy": _count_correct(logits, y) / max(len(x), 1)}


# --------------------------------------------------------------------------------- checkpoints
def save_training_state(path: Any, model: Module, optimizer: Optimizer | None = None, scheduler: Any = None,
                        epoch: int = 0, history: History | None = None, metadata: dict | None = None) -> None:
    """Write everything needed to resume training to one ``.npz``, atomically (a crash or Ctrl-C
    while saving leaves the previous checkpoint intact): the model's parameters (``model.*``), the
    optimizer's and scheduler's state, the epoch reached and the history."""
    from .checkpoint import flatten_state, save_checkpoint

    arrays = {f"model.{name}": value for name, value in model.state_dict().items()}
    meta: dict[str, Any] = dict(metadata or {}, epoch=epoch, history=(history or History()).history)
    if optimizer is not None:
        optimizer_arrays, meta["optimizer"] = flatten_state("optimizer", optimizer.state_dict())
        arrays.update(optimizer_arrays)
    if scheduler is not None:
        meta["scheduler"] = scheduler.state_dict()
    save_checkpoint(path, arrays, meta)


def load_training_state(path: Any, model: Module, optimizer: Optimizer | None = None,
                        scheduler: Any = None) -> tuple[int, History, dict]:
    """Restore what ``save_training_state`` wrote into the given objects.

    Returns:
        (epoch reached, history, the checkpoint's metadata).
    Raises:
        FileNotFoundError, tensorgrad.training.checkpoint.CheckpointError: a missing or corrupt file.
        RuntimeError: the checkpoint does not fit the model (names every key and shape).
    """
    from .checkpoint import load_checkpoint, unflatten_state

    arrays, meta = load_checkpoint(path)
    model.load_state_dict({k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")})
    if optimizer is not None and "optimizer" in meta:
        optimizer.load_state_dict(unflatten_state(arrays, meta["optimizer"]))
    if scheduler is not None and "scheduler" in meta:
        scheduler.load_state_dict(meta["scheduler"])
    return int(meta.get("epoch", 0)), History(meta.get("history", {})), meta
