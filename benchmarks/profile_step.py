"""Where a training step's time goes: tensorgrad against the hand-written NumPy step of speed.py.

    python benchmarks/profile_step.py phases W3           # µs per phase: zero_grad, model, loss, backward, update
    python benchmarks/profile_step.py overhead            # a tiny 4-4-2 MLP step: pure per-step Python cost
    python benchmarks/profile_step.py ratio W1            # the whole step, tensorgrad/numpy per round
    python benchmarks/profile_step.py ratio W1 --tensorgrad /tmp/old   # the same with another checkout

``--tensorgrad DIR`` imports tensorgrad from the source tree DIR (e.g. ``git worktree add /tmp/old
REV``), so a change can be compared with an earlier commit on the same machine, one after the
other. These are profiling aids that print; the targets are measured by speed.py.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["phases", "overhead", "ratio"])
    parser.add_argument("workload", nargs="?", default="W1", help="W1-W4 (phases, ratio)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--tensorgrad", metavar="DIR", help="import tensorgrad from this source tree")
    return parser.parse_args()


def import_speed(tensorgrad_dir: str | None):
    """benchmarks/speed.py, with tensorgrad imported from ``tensorgrad_dir`` when given."""
    if tensorgrad_dir:
        sys.path.insert(0, str(Path(tensorgrad_dir).resolve()))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import speed
    import tensorgrad
    print(f"tensorgrad from {Path(tensorgrad.__file__).parent}")
    if tensorgrad_dir and not tensorgrad.__file__.startswith(str(Path(tensorgrad_dir).resolve())):
        sys.exit(f"could not import tensorgrad from {tensorgrad_dir}")
    return speed


def phases(speed, workload: str, rounds: int) -> None:
    """Mean µs of each phase of the step, per round of 300 steps (NumPy does its loss inside backward)."""
    spec, batch = speed.WORKLOADS[workload].model, speed.WORKLOADS[workload].batch
    steps = 20 if isinstance(spec, speed.CNNSpec) else 300
    weights = speed.initial_weights(spec)
    batches = speed.make_batches(spec, batch, 10)
    tg, npi = speed.TensorgradImpl(spec, weights), speed.numpy_impl(spec, weights)
    loss_fn = speed.tgF.cross_entropy

    def tg_phases(x, y):
        t0 = time.perf_counter()
        tg.optimizer.zero_grad()
        t1 = time.perf_counter()
        z = tg.model(x)
        t2 = time.perf_counter()
        loss = loss_fn(z, y)
        t3 = time.perf_counter()
        loss.backward()
        t4 = time.perf_counter()
        tg.optimizer.step()
        return t1 - t0, t2 - t1, t3 - t2, t4 - t3, time.perf_counter() - t4

    def np_phases(x, y):
        t1 = time.perf_counter()
        npi.forward(x)
        t2 = time.perf_counter()
        npi.backward(x, y)
        t3 = time.perf_counter()
        npi.update()
        return 0.0, t2 - t1, 0.0, t3 - t2, time.perf_counter() - t3

    print(f"{workload}, µs per step: zero_grad / model / loss / backward / update")
    for impl in (tg, npi):
        for x, y in batches:
            impl.step(x, y)
    for _ in range(rounds):
        row = []
        for name, measure in (("tensorgrad", tg_phases), ("numpy", np_phases)):
            total = np.zeros(5)
            for i in range(steps):
                total += measure(*batches[i % len(batches)])
            row.append(f"{name} {(total / steps * 1e6).round().astype(int).tolist()}")
        print("   ".join(row))


def step_ratio(speed, spec, batch: int, steps: int, rounds: int, label: str) -> None:
    """Whole steps, tensorgrad and NumPy interleaved: medians and the median per-round ratio."""
    weights = speed.initial_weights(spec)
    batches = speed.make_batches(spec, batch, 10)
    runners = {impl.name: speed.step_block(impl, batches, steps)
               for impl in (speed.TensorgradImpl(spec, weights), speed.numpy_impl(spec, weights))}
    summary = speed.summarise(speed.interleave(runners, rounds, warmup=2), [("tensorgrad", "numpy")])
    median = summary["median"]
    print(f"{label}: tensorgrad {median['tensorgrad'] * 1e3:.1f} µs, numpy {median['numpy'] * 1e3:.1f} µs per step, "
          f"tensorgrad/numpy {speed.format_ratio(summary['ratios']['tensorgrad/numpy'])}")


def main() -> None:
    args = parse()
    speed = import_speed(args.tensorgrad)
    if args.what == "phases":
        phases(speed, args.workload, args.rounds or 4)
    elif args.what == "overhead":
        step_ratio(speed, speed.MLPSpec((4, 4, 2)), 2, 2000, args.rounds or 25, "tiny 4-4-2 MLP, batch 2")
    else:
        workload = speed.WORKLOADS[args.workload]
        steps = 1 if isinstance(workload.model, speed.CNNSpec) else 100
        step_ratio(speed, workload.model, workload.batch, steps, args.rounds or 15, workload.describe())


if __name__ == "__main__":
    main()
