"""Weekly availability: the compact form learners type (`Mon-Fri 18:00-21:00, Sat 10-14`), as UTC week minutes.

Learners type hours in their own timezone; matching compares learners in different ones. So every window is
converted to UTC and folded onto one week counted in minutes from Monday 00:00 UTC: two learners' overlap is then
integer arithmetic. A window may run past the end of that week (`Sun 22:00-02:00` in UTC+0 ends on Monday): such an
interval keeps `end > MINUTES_PER_WEEK` rather than being cut in two, so a week is a circle, not a line.

Daylight saving makes the UTC form depend on the date, so the conversion uses a `reference` week: each local
window of that week is converted on its own day, with `zoneinfo`. Callers keep the text and the timezone and parse
again when the week matters (a London learner's `Mon 18-21` is 18:00 UTC in January and 17:00 UTC in July).

Pure: no clock. Any text either parses or raises a `ValueError` whose message says what to type instead.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.pairing._echo import quoted as _quoted
from bot.pairing.timezones import resolve_timezone

MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
MAX_PARTS = 20
MAX_TEXT = 300
EXAMPLE = "Try `Mon-Fri 18:00-21:00, Sat 10-14`."
NO_HOURS = "no hours"
EN_DASH = "\u2013"  # between the hours `describe` writes, as typography has it

# Any Monday 00:00 UTC: week minutes are counted from it, modulo a week.
_EPOCH_MONDAY = datetime(2024, 1, 1, tzinfo=UTC)

MONDAY, SUNDAY = 0, 6
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


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


@dataclass(frozen=True, slots=True)
class _Window:
    """One local window: a day of the week (0 = Monday), its start in minutes after midnight, and its length."""

    day: int
    start: int
    length: int


# --- reading the text -------------------------------------------------------------------------------------

_DAYS: dict[str, tuple[int, ...]] = {}
for _index, _names in enumerate(
    (
        ("monday", "mon", "mondays"),
        ("tuesday", "tue", "tues", "tuesdays"),
        ("wednesday", "wed", "weds", "wednesdays"),
        ("thursday", "thu", "thur", "thurs", "thursdays"),
        ("friday", "fri", "fridays"),
        ("saturday", "sat", "saturdays"),
        ("sunday", "sun", "sundays"),
    )
):
    for _name in _names:
        _DAYS[_name] = (_index,)
# Groups of days: they can be listed but are not the ends of a range (`weekdays-sun` means nothing).
_DAY_GROUPS: dict[str, tuple[int, ...]] = {
    "weekdays": (0, 1, 2, 3, 4),
    "weekday": (0, 1, 2, 3, 4),
    "weekends": (5, 6),
    "weekend": (5, 6),
    "daily": tuple(range(7)),
    "everyday": tuple(range(7)),
}
# Words that read naturally but change nothing: "every Monday from 9 to 12", "on weekends".
_FILLERS = frozenset({"every", "from", "on", "at"})
_NAMED_TIMES = {"noon": (12, 0), "midnight": (0, 0)}

_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<sep>[,;&+/]|\band\b)
    | (?P<dash>-|\b(?:to|until|till|through|thru)\b)
    | (?P<time>(?P<hour>[0-9]{1,2})(?::(?P<minute>[0-9]{2}))?(?![0-9:])\s*(?P<suffix>am|pm)?\b)
    | (?P<word>[a-z]+)
    | (?P<other>.)
    """,
    re.VERBOSE | re.ASCII,
)
_SPACES = re.compile(r"\s+")
_WORD_AT = re.compile(r"[^\s,;]+")
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"))


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "sep", "dash", "time", "word"
    text: str
    hour: int = 0
    minute: int = 0
    suffix: str | None = None


def _problem(message: str) -> ValueError:
    return ValueError(f"{message} {EXAMPLE}")


def clean(text: str) -> str:
    """What the learner typed, as stored: NFKC, single spaces, trimmed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def _lexable(text: str) -> str:
    """`text` in the form the tokenizer reads: lower case, ASCII dashes, `every day` as one word."""
    lowered = text.casefold().translate(_DASHES).replace("a.m.", "am").replace("p.m.", "pm")
    return re.sub(r"\bevery\s+day\b", "daily", lowered)


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        word = match.group()
        if kind == "space":
            continue
        if kind == "other":  # quote the whole word it sits in: "10h", not "1"
            found = _WORD_AT.match(text, match.start())
            raise _problem(f"I couldn't read `{_quoted(found.group() if found else word)}`.")
        if kind == "time":
            tokens.append(_Token("time", word, int(match["hour"]), int(match["minute"] or 0), match["suffix"]))
        elif kind == "word" and word in _NAMED_TIMES:
            hour, minute = _NAMED_TIMES[word]
            tokens.append(_Token("time", word, hour, minute))
        elif not (kind == "word" and word in _FILLERS):
            tokens.append(_Token(kind, word))
    return tokens


def _clock(token: _Token, suffix: str | None) -> int:
    """Minutes after midnight for a time token read with `suffix` (am/pm or None); 24:00 is 1440."""
    hour, minute = token.hour, token.minute
    if minute > 59:
        raise _problem(f"`{_quoted(token.text)}` has more than 59 minutes.")
    if suffix is not None:
        if not 1 <= hour <= 12:
            raise _problem(f"`{_quoted(token.text)}` is not a time: with am/pm, hours go from 1 to 12.")
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    if hour > 24 or (hour == 24 and minute > 0):
        raise _problem(f"`{_quoted(token.text)}` is not a time: hours go from 0 to 24.")
    return hour * 60 + minute


def _one_digit_hour(token: _Token) -> bool:
    """`5`, `5:30`: an hour written short, unlike `05:00` or `17`. Never what `describe` writes."""
    return token.text[:1] in set("123456789") and not token.text[1:2].isdigit()


def _range(first: _Token, last: _Token) -> tuple[int, int]:
    """(start, length) in minutes of `first-last`; an end before the start runs past midnight."""
    start = _clock(first, first.suffix)
    end = _clock(last, last.suffix)  # 0 ("22-midnight", "10pm-12am") runs to the next midnight, as 24:00 does
    if first.suffix is None and last.suffix is not None and 1 <= first.hour <= 12 and first.text != "noon":
        # "7-9pm" means 19:00-21:00, but "11-1pm" means 11:00-13:00: the end's am/pm carries over when it fits.
        carried = _clock(first, last.suffix)
        start = carried if carried < end else start
    if first.suffix is None and last.suffix is None and end < start < 12 * 60 and _one_digit_hour(last):
        end += 12 * 60  # "9-5", "10-2": office hours, not a window ending at dawn (that is written `09:00-05:00`)
    if start >= MINUTES_PER_DAY:
        raise _problem(f"`{_quoted(first.text)}` cannot start a range: the day ends at 24:00.")
    if start == end:
        raise _problem(f"`{_quoted(first.text)}-{_quoted(last.text)}` is an empty range.")
    length = end - start if end > start else end + MINUTES_PER_DAY - start
    return start, length


def _day_range(first: int, last: int) -> tuple[int, ...]:
    """The days from `first` to `last`, wrapping through Sunday (`Fri-Mon`)."""
    return tuple((first + step) % 7 for step in range((last - first) % 7 + 1))


class _Reader:
    """Reads tokens into groups of days, each with its hours: `Mon-Fri 18-21, 7-8, Sat 10-14`."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self, ahead: int = 0) -> _Token | None:
        index = self.at + ahead
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def days(self) -> tuple[int, ...]:
        token = self.take()
        if token.text in _DAY_GROUPS:
            return _DAY_GROUPS[token.text]
        if token.text not in _DAYS:
            raise _problem(f"`{_quoted(token.text)}` is not a day or a time.")
        dash, after = self.peek(), self.peek(1)
        if dash is not None and dash.kind == "dash" and after is not None and after.text in _DAYS:
            self.at += 2
            return _day_range(_DAYS[token.text][0], _DAYS[after.text][0])
        return _DAYS[token.text]

    def hours(self) -> tuple[int, int]:
        first = self.take()
        dash, last = self.peek(), self.peek(1)
        if dash is None or dash.kind != "dash" or last is None or last.kind != "time":
            raise _problem(f"`{_quoted(first.text)}` needs an end time, as in `18:00-21:00`.")
        self.at += 2
        return _range(first, last)

    def groups(self) -> list[tuple[tuple[int, ...], list[tuple[int, int]]]]:
        groups: list[tuple[tuple[int, ...], list[tuple[int, int]]]] = []
        days: list[int] = []
        hours: list[tuple[int, int]] = []
        last_day = ""
        while (token := self.peek()) is not None:
            if token.kind == "sep":
                self.at += 1
            elif token.kind == "time":
                if not days:
                    raise _problem(f"Which days for `{_quoted(token.text)}`? Start with a day, `daily` or `weekends`.")
                hours.append(self.hours())
            elif token.kind == "word":
                if hours:  # a day after hours starts the next group
                    groups.append((tuple(days), hours))
                    days, hours = [], []
                days.extend(self.days())
                last_day = token.text
            else:
                raise _problem(f"I didn't expect `{_quoted(token.text)}` there.")
        if days and not hours:
            raise _problem(f"`{_quoted(last_day)}` has no hours.")
        if hours:
            groups.append((tuple(days), hours))
        return groups


def _windows(text: str) -> list[_Window]:
    groups = _Reader(_tokens(_lexable(text))).groups()
    if not groups:
        raise _problem("Say when you are free.")
    if sum(len(hours) for _, hours in groups) > MAX_PARTS:
        raise _problem(f"That is more than {MAX_PARTS} parts: group days that share hours.")
    return [_Window(day, start, length) for days, hours in groups for day in set(days) for start, length in hours]


# --- local time and UTC week minutes ----------------------------------------------------------------------


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


def _to_utc(windows: Iterable[_Window], zone: ZoneInfo, reference: datetime) -> Iterator[WeeklyInterval]:
    monday = _local_monday(zone, reference)
    for window in windows:
        wall_start = datetime.combine(monday + timedelta(days=window.day), time()) + timedelta(minutes=window.start)
        wall_end = wall_start + timedelta(minutes=window.length)
        start = _week_minute(_wall_to_utc(wall_start, zone))
        end = _week_minute(_wall_to_utc(wall_end, zone))
        if end > start:  # a window wholly inside a DST gap does not happen that week
            folded = start % MINUTES_PER_WEEK
            yield WeeklyInterval(folded, folded + end - start)


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


def parse_availability(text: str, timezone: str, *, reference: datetime) -> Availability:
    """`Mon-Fri 18:00-21:00, Sat 10-14` in `timezone`, as UTC week intervals for the week of `reference`."""
    _require_aware(reference)
    cleaned = clean(text)
    if not cleaned:
        raise _problem("Say when you are free.")
    if len(cleaned) > MAX_TEXT:
        raise _problem(f"That is longer than {MAX_TEXT} characters: group days that share hours.")
    name, zone = _zone(timezone)
    intervals = merge_intervals(_to_utc(_windows(cleaned), zone, reference))
    if not intervals:  # only possible when every window falls in a DST gap
        raise _problem("Those hours do not exist this week (the clocks skip them).")
    return Availability(cleaned, name, intervals)


# --- back to words ----------------------------------------------------------------------------------------


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
