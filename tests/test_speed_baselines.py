"""The hand-written NumPy (and PyTorch) steps that benchmarks/speed.py times take the same training
step as tensorgrad: a speed ratio against a baseline that computes something else is worthless."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import speed  # noqa: E402


@pytest.mark.parametrize("spec, batch", speed.CHECK_CASES, ids=lambda v: getattr(v, "describe", lambda: str(v))())
def test_every_baseline_takes_the_same_step_as_tensorgrad(spec, batch):
    assert speed.check_one_step(spec, batch, speed.import_torch()) == []


def test_the_cnn_baseline_takes_the_same_step_when_its_batch_runs_in_several_chunks(monkeypatch):
    monkeypatch.setattr(speed, "CHUNK_BYTES", 25_000)  # a few images per chunk, and a short last one
    spec, batch = speed.CNNSpec(image=12, channels=(3, 4), hidden=8, classes=10), 7
    numpy_cnn = speed.numpy_impl(spec, speed.initial_weights(spec))
    assert 1 < numpy_cnn.conv2.chunk < batch and batch % numpy_cnn.conv2.chunk
    assert speed.check_one_step(spec, batch, None) == []


def test_a_baseline_whose_gradient_is_wrong_is_caught(monkeypatch):
    spec, batch = speed.CHECK_CASES[-1]  # the CNN, whose second conv's input gradient loses a part:
    monkeypatch.setattr(speed, "col2im_", lambda g, kernel, dx, buffer: dx.fill(0))  # same loss, other step
    problems = speed.check_one_step(spec, batch, None)
    assert problems and all("numpy vs tensorgrad" in p for p in problems)
    assert not any("loss" in p for p in problems)


def test_a_max_pool_that_gives_tied_maxima_another_pixel_is_caught(monkeypatch):
    # scanning the windows backwards sends a tie's gradient to its last maximum instead of its
    # first: the same step wherever the maximum is unique, so this is caught only because the
    # check's images have blank rows that tie whole windows (as MNIST's margins do)
    monkeypatch.setattr(speed.ConvPoolLayer, "OFFSETS", speed.ConvPoolLayer.OFFSETS[::-1])
    spec, batch = speed.CHECK_CASES[-1]
    assert any("moved differently" in p or "differs" in p for p in speed.check_one_step(spec, batch, None))


def test_a_verdict_says_when_the_median_s_interval_contains_the_target():
    clear = {"median": 1.05, "ci90_low": 1.02, "ci90_high": 1.08}
    assert speed.target_text(clear, 1.10) == "<= 1.10 ok, CI 1.02-1.08"
    noisy = {"median": 1.01, "ci90_low": 0.98, "ci90_high": 1.04}
    assert speed.target_text(noisy, 1.00) == "<= 1.00 MISSED, CI 0.98-1.04 (noise)"
    assert speed.target_text({"median": 0.9}, 1.0) == "<= 1.00 ok"  # an older result: no interval
