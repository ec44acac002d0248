"""A small in-process cache of rendered pages.

Rendering a challenge or topic page costs some 20 ms of Python (SQL built and run through the driver's thread, the
templates, the Markdown); a crawler, a popular link or a reader holding F5 asks for the same page many times a
second. A page is kept PAGE_TTL_SECONDS at most (see README "What the web hub publishes": a withdrawal shows within
that time), in a bounded number of entries, so the process stays small. Searches are not cached: their addresses
are as many as the queries, and each is asked rarely.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware
from multidict import CIMultiDict

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PAGE_TTL_SECONDS = 5.0
MAX_PAGES = 128
# A page larger than this is not kept (a listing page is some 40 KB; a sitemap may be megabytes).
MAX_PAGE_BYTES = 256 * 1024
# Paths never cached: a search's answer, the health check (it must ask the database every time), the sitemap.
UNCACHED = ("/search", "/healthz", "/sitemap.xml")
KEPT_HEADERS = ("Content-Type", "Last-Modified")


@dataclass(frozen=True, slots=True)
class _Page:
    expires: float
    body: bytes
    headers: tuple[tuple[str, str], ...]


class PageCache:
    """Rendered 200 answers to GET by address, for `ttl` seconds, the `size` most recently used."""

    def __init__(
        self, *, ttl: float = PAGE_TTL_SECONDS, size: int = MAX_PAGES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._pages: OrderedDict[str, _Page] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, key: str) -> web.Response | None:
        page = self._pages.get(key)
        if page is None:
            return None
        if page.expires <= self._clock():
            del self._pages[key]
            return None
        self._pages.move_to_end(key)
        return web.Response(body=page.body, headers=CIMultiDict(page.headers))

    def put(self, key: str, response: web.Response) -> None:
        body = response.body
        if self._ttl <= 0 or not isinstance(body, bytes) or len(body) > MAX_PAGE_BYTES:
            return
        headers = tuple((name, response.headers[name]) for name in KEPT_HEADERS if name in response.headers)
        self._pages[key] = _Page(self._clock() + self._ttl, body, headers)
        self._pages.move_to_end(key)
        while len(self._pages) > self._size:
            self._pages.popitem(last=False)


def cache_middleware(cache: PageCache) -> Middleware:
    @web.middleware
    async def cached(request: web.Request, handler: Handler) -> web.StreamResponse:
        """A fresh kept copy of a page, or the page rendered (and kept when it is a 200 to a GET)."""
        if request.method != "GET" or request.path in UNCACHED:
            return await handler(request)
        key = request.path_qs
        hit = cache.get(key)
        if hit is not None:
            return hit
        response = await handler(request)
        if response.status == 200 and isinstance(response, web.Response):
            cache.put(key, response)
        return response

    return cached
