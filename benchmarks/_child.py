"""A local Discord server in a child process, driven through a pipe (shared by the ingestion benchmarks).

In the bot's own process it would share one event loop (and core) with the bot: its JSON encoding, frame sending
and acknowledgement requests would count against the bot's rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from collections.abc import Callable
from typing import Any, Self


class ChildServer:
    """Starts `target(connection, *args)` in a spawned process; `hello` is the first thing it sends."""

    def __init__(self, target: Callable[..., None], *args: object) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=target, args=(child, *args), daemon=True)
        self.hello: Any = None

    async def __aenter__(self) -> Self:
        self._process.start()
        self.hello = await self._receive()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        with contextlib.suppress(OSError, EOFError):
            await self.ask("stop")
        await asyncio.get_running_loop().run_in_executor(None, self._process.join, 10)
        if self._process.is_alive():
            self._process.kill()

    async def _receive(self) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, self._connection.recv)

    async def ask(self, command: str, argument: object = None) -> Any:
        self._connection.send((command, argument))
        return await self._receive()
