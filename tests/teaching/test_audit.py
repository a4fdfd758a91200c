"""The documents' hand-derived gradients against autograd: run_audit finds each document's mistake."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from tensorgrad.teaching.compare import compare_grads
from tensorgrad.teaching import audit
from tensorgrad.teaching.audit import (
    DOCUMENTS, QUOTES, audit_json, autograd_grads, doc000_against_printed_loss, doc000_printed_loss,
    format_audit, format_findings, format_report, run_audit, spanish_diagnosis,
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
    assert all(set(d) == {"document", "parameter", "status", "max_rel_err", "diagnosis", "quote"} for d in data)


# ---------------------------------------------------------------------------- the documents' own lines
def test_each_finding_quotes_the_line_of_the_document_that_holds_it(rows):
    doc002, doc003 = by_doc(rows, "doc002"), by_doc(rows, "doc003")
    assert doc002["W1"].quote.line == "dw1 = dz1 @ x"
    assert doc002["b1"].quote.line == "db1 = np.sum(dz1, axis=1, keepdims=True)"
    for name in ("W1", "b1"):
        assert doc003[name].quote.line == "dZ1 = np.dot(params['W2'].T, dZ2)*(1-np.power(activations['A1'], 2))"
        assert doc003[name].quote.where == "In [12], backward_propagation()"
    doc000 = by_doc(rows, "doc000")
    assert doc000["w1"].quote.line == "Dw1 = d_h.T @ X / len(X) + self.reg * self.w1"
    assert doc000["b1"].quote.line == "loss = -np.mean(np.sum(Y * np.log(f + 1e-8), axis=1))"
    assert all(r.quote.document == "doc001" for r in by_doc(rows, "doc001").values())
    # nothing to quote where the hand gradient is right and there is nothing to say
    assert doc002["W2"].quote is doc003["b2"].quote is None
    assert all(r.quote is None for r in by_doc(rows, "doc004").values())
    for quote in QUOTES:
        assert quote.source == DOCUMENTS[quote.document].source and quote.line == quote.line.strip()
        assert quote.shows and quote.shows_es and quote.shows != quote.shows_es


@pytest.mark.parametrize("quote, rewritten", [
    (audit.DOC000_DW1, audit.doc000_backward), (audit.DOC000_DW2, audit.doc000_backward),
    (audit.DOC000_LOSS, audit.doc000_printed_loss), (audit.DOC002_DW1, audit.doc002_backward),
    (audit.DOC002_DB1, audit.doc002_backward), (audit.DOC003_DZ1, audit.doc003_backward),
])
def test_the_quoted_line_is_the_one_the_rewritten_backward_follows(quote, rewritten):
    import inspect

    def squeeze(code):  # spaces and the class's self. aside
        return "".join(code.replace("self.", "").split())

    assert squeeze(quote.line) in squeeze(inspect.getsource(rewritten))


def test_findings_print_each_quoted_line_under_its_document(rows):
    text = format_findings(rows)
    assert text.startswith("What the audit finds, in the documents' own lines:")
    assert "doc002  002_cfa10fcf953ac712.txt, backward()  [W1]\n    dw1 = dz1 @ x\n  no / batch_size" in text
    assert "    dZ1 = np.dot(params['W2'].T, dZ2)*(1-np.power(activations['A1'], 2))" in text
    assert "[W1, b1]" in text and "doc004" not in text
    assert all(text.count(q.line) == 1 for q in QUOTES)
    assert format_report(rows) == format_audit(rows) + "\n\n" + text


def test_json_carries_the_quote(rows):
    data = {(d["document"], d["parameter"]): d for d in json.loads(audit_json(rows))}
    assert data["doc002", "W1"]["quote"] == {
        "source": "002_cfa10fcf953ac712.txt", "where": "backward()", "line": "dw1 = dz1 @ x",
        "shows": audit.DOC002_DW1.shows}
    assert data["doc004", "W1"]["quote"] is None
    spanish = {(d["document"], d["parameter"]): d for d in json.loads(audit_json(rows, lang="es"))}
    assert spanish["doc002", "W1"]["status"] == "mismatch"  # the codes stay: a program reads them
    assert spanish["doc002", "W1"]["quote"]["shows"] == audit.DOC002_DW1.shows_es
    assert spanish["doc002", "W1"]["diagnosis"].startswith("factor de escala constante")


# ---------------------------------------------------------------------------- in Spanish
def test_the_table_and_the_findings_in_spanish(rows):
    table = format_audit(rows, lang="es")
    head = table.splitlines()[0].split()
    assert head[:3] == ["documento", "parámetro", "estado"] and "diagnóstico" in head
    for word in ("coincide", "no coincide", "sin gradiente a mano", "correcto"):
        assert word in table
    for english in ("mismatch", " match ", "no hand-derived", "diagnosis", "hand gradient", "Keras model"):
        assert english not in table
    findings = format_findings(rows, lang="es")
    assert findings.startswith("Lo que encuentra la auditoría, en las líneas de los propios documentos:")
    assert "    dw1 = dz1 @ x\n  le falta el / batch_size que sí tiene dw2" in findings
    assert "1 − A1² es la derivada de tanh, pero la capa oculta es A1 = sigmoid(Z1)" in findings
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        format_audit(rows, lang="fr")


def test_every_diagnosis_of_the_audit_is_in_spanish(rows):
    doc002, doc003 = by_doc(rows, "doc002"), by_doc(rows, "doc003")
    assert doc002["W1"].diagnosis_es == (
        "factor de escala constante: manual ≈ 64·autograd (x64: ¿falta o sobra dividir entre el lote? "
        "Aquí falta: el gradiente calculado a mano es 64 veces más grande, como si se hubiera olvidado "
        "dividir entre un tamaño de lote de 64)")
    assert doc003["W1"].diagnosis_es == (
        "usa la derivada de tanh escrita como 1−a², pero la activación de la capa es la sigmoide "
        "(cuya derivada es σ'(z) = a·(1−a)) en la capa oculta")
    assert by_doc(rows, "doc000")["w1"].diagnosis_es.startswith(
        "gradiente de la entropía cruzada media + reg/2·Σw²; la pérdida que imprime el documento deja fuera "
        "el término L2 (frente a ella: el gradiente calculado a mano tiene un término L2 de más, 0.001·w")
    for r in rows:
        assert bool(r.diagnosis) == bool(r.diagnosis_es)
        assert r.diagnosis_es == "" or r.diagnosis_es != r.diagnosis


ENGLISH = ("sign flip", "transpose", "L2 term", "all zeros", "no simple pattern", "shape mismatch",
           "reshaped", "compared transposed", "constant scale", "missing", "extra", "hand gradient", "uses ")


def test_spanish_covers_every_diagnosis_compare_grads_makes():
    """Each kind of diagnosis, made by compare_grads itself (so a change of its English shows here)."""
    rng = np.random.default_rng(0)
    g = rng.standard_normal((4, 4))
    p = rng.standard_normal((4, 4))
    col = rng.standard_normal(3)
    cases = {"sign": -g, "transpose": g.T, "missing_l2": g - 0.01 * p, "extra_l2": g + 0.01 * p,
             "zeros": np.zeros_like(g), "too_small": g / 32, "scale": 2.5 * g,
             "no_pattern": rng.standard_normal((4, 4)), "shape": np.ones(5), "column": -col.reshape(3, 1)}
    autograd = {name: (col if name == "column" else g) for name in cases}
    params = {name: p for name in cases if name != "column"}
    report = compare_grads(cases, autograd, params=params)
    assert report.mismatches == list(cases)
    for row in report.rows:
        spanish = spanish_diagnosis(row.diagnosis)
        assert not [word for word in ENGLISH if word in spanish], (row.diagnosis, spanish)
    assert spanish_diagnosis(report["column"].diagnosis) == (
        "signo invertido: manual ≈ −1·autograd (p. ej., y − ŷ escrito en lugar de ŷ − y); "
        "manual (3, 1) redimensionado a (3,)")
    assert spanish_diagnosis(report["too_small"].diagnosis).startswith(
        "factor de escala constante: manual ≈ 0.03125·autograd (x1/32: ¿falta o sobra dividir entre el lote? "
        "Aquí sobra")
    assert spanish_diagnosis("") == "" and spanish_diagnosis("something new") == "something new"


def test_spanish_diagnosis_translates_the_key_note_and_the_activation_itself():
    from tensorgrad.teaching.audit import spanish_diagnosis
    text = spanish_diagnosis("uses the activation's value a itself (f(z) where f'(z) belongs) but the layer's "
                             "activation is sigmoid (whose derivative is σ'(z) = a·(1−a)) at site 'A1'; "
                             "manual key 'dW1' matched to W1")
    assert text == ("usa el propio valor de la activación, a (f(z) donde va f'(z)), pero la activación de la capa es "
                    "la sigmoide (cuya derivada es σ'(z) = a·(1−a)) en la capa 'A1'; la clave manual 'dW1' se "
                    "empareja con W1")
