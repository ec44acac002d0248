"""Fixtures for every suite: a database on each engine the bot supports.

`database_url` is parametrised over `sqlite` and `postgresql`: a test (or fixture) that asks for it runs twice,
each time with a fresh empty database: a new SQLite file, or a new database in a PostgreSQL cluster that the
session starts once (tests/postgres.py) and removes at the end. A module that defines its own `database_url`
fixture overrides this one and keeps its single engine.

Where no PostgreSQL server binaries are installed the `postgresql` half is skipped with the reason; with
NEXUS_REQUIRE_POSTGRES=1 (as `.ci/run` sets) that is an error instead. `-m "not postgresql"` leaves it out.

Hypothesis runs a bounded profile in CI (no per-example deadline: a loaded CI machine must not fail a correct
parser) and a long one with HYPOTHESIS_PROFILE=fuzz (`make fuzz`).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import migrate
from bot.db.engine import create_engine
from tests.postgres import PostgresCluster, PostgresUnavailable, find_server_binaries

ENGINES = ("sqlite", "postgresql")

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


@pytest.fixture(params=[ENGINES[0], pytest.param(ENGINES[1], marks=pytest.mark.postgresql)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty (not migrated) database for this test, as an async SQLAlchemy URL, on each engine."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'nexus.db'}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    with cluster.database() as url:
        yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on `database_url`, migrated to head; disposed after the test."""
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        yield engine
    finally:
        await engine.dispose()
