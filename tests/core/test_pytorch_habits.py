"""PyTorch's habits on tensorgrad tensors (issue 20): the Tensor API course code uses (dim=,
view, gather, einsum, ...), integer tensors, NumPy's functions, hooks, retain_grad and tg.grad,
each compared with PyTorch for values and gradients (float64, 1e-10)."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from tensorgrad import nn

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X3 = RNG.standard_normal((3, 4, 5))
X2 = RNG.standard_normal((4, 5))
INDEX = RNG.integers(0, 4, size=(3, 5))           # positions along axis 0 of a (4, 5) tensor
MASK = RNG.random((4, 5)) > 0.5


def both(array):
    """The same float64 values as a tensorgrad and a torch leaf."""
    return tg.tensor(array.copy(), requires_grad=True), torch.tensor(array.copy(), requires_grad=True)


def first(result):
    """The values of a (values, indices) pair, or the result itself."""
    return result[0] if isinstance(result, tuple) else result


# (id, input, the call on a tensorgrad tensor, the call on a torch tensor)
CASES = [
    ("sum dim keepdim", X2, lambda t: t.sum(dim=1, keepdim=True), lambda t: t.sum(dim=1, keepdim=True)),
    ("mean dim tuple", X3, lambda t: t.mean(dim=(0, 2)), lambda t: t.mean(dim=(0, 2))),
    ("max dim", X2, lambda t: t.max(dim=1), lambda t: t.max(dim=1)),
    ("min dim keepdim", X2, lambda t: t.min(dim=0, keepdim=True), lambda t: t.min(dim=0, keepdim=True)),
    ("var dim", X2, lambda t: t.var(dim=1), lambda t: t.var(dim=1)),
    ("var unbiased keepdim", X2, lambda t: t.var(0, keepdim=True, unbiased=True), lambda t: t.var(0, keepdim=True, unbiased=True)),
    ("std dim", X2, lambda t: t.std(dim=0), lambda t: t.std(dim=0)),
    ("std correction 0", X2, lambda t: t.std(dim=1, correction=0), lambda t: t.std(dim=1, correction=0)),
    ("logsumexp", X2, lambda t: t.logsumexp(dim=1), lambda t: t.logsumexp(dim=1)),
    ("norm", X2, lambda t: t.norm(), lambda t: t.norm()),
    ("norm dim", X3, lambda t: t.norm(dim=2, keepdim=True), lambda t: t.norm(dim=2, keepdim=True)),
    ("norm p1", X2, lambda t: t.norm(p=1, dim=1), lambda t: t.norm(p=1, dim=1)),
    ("norm p3", X2, lambda t: t.norm(p=3), lambda t: t.norm(p=3)),
    ("cumsum", X2, lambda t: t.cumsum(dim=1), lambda t: t.cumsum(dim=1)),
    ("sort descending", X2, lambda t: t.sort(dim=1, descending=True), lambda t: t.sort(dim=1, descending=True)),
    ("topk", X2, lambda t: t.topk(2, dim=1), lambda t: t.topk(2, dim=1)),
    ("topk smallest dim 0", X2, lambda t: t.topk(3, dim=0, largest=False), lambda t: t.topk(3, dim=0, largest=False)),
    ("tril", X2, lambda t: t.tril(), lambda t: t.tril()),
    ("triu 1", X3, lambda t: t.triu(1), lambda t: t.triu(1)),
    ("masked_fill", X2, lambda t: t.masked_fill(tg.tensor(MASK), -1e9), lambda t: t.masked_fill(torch.tensor(MASK), -1e9)),
    ("sin", X2, lambda t: t.sin(), lambda t: t.sin()),
    ("cos", X2, lambda t: tg.cos(t), lambda t: torch.cos(t)),
    ("softmax dim", X3, lambda t: t.softmax(dim=0), lambda t: t.softmax(dim=0)),
    ("log_softmax dim", X2, lambda t: tg.log_softmax(t, dim=1), lambda t: torch.log_softmax(t, dim=1)),
    ("view", X3, lambda t: t.view(-1, 10), lambda t: t.view(-1, 10)),
    ("permute", X3, lambda t: t.permute(2, 0, 1), lambda t: t.permute(2, 0, 1)),
    ("transpose swaps two of three", X3, lambda t: t.transpose(0, 2), lambda t: t.transpose(0, 2)),
    ("transpose of a matrix", X2, lambda t: t.transpose(0, 1), lambda t: t.transpose(0, 1)),
    ("unsqueeze", X2, lambda t: t.unsqueeze(1), lambda t: t.unsqueeze(1)),
    ("unsqueeze -1", X2, lambda t: t.unsqueeze(-1), lambda t: t.unsqueeze(-1)),
    ("squeeze", X2[:1], lambda t: t.squeeze(0), lambda t: t.squeeze(0)),
    ("expand", X2[:1], lambda t: t.expand(3, 4, -1), lambda t: t.expand(3, 4, -1)),
    ("repeat", X2, lambda t: t.repeat(2, 1, 3), lambda t: t.repeat(2, 1, 3)),
    ("flatten start_dim", X3, lambda t: t.flatten(start_dim=1), lambda t: t.flatten(start_dim=1)),
    ("gather", X2, lambda t: t.gather(0, tg.tensor(INDEX)), lambda t: t.gather(0, torch.tensor(INDEX))),
    ("scatter_add", X2, lambda t: t.scatter_add(0, tg.tensor(INDEX), tg.tensor(X2[:3] * 2)),
     lambda t: t.scatter_add(0, torch.tensor(INDEX), torch.tensor(X2[:3] * 2))),
    ("index_select", X2, lambda t: t.index_select(1, tg.tensor([4, 0, 4])), lambda t: t.index_select(1, torch.tensor([4, 0, 4]))),
    ("split", X2, lambda t: tg.cat(t.split(2, dim=1)[::-1], dim=1), lambda t: torch.cat(t.split(2, dim=1)[::-1], dim=1)),
    ("chunk", X2, lambda t: t.chunk(3, dim=1)[1], lambda t: t.chunk(3, dim=1)[1]),
    ("clamp", X2, lambda t: t.clamp(-0.5, 0.5), lambda t: t.clamp(-0.5, 0.5)),
    ("einsum matmul", X2, lambda t: tg.einsum("ij,kj->ik", t, t), lambda t: torch.einsum("ij,kj->ik", t, t)),
    ("einsum batch", X3, lambda t: tg.einsum("bij,bkj->bik", t, t), lambda t: torch.einsum("bij,bkj->bik", t, t)),
    ("einsum ellipsis", X3, lambda t: tg.einsum("...ij,...ik->...jk", t, t), lambda t: torch.einsum("...ij,...ik->...jk", t, t)),
    ("einsum sum out", X2, lambda t: tg.einsum("ij->j", t), lambda t: torch.einsum("ij->j", t)),
    ("einsum implicit", X2, lambda t: tg.einsum("ij,jk", t, t.T), lambda t: torch.einsum("ij,jk", t, t.T)),
    ("einsum three", X2, lambda t: tg.einsum("ij,jk,kl->il", t, t.T, t), lambda t: torch.einsum("ij,jk,kl->il", t, t.T, t)),
    ("tg.max with dim", X2, lambda t: tg.max(t, 1), lambda t: torch.max(t, 1)),
    ("tg.std", X2, lambda t: tg.std(t, 0), lambda t: torch.std(t, 0)),
]


@pytest.mark.parametrize("array, tg_call, torch_call", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_call_matches_pytorch_in_values_and_gradients(array, tg_call, torch_call):
    x, xt = both(array)
    out, out_t = first(tg_call(x)), first(torch_call(xt))
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    weights = RNG.standard_normal(out.shape)  # a gradient that differs per element
    (out * weights).sum().backward()
    (out_t * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_indices_match_pytorch():
    x, xt = both(X2)
    for ours, theirs in [(x.max(dim=1).indices, xt.max(dim=1).indices),
                         (x.sort(dim=0).indices, xt.sort(dim=0).indices),
                         (x.topk(2, dim=1).indices, xt.topk(2, dim=1).indices),
                         (x.argmax(dim=1, keepdim=True), xt.argmax(dim=1, keepdim=True)),
                         (tg.argmin(x), torch.argmin(xt))]:
        assert ours.dtype == np.int64
        np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_axis_spelling_stays_numpy_like():
    x = tg.tensor(np.array([[1.0, 3.0], [3.0, 2.0]]), requires_grad=True)
    assert isinstance(x.max(axis=0), tg.Tensor)                # NumPy: values only
    values, indices = x.max(dim=0)                             # PyTorch: the pair
    np.testing.assert_array_equal(indices.data, [1, 0])
    assert x.var().item() == pytest.approx(np.var(x.data))     # NumPy's ddof=0 without dim=
    assert x.var(dim=(0, 1)).item() == pytest.approx(np.var(x.data, ddof=1))
    with pytest.raises(ValueError, match="give axis= .NumPy. or dim= .PyTorch., not both"):
        x.sum(axis=0, dim=1)


def test_sizes_and_conversions():
    x = tg.zeros(2, 3, 4)
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.size == 24 and x.size * 2 == 48                  # NumPy's .size still works
    assert x.dim() == 3 and x.numel() == 24 and tg.numel(x) == 24
    assert x.double().dtype == np.float64 and x.long().dtype == np.int64 and x.int().dtype == np.int32
    assert x.double().float().dtype == np.float32 and x.bool().dtype == np.bool_
    assert x.to(tg.float64).dtype == np.float64 and x.to("cpu") is x and x.to(dtype=tg.long).dtype == np.int64
    with pytest.raises(ValueError, match="tensorgrad runs on the CPU"):
        x.to("cuda")


def test_integer_data_becomes_int64_and_promotes_as_pytorch():
    cases = [([0, 2], None), ([0.5, 1], None), (3, None), (True, None)]
    for data, _ in cases:
        assert np.dtype(tg.tensor(data).dtype).name == str(torch.tensor(data).dtype).replace("torch.", "")
    ints, floats = tg.tensor([1, 2]), tg.tensor([0.5, 1.5])
    ints_t, floats_t = torch.tensor([1, 2]), torch.tensor([0.5, 1.5])
    for ours, theirs in [(ints * 0.5, ints_t * 0.5), (ints / 2, ints_t / 2), (ints + floats, ints_t + floats_t),
                         (0.5 - ints, 0.5 - ints_t), (ints * 2, ints_t * 2), (ints ** 2, ints_t ** 2),
                         (floats / ints, floats_t / ints_t), (ints + tg.tensor(np.ones(2)), ints_t + torch.ones(2, dtype=torch.float64))]:
        assert np.dtype(ours.dtype).name == str(theirs.dtype).replace("torch.", ""), (ours, theirs)
        np.testing.assert_allclose(ours.data, theirs.numpy())


def test_makemore_first_cells_run():
    """The bigram/MLP language model's first cells, as makemore writes them, with tg for torch."""
    words = ["emma", "olivia", "ava"]
    chars = sorted(set("".join(words)))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    X, Y = [], []
    for w in words:
        context = [0] * 3
        for ch in w + ".":
            ix = stoi.get(ch, 0)
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    X, Y = tg.tensor(X), tg.tensor(Y)
    assert X.dtype == np.int64 and X.shape == (len(Y), 3)
    g = tg.Generator().manual_seed(2147483647)
    C = tg.randn((27, 10), generator=g)
    W1, b1 = tg.randn((30, 200), generator=g), tg.randn(200, generator=g)
    W2, b2 = tg.randn((200, 27), generator=g) * 0.01, tg.randn(27, generator=g) * 0
    parameters = [C, W1, b1, W2, b2]
    for p in parameters:
        p.requires_grad = True
    emb = C[X]
    h = tg.tanh(emb.view(-1, 30) @ W1 + b1)
    logits = h @ W2 + b2
    loss = F.cross_entropy(logits, Y)
    for p in parameters:
        p.grad = None
    loss.backward()
    # the same in PyTorch from the same numbers
    Ct, W1t, b1t, W2t, b2t = (torch.tensor(p.data, requires_grad=True) for p in parameters)
    ht = torch.tanh(Ct[torch.tensor(X.data)].view(-1, 30) @ W1t + b1t)
    loss_t = torch.nn.functional.cross_entropy(ht @ W2t + b2t, torch.tensor(Y.data))
    loss_t.backward()
    assert loss.item() == pytest.approx(loss_t.item(), rel=1e-5)
    for p, pt in zip(parameters, (Ct, W1t, b1t, W2t, b2t)):
        np.testing.assert_allclose(p.grad, pt.grad.numpy(), rtol=1e-4, atol=1e-6)
    # sampling, as makemore's last cell does
    probs = F.softmax(logits[:1], dim=1)
    ix = tg.multinomial(probs, num_samples=1, replacement=True, generator=g).item()
    assert 0 <= ix < 27
    ix_batch = tg.randint(0, X.shape[0], (32,), generator=g)
    assert ix_batch.dtype == np.int64 and ix_batch.shape == (32,) and int(ix_batch.data.max()) < X.shape[0]


def test_random_functions_are_seeded_and_follow_their_distributions():
    a = tg.randint(0, 10, (1000,), generator=tg.Generator().manual_seed(1))
    b = tg.randint(0, 10, (1000,), generator=tg.Generator().manual_seed(1))
    np.testing.assert_array_equal(a.data, b.data)
    assert set(np.unique(a.data)) == set(range(10))
    probs = tg.tensor([0.1, 0.0, 0.6, 0.3])
    draws = tg.multinomial(probs, 20000, replacement=True, generator=tg.Generator().manual_seed(0)).data
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / 20000, probs.data, atol=0.015)
    unique = tg.multinomial(tg.tensor([[1.0, 1.0, 1.0]]), 3).data
    assert sorted(unique[0]) == [0, 1, 2]
    np.testing.assert_allclose(tg.linspace(-1, 1, 5).data, torch.linspace(-1, 1, 5).numpy())
    with pytest.raises(ValueError, match="multinomial: cannot draw 3 samples without replacement"):
        tg.multinomial(tg.tensor([1.0, 0.0, 1.0]), 3)


# ------------------------------------------------------------------------------- NumPy interop
def test_numpy_functions_record_the_op():
    x = tg.tensor(X2.copy(), requires_grad=True)
    y = np.mean(np.exp(x) * 2, axis=0)
    assert isinstance(y, tg.Tensor) and y.grad_fn is not None
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.exp(X2) * 2 / 4)
    joined = np.concatenate([x, x], axis=1)
    assert isinstance(joined, tg.Tensor) and joined.shape == (4, 10)
    assert isinstance(np.ones(5) * x, tg.Tensor)
    assert np.allclose(x, X2) and np.shape(x) == (4, 5)


def test_numpy_function_without_an_op_is_refused_only_when_a_gradient_is_at_stake():
    x = tg.tensor(X2.copy(), requires_grad=True)
    with pytest.raises(TypeError, match=r"np.sinh: tensorgrad has no op for it.*t.detach\(\).numpy\(\)"):
        np.sinh(x)
    np.testing.assert_allclose(np.sinh(x.detach()).data, np.sinh(X2))
    with pytest.raises(TypeError, match="np.percentile"):
        np.percentile(x, 50)
    with tg.no_grad():
        assert np.percentile(x, 50) == np.percentile(X2, 50)


def test_torch_reads_tensorgrad_tensors():
    scalar = tg.tensor(3.0)
    assert torch.tensor(scalar).item() == 3.0
    x = tg.tensor(X2.copy())
    shared = torch.as_tensor(x)
    shared[0, 0] = 123.0                 # DLPack: the same memory
    assert x.data[0, 0] == 123.0
    assert np.from_dlpack(x)[0, 0] == 123.0


def test_a_tensor_made_by_an_op_pickles_as_a_leaf():
    x = tg.tensor([1.0, 2.0], requires_grad=True, name="x")
    y = x * 3
    copy = pickle.loads(pickle.dumps(y))
    np.testing.assert_array_equal(copy.data, y.data)
    assert copy.grad_fn is None and copy.requires_grad
    leaf = pickle.loads(pickle.dumps(x))
    assert leaf.name == "x" and leaf.requires_grad


# -------------------------------------------------------------------------- autograd features
def test_retain_grad_fills_intermediate_gradients_as_pytorch():
    x, xt = both(X2)
    ours, theirs = [], []
    for t, lib, out in ((x, tg, ours), (xt, torch, theirs)):
        h = t.tanh()
        h.retain_grad()
        logits = h * 2 + 1
        logits.retain_grad()
        loss = lib.log_softmax(logits, dim=1).mean()
        loss.backward()
        out.extend([h.grad, logits.grad, t.grad])
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-10, atol=1e-12)


def test_a_hook_reads_and_replaces_gradients_as_pytorch():
    x, xt = both(X2)
    seen = {}
    for t, key, ones in ((x, "tg", np.ones_like), (xt, "torch", torch.ones_like)):
        h = t * 3
        def replace_by_ones(g, key=key, ones=ones):
            seen[key] = np.array(g.tolist())
            return ones(g)
        h.register_hook(replace_by_ones)
        t.register_hook(lambda g: g * 2)   # a leaf's hook: before .grad
        (h * h).sum().backward()
    np.testing.assert_allclose(seen["tg"], seen["torch"])
    np.testing.assert_allclose(x.grad, xt.grad.numpy())
    np.testing.assert_allclose(x.grad, np.full(X2.shape, 6.0))


def test_a_removed_hook_is_not_called():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    handle = x.register_hook(lambda g: calls.append(g))
    (x * 2).sum().backward()
    handle.remove()
    (x * 2).sum().backward()
    assert len(calls) == 1


def test_grad_matches_torch_autograd_grad_and_leaves_dot_grad_alone():
    x, xt = both(X2)
    results = []
    for t, lib in ((x, tg), (xt, torch)):
        h = (t * t).sum(dim=1)
        out1, out2 = h.sum(), (h * 2).exp().mean()
        results.append([g if isinstance(g, np.ndarray) else g.numpy() for g in
                        (lib.grad if lib is tg else torch.autograd.grad)([out1, out2], [t, h], retain_graph=True)])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    assert x.grad is None
    weights = RNG.standard_normal(4)
    (g_ours,) = tg.grad((x * x).sum(dim=1), x, grad_outputs=tg.tensor(weights))
    (g_theirs,) = torch.autograd.grad((xt * xt).sum(dim=1), xt, grad_outputs=torch.tensor(weights))
    np.testing.assert_allclose(g_ours, g_theirs.numpy())


def test_grad_of_an_unused_input():
    a = tg.tensor([1.0], requires_grad=True)
    b = tg.tensor([2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="grad: input 1 .shape .1,.. was not used"):
        tg.grad((a * 2).sum(), [a, b])
    assert tg.grad((a * 2).sum(), [a, b], allow_unused=True)[1] is None


def test_inference_mode_records_nothing():
    x = tg.tensor([1.0], requires_grad=True)
    with tg.inference_mode():
        assert not (x * 2).requires_grad
    with tg.inference_mode(False):
        assert (x * 2).requires_grad


def test_module_hooks_match_pytorch():
    tg.manual_seed(0)
    ours = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3)).double()
    theirs.load_state_dict({k: torch.tensor(v.astype(np.float64)) for k, v in ours.state_dict().items()})
    ours = ours.to(np.float64) if hasattr(ours, "to") else ours
    records = {"tg": [], "torch": []}
    for model, key in ((ours, "tg"), (theirs, "torch")):
        model[0].register_forward_pre_hook(lambda m, inputs: (inputs[0] * 2,))
        model[1].register_forward_hook(lambda m, inputs, output: output + 1)
        model[2].register_full_backward_hook(
            lambda m, grad_in, grad_out, key=key: records[key].append([np.array(grad_in[0].tolist()), np.array(grad_out[0].tolist())]))
    x, xt = both(X2)
    out, out_t = ours(x), theirs(xt)
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-6)
    weights = RNG.standard_normal(out.shape)
    (out * weights).sum().backward()
    (out_t * torch.tensor(weights)).sum().backward()
    for a, b in zip(records["tg"][0], records["torch"][0]):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-6)


# ------------------------------------------------------------------------------- bad input
def test_bad_input_names_the_op_and_the_argument():
    x = tg.tensor(X2)
    with pytest.raises(IndexError, match="gather: index must hold integers, got dtype float32"):
        x.gather(0, tg.tensor([[0.5]]))
    with pytest.raises(IndexError, match=r"gather: index values from 0 to 9 do not fit axis 1 of length 5"):
        x.gather(1, tg.tensor([[0, 9]]))
    with pytest.raises(ValueError, match=r"expand: cannot expand a tensor of shape \(4, 5\) to \(3, 5\)"):
        x.expand(3, 5)
    with pytest.raises(ValueError, match="split: sizes \\[2, 2\\] add up to 4, not to the length 5 of axis 1"):
        x.split([2, 2], dim=1)
    with pytest.raises(ValueError, match="einsum: a repeated index inside one operand"):
        tg.einsum("ii->i", tg.tensor(np.eye(3), requires_grad=True))
    with pytest.raises(ValueError, match="topk: k=9 is out of range for axis 1 of shape"):
        x.topk(9, dim=1)
