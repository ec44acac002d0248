"""The in-channel acknowledgement queue, driven without Discord: what it keeps, how it shares its turns between
servers, and what it does past its bound. The reactions land on fakes that record them."""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from bot.services.challenges import ChallengeView, Logged
from cogs.challenges import _listener
from cogs.challenges._listener import ChallengeLogCog
from tests.e2e.harness import until

BUSY, QUIET = 1, 2  # two servers
CHANNEL_OF = {BUSY: 10, QUIET: 20}


class _Recorder:
    def __init__(self) -> None:
        self.reactions: list[tuple[int, int]] = []  # (server, message) in the order they were made
        self.replies: list[int] = []
        self.delay: dict[int, float] = {}  # per server: how long Discord takes to answer a reaction


class _Target:
    """A message as far as acknowledging it goes: a reaction and a reply."""

    def __init__(self, recorder: _Recorder, guild_id: int, message_id: int) -> None:
        self._recorder, self._guild_id, self.id = recorder, guild_id, message_id

    async def add_reaction(self, emoji: str) -> None:
        await asyncio.sleep(self._recorder.delay.get(self._guild_id, 0.0))
        self._recorder.reactions.append((self._guild_id, self.id))

    async def reply(self, content: str, **options: Any) -> None:
        self._recorder.replies.append(self.id)


class _Place:
    def __init__(self, place_id: int) -> None:
        self.id = place_id


class _Message(_Target):
    """What the gateway delivers: a message with its channel and server."""

    def __init__(self, recorder: _Recorder, guild_id: int, message_id: int) -> None:
        super().__init__(recorder, guild_id, message_id)
        self.guild = _Place(guild_id)
        self.channel = _Place(CHANNEL_OF[guild_id])


class _Channel:
    def __init__(self, recorder: _Recorder, guild_id: int) -> None:
        self._recorder, self._guild_id = recorder, guild_id

    def get_partial_message(self, message_id: int) -> _Target:
        return _Target(self._recorder, self._guild_id, message_id)


class _Bot:
    def __init__(self, recorder: _Recorder) -> None:
        self._recorder = recorder

    def get_partial_messageable(self, channel_id: int, *, guild_id: int | None = None, **_: Any) -> _Channel:
        return _Channel(self._recorder, guild_id or 0)


class _Challenges:
    async def idle(self) -> None:
        return None

    async def similar_solved(self, challenge: ChallengeView) -> tuple[Any, ...]:
        return ()

    def topic_title(self, slug: str) -> str:
        return slug


def _logged(guild_id: int, message_id: int) -> asyncio.Future[Any]:
    view = ChallengeView(
        id=message_id,
        guild_id=guild_id,
        channel_id=CHANNEL_OF[guild_id],
        author_id=7,
        author_name="Ann",
        title="A title",
        details="details " * 400,  # a post's text: the queue must not keep it
        tried=None,
        status="open",
        topics=("docker",),
        created_at=datetime.now(UTC),
        source_message_id=message_id,
    )
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    future.set_result(Logged(view, created=True))
    return future


@pytest.fixture
def recorder() -> _Recorder:
    return _Recorder()


@pytest.fixture
def cog(recorder: _Recorder) -> ChallengeLogCog:
    return ChallengeLogCog(cast(Any, _Bot(recorder)), cast(Any, _Challenges()), cast(Any, None), reads_messages=True)


async def _post(cog: ChallengeLogCog, recorder: _Recorder, guild_id: int, message_id: int) -> None:
    await cog._logged(cast(Any, _Message(recorder, guild_id, message_id)), _logged(guild_id, message_id))


async def test_a_flood_in_one_server_does_not_delay_another_servers_acknowledgement(
    cog: ChallengeLogCog, recorder: _Recorder
) -> None:
    recorder.delay[BUSY] = 0.01
    for number in range(30):
        await _post(cog, recorder, BUSY, 1000 + number)
    await _post(cog, recorder, QUIET, 2000)
    consumer = asyncio.create_task(cog._acknowledge_queued())
    try:
        await until(lambda: (QUIET, 2000) in recorder.reactions, "the quiet server's acknowledgement")
        assert recorder.reactions.index((QUIET, 2000)) <= 1  # after at most one of the flood's
        await until(lambda: len(recorder.reactions) == 31, "every acknowledgement")
    finally:
        consumer.cancel()
    # Within one server, posts are acknowledged in the order they were logged.
    assert [message for server, message in recorder.reactions if server == BUSY] == list(range(1000, 1030))


async def test_the_queue_keeps_ids_not_messages(cog: ChallengeLogCog, recorder: _Recorder) -> None:
    message = _Message(recorder, BUSY, 3000)
    alive = weakref.ref(message)
    await cog._logged(cast(Any, message), _logged(BUSY, 3000))
    del message
    gc.collect()
    assert alive() is None


async def test_past_its_bound_a_server_drops_acknowledgements_with_a_counted_warning(
    cog: ChallengeLogCog, recorder: _Recorder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_listener, "ACKS_PER_SERVER", 5, raising=False)
    with caplog.at_level(logging.WARNING, logger=_listener.__name__):
        for number in range(8):
            await _post(cog, recorder, BUSY, 4000 + number)
        for number in range(2):
            await _post(cog, recorder, QUIET, 5000 + number)  # another server still has room
        full = [record.getMessage() for record in caplog.records]
        assert len(full) == 1, full
        assert f"server {BUSY}" in full[0]
        consumer = asyncio.create_task(cog._acknowledge_queued())
        try:
            await until(lambda: len(recorder.reactions) == 7, "the acknowledgements that fitted")
            await until(lambda: len(caplog.records) == 2, "the count of those dropped")
        finally:
            consumer.cancel()
    assert sorted(message for _, message in recorder.reactions) == [4000, 4001, 4002, 4003, 4004, 5000, 5001]
    counted = caplog.records[1].getMessage()
    assert f"server {BUSY}" in counted
    assert "3 logged posts" in counted
