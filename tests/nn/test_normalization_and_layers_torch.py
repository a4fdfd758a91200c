"""The layers the courses after the documents use (issue 21): normalization with buffers,
embeddings, more activations, channel dropout, the Module API and gradient clipping, each
compared with PyTorch for the forward, the input and parameter gradients and the state."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from tensorgrad import nn

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(21)


def copy_weights(ours: nn.Module, theirs: "torch.nn.Module") -> None:
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})


def run_both(ours, theirs, x, weights=None):
    """Forward both on the same float64 input, backward the same weighted sum; return the outputs
    and the input gradients."""
    xt = torch.tensor(x, requires_grad=True)
    xo = tg.tensor(x, requires_grad=True)
    out, out_t = ours(xo), theirs(xt)
    weights = RNG.standard_normal(out.shape) if weights is None else weights
    (out * weights).sum().backward()
    (out_t * torch.tensor(weights)).sum().backward()
    return out, out_t, xo.grad, xt.grad.numpy()


def assert_same_parameters_and_grads(ours, theirs, rtol=1e-10):
    for (name, p), (name_t, pt) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == name_t
        np.testing.assert_allclose(p.data, pt.detach().numpy(), rtol=rtol, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(p.grad, pt.grad.numpy(), rtol=rtol, atol=1e-10, err_msg=name)


LAYERS = {
    "BatchNorm1d (N, C)": (lambda: nn.BatchNorm1d(5), lambda: torch.nn.BatchNorm1d(5), (8, 5)),
    "BatchNorm1d (N, C, L)": (lambda: nn.BatchNorm1d(3, momentum=0.2), lambda: torch.nn.BatchNorm1d(3, momentum=0.2), (4, 3, 6)),
    "BatchNorm1d no affine": (lambda: nn.BatchNorm1d(5, affine=False), lambda: torch.nn.BatchNorm1d(5, affine=False), (8, 5)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), lambda: torch.nn.BatchNorm2d(3), (4, 3, 5, 5)),
    "BatchNorm2d cumulative": (lambda: nn.BatchNorm2d(2, momentum=None), lambda: torch.nn.BatchNorm2d(2, momentum=None), (3, 2, 4, 4)),
    "LayerNorm": (lambda: nn.LayerNorm(6), lambda: torch.nn.LayerNorm(6), (4, 3, 6)),
    "LayerNorm two axes": (lambda: nn.LayerNorm((3, 6)), lambda: torch.nn.LayerNorm((3, 6)), (4, 3, 6)),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4), lambda: torch.nn.GroupNorm(2, 4), (3, 4, 5, 5)),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2), (4, 6)),
    "ELU": (lambda: nn.ELU(1.5), lambda: torch.nn.ELU(1.5), (4, 6)),
    "SiLU": (lambda: nn.SiLU(), lambda: torch.nn.SiLU(), (4, 6)),
    "Softplus": (lambda: nn.Softplus(), lambda: torch.nn.Softplus(), (4, 6)),
    "Softplus beta threshold": (lambda: nn.Softplus(beta=2.0, threshold=1.0), lambda: torch.nn.Softplus(beta=2.0, threshold=1.0), (4, 6)),
    "Mish": (lambda: nn.Mish(), lambda: torch.nn.Mish(), (4, 6)),
    "GELU tanh": (lambda: nn.GELU(approximate="tanh"), lambda: torch.nn.GELU(approximate="tanh"), (4, 6)),
    "Identity": (lambda: nn.Identity(7, unused=True), lambda: torch.nn.Identity(7, unused=True), (4, 6)),
}


@pytest.mark.parametrize("make, make_torch, shape", LAYERS.values(), ids=list(LAYERS))
def test_the_layer_matches_pytorch_in_training_and_evaluation(make, make_torch, shape):
    ours, theirs = make().to(np.float64), make_torch().double()
    copy_weights(ours, theirs)
    for step in range(3):  # several training steps: running statistics move
        x = RNG.standard_normal(shape) * 2 + 0.5
        out, out_t, grad, grad_t = run_both(ours, theirs, x)
        np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(grad, grad_t, rtol=1e-9, atol=1e-12)
    assert_same_parameters_and_grads(ours, theirs, rtol=1e-9)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():  # running mean, variance and batch count too
        np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-10, err_msg=key)
    ours.eval(), theirs.eval()
    x = RNG.standard_normal(shape)
    with tg.no_grad(), torch.no_grad():
        np.testing.assert_allclose(ours(tg.tensor(x)).data, theirs(torch.tensor(x)).numpy(), rtol=1e-10, atol=1e-12)


def test_batchnorm_state_loads_into_pytorch_and_back():
    ours = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Tanh())
    for _ in range(3):
        ours(tg.randn(16, 4))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.Tanh())
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    assert int(theirs[1].num_batches_tracked) == 3
    back = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Tanh())
    back.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(back[1].running_var.data, ours[1].running_var.data)


def test_batchnorm_refuses_one_value_per_channel_in_training_and_a_wrong_shape():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="BatchNorm1d: expected more than 1 value per channel when training"):
        bn(tg.randn(1, 3))
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected input of 2-D or 3-D with 3 channels on axis 1, got shape \(4, 5\)"):
        bn(tg.randn(4, 5))
    bn.eval()
    assert bn(tg.randn(1, 3)).shape == (1, 3)  # one sample is fine with the running statistics


def test_embedding_matches_pytorch_with_repeated_indices_and_padding():
    ours = nn.Embedding(10, 4, padding_idx=2).to(np.float64)
    theirs = torch.nn.Embedding(10, 4, padding_idx=2).double()
    copy_weights(ours, theirs)
    assert not ours.weight.data[2].any()
    index = np.array([[1, 2, 1], [9, 2, 0]])
    weights = RNG.standard_normal((2, 3, 4))
    out, out_t = ours(tg.tensor(index)), theirs(torch.tensor(index))
    np.testing.assert_array_equal(out.data, out_t.detach().numpy())
    (out * weights).sum().backward()
    (out_t * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-12)
    assert not ours.weight.grad[2].any()  # the padding row gets no gradient
    with pytest.raises(IndexError, match=r"Embedding: indices must be in \[0, 10\), got 0 to 10"):
        ours(tg.tensor([0, 10]))


def test_dropout2d_zeroes_whole_channels():
    tg.manual_seed(0)
    layer = nn.Dropout2d(0.5)
    x = tg.ones(8, 16, 3, 3)
    y = layer(x).data
    per_channel = y.reshape(8, 16, 9)
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert (per_channel.min(axis=2) == per_channel.max(axis=2)).all()  # a channel is kept or dropped whole
    assert 0.3 < (per_channel[..., 0] == 0).mean() < 0.7
    layer.eval()
    assert layer(x) is x


# ----------------------------------------------------------------------------------- buffers
class WithBuffers(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(3, np.float32))
        self.register_buffer("mean", np.zeros(3, np.float32))
        self.register_buffer("steps", np.array(0))
        self.register_buffer("cache", np.ones(2, np.float32), persistent=False)
        self.plain = tg.zeros(3)  # a plain tensor attribute: not state, as in PyTorch

    def forward(self, x):
        return (x - self.mean) * self.scale


def test_buffers_are_state_but_not_parameters():
    module = WithBuffers()
    assert list(module.state_dict()) == ["scale", "mean", "steps"]
    assert [name for name, _ in module.named_buffers()] == ["mean", "steps", "cache"]
    assert [name for name, _ in module.named_parameters()] == ["scale"]
    module.mean = np.full(3, 2.0, np.float32)          # assigning keeps it a buffer
    assert module.state_dict()["mean"][0] == 2.0
    module.to(np.float64)
    assert module.mean.dtype == np.float64 and module.steps.dtype.kind == "i"
    for clone in (copy.deepcopy(module), pickle.loads(pickle.dumps(module))):
        assert clone.state_dict()["mean"][0] == 2.0 and "cache" in dict(clone.named_buffers())
    fresh = WithBuffers()
    fresh.load_state_dict(module.state_dict())
    assert fresh.mean.data[0] == 2.0
    with pytest.raises(TypeError, match="buffer 'mean' must not require grad"):
        module.mean = tg.zeros(3, requires_grad=True)


# ------------------------------------------------------------------------------- module API
def test_apply_module_dict_parameter_list_and_slicing():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Sequential"]  # children first, as PyTorch
    model.apply(lambda m: nn.init.zeros_(m.bias) if isinstance(m, nn.Linear) else None)
    assert not model[0].bias.data.any()
    head = model[1:]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[1] is model[2]
    blocks = nn.ModuleDict({"encoder": nn.Linear(3, 4), "decoder": nn.Linear(4, 3)})
    assert list(blocks) == ["encoder", "decoder"] and "encoder" in blocks
    assert list(blocks.state_dict()) == ["encoder.weight", "encoder.bias", "decoder.weight", "decoder.bias"]
    scales = nn.ParameterList([np.ones(2, np.float32), tg.zeros(3)])
    assert [p.shape for p in scales] == [(2,), (3,)] and len(list(scales.parameters())) == 2


def test_gradient_clipping_matches_pytorch():
    arrays = [RNG.standard_normal((3, 4)) * 5, RNG.standard_normal(4)]
    ours = [tg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    for p, pt, a in zip(ours, theirs, arrays):
        p.grad, pt.grad = a * 3, torch.tensor(a * 3)
    total = nn.utils.clip_grad_norm_(ours, 1.0)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert total == pytest.approx(float(total_t), rel=1e-12)
    for p, pt in zip(ours, theirs):
        np.testing.assert_allclose(p.grad, pt.grad.numpy(), rtol=1e-12)
    nn.utils.clip_grad_value_(ours, 0.1)
    torch.nn.utils.clip_grad_value_(theirs, 0.1)
    for p, pt in zip(ours, theirs):
        np.testing.assert_allclose(p.grad, pt.grad.numpy())


def test_trunc_normal_and_orthogonal_initialisers():
    w = tg.zeros(200, 300)
    nn.init.trunc_normal_(w, std=0.5, a=-0.4, b=0.6)
    assert w.data.min() >= -0.4 and w.data.max() <= 0.6 and 0.05 < w.data.mean() < 0.15
    q = tg.zeros(6, 10)
    nn.init.orthogonal_(q, gain=2.0)
    np.testing.assert_allclose(q.data @ q.data.T, 4 * np.eye(6), atol=1e-5)
    conv = tg.zeros(8, 2, 3, 3)
    nn.init.orthogonal_(conv)
    flat = conv.data.reshape(8, -1)
    np.testing.assert_allclose(flat @ flat.T, np.eye(8), atol=1e-5)


# ------------------------------------------------------------------------------ a course program
def test_makemore_mlp_with_batchnorm_trains_as_in_pytorch():
    """makemore part 3: embedding table, Linear without bias, BatchNorm1d, tanh, cross-entropy,
    minibatch SGD with a learning-rate decay, running statistics used at sampling time."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 27, size=(200, 3))
    Y = rng.integers(0, 27, size=200)

    def build(lib):
        torch_nn = torch.nn if lib is torch else nn
        return torch_nn.Sequential(torch_nn.Embedding(27, 10), torch_nn.Flatten(), torch_nn.Linear(30, 64, bias=False),
                                   torch_nn.BatchNorm1d(64), torch_nn.Tanh(), torch_nn.Linear(64, 27))

    ours, theirs = build(tg).to(np.float64), build(torch).double()
    copy_weights(ours, theirs)
    opt, opt_t = tg.optim.SGD(ours.parameters(), lr=0.1), torch.optim.SGD(theirs.parameters(), lr=0.1)
    losses, losses_t = [], []
    for step in range(12):
        batch = rng.integers(0, 200, 32)
        lr = 0.1 if step < 8 else 0.01
        for o in (opt, opt_t):
            o.param_groups[0]["lr"] = lr
        loss = F.cross_entropy(ours(tg.tensor(X[batch])), Y[batch])
        loss_t = torch.nn.functional.cross_entropy(theirs(torch.tensor(X[batch])), torch.tensor(Y[batch]))
        for o, l in ((opt, loss), (opt_t, loss_t)):
            o.zero_grad()
            l.backward()
            o.step()
        losses.append(loss.item())
        losses_t.append(loss_t.item())
    np.testing.assert_allclose(losses, losses_t, rtol=1e-8)
    assert_same_parameters_and_grads(ours, theirs, rtol=1e-7)
    ours.eval(), theirs.eval()
    with tg.no_grad(), torch.no_grad():
        logits = ours(tg.tensor(X[:5])).data
        np.testing.assert_allclose(logits, theirs(torch.tensor(X[:5])).numpy(), rtol=1e-8)


FUNCTIONS = {
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), lambda x: torch.nn.functional.leaky_relu(x, 0.1)),
    "elu": (lambda x: F.elu(x, 0.7), lambda x: torch.nn.functional.elu(x, 0.7)),
    "silu": (F.silu, torch.nn.functional.silu),
    "mish": (F.mish, torch.nn.functional.mish),
    "layer_norm": (lambda x: F.layer_norm(x, (6,), tg.tensor(np.linspace(0.5, 1.5, 6)), tg.tensor(np.ones(6))),
                   lambda x: torch.nn.functional.layer_norm(x, (6,), torch.tensor(np.linspace(0.5, 1.5, 6)),
                                                            torch.ones(6, dtype=torch.float64))),
}


@pytest.mark.parametrize("ours, theirs", FUNCTIONS.values(), ids=list(FUNCTIONS))
def test_the_functional_spellings_match_pytorch(ours, theirs):
    x = RNG.standard_normal((4, 6)) * 3
    xo, xt = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, out_t = ours(xo), theirs(xt)
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = RNG.standard_normal(out.shape)
    (out * w).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_functional_embedding_is_a_row_lookup():
    weight = tg.tensor(RNG.standard_normal((5, 3)), requires_grad=True)
    out = F.embedding(tg.tensor([[4, 0, 4]]), weight)
    np.testing.assert_array_equal(out.data, weight.data[[[4, 0, 4]]])
    out.sum().backward()
    np.testing.assert_array_equal(weight.grad[:, 0], [1, 0, 0, 0, 2])
