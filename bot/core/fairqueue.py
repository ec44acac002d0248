"""A queue shared in turns between keys (servers): one item of each key with work, then the next of each, so a key
flooded with work delays only itself. It is bounded per key and in total; `put` refuses what does not fit."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

K = TypeVar("K")
T = TypeVar("T")


class FairQueue(Generic[K, T]):
    def __init__(self) -> None:
        self._items: dict[K, deque[T]] = {}
        self._turns: deque[K] = deque()  # the keys with items, in the order they are served
        self._size = 0
        self._ready = asyncio.Event()
        self._unfinished = 0
        self._finished = asyncio.Event()
        self._finished.set()

    def __len__(self) -> int:
        return self._size

    def waiting(self, key: K) -> int:
        """How many items of `key` are queued (not counting one being handled)."""
        items = self._items.get(key)
        return len(items) if items is not None else 0

    def put(self, key: K, item: T, *, per_key: int, total: int) -> bool:
        """Queue `item` behind the others of `key`; False (nothing queued) when `key` already has `per_key` items
        waiting or the queue holds `total`."""
        items = self._items.get(key)
        if (items is not None and len(items) >= per_key) or self._size >= total:
            return False
        if items is None:
            items = self._items[key] = deque()
            self._turns.append(key)
        items.append(item)
        self._size += 1
        self._unfinished += 1
        self._finished.clear()
        self._ready.set()
        return True

    async def get(self) -> tuple[K, T]:
        """The next item, taking keys in turn; waits while the queue is empty."""
        while not self._turns:
            self._ready.clear()
            await self._ready.wait()
        key = self._turns.popleft()
        items = self._items[key]
        item = items.popleft()
        self._size -= 1
        if items:
            self._turns.append(key)  # its next item waits for every other key's turn
        else:
            del self._items[key]
        return key, item

    def task_done(self) -> None:
        """An item from `get` is handled."""
        self._unfinished -= 1
        if self._unfinished <= 0:
            self._unfinished = 0
            self._finished.set()

    async def join(self) -> None:
        """Wait until every item queued so far is handled."""
        await self._finished.wait()
