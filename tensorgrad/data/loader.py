"""Batching and preprocessing: NumPy arrays in, NumPy arrays out."""

from __future__ import annotations

import math
from collections.abc import Iterator
from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

__all__ = ["DataLoader", "normalize", "one_hot", "train_val_split"]


class DataLoader:
    """Iterate over (x, y) in mini-batches, optionally reshuffled every epoch.

    The loader can be iterated any number of times; each pass is one epoch. With
    ``shuffle=True`` every epoch draws a new order from one random generator seeded
    once at construction, so two loaders built with the same seed give the same
    sequence of epochs.

    Args:
        x: inputs; the first axis indexes examples.
        y: targets, as many as ``x`` has examples.
        batch_size: examples per batch (the last batch may be smaller).
        shuffle: visit the examples in a new random order each epoch.
        seed: seed for the shuffling generator; None draws fresh entropy.
        drop_last: skip the last batch if it is smaller than ``batch_size``.

    Raises:
        ValueError: ``batch_size`` is not a positive integer, or ``x`` and ``y``
            differ in length.

    Example:
        >>> for xb, yb in DataLoader(x, y, batch_size=64, shuffle=True, seed=0): ...  # doctest: +SKIP
    """

    def __init__(self, x: ArrayLike, y: ArrayLike, batch_size: int = 32, shuffle: bool = False,
                 seed: int | None = None, drop_last: bool = False) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, "
                             f"got {batch_size!r}")
        self.x = np.asarray(x)
        self.y = np.asarray(y)
        if self.x.ndim == 0 or self.y.ndim == 0 or len(self.x) != len(self.y):
            raise ValueError(f"DataLoader: x and y must have the same length along the first "
                             f"axis, got x of shape {self.x.shape} and y of shape {self.y.shape}")
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        """Number of batches in one epoch."""
        if self.drop_last:
            return len(self.x) // self.batch_size
        return math.ceil(len(self.x) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield one epoch of ``(x_batch, y_batch)`` pairs."""
        count = len(self.x)
        order = self._rng.permutation(count) if self.shuffle else None
        for batch_number in range(len(self)):
            start = batch_number * self.batch_size
            stop = min(start + self.batch_size, count)
            if order is None:
                yield self.x[start:stop], self.y[start:stop]  # views, no copy
            else:
                indices = order[start:stop]
                yield self.x[indices], self.y[indices]

    def __repr__(self) -> str:
        return (f"DataLoader({len(self.x)} examples, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, {len(self)} batches)")


def train_val_split(x: ArrayLike, y: ArrayLike, val_size: int | float = 0.1, *,
                    shuffle: bool = True, seed: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split examples into a training part and a validation part.

    Args:
        x: inputs; the first axis indexes examples.
        y: targets, as many as ``x``.
        val_size: number of validation examples (int), or a fraction of them in
            (0, 1) (float, rounded to the nearest count).
        shuffle: pick the validation examples at random; with False the validation
            set is the last ``val_size`` examples and training the first ones, in order.
        seed: seed for the random choice when ``shuffle`` is True.

    Returns:
        ``(x_train, y_train, x_val, y_val)``.

    Raises:
        ValueError: lengths differ, or ``val_size`` is out of range.

    Example:
        >>> x_tr, y_tr, x_val, y_val = train_val_split(x, y, 10_000, shuffle=False)  # doctest: +SKIP
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
        raise ValueError(f"train_val_split: x and y must have the same length along the first "
                         f"axis, got x of shape {x.shape} and y of shape {y.shape}")
    count = len(x)
    if isinstance(val_size, bool) or not isinstance(val_size, Real):
        raise ValueError(f"train_val_split: val_size must be an int or a float, got {val_size!r}")
    if isinstance(val_size, Integral):
        if not 0 <= val_size <= count:
            raise ValueError(f"train_val_split: val_size={val_size} is out of range "
                             f"for {count} examples (0 to {count})")
        val_count = int(val_size)
    else:
        if not 0.0 < val_size < 1.0:
            raise ValueError(f"train_val_split: a float val_size is a fraction and must be "
                             f"in (0, 1), got {val_size}")
        val_count = round(count * val_size)

    train_count = count - val_count
    if not shuffle:
        return x[:train_count], y[:train_count], x[train_count:], y[train_count:]
    order = np.random.default_rng(seed).permutation(count)
    train_indices, val_indices = order[:train_count], order[train_count:]
    return x[train_indices], y[train_indices], x[val_indices], y[val_indices]


def one_hot(labels: ArrayLike, num_classes: int, *, dtype: DTypeLike = np.float32) -> np.ndarray:
    """Encode integer class labels as one-hot vectors.

    Args:
        labels: integer labels of any shape, each in ``[0, num_classes)``.
        num_classes: length of each one-hot vector.
        dtype: element type of the result (float32 by default).

    Returns:
        An array of shape ``labels.shape + (num_classes,)``.

    Raises:
        TypeError: labels are not integers.
        ValueError: ``num_classes`` < 1 or a label is out of range.

    Example:
        >>> one_hot([0, 2], 3)
        array([[1., 0., 0.],
               [0., 0., 1.]], dtype=float32)
    """
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"one_hot: labels must be integers, got dtype {labels.dtype}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, Integral) or num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be a positive integer, got {num_classes!r}")
    out_of_range = (labels < 0) | (labels >= num_classes)
    if out_of_range.any():
        bad = labels[out_of_range]
        first_index = tuple(int(i) for i in np.argwhere(out_of_range)[0])
        raise ValueError(
            f"one_hot: labels must be in [0, {num_classes}), found {out_of_range.sum()} "
            f"out of range (min {labels.min()}, max {labels.max()}; first: "
            f"{bad[0]} at index {first_index if labels.ndim != 1 else first_index[0]})")
    return np.eye(num_classes, dtype=dtype)[labels]


def normalize(images: ArrayLike, *, flatten: bool = False) -> np.ndarray:
    """Scale integer pixel values 0-255 to float32 in [0, 1], optionally flattening.

    Args:
        images: integer pixel values (uint8 as loaded), first axis indexing images.
        flatten: reshape to (N, pixels per image), e.g. (N, 28, 28) -> (N, 784).

    Returns:
        A new float32 array, ``images / 255``.

    Raises:
        TypeError: the images are not integers (already scaled floats would be
            scaled twice).

    Example:
        >>> x = normalize(split.x_train, flatten=True)  # (60000, 784) float32  # doctest: +SKIP
    """
    images = np.asarray(images)
    if not np.issubdtype(images.dtype, np.integer):
        raise TypeError(f"normalize: expected integer pixel values 0-255 (e.g. uint8), got "
                        f"dtype {images.dtype}; are the images already normalized?")
    scaled = images.astype(np.float32)
    scaled /= 255  # in place: no second full-size temporary
    if flatten:
        scaled = scaled.reshape(len(scaled), -1)
    return scaled
