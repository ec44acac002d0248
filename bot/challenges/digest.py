"""The weekly digest: when it is due, and what it says. Pure: no database, no Discord, no clock.

A server chooses a weekday and an hour (in a timezone, UTC unless the caller has another); the digest of a week is
due from that moment until the same moment a week later, and is keyed by the ISO week of its local date, so a server
gets at most one per week whatever restarts in between. It covers the seven days before its moment.

The rendering holds every value to Discord's embed limits however busy the week was: lists are cut to what fits and
end with "…and N more". Names and titles are shown as plain text (Markdown escaped, mentions made inert).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core import limits
from bot.core.embeds import EmbedField, EmbedSpec, shorten

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DEFAULT_DAY = 0  # Monday
DEFAULT_HOUR = 9
ZERO_WIDTH_SPACE = "\u200b"
DIGEST_COLOUR = 0x5865F2
# How many of each list are shown at most; the rest are counted ("…and N more").
SHOWN_OPEN = 5
SHOWN_SOLVERS = 10
SHOWN_TRENDING = 5
TRACK_ORDER = ("frontend", "backend")


# ----- schedule ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """A weekday (0 = Monday) and an hour (0-23) in `zone` (an IANA name)."""

    day: int = DEFAULT_DAY
    hour: int = DEFAULT_HOUR
    zone: str = "UTC"

    def __post_init__(self) -> None:
        if not 0 <= self.day <= 6:
            raise ValueError(f"the digest's day is 0 (Monday) to 6 (Sunday), not {self.day}")
        if not 0 <= self.hour <= 23:
            raise ValueError(f"the digest's hour is 0 to 23, not {self.hour}")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def describe(self) -> str:
        return f"every {WEEKDAYS[self.day]} at {self.hour:02d}:00 {self.zone}"


def _slot_on(schedule: DigestSchedule, day: date) -> datetime:
    """The UTC instant of the schedule's hour on the local date `day` (in a DST gap, the offset from before it)."""
    return datetime.combine(day, time(schedule.hour), tzinfo=schedule.tz).astimezone(UTC)


def latest_slot(schedule: DigestSchedule, now: datetime) -> datetime:
    """The latest digest moment at or before `now` (UTC)."""
    local = now.astimezone(schedule.tz)
    day = local.date() - timedelta(days=local.weekday()) + timedelta(days=schedule.day)
    slot = _slot_on(schedule, day)
    if slot > now:
        slot = _slot_on(schedule, day - timedelta(days=7))
    return slot


def next_slot(schedule: DigestSchedule, now: datetime) -> datetime:
    """The first digest moment after `now` (UTC)."""
    local_day = latest_slot(schedule, now).astimezone(schedule.tz).date()
    return _slot_on(schedule, local_day + timedelta(days=7))


def previous_slot(schedule: DigestSchedule, slot: datetime) -> datetime:
    """The digest moment a week before `slot`, by the local calendar (a DST change makes it 167 or 169 hours)."""
    return _slot_on(schedule, slot.astimezone(schedule.tz).date() - timedelta(days=7))


def week_key(schedule: DigestSchedule, slot: datetime) -> str:
    """The ISO week of the slot's local date, e.g. `2026-W50`: one digest per server and key."""
    year, week, _ = slot.astimezone(schedule.tz).date().isocalendar()
    return f"{year}-W{week:02d}"


# ----- what the digest says ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenChallenge:
    challenge_id: int
    title: str
    topics: tuple[str, ...]  # topic titles, for display
    created_at: datetime
    url: str | None = None  # a jump link to the message it was logged from, when known


@dataclass(frozen=True, slots=True)
class Solver:
    name: str
    accepted: int


@dataclass(frozen=True, slots=True)
class TopicTrend:
    title: str
    this_week: int
    last_week: int


@dataclass(frozen=True, slots=True)
class DigestData:
    """A server's week, as the service read it from the database (live entries of this server only)."""

    start: datetime
    end: datetime
    logged: int = 0
    solved: int = 0
    needing_help: tuple[OpenChallenge, ...] = ()  # oldest first
    open_total: int = 0
    solvers: tuple[Solver, ...] = ()  # most accepted first
    solvers_total: int = 0
    topics_this_week: Mapping[str, int] = field(default_factory=dict)  # topic title -> challenges logged
    topics_last_week: Mapping[str, int] = field(default_factory=dict)
    new_pairs: int = 0
    sessions_held: int = 0
    ratings: tuple[int, int, int] = (0, 0, 0)  # went well, okay, didn't happen / went badly
    waiting_by_track: Mapping[str, int] = field(default_factory=dict)


def trending(this_week: Mapping[str, int], last_week: Mapping[str, int]) -> list[TopicTrend]:
    """Topics logged more this week than the last: the biggest rise first, then the busiest, then by name."""
    rising = [
        TopicTrend(title, count, last_week.get(title, 0))
        for title, count in this_week.items()
        if count > last_week.get(title, 0)
    ]
    return sorted(rising, key=lambda trend: (-(trend.this_week - trend.last_week), -trend.this_week, trend.title))


_MARKDOWN = re.compile(r"([\\*_~`|>#\[\]()])")


def plain(text: str) -> str:
    """User text as plain text on one line: Markdown escaped, mentions (`@everyone`, `<@id>`) made inert."""
    flat = " ".join(text.split())
    flat = _MARKDOWN.sub(r"\\\1", flat)
    return flat.replace("@", "@" + ZERO_WIDTH_SPACE).replace("<", "<" + ZERO_WIDTH_SPACE)


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {plural or noun + 's'}"


def bounded_lines(lines: Sequence[str], total: int | None = None, *, limit: int = limits.EMBED_FIELD_VALUE) -> str:
    """As many of `lines` as fit in `limit` characters, then "…and N more" for the rest of `total` (default: all
    of `lines`). Each line is first cut to a fair share of the limit, so one long title cannot crowd out the rest."""
    total = max(total if total is not None else len(lines), len(lines))
    cut = [shorten(line, limit // 2) for line in lines]
    kept: list[str] = []
    used = -1  # no newline before the first line
    for index, line in enumerate(cut):
        rest = total - index - 1
        tail = len(f"\n…and {rest} more") if rest else 0
        if used + 1 + len(line) + tail > limit:
            break
        kept.append(line)
        used += 1 + len(line)
    rest = total - len(kept)
    if rest:
        kept.append(f"…and {rest} more")
    return "\n".join(kept)


def _day(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b}"


def _open_line(challenge: OpenChallenge) -> str:
    label = f"#{challenge.challenge_id} {plain(shorten(challenge.title, 100))}"
    shown = f"[{label}]({challenge.url})" if challenge.url else label
    topics = f" · {', '.join(plain(topic) for topic in challenge.topics[:3])}" if challenge.topics else ""
    return f"• {shown}{topics} (since {challenge.created_at:%d %b})"


def _trend_line(trend: TopicTrend) -> str:
    return f"• {plain(trend.title)}: {trend.this_week} (last week {trend.last_week})"


def render_digest(data: DigestData, schedule: DigestSchedule, *, preview: bool = False) -> EmbedSpec:
    """The digest as one embed, within Discord's limits. Nothing in it pings: names are plain text."""
    zone = schedule.tz
    last_day = data.end - timedelta(seconds=1)
    title = f"Weekly digest: {_day(data.start, zone)} to {_day(last_day, zone)} {last_day.astimezone(zone):%Y}"
    description = (
        f"**{_plural(data.logged, 'challenge')}** logged, **{data.solved}** solved this week."
        if data.logged or data.solved
        else "No challenges were logged or solved this week."
    )
    fields: list[EmbedField] = []
    if data.needing_help:
        lines = [_open_line(challenge) for challenge in data.needing_help[:SHOWN_OPEN]]
        fields.append(
            EmbedField("Still needing help (oldest first)", bounded_lines(lines, max(data.open_total, len(lines))))
        )
    if data.solvers:
        lines = [
            f"• {plain(solver.name)}: {_plural(solver.accepted, 'accepted solution')}"
            for solver in data.solvers[:SHOWN_SOLVERS]
        ]
        fields.append(EmbedField("Solutions accepted", bounded_lines(lines, max(data.solvers_total, len(lines)))))
    rising = trending(data.topics_this_week, data.topics_last_week)
    if rising:
        lines = [_trend_line(trend) for trend in rising[:SHOWN_TRENDING]]
        fields.append(EmbedField("Trending topics", bounded_lines(lines, len(rising))))
    good, okay, bad = data.ratings
    rated = good + okay + bad
    pairing = [
        f"{_plural(data.new_pairs, 'new pair')}, {_plural(data.sessions_held, 'study session')} held",
        f"Ratings: 👍 {good} · 😐 {okay} · 👎 {bad}" if rated else "No ratings yet.",
    ]
    fields.append(EmbedField("Pairing", "\n".join(pairing)))
    tracks = [*TRACK_ORDER, *sorted(set(data.waiting_by_track) - set(TRACK_ORDER))]
    waiting = [f"{track}: {data.waiting_by_track.get(track, 0)}" for track in tracks]
    fields.append(EmbedField("Waiting for a partner", " · ".join(waiting)))
    footer = f"Week {week_key(schedule, data.end)} · {schedule.zone}"
    if preview:
        footer = f"Preview, not posted · {footer}"
    spec = EmbedSpec(
        title=shorten(title, limits.EMBED_TITLE),
        description=shorten(description, limits.EMBED_DESCRIPTION),
        fields=tuple(fields),
        footer=footer,
        colour=DIGEST_COLOUR,
    )
    problems = spec.problems()
    if problems:  # the bounds above make this impossible; never post what Discord would refuse
        raise ValueError(f"the digest would break Discord's limits: {problems}")
    return spec
