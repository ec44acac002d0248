from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.client import NexusBot
from tests.e2e.harness import TOKEN, discord_globals_restored, running_bot, settings_for
from tests.e2e.server import FakeDiscord
from tests.e2e.users import FakeUser

pytestmark = pytest.mark.e2e

# Routes called that Discord's OpenAPI spec does not describe, over the whole run (see pytest_terminal_summary).
UNDESCRIBED_ROUTES = pytest.StashKey[set[str]]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    routes = config.stash.get(UNDESCRIBED_ROUTES, None)
    if routes is None:
        return
    if routes:
        terminalreporter.section("routes Discord's OpenAPI spec does not describe (their bodies went unchecked)")
        for route in sorted(routes):
            terminalreporter.write_line(route)
    else:
        terminalreporter.write_line("every route called is described by Discord's OpenAPI spec")


@pytest.fixture(autouse=True)
def _restore_discord_globals() -> Iterator[None]:
    with discord_globals_restored():
        yield


@pytest.fixture
async def discord_server(request: pytest.FixtureRequest) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
        request.config.stash.setdefault(UNDESCRIBED_ROUTES, set()).update(server.undescribed_routes)
        # Every test also proves that the bot sent nothing Discord would reject (by the rules in validation.py and
        # by Discord's published OpenAPI spec) or does not serve.
        assert not server.violations, f"payloads Discord would reject: {server.violations}"
        assert not server.unknown_routes, f"routes the server does not model: {server.unknown_routes}"
        # And that nothing it posted could ping @everyone, a role, or anyone its feature does not name.
        assert not server.ping_violations(), f"messages that could ping: {server.ping_violations()}"
        # The token is the one secret: it appears in nothing the bot posted or answered.
        assert not [message["id"] for message in server.messages.values() if TOKEN in json.dumps(message)]


@pytest.fixture
def database(database_url: str) -> str:
    """The bot's database: every end-to-end test that takes this runs on SQLite and on PostgreSQL (see
    tests/conftest.py); tests read its rows with `tests/e2e/rows.py`."""
    return database_url


@pytest.fixture
async def nexus(discord_server: FakeDiscord, database: str) -> AsyncIterator[NexusBot]:
    async with running_bot(settings_for(discord_server, database)) as bot:
        yield bot


@pytest.fixture
def learner(discord_server: FakeDiscord) -> FakeUser:
    return FakeUser(discord_server, discord_server.add_member("ada"))


@pytest.fixture
def other_learner(discord_server: FakeDiscord) -> FakeUser:
    return FakeUser(discord_server, discord_server.add_member("grace"))


@pytest.fixture
def mentor(discord_server: FakeDiscord) -> FakeUser:
    return FakeUser(discord_server, discord_server.add_member("mentor", moderator=True))
