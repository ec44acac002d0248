"""Member choices (`/nexus profile`): per server and member, consent to publish their entries on the web hub (unset
until chosen) and whether they are credited by name there and in others' READMEs (off by default).

Revision ID: 0005_readme
Revises: 0005_digest
Create Date: 2026-12-07 17:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "0005_readme"
down_revision: str | None = "0005_digest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_choices",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("web_consent", sa.Boolean(), nullable=True),
        sa.Column("credit", sa.Boolean(), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("updated_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "user_id", name=op.f("pk_member_choices")),
    )


def downgrade() -> None:
    op.drop_table("member_choices")
