"""benchmarks/winograd.py: the Winograd F(2x2, 3x3) experiment computes the convolution it is
timed against (else its timings would compare different work)."""
from __future__ import annotations

import numpy as np
import pytest

import winograd  # noqa: E402  (benchmarks/ is on the path: tests/conftest.py)


def test_forward_and_both_gradients_match_pytorch():
    pytest.importorskip("torch")
    assert winograd.check() < 1e-10


@pytest.mark.parametrize("chunk", [1, 2, 5])
def test_winograd_and_im2col_give_the_same_numbers_chunk_by_chunk(chunk):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 8, 10, 6))          # channels-last; 6x8 output: 3x4 tiles
    weight = rng.standard_normal((4, 6, 3, 3))
    g = rng.standard_normal((5, 6, 8, 4))
    win_forward, win_backward = winograd.winograd_convolution(x, weight, chunk)
    ref_forward, ref_backward = winograd.im2col_convolution(x, weight, chunk)
    np.testing.assert_allclose(win_forward(), ref_forward(), rtol=1e-10, atol=1e-10)
    for win, ref in zip(win_backward(g), ref_backward(g)):
        np.testing.assert_allclose(win, ref, rtol=1e-10, atol=1e-10)


def test_the_transform_matrices_hold_only_zero_and_plus_minus_one_where_mix_needs_it():
    for matrix in (winograd.BT, winograd.AT):
        assert set(np.unique(matrix)) <= {-1, 0, 1}
    # G w Gᵀ then Aᵀ(·)A of a lone kernel on a lone tile is the 3x3 correlation
    rng = np.random.default_rng(1)
    d, w = rng.standard_normal((4, 4)), rng.standard_normal((3, 3))
    y = winograd.AT @ ((winograd.G @ w @ winograd.G.T) * (winograd.BT @ d @ winograd.BT.T)) @ winograd.AT.T
    direct = np.array([[np.sum(d[i:i + 3, j:j + 3] * w) for j in range(2)] for i in range(2)])
    np.testing.assert_allclose(y, direct, rtol=1e-12, atol=1e-12)


def test_the_timing_reports_both_ways_for_a_layer():
    result = winograd.compare(2, 10, 8, 8, repeats=1)
    assert set(result) == {"im2col_forward_ms", "im2col_backward_ms", "winograd_forward_ms", "winograd_backward_ms"}
    assert all(ms > 0 for ms in result.values())
