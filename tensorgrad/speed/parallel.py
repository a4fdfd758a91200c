"""tensorgrad's own threads, for the ops with the most work: convolutions and large matrix products;
and how many threads to use on a machine that is doing other things too.

Why: NumPy runs its element-wise work (a convolution's patch copies, adds, pooling, activations)
on one core; only BLAS's matrix products use more. ``set_num_threads(n)`` splits those big ops
into parts (a convolution's batch, a product's rows or columns) that run at the same time on
``n`` threads, as NumPy releases the GIL while it computes:

    import tensorgrad as tg
    tg.set_num_threads("auto")  # the default: tensorgrad chooses (set_num_threads tells how)
    tg.set_num_threads(2)       # tensorgrad splits its big ops over 2 threads; BLAS runs on 1
    tg.set_num_threads(1)       # serial, BLAS on its own thread count
    with tg.parallel.num_threads(2): ...   # for one block

While tensorgrad runs several threads, NumPy's BLAS is held at one thread (with threadpoolctl),
also for your own NumPy code: BLAS's idle threads spin for a while after every multi-threaded
product, taking the cores tensorgrad's threads need (measured on the CNN of document 003 with
2 BLAS threads left on: the step 1.15x slower than serial). The same holds when another program
keeps a core busy, which is why ``"auto"`` holds BLAS at one thread then.

A convolution's sums over the batch (its weight gradient) are added in the same order whatever
the thread count (``run_shares``): serial and threaded results are equal. Large matrix
products are split by rows or columns, each computed as BLAS computes it.
"""
from __future__ import annotations

import operator
import os
import time
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence, TypeVar

import numpy as np

__all__ = ["set_num_threads", "get_num_threads", "num_threads", "usable_cpus", "run", "parts", "run_shares",
           "matmul"]

T = TypeVar("T")

_threads = 1
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_blas_limit: Any = None  # threadpoolctl's limiter while BLAS is held at one thread

#: smallest product (multiply-adds, m·k·n) worth splitting over threads: below it, handing the
#: parts to the threads costs more than it saves (one part is ~0.1 ms of BLAS work here)
MATMUL_SPLIT_WORK = 2**22
#: fewest rows of a per thread for a product to be split by rows (else by columns)
MATMUL_MIN_ROWS = 16


def set_num_threads(threads: int | str) -> None:
    """Run tensorgrad's big ops (convolutions, BatchNorm, max pooling, large matrix products) on ``threads`` threads.

    ``"auto"`` (the default) chooses, and keeps choosing while training runs:

    - until a convolution runs, tensorgrad stays serial and NumPy's BLAS uses its own threads (an
      MLP's products are too small for tensorgrad's threads to gain: W1 of benchmarks/speed.py
      0.52 ms per step that way, 0.63 ms on 2 threads of tensorgrad's);
    - from the first convolution on, every usable CPU, BLAS held at one thread;
    - while other programs keep the CPUs busy (measured every ``LOAD_SAMPLE_SECONDS`` at each
      ``backward()``: the CPU time they used), BLAS is held at one thread: its threads spin
      waiting for a core the other program has (one busy process made the W1 step 2.7x slower
      with BLAS's 2 threads, 1.0x with one; ``benchmarks/busy.py``).

    A number fixes the count: 1 runs everything on the calling thread with NumPy as it is; more
    hold BLAS at one thread until set back to 1 (see the module's docstring for why). Like
    ``torch.set_num_threads``; a good value is the number of physical cores.
    """
    global _auto, _convolutions_seen
    if threads == "auto" and isinstance(threads, str):
        _apply(1)
        _auto, _convolutions_seen = True, False
        _load.restart()
        return
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"set_num_threads: threads must be a positive int or 'auto', got {threads!r}")
    _auto = False
    _apply(int(threads))


def _apply(threads: int, hold_blas: bool | None = None) -> None:
    """Use ``threads`` threads; hold BLAS at one thread if ``hold_blas`` (default: when threads > 1)."""
    global _threads, _blas_limit, matmul
    hold_blas = threads > 1 if hold_blas is None else hold_blas
    if hold_blas and _blas_limit is None:
        _blas_limit = _hold_blas_at_one_thread()
    elif not hold_blas and _blas_limit is not None:
        _blas_limit.restore_original_limits()
        _blas_limit = None
    _threads = threads
    matmul = _split_matmul if threads > 1 else operator.matmul


def convolution_ahead() -> None:
    """Called by the ops that split over threads: under ``"auto"``, the first one turns
    tensorgrad's threads on, one per usable CPU."""
    global _convolutions_seen
    if _auto and not _convolutions_seen:
        _convolutions_seen = True
        if usable_cpus() > 1:
            _apply(usable_cpus())


def follow_load() -> None:
    """Called at each ``backward()``: under ``"auto"`` before any convolution, hold BLAS at one
    thread while other programs use the CPUs, and give it back its threads when they stop.
    Costs a clock read, and a read of /proc/stat every ``LOAD_SAMPLE_SECONDS``."""
    if not _auto or _convolutions_seen or time.monotonic() < _load.next_sample:
        return
    others = _load.sample()
    if others is None:
        return
    if others >= BUSY_CORES and _blas_limit is None:
        _apply(1, hold_blas=True)
    elif others < QUIET_CORES and _blas_limit is not None:
        _apply(1, hold_blas=False)


#: how often ``follow_load`` looks at the machine, seconds
LOAD_SAMPLE_SECONDS = 0.25
#: CPUs' worth of time other programs use for BLAS to be held at one thread, and to be let go
BUSY_CORES, QUIET_CORES = 0.6, 0.3


class _MachineLoad:
    """How much CPU time the other programs on this machine use: the time all CPUs were busy
    (Linux's /proc/stat) minus this process's own (all its threads, spinning BLAS threads
    included), per second of wall time, between two samples."""

    def __init__(self) -> None:
        self.next_sample = 0.0
        self.last: tuple[float, float, float] | None = None

    def restart(self) -> None:
        """Start a window now: the first decision comes at the first backward() after it."""
        self.last = None
        self.sample()

    def sample(self) -> float | None:
        """CPUs' worth of time the others used since the last sample (None at the first, or
        where /proc/stat cannot be read). /proc/stat counts in ticks of 10 ms: over a window of
        0.25 s on 2 CPUs, to 0.04 CPUs."""
        now = time.monotonic()
        self.next_sample = now + LOAD_SAMPLE_SECONDS
        busy = _all_cpus_busy_seconds()
        if busy is None:
            return None
        own = sum(os.times()[:2])
        previous, self.last = self.last, (now, busy, own)
        if previous is None or now <= previous[0]:
            return None
        return max(0.0, (busy - previous[1]) - (own - previous[2])) / (now - previous[0])


def _all_cpus_busy_seconds() -> float | None:
    """Seconds all CPUs together spent not idle since boot (the first line of /proc/stat: user,
    nice, system, idle, iowait, irq, softirq, steal; steal is time the hypervisor gave away)."""
    try:
        with open("/proc/stat", "rb") as stat:
            fields = stat.readline().split()[1:9]
    except OSError:
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = map(int, fields)
    return (user + nice + system + irq + softirq + steal) / _TICKS_PER_SECOND


_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_load = _MachineLoad()
_auto = True  # the default: set_num_threads("auto")
_convolutions_seen = False


def _workers() -> ThreadPoolExecutor:
    """The threads beside the calling one. Kept when the count goes back to 1 (idle, they wait
    without using the CPU), so that switching threads on again does not start new ones."""
    global _pool, _pool_size
    if _pool_size != _threads - 1:
        if _pool is not None:
            _pool.shutdown()
        _pool, _pool_size = ThreadPoolExecutor(_threads - 1, thread_name_prefix="tensorgrad"), _threads - 1
    return _pool


@contextmanager
def num_threads(threads: int | str) -> Iterator[None]:
    """``with num_threads(n):`` runs the block on ``n`` threads (``set_num_threads``; ``"auto"``
    too), then restores the setting from before."""
    global _auto, _convolutions_seen
    before = (_threads, _blas_limit is not None, _auto, _convolutions_seen)
    set_num_threads(threads)
    try:
        yield
    finally:
        threads_before, held_before, _auto, _convolutions_seen = before
        _apply(threads_before, held_before)


def get_num_threads() -> int:
    """How many threads tensorgrad's big ops run on now (under ``"auto"``: 1 until a convolution
    runs, then one per usable CPU)."""
    return _threads


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the OS tells, else all of them)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _hold_blas_at_one_thread() -> Any:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError as error:  # a dependency; only a broken install lacks it
        raise ImportError("set_num_threads needs threadpoolctl (pip install threadpoolctl)") from error
    return threadpool_limits(limits=1, user_api="blas")


def run(tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Call each task, at the same time on tensorgrad's threads (the calling thread runs the
    first); return their results in order. Every task has finished when this returns or raises
    (the first task's exception, else the first other one's): none is left writing into arrays."""
    if _threads == 1 or len(tasks) == 1:
        return [task() for task in tasks]
    workers = _workers()
    futures = [workers.submit(task) for task in tasks[1:]]
    try:
        first = tasks[0]()
    finally:
        wait(futures)
    return [first] + [future.result() for future in futures]


def parts(count: int, pieces: int | None = None) -> list[range]:
    """``range(count)`` cut into ``pieces`` (default: the thread count) contiguous ranges of
    near-equal length, none empty (but one, ``range(0, 0)``, when ``count`` is 0)."""
    pieces = max(1, min(count, _threads if pieces is None else pieces))
    bounds = [count * p // pieces for p in range(pieces + 1)]
    return [range(bounds[p], bounds[p + 1]) for p in range(pieces)]


#: how many parts a fast op cuts its batch into (fewer for a smaller batch), taken one at a time
#: by whichever thread is free. Fixed, so that sums over the batch (a convolution's weight
#: gradient) are added in the same order whatever the thread count: serial and threaded results
#: are equal. More parts than threads was meant to help when another program takes a core (the
#: thread the OS stops holds up one part, not half the batch); measured on document 003's CNN with
#: one busy process beside (benchmarks/busy.py): 1.68x the quiet step with one part per thread,
#: 1.57-1.67x with 8, within the noise (the process gets ~1.1 cores either way).
SHARES = 8


def run_shares(count: int, start_worker: Callable[[], Callable[[range], T]]) -> list[T]:
    """Cut ``range(count)`` into ``SHARES`` parts (``parts``) and return ``[work(part) for each
    part]``, the parts done on tensorgrad's threads: each thread calls ``start_worker()`` once for
    its ``work`` function (with buffers of its own in its closure), then takes the next part not
    yet taken until none is left."""
    shares = parts(count, SHARES)
    results: list[Any] = [None] * len(shares)
    remaining = iter(enumerate(shares))  # next() on it is atomic under the GIL: each part goes to one thread

    def thread() -> None:
        work = start_worker()
        for index, share in remaining:
            results[index] = work(share)

    run([thread] * min(_threads, len(shares)))
    return results


def _split_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b``; for 2-D a (m, k) and b (k, n) with enough work, as one BLAS product per thread:
    of a share of a's rows, or, when a has few rows, of b's columns.

    Rows first: measured for the MLP's and the CNN's products, their shares were as fast or
    faster (e.g. ∂W = gᵀ·x of 784-128 at batch 128: 422 µs against 488 by columns)."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] * a.shape[1] * b.shape[1] < MATMUL_SPLIT_WORK:
        return a @ b
    m, n = a.shape[0], b.shape[1]
    out = np.empty((m, n), np.result_type(a, b))
    if m >= MATMUL_MIN_ROWS * _threads:
        pieces = [(slice(r.start, r.stop), slice(None)) for r in parts(m)]
    else:
        pieces = [(slice(None), slice(r.start, r.stop)) for r in parts(n)]
    run([lambda rows=rows, cols=cols: np.matmul(a[rows], b[:, cols], out=out[rows, cols])
         for rows, cols in pieces])
    return out


#: ``matmul(a, b)``, the product the ops call: ``a @ b`` itself on one thread (no Python
#: call in between: a training step of a small MLP makes several), _split_matmul on several
matmul: Callable[[np.ndarray, np.ndarray], np.ndarray] = operator.matmul
