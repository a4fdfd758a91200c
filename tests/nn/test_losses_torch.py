"""The losses against PyTorch's: values and gradients (of the input, and of the target where PyTorch
gives it one) for every loss, option and reduction, in float64 (1e-10) and float32 (1e-5); the
loss modules; second derivatives of the new options (gradgradcheck); the errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from tensorgrad import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(7)
TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}


def normal(*shape, scale=1.0):
    return RNG.standard_normal(shape) * scale


def probabilities(*shape, axis=-1):
    p = RNG.random(shape) + 0.05
    return p / p.sum(axis=axis, keepdims=True)


def log_probabilities(*shape, axis=-1):
    return np.log(probabilities(*shape, axis=axis))


def labels(classes, *shape, ignored=(), ignore_index=-100):
    """Integer labels, every class present when there is room, with some positions ignored."""
    y = RNG.integers(0, classes, shape)
    flat = y.reshape(-1)
    flat[:min(classes, flat.size)] = np.arange(min(classes, flat.size))
    RNG.shuffle(flat)
    for position in ignored:
        flat[position] = ignore_index
    return y


# regression data whose differences d = x − t are exact (multiples of 1/8) and hit the kinks:
# d = 0 (|x − t|), |d| = 0.5 and 1 (huber's delta, smooth_l1's beta), small and large
X = np.round(normal(3, 4) * 8) / 8
D = np.array([[0.0, 1.0, -1.0, 0.5], [-0.5, 0.125, -0.25, 3.0], [-2.5, 0.75, 1.5, -0.875]])
T = X - D
W4 = RNG.random(4) + 0.2  # class weights for 4 classes
W5 = RNG.random(5) + 0.2
W43, W41 = RNG.random((4, 3)), RNG.random((4, 1))  # element weights for (4, 3) inputs

# name: (loss(F, C, reduction, *inputs), [input arrays], [which get a gradient])
# F is tensorgrad's or PyTorch's functional module, C turns a constant array into that library's
# tensor; integer arrays are labels (never cast, never differentiated).
CASES = {
    "l1_loss": (lambda F, C, r, x, t: F.l1_loss(x, t, reduction=r), [X, T], [0, 1]),
    "mse_loss": (lambda F, C, r, x, t: F.mse_loss(x, t, reduction=r), [X, T], [0, 1]),
    "mse_loss constant target": (lambda F, C, r, x, t: F.mse_loss(x, t, reduction=r), [X, T], [0]),
    "huber_loss": (lambda F, C, r, x, t: F.huber_loss(x, t, reduction=r), [X, T], [0, 1]),
    "huber_loss delta 0.5": (lambda F, C, r, x, t: F.huber_loss(x, t, reduction=r, delta=0.5), [X, T], [0, 1]),
    "huber_loss delta 2": (lambda F, C, r, x, t: F.huber_loss(x, t, reduction=r, delta=2.0), [X, T], [0, 1]),
    "smooth_l1_loss": (lambda F, C, r, x, t: F.smooth_l1_loss(x, t, reduction=r), [X, T], [0, 1]),
    "smooth_l1_loss beta 0.5": (lambda F, C, r, x, t: F.smooth_l1_loss(x, t, reduction=r, beta=0.5), [X, T], [0, 1]),
    "smooth_l1_loss beta 0": (lambda F, C, r, x, t: F.smooth_l1_loss(x, t, reduction=r, beta=0.0), [X, T], [0, 1]),
    "kl_div": (lambda F, C, r, x, t: F.kl_div(x, t, reduction=r), [log_probabilities(3, 5), probabilities(3, 5)], [0, 1]),
    "kl_div zeros in target": (lambda F, C, r, x, t: F.kl_div(x, t, reduction=r),
                               [log_probabilities(2, 4), np.array([[0.0, 0.5, 0.5, 0.0], [1.0, 0.0, 0.0, 0.0]])], [0]),
    "kl_div log_target": (lambda F, C, r, x, t: F.kl_div(x, t, reduction=r, log_target=True),
                          [log_probabilities(3, 5), log_probabilities(3, 5)], [0, 1]),
    "kl_div 3-d": (lambda F, C, r, x, t: F.kl_div(x, t, reduction=r), [log_probabilities(2, 3, 4), probabilities(2, 3, 4)], [0, 1]),
    "cross_entropy labels": (lambda F, C, r, z, y: F.cross_entropy(z, y, reduction=r), [normal(6, 4), labels(4, 6)], [0]),
    "cross_entropy ignore_index -100": (lambda F, C, r, z, y: F.cross_entropy(z, y, reduction=r),
                                        [normal(6, 4), labels(4, 6, ignored=(1, 4))], [0]),
    "cross_entropy ignore_index 2": (lambda F, C, r, z, y: F.cross_entropy(z, y, reduction=r, ignore_index=2),
                                     [normal(6, 4), labels(4, 6)], [0]),
    "cross_entropy weight": (lambda F, C, r, z, y: F.cross_entropy(z, y, C(W4), reduction=r), [normal(6, 4), labels(4, 6)], [0]),
    "cross_entropy label_smoothing": (lambda F, C, r, z, y: F.cross_entropy(z, y, reduction=r, label_smoothing=0.1),
                                      [normal(6, 4), labels(4, 6)], [0]),
    "cross_entropy label_smoothing 1": (lambda F, C, r, z, y: F.cross_entropy(z, y, reduction=r, label_smoothing=1.0),
                                        [normal(6, 4), labels(4, 6)], [0]),
    "cross_entropy every option": (
        lambda F, C, r, z, y: F.cross_entropy(z, y, C(W4), reduction=r, ignore_index=-1, label_smoothing=0.25),
        [normal(7, 4), labels(4, 7, ignored=(0, 5), ignore_index=-1)], [0]),
    "cross_entropy (N, C, L)": (lambda F, C, r, z, y: F.cross_entropy(z, y, C(W5), reduction=r, label_smoothing=0.2),
                                [normal(3, 5, 4), labels(5, 3, 4, ignored=(2, 7))], [0]),
    "cross_entropy (N, C, H, W)": (lambda F, C, r, z, y: F.cross_entropy(z, y, reduction=r),
                                   [normal(2, 3, 4, 2), labels(3, 2, 4, 2, ignored=(3,))], [0]),
    "cross_entropy one sample (C,)": (lambda F, C, r, z, y: F.cross_entropy(z, y, C(W5), reduction=r, label_smoothing=0.1),
                                      [normal(5), np.array(3)], [0]),
    "cross_entropy large logits": (lambda F, C, r, z, y: F.cross_entropy(z, y, reduction=r, label_smoothing=0.1),
                                   [normal(4, 3, scale=1e3), labels(3, 4)], [0]),
    "cross_entropy probabilities": (lambda F, C, r, z, t: F.cross_entropy(z, t, reduction=r),
                                    [normal(5, 4), probabilities(5, 4)], [0, 1]),
    "cross_entropy one-hot": (lambda F, C, r, z, t: F.cross_entropy(z, t, reduction=r), [normal(4, 4), np.eye(4)], [0, 1]),
    "cross_entropy unnormalised targets": (lambda F, C, r, z, t: F.cross_entropy(z, t, reduction=r),
                                           [normal(5, 4), RNG.random((5, 4)) * 2], [0, 1]),
    "cross_entropy probabilities every option": (
        lambda F, C, r, z, t: F.cross_entropy(z, t, C(W4), reduction=r, label_smoothing=0.3),
        [normal(5, 4), probabilities(5, 4)], [0, 1]),
    "cross_entropy probabilities (N, C, L)": (
        lambda F, C, r, z, t: F.cross_entropy(z, t, C(W5), reduction=r, label_smoothing=0.1),
        [normal(2, 5, 3), probabilities(2, 5, 3, axis=1)], [0, 1]),
    "cross_entropy probabilities (C,)": (lambda F, C, r, z, t: F.cross_entropy(z, t, reduction=r, label_smoothing=0.1),
                                         [normal(5), probabilities(5)], [0, 1]),
    "nll_loss": (lambda F, C, r, x, y: F.nll_loss(x, y, reduction=r), [log_probabilities(6, 4), labels(4, 6)], [0]),
    "nll_loss weight ignore_index": (lambda F, C, r, x, y: F.nll_loss(x, y, C(W4), reduction=r, ignore_index=0),
                                     [log_probabilities(7, 4), labels(4, 7)], [0]),
    "nll_loss (N, C, L)": (lambda F, C, r, x, y: F.nll_loss(x, y, C(W5), reduction=r),
                           [log_probabilities(2, 5, 3, axis=1), labels(5, 2, 3, ignored=(1,))], [0]),
    "nll_loss (C,)": (lambda F, C, r, x, y: F.nll_loss(x, y, reduction=r), [log_probabilities(5), np.array(4)], [0]),
    "binary_cross_entropy": (lambda F, C, r, p, t: F.binary_cross_entropy(p, t, reduction=r),
                             [RNG.uniform(0.02, 0.98, (4, 3)), RNG.random((4, 3))], [0, 1]),
    "binary_cross_entropy weight": (lambda F, C, r, p, t: F.binary_cross_entropy(p, t, C(W43), reduction=r),
                                    [RNG.uniform(0.02, 0.98, (4, 3)), RNG.random((4, 3))], [0, 1]),
    "binary_cross_entropy weight per column": (
        lambda F, C, r, p, t: F.binary_cross_entropy(p, t, C(np.array([0.5, 2.0, 1.5])), reduction=r),
        [RNG.uniform(0.02, 0.98, (4, 3)), RNG.integers(0, 2, (4, 3)).astype(float)], [0, 1]),
    "bce_with_logits": (lambda F, C, r, z, t: F.binary_cross_entropy_with_logits(z, t, reduction=r),
                        [normal(4, 3, scale=3), RNG.random((4, 3))], [0, 1]),
    "bce_with_logits pos_weight": (
        lambda F, C, r, z, t: F.binary_cross_entropy_with_logits(z, t, reduction=r, pos_weight=C(np.array([3.0, 0.5, 1.0]))),
        [normal(4, 3, scale=3), RNG.random((4, 3))], [0, 1]),
    "bce_with_logits weight": (
        lambda F, C, r, z, t: F.binary_cross_entropy_with_logits(z, t, C(W41), reduction=r),
        [normal(4, 3, scale=3), RNG.random((4, 3))], [0, 1]),
    "bce_with_logits weight and pos_weight": (
        lambda F, C, r, z, t: F.binary_cross_entropy_with_logits(z, t, C(W43), reduction=r,
                                                                 pos_weight=C(W4[:3] * 4)),
        [normal(4, 3, scale=3), RNG.integers(0, 2, (4, 3)).astype(float)], [0, 1]),
    "bce_with_logits large logits": (
        lambda F, C, r, z, t: F.binary_cross_entropy_with_logits(z, t, reduction=r, pos_weight=C(np.array([2.0, 0.25]))),
        [np.array([[60.0, -60.0], [-700.0, 800.0], [1e4, -1e4]]), np.array([[0.0, 1.0], [1.0, 0.0], [0.3, 0.6]])], [0, 1]),
}
REDUCTIONS = {name: ("mean", "sum", "none", "batchmean") if name.startswith("kl_div") else ("mean", "sum", "none")
              for name in CASES}
TABLE = [(name, reduction) for name in CASES for reduction in REDUCTIONS[name]]


def run(lib, name, reduction, dtype):
    """The loss of one case in one library, and the gradients of Σ loss·G (G random, so that each
    sample's gradient is weighted differently under reduction "none")."""
    fn, arrays, differentiated = CASES[name]
    functional = F if lib is tg else TF

    def make(a, grad):
        a = a if a.dtype.kind in "iu" else a.astype(dtype)
        return tg.tensor(a, requires_grad=grad) if lib is tg else torch.tensor(a, requires_grad=grad)

    def constant(a):
        return make(a, False) if lib is torch else a.astype(dtype)

    inputs = [make(a, k in differentiated) for k, a in enumerate(arrays)]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "reduction: 'mean' divides|kl_div: reduction='mean'")
        loss = fn(functional, constant, reduction, *inputs)
    weights = np.random.default_rng(1).uniform(0.5, 1.5, tuple(loss.shape)).astype(dtype)
    (loss * (tg.tensor(weights) if lib is tg else torch.tensor(weights))).sum().backward()
    value = loss.data if lib is tg else loss.detach().numpy()
    grads = [np.asarray(inputs[k].grad) if lib is tg else inputs[k].grad.numpy() for k in differentiated]
    return value, grads, loss


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name, reduction", TABLE, ids=[f"{n}-{r}" for n, r in TABLE])
def test_values_and_gradients_match_pytorch(name, reduction, dtype):
    ours, our_grads, loss = run(tg, name, reduction, dtype)
    theirs, their_grads, _ = run(torch, name, reduction, dtype)
    tol = TOLERANCE[dtype]
    assert loss.dtype == dtype and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)
    assert len(our_grads) == len(their_grads) == len(CASES[name][2])
    for mine, expected in zip(our_grads, their_grads):
        assert mine.dtype == dtype
        np.testing.assert_allclose(mine, expected, rtol=tol, atol=tol)


def test_the_table_covers_every_new_option():
    covered = " ".join(CASES)
    for words in ("l1_loss", "huber_loss delta", "smooth_l1_loss beta 0", "kl_div log_target", "ignore_index",
                  "weight", "label_smoothing", "(N, C, L)", "(C,)", "probabilities every option", "nll_loss weight",
                  "binary_cross_entropy weight", "pos_weight", "mse_loss"):
        assert words in covered, words


def test_a_mean_over_no_sample_is_nan_with_zero_gradients_as_pytorch():
    z = normal(3, 4)
    y = np.array([-100, -100, -100])
    for options in ({}, {"label_smoothing": 0.2}, {"weight": W4}):
        ours = tg.tensor(z, requires_grad=True)
        loss = F.cross_entropy(ours, y, **options)
        loss.backward()
        theirs = torch.tensor(z, requires_grad=True)
        expected = TF.cross_entropy(theirs, torch.tensor(y), **{k: torch.tensor(v) if k == "weight" else v
                                                                 for k, v in options.items()})
        expected.backward()
        assert np.isnan(loss.item()) and np.isnan(expected.item())
        np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())  # zeros
    nll = F.nll_loss(tg.tensor(z).log_softmax(axis=1), y)
    assert np.isnan(nll.item())
    empty = F.cross_entropy(tg.zeros(0, 4), np.zeros(0, dtype=int))
    assert np.isnan(empty.item()) and np.isnan(TF.cross_entropy(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)).item())


def test_kl_div_target_gradient_at_zero_is_finite_where_pytorch_gives_nan():
    """d/dt [t·log t − t·x] is log t + 1 − x, −inf at t = 0; PyTorch's xlogy backward gives NaN there
    (0/0), tensorgrad takes t·log t's derivative as 0 at t = 0 (its log is of 1 there): −x."""
    x = log_probabilities(1, 4)
    t = np.array([[0.0, 0.5, 0.5, 0.0]])
    ours = tg.tensor(t, requires_grad=True)
    F.kl_div(tg.tensor(x), ours, reduction="sum").backward()
    theirs = torch.tensor(t, requires_grad=True)
    TF.kl_div(torch.tensor(x), theirs, reduction="sum").backward()
    positive = t > 0
    np.testing.assert_allclose(ours.grad[positive], theirs.grad.numpy()[positive], rtol=1e-12)
    np.testing.assert_array_equal(ours.grad[~positive], -x[~positive])
    assert np.all(np.isnan(theirs.grad.numpy()[~positive]))


def test_kl_div_mean_warns_as_pytorch_and_batchmean_does_not():
    x, t = tg.tensor(log_probabilities(2, 3)), probabilities(2, 3)
    with pytest.warns(UserWarning, match="kl_div: reduction='mean' divides the total loss by both"):
        F.kl_div(x, t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batchmean = F.kl_div(x, t, reduction="batchmean")
    np.testing.assert_allclose(batchmean.item(), F.kl_div(x, t, reduction="sum").item() / 2, rtol=1e-14)


def test_mse_loss_gives_a_target_that_requires_grad_its_gradient():
    x, t = tg.tensor(X, requires_grad=True), tg.tensor(T, requires_grad=True)
    F.mse_loss(x, t).backward()
    np.testing.assert_allclose(t.grad, -2 * (X - T) / X.size, rtol=1e-14)
    np.testing.assert_allclose(x.grad, -t.grad, rtol=1e-14)
    constant = tg.tensor(T)  # a tensor without grad stays without one
    F.mse_loss(tg.tensor(X, requires_grad=True), constant).backward()
    assert constant.grad is None


def test_a_float32_input_keeps_its_dtype_with_float64_targets_and_weights():
    x = tg.tensor(X.astype(np.float32), requires_grad=True)
    for loss in (F.l1_loss(x, T), F.mse_loss(x, T), F.huber_loss(x, T, delta=np.float64(0.5)),
                 F.smooth_l1_loss(x, T, beta=np.float64(0.5)), F.kl_div(x, np.abs(T), reduction="batchmean"),
                 F.cross_entropy(x, np.array([0, 3, 1]), weight=W4, label_smoothing=0.1),
                 F.binary_cross_entropy_with_logits(x, np.abs(T) / 4, weight=np.ones(4), pos_weight=W4)):
        assert loss.dtype == np.float32, loss


# ------------------------------------------------------------------------------------- modules
MODULES = [
    ("CrossEntropyLoss", {"weight": W4, "ignore_index": 1, "label_smoothing": 0.1, "reduction": "sum"},
     [normal(5, 4), labels(4, 5)]),
    ("CrossEntropyLoss", {}, [normal(5, 4), labels(4, 5, ignored=(2,))]),
    ("NLLLoss", {"weight": W4, "ignore_index": 3}, [log_probabilities(5, 4), labels(4, 5)]),
    ("NLLLoss", {"reduction": "none"}, [log_probabilities(5, 4), labels(4, 5)]),
    ("MSELoss", {"reduction": "sum"}, [X, T]),
    ("L1Loss", {}, [X, T]),
    ("L1Loss", {"reduction": "none"}, [X, T]),
    ("HuberLoss", {"delta": 0.5}, [X, T]),
    ("HuberLoss", {"reduction": "sum", "delta": 2.0}, [X, T]),
    ("SmoothL1Loss", {"beta": 0.5, "reduction": "none"}, [X, T]),
    ("SmoothL1Loss", {}, [X, T]),
    ("KLDivLoss", {"reduction": "batchmean"}, [log_probabilities(3, 4), probabilities(3, 4)]),
    ("KLDivLoss", {"reduction": "sum", "log_target": True}, [log_probabilities(3, 4), log_probabilities(3, 4)]),
    ("BCELoss", {"weight": RNG.random(3)}, [RNG.uniform(0.05, 0.95, (4, 3)), RNG.random((4, 3))]),
    ("BCEWithLogitsLoss", {"weight": RNG.random((4, 3)), "pos_weight": np.array([2.0, 1.0, 0.5])},
     [normal(4, 3), RNG.random((4, 3))]),
    ("BCEWithLogitsLoss", {"reduction": "none"}, [normal(4, 3), RNG.random((4, 3))]),
]


@pytest.mark.parametrize("name, options, arrays", MODULES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MODULES)])
def test_loss_modules_match_pytorch(name, options, arrays):
    ours = getattr(nn.layers, name)(**options)  # (tg.nn exports them too)
    theirs = getattr(torch.nn, name)(**{k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                                        for k, v in options.items()})
    x, tx = tg.tensor(arrays[0], requires_grad=True), torch.tensor(arrays[0], requires_grad=True)
    loss, expected = ours(x, arrays[1]), theirs(tx, torch.tensor(arrays[1]))
    np.testing.assert_allclose(loss.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    loss.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert list(ours.state_dict()) == list(theirs.state_dict())  # weight and pos_weight are buffers, as PyTorch's
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[key], value.numpy())


def test_loss_modules_keep_their_options_and_refuse_bad_ones():
    loss = nn.layers.CrossEntropyLoss(weight=[1.0, 2.0, 3.0], ignore_index=0, label_smoothing=0.1)
    assert (loss.reduction, loss.ignore_index, loss.label_smoothing) == ("mean", 0, 0.1)
    assert loss.weight.shape == (3,) and not loss.weight.requires_grad and list(loss.parameters()) == []
    loss.to(np.float64)
    assert loss.weight.dtype == np.float64
    assert nn.layers.HuberLoss("sum", 2.0).delta == 2.0 and nn.layers.SmoothL1Loss(beta=0.5).beta == 0.5
    assert nn.layers.KLDivLoss(reduction="batchmean", log_target=True).log_target
    with pytest.raises(TypeError, match=r"CrossEntropyLoss: weight is an array of weights, got 'sum' .*reduction='sum'"):
        nn.layers.CrossEntropyLoss("sum")
    with pytest.raises(ValueError, match=r"L1Loss: reduction must be one of \('mean', 'sum', 'none'\), got 'avg'"):
        nn.layers.L1Loss(reduction="avg")
    with pytest.raises(ValueError, match=r"MSELoss: reduction must be one of .*got 'batchmean'"):
        nn.layers.MSELoss("batchmean")
    with pytest.raises(TypeError, match="BCEWithLogitsLoss: pos_weight must hold real numbers"):
        nn.layers.BCEWithLogitsLoss(pos_weight=np.array(["a"]))
    with pytest.raises(ValueError, match=r"cross_entropy: weight must have one entry per class, shape \(4,\)"):
        nn.layers.CrossEntropyLoss(weight=[1.0, 2.0, 3.0])(tg.zeros(2, 4), np.array([0, 1]))


# ------------------------------------------------------------------------- second derivatives
Y = np.array([0, 2, -100, 1, 2])
SECOND = {
    "cross_entropy label_smoothing": (lambda z: F.cross_entropy(z, Y[[0, 1, 3, 4]], label_smoothing=0.1), [(4, 3)]),
    "cross_entropy weight ignore_index": (lambda z: F.cross_entropy(z, Y, W4[:3], reduction="sum"), [(5, 3)]),
    "cross_entropy every option": (lambda z: F.cross_entropy(z, Y, W4[:3], label_smoothing=0.3), [(5, 3)]),
    "cross_entropy (N, C, L) none": (lambda z: F.cross_entropy(z, Y.reshape(1, 5), label_smoothing=0.2,
                                                               reduction="none"), [(1, 3, 5)]),
    "cross_entropy (C,)": (lambda z: F.cross_entropy(z, np.array(1), W4[:3], label_smoothing=0.2), [(3,)]),
    "cross_entropy probabilities and target": (
        lambda z, t: F.cross_entropy(z, t.softmax(axis=1), W4[:3], label_smoothing=0.2), [(4, 3), (4, 3)]),
    "cross_entropy probabilities (N, C, L)": (
        lambda z, t: F.cross_entropy(z, t.softmax(axis=1), W4[:3], label_smoothing=0.1, reduction="none"),
        [(2, 3, 2), (2, 3, 2)]),
    "nll_loss weight ignore_index": (lambda x: F.nll_loss(x.log_softmax(axis=1), Y, W4[:3]), [(5, 3)]),
    "nll_loss (N, C, L)": (lambda x: F.nll_loss(x.log_softmax(axis=1), np.array([[0, 2, 1, 1, 2]]), W4[:3], ignore_index=1,
                                                reduction="sum"), [(1, 3, 5)]),
    "binary_cross_entropy weight and target": (
        lambda z, t: F.binary_cross_entropy(z.sigmoid(), t.sigmoid(), weight=W4[:3]), [(4, 3), (4, 3)]),
    "bce_with_logits weights and target": (
        lambda z, t: F.binary_cross_entropy_with_logits(z, t.sigmoid(), W4[:3], pos_weight=W5[:3] * 3), [(4, 3), (4, 3)]),
    "mse_loss target": (lambda x, t: F.mse_loss(x, t, reduction="sum"), [(3, 2), (3, 2)]),
    "l1_loss": (lambda x, t: F.l1_loss(x, t) * F.l1_loss(x, t), [(3, 2), (3, 2)]),
    "huber_loss": (lambda x, t: F.huber_loss(x * 2, t, delta=0.7), [(3, 2), (3, 2)]),
    "smooth_l1_loss": (lambda x, t: F.smooth_l1_loss(x * 2, t, beta=0.7, reduction="none"), [(3, 2), (3, 2)]),
    "kl_div": (lambda x, t: F.kl_div(x.log_softmax(axis=1), t.softmax(axis=1), reduction="batchmean"), [(3, 4), (3, 4)]),
    "kl_div log_target": (lambda x, t: F.kl_div(x, t, reduction="sum", log_target=True), [(3, 4), (3, 4)]),
}


@pytest.mark.parametrize("fn, shapes", SECOND.values(), ids=list(SECOND))
def test_new_options_have_second_derivatives(fn, shapes):
    rng = np.random.default_rng(5)
    inputs = [tg.tensor(rng.standard_normal(shape), requires_grad=True) for shape in shapes]
    assert tg.gradgradcheck(fn, inputs)


def test_a_hessian_vector_product_through_label_smoothing_matches_pytorch():
    z, v = normal(5, 3), normal(5, 3)
    ours = tg.tensor(z, requires_grad=True)
    (g,) = tg.grad(F.cross_entropy(ours, Y, W4[:3], label_smoothing=0.3), [ours], create_graph=True)
    (hv,) = tg.grad((g * v).sum(), [ours])
    theirs = torch.tensor(z, requires_grad=True)
    (tg_,) = torch.autograd.grad(TF.cross_entropy(theirs, torch.tensor(Y), torch.tensor(W4[:3]), label_smoothing=0.3),
                                 [theirs], create_graph=True)
    (thv,) = torch.autograd.grad((tg_ * torch.tensor(v)).sum(), [theirs])
    np.testing.assert_allclose(g.data, tg_.detach().numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(hv, thv.numpy(), rtol=1e-10, atol=1e-14)


# ------------------------------------------------------------------------------------- errors
def test_errors_name_the_loss_and_what_was_wrong():
    z = tg.zeros(4, 3)
    cases = [
        (lambda: F.cross_entropy(z, np.array([0, -1, 2, -100])),
         (r"^cross_entropy: target labels must be in \[0, 3\) for input of shape \(4, 3\) \(or equal ignore_index=-100\), "
          r"got labels from -1 to 2$")),
        (lambda: F.cross_entropy(z, np.array([0, 3, 2, 5]), ignore_index=5),
         r"^cross_entropy: target labels must be in \[0, 3\) .*ignore_index=5\), got labels from 0 to 3$"),
        (lambda: F.nll_loss(z, np.array([0, 1, 7, 1]), ignore_index=1), r"^nll_loss: target labels must be in \[0, 3\)"),
        (lambda: F.cross_entropy(z, np.array([0, 1, 2]), weight=np.ones(4)),
         r"^cross_entropy: weight must have one entry per class, shape \(3,\) for input of shape \(4, 3\), got shape \(4,\)$"),
        (lambda: F.nll_loss(z, np.array([0, 1, 2, 0]), np.ones((3, 1))), r"^nll_loss: weight must have one entry per class"),
        (lambda: F.cross_entropy(tg.zeros(2, 3, 4), np.zeros((2, 3), dtype=int)),
         (r"^cross_entropy: input has 2 samples \(shape \(2, 3, 4\)\) but target has shape \(2, 3\): class labels "
          r"must have shape \(2, 4\)$")),
        (lambda: F.cross_entropy(z, np.zeros(4, dtype=int), reduction="batchmean"),
         r"^cross_entropy: reduction must be one of \('mean', 'sum', 'none'\), got 'batchmean'$"),
        (lambda: F.cross_entropy(z, np.zeros(4, dtype=int), label_smoothing=1.5),
         r"^cross_entropy: label_smoothing must be in \[0, 1\], got 1.5$"),
        (lambda: F.cross_entropy(z, np.full((4, 3), 1 / 3), ignore_index=0),
         r"^cross_entropy: ignore_index \(0\) is for class labels, not for probability targets \(shape \(4, 3\)\)$"),
        (lambda: F.cross_entropy(z, np.full((4, 2), 0.5)), r"^cross_entropy: target must be class labels of shape \(4,\)"),
        (lambda: F.binary_cross_entropy(tg.full((4, 3), 0.5), np.ones((4, 3)), weight=np.ones(4)),
         r"^binary_cross_entropy: weight of shape \(4,\) does not broadcast to the input's shape \(4, 3\)$"),
        (lambda: F.binary_cross_entropy_with_logits(z, np.ones((4, 3)), pos_weight=np.ones(2)),
         r"^binary_cross_entropy_with_logits: pos_weight of shape \(2,\) does not broadcast to the input's shape \(4, 3\)$"),
        (lambda: F.binary_cross_entropy_with_logits(z, np.ones((4, 3)), reduction="avg"),
         r"^binary_cross_entropy_with_logits: reduction must be one of"),
        (lambda: F.l1_loss(z, np.zeros((4, 1))), r"^l1_loss: input shape \(4, 3\) and target shape \(4, 1\) differ$"),
        (lambda: F.huber_loss(z, np.zeros((4, 3)), delta=0), r"^huber_loss: delta must be positive, got 0$"),
        (lambda: F.smooth_l1_loss(z, np.zeros((4, 3)), beta=-1.0), r"^smooth_l1_loss: beta must be >= 0, got -1.0$"),
        (lambda: F.smooth_l1_loss(z, np.zeros(3)), r"^smooth_l1_loss: input shape \(4, 3\) and target shape \(3,\) differ$"),
        (lambda: F.kl_div(z, np.zeros((4, 3)), reduction="avg"),
         r"^kl_div: reduction must be one of \('mean', 'sum', 'none', 'batchmean'\), got 'avg'$"),
        (lambda: F.mse_loss(z, np.zeros((4, 3)), reduction="batchmean"), r"^mse_loss: reduction must be one of"),
        (lambda: F.nll_loss(z, np.zeros(4)), r"^nll_loss: expects \(N, C\) .* got input \(4, 3\) and target \(4,\) float64$"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    type_cases = [
        (lambda: F.l1_loss(tg.tensor(np.array([1, 2])), np.array([1, 2])),
         r"^l1_loss: input must be floating point, got int64 of shape \(2,\)$"),
        (lambda: F.cross_entropy(z, np.zeros(4, dtype=int), ignore_index=1.5), r"^cross_entropy: ignore_index must be an int"),
        (lambda: F.cross_entropy(z, np.zeros(4, dtype=int), weight=np.array(["a", "b", "c"])),
         r"^cross_entropy: weight must hold real numbers \(one per class\), got dtype <U1"),
    ]
    for call, message in type_cases:
        with pytest.raises(TypeError, match=message):
            call()
