"""Initial schema: command sync state.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "command_sync_state",
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("synced_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.CheckConstraint("length(payload_hash) = 64", name=op.f("ck_command_sync_state_payload_hash_is_sha256")),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_command_sync_state")),
    )


def downgrade() -> None:
    op.drop_table("command_sync_state")
