"""The async engine and session factory, with SQLite tuned for a bot that writes while it reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

# How long a statement waits for another writer's lock (SQLite) or for a connection (PostgreSQL) before it fails
# with a "try again" for the user: short enough that a command still answers within Discord's 3 s.
SQLITE_BUSY_TIMEOUT_MS = 2000
POSTGRES_CONNECT_TIMEOUT_S = 2.0
# Prepared statements asyncpg keeps per pooled connection (its default is 100): the bot's hot statements are a few
# dozen, and search's many shapes of query, seldom reused, would fill a larger cache (benchmarks/README.md).
POSTGRES_STATEMENT_CACHE_SIZE = 32


# Every connection to a SQLite file, in order. WAL lets readers run beside the one writer; foreign keys are off
# in SQLite unless asked for. synchronous=FULL syncs the WAL at every commit: what the bot has acknowledged
# (a logged post's ✅, a saved session) survives a power cut, where NORMAL may roll the last commits back.
# In-channel posts are written in batches, so that costs one sync per batch, not per post. Each pooled
# connection keeps at most 512 KiB of pages (SQLite's default is 2 MiB), so memory stays flat as the log grows;
# the operating system caches the file anyway (benchmarks/README.md).
SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    "foreign_keys=ON",
    f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "synchronous=FULL",
    "cache_size=-512",
)


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")
    finally:
        cursor.close()


def _rollback_only_an_open_transaction(dialect: Any) -> None:
    """SQLAlchemy rolls back when a connection is closed and again when the pool takes it back; through aiosqlite
    each is a hop to the driver's thread, two of a search's three, though after a read SQLite has nothing to end."""
    rollback = dialect.do_rollback

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            open_transaction = bool(dbapi_connection.driver_connection.in_transaction)
        except ValueError:  # aiosqlite's "no active connection": the rollback reports it as it always did
            open_transaction = True
        if open_transaction:
            rollback(dbapi_connection)

    dialect.do_rollback = do_rollback


def create_engine(database_url: str, **options: Any) -> AsyncEngine:
    """An engine for `database_url`; for a SQLite file, its directory is created on first run."""
    url = make_url(database_url)
    # Bound parameters are what members wrote (titles, solutions, names): keep them out of error messages and of
    # the engine's statement log, which is on whenever the root logger is at DEBUG.
    options.setdefault("hide_parameters", True)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **options)
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        if url.get_driver_name() == "aiosqlite":
            _rollback_only_an_open_transaction(engine.sync_engine.dialect)
        return engine
    if url.get_driver_name() == "asyncpg":
        connect_args = options.setdefault("connect_args", {})
        connect_args.setdefault("timeout", POSTGRES_CONNECT_TIMEOUT_S)
        connect_args.setdefault("prepared_statement_cache_size", POSTGRES_STATEMENT_CACHE_SIZE)
        options.setdefault("pool_timeout", POSTGRES_CONNECT_TIMEOUT_S)  # waiting for a free pooled connection
    # A restarted server leaves dead connections in the pool: pre-ping replaces them instead of failing a command.
    return create_async_engine(url, pool_pre_ping=True, **options)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
