"""Session invitations: a session with someone who is not one's current partner is proposed until they accept.

New states of `study_sessions` (proposed, declined, expired, withdrawn), an invitation's deadline (`respond_by`),
when it was answered (`answered_at`) and when its lapse was told to the organiser (`lapse_told_at`). Existing
sessions stay as they are: they were booked.

Revision ID: 0004_trust_pairing
Revises: 0004_trust_forget
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "0004_trust_pairing"
down_revision: str | None = "0004_trust_forget"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = "state IN ('proposed', 'scheduled', 'declined', 'expired', 'withdrawn', 'cancelled')"
OLD_STATES = "state IN ('scheduled', 'cancelled')"


def upgrade() -> None:
    with op.batch_alter_table("study_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("respond_by", bot.db.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("answered_at", bot.db.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("lapse_told_at", bot.db.base.UTCDateTime(), nullable=True))
        batch_op.drop_constraint(batch_op.f("ck_study_sessions_state_is_known"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_study_sessions_state_is_known"), sa.text(STATES))
        batch_op.create_check_constraint(
            batch_op.f("ck_study_sessions_proposal_has_deadline"),
            sa.text("state <> 'proposed' OR respond_by IS NOT NULL"),
        )
        batch_op.create_index("ix_study_sessions_respond_by", ["state", "respond_by"], unique=False)


def downgrade() -> None:
    # Sessions that never became booked have no place in the old schema.
    op.execute("DELETE FROM study_sessions WHERE state NOT IN ('scheduled', 'cancelled')")
    with op.batch_alter_table("study_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_study_sessions_respond_by")
        batch_op.drop_constraint(batch_op.f("ck_study_sessions_proposal_has_deadline"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_study_sessions_state_is_known"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_study_sessions_state_is_known"), sa.text(OLD_STATES))
        batch_op.drop_column("lapse_told_at")
        batch_op.drop_column("answered_at")
        batch_op.drop_column("respond_by")
