"""The tables. Invariants live in the database (keys, uniques, checks), not in Python alone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db.base import Base, UTCDateTime, utcnow
from bot.db.pairing_types import SlugList, WeekSpans
from bot.pairing.availability import WeeklyInterval
from bot.pairing.states import NoticeKind, RequestState, SessionState, sql_values


class CommandSyncState(Base):
    """The last application-command payload synced per scope, so unchanged commands are not re-synced."""

    __tablename__ = "command_sync_state"
    __table_args__ = (CheckConstraint("length(payload_hash) = 64", name="payload_hash_is_sha256"),)

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    payload_hash: Mapped[str] = mapped_column(String(64))
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GuildSettings(Base):
    """Per-server settings from `/nexus setup`; environment values are the defaults."""

    __tablename__ = "guild_settings"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    challenge_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    challenge_forum_id: Mapped[int | None] = mapped_column(BigInteger)
    pairing_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    moderator_role_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # The weekly digest: where, which weekday (0 = Monday) and hour (UTC); none without a channel.
    digest_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    digest_day: Mapped[int | None] = mapped_column(Integer)
    digest_hour: Mapped[int | None] = mapped_column(Integer)
    # When the schedule was last set: a week whose moment came before it is not posted (no surprise post at setup).
    digest_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The web hub: nothing of the server is published until a manager turns it on (`/nexus setup web:`).
    web_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Its address on the hub, from its name at the first opt-in; kept afterwards so links stay valid.
    web_slug: Mapped[str | None] = mapped_column(String(60), index=True, unique=True)

    __table_args__ = (
        CheckConstraint("digest_day IS NULL OR digest_day BETWEEN 0 AND 6", name="digest_day_range"),
        CheckConstraint("digest_hour IS NULL OR digest_hour BETWEEN 0 AND 23", name="digest_hour_range"),
    )


class ForumPost(Base):
    """A forum post logged as a challenge (the challenge whose source message is `thread_id`, the starter message
    sharing the thread's id): its forum, the accepted solution its "solved" note was posted for, and when Nexus
    archived it."""

    __tablename__ = "forum_posts"
    __table_args__ = (Index("ix_forum_posts_guild_forum", "guild_id", "forum_id"),)

    thread_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    forum_id: Mapped[int] = mapped_column(BigInteger)
    noted_solution_id: Mapped[int | None] = mapped_column(BigInteger)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DigestPost(Base):
    """A server's weekly digest, claimed before it is sent: one row per server and ISO week is what makes it go
    out at most once. `claimed` until Discord took it (`sent`) or the channel refused the bot (`skipped`); a claim
    whose sender died is taken over after a lease, and the resend carries the same nonce."""

    __tablename__ = "digest_posts"
    __table_args__ = (CheckConstraint("state IN ('claimed', 'sent', 'skipped')", name="state_is_known"),)

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    week: Mapped[str] = mapped_column(String(10), primary_key=True)
    channel_id: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(10), default="claimed")
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message_id: Mapped[int | None] = mapped_column(BigInteger)


class Challenge(Base):
    __tablename__ = "challenges"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'solved')", name="status_is_known"),
        CheckConstraint("length(trim(title)) BETWEEN 1 AND 100", name="title_length"),
        CheckConstraint("length(details) <= 4000", name="details_length"),
        CheckConstraint("tried IS NULL OR length(tried) <= 1000", name="tried_length"),
        Index("ix_challenges_queue", "guild_id", "status", "created_at"),
        Index("ix_challenges_author", "guild_id", "author_id"),
        # A server's challenges in id order: export and the search's candidate walk.
        Index("ix_challenges_guild_order", "guild_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    # 0 once `/nexus forget-me` unlinked the entry from its post (no Discord channel has id 0); kept NOT NULL
    # because SQLite can only relax it by rebuilding the table, which its foreign keys would cascade through.
    channel_id: Mapped[int] = mapped_column(BigInteger)
    # None once the author asked to be forgotten: the text stays useful, the authorship goes.
    author_id: Mapped[int | None] = mapped_column(BigInteger)
    author_name: Mapped[str] = mapped_column(String(100))
    # A message is logged at most once, whatever replays, backfills or double clicks deliver.
    source_message_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    title: Mapped[str] = mapped_column(String(100))
    details: Mapped[str] = mapped_column(Text, default="")
    tried: Mapped[str | None] = mapped_column(Text)
    error_terms: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    solved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_by: Mapped[int | None] = mapped_column(BigInteger)
    # When the "still open" nudge and the "did one work?" question were sent: each at most once.
    nudged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    asked_author_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    topics: Mapped[list[ChallengeTopic]] = relationship(
        back_populates="challenge", cascade="all, delete-orphan", order_by="ChallengeTopic.position"
    )
    solutions: Mapped[list[Solution]] = relationship(
        back_populates="challenge", cascade="all, delete-orphan", order_by="Solution.id"
    )


class ChallengeTopic(Base):
    __tablename__ = "challenge_topics"
    __table_args__ = (Index("ix_challenge_topics_slug", "slug", "challenge_id"),)

    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"), primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    challenge: Mapped[Challenge] = relationship(back_populates="topics")


class Solution(Base):
    __tablename__ = "solutions"
    __table_args__ = (
        CheckConstraint("length(trim(body)) BETWEEN 1 AND 4000", name="body_length"),
        # One accepted solution per challenge, enforced by the database itself.
        Index(
            "uq_solutions_one_accepted",
            "challenge_id",
            unique=True,
            sqlite_where=text("accepted"),
            postgresql_where=text("accepted"),
        ),
        Index("ix_solutions_leaderboard", "guild_id", "accepted", "accepted_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"), index=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    author_id: Mapped[int | None] = mapped_column(BigInteger)
    author_name: Mapped[str] = mapped_column(String(100))
    source_message_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # Where that message was (a channel or a thread), for re-checking it after a restart; None if unknown.
    source_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(Text)
    accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    challenge: Mapped[Challenge] = relationship(back_populates="solutions")


class ForgottenMessage(Base):
    """A message whose entry `/nexus forget-me` unlinked from it, so that no replay, backfill or menu logs it again.
    Nothing here says which entry it was; the row lapses with the retention period (`NEXUS_RETENTION_DAYS`)."""

    __tablename__ = "forgotten_messages"
    __table_args__ = (Index("ix_forgotten_messages_forgotten_at", "forgotten_at"),)

    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    forgotten_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MemberChoices(Base):
    """A member's own choices in one server (`/nexus profile`): whether their entries may be published on the web
    hub, and whether they are credited by name there and in others' READMEs. Deleted by `/nexus forget-me`."""

    __tablename__ = "member_choices"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # None until the member chooses: then the server's default applies (off unless its guidelines say published).
    web_consent: Mapped[bool | None] = mapped_column(Boolean)
    credit: Mapped[bool] = mapped_column(Boolean, default=False)
    # The name a credit shows: their display name when they last ran `/nexus profile`.
    display_name: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PublishedChannel(Base):
    """A channel whose topic or forum guidelines say posts are published on the web hub, since when: an entry posted
    there from then on counts as its author's consent, unless the author said `/nexus profile web:off`."""

    __tablename__ = "published_channels"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    channel_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    since: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChannelCursor(Base):
    """The newest message seen in a watched channel, so backfill reads only what was missed."""

    __tablename__ = "channel_cursors"

    channel_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    last_message_id: Mapped[int] = mapped_column(BigInteger)


# ----- pairing ---------------------------------------------------------------------------------------------------


class LearnerProfile(Base):
    """What a learner told the pairing queue last time: kept between requests, deleted by `/nexus forget-me`."""

    __tablename__ = "learner_profiles"
    __table_args__ = (
        CheckConstraint("track IN ('frontend', 'backend')", name="track_is_known"),
        CheckConstraint("missed_checkins >= 0", name="missed_checkins_not_negative"),
    )

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    display_name: Mapped[str] = mapped_column(String(100))
    track: Mapped[str] = mapped_column(String(10))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # As typed (re-parsed for the echo) and as UTC weekly intervals (read by the matcher); () is "given, no hours".
    availability_text: Mapped[str | None] = mapped_column(String(300))
    availability_utc: Mapped[tuple[WeeklyInterval, ...] | None] = mapped_column(WeekSpans())
    # Out of matching until then; a far-future value means "until /pair resume".
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    missed_checkins: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PairRequest(Base):
    """A place in the pairing queue: waiting → matched | cancelled | expired."""

    __tablename__ = "pair_requests"
    __table_args__ = (
        CheckConstraint(f"state IN ({sql_values(RequestState)})", name="state_is_known"),
        CheckConstraint("track IN ('frontend', 'backend')", name="track_is_known"),
        CheckConstraint("looking_for IN ('frontend', 'backend', 'any')", name="looking_for_is_known"),
        CheckConstraint("(state = 'waiting') = (closed_at IS NULL)", name="closed_when_not_waiting"),
        # One open request per learner and server, whatever races between two clicks.
        Index(
            "uq_pair_requests_one_waiting",
            "guild_id",
            "user_id",
            unique=True,
            sqlite_where=text("state = 'waiting'"),
            postgresql_where=text("state = 'waiting'"),
        ),
        Index("ix_pair_requests_queue", "guild_id", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    track: Mapped[str] = mapped_column(String(10))
    looking_for: Mapped[str] = mapped_column(String(10))
    topics: Mapped[tuple[str, ...]] = mapped_column(SlugList(400), default=())
    state: Mapped[str] = mapped_column(String(10), default=RequestState.WAITING)
    challenge_id: Mapped[int | None] = mapped_column(ForeignKey("challenges.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the "your request expired" notice went out: at most once.
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Pair(Base):
    """Two learners the matcher put together; also the history that keeps them from being paired again."""

    __tablename__ = "pairs"
    __table_args__ = (
        CheckConstraint("user_low < user_high", name="users_ordered"),
        CheckConstraint("ended_at IS NULL OR ended_at >= matched_at", name="ends_after_match"),
        Index("ix_pairs_history", "guild_id", "user_low", "user_high"),
        Index("ix_pairs_user_high", "guild_id", "user_high"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    # Ordered, so "have these two met before?" is one index lookup.
    user_low: Mapped[int] = mapped_column(BigInteger)
    user_high: Mapped[int] = mapped_column(BigInteger)
    # Each request ends in at most one pair: a second match of the same request is refused by the database.
    request_low_id: Mapped[int | None] = mapped_column(ForeignKey("pair_requests.id", ondelete="SET NULL"), unique=True)
    request_high_id: Mapped[int | None] = mapped_column(
        ForeignKey("pair_requests.id", ondelete="SET NULL"), unique=True
    )
    shared_topics: Mapped[tuple[str, ...]] = mapped_column(SlugList(400), default=())
    overlap_minutes: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[float] = mapped_column(default=0.0)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    # Set once both learners were told (thread or DMs), so a crash before that retries the announcement.
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_by: Mapped[int | None] = mapped_column(BigInteger)


class PairCheckin(Base):
    """ "Did you meet?", asked of each learner of a pair once; unanswered ones count towards an automatic pause."""

    __tablename__ = "pair_checkins"

    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    met: Mapped[bool | None] = mapped_column(Boolean)
    # Set when the answer window passed without an answer, so it is counted as ignored exactly once.
    ignored_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StudySession(Base):
    """A study session. Booked with a current partner it is `scheduled` at once; with anyone else it is `proposed`
    until the invitee accepts (→ scheduled) or declines, lets it lapse or the organiser withdraws it. Only scheduled
    sessions are reminded, and only those of a pair are rated."""

    __tablename__ = "study_sessions"
    __table_args__ = (
        CheckConstraint(f"state IN ({sql_values(SessionState)})", name="state_is_known"),
        CheckConstraint("state <> 'proposed' OR respond_by IS NOT NULL", name="proposal_has_deadline"),
        CheckConstraint("duration_minutes BETWEEN 15 AND 480", name="duration_range"),
        CheckConstraint("organiser_id <> partner_id", name="not_with_oneself"),
        Index("ix_study_sessions_starts", "state", "starts_at"),
        Index("ix_study_sessions_respond_by", "state", "respond_by"),
        Index("ix_study_sessions_organiser", "guild_id", "organiser_id", "starts_at"),
        Index("ix_study_sessions_partner", "guild_id", "partner_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    pair_id: Mapped[int | None] = mapped_column(ForeignKey("pairs.id", ondelete="SET NULL"))
    organiser_id: Mapped[int] = mapped_column(BigInteger)
    partner_id: Mapped[int] = mapped_column(BigInteger)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    topic: Mapped[str | None] = mapped_column(String(60))
    state: Mapped[str] = mapped_column(String(10), default=SessionState.SCHEDULED)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancelled_by: Mapped[int | None] = mapped_column(BigInteger)
    # An invitation's deadline; set for every session that started as one.
    respond_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When an invitation was accepted, declined or withdrawn.
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the organiser was told their invitation lapsed: at most once.
    lapse_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SessionNotice(Base):
    """A reminder or rating question for one participant: the row is written before the send and stamped after,
    so a crash in between resends with the same nonce (Discord drops the duplicate) instead of skipping it."""

    __tablename__ = "session_notices"
    __table_args__ = (CheckConstraint(f"kind IN ({sql_values(NoticeKind)})", name="kind_is_known"),)

    session_id: Mapped[int] = mapped_column(ForeignKey("study_sessions.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SessionRating(Base):
    """One participant's verdict on a session; the matcher reads the mean a learner received. The primary key makes
    it one rating per rater and session (a change of mind replaces it)."""

    __tablename__ = "session_ratings"
    __table_args__ = (CheckConstraint("value IN (-1, 0, 1)", name="value_range"),)

    session_id: Mapped[int] = mapped_column(ForeignKey("study_sessions.id", ondelete="CASCADE"), primary_key=True)
    rater_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ratee_id: Mapped[int] = mapped_column(BigInteger, index=True)
    value: Mapped[int] = mapped_column(Integer)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
