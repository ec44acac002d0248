"""The web hub: per server, whether it publishes (`/nexus setup web:`) and its stable address (slug); per channel,
since when its topic or forum guidelines say posts are published (posting there then counts as consent).

Revision ID: 0006_web
Revises: 0005_readme
Create Date: 2026-12-07 19:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "0006_web"
down_revision: str | None = "0005_readme"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs (no table rebuild on SQLite, whose foreign keys would cascade through it); the slug's
    # uniqueness is an index, which SQLite can add to an existing table.
    op.add_column("guild_settings", sa.Column("web_enabled", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("guild_settings", sa.Column("web_slug", sa.String(length=60), nullable=True))
    op.create_index(op.f("ix_guild_settings_web_slug"), "guild_settings", ["web_slug"], unique=True)
    op.create_table(
        "published_channels",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("channel_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("since", bot.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "channel_id", name=op.f("pk_published_channels")),
    )


def downgrade() -> None:
    op.drop_table("published_channels")
    op.drop_index(op.f("ix_guild_settings_web_slug"), table_name="guild_settings")
    with op.batch_alter_table("guild_settings") as batch:
        batch.drop_column("web_slug")
        batch.drop_column("web_enabled")
