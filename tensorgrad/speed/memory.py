"""Keep freed array memory for reuse instead of handing it back to the operating system.

Why: every op of a graph allocates its output, and a training step of the CNN of document 003
allocates and frees some 300 MB of multi-megabyte arrays. glibc's ``malloc`` returns large freed
blocks to the system (``munmap``, or trimming the heap top) and raises its mmap threshold as it
goes, so the next step gets fresh pages and pays a page fault for each 4 KiB of them. Measured on
a 2-core VM (W4 of ``benchmarks/speed.py``, medians of 15 steps, two runs each): one training step
179-193 ms with glibc's defaults, 157-164 ms with freed memory kept; the hand-written NumPy step,
which preallocates every buffer, 121-127 ms either way. Allocators of deep-learning frameworks cache memory for the same reason.

The cost: the process keeps its peak heap (up to ``trim_threshold`` bytes above what it uses)
instead of shrinking when arrays are freed, and the setting is process-wide, so ``import
tensorgrad`` does not make it: call :func:`keep_freed_memory` (the ``tensorgrad`` command does, for
training and evaluation), or set the environment variable ``TENSORGRAD_KEEP_FREED_MEMORY=1``
before importing tensorgrad. On systems without glibc it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["keep_freed_memory"]

# mallopt parameter numbers from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

_applied: dict[str, int] | None = None


def keep_freed_memory(mmap_threshold: int = 32 * 2**20, trim_threshold: int = 1024 * 2**20) -> bool:
    """Tell glibc's malloc to reuse freed memory rather than return it to the system.

    Args:
        mmap_threshold: blocks at least this big are still mapped and unmapped one by one (and
            given back at once when freed). Setting it also stops glibc from raising it by
            itself (its dynamic threshold tops out at 32 MiB on 64-bit systems, the default here).
        trim_threshold: free memory at the top of the heap is given back only above this size.

    Returns:
        True if the settings were applied (Linux with glibc), False otherwise.
    """
    global _applied
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = bool(mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))) and \
        bool(mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)))
    if ok:
        _applied = {"mmap_threshold": int(mmap_threshold), "trim_threshold": int(trim_threshold)}
    return ok


def settings() -> dict[str, int] | None:
    """The malloc settings tensorgrad applied, or None (not applied, or not glibc)."""
    return None if _applied is None else dict(_applied)


if os.environ.get("TENSORGRAD_KEEP_FREED_MEMORY") == "1":  # asked for before the import
    keep_freed_memory()
