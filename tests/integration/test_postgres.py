"""PostgreSQL for real: migrations both ways and the model check on both engines, and `nexus-bot db copy`.

The engines come from the root conftest: `database_url` runs a test on a fresh SQLite file and on a fresh
database in the session's temporary PostgreSQL cluster (`postgres_cluster`).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_services
from bot.cli import main
from bot.client import Services
from bot.config import load_settings
from bot.db import copy as db_copy
from bot.db import migrate
from bot.db.base import Base
from bot.db.copy import (
    CopyFailed,
    CopyRefused,
    copied_tables,
    copy_database,
    database_digests,
    nonempty_tables,
    normalise,
    search_index_problems,
    verify_copy,
)
from bot.db.engine import POSTGRES_STATEMENT_CACHE_SIZE, create_engine
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.runtime.paths import default_data_dir
from bot.services.challenges import IncomingMessage, Logged, Person, SolutionLogged
from bot.services.pairing import PairAsk
from tests.postgres import PostgresCluster

GUILD = 1001
OTHER_GUILD = 2002
CHANNEL = 3003
NOW = datetime.now(UTC).replace(microsecond=0)
ANN = Person(11, "Ann")
BOB = Person(12, "Bób ⚙")
CAROL = Person(13, "Carol")
MODERATOR = Person(99, "Mod", is_moderator=True)
# `populate` logs ten challenges and deletes one.
LIVE_CHALLENGES = 10
# Searches on the rows `populate` writes: titles, details, error signatures, topics, solutions (one posted as a
# reply), an edited post, unicode; each finds something on either engine, but the deleted challenge.
SEARCHES = (
    (GUILD, "pytest fixtures"),
    (GUILD, "IntegrityError"),
    (GUILD, "docker compose"),
    (GUILD, "migration"),
    (GUILD, "index"),
    (GUILD, "celery"),
    (GUILD, "naïve datetime"),
    (GUILD, "fresh list"),
    (GUILD, "service name"),
    (GUILD, "logs folder"),
    (GUILD, "uvicorn forever"),
    (GUILD, "django"),
    (OTHER_GUILD, "graphql resolver"),
)
DELETED_SEARCH = (GUILD, "deleted later")


@pytest.fixture(scope="module")
def knowledge_base() -> KnowledgeBase:
    return load_knowledge_base(default_data_dir() / "topics")


@dataclass
class Opened:
    engine: AsyncEngine
    services: Services
    url: str


class Databases:
    """Engines and services over URLs, all disposed at the end of the test."""

    def __init__(self, knowledge_base: KnowledgeBase) -> None:
        self._knowledge_base = knowledge_base
        self._engines: list[AsyncEngine] = []

    def open(self, url: str) -> Opened:
        engine = create_engine(url)
        self._engines.append(engine)
        settings = load_settings(_env_file=None, DISCORD_TOKEN="x", DATABASE_URL=url)
        return Opened(engine, build_services(settings, engine, self._knowledge_base), url)

    async def close(self) -> None:
        for engine in self._engines:
            await engine.dispose()


@pytest.fixture
async def databases(knowledge_base: KnowledgeBase) -> AsyncIterator[Databases]:
    opened = Databases(knowledge_base)
    try:
        yield opened
    finally:
        await opened.close()


def _sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


# --- realistic rows in every table -----------------------------------------------------------------------------


async def populate(services: Services) -> None:
    """Rows in every table, through the services the bot uses: unicode, NULLs, booleans, far dates, deletes."""
    challenges, pairing = services.challenges, services.pairing
    await services.command_sync.record("global", "a" * 64)
    await services.command_sync.record(f"guild:{GUILD}", "b" * 64)
    await services.guild_settings.update(GUILD, challenge_channel_id=CHANNEL, moderator_role_id=77)
    await services.guild_settings.update(OTHER_GUILD, pairing_channel_id=4004)
    # A weekly digest set up a month ago, this week's claimed and sent.
    await services.guild_settings.update(
        GUILD, digest_channel_id=CHANNEL, digest_day=4, digest_hour=18, now=NOW - timedelta(days=30)
    )
    (digest,) = await services.digest.due(NOW)
    assert await services.digest.claim(digest, NOW)
    await services.digest.sent(digest, 9100, NOW)

    async def new(
        title: str,
        details: str = "",
        *,
        author: Person = ANN,
        guild: int = GUILD,
        tried: str | None = None,
        topics: str | None = None,
    ) -> int:
        logged = await challenges.log_challenge(
            guild_id=guild, channel_id=CHANNEL, author=author, title=title, details=details, tried=tried, topics=topics
        )
        return logged.challenge.id

    async def answer(challenge_id: int, body: str, *, author: Person = BOB, guild: int = GUILD) -> int:
        logged = await challenges.add_solution(guild_id=guild, challenge_id=challenge_id, author=author, body=body)
        return logged.solution.id

    fixtures = await new(
        "pytest fixtures leak state between tests",
        "A module-scoped fixture keeps a list that every test appends to.",
        tried="Clearing the list in each test.",
        topics="pytest",
    )
    accepted = await answer(fixtures, "Return a fresh list from a function-scoped fixture.")
    await answer(fixtures, "Or copy the list in the fixture.", author=CAROL)
    await challenges.accept(GUILD, fixtures, accepted, ANN)

    traceback = (
        "Traceback (most recent call last):\n"
        '  File "app.py", line 3, in <module>\n'
        "sqlalchemy.exc.IntegrityError: UNIQUE constraint failed: users.email"
    )
    integrity = await new("Saving a user fails twice", traceback, author=BOB)
    await answer(integrity, "Check for an existing email first, or catch IntegrityError.", author=CAROL)
    compose = await new("docker compose cannot reach the database", "Connection refused on port 5432.", author=CAROL)
    await answer(compose, "Use the service name as the host, not localhost.", author=ANN)
    await new("Django migration conflict after a rebase", "Two 0007 migrations.", author=MODERATOR, topics="django")
    await new("Slow query on a big table", "Add an index? EXPLAIN shows a seq scan.", author=CAROL)
    await new("celery worker never picks up tasks", "The broker URL points at redis.", author=BOB)
    await new("Comparing a naïve datetime with an aware one", "TypeError: can't compare offset-naive 🙂")
    await new("GraphQL resolver returns null", "Only for nested fields.", guild=OTHER_GUILD, author=BOB)
    gone = await new("A challenge that is deleted later", "It stays for audit, out of search.", author=CAROL)
    await challenges.delete(GUILD, gone, CAROL)

    # In-channel posts (source message ids), a solution reply, an edit, a cursor.
    await challenges.ingest(
        IncomingMessage(GUILD, CHANNEL, 9001, BOB.id, BOB.name, "Challenge: uvicorn reload loops\nEvery save.")
    )
    await challenges.ingest(
        IncomingMessage(
            GUILD, CHANNEL, 9002, ANN.id, ANN.name, "Solution: exclude the logs folder.", reference_message_id=9001
        )
    )
    await challenges.source_edited(GUILD, 9001, "Challenge: uvicorn --reload loops forever\nEvery save restarts.")
    await challenges.ingest(
        IncomingMessage(GUILD, CHANNEL, 9003, 14, "Dora", "Solution: pin watchfiles.", reference_message_id=9001)
    )
    await challenges.advance_cursor(GUILD, CHANNEL, 9003)
    # A forum post (its starter message shares the post's id), its answer accepted and noted, a server's forum.
    await services.guild_settings.update(OTHER_GUILD, challenge_forum_id=7007)
    post = services.forum.post_text("pytest hangs on GitHub Actions", ["pytest", "help"])
    forum_post = await challenges.ingest(
        IncomingMessage(
            GUILD, 9100, 9100, BOB.id, BOB.name, "A fixture waits.", watched_channel_id=9100, forum_post=post
        )
    )
    forum_answer = await challenges.ingest(
        IncomingMessage(GUILD, 9100, 9101, ANN.id, ANN.name, "Solution: close stdin.", thread_parent_message_id=9100)
    )
    assert isinstance(forum_post, Logged)
    assert isinstance(forum_answer, SolutionLogged)
    await challenges.accept(GUILD, forum_post.challenge.id, forum_answer.solution.id, BOB)
    assert await services.forum.claim_note(GUILD, 7007, 9100, forum_answer.solution.id)
    await challenges.idle()
    # Dora asks to be forgotten: her solution is anonymised and unlinked, its message remembered apart.
    await services.privacy.forget_me(GUILD, 14)

    # Profile choices: one with every flag set (a unicode name), one with web consent not chosen (NULL).
    await services.readme.set_choices(GUILD, 1, "Ada 🚀 Lovelace", web=True, credit=True)
    await services.readme.set_choices(GUILD, 2, "Grace", credit=False)
    # The web hub: the server publishes, and its watched channel says posts are published.
    await services.web.set_web(GUILD, "Nexus Hub", True)
    await services.web.set_channel_publishes(GUILD, CHANNEL, True, NOW)

    # Pairing: profiles, requests in every state, pairs, check-ins, sessions, notices, ratings.
    start = NOW
    await pairing.request(
        PairAsk(
            GUILD, 1, "Ada", "frontend", topics="GraphQL, REST APIs", timezone="Lagos", availability="Mon-Fri 18-21"
        ),
        start,
    )
    matched = await pairing.request(
        PairAsk(
            GUILD, 2, "Grace", "backend", topics="REST APIs", timezone="Europe/London", availability="weekdays 17-19"
        ),
        start + timedelta(minutes=5),
    )
    assert matched.match is not None
    pair_id = matched.match.pair_id
    await pairing.announced(pair_id, 555, start + timedelta(minutes=6))
    await pairing.request(PairAsk(GUILD, 3, "Linus", "backend", timezone="Asia/Kolkata"), start)
    await pairing.request(PairAsk(GUILD, 4, "Ken", "backend"), start)
    await pairing.cancel(GUILD, 4, start + timedelta(minutes=1))
    await pairing.request(PairAsk(GUILD, 5, "Barbara", "backend", challenge_id=integrity), start)
    await pairing.pause(GUILD, 3, None, start)  # until resumed: the year 9999

    asked_at = start + timedelta(days=4)
    for checkin in await pairing.due_checkins(asked_at):
        await pairing.checkin_sent(checkin.pair_id, checkin.user_id, asked_at)
    await pairing.answer_checkin(pair_id, 2, True, asked_at)

    session = await pairing.schedule(
        guild_id=GUILD,
        organiser_id=1,
        partner_id=2,
        partner_is_bot=False,
        partner_in_server=True,
        when="in 3 days",
        topic="GraphQL",
        duration_minutes=90,
        now=start,
    )
    for notice in await pairing.due_notices(session.starts_at - timedelta(hours=20)):
        await pairing.notice_sent(notice, session.starts_at - timedelta(hours=20))
    over = session.starts_at + timedelta(hours=3)
    await pairing.due_notices(over)
    await pairing.rate(session.session_id, 1, 1, over)
    await pairing.rate(session.session_id, 2, -1, over)
    cancelled = await pairing.schedule(
        guild_id=GUILD,
        organiser_id=2,
        partner_id=3,
        partner_is_bot=False,
        partner_in_server=True,
        when="in 5 days",
        topic=None,
        duration_minutes=None,
        now=start,
    )
    await pairing.cancel_session(GUILD, cancelled.session_id, 3, start)


async def searches(services: Services) -> dict[tuple[int, str], list[int]]:
    found = {}
    for guild, query in (*SEARCHES, DELETED_SEARCH):
        results = await services.challenges.search(guild, query, limit=10)
        found[guild, query] = sorted(result.challenge.id for result in results)
    return found


# --- migrations on both engines ----------------------------------------------------------------------------------


def _schema(connection: Connection) -> tuple[set[str], set[str]]:
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    indexes = {index["name"] for table in tables for index in inspector.get_indexes(table) if index["name"]}
    return tables, indexes


async def _search_objects(engine: AsyncEngine) -> set[str]:
    """The search machinery the migrations create outside the models: triggers, functions, FTS tables."""
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = await connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type IN ('trigger', 'table') AND name LIKE '%search%'"
            )
        else:
            rows = await connection.exec_driver_sql(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                "UNION ALL SELECT proname FROM pg_proc WHERE proname LIKE 'challenges_search%' "
                "UNION ALL SELECT column_name FROM information_schema.columns WHERE column_name = 'search_vector'"
            )
        return {row[0] for row in rows}


async def test_migrations_go_up_down_and_up_again(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        head = migrate.head_revision()
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == head
        async with engine.connect() as connection:
            tables, indexes = await connection.run_sync(_schema)
        assert {*Base.metadata.tables, "alembic_version"} <= tables
        model_indexes = {index.name for table in Base.metadata.tables.values() for index in table.indexes}
        assert model_indexes <= indexes
        search = await _search_objects(engine)
        assert search, "the search index and its triggers exist at head"

        await migrate.downgrade(engine, "base")
        assert await migrate.current_revision(engine) is None
        async with engine.connect() as connection:
            tables, _indexes = await connection.run_sync(_schema)
        assert tables & set(Base.metadata.tables) == set()
        assert await _search_objects(engine) == set()

        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == head
        async with engine.connect() as connection:
            tables, indexes = await connection.run_sync(_schema)
        assert {*Base.metadata.tables, "alembic_version"} <= tables
        assert model_indexes <= indexes
        assert await _search_objects(engine) == search
    finally:
        await engine.dispose()


async def test_models_and_migrations_agree(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    # `alembic check`: autogenerate against the migrated database finds nothing to do; raises otherwise.
    await asyncio.to_thread(command.check, migrate.alembic_config(database_url))


async def test_postgres_connections_keep_a_bounded_set_of_prepared_statements(
    postgres_cluster: PostgresCluster,
) -> None:
    """Statements of many shapes (as search builds them) leave at most POSTGRES_STATEMENT_CACHE_SIZE prepared on a
    pooled connection, not asyncpg's default of 100 each (tens of KB a statement, on every pooled connection)."""
    with postgres_cluster.database() as url:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            for shape in range(3 * POSTGRES_STATEMENT_CACHE_SIZE):
                async with engine.connect() as connection:
                    assert (
                        await connection.execute(text(f"SELECT :value + {shape}"), {"value": 1})
                    ).scalar() == shape + 1
            async with engine.connect() as connection:
                # asyncpg closes evicted statements on the server with the connection's next statement: this one.
                kept = await connection.execute(
                    text("SELECT count(*) FROM pg_prepared_statements WHERE starts_with(statement, :shape)"),
                    {"shape": "SELECT $1 + "},
                )
            # SQLAlchemy's LRU cache prunes back to its size once it holds half as many again; the default
            # of 100 would have kept all 96.
            assert POSTGRES_STATEMENT_CACHE_SIZE <= kept.scalar_one() <= POSTGRES_STATEMENT_CACHE_SIZE * 1.5
        finally:
            await engine.dispose()


async def test_services_write_every_table_and_the_search_index_covers_it(
    database_url: str, databases: Databases
) -> None:
    opened = databases.open(database_url)
    await migrate.upgrade(opened.engine)
    await populate(opened.services)
    assert set(await nonempty_tables(opened.engine)) == {table.name for table in copied_tables()}
    live, problems = await search_index_problems(opened.engine)
    assert (live, problems) == (LIVE_CHALLENGES, [])
    found = await searches(opened.services)
    assert [key for key in SEARCHES if not found[key]] == []
    assert found[DELETED_SEARCH] == []


# --- nexus-bot db copy ----------------------------------------------------------------------------------------------


def _cli_env(database_url: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name.upper() not in ("DISCORD_TOKEN", "DATABASE_URL") and not name.upper().startswith("NEXUS_")
    }
    env["DATABASE_URL"] = database_url
    return env


def _nexus_bot(cwd: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  (our own interpreter and package)
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=_cli_env(database_url),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def _migrated_source(databases: Databases, path: Path) -> Opened:
    source = databases.open(_sqlite_url(path))
    await migrate.upgrade(source.engine)
    await populate(source.services)
    return source


async def test_copy_from_sqlite_to_postgresql_with_the_cli(
    postgres_cluster: PostgresCluster, databases: Databases, tmp_path: Path
) -> None:
    source = await _migrated_source(databases, tmp_path / "source.db")
    before = await searches(source.services)
    source_digests = await database_digests(source.engine)
    assert all(rows for rows, _digest in source_digests.values())

    with postgres_cluster.database() as target_url:
        # The URL as a host gives it: the plain scheme is upgraded to the async driver.
        plain = target_url.replace("postgresql+asyncpg://", "postgresql://")
        result = await asyncio.to_thread(_nexus_bot, tmp_path, source.url, "db", "copy", "--to", plain)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        for table, (rows, digest) in source_digests.items():
            assert f"  {table:<22} {rows:>9} rows" in result.stdout
            assert f"  {table:<22} {rows:>9} {rows:>9}  {digest[:16]}" in result.stdout
        assert f"search index on the target: all {LIVE_CHALLENGES} live challenges indexed" in result.stdout
        assert f"verified: row counts and content hashes equal in all {len(source_digests)} tables" in result.stdout

        target = databases.open(target_url)
        assert await migrate.current_revision(target.engine) == migrate.head_revision()
        assert await database_digests(target.engine) == source_digests
        assert all(check.equal for check in await verify_copy(source.engine, target.engine))
        assert await search_index_problems(target.engine) == (LIVE_CHALLENGES, [])
        # Search on the copy finds what it found before (ranking may differ between BM25 and ts_rank_cd).
        assert await searches(target.services) == before

        # The sequences moved past the copied ids: new rows get new ids instead of colliding.
        async with source.engine.connect() as connection:
            last_challenge = (await connection.execute(text("SELECT max(id) FROM challenges"))).scalar_one()
            last_request = (await connection.execute(text("SELECT max(id) FROM pair_requests"))).scalar_one()
        logged = await target.services.challenges.log_challenge(
            guild_id=GUILD, channel_id=CHANNEL, author=CAROL, title="A new challenge after the move"
        )
        assert logged.challenge.id == last_challenge + 1
        added = await target.services.challenges.add_solution(
            guild_id=GUILD, challenge_id=logged.challenge.id, author=ANN, body="It works on PostgreSQL."
        )
        assert added.created
        outcome = await target.services.pairing.request(PairAsk(GUILD, 6, "Margaret", "frontend"), NOW)
        assert outcome.request_id > last_request
        assert logged.challenge.id in [
            hit.challenge.id for hit in await target.services.challenges.search(GUILD, "move postgresql")
        ]

        # A second copy into the now non-empty database is refused and changes nothing.
        digests = await database_digests(target.engine)
        again = await asyncio.to_thread(_nexus_bot, tmp_path, source.url, "db", "copy", "--to", target_url)
        assert again.returncode == 1
        assert "the target database is not empty" in again.stderr
        assert "challenges (12 rows)" in again.stderr
        assert "Traceback" not in again.stderr
        assert await database_digests(target.engine) == digests
        await target.engine.dispose()


async def test_copy_back_from_postgresql_to_sqlite_gives_the_same_hashes(
    postgres_cluster: PostgresCluster, databases: Databases, tmp_path: Path
) -> None:
    source = await _migrated_source(databases, tmp_path / "source.db")
    before = await searches(source.services)
    with postgres_cluster.database() as middle_url:
        middle = databases.open(middle_url)
        copied: list[tuple[str, int]] = []
        counts = await copy_database(
            source.engine, middle.engine, batch_size=2, progress=lambda table, rows: copied.append((table, rows))
        )
        assert copied == list(counts.items())
        assert [name for name, _rows in copied] == [table.name for table in copied_tables()]
        back = databases.open(_sqlite_url(tmp_path / "back" / "nexus.db"))
        await copy_database(middle.engine, back.engine, batch_size=3)
        original = await database_digests(source.engine)
        assert await database_digests(middle.engine) == original
        assert await database_digests(back.engine) == original
        assert await search_index_problems(back.engine) == (LIVE_CHALLENGES, [])
        assert await searches(back.services) == before
        await middle.engine.dispose()


async def test_copying_into_a_database_with_rows_is_refused(
    database_url: str, databases: Databases, tmp_path: Path
) -> None:
    source = await _migrated_source(databases, tmp_path / "source.db")
    target = databases.open(database_url)
    await migrate.upgrade(target.engine)
    await target.services.command_sync.record("global", "c" * 64)
    digests = await database_digests(target.engine)
    with pytest.raises(CopyRefused, match=r"not empty: command_sync_state \(1 rows\)"):
        await copy_database(source.engine, target.engine)
    assert await database_digests(target.engine) == digests


async def test_copying_into_a_database_at_an_old_revision_with_rows_changes_nothing(
    database_url: str, databases: Databases, tmp_path: Path
) -> None:
    source = await _migrated_source(databases, tmp_path / "source.db")
    target = databases.open(database_url)
    await migrate.upgrade(target.engine, "0001_initial")
    await target.services.command_sync.record("global", "d" * 64)
    with pytest.raises(CopyRefused, match="not empty"):
        await copy_database(source.engine, target.engine)
    assert await migrate.current_revision(target.engine) == "0001_initial"


async def test_a_row_postgresql_cannot_hold_fails_the_copy_and_commits_nothing(
    postgres_cluster: PostgresCluster, databases: Databases, tmp_path: Path
) -> None:
    source = await _migrated_source(databases, tmp_path / "source.db")
    # SQLite does not enforce VARCHAR lengths; PostgreSQL does.
    async with source.engine.begin() as connection:
        await connection.execute(text("UPDATE learner_profiles SET display_name = :name"), {"name": "x" * 150})
    with postgres_cluster.database() as target_url:
        target = databases.open(target_url)
        with pytest.raises(CopyFailed, match=r"^learner_profiles: rows 1-5 could not be written: .*too long"):
            await copy_database(source.engine, target.engine)
        assert await migrate.current_revision(target.engine) == migrate.head_revision()
        assert await nonempty_tables(target.engine) == {}
        await target.engine.dispose()


def test_the_cli_reports_an_unreachable_target_without_the_password(tmp_path: Path) -> None:
    database = tmp_path / "nexus.db"
    upgrade = _nexus_bot(tmp_path, _sqlite_url(database), "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    result = _nexus_bot(
        tmp_path, _sqlite_url(database), "db", "copy", "--to", "postgresql://nexus:hunter2@127.0.0.1:1/nexus"
    )
    assert result.returncode == 1
    assert "error: the copy failed:" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


async def test_a_source_behind_head_is_refused(databases: Databases, tmp_path: Path) -> None:
    source = databases.open(_sqlite_url(tmp_path / "old.db"))
    await migrate.upgrade(source.engine, "0001_initial")
    target = databases.open(_sqlite_url(tmp_path / "new.db"))
    with pytest.raises(CopyRefused, match=r"not at head .*nexus-bot db upgrade"):
        await copy_database(source.engine, target.engine)
    assert await migrate.current_revision(target.engine) is None


async def test_a_copy_that_differs_exits_non_zero(
    databases: Databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = await _migrated_source(databases, tmp_path / "source.db")
    target_url = _sqlite_url(tmp_path / "target.db")
    real_copy: Callable[..., object] = copy_database

    async def lossy_copy(source_engine: AsyncEngine, target_engine: AsyncEngine, **options: object) -> object:
        counts = await real_copy(source_engine, target_engine, **options)  # type: ignore[misc]
        async with target_engine.begin() as connection:
            await connection.execute(text("UPDATE solutions SET body = 'changed' WHERE id = 1"))
            await connection.execute(text("DELETE FROM session_ratings WHERE rater_id = 2"))
        return counts

    monkeypatch.setattr(db_copy, "copy_database", lossy_copy)
    monkeypatch.setenv("DATABASE_URL", source.url)
    code = await asyncio.to_thread(main, ["db", "copy", "--to", target_url])
    output = capsys.readouterr()
    assert code == 1
    assert "error: the copy differs from the source in: solutions, session_ratings" in output.err
    assert "DIFFERENT" in output.out


def test_the_cli_refuses_the_configured_database_and_a_bad_url(tmp_path: Path) -> None:
    database = tmp_path / "nexus.db"
    same = _nexus_bot(tmp_path, _sqlite_url(database), "db", "copy", "--to", f"sqlite:///{database}")
    assert same.returncode == 2
    assert "the configured database itself" in same.stderr
    bad = _nexus_bot(tmp_path, _sqlite_url(database), "db", "copy", "--to", "mysql://root:hunter2@db/nexus")
    assert bad.returncode == 2
    assert "--to must be a database URL" in bad.stderr
    assert "hunter2" not in bad.stderr + bad.stdout
    for result in (same, bad):
        assert "Traceback" not in result.stderr


def test_values_are_normalised_alike_for_both_engines() -> None:
    aware = datetime(2026, 11, 22, 10, 30, 0, 5, tzinfo=UTC)
    assert normalise(aware) == "2026-11-22T10:30:00.000005+00:00"
    assert normalise(aware.replace(tzinfo=None)) == normalise(aware)
    assert normalise(aware.astimezone(datetime.now().astimezone().tzinfo)) == normalise(aware)
    assert normalise(datetime(9999, 1, 1, tzinfo=UTC)) == "9999-01-01T00:00:00.000000+00:00"
    assert (normalise(True), normalise(False), normalise(None)) == (1, 0, None)
    assert normalise(0.1) == "0.1"
    assert normalise(2**62) == 2**62
    assert normalise("naïve ⚙") == "naïve ⚙"
    with pytest.raises(TypeError):
        normalise(object())
