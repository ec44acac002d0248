"""Messages: create, read (one, or history), edit, delete, bulk deletion, reactions; who a message pings."""

from __future__ import annotations

import re

from aiohttp import web

from tests.e2e import validation
from tests.e2e.server.state import (
    EPHEMERAL,
    JSON,
    Call,
    Interaction,
    iso_now,
    json_response,
)


class MessagesMixin:
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
            "guild_id": str(self.guild_of(channel_id)),
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
        refused = self._message_in_thread(channel)
        if refused is not None:
            return refused
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
            {
                "id": message["id"],
                "channel_id": message["channel_id"],
                "guild_id": str(self.guild_of(int(message["channel_id"]))),
            },
        )

    def bulk_delete(self, channel_id: int, message_ids: list[int]) -> None:
        """A moderator's purge, or a ban that deletes the member's recent messages: Discord sends one
        MESSAGE_DELETE_BULK (no MESSAGE_DELETE per message). With the bot away, nobody hears it."""
        removed = [message_id for message_id in message_ids if self._find_message(str(channel_id), str(message_id))]
        for message_id in removed:
            self.messages[message_id]["deleted"] = True
        self.dispatch(
            "MESSAGE_DELETE_BULK",
            {
                "ids": [str(i) for i in removed],
                "channel_id": str(channel_id),
                "guild_id": str(self.guild_of(channel_id)),
            },
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
