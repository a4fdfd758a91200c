"""benchmarks/profile_step.py runs and prints what it promises (figures it prints are not judged)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "profile_step.py"


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def import_profile_step():
    """The script as a module (and speed.py beside it importable)."""
    sys.path.insert(0, str(SCRIPT.parent))
    import profile_step
    return profile_step


def test_phases_print_five_phases_for_each_implementation():
    rows = [line for line in run("phases", "W2", "--rounds", "1").splitlines() if line.startswith("tensorgrad [")]
    assert len(rows) == 1
    tg, numpy = re.findall(r"\[([^\]]*)\]", rows[0])
    assert len(tg.split(",")) == 5 and len(numpy.split(",")) == 5
    assert int(numpy.split(",")[0]) == 0 and int(tg.split(",")[1]) > 0  # NumPy has no zero_grad


def test_overhead_prints_a_positive_ratio():
    out = run("overhead", "--rounds", "2")
    ratio = float(re.search(r"tensorgrad/numpy (\d+\.\d+)", out).group(1))
    assert ratio > 0


def test_another_checkout_that_is_not_tensorgrad_is_refused(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "overhead", "--tensorgrad", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and f"could not import tensorgrad from {tmp_path}" in done.stderr


def test_versus_runs_another_source_tree_in_the_same_process():
    out = run("versus", str(SCRIPT.parents[1]), "tiny", "--rounds", "2")
    assert f"other tensorgrad from {SCRIPT.parents[1] / 'tensorgrad'}" in out
    for pair in ("tensorgrad/numpy", "other/numpy", "tensorgrad/other"):
        assert float(re.search(rf"{pair} (\d+\.\d+)", out).group(1)) > 0


def test_versus_refuses_a_tree_without_tensorgrad(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "versus", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and f"no tensorgrad package in {tmp_path}" in done.stderr


def test_ops_only_splits_the_gap_into_op_code_and_framework():
    out = run("ops", "W2", "--rounds", "2")  # it first checks that its step matches tensorgrad's
    for pair in ("tensorgrad/numpy", "ops-only/numpy", "tensorgrad/ops-only"):
        assert float(re.search(rf"{pair} (\d+\.\d+)", out).group(1)) > 0


def test_ops_only_takes_the_tiny_step():
    out = run("ops", "tiny", "--rounds", "2")
    assert "MLP 4-4-2 relu, batch 2" in out
    assert float(re.search(r"tensorgrad/ops-only (\d+\.\d+)", out).group(1)) > 0


def test_ops_only_refuses_the_cnn():
    done = subprocess.run([sys.executable, str(SCRIPT), "ops", "W4"], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "MLP workloads only" in done.stderr


def test_an_unknown_workload_is_named_in_the_error():
    done = subprocess.run([sys.executable, str(SCRIPT), "ops", "W9"], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "unknown workload 'W9'" in done.stderr


def test_ops_only_is_refused_when_its_step_differs_from_tensorgrads():
    import pytest
    profile_step = import_profile_step()
    import speed

    class WrongRate(profile_step.OpsOnlyMLP):
        name = "wrong-rate"

        def __init__(self, spec, weights):
            super().__init__(spec, weights, lr=2 * speed.LR)
    workload = speed.Workload("tiny", speed.MLPSpec((30, 16, 10)), batch=8, steps=1, rounds=1, target=1.0)
    profile_step.check_same_step(speed, workload, profile_step.OpsOnlyMLP)  # the real one passes
    with pytest.raises(SystemExit, match="wrong-rate: one step differs from tensorgrad's"):
        profile_step.check_same_step(speed, workload, WrongRate)


def test_the_counted_child_runs_each_implementations_tiny_step():
    for impl in ("tensorgrad", "numpy"):  # what `instructions` runs under valgrind, here without it
        done = subprocess.run([sys.executable, str(SCRIPT), "instructions", "--count-child", impl, "3"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr


def test_instructions_without_valgrind_says_what_it_needs(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "instructions"], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PATH=str(tmp_path)))  # no valgrind on this PATH
    assert done.returncode != 0 and "instructions: needs valgrind" in done.stderr


def test_layers_times_every_layer_of_the_cnn_for_both_steps():
    out = run("layers", "--rounds", "2")
    rows = {line[:32].strip(): line[32:].split() for line in out.splitlines()[3:] if line.strip()}
    assert list(rows) == [label for label, _, _ in import_profile_step().CNN_LAYERS]
    for label, (tg_ms, numpy_ms, difference) in rows.items():
        assert float(tg_ms) > 0, label  # every tensorgrad node was timed (a reshape: some µs)
        assert (float(numpy_ms) > 0) == (not label.startswith("flatten")), label  # NumPy has no flatten
        float(difference)


def test_carryover_times_each_implementation_after_each_other_one():
    profile_step = import_profile_step()
    import dataclasses

    import speed
    workload = dataclasses.replace(speed.WORKLOADS["W2"], steps=5)
    medians = profile_step.carryover(speed, workload, rounds=2)
    others = {"numpy", "tensorgrad-unfused"} | ({"torch"} if speed.import_torch() else set())
    if speed.TensorgradThreadsImpl.available(speed.tg):
        others.add("tensorgrad-threads")
    assert {before for before, timed in medians if timed == "tensorgrad"} == others
    assert {before for before, timed in medians if timed == "numpy"} == others - {"numpy"} | {"tensorgrad"}
    assert all(seconds > 0 for seconds in medians.values())
