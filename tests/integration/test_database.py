"""The database on a real SQLite file: migrations both ways, engine tuning, constraints, command sync."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from alembic import command
from alembic.util import CommandError
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import migrate
from bot.db.base import Base
from bot.db.engine import SQLITE_BUSY_TIMEOUT_MS, create_engine, create_session_factory
from bot.db.models import CommandSyncState
from bot.services.command_sync import CommandSyncService, payload_hash, sync_scope

DIGEST_A = "a" * 64
DIGEST_B = "b" * 64


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    # A directory that does not exist yet: the engine creates it on first run.
    return f"sqlite+aiosqlite:///{tmp_path / 'state' / 'nexus.db'}"


# `engine` is the root conftest's, on this empty file: these tests migrate for real.


@pytest.fixture
async def migrated(engine: AsyncEngine) -> AsyncEngine:
    await migrate.upgrade(engine)
    return engine


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        rows = await connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        return {row[0] for row in rows}


# --- migrations ------------------------------------------------------------------------------------------


async def test_upgrade_to_head(engine: AsyncEngine, tmp_path: Path) -> None:
    assert await migrate.current_revision(engine) is None
    await migrate.upgrade(engine)
    head = migrate.head_revision()
    assert head is not None
    assert await migrate.current_revision(engine) == head
    tables = await _tables(engine)
    # Every model's table, Alembic's own, and the FTS5 search index the triggers keep in step.
    assert {*Base.metadata.tables, "alembic_version", "challenge_search"} <= tables
    assert {table for table in tables if not table.startswith("challenge_search")} == {
        *Base.metadata.tables,
        "alembic_version",
    }
    assert (tmp_path / "state" / "nexus.db").is_file()


async def test_downgrade_to_base_and_up_again(migrated: AsyncEngine) -> None:
    await migrate.downgrade(migrated, "base")
    assert await migrate.current_revision(migrated) is None
    assert await _tables(migrated) == {"alembic_version"}
    await migrate.upgrade(migrated, "head")
    assert await migrate.current_revision(migrated) == migrate.head_revision()
    assert "command_sync_state" in await _tables(migrated)


async def test_upgrade_twice_is_harmless(migrated: AsyncEngine) -> None:
    await migrate.upgrade(migrated)
    assert await migrate.current_revision(migrated) == migrate.head_revision()


async def test_models_and_migrations_agree(migrated: AsyncEngine, database_url: str) -> None:
    # env.py runs its own event loop (asyncio.run) when no connection is handed in: use a thread.
    await asyncio.to_thread(command.check, migrate.alembic_config(database_url))


async def test_check_fails_on_a_database_that_is_not_migrated(engine: AsyncEngine, database_url: str) -> None:
    async with engine.connect():
        pass  # create the file, but no tables
    with pytest.raises(CommandError, match="not up to date"):
        await asyncio.to_thread(command.check, migrate.alembic_config(database_url))


def test_alembic_config_keeps_percent_signs() -> None:
    url = "postgresql+asyncpg://nexus:p%40ss@db/nexus"
    assert migrate.alembic_config(url).get_main_option("sqlalchemy.url") == url


# --- engine tuning ---------------------------------------------------------------------------------------


async def _pragmas(engine: AsyncEngine) -> tuple[Any, ...]:
    async with engine.connect() as connection:
        values = []
        for pragma in ("journal_mode", "foreign_keys", "busy_timeout"):
            values.append((await connection.exec_driver_sql(f"PRAGMA {pragma}")).scalar())
        return tuple(values)


async def test_sqlite_is_tuned_on_every_pooled_connection(engine: AsyncEngine) -> None:
    expected = ("wal", 1, SQLITE_BUSY_TIMEOUT_MS)
    assert SQLITE_BUSY_TIMEOUT_MS == 2000  # a blocked command still answers within Discord's 3 s
    assert await _pragmas(engine) == expected
    # The same pooled connection, checked out again.
    assert await _pragmas(engine) == expected
    # Two connections at once: the second is a fresh DBAPI connection, tuned too.
    async with engine.connect() as first, engine.connect() as second:
        for connection in (first, second):
            assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            assert (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_TIMEOUT_MS


async def test_a_read_returns_its_connection_without_a_rollback_and_a_write_left_open_is_rolled_back(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each rollback is a hop to aiosqlite's thread; after a read SQLite has no transaction to end.
    rollbacks: list[bool] = []
    rollback = aiosqlite.Connection.rollback

    async def counted(self: aiosqlite.Connection) -> None:
        rollbacks.append(self.in_transaction)
        await rollback(self)

    monkeypatch.setattr(aiosqlite.Connection, "rollback", counted)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        await session.execute(text("CREATE TABLE scratch (x INTEGER)"))
        await session.commit()
    async with sessions() as session:
        assert (await session.execute(text("SELECT count(*) FROM scratch"))).scalar_one() == 0
    assert rollbacks == []
    async with sessions() as session:
        await session.execute(text("INSERT INTO scratch VALUES (1)"))  # never committed
    assert rollbacks == [True]
    async with sessions() as session:
        assert (await session.execute(text("SELECT count(*) FROM scratch"))).scalar_one() == 0


# --- constraints and types ---------------------------------------------------------------------------------


async def test_payload_hash_must_be_64_characters(migrated: AsyncEngine) -> None:
    sessions = create_session_factory(migrated)
    with pytest.raises(IntegrityError, match=r"CHECK constraint failed: ck_command_sync_state_payload_hash_is_sha256"):
        async with sessions.begin() as session:
            session.add(CommandSyncState(scope="global", payload_hash="abc123", synced_at=datetime.now(UTC)))
    async with sessions() as session:
        assert await session.scalar(select(CommandSyncState)) is None


async def test_payload_hash_check_holds_for_raw_sql(migrated: AsyncEngine) -> None:
    with pytest.raises(IntegrityError, match="CHECK constraint failed"):
        async with migrated.begin() as connection:
            await connection.execute(
                text("INSERT INTO command_sync_state (scope, payload_hash, synced_at) VALUES ('x', :h, '2026-01-01')"),
                {"h": "f" * 63},
            )


async def test_naive_datetimes_are_refused_and_aware_ones_come_back_utc(migrated: AsyncEngine) -> None:
    sessions = create_session_factory(migrated)
    naive = datetime(2026, 1, 1)  # noqa: DTZ001  (the point of the test)
    with pytest.raises(StatementError, match="naive datetimes"):
        async with sessions.begin() as session:
            session.add(CommandSyncState(scope="naive", payload_hash=DIGEST_A, synced_at=naive))
    async with sessions.begin() as session:
        session.add(CommandSyncState(scope="aware", payload_hash=DIGEST_A, synced_at=datetime(2026, 1, 1, tzinfo=UTC)))
    async with sessions() as session:
        state = await session.get(CommandSyncState, "aware")
        assert state is not None
        assert state.synced_at == datetime(2026, 1, 1, tzinfo=UTC)
        assert state.synced_at.tzinfo is UTC


# --- command sync ------------------------------------------------------------------------------------------


async def test_command_sync_service_records_per_scope(migrated: AsyncEngine) -> None:
    sessions = create_session_factory(migrated)
    service = CommandSyncService(sessions)
    scope = sync_scope(1234)
    assert not await service.is_current(scope, DIGEST_A)

    await service.record(scope, DIGEST_A)
    assert await service.is_current(scope, DIGEST_A)
    assert not await service.is_current(scope, DIGEST_B)
    assert not await service.is_current(sync_scope(None), DIGEST_A)

    await service.record(scope, DIGEST_B)
    assert await service.is_current(scope, DIGEST_B)
    assert not await service.is_current(scope, DIGEST_A)
    async with sessions() as session:
        rows = (await session.scalars(select(CommandSyncState))).all()
    assert [(row.scope, row.payload_hash) for row in rows] == [(scope, DIGEST_B)]
    assert rows[0].synced_at.tzinfo is UTC


async def test_command_sync_state_survives_a_new_engine(migrated: AsyncEngine, database_url: str) -> None:
    await CommandSyncService(create_session_factory(migrated)).record("global", DIGEST_A)
    await migrated.dispose()
    other = create_engine(database_url)
    try:
        assert await CommandSyncService(create_session_factory(other)).is_current("global", DIGEST_A)
    finally:
        await other.dispose()


def test_sync_scope() -> None:
    assert sync_scope(None) == "global"
    assert sync_scope(987654321) == "guild:987654321"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
commands = st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=4), max_size=5)


def _reorder_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reorder_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reorder_keys(item) for item in value]
    return value


@settings(deadline=None)  # correctness only: no timing
@given(payload=commands, data=st.data())
def test_payload_hash_ignores_command_and_key_order(payload: list[dict[str, Any]], data: st.DataObject) -> None:
    digest = payload_hash(payload)
    assert len(digest) == 64
    assert int(digest, 16) >= 0
    shuffled = data.draw(st.permutations(payload))
    assert payload_hash(shuffled) == digest
    assert payload_hash([_reorder_keys(item) for item in payload]) == digest
    assert payload_hash(json.loads(json.dumps(payload))) == digest


def test_payload_hash_changes_with_content() -> None:
    base = [{"name": "topic", "description": "Show a topic", "options": [{"name": "name", "type": 3}]}]
    changed = [{"name": "topic", "description": "Show a topic card", "options": [{"name": "name", "type": 3}]}]
    extra = [*base, {"name": "topics", "description": "Browse"}]
    assert len({payload_hash(base), payload_hash(changed), payload_hash(extra), payload_hash([])}) == 4


# --- nexus-bot db ------------------------------------------------------------------------------------------


def _nexus_bot() -> str:
    script = shutil.which("nexus-bot", path=str(Path(sys.executable).parent))
    assert script, "the nexus-bot entry point is installed beside the interpreter"
    return script


def _db_command(tmp_path: Path, database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name.upper() != "DISCORD_TOKEN" and not name.upper().startswith("NEXUS_")
    }
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    return subprocess.run(  # noqa: S603  (our own interpreter and entry point)
        [_nexus_bot(), "db", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_db_commands_without_a_token(tmp_path: Path) -> None:
    database = tmp_path / "cli" / "nexus.db"
    head = migrate.head_revision()
    assert head is not None

    upgrade = _db_command(tmp_path, database, "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    assert upgrade.stdout.strip() == f"database revision: {head} (at head)"
    assert database.is_file()

    current = _db_command(tmp_path, database, "current")
    assert current.returncode == 0, current.stderr
    assert current.stdout.strip() == f"database revision: {head} (at head)"

    downgrade = _db_command(tmp_path, database, "downgrade", "base")
    assert downgrade.returncode == 0, downgrade.stderr
    assert downgrade.stdout.strip() == f"database revision: base (empty) (head is {head})"
    for result in (upgrade, current, downgrade):
        assert "Traceback" not in result.stderr


def test_cli_db_with_a_bad_url_exits_2(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if name.upper() != "DISCORD_TOKEN"}
    env["DATABASE_URL"] = "mysql://nexus@localhost/nexus"
    result = subprocess.run(  # noqa: S603  (our own interpreter and entry point)
        [_nexus_bot(), "db", "current"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
