"""Helpers shared by the benchmarks: the machine a run used, interleaved timing, per-round ratio
statistics, a plain-text table and the results files.

Nothing here knows about models; ``speed.py`` builds on it.
"""
from __future__ import annotations

import datetime
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")


# ------------------------------------------------------------------------------ environment
def threadpools() -> list[dict[str, Any]]:
    """threadpoolctl's view of the native thread pools loaded so far ([] without threadpoolctl)."""
    try:
        import threadpoolctl
    except ImportError:
        return []
    return threadpoolctl.threadpool_info()


def numpy_blas_threads() -> int | None:
    """How many threads NumPy's BLAS uses, or None when threadpoolctl cannot tell."""
    blas = [pool for pool in threadpools() if pool.get("user_api") == "blas"]
    numpy_own = [pool for pool in blas if "numpy" in pool.get("filepath", "")]
    pools = numpy_own or blas
    return pools[0]["num_threads"] if pools else None


def cpu_model() -> str:
    """The "model name" line of /proc/cpuinfo (Linux), else what the platform module knows."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(torch: Any = None) -> dict[str, Any]:
    """Everything a reader needs to judge the numbers: versions, BLAS, threads, CPU, load."""
    import tensorgrad

    usable_cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name] + sys.argv),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable_cpus,
        "load_average_1_5_15min": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "numpy": np.__version__,
        "numpy_blas_threads": numpy_blas_threads(),
        "threadpools": threadpools(),
        "thread_variables": {name: os.environ.get(name) for name in THREAD_VARIABLES},
        "tensorgrad": tensorgrad.__version__,
        "torch": None if torch is None else torch.__version__,
        "torch_threads": None if torch is None else torch.get_num_threads(),
        "tensorgrad_malloc": tensorgrad.memory.settings(),
    }


# ----------------------------------------------------------------------------------- timing
def balanced_orders(count: int) -> list[list[int]]:
    """Orders of ``count`` runners, one per round, in which every runner comes right after every
    other runner equally often within a round (a Williams design): what ran just before a block
    changes its time, so no runner may always follow the same one.

    Rotating one order (A B C, B C A, C A B) is not enough: A still always follows C within a
    round. Measured on the W1 step (``profile_step.py carryover W1``): tensorgrad took 0.961 ms
    right after PyTorch, 0.864 right after NumPy; NumPy 0.838 and 0.767. With the rotation,
    tensorgrad followed PyTorch in most rounds and NumPy followed tensorgrad, which put several per
    cent on tensorgrad's ratio.

    For an even count: the first order is 0, 1, n−1, 2, n−2, ..., and order i adds i to each
    (mod n); every ordered pair is then adjacent once in the n orders. For an odd count those n
    orders and their reverses (2n orders) make every pair adjacent twice.
    """
    first = [0] + [(j + 1) // 2 if j % 2 else count - j // 2 for j in range(1, count)]  # 0 1 n−1 2 n−2 ...
    orders = [[(runner + i) % count for runner in first] for i in range(count)]
    return orders if count % 2 == 0 else orders + [order[::-1] for order in orders]


def interleave(runners: dict[str, Callable[[], float]], rounds: int,
               warmup: int = 1) -> dict[str, list[float]]:
    """Run every runner ``warmup`` times, then in turn for ``rounds`` rounds, each round in the
    next of the ``balanced_orders`` (cycling through them).

    A runner performs one timed block and returns its seconds per unit (per step, per pass...).
    Interleaving exposes all of them to the same drift of a busy or throttling machine, so a
    ratio computed within one round is much steadier than a ratio of separate medians. The
    balanced orders give every runner every predecessor equally often: whatever runs right after
    PyTorch pays for it (see balanced_orders).
    Returns the seconds per unit of each round, per runner.
    """
    for run in runners.values():
        for _ in range(warmup):
            run()
    times: dict[str, list[float]] = {name: [] for name in runners}
    items = list(runners.items())
    orders = balanced_orders(len(items))
    for round_number in range(rounds):
        for index in orders[round_number % len(orders)]:
            name, run = items[index]
            times[name].append(run())
    return times


def run_for(seconds: float, work: Callable[[], Any]) -> None:
    """Call ``work`` until ``seconds`` have passed (not at all for 0): a runner's untimed lead-in."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        work()


def timed(function: Callable[[], Any], repeat: int = 1) -> float:
    """Seconds per call of ``function``, over ``repeat`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - start) / repeat


# ------------------------------------------------------------------------------- statistics
def spread(values: Sequence[float]) -> dict[str, float]:
    """Median and 10th / 90th percentiles."""
    p10, median, p90 = np.percentile(np.asarray(values, dtype=float), [10, 50, 90])
    return {"median": float(median), "p10": float(p10), "p90": float(p90)}


def median_interval(values: Sequence[float], confidence: float = 0.90) -> tuple[float, float] | None:
    """A distribution-free ``confidence`` interval of the median of ``values``: the order statistics
    x₍ₖ₎ and x₍ₙ₊₁₋ₖ₎, with k the largest rank such that fewer than k of n values fall below the
    median with probability at most (1 − confidence)/2 (that count is Binomial(n, ½) whatever the
    distribution). None for too few values (n < 5 at 90%)."""
    ordered, n = sorted(values), len(values)
    tail, below, k = (1 - confidence) / 2, 0.0, 0
    while k < n and below + math.comb(n, k) / 2**n <= tail:  # below is P(Bin(n, ½) < k)
        below += math.comb(n, k) / 2**n
        k += 1
    return None if k == 0 else (float(ordered[k - 1]), float(ordered[n - k]))


def ratio_spread(numerator: Sequence[float], denominator: Sequence[float]) -> dict[str, float]:
    """The ratio numerator/denominator computed round by round, summarised by ``spread``, with
    the 90% confidence interval of its median (``ci90_low``, ``ci90_high``; see median_interval)."""
    ratios = [a / b for a, b in zip(numerator, denominator)]
    stats = spread(ratios)
    interval = median_interval(ratios)
    if interval is not None:
        stats["ci90_low"], stats["ci90_high"] = interval
    return stats


def summarise(times: dict[str, list[float]], pairs: Sequence[tuple[str, str]],
              unit_scale: float = 1e3) -> dict[str, Any]:
    """Per-runner medians (seconds × ``unit_scale``, so ms by default), per-round ratios of
    ``pairs`` (numerator, denominator) of runners that ran, and the raw times of every round."""
    return {
        "median": {name: spread(values)["median"] * unit_scale for name, values in times.items()},
        "ratios": {f"{a}/{b}": ratio_spread(times[a], times[b])
                   for a, b in pairs if a in times and b in times},
        "per_round": {name: [value * unit_scale for value in values] for name, values in times.items()},
    }


# ------------------------------------------------------------------------------------ output
def format_ratio(stats: dict[str, float] | None) -> str:
    """'1.23 [1.10-1.40]': the median ratio and its 10-90% spread."""
    if stats is None:
        return "-"
    return f"{stats['median']:.2f} [{stats['p10']:.2f}-{stats['p90']:.2f}]"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table, columns left-aligned to their widest cell."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def add_run_options(parser: Any, quick: str) -> None:
    """The options every comparison script takes: --no-torch, --quick (``quick`` says what a smoke
    run does) and --out (the results folder)."""
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder (default %(default)s)")


def save_results(results: dict[str, Any], stem: str, out_dir: Path = RESULTS_DIR,
                 latest: bool = True) -> list[Path]:
    """Write ``results`` as ``<stem>-<date>.json`` and, if ``latest``, ``<stem>-latest.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [f"{stem}-{datetime.date.today().isoformat()}.json"] + ([f"{stem}-latest.json"] if latest else [])
    text = json.dumps(results, indent=2) + "\n"
    paths = []
    for name in names:
        path = out_dir / name
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(text)
        temporary.replace(path)  # atomic: a reader never sees half a file
        paths.append(path)
    return paths
