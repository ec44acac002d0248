"""`RetryPolicy`: what is tried again, how often, and what comes out when the tries run out."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.core.retry import RetryPolicy
from bot.db.retry import DATABASE_WRITES, database_unavailable


class Passing(Exception):
    pass


def _flaky(failures: int, error: Exception) -> tuple[list[int], Callable[[], Awaitable[str]]]:
    calls: list[int] = []

    async def call() -> str:
        calls.append(len(calls))
        if len(calls) <= failures:
            raise error
        return "stored"

    return calls, call


POLICY = RetryPolicy(pauses=(0.0, 0.0), retry_on=lambda error: isinstance(error, Passing))


async def test_a_passing_fault_is_tried_again_until_it_works(caplog: pytest.LogCaptureFixture) -> None:
    calls, call = _flaky(2, Passing("busy"))
    with caplog.at_level(logging.WARNING):
        assert await POLICY.run(call, log=logging.getLogger("test"), what="storing a post") == "stored"
    assert calls == [0, 1, 2]
    assert [record.getMessage() for record in caplog.records] == [
        "storing a post failed (busy); trying again in 0.0 s"
    ] * 2


async def test_after_the_last_pause_the_last_error_is_raised() -> None:
    calls, call = _flaky(5, Passing("still busy"))
    with pytest.raises(Passing, match="still busy"):
        await POLICY.run(call)
    assert len(calls) == 3  # once, then once after each pause


async def test_an_error_not_worth_retrying_is_raised_at_once() -> None:
    calls, call = _flaky(1, ValueError("a bug"))
    with pytest.raises(ValueError, match="a bug"):
        await POLICY.run(call)
    assert calls == [0]


def test_database_writes_retry_a_locked_database_but_not_a_clash() -> None:
    locked = OperationalError("INSERT", {}, Exception("database is locked"))
    clash = IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))
    assert database_unavailable(locked)
    assert DATABASE_WRITES.retry_on(locked)
    assert not DATABASE_WRITES.retry_on(clash)
    assert DATABASE_WRITES.pauses == (0.5, 2.0)
