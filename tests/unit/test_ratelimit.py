"""The sliding-window limiter and the in-channel acknowledgement cap built on it, on a clock the tests move."""

from __future__ import annotations

import pytest

from bot.core.ratelimit import AcknowledgementLimiter, SlidingWindowLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_sliding_window_allows_rate_uses_then_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(3, 60.0, clock)
    for _ in range(3):
        assert limiter.acquire("ann") == 0.0
        clock.now += 10
    assert limiter.acquire("ann") == pytest.approx(30.0)  # the first use, at 100, leaves the window at 160
    assert limiter.acquire("bob") == 0.0
    clock.now = 160.0
    assert limiter.acquire("ann") == 0.0
    assert limiter.acquire("ann") == pytest.approx(10.0)  # a refused use is not recorded: still 10 s, not more


@pytest.mark.parametrize(("rate", "per"), [(0, 60.0), (1, 0.0), (2, -1.0)])
def test_sliding_window_rejects_nonsense(rate: int, per: float) -> None:
    with pytest.raises(ValueError, match="rate must be at least 1"):
        SlidingWindowLimiter(rate, per)


def test_acknowledgements_are_capped_per_channel_per_minute() -> None:
    clock = Clock()
    limiter = AcknowledgementLimiter(clock=clock)
    cap = AcknowledgementLimiter.PER_MINUTE
    assert [limiter.allow(1) for _ in range(cap + 2)] == [True] * cap + [False, False]
    assert limiter.skipped == 2
    assert limiter.allow(2), "another channel has its own cap"
    clock.now += 59.9
    assert not limiter.allow(1)
    clock.now += 0.1
    # A minute after the burst its acknowledgements have left the window: a full cap again, and no more.
    assert [limiter.allow(1) for _ in range(cap + 1)] == [True] * cap + [False]
    assert limiter.skipped == 4


def test_a_burst_is_acknowledged_at_the_cap_rate_at_most() -> None:
    clock = Clock()
    limiter = AcknowledgementLimiter(5, 60.0, clock)
    acknowledged = 0
    for _ in range(600):  # ten posts a second for a minute
        acknowledged += limiter.allow(7)
        clock.now += 0.1
    assert acknowledged == 5
    assert limiter.skipped == 595
    for _ in range(600):  # the next minute, the same
        acknowledged += limiter.allow(7)
        clock.now += 0.1
    assert acknowledged == 10
