"""Week arithmetic: UTC week minutes, intervals on the week's circle, their merging and overlaps; and the bridge from
a local wall clock to those minutes. Pure: no clock."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.pairing.timezones import resolve_timezone

MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY

# Any Monday 00:00 UTC: week minutes are counted from it, modulo a week.
_EPOCH_MONDAY = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True, order=True)
class WeeklyInterval:
    start: int  # minutes since Monday 00:00 UTC, 0 <= start < MINUTES_PER_WEEK
    end: int  # start < end <= start + MINUTES_PER_WEEK; may exceed MINUTES_PER_WEEK when it wraps to Monday

    @property
    def minutes(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Availability:
    text: str  # what the learner typed, cleaned
    timezone: str  # IANA name
    intervals: tuple[WeeklyInterval, ...]  # UTC, merged, sorted, non-overlapping (wrap handled)

    def hours(self) -> float:
        return sum(interval.minutes for interval in self.intervals) / 60


def _zone(timezone: str) -> tuple[str, ZoneInfo]:
    name = resolve_timezone(timezone)
    return name, ZoneInfo(name)


def _require_aware(reference: datetime) -> None:
    if reference.utcoffset() is None:
        raise ValueError("reference must be an aware datetime")


def _wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant a local wall-clock time names. In a DST gap (02:30 that never happens) the offset from before
    the change applies, which moves the time forward; an hour that happens twice means its first occurrence."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _week_minute(moment: datetime) -> int:
    """Minutes since `_EPOCH_MONDAY` (not folded), so that differences of two moments are plain subtraction."""
    return int((moment - _EPOCH_MONDAY).total_seconds() // 60)


def _local_monday(zone: ZoneInfo, reference: datetime) -> date:
    local = reference.astimezone(zone).date()
    return local - timedelta(days=local.weekday())


def _joined(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, with overlapping or touching spans made one."""
    joined: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if joined and a <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], b))
        else:
            joined.append((a, b))
    return joined


def _pieces(intervals: Iterable[WeeklyInterval]) -> list[tuple[int, int]]:
    """The intervals as sorted, merged spans on the line [0, MINUTES_PER_WEEK]: a wrapping one becomes two."""
    spans: list[tuple[int, int]] = []
    for interval in intervals:
        length = min(interval.end - interval.start, MINUTES_PER_WEEK)
        if length <= 0:
            continue
        start = interval.start % MINUTES_PER_WEEK
        end = start + length
        if end <= MINUTES_PER_WEEK:
            spans.append((start, end))
        else:
            spans += [(start, MINUTES_PER_WEEK), (0, end - MINUTES_PER_WEEK)]
    return _joined(spans)


def _from_pieces(pieces: list[tuple[int, int]]) -> tuple[WeeklyInterval, ...]:
    """Merged line spans back into week intervals: a span ending the week and one starting it are one interval."""
    if not pieces:
        return ()
    if pieces[0] == (0, MINUTES_PER_WEEK):
        return (WeeklyInterval(0, MINUTES_PER_WEEK),)
    if len(pieces) > 1 and pieces[0][0] == 0 and pieces[-1][1] == MINUTES_PER_WEEK:
        (_, wrapped_end), *middle, (last_start, _) = pieces
        pieces = [*middle, (last_start, MINUTES_PER_WEEK + wrapped_end)]
    return tuple(WeeklyInterval(start, end) for start, end in pieces)


def merge_intervals(intervals: Iterable[WeeklyInterval]) -> tuple[WeeklyInterval, ...]:
    """Sorted, non-overlapping, non-touching intervals covering the same minutes of the week."""
    return _from_pieces(_pieces(intervals))


@functools.lru_cache(maxsize=1 << 14)
def week_line(intervals: tuple[WeeklyInterval, ...]) -> tuple[tuple[int, int], ...]:
    """The intervals as sorted, non-overlapping (start, end) minute spans of one week, remembered: the matcher
    compares each learner's hours with many others'."""
    return tuple(_pieces(intervals))


def _line_of(value: Availability | tuple[WeeklyInterval, ...]) -> tuple[tuple[int, int], ...]:
    return week_line(value.intervals if isinstance(value, Availability) else tuple(value))


def _intersection(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """The overlaps of two sorted, merged lists of spans (a merge walk: linear in their lengths)."""
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            yield (start, end)
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1


def overlap_intervals(
    a: Availability | tuple[WeeklyInterval, ...], b: Availability | tuple[WeeklyInterval, ...]
) -> tuple[WeeklyInterval, ...]:
    """The minutes of the week when both are free, as merged UTC intervals."""
    # Pieces of merged spans that never touch: the intersections cannot touch either, so they need no merging.
    return _from_pieces(list(_intersection(_line_of(a), _line_of(b))))


def overlap_minutes(a: Availability | tuple[WeeklyInterval, ...], b: Availability | tuple[WeeklyInterval, ...]) -> int:
    """How many minutes a week both are free."""
    return sum(end - start for start, end in _intersection(_line_of(a), _line_of(b)))
