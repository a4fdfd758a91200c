"""The hand-written NumPy (and PyTorch) steps that benchmarks/speed.py times take the same training
step as tensorgrad: a speed ratio against a baseline that computes something else is worthless."""
from __future__ import annotations


import pytest

import tensorgrad as tg
from tensorgrad import parallel

import speed  # noqa: E402
from baselines import numpy_cnn as cnn_baseline  # noqa: E402  (patched where the CNN step reads them)


@pytest.mark.parametrize("spec, batch", speed.CHECK_CASES, ids=lambda v: getattr(v, "describe", lambda: str(v))())
def test_every_baseline_takes_the_same_step_as_tensorgrad(spec, batch):
    assert speed.check_one_step(spec, batch, speed.import_torch()) == []


def test_the_cnn_baseline_takes_the_same_step_when_its_batch_runs_in_several_chunks(monkeypatch):
    monkeypatch.setattr(cnn_baseline, "CHUNK_BYTES", 25_000)  # a few images per chunk, and a short last one
    spec, batch = speed.CNNSpec(image=12, channels=(3, 4), hidden=8, classes=10), 7
    numpy_cnn = speed.numpy_impl(spec, speed.initial_weights(spec))
    assert 1 < numpy_cnn.conv2.chunk < batch and batch % numpy_cnn.conv2.chunk
    assert speed.check_one_step(spec, batch, None) == []


def test_a_baseline_whose_gradient_is_wrong_is_caught(monkeypatch):
    spec, batch = speed.CHECK_CASES[-1]  # the CNN, whose second conv's input gradient loses a part:
    monkeypatch.setattr(cnn_baseline, "col2im_", lambda g, kernel, dx, buffer: dx.fill(0))  # same loss, other step
    problems = speed.check_one_step(spec, batch, None)
    assert problems and all("numpy vs tensorgrad" in p for p in problems)
    assert not any("loss" in p for p in problems)


def test_a_max_pool_that_gives_tied_maxima_another_pixel_is_caught(monkeypatch):
    # scanning the windows backwards sends a tie's gradient to its last maximum instead of its
    # first: the same step wherever the maximum is unique, so this is caught only because the
    # check's images have blank rows that tie whole windows (as MNIST's margins do)
    monkeypatch.setattr(cnn_baseline.ConvPoolLayer, "OFFSETS", cnn_baseline.ConvPoolLayer.OFFSETS[::-1])
    spec, batch = speed.CHECK_CASES[-1]
    assert any("moved differently" in p or "differs" in p for p in speed.check_one_step(spec, batch, None))


def test_a_verdict_says_when_the_median_s_interval_contains_the_target():
    clear = {"median": 1.05, "ci90_low": 1.02, "ci90_high": 1.08}
    assert speed.target_text(clear, 1.10) == "<= 1.10 ok, CI 1.02-1.08"
    noisy = {"median": 1.01, "ci90_low": 0.98, "ci90_high": 1.04}
    assert speed.target_text(noisy, 1.00) == "<= 1.00 MISSED, CI 0.98-1.04 (noise)"
    assert speed.target_text({"median": 0.9}, 1.0) == "<= 1.00 ok"  # an older result: no interval


def test_tensorgrad_on_its_threads_is_checked_in_its_threaded_session(monkeypatch):
    # products on threads made wrong: if the check did not switch the threads on, this would
    # change nothing; on, the threaded step differs from the serial one
    monkeypatch.setattr(parallel, "_split_matmul", lambda a, b: a @ b + 1)
    monkeypatch.setattr(speed.TensorgradThreadsImpl, "thread_count", staticmethod(lambda: 2))
    spec, batch = speed.CHECK_CASES[-1]
    problems = speed.check_one_step(spec, batch, None)
    assert problems and all("tensorgrad-threads vs tensorgrad" in p for p in problems)
    assert tg.get_num_threads() == 1 and parallel._auto  # and switched them off again


def test_a_threaded_block_runs_on_the_threads_and_leaves_tensorgrad_serial(monkeypatch):
    monkeypatch.setattr(speed.TensorgradThreadsImpl, "thread_count", staticmethod(lambda: 2))
    spec, batch = speed.CHECK_CASES[0]
    impl = speed.TensorgradThreadsImpl(spec, speed.initial_weights(spec))
    seen = []
    monkeypatch.setattr(impl, "step", lambda x, y: seen.append(tg.get_num_threads()))
    block = speed.step_block(impl, speed.make_batches(spec, batch, 2), steps=3)
    assert block() > 0
    assert seen == [2, 2, 2] and tg.get_num_threads() == 1
    seen.clear()
    speed.step_block(impl, speed.make_batches(spec, batch, 2), steps=3, settle=0.05)()
    assert len(seen) > 3 and set(seen) == {2}  # the untimed lead-in steps run on the threads too


def test_the_workloads_table_shows_the_threads_and_their_verdicts(capsys):
    ratio = {"median": 0.85, "p10": 0.8, "p90": 0.9, "ci90_low": 0.83, "ci90_high": 0.88}
    row = {"workload": "W4", "description": "W4 CNN", "target_tensorgrad_over_numpy": 1.0,
           "stretch_target_tensorgrad_over_torch": None, "threads": 2,
           "median": {"tensorgrad": 2.0, "numpy": 2.0, "tensorgrad-threads": 1.7},
           "ratios": {"tensorgrad/numpy": dict(ratio, median=1.0), "tensorgrad-threads/numpy": ratio}}
    speed.print_workloads([row], quick=False)
    out = capsys.readouterr().out
    assert "tensorgrad on its own 2 threads (tg.set_num_threads(2)" in out
    assert "<= 1.00 ok, CI 0.83-0.88" in out


def test_the_gemm_floor_counts_every_product_of_the_step_once():
    # W1: x@W1 (128x784x128), dW1 (784x128x128), no input gradient for the data; then layer 2, three products
    products = speed.step_products(speed.MLPSpec((784, 128, 10)), 128)
    assert products == [(128, 784, 128), (784, 128, 128), (128, 128, 10), (128, 128, 10), (128, 10, 128)]
    cnn = speed.CNNSpec()
    flops = sum(2 * m * k * n for m, k, n in speed.step_products(cnn, 128))
    conv2 = 2 * 128 * 24 * 24 * (9 * 32) * 64               # one of its three products
    conv1 = 2 * 128 * 26 * 26 * 9 * 32                       # forward and weight gradient only
    dense = 2 * 128 * 9216 * 128 + 2 * 128 * 128 * 10
    assert flops == 3 * conv2 + 2 * conv1 + 3 * dense
    floor = speed.gemm_floor(cnn, 128, rate=100.0)
    assert floor["floor_ms"] == pytest.approx(1e3 * flops / 1e9 / 100.0)


def test_the_gemm_rate_is_measured_and_the_floor_printed_as_a_fraction_of_each_step(capsys):
    rate = speed.gemm_rate(1, size=256, repeats=2)
    assert 0.1 < rate < 1e5  # GFLOP/s of a real product
    row = {"description": "W4 CNN", "gemm_floor": {"gflop": 9.16, "gemm_gflops": 300.0, "floor_ms": 30.0},
           "median": {"tensorgrad": 100.0, "numpy": 120.0, "torch": 60.0}}
    speed.print_gemm_floor([row])
    out = capsys.readouterr().out
    assert "at 300 GFLOP/s" in out and "0.30" in out and "0.25" in out and "0.50" in out
