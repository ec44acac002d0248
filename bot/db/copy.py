"""`nexus-bot db copy`: every table's rows from one database to another, then proof that they are equal.

The target is migrated to head with the same migrations, so it has the same tables, constraints, triggers and
search index as a database the bot created itself. Rows go over in foreign-key order, in batches, keeping their
primary keys, all inside one transaction on the target: a failure leaves it migrated but empty. The search
index is not copied: the triggers that keep it in step on every write (FTS5 on SQLite, the tsvector column on
PostgreSQL) build it as the rows arrive, and `search_index_problems` checks that they did. On PostgreSQL the
id sequences are moved past the copied ids, so the next insert does not collide.

The verification reads both sides again: per table the row count and a SHA-256 over the rows in primary-key
order, with every value normalised so that the two engines agree (datetimes as UTC ISO strings, booleans as
0/1, floats by their repr, strings ordered by code point on both engines).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, String, Table, func, insert, inspect, select, text, type_coerce
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from bot.db import migrate
from bot.db import models as _models  # noqa: F401  (registers the tables on the metadata)
from bot.db.base import Base
from bot.db.pairing_types import STORED_AS_TEXT

BATCH_SIZE = 1000


class CopyRefused(Exception):
    """The copy cannot start; the message says why and what to do, and never holds a URL."""


class CopyFailed(Exception):
    """A table could not be written to the target (e.g. a value PostgreSQL cannot hold); nothing was committed."""


@dataclass(frozen=True, slots=True)
class TableCheck:
    """One table on both sides after a copy."""

    table: str
    source_rows: int
    target_rows: int
    source_hash: str
    target_hash: str

    @property
    def equal(self) -> bool:
        return self.source_rows == self.target_rows and self.source_hash == self.target_hash


def copied_tables() -> list[Table]:
    """The bot's tables, parents before children; Alembic's own table and the search index are not copied."""
    return list(Base.metadata.sorted_tables)


# --- checks before the copy -----------------------------------------------------------------------------------


def _existing_tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _row_counts(connection: AsyncConnection, tables: Sequence[Table]) -> dict[str, int]:
    counts = {}
    for table in tables:
        counts[table.name] = int((await connection.execute(select(func.count()).select_from(table))).scalar_one())
    return counts


async def nonempty_tables(engine: AsyncEngine) -> dict[str, int]:
    """The bot's tables that exist in the database and hold rows, with their counts."""
    async with engine.connect() as connection:
        existing = await connection.run_sync(_existing_tables)
        counts = await _row_counts(connection, [table for table in copied_tables() if table.name in existing])
    return {name: count for name, count in counts.items() if count}


async def _check_source(source: AsyncEngine) -> None:
    head = migrate.head_revision()
    current = await migrate.current_revision(source)
    if current != head:
        raise CopyRefused(
            f"the source database is at revision {current or 'base (empty)'}, not at head ({head}); "
            "run `nexus-bot db upgrade` on it first (or start the bot once)"
        )


async def _check_target_empty(target: AsyncEngine) -> None:
    filled = await nonempty_tables(target)
    if filled:
        listed = ", ".join(f"{name} ({count} rows)" for name, count in sorted(filled.items()))
        raise CopyRefused(
            f"the target database is not empty: {listed}; copy only into a new, empty database (nothing was changed)"
        )


# --- the copy ---------------------------------------------------------------------------------------------------


def _order(table: Table, dialect: str) -> list[ColumnElement[Any]]:
    """Primary-key order that both engines agree on: strings by code point (SQLite's BINARY, PostgreSQL's "C")."""
    order: list[ColumnElement[Any]] = []
    for column in table.primary_key.columns:
        if dialect == "postgresql" and isinstance(column.type, String):
            order.append(column.collate("C"))
        else:
            order.append(column)
    return order


async def _reset_sequences(connection: AsyncConnection, tables: Sequence[Table]) -> None:
    """Move each id sequence past the copied ids (PostgreSQL only; SQLite takes max(rowid) + 1 by itself)."""
    for table in tables:
        columns = list(table.primary_key.columns)
        if len(columns) != 1 or table.autoincrement_column is None:
            continue
        column = columns[0].name
        sequence = (
            await connection.execute(
                text("SELECT pg_get_serial_sequence(:table, :column)"), {"table": table.name, "column": column}
            )
        ).scalar_one()
        if sequence is None:
            continue
        await connection.execute(
            text(
                f'SELECT setval(:sequence, coalesce((SELECT max("{column}") FROM "{table.name}"), 0) + 1, false)'  # noqa: S608 - names from the models
            ),
            {"sequence": sequence},
        )


async def copy_database(
    source: AsyncEngine,
    target: AsyncEngine,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Copy every table from `source` into the empty `target`; returns the rows copied per table.

    Raises `CopyRefused` (nothing written) when the source is not at head or the target holds rows.
    `progress(table, rows)` is called after each table.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    await _check_source(source)
    # Refuse before migrating, so a database with data in it is not touched at all.
    await _check_target_empty(target)
    await migrate.upgrade(target)

    tables = copied_tables()
    copied: dict[str, int] = {}
    async with source.connect() as reading:
        if source.dialect.name == "postgresql":
            reading = await reading.execution_options(isolation_level="REPEATABLE READ")
        elif source.dialect.name == "sqlite":
            # One read snapshot across all tables, even if the bot is still writing (it should be stopped).
            await reading.exec_driver_sql("BEGIN")
        async with target.begin() as writing:
            for table in tables:
                rows = 0
                result = await reading.stream(select(table).order_by(*_order(table, source.dialect.name)))
                async for batch in result.partitions(batch_size):
                    try:
                        await writing.execute(insert(table), [row._asdict() for row in batch])
                    except DBAPIError as error:
                        # The driver's own words, without the statement and its parameters (users' text).
                        reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
                        raise CopyFailed(
                            f"{table.name}: rows {rows + 1}-{rows + len(batch)} could not be written: {reason}; "
                            "nothing was committed to the target"
                        ) from error
                    rows += len(batch)
                copied[table.name] = rows
                if progress is not None:
                    progress(table.name, rows)
            if target.dialect.name == "postgresql":
                await _reset_sequences(writing, tables)
    return copied


# --- verification -----------------------------------------------------------------------------------------------


def normalise(value: object) -> object:
    """One engine-independent, JSON-ready form of a column value."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    raise TypeError(f"no normal form for a {type(value).__name__} value")


async def table_digest(connection: AsyncConnection, table: Table, *, batch_size: int = BATCH_SIZE) -> tuple[int, str]:
    """(row count, SHA-256 hex) of the table's rows in primary-key order, values normalised."""
    digest = hashlib.sha256()
    digest.update(json.dumps([column.name for column in table.columns]).encode() + b"\n")
    rows = 0
    # Columns kept as text but read as lists are digested as the text they hold.
    columns = [
        type_coerce(column, column.type.impl_instance) if isinstance(column.type, STORED_AS_TEXT) else column
        for column in table.columns
    ]
    result = await connection.stream(select(*columns).order_by(*_order(table, connection.dialect.name)))
    async for batch in result.partitions(batch_size):
        for row in batch:
            line = json.dumps([normalise(value) for value in row], ensure_ascii=False, separators=(",", ":"))
            digest.update(line.encode() + b"\n")
        rows += len(batch)
    return rows, digest.hexdigest()


async def database_digests(engine: AsyncEngine) -> dict[str, tuple[int, str]]:
    async with engine.connect() as connection:
        return {table.name: await table_digest(connection, table) for table in copied_tables()}


async def verify_copy(source: AsyncEngine, target: AsyncEngine) -> list[TableCheck]:
    """Row counts and content hashes of every table on both sides."""
    before = await database_digests(source)
    after = await database_digests(target)
    return [
        TableCheck(name, before[name][0], after[name][0], before[name][1], after[name][1])
        for name in (table.name for table in copied_tables())
    ]


_LIVE_CHALLENGES = "SELECT count(*) FROM challenges WHERE deleted_at IS NULL"
_SEARCH_CHECKS = {
    "sqlite": {
        "live challenges missing from the FTS5 index": (
            "SELECT count(*) FROM challenges AS c WHERE c.deleted_at IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM challenge_search AS s WHERE s.rowid = c.id)"
        ),
        "FTS5 rows without a live challenge": (
            "SELECT count(*) FROM challenge_search AS s WHERE NOT EXISTS "
            "(SELECT 1 FROM challenges AS c WHERE c.id = s.rowid AND c.deleted_at IS NULL)"
        ),
    },
    "postgresql": {
        "challenges without a search vector": "SELECT count(*) FROM challenges WHERE search_vector IS NULL",
    },
}


async def search_index_problems(engine: AsyncEngine) -> tuple[int, list[str]]:
    """(live challenges, problems): every live challenge must be in the search index, and nothing else."""
    async with engine.connect() as connection:
        live = int((await connection.execute(text(_LIVE_CHALLENGES))).scalar_one())
        problems = []
        for problem, sql in _SEARCH_CHECKS.get(engine.dialect.name, {}).items():
            count = int((await connection.execute(text(sql))).scalar_one())
            if count:
                problems.append(f"{count} {problem}")
    return live, problems
