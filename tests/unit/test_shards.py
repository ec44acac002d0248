"""The shard rule: which process works for which server, as Discord assigns servers to shards."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.shards import ALL_SHARDS, ShardScope, shard_of

# Discord snowflakes: 64 bits, the top 42 a timestamp in milliseconds since 2015.
GUILD_IDS = st.integers(min_value=1, max_value=2**63 - 1)
COUNTS = st.integers(min_value=1, max_value=64)


def test_the_rule_is_discords() -> None:
    # Discord's documented example: shard_id = (guild_id >> 22) % num_shards.
    guild_id = 197038439483310086
    assert shard_of(guild_id, 2) == (guild_id >> 22) % 2
    assert shard_of(guild_id, 1) == 0


@given(GUILD_IDS, COUNTS)
def test_every_server_has_exactly_one_owner_among_the_processes(guild_id: int, count: int) -> None:
    # One process per shard: exactly one of them works for any server.
    owners = [shard for shard in range(count) if ShardScope(count, frozenset({shard})).owns(guild_id)]
    assert owners == [shard_of(guild_id, count)]


@given(GUILD_IDS, COUNTS, st.data())
def test_a_split_into_shard_ranges_covers_each_server_once(guild_id: int, count: int, data: st.DataObject) -> None:
    # Any split of the shards across processes (ranges or any partition): exactly one process owns a server.
    process_of = data.draw(st.lists(st.integers(0, 3), min_size=count, max_size=count))
    processes = {process: frozenset(s for s in range(count) if process_of[s] == process) for process in process_of}
    owners = [process for process, ids in processes.items() if ShardScope(count, ids).owns(guild_id)]
    assert owners == [process_of[shard_of(guild_id, count)]]


@given(GUILD_IDS, COUNTS)
def test_one_process_with_every_shard_owns_every_server(guild_id: int, count: int) -> None:
    assert ShardScope(count).owns(guild_id)
    assert ShardScope(count, frozenset(range(count))).owns(guild_id)
    assert ALL_SHARDS.owns(guild_id)


def test_owns_all_only_when_no_shard_is_left_to_another_process() -> None:
    assert ALL_SHARDS.owns_all
    assert ShardScope(4).owns_all
    assert ShardScope(2, frozenset({0, 1})).owns_all
    assert not ShardScope(2, frozenset({1})).owns_all
    assert ShardScope(3, frozenset({0, 2})).owned == frozenset({0, 2})


@pytest.mark.parametrize(
    ("count", "ids", "message"),
    [
        (0, None, "at least 1"),
        (2, frozenset({2}), "0..1"),
        (2, frozenset({-1}), "0..1"),
        (2, frozenset(), "at least one shard"),
    ],
)
def test_an_impossible_scope_is_refused(count: int, ids: frozenset[int] | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ShardScope(count, ids)


def test_exactly_one_process_leads_any_split() -> None:
    # The work of no server (the retention purge) is done by the process that runs shard 0, and only by it.
    split = [frozenset({0, 3}), frozenset({1}), frozenset({2})]
    assert [ShardScope(4, ids).leads for ids in split] == [True, False, False]
    assert ALL_SHARDS.leads
