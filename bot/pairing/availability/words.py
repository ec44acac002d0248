"""Weekly intervals back into words in the learner's timezone, in a form that parses back to the same intervals."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.pairing.availability.week import (
    MINUTES_PER_DAY,
    MINUTES_PER_WEEK,
    WeeklyInterval,
    _joined,
    _local_monday,
    _pieces,
    _require_aware,
    _wall_to_utc,
    _week_minute,
    _zone,
    merge_intervals,
)

NO_HOURS = "no hours"
EN_DASH = "\u2013"  # between the hours `describe` writes, as typography has it
MONDAY, SUNDAY = 0, 6
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class _Week:
    """The local week of a reference: its Monday 00:00 as an instant, and its length in minutes, which is not
    a week's when the clocks change during it."""

    start: datetime
    minutes: int

    @property
    def offset(self) -> int:
        """Where the week starts among the UTC week minutes."""
        return _week_minute(self.start) % MINUTES_PER_WEEK


def _week(zone: ZoneInfo, reference: datetime) -> _Week:
    monday = datetime.combine(_local_monday(zone, reference), time())
    start = _wall_to_utc(monday, zone)
    return _Week(start, _week_minute(_wall_to_utc(monday + timedelta(days=7), zone)) - _week_minute(start))


def _clip(spans: Iterable[tuple[int, int]], low: int, high: int, shift: int = 0) -> list[tuple[int, int]]:
    """The parts of `spans` within [low, high), moved by `shift`."""
    return [(max(a, low) + shift, min(b, high) + shift) for a, b in spans if max(a, low) < min(b, high)]


def _without_twins(spans: list[tuple[int, int]], extra: int) -> list[tuple[int, int]]:
    """`spans` without needless copies, in a week `extra` minutes long because the clocks went back.

    The week's first and last `extra` minutes (early Monday, late Sunday) are the same UTC minutes, so a piece
    lying wholly within one of them has a twin in the other. Monday's copy is kept when it runs on into Monday
    (`daily 0-2`), Sunday's otherwise: it is then either the end of Sunday hours or as likely meant as Monday's.
    """

    def containing(a: int, b: int) -> tuple[int, int]:
        return next(span for span in spans if span[0] <= a and b <= span[1])

    kept: list[tuple[int, int]] = []
    for a, b in spans:
        if b <= extra:  # wholly early Monday: its twin is kept, below or as part of longer Sunday hours
            continue
        if a >= MINUTES_PER_WEEK and containing(a - MINUTES_PER_WEEK, b - MINUTES_PER_WEEK)[1] > extra:
            continue  # wholly late Sunday, while Monday's copy runs on into Monday
        kept.append((a, b))
    return kept


def _week_positions(
    intervals: tuple[WeeklyInterval, ...], week: _Week
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The intervals as minutes since the local week's Monday 00:00: those within the week, and those past it.

    The second list is empty but when the clocks go forward: the week is then short, and the UTC minutes just
    after it are reached only by a Sunday window running past midnight.
    """
    rotated: list[tuple[int, int]] = []
    for a, b in _pieces(intervals):
        start = (a - week.offset) % MINUTES_PER_WEEK
        end = start + b - a
        rotated += (
            [(start, end)] if end <= MINUTES_PER_WEEK else [(start, MINUTES_PER_WEEK), (0, end - MINUTES_PER_WEEK)]
        )
    rotated = _joined(rotated)
    extra = week.minutes - MINUTES_PER_WEEK
    if extra >= 0:
        return _without_twins(_joined(rotated + _clip(rotated, 0, extra, MINUTES_PER_WEEK)), extra), []
    return _clip(rotated, 0, week.minutes), _clip(rotated, week.minutes, MINUTES_PER_WEEK)


def _day_spans(start: datetime, end: datetime) -> list[tuple[int, int, int]]:
    """A wall-clock span as (weekday, start, end) minutes per day, kept whole when it only crosses one midnight
    and lasts less than a day ("Wednesday 22:00-02:00": the end is then past 24:00)."""
    spans: list[tuple[int, int, int]] = []
    cursor = start
    while cursor < end:
        midnight = datetime.combine(cursor.date() + timedelta(days=1), time())
        stop = min(end, midnight)
        offset = cursor.hour * 60 + cursor.minute
        spans.append((cursor.weekday(), offset, offset + int((stop - cursor).total_seconds() // 60)))
        cursor = stop
    if len(spans) == 2 and spans[0][2] == MINUTES_PER_DAY and spans[1][2] < spans[0][1]:
        day, begin, _ = spans[0]
        return [(day, begin, MINUTES_PER_DAY + spans[1][2])]
    return spans


def _local_pieces(
    intervals: tuple[WeeklyInterval, ...], zone: ZoneInfo, reference: datetime
) -> list[tuple[int, int, int]]:
    """The intervals as (weekday, start, end) local minutes, placed in the week of `reference` so that they
    parse back to the same intervals."""
    week = _week(zone, reference)

    def wall(minute: int) -> datetime:
        moment = (week.start + timedelta(minutes=minute)).astimezone(zone)
        return moment.replace(tzinfo=None, second=0, microsecond=0)

    inside, past = _week_positions(intervals, week)
    pieces = [piece for a, b in inside for piece in _day_spans(wall(a), wall(b))]
    for a, b in past:
        after_midnight = b - week.minutes  # the next Monday's wall-clock minutes: no change of clocks there
        until_midnight = (p for p in pieces if p[0] == SUNDAY and p[2] == MINUTES_PER_DAY)
        sunday = next(until_midnight, None) if a == week.minutes else None
        if sunday is None:  # not reachable from Sunday (an overlap with someone else's hours): shown as Monday's
            pieces.append((MONDAY, a - week.minutes, after_midnight))
        elif after_midnight < sunday[1]:
            pieces[pieces.index(sunday)] = (SUNDAY, sunday[1], MINUTES_PER_DAY + after_midnight)
        else:  # Sunday is free from before the end of the skipped hour: a second Sunday window says the rest
            pieces.append((SUNDAY, max(12 * 60, sunday[1]), MINUTES_PER_DAY + after_midnight))
    return _sunday_night_whole(pieces) if week.minutes == MINUTES_PER_WEEK else pieces


def _sunday_night_whole(pieces: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Sunday night as one window, `Sunday 22:00-02:00`, rather than `Monday 00:00-02:00, Sunday 22:00-24:00`.

    Only in a week without a change of clocks: otherwise next Monday's early hours are other UTC minutes than
    this Monday's, and the two pieces are what parses back.
    """
    sunday = next((piece for piece in pieces if piece[0] == SUNDAY and piece[2] == MINUTES_PER_DAY), None)
    monday = next((piece for piece in pieces if piece[0] == MONDAY and piece[1] == 0), None)
    if sunday is None or monday is None or monday[2] >= sunday[1]:
        return pieces
    rest = [piece for piece in pieces if piece not in (sunday, monday)]
    return [*rest, (SUNDAY, sunday[1], MINUTES_PER_DAY + monday[2])]


def _clock_text(minutes: int) -> str:
    if minutes == MINUTES_PER_DAY:
        return "24:00"
    hours, rest = divmod(minutes % MINUTES_PER_DAY, 60)
    return f"{hours:02d}:{rest:02d}"


def _days_text(days: set[int]) -> str:
    """`Monday to Friday`, `Monday, Wednesday and Friday`, `Every day`: runs of three or more as ranges."""
    if len(days) == 7:
        return "Every day"
    gap = next(day for day in range(7) if day not in days)
    runs: list[list[int]] = []
    for step in range(1, 8):  # start after a missing day, so that a run through Sunday stays whole
        day = (gap + step) % 7
        if day not in days:
            continue
        if runs and (runs[-1][-1] + 1) % 7 == day:
            runs[-1].append(day)
        else:
            runs.append([day])
    runs.sort(key=lambda run: run[0])
    words: list[str] = []
    for run in runs:
        if len(run) >= 3:
            words.append(f"{DAY_NAMES[run[0]]} to {DAY_NAMES[run[-1]]}")
        else:
            words += [DAY_NAMES[day] for day in run]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _per_day(spans: Iterable[tuple[int, int, int]]) -> dict[int, tuple[tuple[int, int], ...]]:
    """Each weekday's merged (start, end) hours."""
    by_day: dict[int, list[tuple[int, int]]] = {}
    for day, start, end in sorted(spans):
        hours = by_day.setdefault(day, [])
        joined_end = max(hours[-1][1], end) if hours else end
        # Joined unless that makes a window of a day or more past midnight, which no `a-b` can say.
        if (
            hours
            and start <= hours[-1][1]
            and (joined_end <= MINUTES_PER_DAY or joined_end - hours[-1][0] < MINUTES_PER_DAY)
        ):
            hours[-1] = (hours[-1][0], joined_end)
        else:
            hours.append((start, end))
    return {day: tuple(hours) for day, hours in by_day.items()}


def describe(intervals: tuple[WeeklyInterval, ...], timezone: str, *, reference: datetime) -> str:
    """The intervals in words in `timezone`: `Monday to Friday 18:00-21:00, Saturday 10:00-14:00`, en dashes.

    Days with the same hours are grouped. The text parses back (with the same timezone and reference) to the
    same intervals, so it can be echoed to the learner as what was understood. One exception, in the week the
    clocks go forward: UTC minutes that no local time of that week names (the skipped hour, seen from the end
    of the week) can only be written as part of a Sunday window past midnight; when such minutes come from
    someone else's hours (an overlap) and Sunday is not free, they are shown as early Monday, an hour off.

    In the week the clocks go back, early Monday and late Sunday are the same UTC minutes: the text may name
    the other one than the learner typed (`Mon 0-1` shown as `Sunday 23:00-24:00`), which parses back the same.
    """
    _require_aware(reference)
    _, zone = _zone(timezone)
    merged = merge_intervals(intervals)
    if not merged:
        return NO_HOURS
    spans = _local_pieces(merged, zone, reference)
    by_hours: dict[tuple[tuple[int, int], ...], set[int]] = {}
    for day, hours in _per_day(spans).items():
        by_hours.setdefault(hours, set()).add(day)
    groups = sorted(by_hours.items(), key=lambda item: (min(item[1]), item[0]))
    return ", ".join(
        _days_text(days) + " " + " and ".join(f"{_clock_text(s)}{EN_DASH}{_clock_text(e)}" for s, e in hours)
        for hours, days in groups
    )
