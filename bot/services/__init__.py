"""Domain services: plain types in and out, transactions owned here, errors from `bot.core.errors`."""

from bot.services.command_sync import CommandSyncService
from bot.services.topics import SolvedChallengeSource, TopicService

__all__ = ["CommandSyncService", "SolvedChallengeSource", "TopicService"]
