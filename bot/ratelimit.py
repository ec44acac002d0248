"""A per-key sliding-window limiter: at most `rate` uses in any `per` seconds."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable


class SlidingWindowLimiter:
    def __init__(self, rate: int, per: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate < 1 or per <= 0:
            raise ValueError("rate must be at least 1 and per positive")
        self.rate = rate
        self.per = per
        self._clock = clock
        self._uses: dict[Hashable, deque[float]] = {}

    def acquire(self, key: Hashable) -> float:
        """Record a use and return 0.0, or return the seconds to wait (recording nothing)."""
        now = self._clock()
        uses = self._uses.setdefault(key, deque())
        while uses and uses[0] <= now - self.per:
            uses.popleft()
        if len(uses) >= self.rate:
            return uses[0] + self.per - now
        uses.append(now)
        if len(self._uses) > 4096:
            self._forget_idle(now)
        return 0.0

    def _forget_idle(self, now: float) -> None:
        idle = [key for key, uses in self._uses.items() if not uses or uses[-1] <= now - self.per]
        for key in idle:
            del self._uses[key]
