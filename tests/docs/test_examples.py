"""Every script in examples/ runs as written and prints what it promises."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.py"))
EXPECTED = {
    "audit_documents.py": "constant scale factor: manual ≈ 64·autograd",
    "cnn_on_threads.py": "largest weight difference between the two runs",
    "custom_op.py": "Swish without the product rule: gradcheck FAILED",
    "draw_graph.py": "mlp_graph_grads.svg",
    "find_the_mistake.py": "x32: a missing or extra 1/batch?",
    "mlp_from_ops.py": "epoch 5: loss",
    "plot_activations.py": "wrote activations.png",
    "trace_backprop.py": "wrote frame_1.svg",
    "train_pytorch_style.py": "epoch 3: last batch loss",
}


def _threaded_weights_match_serial(out: str) -> None:
    difference = float(out.split("largest weight difference between the two runs: ")[1].split()[0])
    assert difference < 1e-5  # float32 rounding of weights of order 0.1, not a different step


def _the_right_backward_passes_and_shows_in_the_trace(out: str) -> None:
    assert "Swish: gradcheck passed" in out
    assert "swish" in out.split("formula applied")[1] and "∂x = g·(σ + x·σ·(1 − σ))" in out


CHECKS = {"cnn_on_threads.py": _threaded_weights_match_serial,  # more than a line to find
          "custom_op.py": _the_right_backward_passes_and_shows_in_the_trace}


def test_every_example_is_listed():
    assert {p.name for p in EXAMPLES} == set(EXPECTED)


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script, tmp_path):
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert EXPECTED[script.name] in result.stdout
    CHECKS.get(script.name, lambda out: None)(result.stdout)

