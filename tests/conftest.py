"""Fixtures for every suite: a database on each engine the bot supports.

`database_url` is parametrised over `sqlite` and `postgresql`: a test (or fixture) that asks for it runs twice,
each time with a fresh database: a new SQLite file, or a new database in a PostgreSQL cluster that the session
starts once (tests/postgres.py) and removes at the end. A module that defines its own `database_url` fixture
overrides this one and keeps its single engine.

The database is empty, unless the test also takes a fixture in MIGRATED_FOR (`engine`, the end-to-end bot's
`database`): then it is a copy of a template migrated once a session per engine (a copied SQLite file, a
PostgreSQL `CREATE DATABASE … TEMPLATE`), since running every revision for each test was most of the suite's
database time. The tests of the migrations themselves take an empty one and migrate for real.

Where no PostgreSQL server binaries are installed the `postgresql` half is skipped with the reason; with
NEXUS_REQUIRE_POSTGRES=1 (as `.ci/run` sets) that is an error instead. `-m "not postgresql"` leaves it out.

Hypothesis runs a bounded profile in CI (no per-example deadline: a loaded CI machine must not fail a correct
parser) and a long one with HYPOTHESIS_PROFILE=fuzz (`make fuzz`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import migrate
from bot.db.engine import create_engine
from tests.postgres import PostgresCluster, PostgresUnavailable, find_server_binaries, run_in_own_loop

ENGINES = ("sqlite", "postgresql")
# Fixtures whose database is migrated to head anyway: a test that takes one gets a copy of the migrated template.
MIGRATED_FOR = frozenset({"engine", "database"})
TEMPLATE_DATABASE = "nexus_template"

settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", deadline=None, max_examples=5000, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
REQUIRE_POSTGRES = "NEXUS_REQUIRE_POSTGRES"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql: runs against the temporary PostgreSQL cluster")


def postgres_required() -> bool:
    return os.environ.get(REQUIRE_POSTGRES, "").strip().lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests that use the cluster directly are PostgreSQL tests too, for `-m postgresql` / `-m "not postgresql"`.
    for item in items:
        if "postgres_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgresql)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster for the whole session, started on first use, stopped and deleted at the end."""
    try:
        bin_dir = find_server_binaries()
    except PostgresUnavailable as error:
        unavailable = str(error)
    else:
        unavailable = ""
    if unavailable:
        if postgres_required():
            pytest.fail(f"{REQUIRE_POSTGRES}=1 but PostgreSQL is unavailable: {unavailable}", pytrace=False)
        pytest.skip(f"PostgreSQL half skipped: {unavailable}")
    cluster = PostgresCluster(bin_dir)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def _migrate(url: str) -> None:
    """Migrate `url` to head in a thread with its own event loop (a session fixture may run inside a test's)."""

    async def run() -> None:
        engine = create_engine(url)
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    run_in_own_loop(run, "migrate-template")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once a session; tests get copies of it."""
    path = tmp_path_factory.mktemp("template") / "nexus.db"
    _migrate(f"sqlite+aiosqlite:///{path}")
    # Copies take the file alone: the last connection's close must have folded the write-ahead log into it.
    assert not path.with_name(f"{path.name}-wal").exists()
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_cluster: PostgresCluster) -> str:
    """A database in the cluster migrated to head once a session; tests get `CREATE DATABASE … TEMPLATE` copies.
    Its engine is disposed before any copy, as PostgreSQL copies only a template nobody is connected to."""
    postgres_cluster.execute(f'CREATE DATABASE "{TEMPLATE_DATABASE}"')
    _migrate(postgres_cluster.url(TEMPLATE_DATABASE))
    return TEMPLATE_DATABASE


@pytest.fixture(params=[ENGINES[0], pytest.param(ENGINES[1], marks=pytest.mark.postgresql)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database for this test, as an async SQLAlchemy URL, on each engine: migrated to head if the test
    takes a fixture in MIGRATED_FOR, else empty."""
    migrated = not MIGRATED_FOR.isdisjoint(request.fixturenames)
    if request.param == "sqlite":
        path = tmp_path / "nexus.db"
        if migrated:
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    template = request.getfixturevalue("postgres_template") if migrated else None
    with cluster.database(template) as url:
        yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on `database_url` (with the fixture above: a copy of the migrated template); disposed after the
    test, passed or not."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()
