"""The states of pairing's rows, as the database stores them (its check constraints list the same values)."""

from __future__ import annotations

from enum import StrEnum


class RequestState(StrEnum):
    """A place in the queue: waiting, then matched, cancelled or expired."""

    WAITING = "waiting"
    MATCHED = "matched"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class SessionState(StrEnum):
    """A study session: booked with a current partner it is scheduled at once; with anyone else it is proposed (an
    invitation) until accepted (scheduled), declined, left to expire or withdrawn. A booked one can be cancelled."""

    PROPOSED = "proposed"
    SCHEDULED = "scheduled"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"


class NoticeKind(StrEnum):
    """What a session notice is: the reminder a day before, the one shortly before, or the rating question."""

    DAY = "day"
    SOON = "soon"
    RATING = "rating"


def sql_values(states: type[StrEnum]) -> str:
    """The values as an SQL list, for a check constraint: `'a', 'b'`."""
    return ", ".join(f"'{state}'" for state in states)
