"""One way to try a write again: a `RetryPolicy` names what is worth retrying and the pauses between tries.

The policies themselves live beside what they guard (`bot.db.retry.DATABASE_WRITES`, `cogs._shared.DISCORD_WRITES`);
this module knows neither the database nor Discord. Built on tenacity, as the reconnect loop (`bot/app.py`) is.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_chain, wait_fixed

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Try once, then once more after each pause while `retry_on(error)` holds; the last error is raised."""

    pauses: tuple[float, ...]
    retry_on: Callable[[BaseException], bool]

    async def run(
        self, call: Callable[[], Awaitable[T]], *, log: logging.Logger | None = None, what: str = "a write"
    ) -> T:
        def say_why(state: RetryCallState) -> None:
            if log is not None and state.outcome is not None and state.next_action is not None:
                error = state.outcome.exception()
                log.warning("%s failed (%s); trying again in %.1f s", what, error, state.next_action.sleep)

        async for attempt in AsyncRetrying(
            retry=retry_if_exception(self.retry_on),
            stop=stop_after_attempt(len(self.pauses) + 1),
            wait=wait_chain(*(wait_fixed(pause) for pause in self.pauses)) if self.pauses else wait_fixed(0),
            before_sleep=say_why,
            reraise=True,
        ):
            with attempt:
                return await call()
        raise AssertionError("unreachable: tenacity re-raises the last error")
