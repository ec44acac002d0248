"""The tables. Invariants live in the database (keys, uniques, checks), not in Python alone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db.base import Base, UTCDateTime, utcnow


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
    pairing_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    moderator_role_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


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
    body: Mapped[str] = mapped_column(Text)
    accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    challenge: Mapped[Challenge] = relationship(back_populates="solutions")


class ChannelCursor(Base):
    """The newest message seen in a watched channel, so backfill reads only what was missed."""

    __tablename__ = "channel_cursors"

    channel_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    last_message_id: Mapped[int] = mapped_column(BigInteger)
