"""What a user reads for each error raised while answering an interaction."""

from __future__ import annotations

import discord
import pytest
from discord import app_commands

from bot.core.errors import (
    InvalidInputError,
    NexusError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TopicNotFoundError,
)
from bot.interactions.error_replies import ErrorReply, describe_error


async def _topic(interaction: discord.Interaction) -> None:
    """A stand-in callback: the command object is real, it is never invoked."""


COMMAND: app_commands.Command[None, ..., None] = app_commands.Command(
    name="topic", description="Show a topic card", callback=_topic
)


@pytest.mark.parametrize(
    "error",
    [
        NexusError("Something you can fix."),
        NotFoundError("No such thing."),
        InvalidInputError("That is not a number."),
        PermissionDeniedError("Only mentors can do that."),
        TopicNotFoundError("kubernetz", ["Kubernetes"]),
        RateLimitedError(12.3, "post a public card"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_domain_errors_pass_their_message_through(error: NexusError) -> None:
    reply = describe_error(error)
    assert reply == ErrorReply(error.user_message, unexpected=False)
    assert reply.message


def test_cooldown_mentions_the_seconds() -> None:
    error = app_commands.CommandOnCooldown(app_commands.Cooldown(1, 30.0), 12.0)
    reply = describe_error(error)
    assert not reply.unexpected
    assert "12 s" in reply.message


@pytest.mark.parametrize(("retry_after", "shown"), [(0.01, "1 s"), (0.4, "1 s"), (2.5, "3 s"), (59.2, "60 s")])
def test_cooldown_rounds_up_and_never_says_zero(retry_after: float, shown: str) -> None:
    error = app_commands.CommandOnCooldown(app_commands.Cooldown(1, 60.0), retry_after)
    reply = describe_error(error)
    assert reply.message.endswith(f"again in {shown}.")
    assert "in 0 s" not in reply.message


def test_missing_permissions_are_named_readably() -> None:
    reply = describe_error(app_commands.MissingPermissions(["manage_guild", "ban_members"]))
    assert not reply.unexpected
    assert "Manage Server" in reply.message
    assert "Ban Members" in reply.message
    assert "_" not in reply.message
    assert reply.message.startswith("You need")


def test_bot_missing_permissions_ask_a_moderator() -> None:
    reply = describe_error(app_commands.BotMissingPermissions(["send_messages", "embed_links"]))
    assert not reply.unexpected
    assert "Send Messages" in reply.message
    assert "Embed Links" in reply.message
    assert reply.message.startswith("I need")


def test_no_private_message() -> None:
    reply = describe_error(app_commands.NoPrivateMessage())
    assert not reply.unexpected
    assert "server" in reply.message


def test_stale_command_asks_to_wait() -> None:
    for error in (
        app_commands.CommandNotFound("topic", []),
        app_commands.CommandSignatureMismatch(COMMAND),
    ):
        reply = describe_error(error)
        assert not reply.unexpected
        assert "changed" in reply.message


def test_other_check_failure() -> None:
    reply = describe_error(app_commands.CheckFailure("nope"))
    assert reply == ErrorReply("You cannot use this command here.")


def test_invoke_error_wrapping_a_domain_error_is_unwrapped() -> None:
    original = NotFoundError("No challenge #42 in this server.")
    error = app_commands.CommandInvokeError(COMMAND, original)
    assert error.original is original
    reply = describe_error(error)
    assert reply == ErrorReply("No challenge #42 in this server.", unexpected=False)


def test_invoke_error_wrapping_a_fault_is_unexpected() -> None:
    error = app_commands.CommandInvokeError(COMMAND, RuntimeError("database is locked"))
    reply = describe_error(error)
    assert reply.unexpected
    # The internal message is for the log, not for the user.
    assert "database is locked" not in reply.message


@pytest.mark.parametrize(
    "error",
    [Exception("boom"), RuntimeError("boom"), KeyError("boom"), app_commands.AppCommandError("boom")],
    ids=lambda error: type(error).__name__,
)
def test_anything_else_is_unexpected(error: Exception) -> None:
    reply = describe_error(error)
    assert reply.unexpected
    assert "boom" not in reply.message
