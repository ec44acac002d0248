"""The tables. Invariants live in the database (keys, uniques, checks), not in Python alone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, UTCDateTime, utcnow


class CommandSyncState(Base):
    """The last application-command payload synced per scope, so unchanged commands are not re-synced."""

    __tablename__ = "command_sync_state"
    __table_args__ = (CheckConstraint("length(payload_hash) = 64", name="payload_hash_is_sha256"),)

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    payload_hash: Mapped[str] = mapped_column(String(64))
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
