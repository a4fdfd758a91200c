"""tensorgrad.memory: glibc's malloc keeps freed memory when asked; importing tensorgrad leaves it alone."""
from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from tensorgrad import memory

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def _settings_in_a_fresh_process(**env: str) -> str:
    code = "import tensorgrad; print(tensorgrad.memory.settings())"
    return subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, text=True,
                          capture_output=True, check=True).stdout.strip()


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_importing_tensorgrad_leaves_malloc_alone_unless_the_variable_asks():
    assert _settings_in_a_fresh_process(TENSORGRAD_KEEP_FREED_MEMORY="") == "None"
    assert _settings_in_a_fresh_process(TENSORGRAD_KEEP_FREED_MEMORY="0") == "None"
    assert _settings_in_a_fresh_process(TENSORGRAD_KEEP_FREED_MEMORY="1") == str(
        {"mmap_threshold": 32 * 2**20, "trim_threshold": 2**30})


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_keep_freed_memory_reports_what_glibc_accepted():
    assert memory.keep_freed_memory(8 * 2**20, 2**29) is True
    assert memory.settings() == {"mmap_threshold": 8 * 2**20, "trim_threshold": 2**29}
    assert memory.keep_freed_memory() is True  # back to the defaults for the other tests
