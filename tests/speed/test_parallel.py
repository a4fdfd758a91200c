"""tensorgrad's own threads (tensorgrad.set_num_threads): the same numbers as serial, on several threads."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import threadpoolctl

import tensorgrad as tg
from tensorgrad import parallel
from tensorgrad.models.networks import DocumentCNN
from tensorgrad.nn.functional import conv2d
from tensorgrad.ops import _windows


@pytest.fixture(autouse=True)
def default_afterwards():
    yield
    tg.set_num_threads("auto")


def blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]


def test_threads_are_set_like_torch():
    tg.set_num_threads(3)
    assert tg.get_num_threads() == 3
    tg.set_num_threads(np.int64(2))
    assert tg.get_num_threads() == 2
    tg.set_num_threads(1)
    assert tg.get_num_threads() == 1


def test_num_threads_sets_the_count_for_a_block_and_restores_it_even_on_error():
    tg.set_num_threads(3)
    with pytest.raises(KeyError):
        with tg.parallel.num_threads(2):
            assert tg.get_num_threads() == 2
            raise KeyError
    assert tg.get_num_threads() == 3


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", "Auto", True, None])
def test_set_num_threads_names_itself_and_the_bad_value(bad):
    tg.set_num_threads(1)
    with pytest.raises(ValueError, match=rf"set_num_threads: threads must be a positive int or 'auto', got {bad!r}"):
        tg.set_num_threads(bad)
    assert tg.get_num_threads() == 1


def test_blas_is_held_at_one_thread_while_tensorgrad_runs_several_and_restored_after():
    tg.set_num_threads(1)
    before = blas_threads()
    tg.set_num_threads(2)
    assert blas_threads() and all(n == 1 for n in blas_threads())
    tg.set_num_threads(3)  # still held, and restored to the original counts below
    assert all(n == 1 for n in blas_threads())
    tg.set_num_threads(1)
    assert blas_threads() == before


@pytest.mark.parametrize("count, pieces", [(128, 2), (7, 3), (2, 5), (1, 2), (10, 1)])
def test_parts_cut_a_range_into_contiguous_near_equal_pieces(count, pieces):
    ranges = parallel.parts(count, pieces)
    assert len(ranges) == min(count, pieces)
    assert [i for r in ranges for i in r] == list(range(count))
    assert max(map(len, ranges)) - min(map(len, ranges)) <= 1


def test_parts_default_to_the_thread_count():
    tg.set_num_threads(1)
    assert len(parallel.parts(100)) == 1
    tg.set_num_threads(2)
    assert parallel.parts(100) == [range(0, 50), range(50, 100)]


def test_run_returns_results_in_order_from_several_threads_at_once():
    tg.set_num_threads(2)
    both_started = threading.Barrier(2, timeout=10)  # fails unless the two tasks run at the same time

    def task(value):
        both_started.wait()
        return value, threading.get_ident()

    results = parallel.run([lambda: task("a"), lambda: task("b")])
    assert [value for value, _ in results] == ["a", "b"]
    assert results[0][1] == threading.get_ident() != results[1][1]  # the caller runs the first


def test_run_waits_for_every_task_before_raising():
    tg.set_num_threads(2)
    finished = []

    def slow():
        threading.Event().wait(0.2)
        finished.append("slow")

    def failing():
        raise RuntimeError("task failed")

    with pytest.raises(RuntimeError, match="task failed"):
        parallel.run([failing, slow])
    assert finished == ["slow"]


# by rows (the first two), by columns (few rows), not split (too little work)
@pytest.mark.parametrize("m, k, n", [(300, 200, 100), (100, 200, 300), (20, 400, 900), (2, 3, 4), (1, 784, 128)])
def test_threaded_matmul_is_the_product(m, k, n):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    tg.set_num_threads(2)
    np.testing.assert_allclose(parallel.matmul(a, b), a @ b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(parallel.matmul(a.astype(np.float32), b.T.astype(np.float32).T),
                               (a @ b).astype(np.float32), rtol=1e-4, atol=1e-4)


def test_a_large_product_is_split_over_the_threads(monkeypatch):
    calls = []
    real_run = parallel.run
    monkeypatch.setattr(parallel, "run", lambda tasks: calls.append(len(tasks)) or real_run(tasks))
    a, b = np.ones((256, 128)), np.ones((128, 256))
    tg.set_num_threads(1)
    parallel.matmul(a, b)
    tg.set_num_threads(2)
    parallel.matmul(a, b)
    parallel.matmul(a[:2], b[:, :2])  # too little work to split
    assert calls == [2]


def _conv_case(seed, x_shape, w_shape, bias=True, x_grad=True):
    rng = np.random.default_rng(seed)
    x = tg.tensor(rng.standard_normal(x_shape), requires_grad=x_grad)
    w = tg.tensor(rng.standard_normal(w_shape), requires_grad=True)
    b = tg.tensor(rng.standard_normal(w_shape[0]), requires_grad=True) if bias else None
    return x, w, b


@pytest.mark.parametrize("options, x_shape, w_shape, bias, x_grad", [
    (dict(), (9, 3, 10, 9), (4, 3, 3, 3), True, True),
    (dict(stride=(2, 1), padding=1), (5, 2, 9, 8), (3, 2, 3, 2), False, True),
    (dict(activation="relu", max_pool=2), (7, 3, 10, 10), (5, 3, 3, 3), True, True),
    (dict(activation="relu"), (6, 1, 8, 8), (16, 1, 3, 3), True, False),  # a first layer, on the data
    (dict(activation="tanh"), (1, 2, 6, 6), (3, 2, 3, 3), True, True),     # one image: nothing to split
])
def test_a_threaded_convolution_gives_the_serial_values_and_gradients(monkeypatch, options, x_shape, w_shape,
                                                                       bias, x_grad):
    monkeypatch.setattr(_windows, "CHUNK_BYTES", 1)  # one image a chunk: several chunks per thread
    results = []
    for threads in (1, 2, 3):
        tg.set_num_threads(threads)
        x, w, b = _conv_case(1, x_shape, w_shape, bias, x_grad)
        out = conv2d(x, w, b, **options)
        out.backward(np.random.default_rng(2).standard_normal(out.shape))
        results.append([out.data] + [t.grad for t in (x, w, b) if t is not None and t.requires_grad])
    for other in results[1:]:  # equal: the batch's sums are added in the same order (run_shares)
        assert len(other) == len(results[0])
        for serial, threaded in zip(results[0], other):
            np.testing.assert_array_equal(threaded, serial)


def test_a_threaded_training_step_of_document_003s_cnn_matches_the_serial_one():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, 16)
    updated = []
    for threads in (1, 2):
        tg.set_num_threads(threads)
        tg.manual_seed(0)
        model = DocumentCNN(dropout=False)
        optimizer = tg.optim.SGD(model.parameters(), lr=0.1)
        loss = tg.nn.functional.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()
        updated.append((loss.item(), [p.data.copy() for p in model.parameters()]))
    (loss_serial, serial), (loss_threaded, threaded) = updated
    assert loss_threaded == pytest.approx(loss_serial, rel=1e-6)
    for s, t in zip(serial, threaded):
        assert t.dtype == np.float32
        np.testing.assert_allclose(t, s, rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------- "auto"
def test_auto_is_the_default_serial_with_blas_threads_until_a_convolution_then_every_cpu(monkeypatch):
    import importlib
    import subprocess
    import sys
    code = ("import tensorgrad as tg; from tensorgrad import parallel; "
            "print(parallel._auto, tg.get_num_threads())")
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert fresh.stdout.split() == ["True", "1"]  # a fresh import: auto, serial so far

    monkeypatch.setattr(parallel, "usable_cpus", lambda: 2)
    tg.set_num_threads(1)
    before = blas_threads()
    tg.set_num_threads("auto")
    assert tg.get_num_threads() == 1 and blas_threads() == before  # an MLP: BLAS as NumPy has it
    x, w, b = _conv_case(0, (2, 1, 6, 6), (4, 1, 3, 3))
    conv2d(x, w, b)
    assert tg.get_num_threads() == 2 and all(n == 1 for n in blas_threads())
    with parallel.num_threads(1):  # a block on one thread, then auto with its convolutions seen
        assert tg.get_num_threads() == 1 and blas_threads() == before
    assert tg.get_num_threads() == 2 and all(n == 1 for n in blas_threads())
    tg.set_num_threads("auto")  # starts over
    assert tg.get_num_threads() == 1 and blas_threads() == before
    importlib.invalidate_caches()


def test_auto_holds_blas_at_one_thread_while_other_programs_keep_the_cpus_busy(monkeypatch):
    tg.set_num_threads(1)
    before = blas_threads()
    tg.set_num_threads("auto")
    others = iter([None, 1.0, 0.8, 0.45, 0.1])  # CPUs' worth of other programs' time, sample by sample
    monkeypatch.setattr(parallel._load, "sample", lambda: next(others))
    seen = []
    for _ in range(5):
        parallel._load.next_sample = 0.0  # the next backward samples
        loss = (tg.tensor(np.ones(3), requires_grad=True) * 2).sum()
        loss.backward()
        seen.append(blas_threads())
    held = [all(n == 1 for n in threads) for threads in seen]
    # no sample yet; busy: held; still busy; between the thresholds: unchanged; quiet: let go
    assert held == [before == [1] * len(before), True, True, True, before == [1] * len(before)]
    assert seen[-1] == before


def test_the_load_is_other_programs_cpu_time_per_second(monkeypatch):
    busy, own, clock = iter([100.0, 101.5]), iter([(10.0, 1.0), (10.4, 1.1)]), iter([50.0, 51.0])
    monkeypatch.setattr(parallel, "_all_cpus_busy_seconds", lambda: next(busy))
    monkeypatch.setattr(parallel.os, "times", lambda: next(own) + (0.0, 0.0, 0.0))
    monkeypatch.setattr(parallel.time, "monotonic", lambda: next(clock))
    load = parallel._MachineLoad()
    assert load.sample() is None  # the first sample only starts the window
    assert load.sample() == pytest.approx(1.0)  # 1.5 s of CPU in 1 s, 0.5 of it ours
    assert load.next_sample == 51.0 + parallel.LOAD_SAMPLE_SECONDS


def test_all_cpus_busy_seconds_reads_proc_stat_where_there_is_one():
    seconds = parallel._all_cpus_busy_seconds()
    if seconds is None:
        assert not __import__("os").path.exists("/proc/stat")
    else:
        assert seconds > 0


def test_run_shares_gives_each_part_to_one_thread_and_returns_them_in_order():
    tg.set_num_threads(3)
    started = []

    def start_worker():
        started.append(threading.get_ident())
        return lambda part: (part, threading.get_ident())

    results = parallel.run_shares(100, start_worker)
    assert [part for part, _ in results] == parallel.parts(100, parallel.SHARES)
    assert len(started) == 3  # one worker (its buffers) per thread, each taking parts until none is left
    assert {thread for _, thread in results} <= set(started)
    assert parallel.run_shares(3, start_worker)[-1][0] == range(2, 3)  # fewer parts for a small batch
