"""Per-key sliding-window limiters: at most `rate` uses in any `per` seconds, and the in-channel acknowledgement cap."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Hashable

log = logging.getLogger(__name__)


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


class AcknowledgementLimiter:
    """At most `rate` in-channel acknowledgement replies per channel in any `per` seconds.

    Beyond the cap a post is still logged and still gets its ✅ reaction; only the reply is skipped, so a flood of
    posts cannot make the bot flood the channel (and spend its REST rate limits) in return.
    """

    PER_MINUTE = 20

    def __init__(self, rate: int = PER_MINUTE, per: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = SlidingWindowLimiter(rate, per, clock)
        self.skipped = 0
        """Acknowledgements skipped so far (for logs and tests)."""

    def allow(self, channel_id: int) -> bool:
        """Whether to acknowledge a post in `channel_id` now; a True counts against the channel's cap."""
        if self._window.acquire(channel_id) == 0.0:
            return True
        self.skipped += 1
        log.debug("acknowledgement skipped in channel %s: over the cap of %d", channel_id, self._window.rate)
        return False
