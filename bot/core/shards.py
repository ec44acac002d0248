"""Which servers this process works for, when Nexus runs as shards (`NEXUS_SHARD_COUNT`, `NEXUS_SHARD_IDS`).

Discord delivers a server's events to shard `(guild_id >> 22) % shard_count`; the background jobs follow the same
rule, so two processes on one database never both do a server's work.
"""

from __future__ import annotations

from dataclasses import dataclass


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord assigns a server to (its snowflake's timestamp, modulo the count)."""
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True, slots=True)
class ShardScope:
    """The shards of this process: `ids` of `count`, or every shard when `ids` is None (one process)."""

    count: int = 1
    ids: frozenset[int] | None = None

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("a shard count is at least 1")
        if self.ids is not None:
            if not self.ids:
                raise ValueError("a process owns at least one shard")
            if any(not 0 <= shard < self.count for shard in self.ids):
                raise ValueError(f"shard ids lie in 0..{self.count - 1}")

    @property
    def owned(self) -> frozenset[int]:
        return self.ids if self.ids is not None else frozenset(range(self.count))

    @property
    def owns_all(self) -> bool:
        """Whether no server belongs to another process: then nothing needs filtering."""
        return self.ids is None or len(self.ids) == self.count

    @property
    def leads(self) -> bool:
        """Whether this process runs shard 0, which does the work of no server in particular (the retention
        purge), as Discord sends it direct messages: exactly one process does it."""
        return 0 in self.owned

    def owns(self, guild_id: int) -> bool:
        return self.owns_all or shard_of(guild_id, self.count) in self.owned


# One process for every server: the default wherever no scope is given.
ALL_SHARDS = ShardScope()
