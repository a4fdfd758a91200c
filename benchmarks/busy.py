"""The training step on a busy machine: how much slower it gets while other programs use the CPU,
for each way of using threads, and for the one tensorgrad chooses.

    python benchmarks/busy.py                     # W1 (MLP) and W4 (CNN), 0 and 1 busy processes
    python benchmarks/busy.py --workloads W1 --busy 0 1 2 --rounds 12
    python benchmarks/busy.py --quick             # smoke run (a few rounds)

A student trains beside a browser and a notebook server. The busy processes here are plain
Python loops (``while True: pass``), each keeping one core busy; the script starts them before
each busy block and stops them after, itself. Thread policies timed (the same model, weights
and batches as ``speed.py``'s workloads):

    blas-threads    tensorgrad serial, NumPy's BLAS on its default threads (one per core)
    blas-1          tensorgrad serial, BLAS held at one thread
    tensorgrad-N    tensorgrad's own N threads (tg.set_num_threads(N); BLAS on one), N = the CPUs
    torch           PyTorch, on as many threads as NumPy's BLAS (for reference; --no-torch leaves it out)
    auto            what tensorgrad does by default (tg.set_num_threads("auto"): see
                    tensorgrad/speed/parallel.py)

Method: in each round, every (busy count, policy) block runs once, the busy counts in turn and
the policies in balanced orders within each; a block is ``--settle`` seconds of untimed steps (for
"auto", at least three of its load samples: time to decide, as it has in a training run)
(the busy processes are running by then) and then timed steps. Reported: median ms/step of each
policy at each busy count, and the slowdown busy/quiet computed within each round, as median
[10th-90th percentile]. The target (issue 23): with one busy process, the chosen policy's step
at most 1.5x its quiet time, and its quiet step no slower than the best policy's quiet step.

Results: a printed table and benchmarks/results/busy-<date>.json (and busy-latest.json).
"""
from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    add_run_options, balanced_orders, environment, format_ratio, format_table, ratio_spread, run_for,
    save_results,
)
from baselines.specs import initial_weights, make_batches  # noqa: E402
from baselines.torch_step import TorchImpl, import_torch  # noqa: E402
from speed import WORKLOADS, TensorgradImpl, batch_pool, build_sequential  # noqa: E402

from tensorgrad.speed import parallel  # noqa: E402

#: the target: one busy process may slow the chosen policy's step by at most this factor
SLOWDOWN_TARGET = 1.5
#: seconds of untimed steps before each timed block (the busy processes are running by then)
SETTLE_SECONDS = 0.2
#: seconds a timed block lasts, about
BLOCK_SECONDS = 0.3


@contextlib.contextmanager
def busy_processes(count: int) -> Iterator[list[subprocess.Popen]]:
    """``count`` Python processes spinning in a loop, each keeping a core busy, for the block."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield spinners
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait()


def policies(thread_counts: list[int]) -> dict[str, Callable[[], contextlib.AbstractContextManager]]:
    """Each thread policy as the context its blocks run in."""
    from threadpoolctl import threadpool_limits

    @contextlib.contextmanager
    def serial_blas_on_one() -> Iterator[None]:
        with parallel.num_threads(1), threadpool_limits(limits=1, user_api="blas"):
            yield

    # each pins tensorgrad's setting for its block: none inherits "auto" (which would go on choosing)
    return {
        "blas-threads": lambda: parallel.num_threads(1),
        "blas-1": serial_blas_on_one,
        **{f"tensorgrad-{n}": (lambda n=n: parallel.num_threads(n)) for n in thread_counts},
        "auto": lambda: parallel.num_threads("auto"),
    }


def block_runner(impl: Any, batches: list, steps: int, policy: Callable[[], Any],
                 settle: float) -> Callable[[], float]:
    """Untimed steps for ``settle`` seconds, then ``steps`` timed ones under ``policy``: s/step."""
    batches = impl.prepare(batches)

    def run() -> float:
        with policy():
            run_for(settle, lambda: impl.step(*batches[0]))
            start = time.perf_counter()
            for i in range(steps):
                impl.step(*batches[i % len(batches)])
            return (time.perf_counter() - start) / steps
    return run


def measure(name: str, busy_counts: list[int], rounds: int, settle: float,
            thread_counts: list[int], torch: Any) -> dict[str, Any]:
    """Every policy at every busy count, ``rounds`` rounds; per-round times and slowdowns."""
    workload = WORKLOADS[name]
    impl = TensorgradImpl(workload.model, initial_weights(workload.model, 0))
    batches = make_batches(workload.model, workload.batch, batch_pool(workload.batch))
    runs = policies(thread_counts)
    with next(iter(runs.values()))():  # steps per block from a quiet step
        impl.step(*batches[0])
        start = time.perf_counter()
        impl.step(*batches[1 % len(batches)])
        one = time.perf_counter() - start
    steps = max(1, round(BLOCK_SECONDS / max(one, 1e-6)))
    # "auto" decides from the load it samples (parallel.LOAD_SAMPLE_SECONDS): its lead-in lasts
    # long enough for it to have decided, as it will have in a training run
    auto_settle = max(settle, 3 * parallel.LOAD_SAMPLE_SECONDS)
    runners = {policy: block_runner(impl, batches, steps, context, auto_settle if policy == "auto" else settle)
               for policy, context in runs.items()}
    if torch is not None:  # for reference: PyTorch on as many threads as NumPy's BLAS
        weights = initial_weights(workload.model, 0)
        runners["torch"] = block_runner(TorchImpl(build_sequential(torch.nn, workload.model), weights),
                                        batches, steps, contextlib.nullcontext, settle)
    for run in runners.values():  # warm-up
        run()
    times: dict[int, dict[str, list[float]]] = {busy: {policy: [] for policy in runners} for busy in busy_counts}
    orders, items = balanced_orders(len(runners)), list(runners.items())
    for round_number in range(rounds):
        for busy in busy_counts:
            with busy_processes(busy):
                for index in orders[round_number % len(orders)]:
                    policy, run = items[index]
                    times[busy][policy].append(run())
    quiet = min(busy_counts)
    result = {"workload": workload.describe(), "steps_per_block": steps, "rounds": rounds,
              "ms_per_step": {str(busy): {policy: 1e3 * float(np.median(values))
                                          for policy, values in per_policy.items()}
                              for busy, per_policy in times.items()},
              "slowdown": {str(busy): {policy: ratio_spread(times[busy][policy], times[quiet][policy])
                                       for policy in runners}
                           for busy in busy_counts if busy != quiet},
              "times": {str(busy): per_policy for busy, per_policy in times.items()}}
    return result


def print_result(result: dict[str, Any], busy_counts: list[int]) -> None:
    quiet = str(min(busy_counts))
    headers = ["policy"] + [f"{busy} busy, ms" for busy in busy_counts] + \
              [f"{busy} busy / quiet" for busy in busy_counts if str(busy) != quiet]
    rows = []
    for policy in result["ms_per_step"][quiet]:
        row = [policy] + [f"{result['ms_per_step'][str(busy)][policy]:.3f}" for busy in busy_counts]
        row += [format_ratio(result["slowdown"][str(busy)][policy]) for busy in busy_counts if str(busy) != quiet]
        rows.append(row)
    print(f"\n{result['workload']} ({result['steps_per_block']} steps per block, {result['rounds']} rounds)")
    print(format_table(headers, rows))
    best_quiet = min(ms for policy, ms in result["ms_per_step"][quiet].items() if policy != "torch")
    auto_quiet = result["ms_per_step"][quiet]["auto"]
    if "1" in result["slowdown"]:
        slowdown = result["slowdown"]["1"]["auto"]["median"]
        verdict = "ok" if slowdown <= SLOWDOWN_TARGET else "MISSED"
        print(f"  target: auto with 1 busy process <= {SLOWDOWN_TARGET}x its quiet step: {slowdown:.2f}x {verdict}; "
              f"auto's quiet step {auto_quiet / best_quiet:.2f}x the fastest tensorgrad policy's quiet step")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", nargs="+", choices=sorted(WORKLOADS), default=["W1", "W4"], metavar="W")
    parser.add_argument("--busy", nargs="+", type=int, default=[0, 1], help="busy process counts (default 0 1)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--threads", nargs="+", type=int, default=[parallel.usable_cpus()],
                        help="tensorgrad-N policies to time (default: N = the usable CPUs)")
    parser.add_argument("--settle", type=float, default=SETTLE_SECONDS)
    add_run_options(parser, quick="3 rounds: a smoke run")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rounds = 3 if args.quick else args.rounds
    busy_counts = sorted(set(args.busy))
    torch = import_torch(not args.no_torch)
    env = environment(torch)
    print(f"numpy {np.__version__}, {env.get('cpu_model', '')}, {parallel.usable_cpus()} usable CPUs, "
          f"load {env.get('load_average_1_5_15min')}")
    results = {"environment": env, "target": SLOWDOWN_TARGET, "workloads": {}}
    for name in args.workloads:
        results["workloads"][name] = result = measure(name, busy_counts, rounds, args.settle, args.threads, torch)
        print_result(result, busy_counts)
    stem = "busy-quick" if args.quick else "busy"
    paths = save_results(results, stem, args.out, latest=not args.quick)
    print("\nwrote " + ", ".join(map(str, paths)))


if __name__ == "__main__":
    main()
