"""A layer and its activation fused into one node (``activation=`` of F.linear / F.conv2d, and
what Sequential runs for Linear/Conv2d followed by ReLU/Sigmoid/Tanh): the same numbers as the
two ops run one after the other, correct gradients, and a clear error for a bad activation."""
import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import nn
from tensorgrad.nn import functional as F
from tensorgrad.ops import _windows

from tensorgrad.models.networks import DocumentCNN

ACTIVATIONS = ["relu", "sigmoid", "tanh"]


def _grads(*tensors):
    grads = [t.grad.copy() for t in tensors]
    for t in tensors:
        t.grad = None
    return grads


def _params(rng, *shapes, dtype=np.float32):
    return [tg.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_fused_linear_equals_linear_then_activation_bit_for_bit(activation):
    rng = np.random.default_rng(0)
    x, w, b = _params(rng, (16, 7), (5, 7), (5,))
    g = rng.standard_normal((16, 5)).astype(np.float32)
    fused = F.linear(x, w, b, activation=activation)
    fused.backward(g)
    fused_grads = _grads(x, w, b)
    separate = getattr(F.linear(x, w, b), activation)()
    separate.backward(g)
    np.testing.assert_array_equal(fused.data, separate.data)
    for a, c in zip(fused_grads, _grads(x, w, b)):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, c)
    assert fused.grad_fn.name == f"linear+{activation}"


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("chunk_bytes", [1, 1 << 30])  # one image per chunk; the whole batch at once
def test_fused_conv2d_equals_conv2d_then_activation(monkeypatch, activation, chunk_bytes):
    monkeypatch.setattr(_windows, "CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(1)
    x, w, b = _params(rng, (4, 3, 9, 8), (6, 3, 3, 3), (6,))
    fused = F.conv2d(x, w, b, stride=(2, 1), padding=1, activation=activation)
    g = rng.standard_normal(fused.shape).astype(np.float32)
    fused.backward(g)
    fused_grads = _grads(x, w, b)
    separate = getattr(F.conv2d(x, w, b, stride=(2, 1), padding=1), activation)()
    separate.backward(g)
    np.testing.assert_array_equal(fused.data, separate.data)
    for a, c in zip(fused_grads, _grads(x, w, b)):
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-6)
    assert fused.grad_fn.name == f"conv2d+{activation}"


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_fused_layers_pass_gradcheck(activation):
    rng = np.random.default_rng(2)
    x, w, b = _params(rng, (3, 4), (2, 4), (2,), dtype=np.float64)
    assert tg.gradcheck(lambda x, w, b: F.linear(x, w, b, activation=activation), [x, w, b])
    x, w = _params(rng, (2, 2, 5, 5), (3, 2, 3, 3), dtype=np.float64)
    assert tg.gradcheck(lambda x, w: F.conv2d(x, w, padding=1, activation=activation), [x, w])


def test_sequential_fuses_exact_layer_activation_pairs_only():
    tg.manual_seed(0)

    class Shifted(nn.ReLU):  # a subclass may compute something else: it must not be fused
        def forward(self, x):
            return super().forward(x) + 1.0

    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 3), Shifted(), nn.Linear(3, 2)).fuse()
    x = np.ones((2, 4), np.float32)
    out = model(x)
    ops = []
    node = out.grad_fn
    while node is not None:
        ops.append(node.name)
        node = next((t.grad_fn for t in node.inputs if t.grad_fn is not None), None)
    assert ops == ["linear", "add", "relu", "linear", "linear+tanh"]
    model.fuse(False)
    np.testing.assert_array_equal(model(x).data, out.data)

    model.fuse()
    model[1].forward = lambda t: t.tanh() * 2.0  # a forward patched onto one instance is honoured
    np.testing.assert_allclose(model(x).data, model[4](model[3](model[2](model[0](x).tanh() * 2.0))).data)


def test_document_cnn_keeps_its_layer_names_and_fuses_each_relu_and_its_pooling():
    model = DocumentCNN(conv_channels=(2, 3), hidden=4, dropout=False)
    assert [k for k in model.state_dict()] == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                               "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    x = np.random.default_rng(3).random((2, 1, 28, 28), dtype=np.float32)
    fused = model.fuse()(x)
    model.fuse(False)
    separate = model(x)
    np.testing.assert_array_equal(fused.data, separate.data)
    names = set()
    stack = [fused.grad_fn]
    while stack:
        node = stack.pop()
        names.add(node.name)
        stack.extend(t.grad_fn for t in node.inputs if t.grad_fn is not None)
    assert {"conv2d+relu", "conv2d+relu+max_pool2d", "linear+relu"} <= names
    assert not names & {"relu", "max_pool2d"}


def test_a_changed_fused_output_is_refused_by_backward():
    rng = np.random.default_rng(4)
    x, w, b = _params(rng, (3, 4), (2, 4), (2,))
    y = F.linear(x, w, b, activation="sigmoid")
    z = y.sum()  # sum keeps no array: only the fused node holds y
    with tg.no_grad():
        y += 1.0  # the sigmoid's derivative is written from y: it must not have changed
    with pytest.raises(RuntimeError, match=r"op 'linear\+sigmoid' saved for backward was changed in place"):
        z.backward()


def test_an_unknown_activation_is_a_clear_error():
    rng = np.random.default_rng(5)
    x, w, b = _params(rng, (3, 4), (2, 4), (2,))
    with pytest.raises(ValueError, match=r"linear: activation must be None or one of \['relu', 'sigmoid', 'tanh'\], got 'gelu'"):
        F.linear(x, w, b, activation="gelu")
    x4, w4 = _params(rng, (1, 1, 4, 4), (1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: activation must be None or one of"):
        F.conv2d(x4, w4, activation="softmax")


def _conv_relu_pool(x, w, b, activation, max_pool, fused):
    if fused:
        return F.conv2d(x, w, b, padding=1, activation=activation, max_pool=max_pool)
    y = F.conv2d(x, w, b, padding=1)
    return F.max_pool2d(y.relu() if activation else y, max_pool)


@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("max_pool", [2, (2, 3)])
@pytest.mark.parametrize("chunk_bytes", [1, 1 << 30])  # one image per chunk; the whole batch at once
@pytest.mark.parametrize("ties", [False, True])
def test_conv2d_relu_max_pool2d_fused_equals_the_three_ops(monkeypatch, activation, max_pool, chunk_bytes, ties):
    # Output 9x8 is not a multiple of (2, 3): the last row and columns get no gradient. With ties
    # (small integers: many equal values, and all-zero windows after relu) the gradient must go
    # to each window's first maximum, as max_pool2d (and PyTorch) send it.
    monkeypatch.setattr(_windows, "CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(7)
    x, w, b = _params(rng, (3, 2, 9, 8), (4, 2, 3, 3), (4,))
    if ties:
        for t in (x, w, b):
            t.data[...] = np.round(t.data)
    fused = _conv_relu_pool(x, w, b, activation, max_pool, fused=True)
    g = rng.standard_normal(fused.shape).astype(np.float32)
    fused.backward(g)
    fused_grads = _grads(x, w, b)
    separate = _conv_relu_pool(x, w, b, activation, max_pool, fused=False)
    separate.backward(g)
    np.testing.assert_array_equal(fused.data, separate.data)
    for a, c in zip(fused_grads, _grads(x, w, b)):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-6)
    assert fused.grad_fn.name == ("conv2d+relu+max_pool2d" if activation else "conv2d+max_pool2d")
    assert fused.grad_fn.formula.startswith("max_pool2d: ∂x = g routed to the (first) max")


def test_fused_max_pool_passes_gradcheck():
    rng = np.random.default_rng(8)
    x, w, b = _params(rng, (2, 2, 6, 7), (3, 2, 3, 3), (3,), dtype=np.float64)
    assert tg.gradcheck(lambda x, w, b: F.conv2d(x, w, b, activation="relu", max_pool=2), [x, w, b])


def test_max_pool_fuses_only_after_relu_or_no_activation_and_within_the_output():
    rng = np.random.default_rng(9)
    x, w = _params(rng, (1, 1, 5, 5), (1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: max_pool can be fused after no activation or 'relu' only, not 'sigmoid'"):
        F.conv2d(x, w, activation="sigmoid", max_pool=2)
    with pytest.raises(ValueError, match=r"conv2d: max_pool kernel \(4, 4\) is larger than the convolution's output 3x3"):
        F.conv2d(x, w, max_pool=4)


def _node_names(out):
    names, node = [], out.grad_fn
    while node is not None:
        names.append(node.name)
        node = next((t.grad_fn for t in node.inputs if t.grad_fn is not None), None)
    return names[::-1]


@pytest.mark.parametrize("layers, expected", [
    ([nn.Conv2d(2, 3, 3), nn.ReLU(), nn.MaxPool2d(2)], ["conv2d+relu+max_pool2d"]),
    ([nn.Conv2d(2, 3, 3), nn.MaxPool2d((2, 3))], ["conv2d+max_pool2d"]),
    ([nn.Conv2d(2, 3, 3), nn.Sigmoid(), nn.MaxPool2d(2)], ["conv2d+sigmoid", "max_pool2d"]),  # ties: see the op
    ([nn.Conv2d(2, 3, 3), nn.ReLU(), nn.MaxPool2d(2, stride=1)], ["conv2d+relu", "max_pool2d"]),  # overlapping
    ([nn.Conv2d(2, 3, 3), nn.ReLU(), nn.MaxPool2d(2, padding=1)], ["conv2d+relu", "max_pool2d"]),
    ([nn.Conv2d(2, 3, 3), nn.ReLU(), nn.AvgPool2d(2)], ["conv2d+relu", "avg_pool2d"]),
    ([nn.Linear(7, 4), nn.MaxPool2d(2)], ["linear", "max_pool2d"]),
])
def test_sequential_fuses_a_conv_its_relu_and_a_tiling_max_pool(layers, expected):
    x = np.random.default_rng(10).standard_normal((2, 2, 7, 7)).astype(np.float32)
    model = nn.Sequential(*layers).fuse()
    fused = model(x)
    assert _node_names(fused) == expected
    model.fuse(False)
    separate = model(x)
    assert len(_node_names(separate)) == len(layers)
    np.testing.assert_array_equal(fused.data, separate.data)


def test_by_default_every_modules_own_forward_runs(monkeypatch):
    # a student who edits nn.ReLU.forward sees the change: nothing is fused until model.fuse()
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = np.ones((2, 3), np.float32)
    before = model(x).data
    monkeypatch.setattr(nn.ReLU, "forward", lambda self, t: t * 0.0)
    after = model(x)
    np.testing.assert_allclose(after.data, model[2].bias.data[None, :].repeat(2, axis=0))
    assert not np.allclose(after.data, before)
    assert _node_names(after) == ["linear", "mul", "linear"]


def test_fuse_turns_fused_nodes_on_in_every_sequential_and_off_again():
    inner = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    outer = nn.Sequential(inner, nn.Linear(4, 2), nn.Tanh())
    x = np.ones((2, 3), np.float32)
    assert outer.fuse() is outer
    assert inner.fuse_activations and outer.fuse_activations
    assert _node_names(outer(x)) == ["linear+relu", "linear+tanh"]
    outer.fuse(False)
    assert _node_names(outer(x)) == ["linear", "relu", "linear", "tanh"]
