"""What both engines share: the interface, the rows found, the filters and the candidate budgets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.challenges.query import SearchQuery

# Newest matches that each alternative of a query contributes to the ranking: enough that the title and
# error matches among the recent ones come first, few enough to score quickly. Many alternatives (the
# signatures of a long paste, the words of the any-word fallback) share SHARED_CANDIDATES.
CANDIDATES = 30
SHARED_CANDIDATES = 120
MIN_CANDIDATES = 15
# Each word of an expression opens an index iterator however little it then reads, so a conjunction uses at
# most this many of the rarest words, and at most this many alternatives of one kind are searched.
MAX_WORDS = 8


@dataclass(frozen=True, slots=True)
class FoundChallenge:
    """A challenge found, with its columns and topics read by the search statement itself, so that the
    service needs no second round trip."""

    id: int
    guild_id: int
    channel_id: int
    author_id: int | None
    author_name: str
    title: str
    details: str
    tried: str | None
    status: str
    topics: tuple[str, ...]
    created_at: datetime
    source_message_id: int | None


@dataclass(frozen=True, slots=True)
class SearchHit:
    challenge: FoundChallenge
    snippet: str  # plain text with HIGHLIGHT_START/END around the matched words; empty without snippets

    @property
    def challenge_id(self) -> int:
        return self.challenge.id


class ChallengeSearchEngine(Protocol):
    """`snippets=False` when only the challenges are wanted (suggestions, autocomplete): an empty snippet, and
    neither the solutions' text read nor the highlighting done."""

    async def search(
        self,
        session: AsyncSession,
        guild_id: int,
        query: SearchQuery,
        *,
        limit: int,
        status: str | None = None,
        exclude_id: int | None = None,
        prefix: bool = False,
        snippets: bool = True,
    ) -> list[SearchHit]: ...


# The columns every engine's statement returns first, in this order, for `found_row`; topic slugs come
# space-separated (slugs have none).
FOUND_COLUMNS = (
    "c.id, c.guild_id, c.channel_id, c.author_id, c.author_name, c.title, c.details, c.tried, c.status, "
    "{topics}, c.created_at, c.source_message_id"
)
FOUND_WIDTH = 12


def _utc(value: datetime | str) -> datetime:
    """A stored timestamp as aware UTC: SQLite's driver returns the text SQLAlchemy wrote (UTC, no zone)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def found_row(row: Sequence[Any]) -> FoundChallenge:
    return FoundChallenge(
        id=int(row[0]),
        guild_id=int(row[1]),
        channel_id=int(row[2]),
        author_id=None if row[3] is None else int(row[3]),
        author_name=row[4],
        title=row[5],
        details=row[6] or "",
        tried=row[7],
        status=row[8],
        topics=tuple((row[9] or "").split()),
        created_at=_utc(row[10]),
        source_message_id=None if row[11] is None else int(row[11]),
    )


def filter_clauses(status: str | None, exclude_id: int | None) -> str:
    clauses = []
    if status is not None:
        clauses.append("AND c.status = :status")
    if exclude_id is not None:
        clauses.append("AND c.id != :exclude_id")
    return " ".join(clauses)


def candidate_share(parts: int) -> int:
    """Candidates for each of `parts` alternatives of one kind."""
    return min(CANDIDATES, max(MIN_CANDIDATES, SHARED_CANDIDATES // max(parts, 1)))
