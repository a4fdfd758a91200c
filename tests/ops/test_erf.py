"""Tests for the NumPy erf in tensorgrad.ops._erf against math.erf."""

import importlib.util
import math
import pathlib

import numpy as np
import pytest

try:
    from tensorgrad.ops._erf import erf
except Exception:  # package __init__ not importable yet: load the module file itself
    _path = pathlib.Path(__file__).resolve().parents[2] / "tensorgrad" / "ops" / "_erf.py"
    _spec = importlib.util.spec_from_file_location("_tensorgrad_erf_under_test", _path)
    _mod = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_mod)
    erf = _mod.erf


SPECIAL = [
    0.0, -0.0, 1e-300, -1e-300, 5e-324, -5e-324, 2.0**-28, -(2.0**-28),
    0.84375, -0.84375, 1.25, -1.25, 2.857142857, -2.857142857,
    6.0, -6.0, 28.0, -28.0, 1e300, -1e300,
]


def _reference(x):
    return np.array([math.erf(v) for v in x.tolist()], dtype=np.float64)


def _max_ulp_error(x):
    got = erf(x)
    want = _reference(x)
    assert got.dtype == np.float64
    return float(np.max(np.abs(got - want) / np.spacing(np.abs(want))))


def test_dense_grid_within_2_ulp():
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            np.linspace(-10.0, 10.0, 150_001),
            rng.uniform(-10.0, 10.0, 40_000),
            rng.uniform(-1.5, 1.5, 10_000),
            # values straddling each piece boundary by a few ulps
            np.concatenate(
                [
                    b + np.arange(-50, 51) * np.spacing(b)
                    for b in (2.0**-28, 0.84375, 1.25, 1 / 0.35, 6.0)
                ]
            ),
            np.logspace(-320, 0, 2_000),
            np.array(SPECIAL),
        ]
    )
    x = np.concatenate([x, -x])
    assert _max_ulp_error(x) <= 2.0


def test_special_values_exact():
    x = np.array(SPECIAL)
    np.testing.assert_array_equal(erf(x), _reference(x))
    assert erf(np.array(0.0)) == 0.0
    assert not np.signbit(erf(np.array(0.0)))
    assert np.signbit(erf(np.array(-0.0)))
    assert erf(np.array(5e-324)) == math.erf(5e-324)
    assert erf(np.array(np.inf)) == 1.0
    assert erf(np.array(-np.inf)) == -1.0
    assert np.isnan(erf(np.array(np.nan)))
    out = erf(np.array([np.nan, np.inf, -np.inf, 6.0, -6.0, 28.0, -28.0]))
    assert np.isnan(out[0])
    np.testing.assert_array_equal(out[1:], [1.0, -1.0, 1.0, -1.0, 1.0, -1.0])


def test_dtypes_and_shapes():
    x32 = np.linspace(-4, 4, 1001, dtype=np.float32)
    y32 = erf(x32)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(
        y32, _reference(x32.astype(np.float64)).astype(np.float32), rtol=0, atol=1e-7
    )

    x64 = np.linspace(-4, 4, 12).reshape(3, 4)
    y64 = erf(x64)
    assert y64.dtype == np.float64 and y64.shape == (3, 4)

    y0 = erf(np.array(0.5))
    assert isinstance(y0, np.ndarray) and y0.shape == () and y0.dtype == np.float64
    assert y0 == pytest.approx(math.erf(0.5), rel=0, abs=2 * np.spacing(math.erf(0.5)))
    assert erf(np.array(0.5, dtype=np.float32)).dtype == np.float32

    # non-contiguous input and integer input
    xs = np.linspace(-3, 3, 101)[::3]
    np.testing.assert_array_equal(erf(xs), erf(xs.copy()))
    assert erf(np.arange(-3, 4)).dtype == np.float64

    assert erf(np.array([])).shape == (0,)


def test_odd_symmetry():
    x = np.linspace(0, 7, 10_001)
    np.testing.assert_array_equal(erf(-x)[1:], -erf(x)[1:])
