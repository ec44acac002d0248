"""The fake guild: its members, roles, channels and threads, and permissions as Discord computes them."""

from __future__ import annotations

from tests.e2e.server.state import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    EVERYONE_PERMISSIONS,
    JSON,
    LARGE_THRESHOLD,
    PRIVATE_THREAD,
    THREAD_TYPES,
    iso_now,
)


class GuildMixin:
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

    def _add_channel(self, name: str, guild_id: int | None = None) -> int:
        channel_id = self.snowflake()
        self.channels[channel_id] = {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id or self.guild_id),
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
        guild_id = self.guild_of(channel_id)
        permissions = int(self.roles[guild_id]["permissions"])
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

        everyone = overwrites.get(guild_id)
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

    def add_guild(self, guild_id: int | None = None) -> int:
        """A second (third...) server with its own @everyone and channels (general, challenges, pairing), the same
        members and other roles as the first; its id lands on whichever shard its snowflake says."""
        guild_id = guild_id or self.snowflake()
        self.other_guild_ids.append(guild_id)
        self.roles[guild_id] = self._role(guild_id, "@everyone", EVERYONE_PERMISSIONS)
        for name in ("general", "challenges", "pairing"):
            self._add_channel(name, guild_id)
        return guild_id

    def channel_named(self, guild_id: int, name: str) -> int:
        return next(
            int(channel["id"])
            for channel in self.channels.values()
            if channel.get("guild_id") == str(guild_id) and channel.get("name") == name
        )

    def guild_of(self, channel_id: int) -> int:
        """The server a channel (or thread) is in; the first server for anything else."""
        channel = self.channels.get(channel_id)
        return int(channel["guild_id"]) if channel is not None and channel.get("guild_id") else self.guild_id

    def shard_of(self, guild_id: int) -> int:
        return (guild_id >> 22) % self.shard_count

    def guild_payload(self, guild_id: int | None = None) -> JSON:
        guild_id = guild_id or self.guild_id
        everyones = {self.guild_id, *self.other_guild_ids}
        return {
            "id": str(guild_id),
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
            "roles": [role for role_id, role in self.roles.items() if role_id == guild_id or role_id not in everyones],
            "emojis": [],
            "stickers": [],
            "channels": [channel for channel in self.channels.values() if channel.get("guild_id") == str(guild_id)],
            "threads": [
                thread
                for thread in self.threads
                if thread.get("guild_id") == str(guild_id) and not thread["thread_metadata"]["archived"]
            ],
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
