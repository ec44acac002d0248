"""The local server's constants, payload helpers and the records it keeps (calls, violations, interactions,
gateway sessions)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1420070400000
EPHEMERAL = 1 << 6
INTERACTION_ACK_SECONDS = 3.0
INTERACTION_TOKEN_SECONDS = 15 * 60
# What Discord lets a server without boosts upload per file (10 MiB since 2024; discord.py's Guild.filesize_limit).
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
ALL_PERMISSIONS = str((1 << 50) - 1)
# @everyone's permissions in a fresh server: view, send, read history, use application commands, etc.
EVERYONE_PERMISSIONS = str(0x0000_0000_0006_3584_C0 | (1 << 31))

# Gateway intents, and which events each one gates (as Discord documents them).
GUILDS, GUILD_MEMBERS, GUILD_MESSAGES, DIRECT_MESSAGES, MESSAGE_CONTENT = 1, 1 << 1, 1 << 9, 1 << 12, 1 << 15
GUILD_PRESENCES = 1 << 8
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
GUILD_MESSAGE_REACTIONS = 1 << 10
REACTION_EVENTS = {"MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE"}
MESSAGE_EVENTS = {"MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK"}
GUILD_EVENTS = {
    "GUILD_CREATE",
    "GUILD_UPDATE",
    "THREAD_CREATE",
    "THREAD_UPDATE",
    "THREAD_DELETE",
    "CHANNEL_DELETE",
    "CHANNEL_CREATE",
    "CHANNEL_UPDATE",
    "GUILD_ROLE_CREATE",
}
# Permission bits the server computes with (Discord's "Permissions" documentation).
ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
THREAD_TYPES = (10, 11, 12)
PRIVATE_THREAD = 12
LARGE_THRESHOLD = 250

JSON = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    # discord.py reads a body as JSON only when Content-Type is exactly application/json.
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


class SnowflakeFactory:
    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def __call__(self) -> int:
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (millis << 22) | (next(self._counter) & 0x3FFFFF)


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class Call:
    """One REST request the bot made, with its JSON body and the status it got."""

    method: str
    path: str
    route: str
    body: Any
    query: Mapping[str, str]
    status: int = 0
    files: list[tuple[str, bytes]] = field(default_factory=list)
    token: str = ""  # the Authorization header: which bot process sent it, when processes are given their own


CALL_KEY = web.RequestKey("call", Call)


@dataclass
class Violation:
    """A payload Discord would have rejected, or a rule the bot broke (e.g. a late acknowledgement)."""

    route: str
    problems: list[tuple[str, str]]


@dataclass
class Interaction:
    id: int
    token: str
    type: int
    payload: JSON
    created: float
    acknowledged: asyncio.Event = field(default_factory=asyncio.Event)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    response_type: int | None = None
    response: JSON | None = None
    dispatched_at: float = field(default_factory=time.perf_counter)
    acknowledged_at: float | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    expired: bool = False


@dataclass
class GatewaySession:
    id: str
    sequence: int = 0
    events: list[tuple[int, str, JSON]] = field(default_factory=list)
    socket: web.WebSocketResponse | None = None
    intents: int = 0
    identified: asyncio.Event = field(default_factory=asyncio.Event)
    shard: tuple[int, int] = (0, 1)  # [shard id, shard count] from IDENTIFY
