"""compare_grads: lines up hand-derived gradients with autograd's and names the usual mistakes."""
from __future__ import annotations

import json

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.teaching.compare import ActivationSite, GradReport, compare_grads


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def one(report: GradReport, name: str = "W"):
    return report[name]


# ---------------------------------------------------------------------------- matches and layout
def test_identical_gradients_match_and_the_report_is_truthy(rng):
    g = rng.standard_normal((4, 5))
    report = compare_grads({"W": g.copy()}, {"W": g})
    assert report.ok and bool(report) and report.mismatches == []
    row = one(report)
    assert (row.status, row.max_abs_err, row.max_rel_err, row.diagnosis) == ("match", 0.0, 0.0, "")


def test_rounding_error_is_within_rtol(rng):
    g = rng.standard_normal((4, 5))
    assert compare_grads({"W": g * (1 + 1e-9)}, {"W": g})


def test_a_bias_column_against_a_row_is_reshaped_and_says_so(rng):
    g = rng.standard_normal(128)
    report = compare_grads({"b1": g.reshape(128, 1)}, {"b1": g})
    row = report["b1"]
    assert row.status == "match" and row.shape == (128,)
    assert "manual (128, 1) reshaped to (128,)" in row.diagnosis


def test_a_reshaped_bias_keeps_its_diagnosis(rng):
    g = rng.standard_normal(16)
    row = compare_grads({"b1": 64 * g.reshape(16, 1)}, {"b1": g})["b1"]
    assert row.status == "mismatch"
    assert "x64" in row.diagnosis and "reshaped to (16,)" in row.diagnosis
    assert row.factor == pytest.approx(64)


def test_sizes_that_differ_are_a_shape_mismatch_not_a_crash(rng):
    row = compare_grads({"W": np.ones((3, 4))}, {"W": np.ones((3, 5))})["W"]
    assert row.status == "mismatch" and "shape mismatch" in row.diagnosis


# ---------------------------------------------------------------------------- (a) scale, (b) sign, (c) transpose
def test_scale_64_is_a_missing_division_by_the_batch_size(rng):
    g = rng.standard_normal((10, 20))
    report = compare_grads({"W": 64 * g}, {"W": g})
    row = one(report)
    assert not report and report.mismatches == ["W"]
    assert row.status == "mismatch" and row.max_rel_err == pytest.approx(63)
    assert row.factor == pytest.approx(64)
    assert "constant scale factor: manual ≈ 64·autograd" in row.diagnosis
    assert "x64: a missing or extra 1/batch?" in row.diagnosis and "missing:" in row.diagnosis


def test_scale_one_32nd_is_an_extra_division_by_the_batch_size(rng):
    g = rng.standard_normal((10, 20))
    row = one(compare_grads({"W": g / 32}, {"W": g}))
    assert row.factor == pytest.approx(1 / 32)
    assert "manual ≈ 0.03125·autograd" in row.diagnosis
    assert "x1/32: a missing or extra 1/batch?" in row.diagnosis and "extra:" in row.diagnosis


def test_a_non_integer_scale_is_reported_without_a_batch_hint(rng):
    g = rng.standard_normal((10, 20))
    row = one(compare_grads({"W": 2.5 * g}, {"W": g}))
    assert row.factor == pytest.approx(2.5)
    assert "manual ≈ 2.5·autograd" in row.diagnosis and "batch" not in row.diagnosis


def test_sign_flip(rng):
    g = rng.standard_normal((10, 20))
    row = one(compare_grads({"W": -g}, {"W": g}))
    assert row.factor == -1.0 and row.diagnosis.startswith("sign flip: manual ≈ −1·autograd")


def test_transposed_shape_is_a_transpose_mismatch(rng):
    g = rng.standard_normal((5, 3))
    row = one(compare_grads({"W": g.T.copy()}, {"W": g}))
    assert row.status == "mismatch" and row.diagnosis.startswith("transpose: manual.T ≈ autograd")


def test_transpose_of_a_square_gradient(rng):
    g = rng.standard_normal((6, 6))
    row = one(compare_grads({"W": g.T.copy()}, {"W": g}))
    assert row.status == "mismatch" and row.diagnosis.startswith("transpose: manual.T ≈ autograd")


# ---------------------------------------------------------------------------- (d) L2 term
def test_extra_l2_term_in_the_hand_gradient(rng):
    w, g = rng.standard_normal((8, 6)), rng.standard_normal((8, 6))
    row = one(compare_grads({"W": g + 0.01 * w}, {"W": g}, params={"W": w}))
    assert row.factor == pytest.approx(0.01)
    assert row.diagnosis == "extra L2 term 0.01·w in the hand gradient (or missing from the loss)"


def test_missing_l2_term_in_the_hand_gradient(rng):
    w, g = rng.standard_normal((8, 6)), rng.standard_normal((8, 6))
    row = one(compare_grads({"W": g - 0.003 * w}, {"W": g}, params={"W": tg.tensor(w)}))
    assert row.factor == pytest.approx(-0.003)
    assert row.diagnosis.startswith("missing L2 term 0.003·w in the hand gradient")


def test_without_params_an_l2_term_is_no_simple_pattern(rng):
    w, g = rng.standard_normal((8, 6)), rng.standard_normal((8, 6))
    row = one(compare_grads({"W": g + 0.01 * w}, {"W": g}))
    assert row.diagnosis.startswith("no simple pattern")


# ---------------------------------------------------------------------------- (e) activation derivative
def hidden_layer(rng, activation):
    """z = W1 @ X + b1, a = act(z), then L = mean over samples of Σ R·(W2 @ a): autograd's grads of
    W1, b1 and the pieces an ActivationSite needs (upstream W2.T @ R, to_param_grads with 1/m)."""
    n_in, n_h, n_out, m = 6, 5, 3, 7
    X, R = rng.standard_normal((n_in, m)), rng.standard_normal((n_out, m))
    W1, b1, W2 = rng.standard_normal((n_h, n_in)), rng.standard_normal((n_h, 1)), rng.standard_normal((n_out, n_h))
    tW1, tb1 = tg.tensor(W1, requires_grad=True), tg.tensor(b1, requires_grad=True)
    z_t = tW1 @ tg.tensor(X) + tb1
    a_t = z_t.sigmoid() if activation == "sigmoid" else z_t.relu()
    ((tg.tensor(W2) @ a_t) * R).sum().__truediv__(m).backward()
    z, a = z_t.data, a_t.data
    upstream = W2.T @ R
    site = ActivationSite("hidden", activation, z, a, upstream,
                          lambda dz: {"W1": dz @ X.T / m, "b1": dz.sum(axis=1, keepdims=True) / m})

    def manual(derivative):
        dz = upstream * derivative
        return {"W1": dz @ X.T / m, "b1": dz.sum(axis=1, keepdims=True) / m}

    return {"W1": tW1, "b1": tb1}, site, manual, z, a


def test_the_true_activation_derivative_matches(rng):
    auto, site, manual, z, a = hidden_layer(rng, "sigmoid")
    assert compare_grads(manual(a * (1 - a)), auto, activation_sites=[site])


def test_tanh_style_derivative_at_a_sigmoid_layer(rng):
    auto, site, manual, z, a = hidden_layer(rng, "sigmoid")
    report = compare_grads(manual(1 - a ** 2), auto, activation_sites=[site])
    assert report.mismatches == ["W1", "b1"]
    for name in ("W1", "b1"):
        assert report[name].diagnosis.startswith(
            "uses tanh' written as 1−a² but the layer's activation is sigmoid (whose derivative is σ'(z) = a·(1−a))")


def test_sigmoid_style_derivative_at_a_relu_layer(rng):
    auto, site, manual, z, a = hidden_layer(rng, "relu")
    report = compare_grads(manual(a * (1 - a)), auto, activation_sites=[site])
    assert report["W1"].diagnosis.startswith(
        "uses σ'(z) = a·(1−a) but the layer's activation is relu (whose derivative is ReLU' = [z>0])")


def test_tanh_of_z_at_a_sigmoid_layer(rng):
    auto, site, manual, z, a = hidden_layer(rng, "sigmoid")
    row = compare_grads(manual(1 - np.tanh(z) ** 2), auto, activation_sites=[site])["W1"]
    assert row.diagnosis.startswith("uses tanh'(z) = 1−tanh(z)² but the layer's activation is sigmoid")


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="unknown activation"):
        ActivationSite("h", "swish", np.zeros(2), np.zeros(2), np.zeros(2), lambda dz: {})


# ---------------------------------------------------------------------------- (f), tensors, missing names
def test_an_unrelated_error_has_no_simple_pattern(rng):
    g = rng.standard_normal((10, 20))
    auto, site, manual, z, a = hidden_layer(rng, "sigmoid")
    row = compare_grads({"W": g + rng.standard_normal(g.shape)}, {"W": g}, params={"W": g},
                        activation_sites=[site])["W"]
    assert row.status == "mismatch" and row.factor is None
    assert row.diagnosis.startswith("no simple pattern (max rel error ") and f"{row.max_rel_err:.3g}" in row.diagnosis


def test_a_tensor_value_means_its_grad(rng):
    w = tg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    (w * w).sum().backward()
    assert compare_grads({"w": 2 * w.data}, {"w": w})
    manual = tg.tensor(np.zeros((3, 4)), requires_grad=True)
    manual.grad = 2 * w.data
    assert compare_grads({"w": manual}, {"w": w})
    assert "64" in compare_grads({"w": 128 * w.data}, {"w": w})["w"].diagnosis


def test_names_in_only_one_mapping_are_reported(rng):
    g = rng.standard_normal(3)
    report = compare_grads({"W": g, "extra": g}, {"W": g, "other": g})
    assert not report.ok and report.mismatches == [] and report.missing == ["extra", "other"]
    assert report["extra"].diagnosis == "missing in autograd"
    assert report["other"].diagnosis == "missing in manual"
    assert report["W"].status == "match"


def test_str_is_an_aligned_table_and_to_dict_is_json(rng):
    g = rng.standard_normal((4, 4))
    report = compare_grads({"W1": 64 * g, "b1": g[:, :1], "c": g}, {"W1": g, "b1": g[:, 0]})
    lines = str(report).splitlines()
    assert lines[1].split() == ["name", "shape", "max", "abs", "err", "max", "rel", "err", "status", "diagnosis"]
    status_col = lines[1].index("status")
    assert set(lines[2]) == {"-", " "}
    assert [line[status_col:].split()[0] for line in lines[3:]] == ["mismatch", "match", "missing"]
    assert [line.split()[0] for line in lines[3:]] == ["W1", "b1", "c"]
    d = json.loads(json.dumps(report.to_dict()))
    assert d["ok"] is False and d["mismatches"] == ["W1"] and d["missing"] == ["c"]
    assert d["rows"][0]["factor"] == pytest.approx(64) and d["rows"][2]["max_rel_err"] is None
