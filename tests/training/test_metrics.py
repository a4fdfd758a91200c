"""tensorgrad.training.metrics on small examples computed by hand (no scikit-learn needed here;
tests/test_metrics_sklearn.py compares with scikit-learn on random data)."""
from __future__ import annotations

import numpy as np
import pytest

from tensorgrad.training.metrics import (
    accuracy, classification_report, classification_report_dict, confusion_matrix,
    precision_recall_f1,
)

# Four classes. Class 1 occurs in y_true but is never predicted (precision 0/0 -> 0);
# class 3 is predicted once but never true (recall 0/0 -> 0, support 0).
Y_TRUE = [0, 0, 0, 1, 1, 2, 2, 2]
Y_PRED = [0, 0, 2, 0, 2, 2, 3, 2]
# rows: true class, columns: predicted class
CM = [[2, 0, 1, 0],
      [1, 0, 1, 0],
      [0, 0, 2, 1],
      [0, 0, 0, 0]]
# TP = diagonal = [2, 0, 2, 0], predicted = column sums = [3, 0, 4, 1],
# support = row sums = [3, 2, 3, 0]
PRECISION = [2 / 3, 0.0, 2 / 4, 0 / 1]
RECALL = [2 / 3, 0 / 2, 2 / 3, 0.0]
F1 = [4 / 6, 0 / 2, 4 / 7, 0 / 1]     # 2·TP / (support + predicted)
SUPPORT = [3, 2, 3, 0]

REPORT = """\
              precision    recall  f1-score   support

           0       0.67      0.67      0.67         3
           1       0.00      0.00      0.00         2
           2       0.50      0.67      0.57         3
           3       0.00      0.00      0.00         0

    accuracy                           0.50         8
   macro avg       0.29      0.33      0.31         8
weighted avg       0.44      0.50      0.46         8
"""


def test_accuracy():
    assert accuracy(Y_TRUE, Y_PRED) == 0.5
    assert accuracy(np.array([3, 1, 2], np.uint8), np.array([3, 1, 2])) == 1.0
    assert isinstance(accuracy([1], [0]), float)


def test_confusion_matrix_rows_are_true_columns_predicted():
    cm = confusion_matrix(Y_TRUE, Y_PRED)
    assert cm.dtype == np.int64 and cm.shape == (4, 4)
    np.testing.assert_array_equal(cm, CM)
    assert cm.sum() == len(Y_TRUE)
    # num_classes pads with classes that never occur
    np.testing.assert_array_equal(confusion_matrix([0, 1], [1, 1], num_classes=3),
                                  [[0, 1, 0], [0, 1, 0], [0, 0, 0]])


def test_precision_recall_f1_zero_division_gives_zero():
    precision, recall, f1, support = precision_recall_f1(Y_TRUE, Y_PRED)
    np.testing.assert_allclose(precision, PRECISION, rtol=1e-15)
    np.testing.assert_allclose(recall, RECALL, rtol=1e-15)
    np.testing.assert_allclose(f1, F1, rtol=1e-15)
    np.testing.assert_array_equal(support, SUPPORT)
    assert support.dtype == np.int64 and precision.dtype == np.float64
    # a class in neither y_true nor y_pred (class 1 here): every score 0, support 0
    precision, recall, f1, support = precision_recall_f1([0, 2], [0, 2], num_classes=4)
    np.testing.assert_array_equal(precision, [1, 0, 1, 0])
    np.testing.assert_array_equal(f1, [1, 0, 1, 0])
    np.testing.assert_array_equal(support, [1, 0, 1, 0])


def test_classification_report_text_is_sklearn_layout():
    assert classification_report(Y_TRUE, Y_PRED) == REPORT


def test_classification_report_digits_and_names():
    report = classification_report([0, 1, 1], [0, 1, 0], target_names=["cero", "uno"], digits=3)
    assert report == """\
              precision    recall  f1-score   support

        cero      0.500     1.000     0.667         1
         uno      1.000     0.500     0.667         2

    accuracy                          0.667         3
   macro avg      0.750     0.750     0.667         3
weighted avg      0.833     0.667     0.667         3
"""
    # a name longer than "weighted avg" widens the first column
    report = classification_report([0, 1], [0, 1], target_names=["a", "a rather long name"])
    assert report.splitlines()[3] == "a rather long name       1.00      1.00      1.00         1"
    assert report.splitlines()[0] == " " * 19 + " precision    recall  f1-score   support"


def test_report_rows_without_names_are_the_labels_present():
    # Label 1 is in neither array: like scikit-learn, no row for it (and not in macro avg)...
    report = classification_report([0, 2, 2], [0, 2, 0])
    assert [line.split()[0] for line in report.splitlines()[2:4]] == ["0", "2"]
    assert classification_report_dict([0, 2, 2], [0, 2, 0])["macro avg"]["recall"] == 0.75
    # ...but with target_names (or num_classes) every class 0..K-1 gets a row.
    names = classification_report_dict([0, 2, 2], [0, 2, 0], target_names=["a", "b", "c"])
    assert list(names)[:3] == ["a", "b", "c"] and names["b"]["support"] == 0
    assert names["macro avg"]["recall"] == 0.5
    assert list(classification_report_dict([0], [0], num_classes=2))[:2] == ["0", "1"]


def test_classification_report_dict_numbers():
    report = classification_report_dict(Y_TRUE, Y_PRED)
    assert list(report) == ["0", "1", "2", "3", "accuracy", "macro avg", "weighted avg"]
    for k in range(4):
        assert report[str(k)] == pytest.approx({"precision": PRECISION[k], "recall": RECALL[k],
                                                "f1-score": F1[k], "support": SUPPORT[k]})
    assert report["accuracy"] == 0.5
    assert report["macro avg"] == pytest.approx(
        {"precision": 7 / 24, "recall": 1 / 3, "f1-score": 13 / 42, "support": 8})
    assert report["weighted avg"] == pytest.approx(
        {"precision": 3.5 / 8, "recall": 0.5, "f1-score": 13 / 28, "support": 8})
    assert isinstance(report["0"]["support"], int) and isinstance(report["0"]["recall"], float)


def test_labels_may_be_integral_floats_or_bools():
    np.testing.assert_array_equal(confusion_matrix([0.0, 1.0], np.array([True, True])),
                                  [[0, 1], [0, 1]])


@pytest.mark.parametrize("fn", [accuracy, confusion_matrix, precision_recall_f1,
                                classification_report, classification_report_dict])
def test_length_mismatch_names_function_and_shapes(fn):
    with pytest.raises(ValueError, match=rf"^{fn.__name__}: y_true and y_pred must have the same "
                                         rf"length, got shapes \(5,\) and \(4,\)$"):
        fn([0, 1, 2, 0, 1], [0, 1, 2, 0])


@pytest.mark.parametrize("fn", [accuracy, confusion_matrix, classification_report])
def test_bad_labels_are_rejected_by_name(fn):
    name = fn.__name__
    with pytest.raises(ValueError, match=rf"^{name}: y_pred must hold non-negative class "
                                         rf"indices, got -1 \(shape \(3,\)\)"):
        fn([0, 1, 1], [0, -1, 1])
    with pytest.raises(ValueError, match=rf"^{name}: y_true must hold integer class indices, "
                                         rf"got non-integer values in a float64 array"):
        fn([0.5, 1.0], [0, 1])
    with pytest.raises(ValueError, match=rf"^{name}: y_true must hold integer class indices, "
                                         rf"got dtype <U3"):
        fn(["cat", "dog"], [0, 1])
    with pytest.raises(ValueError, match=rf"^{name}: y_pred must be a 1-D array of class "
                                         rf"indices, got shape \(2, 3\) \(for probabilities or "
                                         rf"one-hot rows, pass argmax\(axis=1\)\)"):
        fn([0, 1], np.zeros((2, 3)))
    with pytest.raises(ValueError, match=rf"^{name}: y_true and y_pred are empty"):
        fn([], [])


def test_num_classes_must_cover_the_labels():
    with pytest.raises(ValueError, match=r"^confusion_matrix: label 3 is out of range for "
                                         r"num_classes=3 \(labels must be 0 \.\. 2\)"):
        confusion_matrix([0, 3], [0, 1], num_classes=3)
    with pytest.raises(ValueError, match=r"^classification_report: label 2 is out of range "
                                         r"for num_classes=2"):
        classification_report([0, 2], [0, 1], target_names=["a", "b"])
    with pytest.raises(ValueError, match=r"num_classes=3 but 2 target_names"):
        classification_report_dict([0, 1], [0, 1], target_names=["a", "b"], num_classes=3)
