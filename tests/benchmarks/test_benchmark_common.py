"""benchmarks/_common.py: the interleaved timing every benchmark relies on."""
from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pytest

from _common import balanced_orders, interleave, median_interval, ratio_spread, run_for  # noqa: E402


def test_interleave_runs_the_balanced_orders_in_turn():
    calls: list[str] = []

    def runner(name: str):
        return lambda: calls.append(name) or 1.0
    times = interleave({name: runner(name) for name in "ABCD"}, rounds=5, warmup=1)
    assert calls[:4] == list("ABCD")  # warm-up, once each
    assert calls[4:] == list("ABDC" "BCAD" "CDBA" "DACB" "ABDC")
    assert times == {name: [1.0] * 5 for name in "ABCD"}


def test_run_for_calls_its_work_until_the_time_is_up():
    calls: list[float] = []
    start = time.perf_counter()
    run_for(0.05, lambda: calls.append(time.perf_counter()))
    assert len(calls) > 1 and calls[-1] - start < 0.06 and time.perf_counter() - start >= 0.05
    run_for(0.0, lambda: calls.append(0.0))
    assert 0.0 not in calls


@pytest.mark.parametrize("count", range(2, 8))
def test_every_runner_follows_every_other_equally_often(count):
    orders = balanced_orders(count)
    assert all(sorted(order) == list(range(count)) for order in orders)
    follows = Counter((a, b) for order in orders for a, b in zip(order, order[1:]))
    assert set(follows) == {(a, b) for a in range(count) for b in range(count) if a != b}
    assert len(set(follows.values())) == 1


def test_ratios_are_taken_round_by_round():
    stats = ratio_spread([2.0, 4.0, 6.0], [1.0, 4.0, 2.0])  # per round: 2, 1, 3
    assert stats["median"] == 2.0


def test_the_median_interval_is_the_binomial_order_statistics():
    # 24 rounds: P(Bin(24, ½) <= 7) = 0.032 <= 5% < P(<= 8) = 0.076, so x(8) and x(17)
    assert median_interval(list(range(24, 0, -1))) == (8.0, 17.0)
    assert median_interval([5.0, 1.0, 3.0, 2.0, 4.0]) == (1.0, 5.0)  # P(Bin(5, ½) = 0) = 1/32
    assert median_interval([1.0, 2.0, 3.0, 4.0]) is None               # 1/16 > 5%: no interval


def test_the_median_interval_covers_the_true_median_about_as_promised():
    rng = np.random.default_rng(0)
    samples = rng.lognormal(size=(2000, 24))  # skewed, true median 1
    covered = [low <= 1.0 <= high for low, high in map(median_interval, samples)]
    assert 0.90 <= np.mean(covered) <= 0.97  # 93.6% exactly for n = 24


def test_ratio_spread_carries_the_interval_of_its_median():
    stats = ratio_spread([2.0] * 10, [1.0] * 10)
    assert stats["ci90_low"] == stats["ci90_high"] == 2.0
    assert "ci90_low" not in ratio_spread([2.0], [1.0])
