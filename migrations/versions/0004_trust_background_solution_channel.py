"""Solutions remember the channel (or thread) of the message they were logged from, so that after a restart Nexus
can ask Discord whether that message still exists and follow deletions made while it was away.

A plain nullable column: added in place on both engines (no table rebuild, so SQLite's search triggers stay). Rows
logged before it have no channel and are not re-checked.

Revision ID: 0004_trust_background
Revises: 0003_pairing
Create Date: 2026-12-07 17:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_trust_background"
down_revision: str | None = "0003_pairing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("solutions", sa.Column("source_channel_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("solutions", "source_channel_id")
