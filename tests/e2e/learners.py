"""What the pairing and permissions suites share: two learners' `/pair request` options that match each other, and
a clock the tests move ("now" for the pairing service's commands and buttons)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def next_monday_morning() -> datetime:
    """A Monday 09:00 UTC at least a week ahead of the real clock: whatever the bot's own first pass does with the
    real time finds nothing of these tests due."""
    day = (datetime.now(UTC) + timedelta(days=7)).replace(hour=9, minute=0, second=0, microsecond=0)
    return day + timedelta(days=(7 - day.weekday()) % 7)


NOW = next_monday_morning()
LAGOS, BOGOTA = "Africa/Lagos", "America/Bogota"  # neither changes its clocks, so the expected hours never move
# They share REST APIs and are free together Monday to Friday 18:00-20:00 UTC.
FRONTEND: dict[str, str] = {
    "track": "frontend",
    "topics": "GraphQL, REST APIs",
    "timezone": "Lagos",
    "availability": "Mon-Fri 18:00-21:00",
}
BACKEND: dict[str, str] = {
    "track": "backend",
    "topics": "REST APIs, Docker",
    "timezone": BOGOTA,
    "availability": "Mon-Fri 13-17",
}


class Clock:
    """What "now" is for the bot's commands and buttons; tests move it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now
