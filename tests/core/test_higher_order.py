"""Gradients of gradients (issue 20): backward(create_graph=True) and tg.grad(create_graph=True)
record the backward pass, every op's second derivative is checked with tg.gradgradcheck, and
Hessian-vector products, a gradient penalty and a Newton step agree with PyTorch (float64)."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from op_cases import CASES, make_inputs
from tensorgrad import nn
from tensorgrad.ops.conv_reference import Conv2dReference

RNG = np.random.default_rng(3)


def leaf(*shape):
    return tg.tensor(RNG.standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("label, fn, shapes, domain", CASES, ids=[c[0] for c in CASES])
def test_every_op_in_the_table_has_second_derivatives(label, fn, shapes, domain):
    inputs = [tg.tensor(x, requires_grad=True) for x in make_inputs(shapes, domain, np.float64)]
    assert tg.gradgradcheck(fn, inputs)


LABELS = np.array([0, 2, 1, 2])
PROBS = np.random.default_rng(0).random((4, 3))
# the ops whose backward runs on arrays only, differentiated through their composites
COMPOSITE_CASES = {
    "linear": (lambda x, w, b: F.linear(x, w, b), [(4, 3), (2, 3), (2,)]),
    "linear+tanh": (lambda x, w, b: F.linear(x, w, b, activation="tanh"), [(4, 3), (2, 3), (2,)]),
    "linear+sigmoid": (lambda x, w, b: F.linear(x, w, b, activation="sigmoid"), [(4, 3), (2, 3), (2,)]),
    "cross_entropy labels": (lambda z: F.cross_entropy(z, LABELS), [(4, 3)]),
    "cross_entropy probabilities": (lambda z: F.cross_entropy(z, PROBS / PROBS.sum(1, keepdims=True), reduction="sum"), [(4, 3)]),
    "cross_entropy none": (lambda z: F.cross_entropy(z, LABELS, reduction="none"), [(4, 3)]),
    "binary_cross_entropy": (lambda z: F.binary_cross_entropy(z.sigmoid(), PROBS), [(4, 3)]),
    "binary_cross_entropy_with_logits": (lambda z: F.binary_cross_entropy_with_logits(z, PROBS), [(4, 3)]),
    "conv2d padding": (lambda x, w, b: F.conv2d(x, w, b, padding=1), [(2, 2, 5, 5), (3, 2, 3, 3), (3,)]),
    "conv2d stride": (lambda x, w: F.conv2d(x, w, stride=2), [(1, 2, 6, 6), (2, 2, 3, 3)]),
    "conv2d+tanh": (lambda x, w, b: F.conv2d(x, w, b, activation="tanh"), [(2, 1, 5, 5), (2, 1, 3, 3), (2,)]),
    "conv2d+relu+max_pool2d": (lambda x, w, b: F.conv2d(x, w, b, activation="relu", max_pool=2), [(2, 1, 6, 6), (2, 1, 3, 3), (2,)]),
    "conv2d_reference": (lambda x, w, b: Conv2dReference.apply(x, w, b, padding=1), [(1, 2, 4, 4), (2, 2, 3, 3), (2,)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), [(2, 2, 4, 4)]),
    "max_pool2d padding stride": (lambda x: F.max_pool2d(x, 3, stride=2, padding=1), [(1, 2, 5, 5)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 2, padding=1), [(1, 2, 4, 4)]),
    "dropout": (lambda x: F.dropout(x, 0.5, rng=np.random.default_rng(0)) * x, [(3, 4)]),
}


@pytest.mark.parametrize("fn, shapes", COMPOSITE_CASES.values(), ids=list(COMPOSITE_CASES))
def test_layers_and_losses_have_second_derivatives(fn, shapes):
    assert tg.gradgradcheck(fn, [leaf(*shape) for shape in shapes])


def test_gradgradcheck_catches_a_backward_that_leaves_the_graph():
    class Cube(tg.Function):
        formula = "∂a = g·3a²"

        def forward(self, a):
            self.save(a)
            return a ** 3

        def backward(self, g):
            (a,) = self.saved
            return g * 3 * np.asarray(a) ** 2  # the right numbers, but np.asarray drops the recorded graph

    x = tg.tensor(np.array([0.7, -1.3, 2.0]), requires_grad=True)
    assert tg.gradcheck(lambda t: Cube.apply(t), [x])
    with pytest.raises(tg.GradcheckError, match=r"input 0 .*MISMATCH"):
        tg.gradgradcheck(lambda t: Cube.apply(t), [x])


def test_backward_with_create_graph_gives_grads_to_differentiate_again():
    x = tg.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    assert isinstance(x.grad, tg.Tensor) and x.grad.grad_fn is not None
    np.testing.assert_allclose(x.grad.data, 3 * x.data ** 2)
    first = x.grad
    x.grad = None
    first.sum().backward()            # d/dx Σ 3x² = 6x
    np.testing.assert_allclose(x.grad, 6 * x.data)
    (d1,) = tg.grad((x.sin()).sum(), x, create_graph=True)
    (d2,) = tg.grad(d1.sum(), x, create_graph=True)
    (d3,) = tg.grad(d2.sum(), x)      # third derivative of sin: −cos
    np.testing.assert_allclose(d3, -np.cos(x.data))


def test_the_graph_of_a_gradient_can_be_drawn():
    x = tg.tensor(1.5, requires_grad=True, name="x")
    y = x.tanh()
    (dy,) = tg.grad(y, x, create_graph=True)
    graph = tg.draw(dy)
    assert "tanh" in graph.source and "mul" in graph.source  # backward's own ops: g·(1 − y²)


torch = pytest.importorskip("torch")


def both(*shapes):
    arrays = [RNG.standard_normal(s) for s in shapes]
    return ([tg.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def hessian_vector_product(lib, loss, params, vectors):
    grads = (tg.grad if lib is tg else torch.autograd.grad)(loss, params, create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(grads, vectors))
    result = (tg.grad if lib is tg else torch.autograd.grad)(dot, params)
    return [np.asarray(r) if lib is tg else r.numpy() for r in result]


def test_mlp_hessian_vector_product_matches_pytorch():
    ours, theirs = both((8, 5), (6, 5), (6,), (3, 6), (3,))
    vectors = [RNG.standard_normal(p.shape) for p in ours[1:]]
    labels = RNG.integers(0, 3, 8)
    results = []
    for lib, (x, w1, b1, w2, b2) in ((tg, ours), (torch, theirs)):
        functional = F if lib is tg else torch.nn.functional
        hidden = functional.linear(x, w1, b1).tanh()
        loss = functional.cross_entropy(functional.linear(hidden, w2, b2), labels if lib is tg else torch.tensor(labels))
        tensors = [v if lib is tg else torch.tensor(v) for v in vectors]
        results.append(hessian_vector_product(lib, loss, [w1, b1, w2, b2], tensors))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


def test_cnn_hessian_vector_product_matches_pytorch():
    ours, theirs = both((2, 1, 8, 8), (3, 1, 3, 3), (3,), (4, 27), (4,))
    vectors = [RNG.standard_normal(p.shape) for p in ours[1:]]
    labels = np.array([1, 3])
    results = []
    for lib, (x, w, b, w2, b2) in ((tg, ours), (torch, theirs)):
        functional = F if lib is tg else torch.nn.functional
        h = functional.max_pool2d(functional.conv2d(x, w, b).tanh(), 2)
        logits = functional.linear(h.reshape(2, -1), w2, b2)
        loss = functional.cross_entropy(logits, labels if lib is tg else torch.tensor(labels))
        tensors = [v if lib is tg else torch.tensor(v) for v in vectors]
        results.append(hessian_vector_product(lib, loss, [w, b, w2, b2], tensors))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


def test_gradient_penalty_matches_pytorch():
    """WGAN-GP's penalty: the critic's input gradient, its norm pushed towards 1, trained through."""
    tg.manual_seed(0)
    critic = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).to(np.float64)
    twin = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    twin.load_state_dict({k: torch.tensor(v) for k, v in critic.state_dict().items()})
    points = RNG.standard_normal((5, 4))
    x, xt = tg.tensor(points, requires_grad=True), torch.tensor(points, requires_grad=True)
    (gx,) = tg.grad(critic(x).sum(), x, create_graph=True)
    (gxt,) = torch.autograd.grad(twin(xt).sum(), xt, create_graph=True)
    ((gx.norm(dim=1) - 1) ** 2).mean().backward()
    ((gxt.norm(dim=1) - 1) ** 2).mean().backward()
    for (name, p), pt in zip(critic.named_parameters(), twin.parameters()):
        if pt.grad is None:  # the last bias: the input gradient does not depend on it
            assert p.grad is None, name
        else:
            np.testing.assert_allclose(p.grad, pt.grad.numpy(), rtol=1e-8, atol=1e-12, err_msg=name)


def test_newton_steps_solve_a_logistic_regression():
    """The Hessian row by row from tg.grad(create_graph=True), then Newton's method: the gradient
    vanishes in a few steps, and the Hessian is PyTorch's."""
    data = np.random.default_rng(5).standard_normal((40, 3))
    targets = (data @ np.array([1.5, -2.0, 0.5]) + np.random.default_rng(6).standard_normal(40) > 0).astype(float)
    w = tg.tensor(np.zeros(3), requires_grad=True)

    def loss_of(weights):
        return F.binary_cross_entropy_with_logits(tg.tensor(data) @ weights, targets) + 0.01 * (weights * weights).sum()

    for _ in range(8):
        (g,) = tg.grad(loss_of(w), w, create_graph=True)
        hessian = np.stack([tg.grad(g[i], w, retain_graph=True)[0] for i in range(3)])
        with tg.no_grad():
            w -= np.linalg.solve(hessian, g.data)
    (final,) = tg.grad(loss_of(w), w)
    assert np.abs(final).max() < 1e-10
    wt = torch.tensor(w.data)
    torch_hessian = torch.autograd.functional.hessian(
        lambda v: torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(data) @ v, torch.tensor(targets))
        + 0.01 * (v * v).sum(), wt)
    (g,) = tg.grad(loss_of(w), w, create_graph=True)
    ours = np.stack([tg.grad(g[i], w, retain_graph=True)[0] for i in range(3)])
    np.testing.assert_allclose(ours, torch_hessian.numpy(), rtol=1e-10)


def test_an_optimizer_steps_after_a_backward_with_create_graph():
    w = tg.tensor(np.array([1.0, -2.0]), requires_grad=True)
    optimizer = tg.optim.SGD([w], lr=0.1)
    (w * w).sum().backward(create_graph=True)
    assert isinstance(w.grad, tg.Tensor)
    optimizer.step()
    np.testing.assert_allclose(w.data, [0.8, -1.6])
    optimizer.zero_grad()
    assert w.grad is None
