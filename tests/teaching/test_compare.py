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


# ============================================================================ a 2-layer MLP, by hand and by autograd
# x (N, D) -> h = act(x @ W1.T + b1) -> logits = h @ W2.T + b2 -> mean cross-entropy, at the course's
# sizes. ``backward(...)`` is the hand-written backward pass, with switches for the usual mistakes.
ACTIVATIONS = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}
DERIVATIVES = {"sigmoid": lambda z, a: a * (1 - a), "tanh": lambda z, a: 1 - a ** 2,
               "relu": lambda z, a: (z > 0).astype(a.dtype)}


class MLP:
    def __init__(self, activation="sigmoid", dtype=np.float64, sizes=(64, 784, 128, 10), fused=False,
                 retain_graph=True, seed=0, name_h=False):
        N, D, H, C = sizes
        rng = np.random.default_rng(seed)
        self.activation, self.N = activation, N
        self.x = rng.random((N, D)).astype(dtype)
        self.Y = np.eye(C, dtype=dtype)[rng.integers(0, C, N)]
        self.p = {"W1": (rng.standard_normal((H, D)) * np.sqrt(2 / D)).astype(dtype),
                  "b1": (0.1 * rng.standard_normal(H)).astype(dtype),
                  "W2": (rng.standard_normal((C, H)) * np.sqrt(2 / H)).astype(dtype),
                  "b2": (0.1 * rng.standard_normal(C)).astype(dtype)}
        self.t = {k: tg.tensor(v, requires_grad=True) for k, v in self.p.items()}
        if fused:
            h = tg.nn.functional.linear(tg.tensor(self.x), self.t["W1"], self.t["b1"], activation=activation)
        else:
            h = getattr(tg.tensor(self.x) @ self.t["W1"].T + self.t["b1"], activation)()
        if name_h:
            h.name = "h"
        logits = h @ self.t["W2"].T + self.t["b2"]
        self.loss = -(logits.log_softmax(axis=1) * self.Y).sum(axis=1).mean()
        self.retain_graph = retain_graph

    def run_backward(self):
        self.loss.backward(retain_graph=self.retain_graph)
        return self

    def backward(self, derivative=None, sum_b1=True, output_scale=1.0, W2_scale=1.0, keep_dh=False):
        """The hand-written backward: ``derivative(z, a)`` at the hidden layer (the right one by
        default), ``sum_b1=False`` forgets the bias sum, ``output_scale`` multiplies dlogits."""
        x, p = self.x, self.p
        z = x @ p["W1"].T + p["b1"]
        a = ACTIVATIONS[self.activation](z)
        logits = a @ p["W2"].T + p["b2"]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        dlogits = (e / e.sum(axis=1, keepdims=True) - self.Y) / self.N * output_scale
        dh = dlogits @ p["W2"]
        dz = dh * (derivative or DERIVATIVES[self.activation])(z, a)
        grads = {"W1": dz.T @ x, "b1": dz.sum(axis=0) if sum_b1 else dz,
                 "W2": dlogits.T @ a * W2_scale, "b2": dlogits.sum(axis=0) * W2_scale}
        return {**grads, "h": dh} if keep_dh else grads


@pytest.fixture(scope="module")
def mlp():
    return MLP().run_backward()


# ---------------------------------------------------------------------------- 1. the bias sum over the batch
def test_a_bias_gradient_not_summed_over_the_batch_says_which_sum_is_missing(mlp):
    row = compare_grads(mlp.backward(sum_b1=False), mlp.t)["b1"]
    assert row.status == "mismatch" and row.shape == (128,)
    assert row.diagnosis == ("sum over the batch missing: manual is (64, 128) and Σ over axis 0 gives "
                             "autograd's (128,) (add .sum(axis=0))")
    assert row.max_rel_err < 1e-12  # the errors are those of the summed gradient


def test_a_missing_batch_sum_in_the_class_first_layout_asks_for_keepdims(rng):
    dz = rng.standard_normal((16, 64))  # (units, samples), bias (16, 1)
    row = compare_grads({"b1": dz}, {"b1": dz.sum(axis=1, keepdims=True)})["b1"]
    assert row.diagnosis.startswith("sum over the batch missing: manual is (16, 64) and Σ over axis 1 gives "
                                    "autograd's (16, 1) (add .sum(axis=1, keepdims=True))")


def test_a_missing_batch_sum_and_a_wrong_scale_are_both_named(rng):
    dz = rng.standard_normal((64, 16))
    row = compare_grads({"b1": dz / 64}, {"b1": dz.sum(axis=0)})["b1"]
    first, second = row.diagnosis.split("; ")
    assert first.startswith("sum over the batch missing: manual is (64, 16)")
    assert second.startswith("constant scale factor: manual ≈ 0.015625·autograd (x1/64")
    assert row.factor == pytest.approx(1 / 64)


def test_a_bias_summed_over_the_wrong_axis_names_both_axes(mlp):
    manual = mlp.backward(sum_b1=False)
    dz = manual["b1"]
    for wrong in (dz.sum(axis=1), dz.sum(axis=1, keepdims=True)):
        row = compare_grads({**manual, "b1": wrong}, mlp.t)["b1"]
        assert row.status == "mismatch" and row.factor is None
        assert row.diagnosis == (f"summed over the wrong axis: manual {wrong.shape} is a (64, 128) dz summed over "
                                 "axis 1 (the 128 units), but a bias gradient sums over the batch: .sum(axis=0) "
                                 "over the 64 samples gives autograd's (128,)")


def test_the_wrong_axis_in_the_class_first_layout(rng):
    dz = rng.standard_normal((16, 64))  # (units, samples), bias (16, 1)
    row = compare_grads({"b1": dz.sum(axis=0, keepdims=True)}, {"b1": dz.sum(axis=1, keepdims=True)})["b1"]
    assert row.diagnosis.startswith("summed over the wrong axis: manual (1, 64) is a (16, 64) dz summed over axis 0")
    assert ".sum(axis=1, keepdims=True) over the 64 samples gives autograd's (16, 1)" in row.diagnosis


def test_unrelated_one_axis_shapes_stay_a_shape_mismatch(rng):
    row = compare_grads({"b": rng.standard_normal(5) + 3}, {"b": rng.standard_normal(7)})["b"]
    assert row.diagnosis == "shape mismatch: manual (5,) vs autograd (7,)"


# ---------------------------------------------------------------------------- 2. gradient keys: dW1 for W1
def test_gradient_keys_are_matched_to_the_parameter_names(mlp):
    grads = mlp.backward()
    manual = {"dW1": grads["W1"], "d_b1": grads["b1"], "grad_W2": grads["W2"], "b2_grad": grads["b2"]}
    report = compare_grads(manual, mlp.t)
    assert report.ok and [row.name for row in report.rows] == ["W1", "b1", "W2", "b2"]
    assert [row.manual_name for row in report.rows] == ["dW1", "d_b1", "grad_W2", "b2_grad"]
    assert report["W1"].diagnosis == "manual key 'dW1' matched to W1"
    assert report["dW1"] is report["W1"]
    assert compare_grads({"g_W": grads["b1"]}, {"W": mlp.t["b1"]})  # g_ too


def test_a_matched_key_keeps_its_diagnosis(mlp):
    grads = mlp.backward()
    row = compare_grads({"dW1": 64 * grads["W1"]}, {"W1": mlp.t["W1"]})["W1"]
    assert row.status == "mismatch" and "x64" in row.diagnosis
    assert row.diagnosis.endswith("; manual key 'dW1' matched to W1")


def test_ambiguous_gradient_keys_are_reported_not_matched(rng):
    g = rng.standard_normal(3)
    report = compare_grads({"dW1": g, "grad_W1": g}, {"W1": g})
    assert report.missing == ["dW1", "grad_W1", "W1"]
    assert "'dW1' and 'grad_W1' could each be the gradient of 'W1' (ambiguous" in report["dW1"].diagnosis
    assert "'dW1' and 'grad_W1' could each be its gradient (ambiguous" in report["W1"].diagnosis
    report = compare_grads({"d_W": g}, {"W": g, "_W": g})
    assert report.missing == ["d_W", "W", "_W"]
    assert "'d_W' could be the gradient of 'W' or '_W' (ambiguous: rename the key)" in report["d_W"].diagnosis


# ---------------------------------------------------------------------------- 3. autograd has no gradient
def test_autograd_without_a_gradient_says_to_call_backward(mlp):
    fresh = MLP(sizes=(8, 6, 5, 3))  # backward never called
    report = compare_grads(fresh.backward(), fresh.t)
    assert not report and report.missing == ["W1", "b1", "W2", "b2"]
    assert report["W1"].diagnosis == ("autograd has no gradient for W1: call loss.backward() first (or the tensor "
                                      "was not used by the loss / does not require grad)")
    assert "inf" not in str(report)


def test_no_gradient_says_why_when_it_can_tell(mlp):
    grads = mlp.backward()
    unused = tg.tensor(np.ones(3), requires_grad=True)
    constant = tg.tensor(np.ones(3))
    report = compare_grads({**grads, "V": np.ones(3), "C": np.ones(3)}, {**mlp.t, "V": unused, "C": constant},
                           graph=mlp.loss)
    assert report["V"].diagnosis == "autograd has no gradient for V: the loss given as graph= does not use it"
    assert report["C"].diagnosis.startswith("autograd has no gradient for C: it does not require grad")


# ---------------------------------------------------------------------------- 4. sign and 1/N together
def test_sign_flip_and_batch_scale_together_are_both_named(mlp):
    report = compare_grads({k: -v / 64 for k, v in mlp.backward().items()}, mlp.t)
    for row in report.rows:
        assert row.diagnosis.startswith("sign flipped and scaled by 1/64 (a missing or extra 1/batch? Here extra")
        assert "y − ŷ written for ŷ − y" in row.diagnosis and row.factor == pytest.approx(-1 / 64)
    row = compare_grads(mlp.backward(output_scale=-64), mlp.t)["W2"]
    assert row.diagnosis.startswith("sign flipped and scaled by 64 (a missing or extra 1/batch? Here missing")
    assert row.factor == pytest.approx(-64)


def test_sign_flip_and_a_non_batch_scale(rng):
    g = rng.standard_normal((10, 20))
    row = one(compare_grads({"W": -2.5 * g}, {"W": g}))
    assert row.diagnosis.startswith("sign flipped and scaled by 2.5 (and points the other way")
    assert "batch" not in row.diagnosis and row.factor == pytest.approx(-2.5)


# ---------------------------------------------------------------------------- 5. activation sites found in the graph
@pytest.mark.parametrize("activation, fused, used, expected", [
    ("sigmoid", False, "tanh_of_a", ("uses tanh' written as 1−a² but the layer's activation is sigmoid "
                                     "(whose derivative is σ'(z) = a·(1−a))")),
    ("sigmoid", True, "tanh_of_z", "uses tanh'(z) = 1−tanh(z)² but the layer's activation is sigmoid"),
    ("relu", False, "sigmoid", ("uses σ'(z) = a·(1−a) but the layer's activation is relu (whose derivative is "
                                "ReLU' = [z>0])")),
    ("relu", True, "identity", "uses identity (1) but the layer's activation is relu"),
    ("tanh", False, "sigmoid", "uses σ'(z) = a·(1−a) but the layer's activation is tanh"),
    ("sigmoid", False, "activation_itself", ("uses the activation's value a itself (f(z) where f'(z) belongs) but "
                                             "the layer's activation is sigmoid")),
])
def test_graph_finds_the_activation_and_diagnoses_a_wrong_derivative(activation, fused, used, expected):
    from tensorgrad.teaching.compare import DERIVATIVE_CANDIDATES
    model = MLP(activation, fused=fused, sizes=(64, 40, 16, 10)).run_backward()
    manual = model.backward(derivative=DERIVATIVE_CANDIDATES[used][1])
    assert compare_grads(model.backward(), model.t, graph=model.loss)  # the right derivative: no alarm
    without = compare_grads(manual, model.t)
    assert without["W1"].diagnosis.startswith("no simple pattern")  # what it says today
    report = compare_grads(manual, model.t, graph=model.loss)
    assert report.mismatches == ["W1", "b1"]
    for name in ("W1", "b1"):
        assert report[name].diagnosis.startswith(expected) and report[name].diagnosis.endswith("at site 'layer 1'")


def test_graph_sites_say_what_a_hand_built_site_says(rng):
    """hidden_layer()'s model (class-first, bias (5, 1)) built again with its graph kept: the
    diagnosis found from the graph is the one a hand-built ActivationSite gives, word for word."""
    X, R, m = rng.standard_normal((6, 7)), rng.standard_normal((3, 7)), 7
    W1 = tg.tensor(rng.standard_normal((5, 6)), requires_grad=True)
    b1 = tg.tensor(rng.standard_normal((5, 1)), requires_grad=True)
    W2 = rng.standard_normal((3, 5))
    a_t = (W1 @ tg.tensor(X) + b1).sigmoid()
    a_t.name = "hidden"
    loss = ((tg.tensor(W2) @ a_t) * R).sum() / m
    loss.backward(retain_graph=True)
    z, a = a_t.grad_fn.inputs[0].data, a_t.data
    to_param_grads = lambda dz: {"W1": dz @ X.T / m, "b1": dz.sum(axis=1, keepdims=True) / m}
    wrong = to_param_grads((W2.T @ R) * (1 - a ** 2))
    site = ActivationSite("hidden", "sigmoid", z, a, W2.T @ R, to_param_grads)
    by_graph = compare_grads(wrong, {"W1": W1, "b1": b1}, graph=loss)
    by_hand = compare_grads(wrong, {"W1": W1, "b1": b1}, activation_sites=[site])
    assert [r.diagnosis for r in by_graph.rows] == [r.diagnosis for r in by_hand.rows]
    assert by_graph["W1"].diagnosis.startswith("uses tanh' written as 1−a² but the layer's activation is sigmoid")


def test_graph_sites_in_three_layers_with_an_l2_term():
    """Terms that do not pass through the activation (an L2 term on W1) stay in the prediction;
    a mistake at the upper layer shows in every layer below it, and is found at its own site."""
    rng = np.random.default_rng(3)
    N, D, H1, H2, C = 32, 20, 16, 12, 5
    x, Y = rng.random((N, D)), np.eye(C)[rng.integers(0, C, N)]
    p = {"W1": rng.standard_normal((H1, D)) * .3, "W2": rng.standard_normal((H2, H1)) * .3,
         "W3": rng.standard_normal((C, H2)) * .3}
    t = {k: tg.tensor(v, requires_grad=True) for k, v in p.items()}
    h1 = (tg.tensor(x) @ t["W1"].T).tanh()
    h2 = (h1 @ t["W2"].T).sigmoid()
    h2.name = "h2"
    loss = -((h2 @ t["W3"].T).log_softmax(axis=1) * Y).sum(axis=1).mean() + 0.01 * (t["W1"] * t["W1"]).sum()
    loss.backward(retain_graph=True)

    def manual(d2=lambda a: a * (1 - a), d1=lambda a: 1 - a ** 2):
        a1 = np.tanh(x @ p["W1"].T)
        a2 = 1 / (1 + np.exp(-(a1 @ p["W2"].T)))
        e = np.exp(a2 @ p["W3"].T)
        d3 = (e / e.sum(axis=1, keepdims=True) - Y) / N
        dz2 = (d3 @ p["W3"]) * d2(a2)
        dz1 = (dz2 @ p["W2"]) * d1(a1)
        return {"W3": d3.T @ a2, "W2": dz2.T @ a1, "W1": dz1.T @ x + 0.02 * p["W1"]}

    assert compare_grads(manual(), t, graph=loss)
    report = compare_grads(manual(d2=lambda a: 1 - a ** 2), t, graph=loss)
    assert report.mismatches == ["W2", "W1"]
    assert all(report[n].diagnosis.endswith("at site 'h2'") for n in ("W2", "W1"))
    report = compare_grads(manual(d1=lambda a: a * (1 - a)), t, graph=loss)
    assert report.mismatches == ["W1"] and report["W1"].diagnosis.startswith(
        "uses σ'(z) = a·(1−a) but the layer's activation is tanh") and report["W1"].diagnosis.endswith("'layer 1'")


def test_graph_site_for_gelu(rng):
    x = rng.standard_normal((16, 5))
    W1 = tg.tensor(rng.standard_normal((7, 5)), requires_grad=True)
    W2 = tg.tensor(rng.standard_normal((1, 7)), requires_grad=True)
    z = tg.tensor(x) @ W1.T
    out = (z.gelu() @ W2.T).sum()
    out.backward(retain_graph=True)
    dh = np.ones((16, 1)) @ W2.data
    report = compare_grads({"W1": (dh * (z.data > 0)).T @ x}, {"W1": W1}, graph=out)
    assert report["W1"].diagnosis.startswith("uses ReLU' = [z>0] but the layer's activation is gelu "
                                             "(whose derivative is GELU'(z) = Φ(z) + z·φ(z))")


def test_a_freed_graph_says_to_retain_it(mlp):
    model = MLP(sizes=(64, 40, 16, 10), retain_graph=False).run_backward()
    report = compare_grads(model.backward(derivative=lambda z, a: 1 - a ** 2), model.t, graph=model.loss)
    assert report["W1"].diagnosis.startswith("no simple pattern")
    assert report.notes == [("graph=: W1, b1 sit under the sigmoid at 'layer 1', whose derivative could not be "
                             "checked: loss.backward() freed the graph's saved arrays: call "
                             "loss.backward(retain_graph=True) before compare_grads(..., graph=loss)")]
    assert str(report).endswith(report.notes[0]) and "\nnote: graph=: W1, b1" in str(report)


def test_graph_leaves_the_gradients_and_the_graph_as_they_were(mlp):
    before = {k: v.grad.copy() for k, v in mlp.t.items()}
    compare_grads(mlp.backward(derivative=lambda z, a: 1 - a ** 2), mlp.t, graph=mlp.loss)
    assert all(np.array_equal(mlp.t[k].grad, before[k]) for k in before)
    assert compare_grads(mlp.backward(), mlp.t, graph=mlp.loss)  # and it can replay it again


# ---------------------------------------------------------------------------- 6. the root cause
ROOT_CAUSE_W1 = ("the output layer (W2, b2) is right but layer 1 (W1, b1) is not: the error starts between the "
                 "output layer and layer 1: check dh / the activation derivative")


def test_root_cause_between_the_output_layer_and_layer_1(mlp):
    manual = mlp.backward(derivative=lambda z, a: 1 - a ** 2)
    assert compare_grads(manual, mlp.t).root_cause == ROOT_CAUSE_W1              # from the names
    report = compare_grads(manual, mlp.t, graph=mlp.loss)                         # from the graph
    assert report.root_cause == ROOT_CAUSE_W1
    assert f"\nroot cause: {ROOT_CAUSE_W1}" in str(report)
    assert report.to_dict()["root_cause"] == ROOT_CAUSE_W1


def test_root_cause_order_comes_from_the_graph_when_names_have_no_numbers(mlp):
    names = {"W1": "hidden.weight", "b1": "hidden.bias", "W2": "out.weight", "b2": "out.bias"}
    manual = {names[k]: v for k, v in mlp.backward(derivative=lambda z, a: 1 - a ** 2).items()}
    auto = {names[k]: v for k, v in mlp.t.items()}
    report = compare_grads(manual, auto, graph=mlp.loss)
    assert report.root_cause == ("the output layer (out.weight, out.bias) is right but layer 1 (hidden.weight, "
                                 "hidden.bias) is not: the error starts between the output layer and layer 1: "
                                 "check dh / the activation derivative")


def test_root_cause_a_mistake_that_does_not_propagate(mlp):
    report = compare_grads(mlp.backward(W2_scale=2.0), mlp.t, graph=mlp.loss)
    assert report.mismatches == ["W2", "b2"]
    assert report.root_cause == ("W2, b2 are wrong but layer 1 (W1, b1), further back, is right: the gradient "
                                 "flowing back through the output layer is right, so the mistake is in the "
                                 "formula of W2, b2 alone")


def test_root_cause_at_the_output_gradient_and_none_for_a_single_mistake(mlp):
    report = compare_grads(mlp.backward(output_scale=64.0), mlp.t)
    assert report.root_cause.startswith("the output layer (W2, b2) is wrong, the first gradients backward computes")
    single = compare_grads({**mlp.backward(), "W1": 2 * mlp.backward()["W1"]}, mlp.t)
    assert single.mismatches == ["W1"] and single.root_cause == "" and "root cause" not in str(single)


def test_intermediate_gradients_from_the_graph_and_from_a_trace():
    model = MLP(sizes=(64, 40, 16, 10), name_h=True)
    with tg.trace(keep=["h"]) as tr:
        model.run_backward()
    manual = model.backward(derivative=lambda z, a: 1 - a ** 2, keep_dh=True)  # dh right, W1 and b1 wrong
    expected = ("dh is right but layer 1 (W1, b1) is not: the error starts between dh and layer 1: check the "
                "activation derivative (dz = dh ⊙ f'(z)) and the formulas of layer 1")
    from_graph = compare_grads(manual, model.t, graph=model.loss)                  # dL/dh from the graph
    assert from_graph["h"].status == "match" and from_graph.root_cause == expected
    from_trace = compare_grads(manual, {**model.t, "h": tr.grads["h"]}, graph=model.loss)
    assert from_trace["h"].status == "match" and from_trace.root_cause == expected
    manual = {**manual, "h": 2 * manual["h"]}                                      # dh wrong too
    assert compare_grads(manual, model.t, graph=model.loss).root_cause.startswith(
        "the output layer (W2, b2) is right but dh is not: the error starts between the output layer and dh")


# ---------------------------------------------------------------------------- 7. no false alarms
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation, fused", [("sigmoid", False), ("relu", True), ("tanh", False)])
def test_a_correct_backward_gives_no_false_alarm(dtype, activation, fused):
    for seed in range(3):
        model = MLP(activation, dtype=dtype, fused=fused, seed=seed, name_h=True).run_backward()
        manual = model.backward(keep_dh=True)
        assert manual["W1"].dtype == model.t["W1"].grad.dtype == dtype
        params_only = {k: v for k, v in manual.items() if k != "h"}  # without graph=, autograd has no dh
        for report in (compare_grads(manual, model.t, graph=model.loss), compare_grads(params_only, model.t)):
            assert report.ok and report.root_cause == "" and report.notes == [], report
            assert report.rtol == (1e-5 if dtype == np.float32 else 1e-6)
            assert max(row.max_rel_err for row in report.rows if row.name != "h") < report.rtol / 10


# ---------------------------------------------------------------------------- the report in Jupyter
def test_html_repr_is_the_table_with_mismatches_highlighted(mlp):
    report = compare_grads({**mlp.backward(derivative=lambda z, a: 1 - a ** 2), "extra": np.ones(2)}, mlp.t)
    page = report._repr_html_()
    assert page.startswith("<table") and page.count("<tr") == 1 + len(report.rows)
    assert "".join(f"<th style='text-align:left'>{h}</th>" for h in
                   ["name", "shape", "max abs err", "max rel err", "status", "diagnosis"]) in page
    assert page.count("<tr class='mismatch' style='background:") == 2
    assert page.count("<tr class='missing' style='background:") == 1
    assert "<tr class='match'>" in page and "(128, 784)" in page
    assert "<b>root cause:</b> the output layer (W2, b2) is right" in page
    escaped = compare_grads({"<b>": np.ones(2)}, {"<b>": np.zeros(2)})._repr_html_()
    assert "&lt;b&gt;" in escaped and "<td style='text-align:left'><b>" not in escaped


def test_a_whole_layer_off_by_one_factor_is_named_as_such_in_the_root_cause(mlp):
    """Document 002's mistake: the output layer divides by the batch size, the first layer does not."""
    manual = mlp.backward()
    manual = {k: v * 64 if k in ("W1", "b1") else v for k, v in manual.items()}
    report = compare_grads(manual, mlp.t)
    assert report.root_cause.startswith("the output layer (W2, b2) is right but every gradient of layer 1 (W1, b1) "
                                        "is 64·autograd's: a factor only layer 1's formulas have")
    assert "the activation derivative" not in report.root_cause
