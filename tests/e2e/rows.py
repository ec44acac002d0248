"""Read the bot's database from outside the bot, as a second process (an auditor) would, on either engine.

Each read opens its own engine without a pool (nothing outlives the call), runs one SELECT and disposes of it: the
rows are what another connection sees committed at that moment, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

UNDEFINED_TABLE = "42P01"  # PostgreSQL's SQLSTATE for a missing relation


class NotMigrated(Exception):
    """The database, or the table asked for, does not exist yet: the bot has not migrated it."""


async def fetch(database: str, query: str, **params: Any) -> Sequence[Row[Any]]:
    """The rows of one SELECT against `database` (an async SQLAlchemy URL). Write SQL both engines accept and pass
    values as `:name` parameters.

    Raises `NotMigrated` if a table is missing (SQLite: OperationalError "no such table"; PostgreSQL:
    ProgrammingError, UndefinedTableError) or the SQLite file is not there yet: this reader never creates it.
    """
    url = make_url(database)
    if _sqlite_file_missing(url):
        raise NotMigrated(f"no database file at {url.database}")
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            try:
                result = await connection.execute(text(query), params)
            except (OperationalError, ProgrammingError) as error:
                if _missing_table(error):
                    raise NotMigrated(str(error.orig)) from error
                raise
            return result.all()
    finally:
        await engine.dispose()


def _sqlite_file_missing(url: URL) -> bool:
    # A stat, instant: a SQLite connection would create the file, and this reader must leave no trace.
    return url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists())


def _missing_table(error: OperationalError | ProgrammingError) -> bool:
    return getattr(error.orig, "sqlstate", None) == UNDEFINED_TABLE or "no such table" in str(error.orig)
