"""benchmarks/busy.py: the training step with busy processes beside it, for each thread policy."""
from __future__ import annotations

import time

import threadpoolctl

import tensorgrad as tg
from tensorgrad import parallel

import busy  # noqa: E402  (benchmarks/ is on the path: tests/conftest.py)


def blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]


def test_busy_processes_keep_cores_busy_and_are_stopped_after():
    with busy.busy_processes(1) as spinners:
        time.sleep(0.3)  # (started: python loads, then spins)
        start = parallel._all_cpus_busy_seconds()
        time.sleep(0.5)
        used = parallel._all_cpus_busy_seconds() - start
        assert len(spinners) == 1 and spinners[0].poll() is None
    assert used > 0.3  # one spinning process: ~0.5 s of CPU in 0.5 s (this test sleeps)
    assert spinners[0].poll() is not None  # killed and waited for: no process left behind


def test_each_policy_pins_tensorgrads_threads_for_its_block():
    policies = busy.policies([2])
    assert list(policies) == ["blas-threads", "blas-1", "tensorgrad-2", "auto"]
    with policies["blas-1"]():
        assert not parallel._auto and tg.get_num_threads() == 1 and set(blas_threads()) == {1}
    with policies["tensorgrad-2"]():
        assert tg.get_num_threads() == 2
    with policies["auto"]():
        assert parallel._auto and tg.get_num_threads() == 1
    assert parallel._auto  # back to the default


def test_a_small_run_times_every_policy_at_every_busy_count_and_gives_a_verdict(monkeypatch, capsys):
    monkeypatch.setattr(busy, "BLOCK_SECONDS", 0.005)
    monkeypatch.setattr(parallel, "LOAD_SAMPLE_SECONDS", 0.02)
    result = busy.measure("W2", [0, 1], rounds=2, settle=0.0, thread_counts=[2], torch=None)
    assert set(result["ms_per_step"]) == {"0", "1"}
    for busy_count in ("0", "1"):
        assert set(result["ms_per_step"][busy_count]) == {"blas-threads", "blas-1", "tensorgrad-2", "auto"}
        assert all(ms > 0 for ms in result["ms_per_step"][busy_count].values())
    assert all(len(times) == 2 for times in result["times"]["1"].values())
    assert result["slowdown"]["1"]["auto"]["median"] > 0
    busy.print_result(result, [0, 1])
    out = capsys.readouterr().out
    assert "target: auto with 1 busy process <= 1.5x its quiet step" in out
    assert ("ok" in out.split("target:")[1]) or ("MISSED" in out.split("target:")[1])
