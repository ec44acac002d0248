"""The heap trimmer (on glibc it gives a fragmented heap's free pages back; the loop calls it until cancelled), and
the garbage collector settled after start-up."""

from __future__ import annotations

import asyncio
import contextlib
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from bot.runtime.memory import heap_trimmer, trim_heap_periodically


def _resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_trimming_returns_the_free_pages_of_a_fragmented_heap() -> None:
    trim = heap_trimmer()
    assert trim is not None
    trim()
    # 48 MB in blocks below glibc's mmap threshold (so inside the heap), then every block but one in sixteen freed:
    # the heap cannot shrink from its top, yet most of its pages are now free.
    blocks = [bytearray(3000) for _ in range(16_000)]
    kept = blocks[::16]
    del blocks
    before = _resident_mb()
    assert trim() is True
    after = _resident_mb()
    assert before - after > 20, (before, after)
    assert all(len(block) == 3000 for block in kept)  # what is in use is untouched


async def test_the_loop_trims_every_interval_until_cancelled() -> None:
    calls = 0
    third = asyncio.Event()

    def trim() -> bool:
        nonlocal calls
        calls += 1
        if calls == 3:
            third.set()
        return False

    task = asyncio.create_task(trim_heap_periodically(trim, every=0.01))
    await asyncio.wait_for(third.wait(), 5)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    settled = calls
    await asyncio.sleep(0.05)
    assert settled >= 3
    assert calls == settled  # nothing runs after the cancel


def test_settling_freezes_what_start_up_built_after_collecting_its_garbage() -> None:
    # In a process of its own: frozen objects are never collected, which this test process must not suffer.
    script = """
import gc
from bot.runtime.memory import settle_startup_heap
built = [[index] for index in range(50_000)]
cycle = []
cycle.append(cycle)
del cycle
settle_startup_heap()
print(gc.get_freeze_count() >= len(built), gc.collect())
"""
    result = subprocess.run(  # noqa: S603  (our own interpreter, our script)
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    frozen, left = result.stdout.split()
    assert frozen == "True"
    assert left == "0", "the garbage start-up left was collected before freezing"
