"""When a study session starts: what a learner types (`tomorrow 18:00`, `Fri 20:00`, `3 Dec 19:30`) as a UTC time.

The text is read in the learner's own timezone, with `now` given by the caller (this module never reads the clock).
Relative forms (`today`, `tomorrow`, a weekday, `in 2 hours`) have a small grammar of their own; dates are left to
`dateutil`, with today as the default for what the text leaves out. The result is an aware UTC datetime, on the
minute, after `now` and at most 90 days ahead; anything else is a `ValueError` that says what to type instead.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil import parser as dateutil_parser

from bot.pairing._echo import quoted as _quoted
from bot.pairing.timezones import resolve_timezone

MAX_AHEAD = timedelta(days=90)
MAX_TEXT = 60
EXAMPLES = "Try `tomorrow 18:00`, `Fri 20:00`, `3 Dec 19:30`, `2026-12-03 19:30` or `in 2 hours`."

_WEEKDAYS: dict[str, int] = {}
for _index, _names in enumerate(
    (
        ("monday", "mon"),
        ("tuesday", "tue", "tues"),
        ("wednesday", "wed", "weds"),
        ("thursday", "thu", "thur", "thurs"),
        ("friday", "fri"),
        ("saturday", "sat"),
        ("sunday", "sun"),
    )
):
    for _name in _names:
        _WEEKDAYS[_name] = _index
_DAY_OFFSETS = {"today": 0, "tomorrow": 1, "tmrw": 1, "tmr": 1}

_DAY = "|".join(sorted([*_WEEKDAYS, *_DAY_OFFSETS], key=len, reverse=True))
_TIME = r"(?P<hour>[0-9]{1,2})(?:[:.](?P<minute>[0-9]{2}))?\s*(?P<suffix>am|pm)?|(?P<noon>noon)"
# "tomorrow 18:00", "next monday 10am", "8pm friday", "19:30": a day word and a time, in either order, or a time.
_DAY_AND_TIME = (
    re.compile(rf"(?:(?P<which>next|this)\s+)?(?P<day>{_DAY})\s+(?:{_TIME})", re.ASCII),
    re.compile(rf"(?:{_TIME})\s+(?:(?P<which>next|this)\s+)?(?P<day>{_DAY})", re.ASCII),
    re.compile(rf"(?:{_TIME})", re.ASCII),
)
_DAY_ALONE = re.compile(rf"(?:(?:next|this)\s+)?(?:{_DAY})", re.ASCII)
_UNITS = {
    "minute": 1,
    "min": 1,
    "m": 1,
    "hour": 60,
    "hr": 60,
    "h": 60,
    "day": 1440,
    "d": 1440,
    "week": 10080,
    "w": 10080,
}
_AMOUNT = re.compile(r"(?P<count>[0-9]{1,6}|an?|one)\s*(?P<unit>minute|min|hour|hr|day|week|[mhdw])s?\b", re.ASCII)
_FILLERS = re.compile(r"\b(?:at|on)\b|,", re.ASCII)
# Day and month both no more than 12, with slashes (or dots with a year): 03/12 is March to some, December to others.
_NUMERIC_DATE = re.compile(r"\b([0-9]{1,2})/([0-9]{1,2})\b|\b([0-9]{1,2})\.([0-9]{1,2})\.[0-9]{2,4}\b", re.ASCII)
_READABLE = re.compile(r"[a-z0-9 :/.,+-]*", re.ASCII)
_SPACES = re.compile(r"\s+")
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"))


def _problem(message: str) -> ValueError:
    return ValueError(f"{message} {EXAMPLES}")


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().translate(_DASHES)
    return _SPACES.sub(" ", text.replace("a.m.", "am").replace("p.m.", "pm")).strip().rstrip(".")


def _on_the_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


# --- "in 2 hours" -----------------------------------------------------------------------------------------


def _relative(key: str, now: datetime) -> datetime | None:
    """`in 2 hours`, `in 1 hour 30 minutes`, `in an hour`: elapsed time from now; None if not this form."""
    if not key.startswith("in "):
        return None
    rest = key[3:].replace(" and ", " ")
    minutes, at = 0, 0
    while at < len(rest):
        if rest[at] == " ":
            at += 1
            continue
        match = _AMOUNT.match(rest, at)
        if match is None:
            return None
        count = match["count"]
        minutes += (1 if not count.isdigit() else int(count)) * _UNITS[match["unit"]]
        at = match.end()
    if minutes == 0:
        raise _problem("`in 0 minutes` is now: give a time in the future.")
    delta = timedelta(minutes=minutes)
    if delta > MAX_AHEAD:  # checked before adding: a huge delta would overflow datetime
        raise _problem("That is more than 90 days ahead.")
    return _on_the_minute(now.astimezone(UTC) + delta)


# --- "tomorrow 18:00", "Fri 20:00" ------------------------------------------------------------------------


def _clock(match: re.Match[str]) -> time:
    if match["noon"]:
        return time(12)
    hour, minute, suffix = int(match["hour"]), int(match["minute"] or 0), match["suffix"]
    if minute > 59:
        raise _problem(f"`{match['hour']}:{match['minute']}` has more than 59 minutes.")
    if suffix is not None:
        if not 1 <= hour <= 12:
            raise _problem(f"`{hour}{suffix}` is not a time: with am/pm, hours go from 1 to 12.")
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    elif hour > 23:
        raise _problem(f"`{hour}` is not an hour: hours go from 0 to 23.")
    return time(hour, minute)


def _day_and_time(key: str, local_now: datetime) -> datetime | None:
    """The local wall-clock time a day word and a time name, or None if the text is not of that form.

    A bare weekday or time means the next one that has not passed (today's if still ahead); `next friday` is the
    first Friday after today, never today.
    """
    text = _SPACES.sub(" ", _FILLERS.sub(" ", key)).strip()
    match = next((found for pattern in _DAY_AND_TIME if (found := pattern.fullmatch(text))), None)
    if match is None:
        if _DAY_ALONE.fullmatch(text):
            raise _problem(f"`{_quoted(key)}` needs a time of day.")
        return None
    clock, today, wall_now = _clock(match), local_now.date(), local_now.replace(tzinfo=None)
    day, which = match.groupdict().get("day"), match.groupdict().get("which")
    if day in _DAY_OFFSETS:
        if which is not None:
            raise _problem(f"`{which} {day}` is not a day I know.")
        return datetime.combine(today + timedelta(days=_DAY_OFFSETS[day]), clock)
    if day is None:  # a time alone: today's, or tomorrow's once it has passed
        candidate = datetime.combine(today, clock)
        return candidate if candidate > wall_now else candidate + timedelta(days=1)
    ahead = (_WEEKDAYS[day] - today.weekday()) % 7
    candidate = datetime.combine(today + timedelta(days=ahead), clock)
    if (which == "next" and ahead == 0) or candidate <= wall_now:
        candidate += timedelta(days=7)
    return candidate


# --- "3 Dec 19:30", "2026-12-03 19:30" --------------------------------------------------------------------


def _dateutil(key: str, default: datetime) -> datetime:
    with warnings.catch_warnings():  # an unknown zone name is refused below, not logged as a warning
        warnings.simplefilter("ignore")
        try:
            return dateutil_parser.parse(key, default=default)
        except (ValueError, OverflowError) as error:  # OverflowError: digits too long for a C int
            raise _problem(f"I couldn't read `{_quoted(key)}` as a time.") from error


def _absolute(key: str, local_now: datetime) -> datetime:
    """The local wall-clock time of a date and a time (`3 Dec 19:30`); a year left out means the next such date."""
    if not _READABLE.fullmatch(key):
        raise _problem(f"I couldn't read `{_quoted(key)}` as a time.")
    for match in _NUMERIC_DATE.finditer(key):
        first, second = (int(part) for part in (match[1] or match[3], match[2] or match[4]))
        if first != second and first <= 12 and second <= 12:
            raise _problem(f"`{_quoted(match[0])}` could be either of two dates: write the month as a word.")
    today = datetime.combine(local_now.date(), time())
    # Parsed twice with different defaults: a field that changes with the default was not in the text.
    other = today.replace(year=today.year + 4, month=1 if today.month != 1 else 3, day=1 if today.day != 1 else 2)
    other = other.replace(hour=13, minute=37)
    parsed, probe = _dateutil(key, today), _dateutil(key, other)
    if parsed.tzinfo is not None or probe.tzinfo is not None:
        raise _problem("Give the time in your own timezone, without a zone or offset.")
    if (parsed.hour, parsed.minute) != (probe.hour, probe.minute):
        raise _problem(f"`{_quoted(key)}` has no time of day.")
    month_given, day_given = parsed.month == probe.month, parsed.day == probe.day
    wall_now = local_now.replace(tzinfo=None)
    if not month_given and not day_given and parsed.year != probe.year:  # a time alone ("7.30pm"): the next one
        return _on_the_minute(parsed if parsed > wall_now else parsed + timedelta(days=1))
    if not (month_given and day_given):
        raise _problem(f"`{_quoted(key)}` needs both a day and a month.")
    if parsed.year != probe.year and parsed <= wall_now:
        parsed = _next_year(parsed, wall_now)
    return _on_the_minute(parsed)


def _next_year(moment: datetime, wall_now: datetime) -> datetime:
    """The same date a year later if that is near: "3 Jan" typed in December means next January, but typed in
    March it is a date that has passed (and is refused as such), not one nine months ahead."""
    try:
        later = moment.replace(year=moment.year + 1)
    except ValueError:  # 29 February
        return moment
    return later if later - wall_now <= MAX_AHEAD else moment


# --- from local to UTC ------------------------------------------------------------------------------------


def _wall_to_utc(wall: datetime, zone: ZoneInfo, zone_name: str) -> datetime:
    """The UTC instant of a local wall-clock time: the first of two when clocks go back, refused in a gap."""
    local = wall.replace(tzinfo=zone, fold=0)
    moment = local.astimezone(UTC)
    if moment.astimezone(zone).replace(tzinfo=None) != wall:
        after = moment.astimezone(zone)  # the gap's length later: past the jump, as the clocks show it
        raise _problem(
            f"{wall:%H:%M} does not exist on {wall:%a %d %b %Y} in {zone_name}: the clocks skip it. "
            f"Pick another time, such as {after:%H:%M}."
        )
    return moment


def _in_range(moment: datetime, now: datetime, zone: ZoneInfo) -> datetime:
    if moment <= now:
        shown = moment.astimezone(zone)
        raise _problem(f"That time has already passed ({shown:%a %d %b %Y %H:%M} your time).")
    if moment - now > MAX_AHEAD:
        raise _problem("That is more than 90 days ahead.")
    return moment


def parse_when(text: str, timezone: str, *, now: datetime) -> datetime:
    """The aware UTC start of a session typed in `timezone`, after `now` and at most 90 days ahead."""
    if now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    zone_name = resolve_timezone(timezone)
    zone = ZoneInfo(zone_name)
    key = _normalize(text)
    if not key:
        raise _problem("When?")
    if len(key) > MAX_TEXT:
        raise _problem(f"That is longer than {MAX_TEXT} characters.")
    moment = _relative(key, now)
    if moment is None:
        local_now = now.astimezone(zone)
        wall = _day_and_time(key, local_now)
        if wall is None:
            wall = _absolute(key, local_now)
        moment = _wall_to_utc(wall, zone, zone_name)
    return _in_range(moment, now, zone)
