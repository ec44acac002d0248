"""One place that turns any error raised while answering an interaction into a clear ephemeral reply.

Expected errors (domain errors, bad input, permissions, cooldowns) get their own message; a database that is
briefly busy or unreachable (SQLite locked, PostgreSQL restarting) gets a "try again" and a warning in the log;
anything else is logged with its context and answered with an apology carrying a short reference id.
"""

from __future__ import annotations

import logging
import math
import secrets
from dataclasses import dataclass

import discord
from discord import app_commands
from sqlalchemy import exc as sa_exc

from bot.db.retry import database_unavailable
from bot.interactions import replies

log = logging.getLogger(__name__)

DATABASE_BUSY = "The database is busy right now; nothing was saved. Try again in a few seconds."


@dataclass(frozen=True, slots=True)
class ErrorReply:
    message: str
    unexpected: bool = False
    transient: bool = False
    """A passing fault outside the bot (the database busy or unreachable): a warning, not a reference id."""


def _permission_names(names: list[str]) -> str:
    return ", ".join(name.replace("_", " ").replace("guild", "server").title() for name in names)


def describe_error(error: BaseException) -> ErrorReply:
    """What to tell the user about `error`; `unexpected` marks a fault to log with a reference."""
    from bot.core.errors import NexusError

    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, NexusError):
        return ErrorReply(error.user_message)
    if database_unavailable(error):
        return ErrorReply(DATABASE_BUSY, transient=True)
    if isinstance(error, app_commands.CommandOnCooldown):
        return ErrorReply(f"Slow down a little: you can use this again in {math.ceil(error.retry_after)} s.")
    if isinstance(error, app_commands.MissingPermissions):
        return ErrorReply(f"You need the {_permission_names(error.missing_permissions)} permission for this.")
    if isinstance(error, app_commands.BotMissingPermissions):
        missing = _permission_names(error.missing_permissions)
        return ErrorReply(f"I need the {missing} permission here; ask a moderator to grant it.")
    if isinstance(error, app_commands.NoPrivateMessage):
        return ErrorReply("This command works in a server channel, not in direct messages.")
    if isinstance(error, app_commands.TransformerError):
        return ErrorReply(f"`{error.value}` is not a valid value here; pick one from the list.")
    if isinstance(error, app_commands.CommandSignatureMismatch | app_commands.CommandNotFound):
        return ErrorReply("This command changed a moment ago. Wait a minute for Discord to update it, then try again.")
    if isinstance(error, app_commands.CheckFailure):
        return ErrorReply("You cannot use this command here.")
    return ErrorReply("", unexpected=True)


def _first_line(error: BaseException) -> str:
    """A short description for the log: the driver's own message, without SQL or its parameters (user text)."""
    original = error.orig if isinstance(error, sa_exc.DBAPIError) and error.orig is not None else error
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0][:200] if lines else ''}"


def log_background_failure(logger: logging.Logger, error: BaseException, what: str, *args: object) -> None:
    """Log a failure of background work that runs again later (a periodic pass, a backfill): the database away
    for a moment is one warning line, as for commands; anything else is an error with its traceback."""
    if database_unavailable(error):
        logger.warning("%s: the database is unavailable (%s)", what % args, _first_line(error))
    else:
        logger.error(what, *args, exc_info=error)


def interaction_context(interaction: discord.Interaction) -> str:
    """What was used, by whom and where, for the log (never the user's text)."""
    command = interaction.command.qualified_name if interaction.command else None
    custom_id = interaction.data.get("custom_id") if interaction.data else None
    what = command or custom_id or interaction.type.name
    where = f"guild {interaction.guild_id} channel {interaction.channel_id}"
    return f"{what!s} by user {interaction.user.id} in {where}"


async def report_interaction_error(interaction: discord.Interaction, error: BaseException) -> None:
    reply = describe_error(error)
    if reply.transient:
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        log.warning("database unavailable answering %s: %s", interaction_context(interaction), _first_line(cause))
        message = reply.message
    elif reply.unexpected:
        reference = secrets.token_hex(4)
        log.error("unexpected error [ref %s] answering %s", reference, interaction_context(interaction), exc_info=error)
        message = (
            f"Sorry, something went wrong on my side. Nothing you did caused it; try again in a moment. "
            f"If it keeps happening, tell a mentor the reference `{reference}`."
        )
    else:
        log.debug("expected error answering %s: %s", interaction_context(interaction), reply.message)
        message = reply.message
    try:
        # Privately, whether or not the interaction was acknowledged already (by the handler or the watchdog).
        await replies.send(interaction, message, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not deliver an error reply for %s", interaction_context(interaction), exc_info=True)
