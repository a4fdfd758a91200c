"""Tracing backprop step by step, and drawing the graph with graphviz."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import nn
from tensorgrad.ops import all_ops
from tensorgrad.teaching import draw as draw_module


def small_graph():
    x = tg.tensor(np.array([[1.0, -2.0]]), name="x")
    w = tg.tensor(np.array([[0.5, 0.25], [-1.0, 2.0]]), requires_grad=True, name="w")
    b = tg.tensor(np.array([0.1, -0.1]), requires_grad=True, name="b")
    h = (x @ w.T + b).relu()
    h.name = "h"
    loss = h.sum()
    return x, w, b, h, loss


GOLDEN_DOT = '''digraph tensorgrad {
	graph [fontsize=11 rankdir=TB ranksep=0.3]
	node [fontname=Helvetica fontsize=10]
	edge [fontname=Helvetica fontsize=9]
	t0 [label="output
data 0.1" fillcolor="#fff2cc" shape=box style="filled,rounded"]
	t1 [label="h
(1, 2) float64
[[0.1, 0. ]]" fillcolor=white shape=box style="filled,rounded"]
	t2 [label="(1, 2) float64
[[ 0.1, -5.1]]" fillcolor=white shape=box style="filled,rounded"]
	t3 [label="(1, 2) float64
[[ 0., -5.]]" fillcolor=white shape=box style="filled,rounded"]
	t4 [label="x
(1, 2) float64
[[ 1., -2.]]" fillcolor="#eeeeee" shape=box style="filled,rounded"]
	t5 [label="(2, 2) float64
[[ 0.5 , -1.  ], [ 0.25,  2.  ]]" fillcolor=white shape=box style="filled,rounded"]
	t6 [label="w
(2, 2) float64
[[ 0.5 ,  0.25], [-1.  ,  2.  ]]" fillcolor="#cfe8ff" shape=box style="filled,rounded"]
	t7 [label="b
(2,) float64
[ 0.1, -0.1]" fillcolor="#cfe8ff" shape=box style="filled,rounded"]
	op0 [label="sum
∂a = g broadcast over the summed axes" fillcolor="#f3e5f5" shape=ellipse style=filled]
	op0 -> t0
	t1 -> op0 [label=a]
	op1 [label="relu
∂a = g·[a > 0]" fillcolor="#f3e5f5" shape=ellipse style=filled]
	op1 -> t1
	t2 -> op1 [label=a]
	op2 [label="add
∂a = g
∂b = g" fillcolor="#f3e5f5" shape=ellipse style=filled]
	op2 -> t2
	t3 -> op2 [label=a]
	t7 -> op2 [label="b: broadcast (2,)→(1, 2)
backward sums" color=red fontcolor=red style=dashed]
	op3 [label="matmul
∂a = g·bᵀ
∂b = aᵀ·g" fillcolor="#f3e5f5" shape=ellipse style=filled]
	op3 -> t3
	t4 -> op3 [label=a]
	t5 -> op3 [label=b]
	op4 [label="transpose
∂a = g with the axes permuted back" fillcolor="#f3e5f5" shape=ellipse style=filled]
	op4 -> t5
	t6 -> op4 [label=a]
}
'''


def test_golden_dot_for_a_small_expression():
    *_, loss = small_graph()
    assert tg.draw(loss).source == GOLDEN_DOT


def test_draw_is_deterministic_and_shows_gradients_after_backward():
    _, w, _, _, loss = small_graph()
    loss.backward()
    first = tg.draw(loss).source
    assert first == tg.draw(loss).source
    assert "grad: [[ 1., -2.], [ 0.,  0.]]" in first  # dL/dw
    assert "grad:" not in tg.draw(loss, show_grad=False).source
    assert "∂a" not in tg.draw(loss, show_formulas=False).source


def test_trace_records_every_step_in_reverse_topological_order():
    x, w, b, h, loss = small_graph()
    with tg.trace(keep=["h", "w"]) as tr:
        loss.backward()
    assert [s.op for s in tr.steps] == ["sum", "relu", "add", "matmul", "transpose"]
    # reverse topological: every op runs before the ops that produced its inputs
    order = {s.node_key: s.step for s in tr.steps}
    for s in tr.steps:
        node = next(n for n in _nodes(loss) if id(n) == s.node_key)
        for t in node.inputs:
            if t.grad_fn is not None:
                assert order[id(t.grad_fn)] > s.step
    assert all(s.formula for s in tr.steps)
    np.testing.assert_array_equal(tr.grads["h"], [[1.0, 1.0]])
    np.testing.assert_array_equal(tr.grads["w"], w.grad)
    assert tr.steps[1].output == "h" and tr.steps[1].grad_norm == pytest.approx(np.sqrt(2))
    text = str(tr)
    assert "formula applied" in text and "∂a = g·[a > 0]" in text and "5 backward steps" in text
    assert tr.to_markdown().count("\n") == 6
    rows = json.loads(tr.to_json())
    assert rows[0]["op"] == "sum" and rows[2]["input_shapes"] == [[1, 2], [2]]


def _nodes(root):
    seen, stack, out = set(), [root], []
    while stack:
        t = stack.pop()
        node = t.grad_fn
        if node is not None and id(node) not in seen:
            seen.add(id(node))
            out.append(node)
            stack.extend(node.inputs)
    return out


def test_trace_keep_all_and_parameter_names_from_a_module():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).fuse()
    loss = nn.functional.cross_entropy(model(np.ones((5, 3), dtype=np.float32)), np.array([0, 1, 0, 1, 1]))
    with tg.trace(keep="all", params=model) as tr:
        loss.backward()
    assert {"0.weight", "0.bias", "2.weight", "2.bias"} <= set(tr.grads)
    np.testing.assert_allclose(tr.grads["0.weight"], model[0].weight.grad)
    assert [s.op for s in tr.steps] == ["cross_entropy", "linear", "linear+relu"]  # fused
    assert [s.fused for s in tr.steps] == [(), (), ("linear", "relu")]
    assert "linear+relu (fused)" in str(tr)
    assert tr.steps[2].formula.startswith("relu: ∂a = g·[a > 0];  then linear, with g = ∂a: ∂x = g·W")


def test_by_default_a_sequential_traces_the_activation_as_its_own_step():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    loss = nn.functional.cross_entropy(model(np.ones((5, 3), dtype=np.float32)), np.array([0, 1, 0, 1, 1]))
    with tg.trace(params=model) as tr:
        loss.backward()
    assert [s.op for s in tr.steps] == ["cross_entropy", "linear", "relu", "linear"]


def test_every_op_has_a_formula_the_trace_prints():
    for op in all_ops():
        assert op.formula.strip(), op.name


def test_frames_highlight_the_current_step_and_known_gradients():
    _, _, _, _, loss = small_graph()
    with tg.trace() as tr:
        loss.backward()
    frame1 = tg.draw(loss, trace=tr, step=1).source
    frame5 = tg.draw(loss, trace=tr, step=5).source
    running, done = 'fillcolor="#ffb347"', 'fillcolor="#c8f7c5"'  # (the legend has the colours too)
    assert frame1.count(running) == 1 and frame1.count(done) == 0  # sum is running
    assert frame5.count(done) == 4  # four ops done, the fifth running
    assert "grad: [[ 1., -2.], [ 0.,  0.]]" not in frame1  # w's gradient not known yet
    assert "grad: [[ 1., -2.], [ 0.,  0.]]" in frame5
    with pytest.raises(ValueError, match=r"draw: step must be in 1..5"):
        tg.draw(loss, trace=tr, step=9)


def test_collapse_module_folds_layers():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    loss = nn.functional.cross_entropy(model(np.ones((2, 784), dtype=np.float32)), np.array([1, 2]))
    full = tg.draw(loss, params=model).source
    assert "0.weight" in full and "2.bias" in full
    folded = tg.draw(loss, params=model, collapse="module").source
    assert "0.weight" not in folded and "0: Linear" in folded and "in_features=784, out_features=128" in folded
    with pytest.raises(ValueError, match="collapse='module' needs params"):
        tg.draw(loss, collapse="module")


def test_draw_handles_a_100_000_op_chain_without_recursion():
    x = tg.tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    # each step: op -> output, previous -> op, and the constant 1.0 -> op
    assert tg.draw(y, show_data=False, show_formulas=False, fold=False).source.count("->") == 300_000
    # by default the run of identical adds is folded: the first add (x is a leaf), the second,
    # one node for the 99,997 next, the last add
    folded = tg.draw(y, show_data=False, show_formulas=False).source
    assert folded.count("->") < 20 and "× 99997 more add" in folded


def test_render_svg_and_png_with_no_system_graphviz(tmp_path, monkeypatch):
    assert draw_module.dot_program() is not None, "neither dot nor graphviz-pure is installed"
    *_, loss = small_graph()
    svg = tg.render(tg.draw(loss), tmp_path / "graph.svg")
    assert "<svg" in svg.read_text()
    png = tg.render(tg.draw(loss), tmp_path / "graph.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dot = tg.render(tg.draw(loss), tmp_path / "graph.dot")
    assert dot.read_text() == GOLDEN_DOT


def test_graphviz_pure_is_found_in_the_scripts_folder_of_an_unactivated_venv(tmp_path, monkeypatch):
    scripts = tmp_path / "venv-bin"
    scripts.mkdir()
    program = scripts / "graphviz-pure"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # neither program on PATH
    monkeypatch.setattr(draw_module.sysconfig, "get_path", lambda name: str(scripts))
    assert draw_module.dot_program() == str(program)


def test_render_without_any_dot_writes_the_source_and_explains(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, path=None: None)
    *_, loss = small_graph()
    with pytest.raises(RuntimeError, match="no Graphviz 'dot' program found; wrote the DOT source to"):
        tg.render(tg.draw(loss), tmp_path / "graph.svg")
    assert (tmp_path / "graph.dot").read_text() == GOLDEN_DOT


def test_the_graph_marks_a_fused_node():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = np.ones((2, 3), np.float32)
    plain = tg.draw(model(x).sum(), params=model).source
    fused = tg.draw(model.fuse()(x).sum(), params=model).source
    assert "fused" not in plain and "peripheries" not in plain
    assert fused.count("(fused: 2 ops, one node)") == 1 and fused.count("peripheries=2") == 1
