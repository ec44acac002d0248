"""Interactions: creating them, their callbacks (the 3-second rule) and the webhook follow-ups."""

from __future__ import annotations

import secrets
import time
from typing import Any

from aiohttp import web

from tests.e2e import validation
from tests.e2e.server.state import (
    ALL_PERMISSIONS,
    EPHEMERAL,
    INTERACTION_ACK_SECONDS,
    INTERACTION_TOKEN_SECONDS,
    JSON,
    Call,
    Interaction,
    Violation,
    json_response,
)


class InteractionsMixin:
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
