"""tensorgrad's own threads, for the ops with the most work: convolutions and large matrix products.

Why: NumPy runs its element-wise work (a convolution's patch copies, adds, pooling, activations)
on one core; only BLAS's matrix products use more. ``set_num_threads(n)`` splits those big ops
into ``n`` parts (a convolution's batch, a product's rows or columns) that run at the same time,
as NumPy releases the GIL while it computes. Off by default (one thread), like everything that
changes how NumPy behaves outside tensorgrad:

    import tensorgrad as tg
    tg.set_num_threads(2)   # tensorgrad splits its big ops over 2 threads; BLAS runs on 1
    tg.set_num_threads(1)   # back to serial, BLAS to its own thread count
    with tg.parallel.num_threads(2): ...   # for one block

While tensorgrad runs several threads, NumPy's BLAS is held at one thread (with threadpoolctl),
also for your own NumPy code: BLAS's idle threads spin for a while after every multi-threaded
product, taking the cores tensorgrad's threads need (measured on the CNN of document 003 with
2 BLAS threads left on: the step 1.15x slower than serial). Results are deterministic for a given
thread count; they differ from serial ones in the last bits, because sums (a weight gradient over
the batch) are added in a different order.
"""
from __future__ import annotations

import operator
import os
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence, TypeVar

import numpy as np

__all__ = ["set_num_threads", "get_num_threads", "num_threads", "usable_cpus", "run", "parts", "matmul"]

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


def set_num_threads(threads: int) -> None:
    """Run tensorgrad's big ops (convolutions, large matrix products) on ``threads`` threads.

    1 (the default) runs everything on the calling thread with NumPy as it is. More threads hold
    NumPy's BLAS at one thread until set back to 1 (see the module's docstring for why).
    Like ``torch.set_num_threads``; a good value is the number of physical cores.
    """
    global _threads, _blas_limit, matmul
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"set_num_threads: threads must be a positive int, got {threads!r}")
    threads = int(threads)
    if threads > 1 and _blas_limit is None:
        _blas_limit = _hold_blas_at_one_thread()
    elif threads == 1 and _blas_limit is not None:
        _blas_limit.restore_original_limits()
        _blas_limit = None
    _threads = threads
    matmul = _split_matmul if threads > 1 else operator.matmul


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
def num_threads(threads: int) -> Iterator[None]:
    """``with num_threads(n):`` runs the block on ``n`` threads (set_num_threads), then restores
    the count from before."""
    before = _threads
    set_num_threads(threads)
    try:
        yield
    finally:
        set_num_threads(before)


def get_num_threads() -> int:
    """How many threads tensorgrad's big ops run on (1 unless set with set_num_threads)."""
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
