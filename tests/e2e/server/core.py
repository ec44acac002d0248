"""A local Discord-compatible server: REST and gateway on 127.0.0.1, strict about what it accepts.

The unmodified bot talks to it through `DISCORD_API_URL`. It records every call, validates every
payload the way Discord does (answering violations with Discord's 400 shape), expires interactions
that are not acknowledged within 3 seconds, and can drop, reconnect or invalidate the gateway and
answer 429s on demand. Tests and benchmarks drive it through `FakeUser` (see `users.py`).


The server is one class assembled from mixins, one per idea (see the modules beside this one)."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from tests.e2e.server.forums import ForumsMixin
from tests.e2e.server.gateway import GatewayMixin
from tests.e2e.server.guild import GuildMixin
from tests.e2e.server.interactions import InteractionsMixin
from tests.e2e.server.lookups import LookupsMixin
from tests.e2e.server.messages import MessagesMixin
from tests.e2e.server.recording import RecordingMixin
from tests.e2e.server.routes import RoutesMixin
from tests.e2e.server.state import (
    API_PREFIX,
    ATTACHMENT_SIZE_LIMIT,
    EVERYONE_PERMISSIONS,
    JSON,
    PRIVILEGED_INTENTS,
    Call,
    GatewaySession,
    Interaction,
    SnowflakeFactory,
    Violation,
)
from tests.e2e.server.threads import ThreadsMixin
from tests.e2e.server.views import ViewsMixin
from tests.e2e.spec import DiscordSpec


class FakeDiscord(
    GuildMixin,
    RecordingMixin,
    RoutesMixin,
    MessagesMixin,
    ThreadsMixin,
    ForumsMixin,
    LookupsMixin,
    InteractionsMixin,
    GatewayMixin,
    ViewsMixin,
):
    """The server. `async with FakeDiscord() as discord:` starts it on an ephemeral port."""

    def __init__(
        self,
        *,
        guild_members: int = 3,
        heartbeat_interval_ms: int = 41250,
        privileged_intents: int = PRIVILEGED_INTENTS,
        guild_id: int | None = None,
        shard_count: int = 1,
    ) -> None:
        # What /gateway/bot recommends; sessions identify with their shard and get only its guilds' events.
        self.shard_count = shard_count
        # Servers beyond the first (`add_guild`): their ids; they share the first one's members and roles.
        self.other_guild_ids: list[int] = []
        # Privileged intents the application is allowed in the Developer Portal; asking for others
        # closes the gateway with 4014, as Discord does.
        self.privileged_intents = privileged_intents
        self.snowflake = SnowflakeFactory()
        self.application_id = self.snowflake()
        self.bot_user: JSON = self._user(self.application_id, "Nexus", bot=True)
        self.guild_id = guild_id or self.snowflake()  # a benchmark may serve a generated log's server
        self.owner_id = self.snowflake()
        self.channels: dict[int, JSON] = {}
        self.general_id = self._add_channel("general")
        self.challenges_channel_id = self._add_channel("challenges")
        self.pairing_channel_id = self._add_channel("pairing")
        self.members: dict[int, JSON] = {}
        self.departed: dict[int, JSON] = {}  # users who left the guild, by id
        self.roles: dict[int, JSON] = {
            self.guild_id: self._role(self.guild_id, "@everyone", EVERYONE_PERMISSIONS),
        }
        self.moderator_role_id = self.snowflake()
        self.roles[self.moderator_role_id] = self._role(self.moderator_role_id, "Mentor", str(0x2000 | 0x20))
        self._add_member(self.application_id, "Nexus", bot=True)
        self._add_member(self.owner_id, "owner")
        for number in range(guild_members):
            self._add_member(self.snowflake(), f"learner{number}")
        self.messages: dict[int, JSON] = {}
        self.global_commands: list[JSON] = []
        self.guild_commands: dict[int, list[JSON]] = {}
        self.command_puts: list[tuple[str, list[JSON]]] = []
        self.interactions: dict[int, Interaction] = {}
        self._interactions_by_token: dict[str, Interaction] = {}
        self.calls: list[Call] = []
        self.unknown_routes: list[Call] = []
        self.violations: list[Violation] = []
        # Discord's published contract (tests/e2e/discord_api_spec/), checked on top of the rules here.
        self.spec = DiscordSpec.vendored()
        self.undescribed_routes: set[str] = set()
        self.sessions: dict[str, GatewaySession] = {}
        self.current_session: GatewaySession | None = None
        self.shard_sessions: dict[int, GatewaySession] = {}  # the live session of each shard id
        self.identify_count = 0
        self.refused_intents = 0
        self.resume_count = 0
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.clock_offset = 0.0
        self.forced_429: dict[str, list[float]] = {}
        self.forced_5xx: dict[str, int] = {}
        self.forced_401: dict[str, int] = {}
        self.reactions: list[tuple[int, int, str]] = []
        self.uploads: dict[tuple[int, str], bytes] = {}
        # Sent in every interaction (`attachment_size_limit`); a larger file gets Discord's 413. A test may lower it,
        # or raise it with the server's boost level (`premium_tier`, sent in GUILD_CREATE; 3 allows 100 MiB).
        self.attachment_size_limit = ATTACHMENT_SIZE_LIMIT
        self.premium_tier = 0
        self.threads: list[JSON] = []
        self.dm_channels: dict[int, int] = {}
        # Members whose DMs are closed to the bot (Discord answers 50007), and whether the bot may open threads.
        self.closed_dms: set[int] = set()
        self.threads_allowed = True
        # Channels where the bot lacks Send Messages (Discord answers 403, code 50013).
        self.muted_channels: set[int] = set()
        self.thread_members: dict[int, set[int]] = {}
        # Discord keeps one message per (author, nonce) for a few minutes when the sender enforces the nonce.
        self._by_nonce: dict[str, int] = {}
        self._connected = asyncio.Event()
        self._pending_sends: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ----- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        # Uploads are held to `attachment_size_limit` per file, as Discord does; aiohttp's own cap (1 MiB) would
        # refuse a real export first.
        app = web.Application(middlewares=[self._record], client_max_size=1024**3)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._dispatch_rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        for session in self.sessions.values():
            if session.socket is not None and not session.socket.closed:
                await session.socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def now(self) -> float:
        """The server's clock: real time plus whatever a test skipped ahead."""
        return time.monotonic() + self.clock_offset

    def advance_clock(self, seconds: float) -> None:
        self.clock_offset += seconds
