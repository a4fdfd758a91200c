"""The documents' hand-derived gradients against autograd: run_audit finds each document's mistake."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from tensorgrad.teaching.compare import compare_grads
from tensorgrad.teaching.audit import (
    DOCUMENTS, audit_json, autograd_grads, doc000_against_printed_loss, doc000_printed_loss,
    format_audit, run_audit,
)


@pytest.fixture(scope="module")
def rows():
    return run_audit(seed=0)


def by_doc(rows, document):
    return {r.parameter: r for r in rows if r.document == document}


def test_every_document_is_audited_and_autograd_passes_finite_differences(rows):
    assert {r.document for r in rows} == {"doc000", "doc001", "doc002", "doc003", "doc004"}
    for document in ("doc000", "doc001", "doc002", "doc003", "doc004"):
        assert len(by_doc(rows, document)) == 4
    assert all(r.autograd_vs_fd for r in rows), format_audit(rows)


def test_doc002_first_layer_is_64_times_too_big_second_layer_matches(rows):
    doc = by_doc(rows, "doc002")
    for name in ("W1", "b1"):
        assert doc[name].status == "mismatch"
        assert "x64" in doc[name].diagnosis and "missing" in doc[name].diagnosis
        assert doc[name].max_rel_err == pytest.approx(63)
    assert doc["W2"].status == doc["b2"].status == "match"


def test_doc002_factor_follows_the_batch_size():
    case = replace(DOCUMENTS["doc002"], batch=32).case(np.random.default_rng(1))
    report = case.compare()
    assert report["W1"].factor == pytest.approx(32) and "x32" in report["W1"].diagnosis


def test_doc003_uses_the_tanh_derivative_at_a_sigmoid_layer(rows):
    doc = by_doc(rows, "doc003")
    for name in ("W1", "b1"):
        assert doc[name].status == "mismatch"
        assert doc[name].diagnosis.startswith(
            "uses tanh' written as 1−a² but the layer's activation is sigmoid (whose derivative is σ'(z) = a·(1−a))")
    assert doc["W2"].status == doc["b2"].status == "match"


def test_doc004_matches(rows):
    doc = by_doc(rows, "doc004")
    assert all(r.status == "match" and r.max_rel_err < 1e-10 for r in doc.values())


def test_doc000_matches_the_objective_it_follows_and_notes_the_printed_loss(rows):
    doc = by_doc(rows, "doc000")
    assert all(r.status == "match" for r in doc.values())
    assert all("the loss the document prints leaves the L2 term out" in r.diagnosis for r in doc.values())
    assert "extra L2 term 0.001·w" in doc["w1"].diagnosis


def test_doc000_against_its_printed_loss_has_an_extra_l2_term():
    case = DOCUMENTS["doc000"].case(np.random.default_rng(2))
    printed = autograd_grads(doc000_printed_loss, case.data, case.params)
    report = compare_grads(case.manual, printed, params=case.params, activation_sites=case.activation_sites)
    assert report.mismatches == ["w1", "w2"]
    for name in ("w1", "w2"):
        assert report[name].diagnosis.startswith("extra L2 term 0.001·w in the hand gradient")
        assert report[name].factor == pytest.approx(0.001)
    assert doc000_against_printed_loss(seed=3).mismatches == ["w1", "w2"]


def test_doc001_has_no_hand_derived_gradient(rows):
    doc = by_doc(rows, "doc001")
    assert set(doc) == {"W1", "b1", "W2", "b2"}
    for r in doc.values():
        assert r.status == "no hand-derived gradient" and r.max_rel_err is None and r.autograd_vs_fd


def test_format_and_json(rows):
    table = format_audit(rows)
    assert len(table.splitlines()) == len(rows) + 2 and "doc003" in table
    data = json.loads(audit_json(rows))
    assert len(data) == len(rows)
    assert all(set(d) == {"document", "parameter", "status", "max_rel_err", "diagnosis"} for d in data)
