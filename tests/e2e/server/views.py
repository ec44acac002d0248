"""What users see: a channel's messages, the bot's messages and the pings they could cause."""

from __future__ import annotations

import re

from tests.e2e.server.state import (
    JSON,
)


class ViewsMixin:
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
