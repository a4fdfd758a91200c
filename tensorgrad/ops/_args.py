"""Argument checks that several ops share: axes, (height, width) pairs, floating-point inputs.

Each error names the op and what was wrong, so that a mistake in a model reads as
``sum: axis 2 is out of range for a tensor of shape (2, 3) (axes -2 to 1)``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError, InputTypeError

__all__ = ["normalize_axis", "normalize_axes", "pair", "check_pair", "check_floating"]


def normalize_axis(op: str, axis: int, shape: tuple[int, ...]) -> int:
    """``axis`` (negative counts from the end) as a non-negative axis of ``shape``. A 0-d tensor
    has one axis to name, 0 or -1, as in NumPy's reductions."""
    ndim = max(len(shape), 1)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise InputTypeError(f"{op}: an axis is an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise InputError(f"{op}: axis {axis} is out of range for a tensor of shape {shape} (axes {-ndim} to {ndim - 1})")
    return int(axis) % ndim


def normalize_axes(op: str, axis: int | tuple[int, ...] | None, shape: tuple[int, ...]) -> tuple[int, ...]:
    """``axis`` as a sorted tuple of non-negative axes: None means every axis, an int one, a
    tuple several (NumPy's ``axis=`` of a reduction). A 0-d tensor has no axis to reduce: its
    axis 0 (or -1) gives (), as PyTorch's ``dim=0`` does."""
    if axis is None:
        return tuple(range(len(shape)))
    axes = [normalize_axis(op, ax, shape) for ax in (axis if isinstance(axis, (tuple, list)) else (axis,))]
    if len(set(axes)) != len(axes):
        raise InputError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(axes)) if shape else ()


def pair(value: Any) -> tuple:
    """A (height, width) pair from an int (the same for both) or from a pair."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def check_pair(op: str, what: str, value: Any, minimum: int) -> tuple[int, int]:
    """``pair(value)`` of whole numbers, each at least ``minimum`` (a kernel size, stride, padding)."""
    values = pair(value)
    if len(values) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        raise InputError(f"{op}: {what} must be an int or a pair of ints, got {value!r}")
    if min(values) < minimum:
        raise InputError(f"{op}: {what} must be {'positive' if minimum else 'non-negative'}, got {value!r}")
    return int(values[0]), int(values[1])


def check_floating(op: str, what: str, array: np.ndarray) -> None:
    """Refuse an integer input where the result must be fractional (a loss, an average)."""
    if array.dtype.kind not in "fc":
        raise InputTypeError(f"{op}: {what} must be floating point, got {array.dtype} of shape {array.shape}")
