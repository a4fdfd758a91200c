"""benchmarks/time_to_accuracy.py trains a recipe in tensorgrad and in PyTorch from the same
weights on the same batches: on the embedded sample, both reach similar accuracy and it reports
the time to the target for each."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "time_to_accuracy.py"


def test_both_frameworks_train_the_same_recipe_and_the_times_are_reported(tmp_path):
    out = tmp_path / "tta.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--sample", "--recipe", "fast-mlp", "--epochs", "2",
                           "--target", "0.9", "--torch-threads", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    (run,) = result["runs"]
    ours, theirs = run["tensorgrad"], run["pytorch"]
    assert len(ours["epochs"]) == len(theirs["epochs"]) == 2
    # same weights, same batches, same optimizer: the two trajectories agree closely
    assert abs(ours["final_test_accuracy"] - theirs["final_test_accuracy"]) < 0.01
    assert ours["seconds_to_target"] is not None and theirs["seconds_to_target"] is not None
    assert "fast-mlp seed 0 tensorgrad" in done.stdout and "fast-mlp seed 0 pytorch" in done.stdout
