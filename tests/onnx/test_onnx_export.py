"""tg.onnx.export: the recipes' models, fused and not, and models with normalization layers run in
onnxruntime as in tensorgrad on a batch of another size; an op without a mapping is refused by
name; ``tensorgrad export`` writes a checkpoint's model."""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import tensorgrad as tg  # noqa: E402
import tensorgrad.onnx as tg_onnx  # noqa: E402  (also tg.onnx, once tensorgrad/__init__.py imports it)
from tensorgrad import nn  # noqa: E402
from tensorgrad.data import load_mnist_sample  # noqa: E402
from tensorgrad.models.recipes import RECIPES, prepare_data  # noqa: E402
from tensorgrad.nn import functional as F  # noqa: E402

MLP_RECIPES = ["doc000", "doc001", "doc002", "doc003-binary", "doc003-lbfgs", "doc004", "best-mlp"]
TOLERANCE = dict(rtol=1e-5, atol=1e-5)


@lru_cache(maxsize=None)
def _sample():
    return load_mnist_sample()


@lru_cache(maxsize=None)
def _test_images(recipe_name: str) -> np.ndarray:
    """The first test images of the embedded sample, prepared as the recipe prepares them."""
    return prepare_data(RECIPES[recipe_name], _sample()).x_test[:16]


def _run(model_proto, feeds: dict) -> list[np.ndarray]:
    onnx.checker.check_model(model_proto, full_check=True)  # with strict shape inference
    session = ort.InferenceSession(model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def _tensorgrad(model, x) -> np.ndarray:
    model.eval()
    with tg.no_grad():
        return model(tg.tensor(x)).data


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "unfused"])
@pytest.mark.parametrize("name", MLP_RECIPES + ["doc003-cnn"])
def test_a_recipe_model_runs_in_onnxruntime_as_in_tensorgrad(name, fused):
    recipe = RECIPES[name]
    tg.manual_seed(0)
    model = recipe.make_model(fused=fused)
    images = _test_images(name)
    proto = tg_onnx.export(model, images[:3], None, input_names=["images"], output_names=["logits"])
    assert model.training  # traced in eval mode, the mode put back

    # the parameters are initializers under their state_dict names, the batch axis is symbolic
    assert {i.name for i in proto.graph.initializer} == set(model.state_dict())
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    ops = [node.op_type for node in proto.graph.node]
    assert ops.count("Gemm") == sum(isinstance(m, nn.Linear) for m in model.modules())
    if recipe.images:
        assert ops == ["Conv", "Relu", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Relu", "Gemm"]

    x = images[3:10]  # 7 images: another batch size than the example's 3
    (got,) = _run(proto, {"images": x})
    want = _tensorgrad(model, x)
    assert got.shape == want.shape == (7, 1 if recipe.binary_digits else 10)
    np.testing.assert_allclose(got, want, **TOLERANCE)


def test_fused_and_unfused_models_export_the_same_onnx_operators():
    tg.manual_seed(0)
    model = RECIPES["doc003-cnn"].make_model(fused=True)
    example = _test_images("doc003-cnn")[:2]
    fused = tg_onnx.export(model, example, None)
    unfused = tg_onnx.export(model.fuse(False), example, None)
    assert [n.op_type for n in fused.graph.node] == [n.op_type for n in unfused.graph.node]
    assert "conv2d+relu+max_pool2d" in " ".join(n.doc_string for n in fused.graph.node)


class _NormalizedMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.bn = nn.Linear(784, 32), nn.BatchNorm1d(32)
        self.fc2, self.ln = nn.Linear(32, 16), nn.LayerNorm(16)
        self.fc3, self.dropout = nn.Linear(16, 10), nn.Dropout(0.5)

    def forward(self, x):
        h = self.dropout(self.bn(self.fc1(x)).relu())
        h = F.gelu(self.ln(self.fc2(h)))
        return self.fc3(h).log_softmax(axis=-1)


def test_batchnorm_and_layernorm_export_in_eval_mode(rng):
    tg.manual_seed(0)
    model = _NormalizedMLP()
    model.bn.running_mean.data[...] = rng.normal(0, 0.5, 32)  # statistics as a trained model has
    model.bn.running_var.data[...] = rng.uniform(0.5, 2.0, 32)
    model.bn.weight.data[...] = rng.uniform(0.5, 1.5, 32)
    model.ln.bias.data[...] = rng.normal(0, 0.1, 16)
    images = _test_images("doc004")
    proto = tg_onnx.export(model, images[:4], None)
    assert model.training and model.bn.training and model.dropout.training
    names = {i.name for i in proto.graph.initializer}
    assert {"fc1.weight", "bn.weight", "bn.bias", "ln.weight", "ln.bias", "bn.running_mean/view"} <= names
    ops = [n.op_type for n in proto.graph.node]
    assert {"Erf", "Sqrt", "ReduceMean", "LogSoftmax"} <= set(ops) and "Dropout" not in ops

    x = images[4:13]
    (got,) = _run(proto, {"input": x})
    want = _tensorgrad(model, x)  # eval mode: the running statistics, no dropout
    np.testing.assert_allclose(got, want, **TOLERANCE)


def test_convolutions_pooling_and_normalization_of_images(rng):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), nn.Tanh(),
                          nn.AvgPool2d(2), nn.GroupNorm(2, 4), nn.MaxPool2d(3, stride=1, padding=1),
                          nn.Conv2d(4, 3, 3), nn.Sigmoid(), nn.Flatten(), nn.Linear(75, 10), nn.GELU("tanh"),
                          nn.Softmax(axis=1)).fuse()
    model[1].running_mean.data[...] = rng.normal(0, 0.2, 4)
    images = _test_images("doc003-cnn")
    proto = tg_onnx.export(model, images[:2], None)
    ops = {n.op_type for n in proto.graph.node}
    assert {"Conv", "AveragePool", "MaxPool", "Sigmoid", "Tanh", "Softmax"} <= ops
    x = images[2:7]
    (got,) = _run(proto, {"input": x})
    np.testing.assert_allclose(got, _tensorgrad(model, x), **TOLERANCE)


def test_tensor_expressions_export_with_a_dynamic_batch(rng):
    w = tg.tensor(rng.standard_normal((6, 3)).astype(np.float32), requires_grad=True)
    keep = rng.standard_normal((1, 12)) > 0  # a constant condition

    def f(x, shift):
        a = x[:, 1:4] * 2.0 - x[:, ::2][:, :3] / (x[:, -3:].abs() + 1.0)
        b = tg.concatenate([a, x[:, None, 0].expand(-1, 1) ** 2], axis=1)       # (N, 4)
        c = tg.stack([b, b.exp(), tg.maximum(b, 0.5).clip(-1.0, 1.0)], axis=1)  # (N, 3, 4)
        d = c.transpose(0, 2, 1).reshape(x.shape[0], -1) + shift                # (N, 12)
        e = d.var(axis=1, keepdims=True) + d.max(axis=1, keepdims=True) - d.min(axis=-1, keepdims=True)
        g = tg.where(keep, d.sqrt().log(), -d).sum(axis=1) / d.mean(axis=1)
        h = (x @ w).tanh().sigmoid() + (x[..., 0:2] @ w.T.T[:2]).softmax(axis=0).sum(axis=0, keepdims=True)
        return e.squeeze(1) + g + d.logsumexp(axis=1), h

    x = rng.uniform(0.5, 2.0, (9, 6)).astype(np.float32)
    shift = rng.uniform(0.0, 1.0, (1, 12)).astype(np.float32)
    proto = tg_onnx.export(f, (x[:4], shift), None, input_names=["x", "shift"], output_names=["y", "h"])
    got = _run(proto, {"x": x, "shift": shift})
    want = [t.data for t in f(tg.tensor(x), tg.tensor(shift))]
    for a, b in zip(got, want):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, **TOLERANCE)


def test_indexing_einsum_cumsum_and_the_other_mapped_ops(rng):
    w = tg.tensor(rng.standard_normal((4, 5)).astype(np.float32), requires_grad=True)

    def f(x):  # x (N, 5)
        c = tg.einsum("nk,ok->no", x, w)                                           # (N, 4)
        d = c.cumsum(axis=1) + x.repeat(1, 2)[:, 1:5] + c.norm(axis=1, keepdims=True)
        e = (x[:, ::-1][:, 1:] + x[..., None, 1:].squeeze(1)).sin() * x[:, -1:0:-1].cos()
        t = (w @ w.T).tril().sum(axis=0) + (w @ w.T).triu(1).sum(axis=1)           # (4,)
        g = F.softplus(d) ** x[:, :4].abs() + x[:, [0, 0, 1, 3]].astype(np.float64).astype(np.float32) + t
        h = x[:, :4].clip(np.array([-0.5, -0.1, 0.0, 0.1], np.float32), 0.5)
        return g + h, x.index_select(1, np.array([4, 0, 0])), e

    proto = tg_onnx.export(f, rng.standard_normal((3, 5)).astype(np.float32), None)
    assert {"Einsum", "CumSum", "ReduceL2", "Tile", "Where", "Softplus", "Gather", "Cast"} <= {
        n.op_type for n in proto.graph.node}
    x = rng.standard_normal((6, 5)).astype(np.float32)
    for got, want in zip(_run(proto, {"input": x}), f(tg.tensor(x))):
        np.testing.assert_allclose(got, want.data, **TOLERANCE)

    def picked(x):  # gather(dim, index): GatherElements
        return x.gather(1, np.array([[1, 0, 3], [2, 4, 4]]))

    x = x[:2]
    proto = tg_onnx.export(picked, x, None, dynamic_batch=False)
    np.testing.assert_array_equal(_run(proto, {"input": x})[0], picked(tg.tensor(x)).data)


def test_an_input_read_as_a_constant_is_warned_about(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    with pytest.warns(UserWarning, match="input 'mask' is not used by the traced graph"):
        tg_onnx.export(lambda t, mask: tg.where(mask.data > 0, t, 0.0), (x, x), None, input_names=["x", "mask"],
                       dynamic_batch=False)


def test_a_graph_that_depends_on_the_batch_size_is_refused_a_dynamic_batch(rng):
    # a dilated convolution runs the general one: the batch axis moves (a stack of the kernel's
    # offsets in front), and the reshapes after it hold the example's batch size
    tg.manual_seed(0)
    model = nn.Conv2d(2, 3, 3, dilation=2)
    x = rng.standard_normal((2, 2, 9, 9)).astype(np.float32)
    message = r"depends on the batch size \(its constant 'reshape_\d+/shape' is \[9, 2, .*dynamic_batch=False"
    with pytest.raises(tg_onnx.ExportError, match=message):
        tg_onnx.export(model, x, None)
    proto = tg_onnx.export(model, x, None, dynamic_batch=False)
    (got,) = _run(proto, {"input": x})
    np.testing.assert_allclose(got, _tensorgrad(model, x), **TOLERANCE)


def test_a_fixed_batch_and_another_opset():
    tg.manual_seed(0)
    model = RECIPES["doc004"].make_model()
    x = _test_images("doc004")[:5]
    proto = tg_onnx.export(model, x, None, dynamic_batch=False, opset=18)
    assert proto.opset_import[0].version == 18
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [5, 784]
    (got,) = _run(proto, {"input": x})
    np.testing.assert_allclose(got, _tensorgrad(model, x), **TOLERANCE)


class Swish(tg.Function):
    formula = "∂a = g·(y + σ(a)·(1 − y))   (y = a·σ(a))"

    def forward(self, a):
        self.save(a)
        return a / (1 + np.exp(-a))

    def backward(self, g):
        (a,) = self.saved
        s = 1 / (1 + np.exp(-a))
        return g * (s + a * s * (1 - s))


def test_an_op_without_a_mapping_is_refused_by_name_and_place(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    message = "onnx.export: no ONNX mapping for op 'swish' (node 1, output shape (4, 5))"
    with pytest.raises(tg_onnx.ExportError, match=re.escape(message)):
        tg_onnx.export(lambda t: Swish.apply(t * 2.0).sum(axis=1), x, None)
    with pytest.raises(tg_onnx.ExportError, match="no ONNX mapping for op 'dropout'.*training mode"):
        tg_onnx.export(lambda t: F.dropout(t, 0.5), x, None)


def test_an_op_of_your_own_exports_once_it_has_a_mapping(rng, monkeypatch):
    def swish(g, s):
        g.op("Mul", s.inputs[0], g.op("Sigmoid", s.inputs[0]), out=s.output)

    monkeypatch.setitem(tg_onnx.ONNX_OPS, "swish", swish)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    proto = tg_onnx.export(lambda t: Swish.apply(t), x, None)
    (got,) = _run(proto, {"input": x})
    np.testing.assert_allclose(got, x / (1 + np.exp(-x)), **TOLERANCE)


def test_an_output_computed_without_a_graph_is_refused(rng):
    def unrecorded(t):
        with tg.no_grad():
            return t * 2.0

    with pytest.raises(tg_onnx.ExportError, match="'output' does not depend on the inputs.*no_grad"):
        tg_onnx.export(unrecorded, rng.standard_normal((2, 3)).astype(np.float32), None)


def test_the_export_command_writes_a_checkpoints_model(tmp_path, capsys):
    from tensorgrad.training.cli import main
    from tensorgrad.training.loop import save_training_state

    recipe = RECIPES["doc003-cnn"]
    tg.manual_seed(1)
    model = recipe.make_model()
    data = prepare_data(recipe, _sample())
    checkpoint = tmp_path / "model.npz"
    save_training_state(checkpoint, model, metadata={"recipe": recipe.name, "dataset": "sample",
                                                      "input_mean_std": data.input_mean_std})
    output = tmp_path / "cnn.onnx"
    assert main(["export", "--checkpoint", str(checkpoint), "-o", str(output)]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "(batch, 1, 28, 28)" in out and "(x - 0.13" in out

    proto = onnx.load(str(output))
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["recipe"] == "doc003-cnn" and props["preprocessing"].startswith("pixels/255, then (x - ")
    x = data.x_test[:5]  # traced on one image, run on five
    (got,) = _run(proto, {"images": x})
    np.testing.assert_allclose(got, _tensorgrad(model, x), **TOLERANCE)

    assert main(["export", "--checkpoint", str(checkpoint), "-o", str(checkpoint)]) == 2
    assert "is the checkpoint itself" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["bn-mlp", "resnet-cnn", "fast-mlp", "fast-cnn"])
def test_the_batchnorm_and_residual_recipes_run_in_onnxruntime_as_in_tensorgrad(name):
    tg.manual_seed(0)
    model = RECIPES[name].make_model()
    images = _test_images(name)
    model(tg.tensor(images[:8]))  # training steps move the running statistics the export must carry
    proto = tg_onnx.export(model, images[:3], None, input_names=["images"], output_names=["logits"])
    names = {i.name for i in proto.graph.initializer}
    assert {k for k in model.state_dict() if "running_mean" in k} <= {n.split("/")[0] for n in names}
    (got,) = _run(proto, {"images": images[3:10]})
    np.testing.assert_allclose(got, _tensorgrad(model, images[3:10]), **TOLERANCE)


@pytest.mark.parametrize("shape", [(6, 4, 5, 5), (6, 4)])
@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_on_the_batch_statistics_exports_as_normalize_then_scale_and_shift(shape, activation, affine):
    """F.batch_norm(..., training=True) traced as a function (a Module exports in eval mode, with
    its running statistics): the batch_norm node, fused activation included."""
    rng = np.random.default_rng(0)
    params = [tg.tensor(rng.standard_normal(4).astype(np.float32), requires_grad=True) for _ in range(2)] if affine else []

    def model(x):
        return F.batch_norm(x, None, None, *params, training=True, activation=activation)

    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    proto = tg_onnx.export(model, x, input_names=["x"])
    (got,) = _run(proto, {"x": x})
    np.testing.assert_allclose(got, model(tg.tensor(x)).data, **TOLERANCE)
    assert (activation == "relu") == any(node.op_type == "Relu" for node in proto.graph.node)
