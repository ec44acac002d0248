"""The shard rule in SQL: the rows of the servers this process works for (see bot/core/shards.py)."""

from __future__ import annotations

from sqlalchemy import BigInteger, ColumnElement, Integer, literal, true
from sqlalchemy.orm import InstrumentedAttribute

from bot.core.shards import ShardScope


def owned_by(guild_id: InstrumentedAttribute[int], shards: ShardScope) -> ColumnElement[bool]:
    """`(guild_id >> 22) % count IN (owned)`, or no condition at all when this process owns every server."""
    if shards.owns_all:
        return true()
    # PostgreSQL shifts a bigint by an integer only (there is no `bigint >> bigint`).
    shard = guild_id.op(">>", return_type=BigInteger)(literal(22, Integer)) % shards.count
    return shard.in_(sorted(shards.owned))
