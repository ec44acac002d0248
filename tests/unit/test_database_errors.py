"""A database that is busy or away for a moment (SQLite locked, PostgreSQL refusing or restarting, a full pool):
the user reads a clear "try again", privately; the log gets a warning, not an error with a reference id."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.interactions.error_replies import DATABASE_BUSY, ErrorReply, describe_error, report_interaction_error

GUILD_ID = 1100000000000000000
CHANNEL_ID = 1000000000000000000
USER_ID = 900000000000000000
APPLICATION_ID = 1200000000000000000
SECRET_TEXT = "my private details, never for the log"


# ----- real errors, from the real drivers -------------------------------------------------------------------------


@pytest.fixture
async def sqlite_locked(tmp_path: Path) -> AsyncIterator[sa_exc.OperationalError]:
    """What SQLite raises when another writer holds the lock past the busy timeout (here, no timeout)."""
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE notes (body TEXT)")
    holder.execute("BEGIN IMMEDIATE")
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 0})
    try:
        with pytest.raises(sa_exc.OperationalError, match="database is locked") as raised:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO notes (body) VALUES (:body)"), {"body": SECRET_TEXT})
        yield raised.value
    finally:
        await engine.dispose()
        holder.close()


@pytest.fixture
async def postgres_refused() -> OSError:
    """What asyncpg raises, unwrapped, when PostgreSQL is down or restarting: nothing listens on the port."""
    engine = create_async_engine("postgresql+asyncpg://nexus:secret@127.0.0.1:1/nexus")
    try:
        with pytest.raises(OSError, match="Connect call failed") as raised:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        return raised.value
    finally:
        await engine.dispose()


async def _invoked(_interaction: discord.Interaction) -> None:
    """A stand-in callback: the command object is real, it is never invoked."""


COMMAND: app_commands.Command[None, ..., None] = app_commands.Command(
    name="new", description="Log a challenge", callback=_invoked
)


def test_sqlite_locked_asks_to_try_again(sqlite_locked: sa_exc.OperationalError) -> None:
    assert describe_error(sqlite_locked) == ErrorReply(DATABASE_BUSY, transient=True)
    assert describe_error(app_commands.CommandInvokeError(COMMAND, sqlite_locked)) == ErrorReply(
        DATABASE_BUSY, transient=True
    )


def test_postgresql_refusing_connections_asks_to_try_again(postgres_refused: OSError) -> None:
    assert isinstance(postgres_refused, ConnectionRefusedError)
    assert describe_error(postgres_refused) == ErrorReply(DATABASE_BUSY, transient=True)
    assert describe_error(app_commands.CommandInvokeError(COMMAND, postgres_refused)).transient


def _dbapi(kind: type[sa_exc.DBAPIError], message: str) -> sa_exc.DBAPIError:
    return kind("SELECT 1", {}, Exception(message))


@pytest.mark.parametrize(
    "error",
    [
        _dbapi(sa_exc.OperationalError, "database is locked"),
        _dbapi(sa_exc.OperationalError, "unable to open database file"),
        _dbapi(sa_exc.InterfaceError, "connection is closed"),
        _dbapi(sa_exc.DBAPIError, "the database system is starting up"),
        _dbapi(sa_exc.DBAPIError, "terminating connection due to administrator command"),
        _dbapi(sa_exc.InternalError, "the transaction is out of sync"),
        sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00"),
        sa_exc.DisconnectionError("connection invalidated"),
    ],
    ids=lambda error: f"{type(error).__name__}: {str(error)[:40]}",
)
@pytest.mark.parametrize("wrapped", [False, True], ids=["raised", "in CommandInvokeError"])
def test_a_busy_or_unreachable_database_asks_to_try_again(error: Exception, wrapped: bool) -> None:
    raised = app_commands.CommandInvokeError(COMMAND, error) if wrapped else error
    reply = describe_error(raised)
    assert reply == ErrorReply(DATABASE_BUSY, unexpected=False, transient=True)
    assert reply.message == "The database is busy right now; nothing was saved. Try again in a few seconds."


@pytest.mark.parametrize(
    "error",
    [
        _dbapi(sa_exc.IntegrityError, "UNIQUE constraint failed: challenges.source_message_id"),
        _dbapi(sa_exc.ProgrammingError, "syntax error at or near SELEC"),
        _dbapi(sa_exc.DataError, "value too long for type character varying(100)"),
        ConnectionRefusedError(111, "Connect call failed"),  # not raised by the database: Discord or anything else
        TimeoutError("the reply took too long"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_faults_of_the_code_or_elsewhere_stay_unexpected(error: Exception) -> None:
    for raised in (error, app_commands.CommandInvokeError(COMMAND, error)):
        reply = describe_error(raised)
        assert reply.unexpected
        assert not reply.transient


# ----- the whole answer, through a discord.py Interaction built from a gateway payload ---------------------------


def _tree_and_client() -> tuple[app_commands.CommandTree[discord.Client], discord.Client]:
    client = discord.Client(intents=discord.Intents.none())
    state: Any = client._connection
    state.user = discord.ClientUser(
        state=state, data={"id": str(APPLICATION_ID), "username": "Nexus", "discriminator": "0", "avatar": None}
    )
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)
    group = app_commands.Group(name="challenge", description="The log of challenges and solutions")
    group.add_command(COMMAND)
    tree.add_command(group)
    return tree, client


def _interaction(client: discord.Client) -> discord.Interaction:
    payload: Any = {
        "id": "1300000000000000001",
        "application_id": str(APPLICATION_ID),
        "type": 2,
        "token": "interaction-token",
        "version": 1,
        "guild_id": str(GUILD_ID),
        "channel_id": str(CHANNEL_ID),
        "channel": {
            "id": str(CHANNEL_ID),
            "type": 0,
            "name": "challenges",
            "position": 0,
            "guild_id": str(GUILD_ID),
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
        },
        "data": {
            "id": "1400000000000000000",
            "name": "challenge",
            "type": 1,
            "options": [{"name": "new", "type": 1, "options": []}],
        },
        "member": {
            "user": {"id": str(USER_ID), "username": "ada", "discriminator": "0", "global_name": "Ada", "avatar": None},
            "roles": [],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": "0",
        },
        "app_permissions": "0",
        "locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(GUILD_ID)},
        "context": 0,
        "attachment_size_limit": 8 * 1024 * 1024,
    }
    return discord.Interaction(data=payload, state=client._connection)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """What the bot answered, instead of a call to Discord."""
    answers: list[tuple[str, bool]] = []

    async def send_message(self: discord.InteractionResponse[Any], content: str, *, ephemeral: bool = False) -> None:
        answers.append((content, ephemeral))

    monkeypatch.setattr(discord.InteractionResponse, "send_message", send_message)
    return answers


async def test_the_answer_is_private_and_the_log_a_warning_without_user_text(
    sqlite_locked: sa_exc.OperationalError, sent: list[tuple[str, bool]], caplog: pytest.LogCaptureFixture
) -> None:
    _tree, client = _tree_and_client()
    interaction = _interaction(client)
    with caplog.at_level(logging.DEBUG, logger="bot.interactions.error_replies"):
        await report_interaction_error(interaction, app_commands.CommandInvokeError(COMMAND, sqlite_locked))
    assert sent == [(DATABASE_BUSY, True)]
    records = [record for record in caplog.records if record.name == "bot.interactions.error_replies"]
    assert [record.levelno for record in records] == [logging.WARNING]
    logged = records[0].getMessage()
    assert "database unavailable answering challenge new by user 900000000000000000" in logged
    assert "database is locked" in logged
    assert "ref" not in logged
    assert records[0].exc_info is None
    assert SECRET_TEXT not in logged  # the statement's parameters are user text: never in the log
    assert "INSERT" not in logged


async def test_an_unexpected_fault_still_gets_a_reference(
    sent: list[tuple[str, bool]], caplog: pytest.LogCaptureFixture
) -> None:
    _tree, client = _tree_and_client()
    with caplog.at_level(logging.DEBUG, logger="bot.interactions.error_replies"):
        await report_interaction_error(_interaction(client), _dbapi(sa_exc.IntegrityError, "UNIQUE constraint failed"))
    [(message, ephemeral)] = sent
    assert ephemeral
    assert "reference" in message
    assert DATABASE_BUSY not in message
    assert [record.levelno for record in caplog.records if record.name == "bot.interactions.error_replies"] == [
        logging.ERROR
    ]
