"""Pairing and study sessions: the queue, matching, pairs, check-ins, sessions, reminders and ratings.

Plain types in and out; every state change is one transaction; the matcher itself is the pure
`bot.pairing.matching`. `requests` holds the queue and its rounds, `sessions` what pairs do afterwards (sessions,
invitations, notices, ratings, check-ins); `PairingService` is both, the one object the cogs hold.
"""

from __future__ import annotations

from bot.services.pairing._common import BATCH, MAX_TOPICS, UNTIL_RESUMED
from bot.services.pairing.requests import MAX_PAUSE_DAYS, PairingRequests, ProfileTracks
from bot.services.pairing.sessions import (
    INVITATION_LIFETIME,
    MAX_DURATION,
    MAX_OPEN_INVITATIONS,
    MIN_DURATION,
    PairingSessions,
)
from bot.services.pairing.views import (
    AutoPaused,
    CheckinView,
    ExpiredRequest,
    Learner,
    MatchView,
    PairAsk,
    PairStats,
    PastPair,
    RequestOutcome,
    SessionNoticeView,
    SessionView,
    StatusView,
    WaitingView,
    notice_nonce,
)


class PairingService(PairingRequests, PairingSessions):
    """The pairing service: requests and rounds, and sessions and check-ins, over one database and one clock."""


__all__ = [
    "BATCH",
    "INVITATION_LIFETIME",
    "MAX_DURATION",
    "MAX_OPEN_INVITATIONS",
    "MAX_PAUSE_DAYS",
    "MAX_TOPICS",
    "MIN_DURATION",
    "UNTIL_RESUMED",
    "AutoPaused",
    "CheckinView",
    "ExpiredRequest",
    "Learner",
    "MatchView",
    "PairAsk",
    "PairStats",
    "PairingService",
    "PastPair",
    "ProfileTracks",
    "RequestOutcome",
    "SessionNoticeView",
    "SessionView",
    "StatusView",
    "WaitingView",
    "notice_nonce",
]
