"""Bad input gets a clear error naming the op and the shapes/dtypes involved."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg


def test_matmul_names_the_shapes_that_do_not_align():
    x, w = tg.zeros(32, 784), tg.zeros(128, 10)
    with pytest.raises(ValueError) as info:
        x @ w
    assert str(info.value) == "matmul: shapes (32, 784) and (128, 10) are not aligned (784 != 128)"
    with pytest.raises(ValueError, match=r"matmul: both operands need at least 1 dimension"):
        tg.tensor(2.0) @ tg.zeros(3)
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3, 4\) and \(5, 4, 2\): batch dimensions"):
        tg.zeros(2, 3, 4) @ tg.zeros(5, 4, 2)


@pytest.mark.parametrize("op, symbol", [("add", "+"), ("sub", "-"), ("mul", "*"), ("div", "/"), ("pow", "**")])
def test_binary_ops_name_shapes_that_do_not_broadcast(op, symbol):
    a, b = tg.ones(3, 4), tg.ones(5)
    with pytest.raises(ValueError, match=rf"^{op}: .*\(3, 4\) float32, \(5,\) float32"):
        eval(f"a {symbol} b")


def test_multi_input_ops_name_the_shapes():
    with pytest.raises(ValueError, match=r"maximum: .*\(2,\) float32, \(3,\) float32"):
        tg.maximum(tg.ones(2), tg.ones(3))
    with pytest.raises(ValueError, match=r"concatenate: cannot join shapes \[\(2, 3\), \(2, 4\)\] along axis 0"):
        tg.concatenate([tg.ones(2, 3), tg.ones(2, 4)])
    with pytest.raises(ValueError, match=r"stack: cannot stack shapes \[\(2,\), \(3,\)\]"):
        tg.stack([tg.ones(2), tg.ones(3)])
    with pytest.raises(ValueError, match="where: "):
        tg.where(np.ones(4, dtype=bool), tg.ones(2), tg.ones(3))


def test_reductions_and_shapes_name_the_problem():
    x = tg.ones(2, 3)
    with pytest.raises(ValueError, match="sum: axis 2 is out of range for a tensor with 2 dimensions"):
        x.sum(axis=2)
    with pytest.raises(ValueError, match="mean: repeated axis"):
        x.mean(axis=(0, 0))
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 values\) into \(4, 2\)"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match=r"transpose: axes \(0, 0\) are not a permutation"):
        x.transpose(0, 0)
    with pytest.raises(IndexError, match=r"getitem: index \[5\] does not fit shape \(2, 3\)"):
        x[5]
    with pytest.raises(ValueError, match="softmax: axis 3 is out of range"):
        x.softmax(axis=3)
    with pytest.raises(ValueError, match="log_softmax: axis -3 is out of range"):
        x.log_softmax(axis=-3)
    with pytest.raises(ValueError, match=r"max: cannot reduce an empty tensor of shape \(0,\)"):
        tg.zeros(0).max()
    with pytest.raises(ValueError, match="clip: give at least one of min and max"):
        x.clip()
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        x.gelu(approximate="fast")
    with pytest.raises(ValueError, match="var: 1 values with ddof=1 leave no degrees of freedom"):
        tg.ones(1).var(ddof=1)


def test_unconvertible_data_is_refused():
    with pytest.raises(TypeError, match="tensor: cannot make a tensor from"):
        tg.tensor({"a": 1})
