"""The graph walk: accumulation, freeing, retain_graph, non-scalar roots, no_grad, deep graphs."""
from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import tensorgrad as tg


def test_gradients_accumulate_until_zeroed():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    (w * 3).sum().backward()
    (w * 3).sum().backward()
    np.testing.assert_array_equal(w.grad, [6, 6])
    w.zero_grad()
    assert w.grad is None
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [2, 4])


def test_a_tensor_used_twice_gets_both_contributions():
    x = tg.tensor(3.0, requires_grad=True)
    y = x * x + x  # dy/dx = 2x + 1
    y.backward()
    assert x.grad == 7.0


def test_diamond_graph_sums_paths_once():
    x = tg.tensor([2.0], requires_grad=True)
    a = x * 2
    b = a.exp()
    c = a * 3
    (b + c).sum().backward()
    np.testing.assert_allclose(x.grad, [2 * np.exp(4.0) + 6], rtol=1e-6)


def test_leaves_never_share_a_gradient_buffer():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    assert a.grad is not b.grad
    a.grad *= 0  # changing one in place must not change the other
    np.testing.assert_array_equal(b.grad, [1, 1])


def test_leaf_gradient_is_writeable_even_from_a_broadcast():
    x = tg.tensor(np.zeros((3, 4)), requires_grad=True)
    x.sum().backward()  # sum's backward is a broadcast view of one number
    assert x.grad.flags.writeable and x.grad.base is None
    x.grad += 1
    np.testing.assert_array_equal(x.grad, 2)


def test_user_grad_is_copied_not_aliased():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    upstream = np.array([1.0, 1.0], dtype=np.float32)
    (x + 0).backward(upstream)
    upstream[:] = 5
    np.testing.assert_array_equal(x.grad, [1, 1])


def test_graph_is_freed_after_backward_and_second_backward_raises():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    assert y.grad_fn.saved is None  # the arrays saved for backward were released
    with pytest.raises(RuntimeError, match="already freed.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad, [4, 8])


def test_non_scalar_root_needs_a_gradient_of_its_shape():
    x = tg.tensor([[1.0, 2.0]], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"shape \(1, 2\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"grad has shape \(3,\) but the tensor has shape \(1, 2\)"):
        y.backward(np.ones(3))
    y.backward(np.array([[1.0, 10.0]]))
    np.testing.assert_array_equal(x.grad, [[2, 20]])


def test_backward_on_a_tensor_without_grad_explains():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (tg.tensor([1.0]) * 2).sum().backward()


def test_backward_on_a_leaf():
    x = tg.tensor(2.0, requires_grad=True)
    x.backward()
    assert x.grad == 1.0


def test_no_grad_records_nothing_and_restores():
    w = tg.tensor([1.0], requires_grad=True)
    with tg.no_grad():
        y = w * 2
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    assert y.grad_fn is None and not y.requires_grad and y.is_leaf

    @tg.no_grad()
    def infer(t):
        return t * 2

    assert infer(w).grad_fn is None
    with tg.no_grad():
        with tg.enable_grad():
            assert (w * 2).requires_grad


def test_constants_get_no_gradient():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    c = tg.tensor([3.0, 4.0])
    (w * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(w.grad, [3, 4])


def test_detach_cuts_the_graph():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).detach() * w
    y.sum().backward()
    np.testing.assert_array_equal(w.grad, [1, 4])


def test_chain_of_100_000_ops_runs_without_recursion():
    x = tg.tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0])
    del y  # freeing a deep graph must not overflow the C stack either
    gc.collect()


def test_wide_graph_with_shared_subexpressions():
    x = tg.tensor(np.ones(3), requires_grad=True)
    layer = [x * float(i) for i in range(50)]
    total = layer[0]
    for t in layer[1:]:
        total = total + t * t
    total.sum().backward()
    expected = sum(2 * i * i for i in range(1, 50))  # d/dx Σ (i·x)² at x = 1
    np.testing.assert_allclose(x.grad, expected)


def test_graph_has_no_reference_cycles():
    gc.collect()
    gc.disable()
    try:
        x = tg.tensor(np.ones((4, 3)), requires_grad=True)
        loss = (x @ np.ones((3, 2))).relu().log_softmax(axis=-1).sum()
        node_ref = weakref.ref(loss.grad_fn)
        loss.backward()
        del loss
        assert node_ref() is None, "the graph survived without the gc: a reference cycle"
    finally:
        gc.enable()


def test_requires_grad_flags():
    x = tg.tensor([1.0], requires_grad=True)
    y = x * 2
    assert x.is_leaf and not y.is_leaf
    assert y.requires_grad and y.grad_fn.name == "mul"
    assert y.grad_fn.inputs[0] is x
