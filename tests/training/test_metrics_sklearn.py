"""tensorgrad.training.metrics against scikit-learn on random labels: same numbers (to the last bit),
same report text."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from tensorgrad.training import metrics

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def _random_labels(seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Labels with 1-12 classes, some classes missing from y_true or from y_pred, and at least
    one correct prediction (with none, scikit-learn prints supports as floats, "3.0")."""
    rng = np.random.default_rng(seed)
    k, n = int(rng.integers(1, 13)), int(rng.integers(1, 150))
    y_true = rng.integers(0, k, n)
    y_pred = np.where(rng.random(n) < rng.random(), y_true, rng.integers(0, k, n))
    y_pred[0] = y_true[0]
    return y_true, y_pred, int(max(y_true.max(), y_pred.max())) + 1


@pytest.fixture(autouse=True)
def _quiet():
    # scikit-learn warns about 0/0 (UndefinedMetricWarning) where tensorgrad silently gives 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("seed", range(30))
def test_metrics_match_sklearn(seed):
    y_true, y_pred, k = _random_labels(seed)
    labels = list(range(k))
    assert metrics.accuracy(y_true, y_pred) == sklearn_metrics.accuracy_score(y_true, y_pred)
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred),
                                  sklearn_metrics.confusion_matrix(y_true, y_pred, labels=labels))
    ours = metrics.precision_recall_f1(y_true, y_pred)
    theirs = sklearn_metrics.precision_recall_fscore_support(y_true, y_pred, labels=labels)
    for mine, reference in zip(ours, theirs):
        np.testing.assert_array_equal(mine, reference)   # bit for bit, not just close


@pytest.mark.parametrize("seed", range(30))
def test_report_text_and_dict_match_sklearn(seed):
    y_true, y_pred, k = _random_labels(seed)
    digits = 1 + seed % 4
    assert (metrics.classification_report(y_true, y_pred, digits=digits)
            == sklearn_metrics.classification_report(y_true, y_pred, digits=digits))
    assert (metrics.classification_report_dict(y_true, y_pred)
            == sklearn_metrics.classification_report(y_true, y_pred, output_dict=True))
    names = [f"class {i}" for i in range(k)]
    assert (metrics.classification_report(y_true, y_pred, target_names=names)
            == sklearn_metrics.classification_report(y_true, y_pred, labels=list(range(k)),
                                                     target_names=names))


def test_document_001_sized_report_matches_sklearn():
    # 10,000 test digits, about 87% right, as in document 001's printed report
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 10, 10_000)
    y_pred = np.where(rng.random(10_000) < 0.87, y_true, rng.integers(0, 10, 10_000))
    assert (metrics.classification_report(y_true, y_pred)
            == sklearn_metrics.classification_report(y_true, y_pred))
