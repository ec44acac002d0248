"""Forgotten messages: the ids of posts whose entries `/nexus forget-me` unlinked from them, so that they are never
logged again (a replay, a backfill or a menu); no link to the entry is kept. Purged with the retention period.

Revision ID: 0004_trust_forget
Revises: 0004_trust_background
Create Date: 2026-12-07 17:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "0004_trust_forget"
down_revision: str | None = "0004_trust_background"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forgotten_messages",
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("forgotten_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_forgotten_messages")),
    )
    with op.batch_alter_table("forgotten_messages", schema=None) as batch_op:
        batch_op.create_index("ix_forgotten_messages_forgotten_at", ["forgotten_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("forgotten_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_forgotten_messages_forgotten_at")
    op.drop_table("forgotten_messages")
