"""The challenge log: the service, its read models, the in-channel writer and its batch plan."""

from bot.challenges.parsing import ForumPostText
from bot.services.challenges.exports import parse_since
from bot.services.challenges.ingest import WriterPolicy
from bot.services.challenges.service import MAX_TRIED, NEW_CHALLENGES_PER_HOUR, PAGE_SIZE, ChallengeService
from bot.services.challenges.solved import SolvedChallengeLog
from bot.services.challenges.views import (
    ANONYMOUS,
    ERASED_SOLUTION,
    ERASED_TITLE,
    ChallengePage,
    ChallengeStatus,
    ChallengeView,
    ExportedFile,
    IncomingMessage,
    IngestResult,
    LeaderboardEntry,
    Logged,
    Nudge,
    Person,
    SearchResult,
    SimilarChallenge,
    SolutionLogged,
    SolutionView,
    challenge_view,
)

__all__ = [
    "ANONYMOUS",
    "ERASED_SOLUTION",
    "ERASED_TITLE",
    "MAX_TRIED",
    "NEW_CHALLENGES_PER_HOUR",
    "PAGE_SIZE",
    "ChallengePage",
    "ChallengeService",
    "ChallengeStatus",
    "ChallengeView",
    "ExportedFile",
    "ForumPostText",
    "IncomingMessage",
    "IngestResult",
    "LeaderboardEntry",
    "Logged",
    "Nudge",
    "Person",
    "SearchResult",
    "SimilarChallenge",
    "SolutionLogged",
    "SolutionView",
    "SolvedChallengeLog",
    "WriterPolicy",
    "challenge_view",
    "parse_since",
]
