"""The README's Python examples run as written, one after the other as a reader would paste them."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import tensorgrad as tg

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```python\n(.*?)^```$", README, flags=re.S | re.M)


def test_the_readme_has_its_examples():
    assert len(BLOCKS) >= 5
    assert any("tg.trace(" in block for block in BLOCKS) and any("class Mul(Function)" in block for block in BLOCKS)


@pytest.fixture
def readme_namespace(tmp_path, monkeypatch):
    """Every block run in order in one namespace (a block may use the names of one before it)."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    try:
        for number, block in enumerate(BLOCKS, 1):
            try:
                exec(compile(block, f"README.md python block {number}", "exec"), namespace)
            except Exception as err:
                raise AssertionError(f"README python block {number} fails: {err!r}\n{block}") from err
    finally:
        tg.set_num_threads("auto")  # the threads example fixes two threads
    return namespace


def test_every_block_runs_and_computes_what_it_says(readme_namespace):
    ns = readme_namespace
    assert ns["W1"].grad.shape == (128, 784)                      # first example
    assert list(ns["model"].state_dict().keys()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    tr = ns["tr"]                                                  # the trace example kept h's gradient
    assert tr.grads["h"].shape == ns["h"].shape and np.abs(tr.grads["h"]).sum() > 0
    assert "relu" in str(tr) and "log_softmax" in str(tr)          # one row per backward step


def test_the_mul_example_is_a_working_op(readme_namespace):
    Mul = readme_namespace["Mul"]
    a = tg.tensor(np.array([[1.0, 2.0, 3.0]]), requires_grad=True)
    b = tg.tensor(np.array([[2.0], [5.0]]), requires_grad=True)   # broadcast: (1, 3) * (2, 1)
    Mul.apply(a, b).sum().backward()
    np.testing.assert_allclose(a.grad, [[7.0, 7.0, 7.0]])
    np.testing.assert_allclose(b.grad, [[6.0], [6.0]])


SPANISH = (Path(__file__).resolve().parents[2] / "README.es.md").read_text(encoding="utf-8")


def test_the_spanish_quick_start_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    blocks = re.findall(r"^```python\n(.*?)^```$", SPANISH, flags=re.S | re.M)
    assert len(blocks) == 3  # first model, the audit, the graph and trace
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"README.es.md python block {number}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "(128, 784)" in out                           # the first model's W1.grad
    assert "all gradients match" in out and "x64" in out  # the right backward matches; x64 is named
    assert "formula applied" in out and isinstance(namespace["tr"], tg.Trace)
