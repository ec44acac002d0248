"""Column types of the pairing tables: lists kept in one text column, converted here and nowhere else.

The stored text is what the columns always held (`slug,slug` and `start-end,start-end`), so no data moves.
"""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from bot.pairing.availability import WeeklyInterval


class SlugList(TypeDecorator[tuple[str, ...]]):
    """Topic slugs, comma-separated: a slug never contains a comma."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: tuple[str, ...] | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if any("," in slug for slug in value):
            raise ValueError(f"a topic slug cannot contain a comma: {value!r}")
        return ",".join(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> tuple[str, ...] | None:
        if value is None:
            return None
        return tuple(slug for slug in value.split(",") if slug)


class WeekSpans(TypeDecorator[tuple[WeeklyInterval, ...]]):
    """UTC weekly availability as `start-end` minute spans, comma-separated (read by the matcher)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: tuple[WeeklyInterval, ...] | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return ",".join(f"{interval.start}-{interval.end}" for interval in value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> tuple[WeeklyInterval, ...] | None:
        if value is None:
            return None
        spans = (part.split("-") for part in value.split(",") if part)
        return tuple(WeeklyInterval(int(start), int(end)) for start, end in spans)


STORED_AS_TEXT = (SlugList, WeekSpans)
"""Types whose Python value is not the text they store: the copy's digest reads the text (`bot.db.copy`)."""
