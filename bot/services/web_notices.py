"""Which channels say "posts here are published on the web hub": the bot reads topics and forum guidelines, this
module decides what to record (through `WebSettingsService.set_channel_publishes`).

Only watched channels and forums count (posting there is how a challenge is logged), plus channels recorded before,
so that a channel no longer watched can still withdraw its notice. A recorded channel the bot cannot see any more
(deleted) keeps its record: what was posted there while it said so stays consented.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.services.guild_settings import GuildSettingsService
from bot.services.web import WebSettingsService

log = logging.getLogger(__name__)


async def record_notices(
    guild_settings: GuildSettingsService, web: WebSettingsService, guild_id: int, seen: Mapping[int, bool]
) -> frozenset[int]:
    """`seen`: every channel of the server the bot can see, and whether it says posts are published *and* everyone
    can read it. Records what changed; returns the channels that publish now."""
    settings = await guild_settings.get(guild_id)
    # A watched forum's guidelines are its notice, as a watched channel's topic is.
    watched = settings.challenge_channel_ids | settings.challenge_forum_ids
    recorded = await web.published_channels(guild_id)
    publishing = set()
    for channel_id in sorted(watched | recorded.keys()):
        says = seen.get(channel_id, channel_id in recorded)
        if says != (channel_id in recorded):
            await web.set_channel_publishes(guild_id, channel_id, says)
            log.info("channel %s of server %s %s", channel_id, guild_id, "publishes" if says else "no longer publishes")
        if says:
            publishing.add(channel_id)
    return frozenset(publishing)
