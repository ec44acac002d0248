"""Full-text search over the challenge log: one interface (`common`), an engine per database.

SQLite searches its FTS5 table, PostgreSQL the tsvector column; triggers keep both in step with the log, so no
write path can forget them. Each engine's one statement returns the rows found, their topics and, for
snippets, their text: the service maps them without another round trip.
"""

from __future__ import annotations

from bot.challenges.snippets import HIGHLIGHT_END, HIGHLIGHT_START, cut_snippet, snippet_pattern
from bot.db.search.common import CANDIDATES, ChallengeSearchEngine, FoundChallenge, SearchHit
from bot.db.search.common import filter_clauses as _filters
from bot.db.search.postgresql import PostgresChallengeSearch
from bot.db.search.sqlite import (
    _TOTAL_KEY,
    SqliteChallengeSearch,
    _alternatives,
    _ranking_statement,
    _title_globs,
)

# The private names are here for tests/integration/test_search.py, which pins the SQLite plan through them;
# the snippet functions (now in bot.challenges.snippets) for it and the service's imports.
__all__ = [
    "CANDIDATES",
    "HIGHLIGHT_END",
    "HIGHLIGHT_START",
    "_TOTAL_KEY",
    "ChallengeSearchEngine",
    "FoundChallenge",
    "PostgresChallengeSearch",
    "SearchHit",
    "SqliteChallengeSearch",
    "_alternatives",
    "_filters",
    "_ranking_statement",
    "_title_globs",
    "cut_snippet",
    "search_engine_for",
    "snippet_pattern",
]


def search_engine_for(dialect: str) -> ChallengeSearchEngine:
    if dialect == "sqlite":
        return SqliteChallengeSearch()
    if dialect == "postgresql":
        return PostgresChallengeSearch()
    raise NotImplementedError(f"no full-text search for the {dialect} dialect")
