"""Convolution and pooling against PyTorch: forward values and every gradient.

The main case is the CNN feature extractor of document 003 on its real shapes:
x (8, 1, 28, 28) -> conv 32 3x3 -> relu -> conv 64 3x3 -> relu -> max pool 2 -> (8, 64, 12, 12).
Skipped when torch is not installed.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import tensorgrad as tg  # noqa: E402
from tensorgrad.nn.functional import avg_pool2d, conv2d, max_pool2d  # noqa: E402


def _ours_and_torch(arrays):
    ours = [tg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


def _cnn_inputs(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [a.astype(dtype) for a in (
        rng.standard_normal((8, 1, 28, 28)),
        rng.standard_normal((32, 1, 3, 3)) / 3,
        rng.standard_normal(32) * 0.1,
        rng.standard_normal((64, 32, 3, 3)) / 17,
        rng.standard_normal(64) * 0.1,
    )]


@pytest.mark.parametrize("dtype, rtol, atol", [(np.float64, 1e-10, 1e-10), (np.float32, 2e-4, 2e-5)])
def test_cnn_feature_extractor_matches_torch(dtype, rtol, atol):
    arrays = _cnn_inputs(dtype)
    (x, w1, b1, w2, b2), (tx, tw1, tb1, tw2, tb2) = _ours_and_torch(arrays)
    g = np.random.default_rng(1).standard_normal((8, 64, 12, 12)).astype(dtype)

    y = max_pool2d(conv2d(conv2d(x, w1, b1).relu(), w2, b2).relu(), 2)
    ty = F.max_pool2d(F.relu(F.conv2d(F.relu(F.conv2d(tx, tw1, tb1)), tw2, tb2)), 2)
    assert y.shape == (8, 64, 12, 12) and y.dtype == dtype
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=rtol, atol=atol)

    y.backward(g)
    ty.backward(torch.from_numpy(g))
    for ours, theirs, name in zip((x, w1, b1, w2, b2), (tx, tw1, tb1, tw2, tb2), ("x", "w1", "b1", "w2", "b2")):
        assert ours.grad.dtype == dtype, name
        scale = np.abs(theirs.grad.numpy()).max()
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=rtol, atol=atol * max(scale, 1), err_msg=name)


@pytest.mark.parametrize("stride, padding, w_shape", [
    (1, 0, (5, 3, 3, 3)), (2, 1, (5, 3, 3, 3)), ((2, 1), (1, 2), (4, 3, 2, 3)), (3, 2, (2, 3, 5, 4)),
])
def test_conv2d_configurations_match_torch(stride, padding, w_shape):
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((3, 3, 11, 10)), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])]
    (x, w, b), (tx, tw, tb) = _ours_and_torch(arrays)
    y = conv2d(x, w, b, stride=stride, padding=padding)
    ty = F.conv2d(tx, tw, tb, stride=stride, padding=padding)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    ty.backward(torch.from_numpy(g))
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kernel, stride, padding", [(2, None, 0), (3, 2, 0), (2, 1, 0), (3, 2, 1), ((3, 2), (1, 2), (1, 1))])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("channels_last", [False, True])  # channels-last max pooling has its own path
@pytest.mark.parametrize("channels", [3, 16])
def test_pooling_matches_torch(kernel, stride, padding, ties, channels_last, channels):
    rng = np.random.default_rng(3)
    data = rng.standard_normal((2, channels, 9, 8))
    if ties:  # many equal values, as after a relu: max pooling must pick the same (first) maximum
        data = np.maximum(np.round(data), 0)
    if channels_last:
        data = np.ascontiguousarray(data.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    for ours_fn, torch_fn in ((max_pool2d, F.max_pool2d), (avg_pool2d, F.avg_pool2d)):
        (x,), (tx,) = _ours_and_torch([data])
        y = ours_fn(x, kernel, stride, padding)
        ty = torch_fn(tx, kernel, stride, padding)
        np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
        g = rng.standard_normal(y.shape)
        y.backward(g)
        ty.backward(torch.from_numpy(g))
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
