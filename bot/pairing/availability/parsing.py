"""Reading the compact form learners type (`Mon-Fri 18:00-21:00, Sat 10-14`) into UTC week intervals.

Any text either parses or raises a `ValueError` whose message says what to type instead.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.pairing._echo import quoted as _quoted
from bot.pairing.availability.week import (
    MINUTES_PER_DAY,
    MINUTES_PER_WEEK,
    Availability,
    WeeklyInterval,
    _local_monday,
    _require_aware,
    _wall_to_utc,
    _week_minute,
    _zone,
    merge_intervals,
)

MAX_PARTS = 20
MAX_TEXT = 300
EXAMPLE = "Try `Mon-Fri 18:00-21:00, Sat 10-14`."


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
