"""What the pairing and permissions suites share: two learners' `/pair request` options that match each other, a
clock the tests move ("now" for the pairing service's commands and buttons), and the bot with its periodic pairing
pass stopped, so that each test runs a pass itself at the time it wants."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import cast

from bot.client import NexusBot
from cogs.pairing._scheduler import PairingSchedulerCog
from tests.e2e.harness import running_bot, settings_for
from tests.e2e.server import FakeDiscord


def next_monday_morning() -> datetime:
    """A Monday 09:00 UTC at least a week ahead of the real clock: whatever the bot's own first pass does with the
    real time finds nothing of these tests due."""
    day = (datetime.now(UTC) + timedelta(days=7)).replace(hour=9, minute=0, second=0, microsecond=0)
    return day + timedelta(days=(7 - day.weekday()) % 7)


NOW = next_monday_morning()
LAGOS, BOGOTA = "Africa/Lagos", "America/Bogota"  # neither changes its clocks, so the expected hours never move
# They share REST APIs and are free together Monday to Friday 18:00-20:00 UTC.
FRONTEND: dict[str, str] = {
    "track": "frontend",
    "topics": "GraphQL, REST APIs",
    "timezone": "Lagos",
    "availability": "Mon-Fri 18:00-21:00",
}
BACKEND: dict[str, str] = {
    "track": "backend",
    "topics": "REST APIs, Docker",
    "timezone": BOGOTA,
    "availability": "Mon-Fri 13-17",
}


class Clock:
    """What "now" is for the bot's commands and buttons; tests move it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def pairing_scheduler(bot: NexusBot) -> PairingSchedulerCog:
    # Extensions are re-imported on every start, so the class differs from this module's import.
    cog = bot.get_cog("PairingSchedulerCog")
    assert cog is not None
    return cast(PairingSchedulerCog, cog)


@contextlib.asynccontextmanager
async def running_with_pairing_by_hand(
    server: FakeDiscord, database: str, clock: Clock, *, pairing_channel: bool = True
) -> AsyncIterator[NexusBot]:
    """The bot (with the server's pairing channel unless told otherwise), its pairing clock `clock`, and its
    periodic pass stopped as unloading stops it (a pass in progress finishes first)."""
    overrides = {"NEXUS_PAIRING_CHANNEL_ID": str(server.pairing_channel_id)} if pairing_channel else {}
    async with running_bot(settings_for(server, database, **overrides)) as bot:
        scheduler = pairing_scheduler(bot)
        await scheduler.cog_unload()
        task = scheduler.periodic.get_task()
        if task is not None:
            await asyncio.wait({task}, timeout=10)
        bot.services.pairing.clock = clock
        yield bot
