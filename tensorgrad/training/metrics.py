"""Classification metrics in plain NumPy: accuracy, confusion matrix, precision / recall / F1
and a text report laid out like scikit-learn's ``classification_report`` (document 001 prints
one after ``np.argmax(pred, axis=1)``)::

    from tensorgrad.training.metrics import classification_report
    print(classification_report(test_labels, probabilities.argmax(axis=1)))

Labels are class indices: 1-D arrays (or lists) of non-negative integers, one per sample.
Class ``k`` is row / column / entry ``k`` of every result, so with ``num_classes=None`` the
classes are ``0 .. max(label)``. Probabilities or one-hot rows must go through
``argmax(axis=1)`` first.

Where a ratio is 0/0 (precision of a class never predicted, recall of a class absent from
``y_true``, F1 of a class in neither) the value is 0.0, as scikit-learn's default
``zero_division="warn"`` gives, without the warning.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "accuracy", "confusion_matrix", "precision_recall_f1", "classification_report",
    "classification_report_dict",
]

_HEADERS = ("precision", "recall", "f1-score", "support")


def _as_labels(fn: str, name: str, values: ArrayLike) -> np.ndarray:
    """``values`` as a 1-D int64 array of class indices, or a ValueError naming ``fn``."""
    array = np.asarray(values)
    if array.ndim != 1:
        hint = (" (for probabilities or one-hot rows, pass argmax(axis=1))"
                if array.ndim == 2 else "")
        raise ValueError(f"{fn}: {name} must be a 1-D array of class indices, "
                         f"got shape {array.shape}{hint}")
    if array.dtype == bool:
        return array.astype(np.int64)
    if np.issubdtype(array.dtype, np.floating):
        # Accept 3.0 for 3 (labels often travel as floats), but not 2.5 or nan.
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise ValueError(f"{fn}: {name} must hold integer class indices, got non-integer "
                             f"values in a {array.dtype} array of shape {array.shape}")
        array = array.astype(np.int64)
    elif not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{fn}: {name} must hold integer class indices, got dtype "
                         f"{array.dtype} (shape {array.shape})")
    if array.size and array.min() < 0:
        raise ValueError(f"{fn}: {name} must hold non-negative class indices, got "
                         f"{array.min()} (shape {array.shape})")
    return array.astype(np.int64, copy=False)


def _check_pair(fn: str, y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate both label arrays together: same length, at least one sample."""
    true, pred = _as_labels(fn, "y_true", y_true), _as_labels(fn, "y_pred", y_pred)
    if true.shape != pred.shape:
        raise ValueError(f"{fn}: y_true and y_pred must have the same length, got shapes "
                         f"{true.shape} and {pred.shape}")
    if true.size == 0:
        raise ValueError(f"{fn}: y_true and y_pred are empty (shape {true.shape})")
    return true, pred


def _num_classes(fn: str, true: np.ndarray, pred: np.ndarray, num_classes: int | None) -> int:
    """The number of classes: the one given (checked against the labels), else max label + 1."""
    largest = int(max(true.max(), pred.max()))
    if num_classes is None:
        return largest + 1
    if int(num_classes) != num_classes or num_classes < 1:
        raise ValueError(f"{fn}: num_classes must be a positive integer, got {num_classes!r}")
    if largest >= num_classes:
        raise ValueError(f"{fn}: label {largest} is out of range for num_classes={num_classes} "
                         f"(labels must be 0 .. {int(num_classes) - 1})")
    return int(num_classes)


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` with 0.0 where the denominator is 0 (sklearn's default)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator),
                     where=denominator != 0)


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of samples whose predicted class equals the true class.

    Args:
        y_true: true class indices, shape ``(n,)``.
        y_pred: predicted class indices, shape ``(n,)`` (e.g. ``probs.argmax(axis=1)``).

    Returns:
        A Python float in ``[0, 1]``.

    Raises:
        ValueError: if the lengths differ, the arrays are empty, not 1-D, or the labels are
            negative or not integers.
    """
    true, pred = _check_pair("accuracy", y_true, y_pred)
    return float(np.mean(true == pred))


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike,
                     num_classes: int | None = None) -> np.ndarray:
    """Count matrix ``cm[i, j]`` = number of samples of true class ``i`` predicted as ``j``.

    Rows are true classes and columns predicted classes, as in scikit-learn. The counting is
    one ``np.bincount`` over the flat index ``i * num_classes + j``.

    Args:
        y_true: true class indices, shape ``(n,)``.
        y_pred: predicted class indices, shape ``(n,)``.
        num_classes: size of the matrix; default ``max(y_true, y_pred) + 1``. Every label
            must be below it.

    Returns:
        An int64 array of shape ``(num_classes, num_classes)`` whose entries sum to ``n``.

    Raises:
        ValueError: on mismatched lengths, empty or non-integer / negative labels, or a label
            ``>= num_classes``.
    """
    return _confusion("confusion_matrix", y_true, y_pred, num_classes)


def _confusion(fn: str, y_true: ArrayLike, y_pred: ArrayLike,
               num_classes: int | None) -> np.ndarray:
    """:func:`confusion_matrix`, with errors naming the public function ``fn``."""
    true, pred = _check_pair(fn, y_true, y_pred)
    k = _num_classes(fn, true, pred, num_classes)
    # One pass over the samples: pair (i, j) is bin i*k + j of a k*k histogram.
    counts = np.bincount(true * k + pred, minlength=k * k)
    return counts.reshape(k, k).astype(np.int64, copy=False)


def _scores_from_cm(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 and support from a confusion matrix."""
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)  # column sums: how often each class was predicted
    support = cm.sum(axis=1)    # row sums: how often each class is the true one
    precision = _divide(tp, predicted)
    recall = _divide(tp, support)
    # 2tp / (2tp + fp + fn), which is 2PR / (P + R) without its 0/0 when P = R = 0; this is
    # also the exact expression scikit-learn evaluates, so the floats agree to the last bit.
    f1 = _divide(2.0 * tp, support + predicted)
    return precision, recall, f1, support.astype(np.int64)


def precision_recall_f1(y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 score and support.

    For class ``k``: precision = TP / (TP + FP), recall = TP / (TP + FN),
    F1 = 2·TP / (2·TP + FP + FN) (the harmonic mean of the two), support = number of samples
    whose true class is ``k``. A 0/0 gives 0.0 (a class never predicted has precision 0; a
    class absent from ``y_true`` has recall 0 and support 0), like scikit-learn's
    ``precision_recall_fscore_support(..., average=None)`` without its warning.

    Args:
        y_true: true class indices, shape ``(n,)``.
        y_pred: predicted class indices, shape ``(n,)``.
        num_classes: length of the results; default ``max(y_true, y_pred) + 1``.

    Returns:
        ``(precision, recall, f1, support)``: float64, float64, float64 and int64 arrays of
        shape ``(num_classes,)``, entry ``k`` for class ``k``.
    """
    return _scores_from_cm(_confusion("precision_recall_f1", y_true, y_pred, num_classes))


def _report_rows(fn: str, y_true: ArrayLike, y_pred: ArrayLike,
                 target_names: Sequence[str] | None, num_classes: int | None
                 ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Names and per-class scores of the classes a report shows, plus the accuracy."""
    true, pred = _check_pair(fn, y_true, y_pred)
    if target_names is not None:
        target_names = [str(name) for name in target_names]
        if num_classes is not None and num_classes != len(target_names):
            raise ValueError(f"{fn}: num_classes={num_classes} but {len(target_names)} "
                             f"target_names were given")
        num_classes = len(target_names)
    k = _num_classes(fn, true, pred, num_classes)
    precision, recall, f1, support = _scores_from_cm(_confusion(fn, true, pred, k))
    if target_names is None and num_classes is None:
        # Like scikit-learn's default: show the classes that occur in y_true or y_pred,
        # so a label never used (say 3 in {0, 1, 2, 4}) does not add a row of zeros.
        shown = np.union1d(true, pred)
        names = [str(label) for label in shown]
    else:
        # Names given (or num_classes): class i is row i, used or not, as with
        # scikit-learn's labels=range(num_classes).
        shown = np.arange(k)
        names = target_names if target_names is not None else [str(i) for i in shown]
    acc = float(np.mean(true == pred))
    return names, precision[shown], recall[shown], f1[shown], support[shown], acc


def classification_report_dict(y_true: ArrayLike, y_pred: ArrayLike,
                               target_names: Sequence[str] | None = None,
                               num_classes: int | None = None) -> dict[str, Any]:
    """The numbers of :func:`classification_report`, as a dict (scikit-learn's ``output_dict``).

    Returns:
        ``{name: {"precision", "recall", "f1-score", "support"}}`` for each class shown, then
        ``"accuracy": float``, ``"macro avg": {...}`` (unweighted mean over the classes shown)
        and ``"weighted avg": {...}`` (mean weighted by support). Scores are Python floats,
        supports Python ints.
    """
    return _report_dict("classification_report_dict", y_true, y_pred, target_names, num_classes)


def _report_dict(fn: str, y_true: ArrayLike, y_pred: ArrayLike,
                 target_names: Sequence[str] | None, num_classes: int | None) -> dict[str, Any]:
    """:func:`classification_report_dict`, with errors naming the public function ``fn``."""
    names, precision, recall, f1, support, acc = _report_rows(
        fn, y_true, y_pred, target_names, num_classes)
    report: dict[str, Any] = {}
    for row in zip(names, precision, recall, f1, support):
        report[row[0]] = {"precision": float(row[1]), "recall": float(row[2]),
                          "f1-score": float(row[3]), "support": int(row[4])}
    report["accuracy"] = acc
    total = int(support.sum())
    report["macro avg"] = {"precision": float(np.mean(precision)),
                           "recall": float(np.mean(recall)),
                           "f1-score": float(np.mean(f1)), "support": total}
    report["weighted avg"] = {"precision": float(np.average(precision, weights=support)),
                              "recall": float(np.average(recall, weights=support)),
                              "f1-score": float(np.average(f1, weights=support)),
                              "support": total}
    return report


def classification_report(y_true: ArrayLike, y_pred: ArrayLike,
                          target_names: Sequence[str] | None = None, digits: int = 2,
                          num_classes: int | None = None) -> str:
    """A text report of per-class precision, recall, F1 and support, like scikit-learn's.

    The layout is scikit-learn's character for character: a header line, one line per class,
    then ``accuracy``, ``macro avg`` and ``weighted avg`` lines::

                      precision    recall  f1-score   support

                   0       0.90      0.96      0.93       980
                   ...
            accuracy                           0.87     10000
           macro avg       0.87      0.87      0.87     10000
        weighted avg       0.87      0.87      0.87     10000

    Args:
        y_true: true class indices, shape ``(n,)``.
        y_pred: predicted class indices, shape ``(n,)``.
        target_names: display names; ``target_names[i]`` names class ``i`` and every class
            ``0 .. len(target_names) - 1`` gets a line. Without names (and without
            ``num_classes``) the lines are the classes present in ``y_true`` or ``y_pred``,
            as scikit-learn does.
        digits: decimals of the scores.
        num_classes: show classes ``0 .. num_classes - 1``, used or not.

    Returns:
        The report as one string ending in a newline (print it).
    """
    report = _report_dict("classification_report", y_true, y_pred, target_names, num_classes)
    names = [name for name in report if name not in ("accuracy", "macro avg", "weighted avg")]
    width = max(max(len(name) for name in names), len("weighted avg"), digits)
    lines = ["{:>{width}s} ".format("", width=width)
             + "".join(" {:>9}".format(header) for header in _HEADERS), ""]
    row_format = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}"

    def row(name: str, scores: dict[str, Any]) -> str:
        return row_format.format(name, *(scores[header] for header in _HEADERS),
                                 width=width, digits=digits)

    lines += [row(name, report[name]) for name in names]
    lines.append("")
    # The accuracy line leaves precision and recall blank and puts the accuracy under f1-score.
    lines.append("{:>{width}s} ".format("accuracy", width=width) + " {:>9}".format("") * 2
                 + " {:>9.{digits}f}".format(report["accuracy"], digits=digits)
                 + " {:>9}".format(report["macro avg"]["support"]))
    lines.append(row("macro avg", report["macro avg"]))
    lines.append(row("weighted avg", report["weighted avg"]))
    return "\n".join(lines) + "\n"
