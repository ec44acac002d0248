"""Threads: opened from a message or in a channel, and their members."""

from __future__ import annotations

from aiohttp import web

from tests.e2e import validation
from tests.e2e.server.state import (
    JSON,
    THREAD_TYPES,
    Call,
    iso_now,
    json_response,
)


class ThreadsMixin:
    def _new_thread(self, parent_id: int, body: JSON, thread_id: int | None = None) -> JSON:
        thread_id = thread_id or self.snowflake()
        thread = {
            "id": str(thread_id),
            "type": body.get("type", 11),
            "guild_id": str(self.guild_of(parent_id)),
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
        if self.channels[int(channel_id)].get("type") == 15:
            return await self._forum_post(call, self.channels[int(channel_id)])
        return json_response(self._new_thread(int(channel_id), call.body or {}), status=201)

    async def _add_thread_member(self, call: Call, channel_id: str, user_id: str) -> web.Response:
        thread = self.channels.get(int(channel_id))
        if thread is None or thread.get("type") not in THREAD_TYPES:
            return json_response({"message": "Unknown Channel", "code": 10003}, status=404)
        if int(user_id) not in self.members:
            return json_response({"message": "Unknown Member", "code": 10007}, status=404)
        self.thread_members.setdefault(int(channel_id), set()).add(int(user_id))
        return web.Response(status=204)
