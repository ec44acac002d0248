"""Pairing: learner profiles, the request queue, pairs (and the history they make), check-ins, study sessions,
their reminders and ratings.

One waiting request per learner and one pair per request are enforced by the database (a partial unique index and
unique keys), so concurrent clicks and matching rounds can never match a learner twice.

Revision ID: 0003_pairing
Revises: 0002_challenges
Create Date: 2026-11-22 02:49:38.022965
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "0003_pairing"
down_revision: str | None = "0002_challenges"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "learner_profiles",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("track", sa.String(length=10), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("availability_text", sa.String(length=300), nullable=True),
        sa.Column("availability_utc", sa.Text(), nullable=True),
        sa.Column("paused_until", bot.db.base.UTCDateTime(), nullable=True),
        sa.Column("missed_checkins", sa.Integer(), nullable=False),
        sa.Column("updated_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.CheckConstraint("track IN ('frontend', 'backend')", name=op.f("ck_learner_profiles_track_is_known")),
        sa.CheckConstraint("missed_checkins >= 0", name=op.f("ck_learner_profiles_missed_checkins_not_negative")),
        sa.PrimaryKeyConstraint("guild_id", "user_id", name=op.f("pk_learner_profiles")),
    )
    op.create_table(
        "pair_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("track", sa.String(length=10), nullable=False),
        sa.Column("looking_for", sa.String(length=10), nullable=False),
        sa.Column("topics", sa.String(length=400), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("challenge_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.Column("closed_at", bot.db.base.UTCDateTime(), nullable=True),
        sa.Column("notified_at", bot.db.base.UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "(state = 'waiting') = (closed_at IS NULL)", name=op.f("ck_pair_requests_closed_when_not_waiting")
        ),
        sa.CheckConstraint(
            "looking_for IN ('frontend', 'backend', 'any')", name=op.f("ck_pair_requests_looking_for_is_known")
        ),
        sa.CheckConstraint(
            "state IN ('waiting', 'matched', 'cancelled', 'expired')", name=op.f("ck_pair_requests_state_is_known")
        ),
        sa.CheckConstraint("track IN ('frontend', 'backend')", name=op.f("ck_pair_requests_track_is_known")),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_pair_requests_challenge_id_challenges"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pair_requests")),
    )
    with op.batch_alter_table("pair_requests", schema=None) as batch_op:
        batch_op.create_index("ix_pair_requests_queue", ["guild_id", "state", "created_at"], unique=False)
        batch_op.create_index(
            "uq_pair_requests_one_waiting",
            ["guild_id", "user_id"],
            unique=True,
            sqlite_where=sa.text("state = 'waiting'"),
            postgresql_where=sa.text("state = 'waiting'"),
        )

    op.create_table(
        "pairs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("user_low", sa.BigInteger(), nullable=False),
        sa.Column("user_high", sa.BigInteger(), nullable=False),
        sa.Column("request_low_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("request_high_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("shared_topics", sa.String(length=400), nullable=False),
        sa.Column("overlap_minutes", sa.Integer(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("announced_at", bot.db.base.UTCDateTime(), nullable=True),
        sa.Column("matched_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.Column("ended_at", bot.db.base.UTCDateTime(), nullable=True),
        sa.Column("ended_by", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("ended_at IS NULL OR ended_at >= matched_at", name=op.f("ck_pairs_ends_after_match")),
        sa.CheckConstraint("user_low < user_high", name=op.f("ck_pairs_users_ordered")),
        sa.ForeignKeyConstraint(
            ["request_high_id"],
            ["pair_requests.id"],
            name=op.f("fk_pairs_request_high_id_pair_requests"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["request_low_id"],
            ["pair_requests.id"],
            name=op.f("fk_pairs_request_low_id_pair_requests"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pairs")),
        sa.UniqueConstraint("request_high_id", name=op.f("uq_pairs_request_high_id")),
        sa.UniqueConstraint("request_low_id", name=op.f("uq_pairs_request_low_id")),
    )
    with op.batch_alter_table("pairs", schema=None) as batch_op:
        batch_op.create_index("ix_pairs_history", ["guild_id", "user_low", "user_high"], unique=False)
        batch_op.create_index("ix_pairs_user_high", ["guild_id", "user_high"], unique=False)

    op.create_table(
        "pair_checkins",
        sa.Column("pair_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("asked_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.Column("sent_at", bot.db.base.UTCDateTime(), nullable=True),
        sa.Column("answered_at", bot.db.base.UTCDateTime(), nullable=True),
        sa.Column("met", sa.Boolean(), nullable=True),
        sa.Column("ignored_at", bot.db.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pair_id"], ["pairs.id"], name=op.f("fk_pair_checkins_pair_id_pairs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pair_id", "user_id", name=op.f("pk_pair_checkins")),
    )
    op.create_table(
        "study_sessions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("pair_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("organiser_id", sa.BigInteger(), nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=60), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.Column("cancelled_by", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("state IN ('scheduled', 'cancelled')", name=op.f("ck_study_sessions_state_is_known")),
        sa.CheckConstraint("duration_minutes BETWEEN 15 AND 480", name=op.f("ck_study_sessions_duration_range")),
        sa.CheckConstraint("organiser_id <> partner_id", name=op.f("ck_study_sessions_not_with_oneself")),
        sa.ForeignKeyConstraint(
            ["pair_id"], ["pairs.id"], name=op.f("fk_study_sessions_pair_id_pairs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_sessions")),
    )
    with op.batch_alter_table("study_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_study_sessions_organiser", ["guild_id", "organiser_id", "starts_at"], unique=False)
        batch_op.create_index("ix_study_sessions_partner", ["guild_id", "partner_id", "starts_at"], unique=False)
        batch_op.create_index("ix_study_sessions_starts", ["state", "starts_at"], unique=False)

    op.create_table(
        "session_notices",
        sa.Column("session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("claimed_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.Column("sent_at", bot.db.base.UTCDateTime(), nullable=True),
        sa.CheckConstraint("kind IN ('day', 'soon', 'rating')", name=op.f("ck_session_notices_kind_is_known")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["study_sessions.id"],
            name=op.f("fk_session_notices_session_id_study_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "user_id", "kind", name=op.f("pk_session_notices")),
    )
    op.create_table(
        "session_ratings",
        sa.Column("session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rater_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ratee_id", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("rated_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.CheckConstraint("value IN (-1, 0, 1)", name=op.f("ck_session_ratings_value_range")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["study_sessions.id"],
            name=op.f("fk_session_ratings_session_id_study_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "rater_id", name=op.f("pk_session_ratings")),
    )
    with op.batch_alter_table("session_ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_ratings_ratee_id"), ["ratee_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("session_ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_ratings_ratee_id"))

    op.drop_table("session_ratings")
    op.drop_table("session_notices")
    with op.batch_alter_table("study_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_study_sessions_starts")
        batch_op.drop_index("ix_study_sessions_partner")
        batch_op.drop_index("ix_study_sessions_organiser")

    op.drop_table("study_sessions")
    op.drop_table("pair_checkins")
    with op.batch_alter_table("pairs", schema=None) as batch_op:
        batch_op.drop_index("ix_pairs_user_high")
        batch_op.drop_index("ix_pairs_history")

    op.drop_table("pairs")
    with op.batch_alter_table("pair_requests", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_pair_requests_one_waiting",
            sqlite_where=sa.text("state = 'waiting'"),
            postgresql_where=sa.text("state = 'waiting'"),
        )
        batch_op.drop_index("ix_pair_requests_queue")

    op.drop_table("pair_requests")
    op.drop_table("learner_profiles")
