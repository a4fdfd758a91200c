"""benchmarks/_common.py: the interleaved timing every benchmark relies on."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _common import interleave, ratio_spread  # noqa: E402


def test_interleave_rotates_the_order_so_no_runner_always_follows_the_same_one():
    calls: list[str] = []

    def runner(name: str):
        return lambda: calls.append(name) or 1.0
    times = interleave({name: runner(name) for name in "ABC"}, rounds=3, warmup=1)
    assert calls[:3] == list("ABC")  # warm-up, once each
    assert calls[3:] == list("ABC" "BCA" "CAB")
    assert times == {name: [1.0, 1.0, 1.0] for name in "ABC"}


def test_ratios_are_taken_round_by_round():
    stats = ratio_spread([2.0, 4.0, 6.0], [1.0, 4.0, 2.0])  # per round: 2, 1, 3
    assert stats["median"] == 2.0
