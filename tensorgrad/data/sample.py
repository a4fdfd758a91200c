"""The small MNIST subset that ships inside the package, and class-balanced sampling.

``mnist_sample.npz`` next to this module holds 10,000 training and 2,000 test images
drawn from MNIST, the same number of each digit; ``tools/make_sample.py`` rebuilds it
and ``SAMPLE_LICENSE.md`` gives its origin and licence.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
from numpy.typing import ArrayLike

from .datasets import Split

__all__ = ["SAMPLE_FILE", "class_balanced_indices", "load_mnist_sample"]

SAMPLE_FILE = "mnist_sample.npz"


def load_mnist_sample() -> Split:
    """Load the MNIST subset bundled with tensorgrad; needs no files or network.

    The subset has 1,000 training and 200 test images of each digit, in a shuffled
    order (see ``SAMPLE_LICENSE.md`` in this package for how it was drawn).

    Returns:
        A ``Split``: uint8 images (10000, 28, 28) and (2000, 28, 28), int64 labels 0-9.

    Example:
        >>> x_train, y_train, x_test, y_test = load_mnist_sample()
        >>> x_train.shape, x_test.shape
        ((10000, 28, 28), (2000, 28, 28))
    """
    # importlib.resources finds the file inside an installed wheel or zip as well.
    with resources.files(__package__).joinpath(SAMPLE_FILE).open("rb") as file:
        with np.load(file) as arrays:
            return Split(
                x_train=arrays["x_train"],
                y_train=arrays["y_train"].astype(np.int64),
                x_test=arrays["x_test"],
                y_test=arrays["y_test"].astype(np.int64),
            )


def class_balanced_indices(labels: ArrayLike, per_class: int, *, seed: int | None = None,
                           shuffle: bool = True) -> np.ndarray:
    """Choose the same number of examples of every class, at random without replacement.

    Args:
        labels: integer class labels, one per example.
        per_class: how many examples to take from each class present in ``labels``.
        seed: seed of the random choice; the same seed gives the same indices.
        shuffle: mix the classes in the result; with False the indices are sorted.

    Returns:
        int64 indices into ``labels``, ``per_class`` times the number of classes.

    Raises:
        ValueError: labels are not 1-D, ``per_class`` < 1, or a class has fewer than
            ``per_class`` examples (the message names the class and its count).

    Example:
        >>> class_balanced_indices([0, 1, 0, 1, 1], per_class=2, seed=0).size
        4
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"class_balanced_indices: labels must be 1-D, got shape {labels.shape}")
    if per_class < 1:
        raise ValueError(f"class_balanced_indices: per_class must be at least 1, got {per_class}")
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):  # a loop over classes, not examples
        members = np.flatnonzero(labels == label)
        if members.size < per_class:
            raise ValueError(f"class_balanced_indices: class {label} has only {members.size} "
                             f"examples, fewer than per_class={per_class}")
        chosen.append(rng.choice(members, size=per_class, replace=False))
    indices = np.concatenate([np.empty(0, dtype=np.int64), *chosen]).astype(np.int64)
    return rng.permutation(indices) if shuffle else np.sort(indices)
