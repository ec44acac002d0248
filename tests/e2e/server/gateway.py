"""The gateway: identify, resume, dispatch with intents applied, and the faults a test can cause."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets

from aiohttp import WSMsgType, web

from tests.e2e.server.state import (
    DIRECT_MESSAGES,
    GUILD_EVENTS,
    GUILD_MESSAGE_REACTIONS,
    GUILD_MESSAGES,
    GUILDS,
    JSON,
    MESSAGE_CONTENT,
    MESSAGE_EVENTS,
    PRIVILEGED_INTENTS,
    REACTION_EVENTS,
    GatewaySession,
)


class GatewayMixin:
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
        elif (event in REACTION_EVENTS and not intents & GUILD_MESSAGE_REACTIONS) or (
            event in GUILD_EVENTS and not intents & GUILDS
        ):
            return None
        return data

    def dispatch(self, event: str, data: JSON, *, to: GatewaySession | None = None) -> None:
        """Send a dispatch to the current session (kept for replay if the socket is down); with shards, to the
        session of the shard of the event's guild (shard 0 for direct messages), as Discord routes them."""
        session = to or self.current_session
        if self.shard_count > 1 and to is None:
            guild_id = data.get("guild_id") or (data.get("id") if event.startswith("GUILD_") else None)
            session = self.shard_sessions.get(self.shard_of(int(guild_id)) if guild_id else 0)
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
        shard_id, shard_count = data.get("shard") or (0, 1)
        if shard_count != self.shard_count or not 0 <= shard_id < shard_count:
            await socket.close(code=4011 if shard_count < self.shard_count else 4010, message=b"Invalid shard.")
            return None
        session = GatewaySession(
            id=secrets.token_hex(16), socket=socket, intents=intents, shard=(shard_id, shard_count)
        )
        self.sessions[session.id] = session
        self.current_session = session
        self.shard_sessions[shard_id] = session
        guilds = [guild for guild in (self.guild_id, *self.other_guild_ids) if self.shard_of(guild) == shard_id]
        self.dispatch(
            "READY",
            {
                "v": 10,
                "user": {**self.bot_user, "verified": True, "mfa_enabled": False, "flags": 0},
                "guilds": [{"id": str(guild), "unavailable": True} for guild in guilds],
                "shard": [shard_id, shard_count],
                "session_id": session.id,
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(self.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "user_settings": {},
                "session_type": "normal",
            },
            to=session,
        )
        for guild in guilds:
            self.dispatch("GUILD_CREATE", self.guild_payload(guild), to=session)
        session.identified.set()
        self._connected.set()
        return session

    async def _resume(self, socket: web.WebSocketResponse, data: JSON) -> GatewaySession | None:
        session = self.sessions.get(data.get("session_id", ""))
        live = session is self.current_session or (
            self.shard_count > 1 and session is not None and self.shard_sessions.get(session.shard[0]) is session
        )
        if session is None or not live:
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
