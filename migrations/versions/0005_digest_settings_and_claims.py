"""The weekly digest: its channel, weekday, hour and start in the server settings, and the claims that post it once
per server and week.

Revision ID: 0005_digest
Revises: 0004_trust_pairing
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "0005_digest"
down_revision: str | None = "0004_trust_pairing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest_channel_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("digest_day", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("digest_hour", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("digest_since", bot.db.base.UTCDateTime(), nullable=True))
        batch_op.create_check_constraint(
            batch_op.f("ck_guild_settings_digest_day_range"), "digest_day IS NULL OR digest_day BETWEEN 0 AND 6"
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_guild_settings_digest_hour_range"), "digest_hour IS NULL OR digest_hour BETWEEN 0 AND 23"
        )
    op.create_table(
        "digest_posts",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("week", sa.String(length=10), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("claimed_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.Column("finished_at", bot.db.base.UTCDateTime(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("state IN ('claimed', 'sent', 'skipped')", name=op.f("ck_digest_posts_state_is_known")),
        sa.PrimaryKeyConstraint("guild_id", "week", name=op.f("pk_digest_posts")),
    )


def downgrade() -> None:
    op.drop_table("digest_posts")
    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_guild_settings_digest_hour_range"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_guild_settings_digest_day_range"), type_="check")
        batch_op.drop_column("digest_since")
        batch_op.drop_column("digest_hour")
        batch_op.drop_column("digest_day")
        batch_op.drop_column("digest_channel_id")
