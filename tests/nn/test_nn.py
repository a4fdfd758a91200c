"""tg.nn: Module bookkeeping, layers, init schemes, functional ops and losses."""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import nn
from tensorgrad.nn import functional as F


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.fc2 = nn.Linear(3, 2)
        self.scale = 2.0  # a plain attribute, not registered

    def forward(self, x):
        return self.fc2(self.fc1(x).relu())


def test_parameters_and_dotted_names():
    model = TwoLayer()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert len(list(model.parameters())) == 4 and model.num_parameters() == 4 * 3 + 3 + 3 * 2 + 2
    assert [name for name, _ in model.named_children()] == ["fc1", "fc2"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in model.parameters())
    shared = nn.Sequential(model.fc1, model.fc1)
    assert len(list(shared.parameters())) == 2  # a shared layer counts once


def test_sequential_names_indexing_and_repr():
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))
    assert list(model.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    assert isinstance(model[1], nn.ReLU) and len(model) == 4
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=784, out_features=128, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Dropout(p=0.5)\n"
        "  (3): Linear(in_features=128, out_features=10, bias=True)\n"
        ")")
    named = nn.Sequential(OrderedDict(fc1=nn.Linear(2, 2), act=nn.Tanh()))
    assert list(named.state_dict()) == ["fc1.weight", "fc1.bias"]
    with pytest.raises(TypeError, match="Sequential: item 0 is a int, not a Module"):
        nn.Sequential(3)


def test_train_eval_and_dropout():
    model = nn.Sequential(nn.Linear(10, 10), nn.Dropout(0.5))
    assert model.training and model[1].training
    model.eval()
    assert not model[1].training
    x = tg.ones(1000, 10)
    np.testing.assert_array_equal(model[1](x).data, x.data)  # identity in eval
    model.train()
    tg.manual_seed(0)
    y = model[1](x).data
    kept = y != 0
    assert 0.45 < kept.mean() < 0.55
    np.testing.assert_allclose(y[kept], 2.0)  # inverted dropout scales by 1/(1-p)


def test_dropout_backward_uses_the_same_mask():
    x = tg.tensor(np.ones((4, 50)), requires_grad=True)
    y = F.dropout(x, 0.3, training=True, rng=np.random.default_rng(0))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)  # d(sum(x·m))/dx = m


def test_state_dict_round_trip_and_errors_list_every_problem():
    a, b = TwoLayer(), TwoLayer()
    b.load_state_dict(a.state_dict())
    for (_, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
    weight_array = b.fc1.weight.data
    b.load_state_dict(a.state_dict())
    assert b.fc1.weight.data is weight_array  # copied in place: optimizers keep working
    broken = a.state_dict()
    del broken["fc1.bias"]
    broken["extra.weight"] = np.zeros(2)
    broken["fc2.weight"] = np.zeros((5, 5))
    with pytest.raises(RuntimeError) as info:
        b.load_state_dict(broken)
    message = str(info.value)
    assert "missing keys: fc1.bias" in message and "unexpected keys: extra.weight" in message
    assert "fc2.weight: checkpoint (5, 5) vs model (2, 3)" in message


def test_zero_grad_and_to_float64():
    model = TwoLayer()
    model(tg.ones(2, 4)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model.to(np.float64)
    assert all(p.dtype == np.float64 for p in model.parameters())


def test_to_converts_gradients_too():
    model = TwoLayer()
    out = model(tg.ones(2, 4)).sum()
    out.backward(retain_graph=True)
    first = [p.grad.copy() for p in model.parameters()]
    model.to(np.float64)  # as PyTorch's module.to(dtype): the gradient is converted, not dropped
    assert all(p.grad is not None and p.grad.dtype == np.float64 for p in model.parameters())
    out.backward()  # the old graph still holds the same values (in float32): its gradient adds up
    for p, g in zip(model.parameters(), first):
        np.testing.assert_allclose(p.grad, 2 * g, rtol=1e-6)


def test_average_pooling_is_not_a_kind_of_max_pooling_nor_log_softmax_of_softmax():
    import typing

    assert not isinstance(nn.AvgPool2d(2), nn.MaxPool2d) and not isinstance(nn.LogSoftmax(), nn.Softmax)
    assert "fusable_max_pool" not in dir(nn.AvgPool2d)  # only max pooling fuses into a convolution
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.LogSoftmax(dim=1)) == "LogSoftmax(axis=1)"
    assert typing.get_type_hints(nn.Sequential.__init__)  # its annotation evaluates (help(), IDEs)


def test_module_requires_super_init():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\) before assigning .fc."):
        Broken()


def test_linear_matches_the_document_layout_and_pytorch_init_bounds():
    layer = nn.Linear(784, 128)
    assert layer.weight.shape == (128, 784) and layer.bias.shape == (128,)
    bound = 1 / math.sqrt(784)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.weight.data).max() > 0.9 * bound
    x = np.random.default_rng(0).random((5, 784)).astype(np.float32)
    np.testing.assert_allclose(layer(x).data, x @ layer.weight.data.T + layer.bias.data, rtol=1e-5)


def test_init_schemes_have_the_documented_spread():
    w = nn.Parameter(np.empty((512, 784), dtype=np.float32))
    rng = np.random.default_rng(0)
    nn.init.he_normal_(w, rng=rng)
    assert abs(w.data.std() - math.sqrt(2 / 784)) < 0.01 * math.sqrt(2 / 784)  # document 004
    nn.init.lecun_normal_(w, rng=rng)
    assert abs(w.data.std() - 1 / math.sqrt(784)) < 0.01 / math.sqrt(784)  # document 000
    nn.init.xavier_uniform_(w, rng=rng)
    assert abs(np.abs(w.data).max() - math.sqrt(6 / (784 + 512))) < 1e-3
    nn.init.xavier_normal_(w, rng=rng)
    assert abs(w.data.std() - math.sqrt(2 / (784 + 512))) < 0.01 * math.sqrt(2 / (784 + 512))
    nn.init.kaiming_uniform_(w, a=math.sqrt(5), rng=rng)  # PyTorch's Linear default
    assert abs(np.abs(w.data).max() - 1 / math.sqrt(784)) < 1e-3
    conv = nn.Parameter(np.empty((32, 16, 3, 3)))
    nn.init.kaiming_normal_(conv, rng=rng)
    assert abs(conv.data.std() - math.sqrt(2 / (16 * 9))) < 0.03 * math.sqrt(2 / (16 * 9))
    assert w.dtype == np.float32
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(nn.Parameter(np.zeros(3)))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_labels_and_one_hot_agree_with_log_softmax(reduction):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, 6)
    fused = F.cross_entropy(tg.tensor(logits), labels, reduction=reduction)
    one_hot = F.cross_entropy(tg.tensor(logits), np.eye(4)[labels], reduction=reduction)
    explicit = -(tg.tensor(logits).log_softmax(axis=-1) * np.eye(4)[labels]).sum(axis=1)
    expected = {"mean": explicit.mean(), "sum": explicit.sum(), "none": explicit}[reduction]
    np.testing.assert_allclose(fused.data, expected.data, rtol=1e-12)
    np.testing.assert_allclose(one_hot.data, expected.data, rtol=1e-12)
    nll = F.nll_loss(tg.tensor(logits).log_softmax(axis=-1), labels, reduction=reduction)
    np.testing.assert_allclose(nll.data, expected.data, rtol=1e-12)


@pytest.mark.parametrize("target_kind", ["labels", "one_hot", "soft"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_gradcheck(target_kind, reduction):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 5, 4)
    target = {"labels": labels, "one_hot": np.eye(5)[labels],
              "soft": rng.dirichlet(np.ones(5), size=4)}[target_kind]
    x = tg.tensor(rng.standard_normal((4, 5)), requires_grad=True)
    assert tg.gradcheck(lambda t: F.cross_entropy(t, target, reduction=reduction), [x])


def test_binary_losses_gradcheck_and_agree():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((5, 1))
    t = rng.integers(0, 2, (5, 1)).astype(np.float64)
    for reduction in ("mean", "sum", "none"):
        with_logits = F.binary_cross_entropy_with_logits(tg.tensor(z), t, reduction=reduction)
        on_probs = F.binary_cross_entropy(tg.tensor(z).sigmoid(), t, reduction=reduction)
        np.testing.assert_allclose(with_logits.data, on_probs.data, rtol=1e-10)
        assert tg.gradcheck(lambda x: F.binary_cross_entropy_with_logits(x, t, reduction=reduction),
                            [tg.tensor(z, requires_grad=True)])
        assert tg.gradcheck(lambda x: F.binary_cross_entropy(x.sigmoid(), t, reduction=reduction),
                            [tg.tensor(z, requires_grad=True)])
    assert tg.gradcheck(lambda x: F.mse_loss(x, t), [tg.tensor(z, requires_grad=True)])


def test_losses_are_stable_for_huge_logits():
    for dtype in (np.float32, np.float64):
        z = tg.tensor(np.array([[1e4, -1e4], [-1e4, 1e4]], dtype=dtype), requires_grad=True)
        loss = F.cross_entropy(z, np.array([1, 1]))
        assert np.isfinite(loss.item()) and loss.dtype == dtype
        loss.backward()
        assert np.all(np.isfinite(z.grad)) and z.grad.dtype == dtype
        b = tg.tensor(np.array([1e4, -1e4, 0.0], dtype=dtype), requires_grad=True)
        bce = F.binary_cross_entropy_with_logits(b, np.array([0.0, 1.0, 1.0], dtype=dtype))
        np.testing.assert_allclose(bce.item(), (1e4 + 1e4 + np.log(2)) / 3, rtol=1e-5)
        bce.backward()
        assert np.all(np.isfinite(b.grad))
        g = tg.tensor(np.array([-1e4, 1e4], dtype=dtype)).gelu()
        np.testing.assert_array_equal(g.data, [0, 1e4])


def test_loss_errors_name_the_problem():
    logits = tg.zeros(4, 10)
    with pytest.raises(ValueError, match=r"cross_entropy: target labels must be in \[0, 10\).*got labels from 0 to 12"):
        F.cross_entropy(logits, np.array([0, 1, 2, 12]))
    for dtype in (np.int64, np.int32, np.int8):  # a negative label must not wrap around to class 9
        with pytest.raises(ValueError, match=r"cross_entropy: target labels must be in \[0, 10\).*got labels from -1 to 2"):
            F.cross_entropy(logits, np.array([0, -1, 2, 1], dtype))
    for labels in ([0, -1, 2, 1], [0, 1, 2, 10]):
        with pytest.raises(ValueError, match=r"nll_loss: target labels must be in \[0, 10\)"):
            F.nll_loss(logits.log_softmax(axis=-1), np.array(labels))
    with pytest.raises(ValueError, match=r"cross_entropy: input has 4 samples \(shape \(4, 10\)\) but target has shape \(3,\)"):
        F.cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"cross_entropy: target must be class labels of shape \(4,\)"):
        F.cross_entropy(logits, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="cross_entropy: reduction must be one of"):
        F.cross_entropy(logits, np.zeros(4, dtype=int), reduction="avg")
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input must be probabilities in \[0, 1\]"):
        F.binary_cross_entropy(tg.tensor([2.0]), np.array([1.0]))
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(2,\) and target shape \(3,\) differ"):
        F.mse_loss(tg.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 5\) does not fit weight of shape \(3, 4\)"):
        nn.Linear(4, 3)(tg.zeros(2, 5))
    with pytest.raises(ValueError, match="dropout: p must be in"):
        F.dropout(tg.zeros(2), 1.0)


def test_linear_op_gradcheck_including_batch_one_and_no_bias():
    rng = np.random.default_rng(3)
    for shape in [(5, 4), (1, 4), (2, 3, 4)]:
        x = tg.tensor(rng.standard_normal(shape), requires_grad=True)
        w = tg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
        b = tg.tensor(rng.standard_normal(3), requires_grad=True)
        assert tg.gradcheck(lambda x, w, b: F.linear(x, w, b), [x, w, b])
        assert tg.gradcheck(lambda x, w: F.linear(x, w), [x, w])


def test_functional_accepts_dim_or_axis_and_one_hot():
    x = tg.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(F.softmax(x, dim=0).data, F.softmax(x, axis=0).data)
    np.testing.assert_array_equal(nn.LogSoftmax(dim=1)(x).data, x.log_softmax(axis=1).data)
    assert F.one_hot(np.array([0, 2]), 3).tolist() == [[1, 0, 0], [0, 0, 1]]
    assert F.one_hot(np.array([1, 3])).shape == (2, 4)
    with pytest.raises(ValueError, match="give axis= or dim=, not both"):
        F.softmax(x, axis=0, dim=1)


@pytest.mark.parametrize("layer", [nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.GELU(), nn.Softmax(), nn.LogSoftmax()])
def test_activation_modules_match_tensor_methods(layer):
    x = tg.tensor(np.linspace(-3, 3, 12).reshape(3, 4))
    method = {"ReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "GELU": "gelu",
              "Softmax": "softmax", "LogSoftmax": "log_softmax"}[type(layer).__name__]
    np.testing.assert_array_equal(layer(x).data, getattr(x, method)().data)


def test_a_model_shows_as_an_html_summary_in_jupyter():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    page = model._repr_html_()
    assert page.count("<tr>") == 1 + 4  # the header, the Sequential and its three modules
    assert "weight (3, 4), bias (3,)" in page and "in_features=4, out_features=3, bias=True" in page
    assert "23 numbers to learn" in page  # 4·3 + 3 + 3·2 + 2
