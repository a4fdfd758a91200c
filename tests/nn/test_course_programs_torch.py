"""Programs of the kind the courses after the documents contain (issue 21), each run once in
PyTorch and once in tensorgrad from the same initial weights, comparing loss trajectories and
final gradients (float64): recurrent cells and layers, attention, a GPT block, the MNIST CNN of
"What is torch.nn really?", a CS231n conv net with BatchNorm2d and Adam, a character LSTM."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from tensorgrad import nn
from tensorgrad.nn.attention import scaled_dot_product_attention

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)


def twin(ours: nn.Module, theirs: "torch.nn.Module") -> tuple[nn.Module, "torch.nn.Module"]:
    ours.to(np.float64)
    theirs.double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return ours, theirs


def assert_close_grads(ours, theirs, rtol=1e-8):
    for (name, p), (_, pt) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad, pt.grad.numpy(), rtol=rtol, atol=1e-10, err_msg=name)


RECURRENT = {
    "RNNCell": (lambda: nn.RNNCell(3, 5), lambda: torch.nn.RNNCell(3, 5), "cell"),
    "RNNCell relu": (lambda: nn.RNNCell(3, 5, nonlinearity="relu"), lambda: torch.nn.RNNCell(3, 5, nonlinearity="relu"), "cell"),
    "LSTMCell": (lambda: nn.LSTMCell(3, 5), lambda: torch.nn.LSTMCell(3, 5), "lstm cell"),
    "GRUCell": (lambda: nn.GRUCell(3, 5), lambda: torch.nn.GRUCell(3, 5), "cell"),
    "RNN 2 layers": (lambda: nn.RNN(3, 5, num_layers=2), lambda: torch.nn.RNN(3, 5, num_layers=2), "seq"),
    "LSTM batch_first": (lambda: nn.LSTM(3, 5, batch_first=True), lambda: torch.nn.LSTM(3, 5, batch_first=True), "seq"),
    "LSTM 2 layers": (lambda: nn.LSTM(3, 5, num_layers=2), lambda: torch.nn.LSTM(3, 5, num_layers=2), "seq"),
    "GRU no bias": (lambda: nn.GRU(3, 5, bias=False), lambda: torch.nn.GRU(3, 5, bias=False), "seq"),
}


@pytest.mark.parametrize("make, make_torch, kind", RECURRENT.values(), ids=list(RECURRENT))
def test_recurrent_layers_match_pytorch(make, make_torch, kind):
    ours, theirs = twin(make(), make_torch())
    x = RNG.standard_normal((4, 3) if "cell" in kind else (6, 4, 3))
    xo, xt = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, out_t = ours(xo), theirs(xt)
    flat = lambda o: [o] if not isinstance(o, tuple) else [t for part in o for t in (part if isinstance(part, tuple) else (part,))]
    total, total_t = 0, 0
    for a, b in zip(flat(out), flat(out_t)):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-10, atol=1e-12)
        w = RNG.standard_normal(a.shape)
        total, total_t = total + (a * w).sum(), total_t + (b * torch.tensor(w)).sum()
    total.backward()
    total_t.backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    assert_close_grads(ours, theirs, rtol=1e-9)


def test_scaled_dot_product_attention_matches_pytorch():
    q, k, v = (RNG.standard_normal((2, 3, 5, 4)) for _ in range(3))
    mask = RNG.random((5, 5)) > 0.3
    np.fill_diagonal(mask, True)
    for kwargs in ({}, {"is_causal": True}, {"attn_mask": mask}, {"scale": 0.3}):
        ours = [tg.tensor(a, requires_grad=True) for a in (q, k, v)]
        theirs = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
        torch_kwargs = {key: torch.tensor(val) if isinstance(val, np.ndarray) else val for key, val in kwargs.items()}
        out = scaled_dot_product_attention(*ours, **kwargs)
        out_t = torch.nn.functional.scaled_dot_product_attention(*theirs, **torch_kwargs)
        np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
        w = RNG.standard_normal(out.shape)
        (out * w).sum().backward()
        (out_t * torch.tensor(w)).sum().backward()
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("batch_first", [False, True])
def test_multihead_attention_matches_pytorch(batch_first):
    ours, theirs = twin(nn.MultiheadAttention(8, 2, batch_first=batch_first),
                        torch.nn.MultiheadAttention(8, 2, batch_first=batch_first))
    shape = (2, 5, 8) if batch_first else (5, 2, 8)
    x = RNG.standard_normal(shape)
    causal = ~np.tril(np.ones((5, 5), dtype=bool))
    padding = np.zeros((2, 5), dtype=bool)
    padding[1, 4] = True
    xo, xt = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, weights = ours(xo, xo, xo, attn_mask=causal, key_padding_mask=padding)
    out_t, weights_t = theirs(xt, xt, xt, attn_mask=torch.tensor(causal), key_padding_mask=torch.tensor(padding))
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights.data, weights_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = RNG.standard_normal(out.shape)
    (out * w).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    assert_close_grads(ours, theirs)


@pytest.mark.parametrize("size", [1, (2, 3), (None, 2)])
def test_adaptive_pools_match_pytorch(size):
    x = RNG.standard_normal((2, 3, 5, 7))
    for ours_cls, theirs_cls in ((nn.AdaptiveAvgPool2d, torch.nn.AdaptiveAvgPool2d),
                                 (nn.AdaptiveMaxPool2d, torch.nn.AdaptiveMaxPool2d)):
        xo, xt = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, out_t = ours_cls(size)(xo), theirs_cls(size)(xt)
        np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-12)
        w = RNG.standard_normal(out.shape)
        (out * w).sum().backward()
        (out_t * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------- course programs
def train_both(ours, theirs, batches, loss_fn, loss_fn_t, make_opt, make_opt_t, steps):
    opt, opt_t = make_opt(ours.parameters()), make_opt_t(theirs.parameters())
    losses, losses_t = [], []
    for step in range(steps):
        x, y = batches(step)
        loss = loss_fn(ours(tg.tensor(x)), y)
        loss_t = loss_fn_t(theirs(torch.tensor(x)), torch.tensor(y))
        for o, l in ((opt, loss), (opt_t, loss_t)):
            o.zero_grad()
            l.backward()
        assert_close_grads(ours, theirs, rtol=1e-7)
        opt.step()
        opt_t.step()
        losses.append(loss.item())
        losses_t.append(loss_t.item())
    np.testing.assert_allclose(losses, losses_t, rtol=1e-8)
    return losses


class GPTBlock:
    """One "let's build GPT" block: token + position embeddings, LayerNorm, causal self-attention
    with heads, a residual, LayerNorm, an MLP (GELU), a residual, the language-model head."""

    @staticmethod
    def build(lib, vocab=11, block=6, embed=8, heads=2):
        n = torch.nn if lib is torch else nn

        class Block(n.Module):
            def __init__(self):
                super().__init__()
                self.tok, self.pos = n.Embedding(vocab, embed), n.Embedding(block, embed)
                self.ln1, self.ln2, self.ln_f = n.LayerNorm(embed), n.LayerNorm(embed), n.LayerNorm(embed)
                self.attn = n.MultiheadAttention(embed, heads, batch_first=True)
                self.mlp = n.Sequential(n.Linear(embed, 4 * embed), n.GELU(), n.Linear(4 * embed, embed))
                self.head = n.Linear(embed, vocab)

            def forward(self, idx):
                T = idx.shape[1]
                arange = torch.arange(T) if lib is torch else tg.arange(T)
                x = self.tok(idx) + self.pos(arange)
                h = self.ln1(x)
                causal = np.triu(np.ones((T, T), dtype=bool), 1)
                attended, _ = self.attn(h, h, h, attn_mask=torch.tensor(causal) if lib is torch else causal, need_weights=False)
                x = x + attended
                x = x + self.mlp(self.ln2(x))
                return self.head(self.ln_f(x))

        return Block()


def test_gpt_block_trains_as_in_pytorch():
    tg.manual_seed(1)
    ours, theirs = twin(GPTBlock.build(tg), GPTBlock.build(torch))
    data = RNG.integers(0, 11, size=(40, 7))

    def batches(step):
        rows = data[np.random.default_rng(step).integers(0, 40, 4)]
        return rows[:, :-1], rows[:, 1:]

    train_both(ours, theirs, batches,
               lambda logits, y: F.cross_entropy(logits.reshape(-1, 11), y.reshape(-1)),
               lambda logits, y: torch.nn.functional.cross_entropy(logits.reshape(-1, 11), y.reshape(-1)),
               lambda p: tg.optim.AdamW(p, lr=1e-2), lambda p: torch.optim.AdamW(p, lr=1e-2), steps=5)


def test_char_lstm_trains_as_in_pytorch():
    """A character-level LSTM language model (embedding, LSTM, linear head), Adam, 5 steps."""
    def build(lib):
        n = torch.nn if lib is torch else nn

        class CharLSTM(n.Module):
            def __init__(self):
                super().__init__()
                self.emb, self.lstm, self.head = n.Embedding(15, 6), n.LSTM(6, 10, batch_first=True), n.Linear(10, 15)

            def forward(self, idx):
                out, _ = self.lstm(self.emb(idx))
                return self.head(out)

        return CharLSTM()

    tg.manual_seed(2)
    ours, theirs = twin(build(tg), build(torch))
    text = RNG.integers(0, 15, size=200)

    def batches(step):
        starts = np.random.default_rng(step).integers(0, 190, 4)
        window = np.stack([text[s:s + 9] for s in starts])
        return window[:, :-1], window[:, 1:]

    train_both(ours, theirs, batches,
               lambda logits, y: F.cross_entropy(logits.reshape(-1, 15), y.reshape(-1)),
               lambda logits, y: torch.nn.functional.cross_entropy(logits.reshape(-1, 15), y.reshape(-1)),
               lambda p: tg.optim.Adam(p, lr=1e-2), lambda p: torch.optim.Adam(p, lr=1e-2), steps=5)


def test_the_mnist_cnn_of_what_is_torch_nn_really():
    """The tutorial's last model: view to images, three stride-2 convolutions with ReLU, an
    adaptive average pool and a view, in a Sequential with a Lambda module; SGD with momentum."""
    def build(lib):
        n = torch.nn if lib is torch else nn

        class Lambda(n.Module):  # the tutorial defines it itself
            def __init__(self, func):
                super().__init__()
                self.func = func

            def forward(self, x):
                return self.func(x)

        return n.Sequential(Lambda(lambda x: x.view(-1, 1, 28, 28)),
                            n.Conv2d(1, 4, kernel_size=3, stride=2, padding=1), n.ReLU(),
                            n.Conv2d(4, 4, kernel_size=3, stride=2, padding=1), n.ReLU(),
                            n.Conv2d(4, 10, kernel_size=3, stride=2, padding=1), n.ReLU(),
                            n.AdaptiveAvgPool2d(1), Lambda(lambda x: x.view(x.size(0), -1)))

    tg.manual_seed(3)
    ours, theirs = twin(build(tg), build(torch))
    images = RNG.random((64, 784))
    labels = RNG.integers(0, 10, 64)
    train_both(ours, theirs, lambda step: (images[step * 16:(step + 1) * 16], labels[step * 16:(step + 1) * 16]),
               F.cross_entropy, torch.nn.functional.cross_entropy,
               lambda p: tg.optim.SGD(p, lr=0.1, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), steps=4)


def test_a_cs231n_conv_net_with_batchnorm2d_and_adam():
    """conv - batchnorm - relu - pool - affine - dropout - affine, Adam. Dropout draws its masks
    from each library's own generator, so the trajectories are compared with it in place but
    inactive (p=0 at training, as the assignment's no-dropout baseline), and Dropout's own
    behaviour is tested in test_layers."""
    def build(lib, p):
        n = torch.nn if lib is torch else nn
        return n.Sequential(n.Conv2d(3, 6, 3, padding=1), n.BatchNorm2d(6), n.ReLU(), n.MaxPool2d(2),
                            n.Flatten(), n.Linear(6 * 4 * 4, 16), n.ReLU(), n.Dropout(p), n.Linear(16, 10))

    tg.manual_seed(4)
    ours, theirs = twin(build(tg, 0.0), build(torch, 0.0))
    images = RNG.standard_normal((24, 3, 8, 8))
    labels = RNG.integers(0, 10, 24)
    train_both(ours, theirs, lambda step: (images[step * 8:(step + 1) * 8], labels[step * 8:(step + 1) * 8]),
               F.cross_entropy, torch.nn.functional.cross_entropy,
               lambda p: tg.optim.Adam(p, lr=1e-2), lambda p: torch.optim.Adam(p, lr=1e-2), steps=3)
    ours.eval(), theirs.eval()
    with tg.no_grad(), torch.no_grad():
        # outputs are O(1); atol for the few near 0, where float64 rounding after 3 Adam steps shows (2e-11)
        np.testing.assert_allclose(ours(tg.tensor(images)).data, theirs(torch.tensor(images)).numpy(),
                                   rtol=1e-8, atol=1e-10)


CONVS = {
    "Conv2d dilation": (lambda: nn.Conv2d(4, 6, 3, dilation=2, padding=1), lambda: torch.nn.Conv2d(4, 6, 3, dilation=2, padding=1), (2, 4, 9, 9)),
    "Conv2d groups": (lambda: nn.Conv2d(4, 6, 3, groups=2, stride=2), lambda: torch.nn.Conv2d(4, 6, 3, groups=2, stride=2), (2, 4, 9, 8)),
    "Conv2d depthwise": (lambda: nn.Conv2d(4, 4, 3, groups=4, bias=False), lambda: torch.nn.Conv2d(4, 4, 3, groups=4, bias=False), (2, 4, 6, 6)),
    "Conv2d same odd": (lambda: nn.Conv2d(4, 3, 3, padding="same"), lambda: torch.nn.Conv2d(4, 3, 3, padding="same"), (2, 4, 7, 6)),
    "Conv2d same even dilated": (lambda: nn.Conv2d(4, 3, (2, 4), padding="same", dilation=(1, 2)),
                                 lambda: torch.nn.Conv2d(4, 3, (2, 4), padding="same", dilation=(1, 2)), (2, 4, 7, 9)),
    "Conv2d valid": (lambda: nn.Conv2d(4, 3, 3, padding="valid"), lambda: torch.nn.Conv2d(4, 3, 3, padding="valid"), (2, 4, 7, 6)),
    "Conv1d": (lambda: nn.Conv1d(3, 5, 3, padding=1), lambda: torch.nn.Conv1d(3, 5, 3, padding=1), (2, 3, 10)),
    "Conv1d dilated causal-style": (lambda: nn.Conv1d(3, 4, 2, dilation=2), lambda: torch.nn.Conv1d(3, 4, 2, dilation=2), (2, 3, 10)),
    "Conv1d same": (lambda: nn.Conv1d(3, 4, 4, padding="same"), lambda: torch.nn.Conv1d(3, 4, 4, padding="same"), (2, 3, 9)),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1),
                        lambda: torch.nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1), (2, 4, 5, 5)),
    "ConvTranspose2d groups dilation": (lambda: nn.ConvTranspose2d(4, 6, (3, 2), groups=2, dilation=(1, 2)),
                                        lambda: torch.nn.ConvTranspose2d(4, 6, (3, 2), groups=2, dilation=(1, 2)), (2, 4, 5, 4)),
}


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")  # PyTorch's own, about its speed
@pytest.mark.parametrize("make, make_torch, shape", CONVS.values(), ids=list(CONVS))
def test_convolutions_with_every_option_match_pytorch(make, make_torch, shape):
    ours, theirs = twin(make(), make_torch())
    x = RNG.standard_normal(shape)
    xo, xt = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, out_t = ours(xo), theirs(xt)
    assert out.shape == tuple(out_t.shape)
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = RNG.standard_normal(out.shape)
    (out * w).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    assert_close_grads(ours, theirs, rtol=1e-9)


def test_new_layers_name_the_expected_and_received_shape():
    with pytest.raises(ValueError, match=r"MultiheadAttention: expected query of shape \(L, N, E\) with E = embed_dim = 8, got shape \(5, 2, 6\)"):
        nn.MultiheadAttention(8, 2)(tg.randn(5, 2, 6), tg.randn(5, 2, 8), tg.randn(5, 2, 8))
    with pytest.raises(ValueError, match=r"MultiheadAttention: key \(4, 3, 8\) and value \(4, 3, 8\) must have .* same batch size as query \(5, 2, 8\)"):
        nn.MultiheadAttention(8, 2)(tg.randn(5, 2, 8), tg.randn(4, 3, 8), tg.randn(4, 3, 8))
    with pytest.raises(ValueError, match=r"LSTM: expected input \(seq, batch, 3\).* got shape \(6, 4, 5\)"):
        nn.LSTM(3, 5)(tg.randn(6, 4, 5))
    with pytest.raises(ValueError, match=r"LayerNorm: expected the last axes of the input to be \(6,\), got shape \(4, 5\)"):
        nn.LayerNorm(6)(tg.randn(4, 5))
    with pytest.raises(ValueError, match=r"GroupNorm: expected 4 channels on axis 1, got shape \(3, 5, 2, 2\)"):
        nn.GroupNorm(2, 4)(tg.randn(3, 5, 2, 2))
    with pytest.raises(ValueError, match=r"Conv1d: expected \(N, 3, L\) input, got shape \(2, 4, 9\)"):
        nn.Conv1d(3, 4, 3)(tg.randn(2, 4, 9))
    with pytest.raises(ValueError, match=r"ConvTranspose2d: expected \(N, 4, H, W\) input, got shape \(2, 3, 5, 5\)"):
        nn.ConvTranspose2d(4, 3, 3)(tg.randn(2, 3, 5, 5))
    with pytest.raises(TypeError, match="Embedding: indices must be integers, got dtype float32"):
        nn.Embedding(5, 2)(tg.tensor([0.5]))


def test_the_small_resnet_trains_as_in_pytorch_with_its_batchnorms_going_by_shares():
    """models.networks.SmallResNet (the resnet-cnn recipe: residual blocks of conv-BatchNorm2d-ReLU,
    max pooling, global average pooling), written again in PyTorch, trained 3 Adam steps on a batch
    large enough that BatchNorm goes by shares of rows and the 16-channel convolutions take the
    input gradient by patches; then compared in eval mode, with the running statistics."""
    from tensorgrad.models.networks import SmallResNet
    from tensorgrad.ops import normalize

    class Block(torch.nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn1 = torch.nn.BatchNorm2d(c)
            self.conv2 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn2 = torch.nn.BatchNorm2d(c)

        def forward(self, x):
            return torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))) + x)

    n = torch.nn
    theirs = n.Sequential(OrderedDict([
        ("stem", n.Conv2d(1, 16, 3, padding=1, bias=False)), ("stem_bn", n.BatchNorm2d(16)), ("stem_relu", n.ReLU()),
        ("block1", Block(16)), ("block2", Block(16)), ("pool", n.MaxPool2d(2)),
        ("widen", n.Conv2d(16, 32, 3, padding=1, bias=False)), ("widen_bn", n.BatchNorm2d(32)), ("widen_relu", n.ReLU()),
        ("block3", Block(32)), ("gap", n.AdaptiveAvgPool2d(1)), ("flatten", n.Flatten()), ("fc", n.Linear(32, 10))]))
    tg.manual_seed(5)
    ours, theirs = twin(SmallResNet().fuse(), theirs)
    images = RNG.standard_normal((3 * 12, 1, 28, 28))
    labels = RNG.integers(0, 10, 3 * 12)
    assert 12 * 16 * 28 * 28 >= normalize.SHARE_MIN_VALUES
    train_both(ours, theirs, lambda step: (images[step * 12:(step + 1) * 12], labels[step * 12:(step + 1) * 12]),
               F.cross_entropy, torch.nn.functional.cross_entropy,
               lambda p: tg.optim.Adam(p, lr=1e-2), lambda p: torch.optim.Adam(p, lr=1e-2), steps=3)
    for (name, ours_stat), theirs_stat in zip(ours.state_dict().items(), theirs.state_dict().values()):
        np.testing.assert_allclose(ours_stat, theirs_stat.numpy(), rtol=1e-7, atol=1e-9, err_msg=name)
    ours.eval(), theirs.eval()
    with tg.no_grad(), torch.no_grad():
        np.testing.assert_allclose(ours(tg.tensor(images[:12])).data, theirs(torch.tensor(images[:12])).numpy(),
                                   rtol=1e-7, atol=1e-9)
