"""The Tensor API: creation, dtype policy, operators both ways, comparisons, conversions, repr."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg


def test_python_floats_become_float32_and_ints_int64_as_pytorch():
    assert tg.tensor(1.0).dtype == np.float32
    assert tg.tensor([1.5, 2.5]).dtype == np.float32
    assert tg.tensor([1, 2.5]).dtype == np.float32   # one float makes the list float
    assert tg.Tensor([1.0]).dtype == np.float32
    assert tg.tensor(1).dtype == np.int64            # labels, indices
    assert tg.tensor([[1, 2], [3, 4]]).dtype == np.int64
    assert tg.tensor([True, False]).dtype == np.bool_
    with pytest.raises(TypeError, match="requires_grad=True needs a floating-point dtype, got int64"):
        tg.tensor([1, 2], requires_grad=True)


def test_ndarrays_keep_their_dtype_and_are_copied():
    a = np.arange(4, dtype=np.float64)
    t = tg.tensor(a)
    assert t.dtype == np.float64
    a[0] = 100
    assert t.data[0] == 0
    assert tg.tensor(np.arange(3)).dtype == np.int64
    shared = tg.from_numpy(a)
    a[1] = 7
    assert shared.data[1] == 7


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="requires_grad=True needs a floating-point dtype, got int64"):
        tg.tensor(np.arange(3), requires_grad=True)
    t = tg.tensor(np.array([True, False]))
    with pytest.raises(TypeError, match="got bool"):
        t.requires_grad = True


def test_creation_helpers():
    assert tg.zeros(2, 3).shape == (2, 3) and tg.zeros((2, 3)).dtype == np.float32
    assert np.all(tg.ones(4).data == 1)
    assert tg.full((2,), 7.0).data.tolist() == [7.0, 7.0]
    tg.manual_seed(0)
    a = tg.randn(3, 4)
    tg.manual_seed(0)
    b = tg.randn(3, 4)
    np.testing.assert_array_equal(a.data, b.data)
    assert a.dtype == np.float32
    r = tg.rand(1000)
    assert 0 <= r.data.min() and r.data.max() < 1
    assert tg.randn(2, dtype=np.float64).dtype == np.float64
    assert tg.zeros_like(a).shape == (3, 4) and tg.ones_like(np.ones((2, 2))).dtype == np.float64
    assert tg.arange(5).data.tolist() == [0, 1, 2, 3, 4]
    assert tg.arange(0.0, 1.0, 0.5).dtype == np.float32
    assert tg.arange(5, step=2).data.tolist() == [0, 2, 4]  # stop omitted: step still counts (as NumPy, PyTorch)
    assert tg.arange(2, 8, 3).data.tolist() == [2, 5]
    assert tg.eye(3).data.trace() == 3
    w = tg.randn(3, requires_grad=True)
    assert w.requires_grad and w.is_leaf


def test_operators_work_with_scalars_and_arrays_on_both_sides():
    x = tg.tensor([1.0, 2.0])
    a = np.array([10.0, 20.0], dtype=np.float32)
    assert (x + 1).tolist() == [2, 3] and (1 + x).tolist() == [2, 3]
    assert (x - 1).tolist() == [0, 1] and (1 - x).tolist() == [0, -1]
    assert (x * 2).tolist() == [2, 4] and (2 * x).tolist() == [2, 4]
    assert (x / 2).tolist() == [0.5, 1] and (2 / x).tolist() == [2, 1]
    assert (x ** 2).tolist() == [1, 4] and (2 ** x).tolist() == [2, 4]
    assert (a + x).tolist() == [11, 22] and isinstance(a + x, tg.Tensor)
    assert (a - x).tolist() == [9, 18] and (a * x).tolist() == [10, 40]
    assert (a / x).tolist() == [10, 10]
    m = np.ones((2, 2), dtype=np.float32)
    assert isinstance(m @ x, tg.Tensor) and (m @ x).tolist() == [3, 3]
    assert (-x).tolist() == [-1, -2] and abs(-x).tolist() == [1, 2]


def test_comparisons_give_boolean_tensors_without_grad():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in [(x > 2, [0, 0, 1]), (x >= 2, [0, 1, 1]), (x < 2, [1, 0, 0]),
                             (x <= 2, [1, 1, 0]), (x == 2, [0, 1, 0]), (x != 2, [1, 0, 1])]:
        assert result.dtype == bool and not result.requires_grad
        assert result.tolist() == [bool(e) for e in expected]
    assert len({x, tg.tensor([1.0])}) == 2  # still hashable


def test_item_numpy_detach_len_bool():
    x = tg.tensor([[3.5]], requires_grad=True)
    assert x.item() == 3.5 and isinstance(x.item(), float)
    assert x.numpy() is x.data
    assert len(tg.zeros(5, 2)) == 5
    assert bool(tg.tensor(1.0)) is True
    with pytest.raises(ValueError, match="only one-element tensors"):
        tg.zeros(2).item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(tg.zeros(2))
    d = (x * 2).detach()
    assert d.is_leaf and not d.requires_grad
    np.testing.assert_array_equal(np.asarray(x), [[3.5]])


def test_repr_is_readable():
    x = tg.tensor([[1.0, 2.0]], requires_grad=True, name="x")
    assert repr(x) == "tensor([[1., 2.]], requires_grad=True, name='x')"
    y = x * 2
    assert repr(y) == "tensor([[2., 4.]], grad_fn=<mul>)"
    assert "dtype=float64" in repr(tg.tensor(np.zeros(2)))


def test_in_place_updates_under_no_grad_like_pytorch():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    original = w.data
    with tg.no_grad():
        w -= 0.5 * w.grad
    assert w.data is original  # the same array, changed in place
    np.testing.assert_array_equal(w.data, [0, 0])
    with pytest.raises(RuntimeError, match="in-place change of a tensor that requires grad"):
        w += 1


def test_shape_helpers():
    x = tg.tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.reshape(6, 4).shape == (6, 4) and x.reshape((4, -1)).shape == (4, 6)
    assert x.transpose().shape == (4, 3, 2) and x.transpose(1, 0, 2).shape == (3, 2, 4)
    assert x.transpose((2, 0, 1)).shape == (4, 2, 3) and x.T.shape == (4, 3, 2)
    assert x.flatten().shape == (24,) and x.flatten(start=1).shape == (2, 12)
    assert x.flatten(0, 1).shape == (6, 4)
    assert x.argmax(axis=-1).tolist() == [[3, 3, 3], [3, 3, 3]]
    assert x.ndim == 3 and x.size == 24


def test_requires_grad_underscore_sets_the_flag_and_returns_the_tensor():
    w = tg.randn(3, 4)
    assert not w.requires_grad
    assert w.requires_grad_() is w and w.requires_grad
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad, 2 * w.data)
    assert not w.requires_grad_(False).requires_grad
    with pytest.raises(TypeError, match="int64"):
        tg.tensor(np.arange(3)).requires_grad_()


def test_reading_the_grad_of_a_tensor_an_op_made_warns_and_a_leafs_does_not():
    import warnings
    x = tg.randn(3, requires_grad=True)
    y = x * 2
    y.sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert x.grad is not None  # a leaf: no warning
    with pytest.warns(UserWarning, match=r"the .grad of a tensor made by an op \('mul'\) is not filled by backward\(\).*tg.trace\(keep="):
        assert y.grad is None


def test_a_tensor_shows_as_html_in_jupyter():
    x = tg.tensor([[1.0, 2.0]], requires_grad=True, name="x")
    (x * x).sum().backward()
    page = x._repr_html_()
    assert "<b>x</b> tensor (1, 2) float32, a leaf that requires grad" in page
    assert "[[1., 2.]]" in page and "grad" in page and "[[2., 4.]]" in page
    assert "made by <code>mul</code>" in (x * 3)._repr_html_()


def test_creation_functions_take_a_name_as_tensor_does():
    for t in (tg.zeros(3, requires_grad=True, name="b1"), tg.randn(2, 3, name="b1"), tg.full((2,), 1.0, name="b1"),
              tg.ones_like(np.ones(2), name="b1"), tg.arange(3, name="b1"), tg.eye(2, name="b1")):
        assert t.name == "b1"
