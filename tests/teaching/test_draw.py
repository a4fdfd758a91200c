"""tg.draw's pictures: gradients on every tensor, named arrows, sensible defaults, folded repeats,
quiet Jupyter display, and backprop played frame by frame (tg.teaching.play_backprop)."""
from __future__ import annotations

import re
import struct

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import nn
from tensorgrad.ops import all_ops
from tensorgrad.teaching import draw as draw_module
from tensorgrad.teaching import frames as frames_module


def labels(graph) -> dict[str, str]:
    """DOT node name -> its label, from a graph's statements."""
    found = {}
    for statement in graph.body:
        match = re.match(r'\t(\w+) \[label=(?:"(.*?)"|(\S+?))[ \]]', statement, re.DOTALL)
        if match and " -> " not in statement:
            found[match.group(1)] = match.group(2) if match.group(2) is not None else match.group(3)
    return found


def arrows(graph) -> list[tuple[str, str, str]]:
    """(tail, head, label) of every arrow ('' without a label)."""
    found = []
    for statement in graph.body:
        match = re.match(r'\t(\w+) -> (\w+)(?: \[(.*)\])?', statement, re.DOTALL)
        if match:
            label = re.search(r'label=(?:"(.*?)"|(\S+?))[ \]]', (match.group(3) or "") + "]", re.DOTALL)
            found.append((match.group(1), match.group(2), (label.group(1) or label.group(2)) if label else ""))
    return found


def name_of(graph, title: str) -> str:
    """The DOT name of the node whose label starts with these lines."""
    return next(name for name, label in labels(graph).items() if (label + "\n").startswith(title + "\n"))


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def micrograd_neuron(shape=()):
    """micrograd's neuron: o = tanh(x1·w1 + x2·w2 + b), its values as in micrograd's README."""
    def value(v, name):
        return tg.tensor(np.full(shape, v), requires_grad=True, name=name)
    x1, x2, w1, w2, b = (value(2.0, "x1"), value(0.0, "x2"), value(-3.0, "w1"), value(1.0, "w2"),
                         value(6.8813735870195432, "b"))
    n = x1 * w1 + x2 * w2 + b
    n.name = "n"
    o = n.tanh()
    o.name = "o"
    return o


def readme_mlp():
    """The README's MLP: x (64, 784) @ W1.T + b1, relu, @ W2.T + b2, log_softmax, * y, sum, mean, neg."""
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.random((64, 784)))
    y = np.eye(10)[rng.integers(0, 10, 64)]
    W1, b1 = tg.randn(128, 784, requires_grad=True), tg.zeros(128, requires_grad=True)
    W2, b2 = tg.randn(10, 128, requires_grad=True), tg.zeros(10, requires_grad=True)
    h = (x @ W1.T + b1).relu()
    logp = (h @ W2.T + b2).log_softmax(axis=-1)
    loss = -(logp * y).sum(axis=1).mean()
    return loss, {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def deep_mlp(layers=20):
    tg.manual_seed(0)
    modules = []
    for _ in range(layers):
        modules += [nn.Linear(16, 16), nn.ReLU()]
    model = nn.Sequential(*modules)
    loss = nn.functional.cross_entropy(model(np.ones((4, 16), np.float32)), np.array([0, 1, 2, 3]))
    return model, loss


# ---------------------------------------------------------------- 1. scalars: value and gradient
@pytest.mark.parametrize("shape", [(1,), ()], ids=["shape (1,)", "0-d"])
def test_micrograd_neuron_shows_value_and_gradient_on_every_node(shape):
    o = micrograd_neuron(shape)
    with tg.trace(keep="all") as tr:
        o.backward()
    graph = tg.draw(o, trace=tr)
    boxes = {label.split("\n")[0]: label for name, label in labels(graph).items() if name.startswith("t")}
    expected = {"o": "data 0.7071 | grad 1", "n": "data 0.8814 | grad 0.5", "x1": "data 2 | grad -1.5",
                "w1": "data -3 | grad 1", "x2": "data 0 | grad 0.5", "w2": "data 1 | grad 0",
                "b": "data 6.881 | grad 0.5"}
    for title, line in expected.items():
        assert boxes[title].endswith(line), boxes[title]
    # every tensor, the unnamed intermediates too, on one line each, and no norm summary
    for name, label in labels(graph).items():
        if name.startswith("t"):
            assert re.search(r"data -?[\d.]+ \| grad -?[\d.]+$", label), label
    assert "‖g‖" not in graph.source
    assert ("(1,) float" in graph.source) == (shape == (1,))  # a 0-d tensor skips its shape


def test_one_value_gradients_are_exact_even_when_the_trace_did_not_keep_them():
    o = micrograd_neuron()
    with tg.trace() as tr:  # nothing kept: the trace's min (= max) of a one-value gradient
        o.backward()
    source = tg.draw(o, trace=tr).source
    assert "data 0.8814 | grad 0.5" in source and "‖g‖" not in source


# ---------------------------------------------------------------- 2. intermediate gradients
def test_kept_intermediate_gradients_are_drawn_values_or_summary():
    x = tg.tensor(np.array([[1.0, -2.0]]), name="x")
    w = tg.tensor(np.array([[0.5, 0.25], [-1.0, 2.0]]), requires_grad=True, name="w")
    h = (x @ w.T).relu()
    h.name = "h"
    big = tg.tensor(np.arange(20.0).reshape(4, 5), requires_grad=True, name="big")
    z = big * 2.0
    z.name = "z"
    loss = h.sum() + z.sum()
    with tg.trace(keep=["h", "z"]) as tr:
        loss.backward()
    graph = tg.draw(loss, trace=tr)
    assert labels(graph)[name_of(graph, "h")].endswith("grad: [[1., 1.]]")
    assert "grad: mean 1  std 0" in labels(graph)[name_of(graph, "z")]  # 20 values: a summary
    # not kept: the norm, min and max the trace has of it
    matmul_output = next(label for label in labels(graph).values() if label.startswith("(1, 2) float64\n[[ 0.")
                         and "grad" in label)
    assert "grad: ‖g‖" in matmul_output


def test_frames_show_a_gradient_once_every_op_using_the_tensor_has_run():
    x = tg.tensor(np.array([[1.0, 2.0]]), name="x")
    w = tg.tensor(np.array([[0.5, 0.25], [-1.0, 2.0]]), requires_grad=True, name="w")
    h = (x @ w.T).relu()
    h.name = "h"
    loss = h.sum()
    with tg.trace(keep="all") as tr:
        loss.backward()
    assert [s.op for s in tr.steps] == ["sum", "relu", "matmul", "transpose"]

    def box(step, title):
        graph = tg.draw(loss, trace=tr, step=step)
        return labels(graph)[name_of(graph, title)]
    assert box(1, "output").endswith("| grad 1")  # the output's gradient is known from the start
    assert box(1, "h").endswith("grad: [[1., 1.]]")  # sum, the only op using h, has sent it back
    product = "(1, 2) float64\n[[1., 3.]]"  # x @ w.T, relu's input: known once relu has run
    assert box(1, product) == product and box(2, product).endswith("grad: [[1., 1.]]")
    # w's gradient: xᵀ·g = [[1, 1], [2, 2]] for w.T, transposed back by the 4th step
    assert "grad" not in box(3, "w") and box(4, "w").endswith("grad: [[1., 2.], [1., 2.]]")


def test_without_a_step_every_op_is_done():
    o = micrograd_neuron()
    with tg.trace() as tr:
        o.backward()
    source = tg.draw(o, trace=tr).source
    assert source.count('fillcolor="#c8f7c5"') == 5 and 'fillcolor="#ffb347"' not in source


# ---------------------------------------------------------------- 3. which arrow is which operand
def test_each_arrow_into_an_op_is_labelled_with_the_formulas_name_for_that_input():
    a = tg.tensor(np.ones((2, 3)), requires_grad=True, name="A")
    b = tg.tensor(np.ones((3, 2)), requires_grad=True, name="B")
    c = tg.tensor(np.ones(2), requires_grad=True, name="C")
    product = a @ b                      # matmul: ∂a = g·bᵀ, ∂b = aᵀ·g
    difference = c - product             # sub, c broadcast: ∂a = g, ∂b = −g
    joined = tg.concatenate([difference, difference * 2.0, product], axis=0)  # a0, a1, a2
    graph = tg.draw(joined.sum())
    ids = {title: name_of(graph, title) for title in ("A", "B", "C")}
    into = {(tail, head): label for tail, head, label in arrows(graph)}
    matmul = next(head for tail, head, _ in arrows(graph) if tail == ids["A"])
    assert into[(ids["A"], matmul)] == "a" and into[(ids["B"], matmul)] == "b"
    sub = next(head for tail, head, _ in arrows(graph) if tail == ids["C"])
    # the broadcast arrow says both: which operand, and that backward sums over the broadcast
    assert into[(ids["C"], sub)] == "a: broadcast (2,)→(2, 2)\nbackward sums"
    concatenate = next(name for name, label in labels(graph).items() if label.startswith("concatenate"))
    assert sorted(label for tail, head, label in arrows(graph) if head == concatenate) == ["a0", "a1", "a2"]
    assert labels(graph)[matmul] == "matmul\n∂a = g·bᵀ\n∂b = aᵀ·g"  # one line per input's rule


def test_no_arrow_label_when_the_names_do_not_match_the_inputs():
    class Scale(tg.Function):  # two inputs, one name in the formula: no label rather than a wrong one
        formula = "∂a = g·s"

        def forward(self, a, s):
            self.s = s
            return a * s

        def backward(self, g):
            return g * self.s, None

    a = tg.tensor(np.ones(3), requires_grad=True, name="a")
    graph = tg.draw(Scale.apply(a, np.full(3, 2.0)))
    assert [label for _, _, label in arrows(graph)] == ["", "", ""]


# ---------------------------------------------------------------- 4. sensible defaults
def test_the_direction_follows_the_graphs_shape():
    loss, params = readme_mlp()
    assert tg.draw(loss, params=params).graph_attr["rankdir"] == "TB"  # a deep chain: top to bottom
    assert tg.draw(micrograd_neuron()).graph_attr["rankdir"] == "LR"   # shallow: left to right
    assert tg.draw(loss, rankdir="LR").graph_attr["rankdir"] == "LR"   # as asked
    with pytest.raises(ValueError, match="rankdir must be None, 'LR' or 'TB'"):
        tg.draw(loss, rankdir="sideways")


def test_the_readme_mlp_fits_a_screen_width_and_names_its_input(tmp_path):
    loss, params = readme_mlp()
    graph = tg.draw(loss, params=params)
    titles = [label.split("\n")[0] for label in labels(graph).values()]
    assert {"W1", "b1", "W2", "b2", "input", "constant", "output"} <= set(titles)
    assert labels(graph)[name_of(graph, "input")].startswith("input\n(64, 784) float64")
    assert labels(graph)[name_of(graph, "constant")].startswith("constant\n(64, 10) float64")  # the targets y
    width, height = png_size(tg.render(graph, tmp_path / "mlp.png"))
    assert width < 1_000 and height < 3_000  # was 6,085 x 375


def test_a_module_names_its_parameters():
    model, loss = deep_mlp(layers=2)
    source = tg.draw(loss, params=model).source
    assert "0.weight" in source and "2.bias" in source


def test_the_legend_explains_what_the_graph_shows():
    o = micrograd_neuron()
    assert "legend" not in tg.draw(o).source  # optional without a trace
    assert "legend" in tg.draw(o, legend=True).source
    with tg.trace() as tr:
        o.backward()
    source = tg.draw(o, trace=tr).source  # on by default with one
    for text in ("needs a gradient", "backward done", "backward running", "arrow label a, b"):
        assert text in source
    assert "broadcast" not in source and "fused" not in source  # only what the graph holds
    assert "legend" not in tg.draw(o, trace=tr, legend=False).source
    loss, _ = readme_mlp()
    assert "red dashed: broadcast, backward sums" in tg.draw(loss, legend=True).source


# Characters of the formulas seen rendered by graphviz-pure's fonts (a PNG of every formula, looked
# at); GLYPHS in draw.py replaces those that are not. A new character must be checked, then listed.
RENDERS = set("²·½×ΣΦσφᵀᵃᵢ‖…ₙ→∂−√≤¹⁻")


def test_every_character_of_every_formula_renders():
    for op in all_ops():
        node = type("Node", (), {"name": op.name, "formula": op.formula, "fused": ()})()
        label = draw_module._op_label(node, None, show_formulas=True)
        missing = {c for c in label if ord(c) > 127} - RENDERS
        assert not missing, f"{op.name}: {missing} not known to render; look at a PNG, then add to RENDERS or GLYPHS"
    assert "⊗" not in draw_module._drawable("∂w = Σ g ⊗ patches")


def test_the_conv2d_formula_draws_without_the_missing_glyph():
    conv = nn.Conv2d(1, 2, 3)
    graph = tg.draw(conv(np.ones((1, 1, 5, 5), np.float32)).sum())
    assert "Σ g × patches" in graph.source and "⊗" not in graph.source


# ---------------------------------------------------------------- 5. big graphs never crash
def chain(length=1000):
    x = tg.randn(3, requires_grad=True)
    y = x
    for _ in range(length):
        y = y * 1.01
    return y


def test_a_1000_op_chain_folds_and_renders(tmp_path):
    graph = tg.draw(chain())
    assert "× 997 more mul" in graph.source and len(labels(graph)) < 15
    width, height = png_size(tg.render(graph, tmp_path / "chain.png"))
    assert max(width, height) < 1_500


def test_a_20_layer_mlp_folds_its_repeated_layers_onto_a_page(tmp_path):
    model, loss = deep_mlp(layers=20)
    folded, unfolded = tg.draw(loss, params=model), tg.draw(loss, params=model, fold=False)
    assert len(labels(folded)) * 5 < len(labels(unfolded))  # 28 nodes, not 206
    assert "× 18 more linear → relu" in folded.source
    assert "0.weight" in folded.source and "38.weight" in folded.source  # the first and last layer
    assert "20.weight" not in folded.source
    width, height = png_size(tg.render(folded, tmp_path / "mlp20.png"))
    assert max(width, height) <= 2_000


def test_a_frame_inside_a_fold_highlights_the_fold():
    y = chain(length=10)
    with tg.trace() as tr:
        y.sum().backward()
    graph = tg.draw(y.sum(), trace=tr, step=5)  # sum, then the 4th mul from the end: folded
    fold = next(statement for statement in graph.body if statement.startswith("\tfold0 ["))
    assert 'fillcolor="#ffb347"' in fold


def test_too_big_for_a_bitmap_is_refused_with_what_to_do_instead(tmp_path):
    with pytest.raises(RuntimeError, match=r"would be a [\d,]+ x [\d,]+ pixel png, too big.*Write \.svg instead"):
        tg.render(tg.draw(chain(), fold=False), tmp_path / "chain.png")
    assert not (tmp_path / "chain.png").exists()


def test_too_many_nodes_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(draw_module, "MAX_NODES", 100)
    with pytest.raises(RuntimeError, match=r"the graph has 3,001 nodes and 3,000 edges.*fold=True"):
        tg.render(tg.draw(chain(), fold=False), tmp_path / "chain.svg")


def test_a_renderer_failure_is_a_clear_error_naming_the_program_and_the_size(tmp_path, monkeypatch):
    import graphviz
    crashing = tmp_path / "crashing-dot"
    crashing.write_text("#!/bin/sh\necho 'memory allocation of 110832689884 bytes failed' >&2\nkill -ABRT $$\n")
    crashing.chmod(0o755)
    monkeypatch.setattr(draw_module, "dot_program", lambda: str(crashing))
    monkeypatch.setattr(graphviz.backend.dot_command, "DOT_BINARY", graphviz.backend.dot_command.DOT_BINARY)
    graph = tg.draw(micrograd_neuron())
    with pytest.raises(RuntimeError, match=r"render: crashing-dot failed \(exit status -6\) drawing a graph of "
                                           r"\d+ nodes and \d+ edges as svg: memory allocation of 110832689884"):
        tg.render(graph, tmp_path / "neuron.svg")


# ---------------------------------------------------------------- 6. Jupyter
def test_jupyter_display_is_quiet(capfd):
    import graphviz
    loss, _ = readme_mlp()  # ∂, ·, ᵀ: dot warns about their widths on stderr
    graph = tg.draw(loss)
    assert isinstance(graph, graphviz.Digraph)
    capfd.readouterr()
    bundle = graph._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")
    assert graph._repr_mimebundle_(include=["image/png"])["image/png"][:4] == b"\x89PNG"
    assert capfd.readouterr().err == ""
    assert type(graph.copy()) is type(graph)


# ---------------------------------------------------------------- 7. backprop, played
def traced_mlp():
    rng = np.random.default_rng(1)
    x = tg.tensor(rng.random((8, 4)), name="x")
    W = tg.tensor(rng.standard_normal((3, 4)), requires_grad=True, name="W")
    b = tg.tensor(np.zeros(3), requires_grad=True, name="b")
    logits = x @ W.T + b
    logits.name = "logits"
    loss = tg.nn.functional.cross_entropy(logits, np.array([0, 1, 2, 0, 1, 2, 0, 1]))
    with tg.trace(keep="all") as tr:
        loss.backward()
    return loss, tr


def test_play_backprop_is_one_page_with_one_svg_per_step_and_a_slider(tmp_path):
    from tensorgrad.teaching import play_backprop
    loss, tr = traced_mlp()
    player = play_backprop(loss, tr)
    page = player._repr_html_()
    assert len(player) == len(tr.steps) == 4
    assert page.count("<svg") == len(tr.steps) and "<?xml" not in page
    assert f'type="range" min="1" max="{len(tr.steps)}"' in page
    assert "step 2 of 4: add (output logits)" in page and "http" not in page.replace("http://www.w3.org", "")
    saved = player.save(tmp_path / "backprop.html")
    assert saved.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_every_frame_has_the_same_layout():
    loss, tr = traced_mlp()
    player = frames_module.play_backprop(loss, tr)

    def geometry(svg):  # every shape's coordinates, without its colours or text
        return re.findall(r'(?:points|cx|cy|d)="([^"]+)"', re.sub(r"<text.*?</text>", "", svg, flags=re.DOTALL))
    assert all(geometry(svg) == geometry(player.svgs[0]) for svg in player.svgs)
    assert player.svgs[0] != player.svgs[-1]  # the colours and gradients do change


def test_play_backprop_refuses_too_many_frames():
    y = chain(length=300)
    with tg.trace() as tr:
        y.sum().backward()
    with pytest.raises(ValueError, match=r"301 frames is too many.*steps=range\(1, 302, 2\)"):
        frames_module.play_backprop(y.sum(), tr)


def test_collapse_module_folds_a_layernorm_and_an_attention_into_one_box_each():
    import tensorgrad.nn.functional as F
    tg.manual_seed(0)
    model = tg.nn.Sequential(tg.nn.Linear(6, 8), tg.nn.LayerNorm(8), tg.nn.Tanh(), tg.nn.BatchNorm1d(8),
                             tg.nn.Linear(8, 3))
    loss = F.cross_entropy(model(tg.randn(5, 6)), np.array([0, 1, 2, 0, 1]))
    full = tg.draw(loss, params=model).source
    folded = tg.draw(loss, params=model, collapse="module").source
    assert 'label="normalize' in full and 'label="normalize' not in folded  # inside the box
    assert "1: LayerNorm" in folded and "3 ops, 2 parameters inside" in folded
    assert "0: Linear" in folded and "tanh" in folded  # one-op modules stay ops
    # BatchNorm1d trains as one op (batch_norm): an op box named for the module, not a fold
    assert "batch_norm" in full and 'label="3: BatchNorm1d' in folded and "fold1" not in folded

    class Block(tg.nn.Module):
        def __init__(self):
            super().__init__()
            self.attn, self.ln = tg.nn.MultiheadAttention(4, 2), tg.nn.LayerNorm(4)

        def forward(self, x):
            return self.ln(x + self.attn(x, x, x, need_weights=False)[0])

    block = Block()
    source = tg.draw(block(tg.randn(3, 2, 4)).sum(), params=block, collapse="module").source
    assert "attn: MultiheadAttention" in source and "ln: LayerNorm" in source and 'label="softmax' not in source
