"""The batch_norm op (ops/normalize.py's BatchNorm): BatchNorm1d/2d's training node, checked against
its plain reference (Normalize, then ·w + b, then the activation: three nodes), against PyTorch's
F.batch_norm, and in float32 against float64."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from tensorgrad import nn
from tensorgrad.errors import InputError
from tensorgrad.ops.normalize import Normalize

torch = pytest.importorskip("torch")

SHAPES = [(16, 5), (6, 3, 7), (8, 4, 5, 5)]


def _channels_last(x: np.ndarray) -> np.ndarray:
    """x (N, C, H, W) with the same values, stored (N, H, W, C) in memory, as a Conv2d's output."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def _inputs(shape, seed=0, mean=0.0, std=1.0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * std + mean).astype(dtype)
    w, b = (rng.standard_normal(shape[1]) + 1).astype(dtype), rng.standard_normal(shape[1]).astype(dtype)
    return x, w, b, rng.standard_normal(shape).astype(dtype)


def _reference(x, w, b, activation):
    """The plain way: Normalize over every axis but the channels, then ·w + b, then the activation."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = Normalize.apply(x, axes=axes) * w.reshape(shape) + b.reshape(shape)
    return y if activation is None else getattr(F, activation)(y)


def _gradients(function, x, w, b, g):
    tensors = [tg.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = function(*tensors)
    y.backward(g)
    return [y.data] + [t.grad for t in tensors]


@pytest.mark.parametrize("shape", SHAPES + ["channels-last"])
@pytest.mark.parametrize("activation", [None, "relu", "tanh"])
def test_the_one_node_gives_the_numbers_and_gradients_of_its_plain_reference(shape, activation):
    x, w, b, g = _inputs((8, 4, 5, 5) if shape == "channels-last" else shape)
    if shape == "channels-last":
        x = _channels_last(x)
    fast = _gradients(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True, activation=activation), x, w, b, g)
    plain = _gradients(lambda x, w, b: _reference(x, w, b, activation), x, w, b, g)
    for got, expected, name in zip(fast, plain, ["y", "∂x", "∂w", "∂b"]):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_matches_pytorch_and_moves_the_running_statistics_as_it_does(shape, affine):
    x, w, b, g = _inputs(shape, seed=1, mean=2.0, std=3.0)
    running = [np.zeros(shape[1]), np.ones(shape[1])]
    params = [tg.tensor(w, requires_grad=True), tg.tensor(b, requires_grad=True)] if affine else [None, None]
    tx = tg.tensor(x, requires_grad=True)
    y = F.batch_norm(tx, *running, *params, training=True, momentum=0.3)
    y.backward(g)

    px = torch.tensor(x, requires_grad=True)
    pparams = [torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)] if affine else [None, None]
    prunning = [torch.zeros(shape[1], dtype=torch.float64), torch.ones(shape[1], dtype=torch.float64)]
    py = torch.nn.functional.batch_norm(px, *prunning, *pparams, training=True, momentum=0.3)
    py.backward(torch.tensor(g))

    np.testing.assert_allclose(y.data, py.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tx.grad, px.grad.numpy(), rtol=1e-9, atol=1e-12)
    for ours, theirs in zip(running, prunning):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12)
    if affine:
        for ours, theirs in zip(params, pparams):
            np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-9, atol=1e-12)
    # and in evaluation, with those running statistics
    y_eval = F.batch_norm(x, *running, *(p.data if p is not None else None for p in params))
    py_eval = torch.nn.functional.batch_norm(torch.tensor(x), *prunning, *(None if p is None else p.detach() for p in pparams))
    np.testing.assert_allclose(y_eval.data, py_eval.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mean", [0.0, 100.0])
def test_float32_batch_norm_stays_close_to_float64_even_far_from_zero(mean):
    """The statistics of 100,000 float32 values per channel: summed by blocks, the mean corrected by
    the centered values' own mean. Measured: relative errors 1e-7-3e-6, PyTorch's 2e-6-2e-4."""
    x, w, b, g = _inputs((128, 8, 28, 28), seed=2, mean=mean, std=1.0)
    x = _channels_last(x)
    exact = _gradients(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), x, w, b, g)
    single = _gradients(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                        *(a.astype(np.float32) for a in (x, w, b, g)))
    for got, expected, name in zip(single, exact, ["y", "∂x", "∂w", "∂b"]):
        assert got.dtype == np.float32
        error = np.abs(got - expected).max() / np.abs(expected).max()
        assert error < 1e-5, f"{name}: relative error {error:.1e}"


def test_a_channels_last_input_gives_a_channels_last_output_and_gradient():
    """The layout every Conv2d output has, and MaxPool2d's fast path needs: kept, with no copy."""
    x, w, b, g = _inputs((4, 3, 6, 6))
    tx = tg.tensor(_channels_last(x), requires_grad=True)
    y = F.batch_norm(tx, None, None, w, b, training=True, activation="relu")
    y.backward(_channels_last(g))
    for array in (y.data, tx.grad):
        assert array.transpose(0, 2, 3, 1).flags.c_contiguous


def test_batchnorm_and_relu_in_a_fused_sequential_are_one_node_with_the_same_training():
    tg.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2))
    x, _, _, _ = _inputs((6, 2, 8, 8), seed=4, dtype=np.float32)
    results = []
    for fused in (False, True):
        copy = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2))
        copy.load_state_dict(model.state_dict())
        y = copy.fuse(fused)(tg.tensor(x))
        y.sum().backward()
        results.append((y, copy))
    (plain, plain_model), (fused, fused_model) = results
    assert fused.grad_fn.inputs[0].grad_fn.name == "batch_norm+relu"
    assert plain.grad_fn.inputs[0].grad_fn.name == "relu"
    np.testing.assert_allclose(fused.data, plain.data, rtol=1e-6, atol=1e-6)
    for (name, p), q in zip(plain_model.named_parameters(), fused_model.parameters()):
        np.testing.assert_allclose(q.grad, p.grad, rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_array_equal(fused_model[1].running_var.data, plain_model[1].running_var.data)


def test_batch_norm_names_itself_and_the_shapes_in_its_errors():
    x = np.ones((4, 3), np.float32)
    with pytest.raises(InputError, match=r"batch_norm: weight must have shape \(3,\) for an input with 3 channels "
                                         r"on axis 1, got \(4,\) \(input \(4, 3\)\)"):
        F.batch_norm(x, None, None, np.ones(4, np.float32), np.zeros(3, np.float32), training=True)
    with pytest.raises(InputError, match=r"batch_norm: expected more than 1 value per channel when training, "
                                         r"got input shape \(1, 3\)"):
        F.batch_norm(x[:1], None, None, training=True)
    with pytest.raises(tg.errors.InputTypeError, match="batch_norm: input must be floating point, got int64"):
        F.batch_norm(np.ones((4, 3), np.int64), None, None, training=True)
    with pytest.raises(ValueError, match="batch_norm: running_mean and running_var are needed when training=False"):
        F.batch_norm(x, None, None)
    with pytest.raises(InputError, match="batch_norm: activation must be None or one of"):
        F.batch_norm(x, None, None, training=True, activation="gelu")


def test_gradients_of_gradients_through_batch_norm_match_pytorch():
    x, w, b, _ = _inputs((5, 3), seed=5)
    tx, tw = tg.tensor(x, requires_grad=True), tg.tensor(w, requires_grad=True)
    (gx,) = tg.grad((F.batch_norm(tx, None, None, tw, b, training=True, activation="tanh") ** 2).sum(), [tx],
                    create_graph=True)
    (gx * gx).sum().backward()
    px, pw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    (pgx,) = torch.autograd.grad((torch.tanh(torch.nn.functional.batch_norm(px, None, None, pw, torch.tensor(b),
                                                                            training=True)) ** 2).sum(), [px],
                                 create_graph=True)
    (pgx * pgx).sum().backward()
    np.testing.assert_allclose(gx.data, pgx.detach().numpy(), rtol=1e-9)
    np.testing.assert_allclose(tx.grad, px.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(tw.grad, pw.grad.numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_a_large_input_goes_by_shares_to_the_same_numbers_on_any_thread_count(threads):
    """Past SHARE_MIN_VALUES the passes go share by share (on tensorgrad's threads): the same
    numbers as the plain reference, and bit for bit the same whatever the thread count."""
    from tensorgrad.ops import normalize
    x, w, b, g = _inputs((64, 8, 12, 12), seed=6, mean=1.0, std=2.0)
    assert x.size >= normalize.SHARE_MIN_VALUES
    x, g = _channels_last(x), _channels_last(g)

    def fast(x, w, b):
        return F.batch_norm(x, None, None, w, b, training=True, activation="relu")

    tg.set_num_threads(1)
    serial = _gradients(fast, x, w, b, g)
    tg.set_num_threads(threads)
    try:
        threaded = _gradients(fast, x, w, b, g)
    finally:
        tg.set_num_threads("auto")
    plain = _gradients(lambda x, w, b: _reference(x, w, b, "relu"), x, w, b, g)
    for got, same, expected, name in zip(threaded, serial, plain, ["y", "∂x", "∂w", "∂b"]):
        np.testing.assert_array_equal(got, same, err_msg=name)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, err_msg=name)
