"""benchmarks/batch_norm.py: the one node and the plain reference it is timed against compute the
same numbers (else the ratio would compare different work), and a smoke run writes every figure."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import batch_norm  # noqa: E402  (benchmarks/ is on the path: tests/conftest.py)


@pytest.mark.parametrize("shape", [(6, 3, 5, 4), (16, 5)])
def test_one_node_and_plain_reference_give_the_same_output_gradients_and_running_stats(shape):
    case = batch_norm.make_case(shape, np.float64, seed=1)
    assert case.x.ndim == 2 or case.x.strides[1] == case.x.itemsize  # channels-last, as timed
    runs = {}
    for name, forward in batch_norm.TENSORGRAD_FORWARDS.items():
        step = batch_norm.TensorgradStep(forward, case)
        step()
        y = step()  # twice: the running statistics move twice, the gradients are forgotten in between
        runs[name] = [y.data, step.x.grad, step.weight.grad, step.bias.grad, step.running_mean, step.running_var]
    assert 0.2 < np.mean(runs["one-node"][0] > 0) < 0.8  # the ReLU's both sides are exercised
    labels = ["output", "x.grad", "weight.grad", "bias.grad", "running_mean", "running_var"]
    for label, one, plain in zip(labels, runs["one-node"], runs["plain"]):
        # atol: a value near 0 (~1e-8, from O(1) terms that cancel) carries their rounding, up to ~1e-15
        # absolute: rtol alone fails on one value in ~1e5 (seen on (128, 16, 7, 7), 30 seeds)
        np.testing.assert_allclose(one, plain, rtol=1e-10, atol=1e-13, err_msg=label)


@pytest.mark.parametrize("torch_flag", [[], ["--no-torch"]], ids=["torch", "no-torch"])
def test_a_quick_run_writes_every_shape_with_times_and_ratios(tmp_path: Path, torch_flag, capsys):
    with_torch = not torch_flag
    if with_torch:
        pytest.importorskip("torch")
    batch_norm.main(["--quick", "--out", str(tmp_path)] + torch_flag)
    written = list(tmp_path.glob("batch_norm-quick-*.json"))
    assert len(written) == 1 and not list(tmp_path.glob("*-latest.json"))  # a smoke run keeps the real figures
    results = json.loads(written[0].read_text())
    names = ["one-node", "plain"] + (["torch"] if with_torch else [])
    assert results["implementations"] == names
    assert set(results["shapes"]) == {"128x16x28x28", "128x32x14x14", "128x128"}
    for result in results["shapes"].values():
        assert set(result["ms_per_call"]) == set(names)
        assert all(ms > 0 for ms in result["ms_per_call"].values())
        assert all(len(times) == 3 for times in result["per_round_ms"].values())
        ratios = ["one-node/plain"] + (["one-node/torch"] if with_torch else [])
        assert set(result["ratios"]) == set(ratios)
        for ratio in ratios:
            stats = result["ratios"][ratio]
            assert 0 < stats["p10"] <= stats["median"] <= stats["p90"]
    environment = results["environment"]
    assert environment["python"] and environment["cpu_count"] and environment["date"]
    assert "load_average_1_5_15min" in environment
    assert "one-node/plain" in capsys.readouterr().out
