"""Forum channels: the forum a server chose with `/nexus setup challenge_forum:`, and per logged forum post its forum,
the solution its "solved" note was posted for, and when Nexus archived it.

Revision ID: 0007_forum
Revises: 0006_web
Create Date: 2026-12-07 19:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "0007_forum"
down_revision: str | None = "0006_web"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("challenge_forum_id", sa.BigInteger(), nullable=True))
    op.create_table(
        "forum_posts",
        sa.Column("thread_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("forum_id", sa.BigInteger(), nullable=False),
        sa.Column("noted_solution_id", sa.BigInteger(), nullable=True),
        sa.Column("archived_at", bot.db.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("thread_id", name=op.f("pk_forum_posts")),
    )
    op.create_index("ix_forum_posts_guild_forum", "forum_posts", ["guild_id", "forum_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_forum_posts_guild_forum", table_name="forum_posts")
    op.drop_table("forum_posts")
    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.drop_column("challenge_forum_id")
