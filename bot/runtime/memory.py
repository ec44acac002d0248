"""The bot's memory: the C heap's free pages go back to the operating system now and then, and the garbage
collector leaves start-up's objects alone.

glibc keeps what a long-running bot frees inside its heap, so resident memory grows while the memory in use stays
flat; `malloc_trim(0)` returns the whole free pages inside the heap (madvise). Other C libraries (musl, macOS) have
no such call, or need none: there it is not done. The figures: benchmarks/README.md.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import sys
from collections.abc import Callable

TRIM_EVERY_SECONDS = 60.0


def heap_trimmer() -> Callable[[], bool] | None:
    """A call that trims the C heap (True if memory went back to the system), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        malloc_trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    malloc_trim.argtypes = [ctypes.c_size_t]
    malloc_trim.restype = ctypes.c_int

    def trim() -> bool:
        return bool(malloc_trim(0))

    return trim


async def trim_heap_periodically(trim: Callable[[], bool], every: float = TRIM_EVERY_SECONDS) -> None:
    """Trim every `every` seconds until cancelled: on the event loop, the call being short (milliseconds), rather
    than holding the allocator's lock from another thread."""
    while True:
        await asyncio.sleep(every)
        trim()


def settle_startup_heap() -> None:
    """Once start-up is done: what it built (modules, the knowledge base, the command tree, the database
    mappings) lives as long as the bot, so the garbage collector stops scanning it (`gc.freeze`): its pauses hold
    the event loop in a burst of posts. Figures, and a threshold change not kept: benchmarks/README.md."""
    gc.collect()
    gc.freeze()
