"""Forum channels (type 15): their tags, their posts (threads whose starter message shares the thread's id),
thread edits (tags, archived, locked), the active and archived thread listings, and Discord's rules for them.

Rules as Discord applies them: a post holds at most 5 tags, each one of its forum's `available_tags`; a tag marked
`moderated` is applied only with Manage Threads; editing another member's post (its tags, archiving, locking) needs
Manage Threads; editing a forum's tags needs Manage Channels; a message to an archived post reopens it unless it is
locked (then it needs Manage Threads too).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.e2e import validation
from tests.e2e.server.state import JSON, Call, iso_now, json_response

FORUM = 15
PUBLIC_THREAD = 11
MANAGE_CHANNELS = 1 << 4
READ_MESSAGE_HISTORY = 1 << 16
MANAGE_THREADS = 1 << 34
SEND_MESSAGES_IN_THREADS = 1 << 38
MAX_TAGS_PER_POST = 5
MAX_TAGS_PER_FORUM = 20
MAX_TAG_NAME = 20
ARCHIVED_PAGE = 50  # Discord's default `limit` for the archived listing; at most 100


def forbidden() -> web.Response:
    return json_response({"message": "Missing Permissions", "code": 50013}, status=403)


class ForumsMixin:
    # ----- fixtures --------------------------------------------------------------------------

    def add_forum(
        self,
        name: str,
        tags: list[str] | None = None,
        *,
        moderated: tuple[str, ...] = (),
        bot_manages: bool = True,
        announce: bool = True,
    ) -> int:
        """A forum channel with tags named `tags` (those in `moderated` need Manage Threads). With `bot_manages`,
        an overwrite gives the bot Manage Threads and Manage Channels there, as a server that lets it run the forum
        does; without, it has only @everyone's permissions."""
        forum_id = self._add_channel(name)
        forum = self.channels[forum_id]
        forum.update(
            type=FORUM,
            available_tags=[self._tag(tag, moderated=tag in moderated) for tag in tags or []],
            default_reaction_emoji=None,
            default_thread_rate_limit_per_user=0,
            default_sort_order=None,
            default_forum_layout=0,
        )
        if bot_manages:
            allow = MANAGE_THREADS | MANAGE_CHANNELS
            forum["permission_overwrites"] = [{"id": self.bot_user["id"], "type": 1, "allow": str(allow), "deny": "0"}]
        if announce:
            self.dispatch("CHANNEL_CREATE", forum)
        return forum_id

    def _tag(self, name: str, *, moderated: bool = False) -> JSON:
        return {"id": str(self.snowflake()), "name": name, "moderated": moderated, "emoji_id": None, "emoji_name": None}

    def tag_id(self, forum_id: int, name: str) -> int:
        tag = next(tag for tag in self.channels[forum_id]["available_tags"] if tag["name"] == name)
        return int(tag["id"])

    def tag_names(self, thread_id: int) -> list[str]:
        """The names of the tags a post carries, in order."""
        thread = self.channels[thread_id]
        names = {tag["id"]: tag["name"] for tag in self.channels[int(thread["parent_id"])]["available_tags"]}
        return [names[tag] for tag in thread.get("applied_tags", [])]

    def create_post(
        self,
        forum_id: int,
        author_id: int,
        title: str,
        content: str,
        *,
        tags: list[str] = (),  # type: ignore[assignment]
        repeat_creation: int = 0,
        announce: bool = True,
        archived: bool = False,
    ) -> tuple[JSON, JSON]:
        """A member's post: the thread (THREAD_CREATE, `newly_created`), then its starter message (MESSAGE_CREATE),
        which shares the thread's id. `repeat_creation` sends THREAD_CREATE again that many times, as the gateway
        may. Without `announce` (the bot away) nothing is dispatched; `archived` posts are archived already."""
        member = self.members[author_id]
        tag_ids = [str(self.tag_id(forum_id, name)) for name in tags]
        thread = self._post_thread(forum_id, title, tag_ids, owner_id=author_id)
        starter = self._store_message(int(thread["id"]), {"content": content}, author=member["user"])
        # The starter message has the thread's id (Discord's forum posts: GET /channels/{t}/messages/{t}).
        del self.messages[int(starter["id"])]
        starter["id"] = thread["id"]
        self.messages[int(thread["id"])] = starter
        thread["last_message_id"] = thread["id"]
        if archived:
            self._set_archived(thread, True)
        if announce:
            for _ in range(1 + repeat_creation):
                self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
            self.dispatch("MESSAGE_CREATE", {**self.public(starter), "member": member})
        return thread, starter

    def _post_thread(self, forum_id: int, title: str, tag_ids: list[str], *, owner_id: int) -> JSON:
        thread_id = self.snowflake()
        thread: JSON = {
            "id": str(thread_id),
            "type": PUBLIC_THREAD,
            "guild_id": str(self.guild_id),
            "parent_id": str(forum_id),
            "owner_id": str(owner_id),
            "name": title,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "applied_tags": tag_ids,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 4320,
                "archive_timestamp": iso_now(),
                "locked": False,
                "create_timestamp": iso_now(),
            },
        }
        self.channels[thread_id] = thread
        self.threads.append(thread)
        return thread

    def _set_archived(self, thread: JSON, archived: bool) -> None:
        metadata = thread["thread_metadata"]
        if metadata["archived"] != archived:
            metadata["archived"] = archived
            # Distinct, increasing archive times, as the archived listing pages by them.
            self._archive_clock = max(getattr(self, "_archive_clock", 0.0) + 0.001, datetime.now(UTC).timestamp())
            metadata["archive_timestamp"] = datetime.fromtimestamp(self._archive_clock, UTC).isoformat()

    def edit_post(self, thread_id: int, **changes: Any) -> None:
        """A member or moderator changes a post (tags by name, archived, locked, name): THREAD_UPDATE."""
        thread = self.channels[thread_id]
        if "tags" in changes:
            forum_id = int(thread["parent_id"])
            thread["applied_tags"] = [str(self.tag_id(forum_id, name)) for name in changes.pop("tags")]
        if "archived" in changes:
            self._set_archived(thread, bool(changes.pop("archived")))
        if "locked" in changes:
            thread["thread_metadata"]["locked"] = bool(changes.pop("locked"))
        thread.update(changes)
        self.dispatch("THREAD_UPDATE", thread)

    def delete_post(self, thread_id: int) -> None:
        """A moderator deletes a post: THREAD_DELETE only (Discord sends no MESSAGE_DELETE for its messages)."""
        thread = self.channels.pop(thread_id)
        self.threads.remove(thread)
        for message in self.messages.values():
            if message["channel_id"] == str(thread_id):
                message["deleted"] = True
        payload = {key: thread[key] for key in ("id", "guild_id", "parent_id", "type")}
        self.dispatch("THREAD_DELETE", payload)

    def react(self, user_id: int, message: JSON, emoji: str, *, remove: bool = False) -> None:
        """A member adds (or removes) a reaction: MESSAGE_REACTION_ADD / _REMOVE."""
        payload: JSON = {
            "user_id": str(user_id),
            "channel_id": message["channel_id"],
            "message_id": message["id"],
            "guild_id": str(self.guild_id),
            "emoji": {"id": None, "name": emoji},
            "burst": False,
            "type": 0,
        }
        if not remove:
            payload["member"] = self.members[user_id]
            payload["message_author_id"] = message["author"]["id"]
        self.dispatch("MESSAGE_REACTION_REMOVE" if remove else "MESSAGE_REACTION_ADD", payload)

    # ----- REST ------------------------------------------------------------------------------

    def _bot_may(self, channel_id: int, permission: int) -> bool:
        return bool(self.permissions_in(int(self.bot_user["id"]), channel_id) & permission)

    def _tag_problems(self, forum: JSON, tag_ids: list[Any], channel_id: int, before: list[str]) -> web.Response | None:
        """Discord's answer to a post's tags that break its rules, or None."""
        known = {tag["id"]: tag for tag in forum.get("available_tags", [])}
        problems: validation.Problems = []
        if len(tag_ids) > MAX_TAGS_PER_POST:
            problems.append(("applied_tags", f"Must be {MAX_TAGS_PER_POST} or fewer in length."))
        for index, tag in enumerate(tag_ids):
            if str(tag) not in known:
                problems.append((f"applied_tags.{index}", "Unknown tag"))
        if problems:
            return self._invalid(f"tags of {channel_id}", problems)
        added = {str(tag) for tag in tag_ids} ^ set(before)
        if any(known[tag]["moderated"] for tag in added if tag in known) and not self._bot_may(
            channel_id, MANAGE_THREADS
        ):
            return forbidden()
        return None

    async def _forum_post(self, call: Call, forum: JSON) -> web.Response:
        """POST /channels/{forum}/threads: a post by the bot, with its starter message."""
        body = call.body or {}
        message = body.get("message") or {}
        problems = validation.validate_message(message, "message")
        if not message.get("content") and not message.get("embeds"):
            problems.append(("message", "Cannot send an empty message"))
        if problems:
            return self._invalid(call.route, problems)
        refused = self._tag_problems(forum, body.get("applied_tags") or [], int(forum["id"]), [])
        if refused is not None:
            return refused
        tags = [str(tag) for tag in body.get("applied_tags") or []]
        thread = self._post_thread(int(forum["id"]), body["name"], tags, owner_id=int(self.bot_user["id"]))
        starter = self._store_message(int(thread["id"]), message)
        del self.messages[int(starter["id"])]
        starter["id"] = thread["id"]
        self.messages[int(thread["id"])] = starter
        thread["last_message_id"] = thread["id"]
        self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        self.dispatch("MESSAGE_CREATE", self.public(starter))
        return json_response({**thread, "message": self.public(starter)}, status=201)

    async def _edit_channel(self, call: Call, channel_id: str) -> web.Response:
        """PATCH /channels/{id}: a thread's tags, archived and locked flags and name, or a forum's tags."""
        channel = self.channels.get(int(channel_id))
        if channel is None:
            return json_response({"message": "Unknown Channel", "code": 10003}, status=404)
        body = call.body or {}
        if channel.get("type") == FORUM:
            return self._edit_forum(call, channel, body)
        if channel.get("type") not in (10, 11, 12):
            return json_response({"message": "Missing Access", "code": 50001}, status=403)
        owner = channel.get("owner_id") == self.bot_user["id"]
        manages = self._bot_may(int(channel_id), MANAGE_THREADS)
        metadata = channel["thread_metadata"]
        if metadata["locked"] and not manages:
            return forbidden()
        if "applied_tags" in body and body["applied_tags"] is not None:
            if not (owner or manages):
                return forbidden()
            forum = self.channels[int(channel["parent_id"])]
            refused = self._tag_problems(forum, body["applied_tags"], int(channel_id), channel.get("applied_tags", []))
            if refused is not None:
                return refused
        if ("locked" in body or "archived" in body) and not (owner or manages):
            return forbidden()
        if body.get("locked") and not manages:
            return forbidden()
        if body.get("applied_tags") is not None:
            channel["applied_tags"] = [str(tag) for tag in body["applied_tags"]]
        if body.get("name"):
            channel["name"] = body["name"]
        if body.get("locked") is not None:
            metadata["locked"] = bool(body["locked"])
        if body.get("archived") is not None:
            self._set_archived(channel, bool(body["archived"]))
        self.dispatch("THREAD_UPDATE", channel)
        return json_response(channel)

    def _edit_forum(self, call: Call, forum: JSON, body: JSON) -> web.Response:
        if not self._bot_may(int(forum["id"]), MANAGE_CHANNELS):
            return forbidden()
        tags = body.get("available_tags")
        if tags is not None:
            problems: validation.Problems = []
            if len(tags) > MAX_TAGS_PER_FORUM:
                problems.append(("available_tags", f"Must be {MAX_TAGS_PER_FORUM} or fewer in length."))
            for index, tag in enumerate(tags):
                if not 1 <= len(tag.get("name") or "") <= MAX_TAG_NAME:
                    problems.append((f"available_tags.{index}.name", f"Must be 1 to {MAX_TAG_NAME} in length."))
            if problems:
                return self._invalid(call.route, problems)
            forum["available_tags"] = [
                {
                    "id": str(tag.get("id") or self.snowflake()),
                    "name": tag["name"],
                    "moderated": bool(tag.get("moderated")),
                    "emoji_id": tag.get("emoji_id"),
                    "emoji_name": tag.get("emoji_name"),
                }
                for tag in tags
            ]
        self.dispatch("CHANNEL_UPDATE", forum)
        return json_response(forum)

    async def _active_threads(self, call: Call, guild_id: str) -> web.Response:
        threads = [thread for thread in self.threads if not thread["thread_metadata"]["archived"]]
        return json_response({"threads": threads, "members": []})

    async def _archived_public(self, call: Call, channel_id: str) -> web.Response:
        """GET /channels/{id}/threads/archived/public: newest archived first, before `before` (an ISO time)."""
        if int(channel_id) not in self.channels:
            return json_response({"message": "Unknown Channel", "code": 10003}, status=404)
        if not self._bot_may(int(channel_id), READ_MESSAGE_HISTORY):
            return forbidden()
        limit = int(call.query.get("limit", ARCHIVED_PAGE))
        if not 2 <= limit <= 100:
            return self._invalid(call.route, [("limit", "Must be between 2 and 100.")])
        before = call.query.get("before")
        cutoff = datetime.fromisoformat(before) if before else datetime.now(UTC) + timedelta(days=1)
        archived = sorted(
            (
                thread
                for thread in self.threads
                if thread["parent_id"] == channel_id
                and thread["type"] == PUBLIC_THREAD
                and thread["thread_metadata"]["archived"]
                and datetime.fromisoformat(thread["thread_metadata"]["archive_timestamp"]) < cutoff
            ),
            key=lambda thread: thread["thread_metadata"]["archive_timestamp"],
            reverse=True,
        )
        return json_response({"threads": archived[:limit], "members": [], "has_more": len(archived) > limit})

    def _message_in_thread(self, channel_id: int) -> web.Response | None:
        """Before the bot posts in a thread: an archived post reopens, unless locked (then it needs Manage
        Threads); None when the message may go."""
        thread = self.channels.get(channel_id)
        if thread is None or "thread_metadata" not in thread:
            return None
        metadata = thread["thread_metadata"]
        if metadata["archived"]:
            if metadata["locked"] and not self._bot_may(channel_id, MANAGE_THREADS):
                return json_response({"message": "Thread is locked", "code": 50083}, status=400)
            self._set_archived(thread, False)
            self.dispatch("THREAD_UPDATE", thread)
        return None
