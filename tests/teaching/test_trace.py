"""tg.trace names things: inputs and formulas by the tensors' names, the sums that undo a broadcast,
each input's gradient norm, the numbers of a scalar step put into its formula, timing on request."""
from __future__ import annotations

import math

import numpy as np

import tensorgrad as tg
from tensorgrad.teaching.trace import substitute, summed_axes


def _mlp_loss():
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.random((8, 5), dtype=np.float32))
    W1 = tg.tensor(rng.standard_normal((4, 5), dtype=np.float32), requires_grad=True)
    b1 = tg.zeros(4, requires_grad=True)
    W2 = tg.tensor(rng.standard_normal((3, 4), dtype=np.float32), requires_grad=True)
    h = (x @ W1.T + b1).relu()
    h.name = "h"
    logits = h @ W2.T
    return tg.nn.functional.cross_entropy(logits, np.arange(8) % 3), {"W1": W1, "b1": b1, "W2": W2}


def test_rows_name_the_inputs_and_formulas_use_the_names():
    loss, params = _mlp_loss()
    with tg.trace(params=params) as tr:
        loss.backward()
    by_op = {s.op: s for s in tr.steps}
    matmul_w2 = next(s for s in tr.steps if s.op == "matmul" and "h" in s.inputs)
    assert matmul_w2.inputs[0] == "h" and matmul_w2.inputs[1].startswith("transpose#")
    assert matmul_w2.named_formula.startswith("∂h = g·bᵀ")  # the anonymous transpose keeps its symbol
    add = by_op["add"]
    assert add.inputs[1] == "b1" and "∂b1 = g" in add.named_formula
    transpose = [s for s in tr.steps if s.op == "transpose"]
    assert {s.inputs[0] for s in transpose} == {"W1", "W2"}
    assert "b1" in str(tr) and "h ←" in str(tr)
    # which row produced dW1: the one whose inputs name W1
    assert [s.op for s in tr.steps if "W1" in s.inputs] == ["transpose"]
    assert by_op["cross_entropy"].inputs[1] == "–"  # the labels: a constant


def test_substitute_replaces_whole_symbols_only():
    assert substitute("∂a = g·bᵀ,  ∂b = aᵀ·g", {"a": "x", "b": "W1"}) == "∂x = g·W1ᵀ,  ∂W1 = xᵀ·g"
    assert substitute("∂a = g·2(a − mean)/(N − ddof)", {"a": "h"}) == "∂h = g·2(h − mean)/(N − ddof)"
    assert substitute("∂a = g reshaped back to a's shape", {"a": "h"}) == "∂h = g reshaped back to h's shape"


def test_the_bias_add_row_shows_the_sum_over_the_batch():
    x = tg.tensor(np.ones((6, 3), np.float32))
    b = tg.tensor(np.ones(3, np.float32), requires_grad=True, name="b")
    with tg.trace() as tr:
        (x + b).sum().backward()
    add = tr.steps[1]
    assert add.summed == ["∂b: Σ over axis 0, (6, 3) → (3,)"]
    assert "Σ over axis 0" in str(tr)
    assert summed_axes((2, 6, 3), (1, 3)) == (0, 1) and summed_axes((4, 3), (4, 3)) == ()


def test_each_inputs_gradient_norm_is_in_the_table():
    a = tg.tensor(np.full((2, 2), 3.0), requires_grad=True, name="a")
    c = tg.tensor(np.full((2, 2), 4.0), requires_grad=True, name="c")
    with tg.trace() as tr:
        (a * c).sum().backward()
    mul = tr.steps[1]
    assert mul.input_grad_norms == [8.0, 6.0]  # ‖g·c‖ = ‖4‖·2, ‖g·a‖ = ‖3‖·2
    assert "8, 6" in str(tr) and "‖∂input‖" in str(tr)


def test_numbers_put_into_the_formula_for_a_scalar_step_as_in_micrograds_lecture():
    x1, w1 = tg.tensor(2.0, requires_grad=True, name="x1"), tg.tensor(-3.0, requires_grad=True, name="w1")
    x2, w2 = tg.tensor(0.0, requires_grad=True, name="x2"), tg.tensor(1.0, requires_grad=True, name="w2")
    b = tg.tensor(6.8813735870195432, requires_grad=True, name="b")
    n = x1 * w1 + x2 * w2 + b
    n.name = "n"
    o = n.tanh()
    with tg.trace() as tr:
        o.backward()
    text = tr.table(numbers=True)
    assert "∂n = 1·(1 − 0.7071²) = 0.5" in text
    assert "∂x1 = 0.5·(-3) = -1.5" in text and "∂w1 = 0.5·2 = 1" in text
    assert "∂x2 = 0.5·1 = 0.5" in text and "∂w2 = 0.5·0 = 0" in text
    assert math.isclose(float(x1.grad), -1.5, rel_tol=1e-6)
    assert "0.7071²" not in str(tr)  # numbers only on request


def test_a_negation_with_numbers_is_written_once():
    a = tg.tensor(2.0, requires_grad=True, name="a")
    with tg.trace(keep="all") as tr:
        (-(a * 3)).backward()
    assert "= −1 = -1" not in tr.table(numbers=True) and "= −1" in tr.table(numbers=True)


def test_timing_is_a_column_only_on_request():
    x = tg.randn(3, requires_grad=True)
    with tg.trace() as tr:
        (x * 2).sum().backward()
    assert " ms" not in str(tr) and "ms" not in tr.to_markdown().splitlines()[0].split(" | ")
    assert " ms " in tr.table(timing=True).splitlines()[0] + " " and "backward steps, " in tr.table(timing=True)
    assert all(s.seconds >= 0 for s in tr.steps)


def test_the_trace_shows_as_an_html_table_in_jupyter():
    x = tg.tensor(np.ones(3), requires_grad=True, name="x")
    with tg.trace() as tr:
        (x * 2).sum().backward()
    page = tr._repr_html_()
    assert page.startswith("<table>") and page.count("<tr>") == 3  # the header and two steps
    assert "<td>mul</td>" in page and "∂x = g·b" in page
