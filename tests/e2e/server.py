"""A local Discord-compatible server: REST and gateway on 127.0.0.1, strict about what it accepts.

The unmodified bot talks to it through `DISCORD_API_URL`. It records every call, validates every
payload the way Discord does (answering violations with Discord's 400 shape), expires interactions
that are not acknowledged within 3 seconds, and can drop, reconnect or invalidate the gateway and
answer 429s on demand. Tests and benchmarks drive it through `FakeUser` (see `users.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.e2e import validation
from tests.e2e.spec import DiscordSpec

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
MESSAGE_EVENTS = {"MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK"}
GUILD_EVENTS = {
    "GUILD_CREATE",
    "GUILD_UPDATE",
    "THREAD_CREATE",
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


class FakeDiscord:
    """The server. `async with FakeDiscord() as discord:` starts it on an ephemeral port."""

    def __init__(
        self,
        *,
        guild_members: int = 3,
        heartbeat_interval_ms: int = 41250,
        privileged_intents: int = PRIVILEGED_INTENTS,
        guild_id: int | None = None,
    ) -> None:
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

    # ----- fixtures of the fake guild --------------------------------------------------------

    @staticmethod
    def _user(user_id: int, name: str, *, bot: bool = False) -> JSON:
        return {
            "id": str(user_id),
            "username": name,
            "discriminator": "0",
            "global_name": name,
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
        }

    def _role(self, role_id: int, name: str, permissions: str) -> JSON:
        return {
            "id": str(role_id),
            "name": name,
            "permissions": permissions,
            "position": 0 if role_id == self.guild_id else 1,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
            "icon": None,
            "unicode_emoji": None,
        }

    def _add_channel(self, name: str) -> int:
        channel_id = self.snowflake()
        self.channels[channel_id] = {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(self.guild_id),
            "name": name,
            "position": len(self.channels),
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        return channel_id

    def _add_member(self, user_id: int, name: str, *, bot: bool = False, roles: list[int] | None = None) -> JSON:
        member = {
            "user": self._user(user_id, name, bot=bot),
            "roles": [str(role) for role in roles or []],
            "joined_at": iso_now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "avatar": None,
            "pending": False,
            "premium_since": None,
            "communication_disabled_until": None,
        }
        self.members[user_id] = member
        return member

    def add_member(
        self, name: str, *, moderator: bool = False, bot: bool = False, roles: list[int] | None = None
    ) -> int:
        """A new member of the guild (not announced over the gateway: the bot keeps no member cache)."""
        user_id = self.snowflake()
        self._add_member(
            user_id, name, bot=bot, roles=[*(roles or []), *([self.moderator_role_id] if moderator else [])]
        )
        return user_id

    def remove_member(self, user_id: int) -> None:
        """The member leaves the guild (not announced: the bot has no members intent). They remain a Discord user,
        who can still use the bot's commands in a DM."""
        member = self.members.pop(user_id, None)
        if member is not None:
            self.departed[user_id] = member["user"]

    def add_role(self, name: str, permissions: int = 0) -> int:
        """A role with `permissions`, announced with GUILD_ROLE_CREATE as Discord does."""
        role_id = self.snowflake()
        self.roles[role_id] = self._role(role_id, name, str(permissions))
        self.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(self.guild_id), "role": self.roles[role_id]})
        return role_id

    def add_channel(self, name: str) -> int:
        """A new text channel, announced with CHANNEL_CREATE as Discord does."""
        channel_id = self._add_channel(name)
        self.dispatch("CHANNEL_CREATE", self.channels[channel_id])
        return channel_id

    def set_overwrite(self, channel_id: int, target_id: int, *, allow: int = 0, deny: int = 0) -> None:
        """A permission overwrite on a channel for a role (the guild's id is @everyone) or a member, replacing any
        earlier one for the same target, announced with CHANNEL_UPDATE."""
        channel = self.channels[channel_id]
        kind = 0 if target_id in self.roles else 1
        overwrites = [item for item in channel["permission_overwrites"] if item["id"] != str(target_id)]
        overwrites.append({"id": str(target_id), "type": kind, "allow": str(allow), "deny": str(deny)})
        channel["permission_overwrites"] = overwrites
        self.dispatch("CHANNEL_UPDATE", channel)

    def set_topic(self, channel_id: int, topic: str | None) -> None:
        """A moderator edits a channel's topic (a forum's guidelines are its `topic` too), announced with
        CHANNEL_UPDATE."""
        channel = self.channels[channel_id]
        channel["topic"] = topic
        self.dispatch("CHANNEL_UPDATE", channel)

    def add_thread(self, parent_id: int, name: str, *, private: bool = False, owner_id: int | None = None) -> int:
        """A thread a member opened in `parent_id` (private: type 12, seen only by its members and moderators)."""
        body = {"name": name, "type": PRIVATE_THREAD if private else 11, "invitable": not private}
        thread = self._new_thread(parent_id, body)
        if owner_id is not None:
            thread["owner_id"] = str(owner_id)
        return int(thread["id"])

    def permissions_in(self, user_id: int, channel_id: int) -> int:
        """A member's permissions in a channel as Discord computes them: @everyone and their roles, then the
        channel's overwrites (@everyone's, the roles' together, the member's), deny before allow in each step.
        A thread has its parent's; the owner and administrators have every permission."""
        return self._permissions(self.members[user_id], channel_id)

    def _permissions(self, member: JSON, channel_id: int) -> int:
        user_id = int(member["user"]["id"])
        everything = int(ALL_PERMISSIONS)
        if user_id == self.owner_id:
            return everything
        permissions = int(self.roles[self.guild_id]["permissions"])
        for role_id in member["roles"]:
            permissions |= int(self.roles[int(role_id)]["permissions"])
        if permissions & ADMINISTRATOR:
            return everything
        channel = self.channels.get(channel_id)
        if channel is not None and channel.get("type") in THREAD_TYPES:
            channel = self.channels.get(int(channel["parent_id"]))
        if channel is None:
            return permissions
        overwrites = {int(item["id"]): item for item in channel.get("permission_overwrites", [])}

        def apply(permissions: int, allow: int, deny: int) -> int:
            return (permissions & ~deny) | allow

        everyone = overwrites.get(self.guild_id)
        if everyone is not None:
            permissions = apply(permissions, int(everyone["allow"]), int(everyone["deny"]))
        allow = deny = 0
        for role_id in member["roles"]:
            item = overwrites.get(int(role_id))
            if item is not None:
                allow, deny = allow | int(item["allow"]), deny | int(item["deny"])
        permissions = apply(permissions, allow, deny)
        own = overwrites.get(user_id)
        if own is not None:
            permissions = apply(permissions, int(own["allow"]), int(own["deny"]))
        return permissions

    def add_synthetic_members(self, count: int) -> None:
        """Many members, as a large guild delivers them in GUILD_CREATE (for memory benchmarks)."""
        for number in range(count):
            self._add_member(self.snowflake(), f"member{number}")

    def guild_payload(self) -> JSON:
        return {
            "id": str(self.guild_id),
            "name": "ProDev Project Nexus",
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": self.premium_tier,
            "premium_progress_bar_enabled": False,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "vanity_url_code": None,
            "preferred_locale": "en-US",
            "features": [],
            "roles": list(self.roles.values()),
            "emojis": [],
            "stickers": [],
            "channels": list(self.channels.values()),
            "threads": [],
            # A large guild arrives without its member list (that needs chunking, with the members
            # intent); only the bot itself is included. A small one arrives with every member.
            "members": (
                [self.members[self.application_id]]
                if len(self.members) > LARGE_THRESHOLD
                else list(self.members.values())
            ),
            "member_count": len(self.members),
            "large": len(self.members) > LARGE_THRESHOLD,
            "unavailable": False,
            "joined_at": iso_now(),
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "application_id": None,
            "max_members": 500000,
        }

    # ----- recording, rate limits, forced failures -------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/gateway":
            return await handler(request)
        body: Any = None
        files: list[tuple[str, bytes]] = []
        if request.content_type.startswith("multipart/"):
            # Uploads: a JSON part (payload_json) and the files, as discord.py sends them. Without payload_json,
            # Discord reads the other plain form fields as the body.
            form = await request.post()
            fields: dict[str, str] = {}
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    files.append((value.filename, value.file.read()))
                elif name == "payload_json":
                    body = json.loads(str(value))
                else:
                    fields[name] = str(value)
            if body is None and fields:
                body = fields
        elif request.can_read_body:
            raw = await request.read()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
        call = Call(request.method, request.path, request.path, body, dict(request.query), files=files)
        request[CALL_KEY] = call
        self.calls.append(call)
        too_large = [name for name, data in files if len(data) > self.attachment_size_limit]
        if too_large:
            # Discord refuses the whole request; the bot should have checked the limit before uploading.
            call.status = 413
            self.violations.append(Violation(call.route, [(name, "file over the upload limit") for name in too_large]))
            return json_response({"message": "Request entity too large", "code": 40005}, status=413)
        response = await handler(request)
        call.status = response.status
        return response

    def force_429(self, route_pattern: str, *, times: int = 1, retry_after: float = 0.3) -> None:
        """The next `times` requests whose "METHOD /path" matches `route_pattern` get a 429."""
        self.forced_429.setdefault(route_pattern, []).extend([retry_after] * times)

    def force_5xx(self, route_pattern: str, *, times: int = 1) -> None:
        self.forced_5xx[route_pattern] = self.forced_5xx.get(route_pattern, 0) + times

    def force_401(self, route_pattern: str, *, times: int = 1) -> None:
        """The next `times` matching requests answer 401 Unauthorized, as Discord does for a bad token."""
        self.forced_401[route_pattern] = self.forced_401.get(route_pattern, 0) + times

    def _forced_failure(self, route: str) -> web.Response | None:
        for pattern, count in self.forced_401.items():
            if count and re.search(pattern, route):
                self.forced_401[pattern] = count - 1
                return json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        for pattern, pending in self.forced_429.items():
            if pending and re.search(pattern, route):
                retry_after = pending.pop(0)
                return json_response(
                    {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
                    status=429,
                    headers={
                        "Via": "1.1 google",
                        "X-RateLimit-Limit": "5",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset-After": str(retry_after),
                        "X-RateLimit-Bucket": f"bucket-{abs(hash(pattern))}",
                        "X-RateLimit-Scope": "user",
                        "Retry-After": str(max(1, round(retry_after))),
                    },
                )
        for pattern, count in self.forced_5xx.items():
            if count and re.search(pattern, route):
                self.forced_5xx[pattern] = count - 1
                return json_response({"message": "Service Unavailable", "code": 0}, status=503)
        return None

    @staticmethod
    def _rate_limit_headers(route: str) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": "49",
            "X-RateLimit-Reset-After": "1.0",
            "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
            "X-RateLimit-Bucket": f"bucket-{abs(hash(route.split('/')[1] if '/' in route else route))}",
        }

    def _invalid(self, route: str, problems: validation.Problems) -> web.Response:
        self.violations.append(Violation(route, list(problems)))
        return json_response(validation.form_error(problems), status=400)

    # ----- REST routing ----------------------------------------------------------------------

    def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Awaitable[web.Response]]]]:
        snowflake = r"(\d+)"
        table: list[tuple[str, str, Callable[..., Awaitable[web.Response]]]] = [
            ("GET", r"/gateway/bot", self._get_gateway_bot),
            ("GET", r"/gateway", self._get_gateway_bot),
            ("GET", r"/users/@me", self._get_me),
            ("GET", r"/oauth2/applications/@me", self._get_application),
            ("GET", r"/applications/@me", self._get_application),
            ("PUT", rf"/applications/{snowflake}/commands", self._put_global_commands),
            ("GET", rf"/applications/{snowflake}/commands", self._get_global_commands),
            ("PUT", rf"/applications/{snowflake}/guilds/{snowflake}/commands", self._put_guild_commands),
            ("GET", rf"/applications/{snowflake}/guilds/{snowflake}/commands", self._get_guild_commands),
            ("POST", rf"/interactions/{snowflake}/([^/]+)/callback", self._interaction_callback),
            ("POST", rf"/webhooks/{snowflake}/([^/]+)", self._webhook_followup),
            ("GET", rf"/webhooks/{snowflake}/([^/]+)/messages/(@original|\d+)", self._webhook_get),
            ("PATCH", rf"/webhooks/{snowflake}/([^/]+)/messages/(@original|\d+)", self._webhook_edit),
            ("DELETE", rf"/webhooks/{snowflake}/([^/]+)/messages/(@original|\d+)", self._webhook_delete),
            ("POST", rf"/channels/{snowflake}/messages", self._create_message),
            ("GET", rf"/channels/{snowflake}/messages", self._history),
            ("GET", rf"/channels/{snowflake}/messages/{snowflake}", self._get_message),
            ("PATCH", rf"/channels/{snowflake}/messages/{snowflake}", self._edit_message),
            ("DELETE", rf"/channels/{snowflake}/messages/{snowflake}", self._delete_message),
            ("PUT", rf"/channels/{snowflake}/messages/{snowflake}/reactions/([^/]+)/@me", self._add_reaction),
            (
                "DELETE",
                rf"/channels/{snowflake}/messages/{snowflake}/reactions/([^/]+)/@me",
                self._remove_reaction,
            ),
            ("POST", rf"/channels/{snowflake}/messages/{snowflake}/threads", self._thread_from_message),
            ("POST", rf"/channels/{snowflake}/threads", self._thread),
            ("POST", r"/users/@me/channels", self._dm_channel),
            ("PUT", rf"/channels/{snowflake}/thread-members/{snowflake}", self._add_thread_member),
            ("GET", rf"/guilds/{snowflake}/members/{snowflake}", self._get_member),
            ("GET", rf"/channels/{snowflake}", self._get_channel),
        ]
        return [(method, re.compile(f"^{pattern}$"), handler) for method, pattern, handler in table]

    async def _dispatch_rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        route = f"{request.method} {path}"
        forced = self._forced_failure(route)
        if forced is not None:
            return forced
        call = request[CALL_KEY]
        refused = self._against_spec(call, path)
        if refused is not None:
            return refused
        for method, pattern, handler in self._routes():
            match = pattern.match(path)
            if match and method == request.method:
                response = await handler(call, *match.groups())
                for key, value in self._rate_limit_headers(path).items():
                    response.headers.setdefault(key, value)
                return response
        self.unknown_routes.append(call)
        return json_response({"message": "404: Not Found", "code": 0}, status=404)

    def _against_spec(self, call: Call, path: str) -> web.Response | None:
        """Discord's 400 if the body breaks the spec's request schema for this route and method; a route the
        spec does not describe is noted (in `undescribed_routes`, listed at the end of the test run)."""
        operation = self.spec.operation(call.method, path)
        if operation is None:
            self.undescribed_routes.add(f"{call.method} {re.sub(r'/[0-9]+(?=/|$)', '/{id}', path)}")
            return None
        problems = self.spec.check(operation, call.body)
        return self._invalid(call.route, problems) if problems else None

    async def _get_gateway_bot(self, call: Call) -> web.Response:
        return json_response(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    async def _get_me(self, call: Call) -> web.Response:
        return json_response({**self.bot_user, "verified": True, "mfa_enabled": False, "flags": 0})

    async def _get_application(self, call: Call) -> web.Response:
        return json_response(
            {
                "id": str(self.application_id),
                "name": "Nexus",
                "icon": None,
                "description": "The ProDev Project Nexus bot",
                "rpc_origins": [],
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": self._user(self.owner_id, "owner"),
                "summary": "",
                "verify_key": "0" * 64,
                "team": None,
                "flags": 0,
                "interactions_endpoint_url": None,
                "redirect_uris": [],
                "approximate_guild_count": 1,
            }
        )

    def _stamp_commands(self, commands: list[JSON], guild_id: int | None) -> list[JSON]:
        stamped = []
        for command in commands:
            stamped.append(
                {
                    **command,
                    "id": str(self.snowflake()),
                    "application_id": str(self.application_id),
                    "version": str(self.snowflake()),
                    "type": command.get("type", 1),
                    "description": command.get("description", ""),
                    **({"guild_id": str(guild_id)} if guild_id else {}),
                }
            )
        return stamped

    async def _put_global_commands(self, call: Call, application_id: str) -> web.Response:
        problems = validation.validate_commands(call.body or [])
        if problems:
            return self._invalid(call.route, problems)
        self.global_commands = self._stamp_commands(call.body, None)
        self.command_puts.append(("global", call.body))
        return json_response(self.global_commands)

    async def _get_global_commands(self, call: Call, application_id: str) -> web.Response:
        return json_response(self.global_commands)

    async def _put_guild_commands(self, call: Call, application_id: str, guild_id: str) -> web.Response:
        problems = validation.validate_commands(call.body or [])
        if problems:
            return self._invalid(call.route, problems)
        self.guild_commands[int(guild_id)] = self._stamp_commands(call.body, int(guild_id))
        self.command_puts.append((f"guild:{guild_id}", call.body))
        return json_response(self.guild_commands[int(guild_id)])

    async def _get_guild_commands(self, call: Call, application_id: str, guild_id: str) -> web.Response:
        return json_response(self.guild_commands.get(int(guild_id), []))

    # ----- messages --------------------------------------------------------------------------

    def _mentions(self, payload: JSON) -> tuple[list[JSON], list[str], bool]:
        """Who the message pings, given its content and `allowed_mentions` (Discord's default: all)."""
        content = payload.get("content") or ""
        allowed = payload.get("allowed_mentions")
        parse = set(allowed.get("parse", [])) if allowed is not None else {"users", "roles", "everyone"}
        allowed_users = {str(user) for user in (allowed or {}).get("users", [])}
        allowed_roles = {str(role) for role in (allowed or {}).get("roles", [])}
        users = []
        for user_id in dict.fromkeys(re.findall(r"<@!?(\d+)>", content)):
            if "users" in parse or user_id in allowed_users:
                member = self.members.get(int(user_id))
                users.append(member["user"] if member else self._user(int(user_id), "unknown"))
        roles = [
            role_id
            for role_id in dict.fromkeys(re.findall(r"<@&(\d+)>", content))
            if "roles" in parse or role_id in allowed_roles
        ]
        everyone = "everyone" in parse and ("@everyone" in content or "@here" in content)
        return users, roles, everyone

    def _store_message(
        self,
        channel_id: int,
        payload: JSON,
        *,
        author: JSON | None = None,
        flags: int = 0,
        interaction: Interaction | None = None,
        message_type: int = 0,
    ) -> JSON:
        message_id = self.snowflake()
        users, roles, everyone = self._mentions(payload)
        message: JSON = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "guild_id": str(self.guild_id),
            "author": author or self.bot_user,
            "content": payload.get("content") or "",
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": everyone,
            "mentions": users,
            "mention_roles": roles,
            "attachments": [
                # Discord's attachment object: `url` and `proxy_url` are required (discord.py reads both).
                {
                    "id": str(self.snowflake()),
                    "filename": name,
                    "size": len(data),
                    "url": f"attachment://{name}",
                    "proxy_url": f"attachment://{name}",
                }
                for name, data in payload.get("_files", [])
            ],
            "embeds": payload.get("embeds") or [],
            "components": payload.get("components") or [],
            "pinned": False,
            "type": message_type,
            "flags": flags | (payload.get("flags") or 0),
            "reactions": [],
            "allowed_mentions": payload.get("allowed_mentions"),
        }
        if author is None or author.get("id") == self.bot_user["id"]:
            message["application_id"] = str(self.application_id)
        reference = payload.get("message_reference")
        if reference:
            message["message_reference"] = reference
            referenced = self.messages.get(int(reference["message_id"]))
            if referenced is not None:
                message["referenced_message"] = {
                    key: value for key, value in referenced.items() if key != "referenced_message"
                }
        if interaction is not None:
            message["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": interaction.payload["member"]["user"]
                if "member" in interaction.payload
                else interaction.payload["user"],
                "authorizing_integration_owners": {},
            }
        self.messages[message_id] = message
        if channel_id in self.channels:
            self.channels[channel_id]["last_message_id"] = str(message_id)
        return message

    @staticmethod
    def public(message: JSON) -> JSON:
        """The message as the API returns it (without the server's private bookkeeping)."""
        return {key: value for key, value in message.items() if key != "allowed_mentions"}

    async def _create_message(self, call: Call, channel_id: str) -> web.Response:
        channel = int(channel_id)
        if channel not in self.channels and channel not in self.dm_channels.values():
            return json_response({"message": "Unknown Channel", "code": 10003}, status=404)
        body = call.body or {}
        problems = validation.validate_message(body)
        if not (
            body.get("content") or body.get("embeds") or body.get("components") or body.get("sticker_ids") or call.files
        ):
            problems.append(("content", "Cannot send an empty message"))
        if problems:
            return self._invalid(call.route, problems)
        if channel in self.muted_channels:
            return json_response({"message": "Missing Permissions", "code": 50013}, status=403)
        recipient = next((user for user, dm in self.dm_channels.items() if dm == channel), None)
        if recipient is not None and recipient in self.closed_dms:
            return json_response({"message": "Cannot send messages to this user", "code": 50007}, status=403)
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce") and str(nonce) in self._by_nonce:
            return json_response(self.public(self.messages[self._by_nonce[str(nonce)]]))
        message = self._store_message(channel, body)
        if nonce is not None and body.get("enforce_nonce"):
            self._by_nonce[str(nonce)] = int(message["id"])
        self.dispatch("MESSAGE_CREATE", self.public(message))
        return json_response(self.public(message))

    async def _history(self, call: Call, channel_id: str) -> web.Response:
        limit = min(int(call.query.get("limit", 50)), 100)
        before = int(call.query["before"]) if "before" in call.query else None
        after = int(call.query["after"]) if "after" in call.query else None
        found = [
            message
            for message_id, message in sorted(self.messages.items())
            if message["channel_id"] == channel_id
            and not message["flags"] & EPHEMERAL
            and (before is None or message_id < before)
            and (after is None or message_id > after)
        ]
        # With `after` alone Discord takes the messages right after it, otherwise the newest; either way it answers
        # newest first (discord.py pages `after` on the first item, so any other order reads one page forever).
        chosen = found[:limit] if after is not None and before is None else found[-limit:]
        chosen = list(reversed(chosen))
        return json_response([self.public(message) for message in chosen])

    def _find_message(self, channel_id: str, message_id: str) -> JSON | None:
        message = self.messages.get(int(message_id))
        if message is None or message["channel_id"] != channel_id or message.get("deleted"):
            return None
        return message

    async def _get_message(self, call: Call, channel_id: str, message_id: str) -> web.Response:
        message = self._find_message(channel_id, message_id)
        if message is None:
            return json_response({"message": "Unknown Message", "code": 10008}, status=404)
        return json_response(self.public(message))

    def _apply_edit(self, message: JSON, body: JSON) -> None:
        for key in ("content", "embeds", "components", "flags"):
            if key in body:
                message[key] = body[key] if body[key] is not None else ("" if key == "content" else [])
        if "allowed_mentions" in body or "content" in body:
            message["allowed_mentions"] = body.get("allowed_mentions", message.get("allowed_mentions"))
            users, roles, everyone = self._mentions(message)
            message.update(mentions=users, mention_roles=roles, mention_everyone=everyone)
        message["edited_timestamp"] = iso_now()

    async def _edit_message(self, call: Call, channel_id: str, message_id: str) -> web.Response:
        message = self._find_message(channel_id, message_id)
        if message is None:
            return json_response({"message": "Unknown Message", "code": 10008}, status=404)
        if message["author"]["id"] != self.bot_user["id"]:
            return json_response({"message": "Cannot edit a message authored by another user", "code": 50005}, 403)
        problems = validation.validate_message(call.body or {})
        if problems:
            return self._invalid(call.route, problems)
        self._apply_edit(message, call.body or {})
        self.dispatch("MESSAGE_UPDATE", self.public(message))
        return json_response(self.public(message))

    def _remove(self, message: JSON) -> None:
        message["deleted"] = True
        self.dispatch(
            "MESSAGE_DELETE",
            {"id": message["id"], "channel_id": message["channel_id"], "guild_id": str(self.guild_id)},
        )

    def bulk_delete(self, channel_id: int, message_ids: list[int]) -> None:
        """A moderator's purge, or a ban that deletes the member's recent messages: Discord sends one
        MESSAGE_DELETE_BULK (no MESSAGE_DELETE per message). With the bot away, nobody hears it."""
        removed = [message_id for message_id in message_ids if self._find_message(str(channel_id), str(message_id))]
        for message_id in removed:
            self.messages[message_id]["deleted"] = True
        self.dispatch(
            "MESSAGE_DELETE_BULK",
            {"ids": [str(i) for i in removed], "channel_id": str(channel_id), "guild_id": str(self.guild_id)},
        )

    async def _delete_message(self, call: Call, channel_id: str, message_id: str) -> web.Response:
        message = self._find_message(channel_id, message_id)
        if message is None:
            return json_response({"message": "Unknown Message", "code": 10008}, status=404)
        self._remove(message)
        return web.Response(status=204)

    async def _add_reaction(self, call: Call, channel_id: str, message_id: str, emoji: str) -> web.Response:
        if self._find_message(channel_id, message_id) is None:
            return json_response({"message": "Unknown Message", "code": 10008}, status=404)
        self.reactions.append((int(channel_id), int(message_id), emoji))
        return web.Response(status=204)

    async def _remove_reaction(self, call: Call, channel_id: str, message_id: str, emoji: str) -> web.Response:
        key = (int(channel_id), int(message_id), emoji)
        if key in self.reactions:
            self.reactions.remove(key)
        return web.Response(status=204)

    def _new_thread(self, parent_id: int, body: JSON, thread_id: int | None = None) -> JSON:
        thread_id = thread_id or self.snowflake()
        thread = {
            "id": str(thread_id),
            "type": body.get("type", 11),
            "guild_id": str(self.guild_id),
            "parent_id": str(parent_id),
            "owner_id": self.bot_user["id"],
            "name": body.get("name"),
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration", 1440),
                "archive_timestamp": iso_now(),
                "locked": False,
                "invitable": body.get("invitable", True),
            },
            "permission_overwrites": [],
        }
        self.channels[thread_id] = thread
        self.threads.append(thread)
        self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return thread

    async def _thread_from_message(self, call: Call, channel_id: str, message_id: str) -> web.Response:
        problems = validation.validate_thread_name((call.body or {}).get("name"))
        if problems:
            return self._invalid(call.route, problems)
        if self._find_message(channel_id, message_id) is None:
            return json_response({"message": "Unknown Message", "code": 10008}, status=404)
        thread = self._new_thread(int(channel_id), {**(call.body or {}), "type": 11}, int(message_id))
        return json_response(thread, status=201)

    async def _thread(self, call: Call, channel_id: str) -> web.Response:
        problems = validation.validate_thread_name((call.body or {}).get("name"))
        if problems:
            return self._invalid(call.route, problems)
        if not self.threads_allowed:
            return json_response({"message": "Missing Permissions", "code": 50013}, status=403)
        if int(channel_id) not in self.channels:
            return json_response({"message": "Unknown Channel", "code": 10003}, status=404)
        return json_response(self._new_thread(int(channel_id), call.body or {}), status=201)

    async def _add_thread_member(self, call: Call, channel_id: str, user_id: str) -> web.Response:
        thread = self.channels.get(int(channel_id))
        if thread is None or thread.get("type") not in THREAD_TYPES:
            return json_response({"message": "Unknown Channel", "code": 10003}, status=404)
        if int(user_id) not in self.members:
            return json_response({"message": "Unknown Member", "code": 10007}, status=404)
        self.thread_members.setdefault(int(channel_id), set()).add(int(user_id))
        return web.Response(status=204)

    async def _get_member(self, call: Call, guild_id: str, user_id: str) -> web.Response:
        member = self.members.get(int(user_id)) if int(guild_id) == self.guild_id else None
        if member is None:
            return json_response({"message": "Unknown Member", "code": 10007}, status=404)
        return json_response(member)

    async def _dm_channel(self, call: Call) -> web.Response:
        recipient = int((call.body or {})["recipient_id"])
        channel_id = self.dm_channels.setdefault(recipient, self.snowflake())
        member = self.members.get(recipient)
        return json_response(
            {
                "id": str(channel_id),
                "type": 1,
                "last_message_id": None,
                "recipients": [member["user"] if member else self._user(recipient, "unknown")],
            }
        )

    async def _get_channel(self, call: Call, channel_id: str) -> web.Response:
        channel = self.channels.get(int(channel_id))
        if channel is None:
            return json_response({"message": "Unknown Channel", "code": 10003}, status=404)
        return json_response(channel)

    # ----- interactions ----------------------------------------------------------------------

    def new_interaction(
        self, kind: int, data: JSON, user_id: int, channel_id: int, *, dispatch: bool = True, **extra: Any
    ) -> Interaction:
        interaction_id = self.snowflake()
        token = secrets.token_urlsafe(24)
        member = self.members.get(user_id)
        if member is None:
            # A user who left the guild can only reach the bot in a DM: no member, no roles.
            assert channel_id in self.dm_channels.values(), "a user who left the guild has no guild interactions"
            member = {"user": self.departed[user_id], "roles": []}
        # Discord sends the member's permissions in the channel of the interaction, overwrites applied.
        permissions = self._permissions(member, channel_id)
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "guild_id": str(self.guild_id),
            "channel_id": str(channel_id),
            "channel": self.channels.get(channel_id, {"id": str(channel_id), "type": 0}),
            "member": {**member, "permissions": str(permissions)},
            "token": token,
            "version": 1,
            "app_permissions": ALL_PERMISSIONS,
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "context": 0,
            "attachment_size_limit": self.attachment_size_limit,
            **extra,
        }
        if channel_id in self.dm_channels.values():
            # In a DM with the bot (a button on a DM it sent), Discord sends the user, no guild and a DM channel.
            for key in ("guild_id", "member", "guild_locale"):
                payload.pop(key)
            payload |= {
                "user": member["user"],
                "channel": {"id": str(channel_id), "type": 1, "last_message_id": None, "recipients": [member["user"]]},
                "authorizing_integration_owners": {"0": "0"},
                "context": 1,
                **extra,
            }
        interaction = Interaction(interaction_id, token, kind, payload, self.now())
        self.interactions[interaction_id] = interaction
        self._interactions_by_token[token] = interaction
        if dispatch:
            self.dispatch("INTERACTION_CREATE", payload)
        return interaction

    async def _interaction_callback(self, call: Call, interaction_id: str, token: str) -> web.Response:
        interaction = self.interactions.get(int(interaction_id))
        if interaction is None or interaction.token != token:
            return json_response({"message": "Unknown interaction", "code": 10062}, status=404)
        if self.now() - interaction.created > INTERACTION_ACK_SECONDS:
            interaction.expired = True
            self.violations.append(Violation(call.route, [("_", "interaction acknowledged after 3 s")]))
            return json_response({"message": "Unknown interaction", "code": 10062}, status=404)
        if interaction.acknowledged.is_set():
            return json_response({"message": "Interaction has already been acknowledged.", "code": 40060}, status=400)
        body = call.body or {}
        kind = body.get("type")
        data = body.get("data") or {}
        problems: validation.Problems = []
        if kind in (4, 7):
            problems = validation.validate_message(data, "data")
        elif kind == 8:
            problems = validation.validate_autocomplete(data.get("choices") or [])
        elif kind == 9:
            problems = validation.validate_modal(data)
        elif kind not in (1, 5, 6):
            problems = [("type", f"unknown interaction callback type {kind}")]
        if kind in (4, 5) and interaction.type == 4:
            problems.append(("type", "autocomplete interactions must be answered with type 8"))
        if kind in (6, 7) and interaction.type != 3 and interaction.type != 5:
            problems.append(("type", "only component and modal interactions can update a message"))
        if problems:
            return self._invalid(call.route, problems)
        interaction.response_type = kind
        interaction.response = data
        interaction.acknowledged_at = time.perf_counter()
        interaction.acknowledged.set()
        resource: JSON = {"type": kind}
        message: JSON | None = None
        if kind in (4, 5):
            flags = data.get("flags", 0) or 0
            payload = data if kind == 4 else {"content": "", "flags": flags}
            message = self._store_message(
                int(interaction.payload["channel_id"]),
                payload,
                flags=flags | (1 << 7 if kind == 5 else 0),
                interaction=interaction,
                message_type=20,
            )
            interaction.original_message_id = int(message["id"])
            if not flags & EPHEMERAL and kind == 4:
                self.dispatch("MESSAGE_CREATE", self.public(message))
            resource["message"] = self.public(message)
            if kind == 4:
                interaction.answered.set()
        elif kind in (6, 7):
            source = interaction.payload.get("message")
            if source is not None:
                interaction.original_message_id = int(source["id"])
                if kind == 7:
                    stored = self.messages.get(int(source["id"]))
                    if stored is not None:
                        self._apply_edit(stored, data)
                        resource["message"] = self.public(stored)
                        interaction.answered.set()
        else:
            interaction.answered.set()
        return json_response(
            {
                "interaction": {
                    "id": str(interaction.id),
                    "type": interaction.type,
                    "response_message_id": str(interaction.original_message_id)
                    if interaction.original_message_id
                    else None,
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": bool((data.get("flags") or 0) & EPHEMERAL),
                },
                "resource": resource,
            }
        )

    def _webhook_interaction(self, token: str) -> Interaction | web.Response:
        interaction = self._interactions_by_token.get(token)
        if interaction is None:
            return json_response({"message": "Unknown Webhook", "code": 10015}, status=404)
        if self.now() - interaction.created > INTERACTION_TOKEN_SECONDS:
            return json_response({"message": "Invalid Webhook Token", "code": 50027}, status=401)
        if not interaction.acknowledged.is_set():
            return json_response({"message": "Unknown Webhook", "code": 10015}, status=404)
        return interaction

    def _webhook_message(self, interaction: Interaction, message_id: str) -> JSON | None:
        target = interaction.original_message_id if message_id == "@original" else int(message_id)
        if target is None:
            return None
        if message_id != "@original" and target not in interaction.followup_ids:
            return None
        message = self.messages.get(target)
        return None if message is None or message.get("deleted") else message

    def _webhook_target(self, token: str, message_id: str) -> tuple[Interaction, JSON] | web.Response:
        """The interaction and the message a webhook route names, or Discord's error for them."""
        found = self._webhook_interaction(token)
        if isinstance(found, web.Response):
            return found
        message = self._webhook_message(found, message_id)
        if message is None:
            return json_response({"message": "Unknown Message", "code": 10008}, status=404)
        return found, message

    async def _webhook_followup(self, call: Call, application_id: str, token: str) -> web.Response:
        found = self._webhook_interaction(token)
        if isinstance(found, web.Response):
            return found
        body = call.body or {}
        problems = validation.validate_message(body)
        if problems:
            return self._invalid(call.route, problems)
        message = self._store_message(
            int(found.payload["channel_id"]),
            {**body, "_files": call.files},
            interaction=found,
            flags=body.get("flags") or 0,
        )
        self.uploads.update({(int(message["id"]), name): data for name, data in call.files})
        found.followup_ids.append(int(message["id"]))
        if not message["flags"] & EPHEMERAL:
            self.dispatch("MESSAGE_CREATE", self.public(message))
        found.answered.set()
        return json_response(self.public(message))

    async def _webhook_get(self, call: Call, application_id: str, token: str, message_id: str) -> web.Response:
        target = self._webhook_target(token, message_id)
        if isinstance(target, web.Response):
            return target
        _interaction, message = target
        return json_response(self.public(message))

    async def _webhook_edit(self, call: Call, application_id: str, token: str, message_id: str) -> web.Response:
        target = self._webhook_target(token, message_id)
        if isinstance(target, web.Response):
            return target
        found, message = target
        problems = validation.validate_message(call.body or {})
        if problems:
            return self._invalid(call.route, problems)
        self._apply_edit(message, call.body or {})
        message["flags"] = message["flags"] & ~(1 << 7)  # no longer "thinking"
        if not message["flags"] & EPHEMERAL:
            self.dispatch("MESSAGE_UPDATE", self.public(message))
        found.answered.set()
        return json_response(self.public(message))

    async def _webhook_delete(self, call: Call, application_id: str, token: str, message_id: str) -> web.Response:
        target = self._webhook_target(token, message_id)
        if isinstance(target, web.Response):
            return target
        found, message = target
        self._remove(message)
        found.answered.set()
        return web.Response(status=204)

    # ----- gateway ---------------------------------------------------------------------------

    @staticmethod
    def _visible(event: str, data: JSON, intents: int, bot_id: str) -> JSON | None:
        """What a session with `intents` receives of an event: nothing, or the event with message
        content removed when MESSAGE_CONTENT is missing (Discord keeps it only for mentions and DMs)."""
        if event in MESSAGE_EVENTS:
            direct = "guild_id" not in data
            if not intents & (DIRECT_MESSAGES if direct else GUILD_MESSAGES):
                return None
            mentions_bot = any(user.get("id") == bot_id for user in data.get("mentions", []))
            deletion = event in ("MESSAGE_DELETE", "MESSAGE_DELETE_BULK")
            if not deletion and not intents & MESSAGE_CONTENT and not direct and not mentions_bot:
                data = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
        elif event in GUILD_EVENTS and not intents & GUILDS:
            return None
        return data

    def dispatch(self, event: str, data: JSON) -> None:
        """Send a dispatch to the current session (kept for replay if the socket is down)."""
        session = self.current_session
        if session is None:
            return
        visible = self._visible(event, data, session.intents, self.bot_user["id"])
        if visible is None:
            return
        data = visible
        session.sequence += 1
        session.events.append((session.sequence, event, data))
        socket = session.socket
        if socket is not None and not socket.closed:
            frame = {"op": 0, "t": event, "s": session.sequence, "d": data}
            task = asyncio.get_running_loop().create_task(self._send(socket, frame))
            self._pending_sends.add(task)
            task.add_done_callback(self._pending_sends.discard)

    @staticmethod
    async def _send(socket: web.WebSocketResponse, frame: JSON) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await socket.send_str(json.dumps(frame))

    async def wait_connected(self, within: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), within)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(max_msg_size=0)
        await socket.prepare(request)
        await socket.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}))
        session: GatewaySession | None = None
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            frame = json.loads(message.data)
            op = frame.get("op")
            if op == 1:
                await socket.send_str(json.dumps({"op": 11}))
            elif op == 2:
                session = await self._identify(socket, frame["d"])
            elif op == 6:
                session = await self._resume(socket, frame["d"])
        if session is not None and session.socket is socket:
            session.socket = None
            self._connected.clear()
        return socket

    async def _identify(self, socket: web.WebSocketResponse, data: JSON) -> GatewaySession | None:
        self.identify_count += 1
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            self.refused_intents = intents & PRIVILEGED_INTENTS & ~self.privileged_intents
            await socket.close(code=4014, message=b"Disallowed intent(s).")
            return None
        session = GatewaySession(id=secrets.token_hex(16), socket=socket, intents=intents)
        self.sessions[session.id] = session
        self.current_session = session
        self.dispatch(
            "READY",
            {
                "v": 10,
                "user": {**self.bot_user, "verified": True, "mfa_enabled": False, "flags": 0},
                "guilds": [{"id": str(self.guild_id), "unavailable": True}],
                "session_id": session.id,
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(self.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "user_settings": {},
                "session_type": "normal",
            },
        )
        self.dispatch("GUILD_CREATE", self.guild_payload())
        session.identified.set()
        self._connected.set()
        return session

    async def _resume(self, socket: web.WebSocketResponse, data: JSON) -> GatewaySession | None:
        session = self.sessions.get(data.get("session_id", ""))
        if session is None or session is not self.current_session:
            await socket.send_str(json.dumps({"op": 9, "d": False}))
            return None
        self.resume_count += 1
        session.socket = socket
        last_seen = int(data.get("seq") or 0)
        for sequence, event, payload in session.events:
            if sequence > last_seen:
                await socket.send_str(json.dumps({"op": 0, "t": event, "s": sequence, "d": payload}))
        session.sequence += 1
        session.events.append((session.sequence, "RESUMED", {}))
        await socket.send_str(json.dumps({"op": 0, "t": "RESUMED", "s": session.sequence, "d": {}}))
        self._connected.set()
        return session

    async def drop_connection(self, code: int = 4000) -> None:
        """Close the socket as a network fault would; the bot should resume and get what it missed."""
        session = self.current_session
        if session is not None and session.socket is not None:
            socket, session.socket = session.socket, None
            self._connected.clear()
            await socket.close(code=code)

    async def send_reconnect(self) -> None:
        session = self.current_session
        if session is not None and session.socket is not None:
            self._connected.clear()
            await session.socket.send_str(json.dumps({"op": 7, "d": None}))

    async def send_invalid_session(self, resumable: bool = False) -> None:
        session = self.current_session
        if session is not None and session.socket is not None:
            self._connected.clear()
            if not resumable:
                self.current_session = None
            await session.socket.send_str(json.dumps({"op": 9, "d": resumable}))

    # ----- what users see --------------------------------------------------------------------

    def channel_messages(self, channel_id: int) -> list[JSON]:
        return [
            message
            for _, message in sorted(self.messages.items())
            if message["channel_id"] == str(channel_id) and not message.get("deleted")
        ]

    def ping_violations(self) -> list[str]:
        """Bot messages that could ping more than they name: no `allowed_mentions` (Discord's default pings
        everything in the text), or one that lets `@everyone`, roles or every user mentioned in the text ping."""
        found = []
        for message in self.bot_messages():
            allowed = message.get("allowed_mentions")
            if allowed is None:
                if re.search(r"<@[!&]?\d+>|@everyone|@here", message.get("content") or ""):
                    found.append(f"message {message['id']} has no allowed_mentions: {message['content'][:80]!r}")
                continue
            parse = set(allowed.get("parse") or [])
            if parse or allowed.get("roles"):
                what = sorted(parse) or "roles"
                found.append(f"message {message['id']} lets {what} ping: {message['content'][:80]!r}")
        return found

    def bot_messages(self) -> list[JSON]:
        return [message for message in self.messages.values() if message["author"]["id"] == self.bot_user["id"]]
