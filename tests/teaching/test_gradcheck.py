"""gradcheck itself: it passes correct gradients and names the worst element of wrong ones."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.autograd import Function
from tensorgrad.errors import GradcheckError, TensorgradError


class WrongSquare(Function):
    """x² with a deliberately wrong derivative (x instead of 2x)."""
    name = "wrong_square"
    formula = "∂a = g·a   (wrong on purpose)"

    def forward(self, a):
        self.save(a)
        return a * a

    def backward(self, g):
        (a,) = self.saved
        return (g * a,)


def test_passes_and_is_truthy_for_correct_gradients():
    x = tg.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    result = tg.gradcheck(lambda t: (t * t).sum(axis=1), [x])
    assert result and result.ok
    assert "passed" in repr(result)


def test_names_the_input_and_worst_element_when_wrong():
    x = tg.tensor(np.array([[1.0, -3.0], [0.5, 2.0]]), requires_grad=True, name="x")
    y = tg.tensor(np.ones(2), requires_grad=True)
    result = tg.gradcheck(lambda a, b: WrongSquare.apply(a).sum() + (b * 2).sum(), [x, y], raise_exception=False)
    assert not result
    text = repr(result)
    assert "FAILED" in text
    assert "input 0 (x, shape (2, 2)): MISMATCH; worst element (0, 1)" in text
    assert "analytic -3, numeric -6" in text
    assert "input 1 (inputs[1], shape (2,)): ok" in text
    assert result.inputs[0].rel_error == pytest.approx(0.5)


def test_perturbs_inputs_in_place_whatever_their_memory_layout():
    data = np.random.default_rng(1).standard_normal((4, 3)).T  # Fortran-ordered: not C-contiguous
    x = tg.tensor(data, requires_grad=True)
    assert not x.data.flags.c_contiguous
    assert tg.gradcheck(lambda t: (t * t * t).sum(), [x])
    assert not tg.gradcheck(lambda t: WrongSquare.apply(t).sum(), [x], raise_exception=False)  # a numeric 0 would not say so


def test_runs_in_float64_whatever_the_input_dtype():
    x = tg.tensor(np.array([0.3, 0.7], dtype=np.float32), requires_grad=True)
    seen = []

    def fn(t):
        seen.append(t.dtype)
        return t.exp()

    assert tg.gradcheck(fn, [x])
    assert set(seen) == {np.dtype(np.float64)}


def test_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="no input has requires_grad=True"):
        tg.gradcheck(lambda t: t * 2, [tg.tensor([1.0])])


def test_a_mismatch_raises_with_the_readable_report_as_pytorch_does():
    x = tg.tensor(np.array([[1.0, -3.0], [0.5, 2.0]]), requires_grad=True, name="x")
    with pytest.raises(GradcheckError) as caught:
        tg.gradcheck(lambda a: WrongSquare.apply(a).sum(), [x])
    err = caught.value
    assert isinstance(err, AssertionError) and isinstance(err, TensorgradError)
    message = str(err)
    assert message == repr(err.result) and not err.result
    assert message.startswith("gradcheck FAILED (atol=1e-05, rtol=0.001)")
    assert "input 0 (x, shape (2, 2)): MISMATCH; worst element (0, 1)" in message
    assert "analytic -3, numeric -6" in message
    assert tg.gradcheck(lambda a: (a * a).sum(), [x])  # a passing check still returns its result


def test_assert_gradcheck_outside_pytest_prints_the_report(tmp_path):
    """`assert tg.gradcheck(...)` in a plain script (no pytest assertion rewriting) used to end with a
    bare `AssertionError`: the traceback now carries the report."""
    import subprocess
    import sys

    script = tmp_path / "check.py"
    script.write_text(
        "import numpy as np, tensorgrad as tg\n"
        "class Wrong(tg.Function):\n"
        "    def forward(self, a):\n"
        "        self.save(a)\n"
        "        return a * a\n"
        "    def backward(self, g):\n"
        "        (a,) = self.saved\n"
        "        return g * a\n"
        "x = tg.tensor(np.array([1.0, 2.0]), requires_grad=True)\n"
        "assert tg.gradcheck(lambda t: Wrong.apply(t).sum(), [x])\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()
    assert last[-2].startswith("tensorgrad.errors.GradcheckError: gradcheck FAILED")
    assert "MISMATCH; worst element (1,): analytic 2, numeric 4" in last[-1]


def test_result_shows_as_an_html_table_in_jupyter():
    x = tg.tensor(np.array([[1.0, -3.0], [0.5, 2.0]]), requires_grad=True, name="x<1>")
    y = tg.tensor(np.ones(2), requires_grad=True)
    failed = tg.gradcheck(lambda a, b: WrongSquare.apply(a).sum() + (b * 2).sum(), [x, y], raise_exception=False)
    page = failed._repr_html_()
    assert page.startswith("<table>") and page.endswith("</table>")
    assert "<caption>gradcheck <b>FAILED</b> (atol=1e-05, rtol=0.001)</caption>" in page
    assert page.count("<tr>") == 3  # the head and one row per input
    assert "<th>worst element</th>" in page and "<th>analytic</th>" in page and "<th>numeric</th>" in page
    assert "<td>0 (x&lt;1&gt;)</td><td>(2, 2)</td><td><b>MISMATCH</b></td><td>(0, 1)</td><td>-3</td><td>-6" in page
    assert "<td>1 (inputs[1])</td><td>(2,)</td><td>ok</td>" in page
    passed = tg.gradcheck(lambda a: (a * a).sum(), [x])
    assert "<caption>gradcheck passed" in passed._repr_html_()
