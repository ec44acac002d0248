"""Members, DM channels and channels by id."""

from __future__ import annotations

from aiohttp import web

from tests.e2e.server.state import (
    Call,
    json_response,
)


class LookupsMixin:
    async def _get_member(self, call: Call, guild_id: str, user_id: str) -> web.Response:
        member = self.members.get(int(user_id)) if int(guild_id) in (self.guild_id, *self.other_guild_ids) else None
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
