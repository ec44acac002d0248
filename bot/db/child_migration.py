"""Migrate from a child process, so the long-running bot never loads Alembic."""

from __future__ import annotations

import asyncio
import os
import sys

from bot.runtime.redaction import redact_url


class MigrationError(Exception):
    """The database could not be migrated; the message says why, without the URL."""


async def upgrade_in_child_process(database_url: str) -> None:
    """Migrate to head in a short-lived child process.

    The bot then never imports Alembic (and Mako), which would stay resident for as long as it runs.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "db",
        "upgrade",
        env=_child_environment(database_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _stdout, stderr = await process.communicate()
    if process.returncode != 0:
        lines = stderr.decode(errors="replace").strip().splitlines()
        # The driver's last words, with any URL's credentials masked (the message is printed, not logged).
        raise MigrationError(
            redact_url(lines[-1]) if lines else f"`nexus-bot db upgrade` exited with {process.returncode}"
        )


def _child_environment(database_url: str) -> dict[str, str]:
    """The bot's environment without the token (the migration needs only the database), with its URL."""
    environment = {name: value for name, value in os.environ.items() if name.upper() != "DISCORD_TOKEN"}
    environment["DATABASE_URL"] = database_url
    return environment
