"""`nexus-bot web`: build the hub and serve it until stopped.

`nexus-bot web` validates the settings (`bot.config`, with its clear one-line errors), then replaces itself with
`python -OO -m bot.web`, which gets them as plain values: the serving process never imports pydantic-settings, nor
keeps the libraries' docstrings, some 10 MB of resident memory a web server has no use for.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import create_engine, create_session_factory
from bot.db.search import search_engine_for
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.runtime.memory import heap_trimmer, settle_startup_heap, trim_heap_periodically
from bot.runtime.redaction import RedactingFormatter, url_secrets
from bot.services.web import WebHubService
from bot.web.app import create_app
from bot.web.cache import PageCache

HUB_CONNECTIONS = 2


def build_hub(engine: AsyncEngine, knowledge_base: KnowledgeBase) -> WebHubService:
    """The hub's read models over `engine`, searching with the engine of `/challenge search`."""
    return WebHubService(create_session_factory(engine), knowledge_base, search_engine_for(engine.dialect.name))


def _configure_logging(database_url: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter(
            logging.Formatter("%(asctime)s %(levelname)-8s %(name)s %(message)s"), url_secrets(database_url)
        )
    )
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


def serve(*, host: str, port: int, database_url: str, topics_dir: Path, base_url: str | None) -> None:
    """Serve the hub on host:port until SIGINT or SIGTERM. No access log: it would quote searches (user text)."""
    _configure_logging(database_url)
    knowledge_base = load_knowledge_base(topics_dir)

    async def application() -> web.Application:
        # A few connections: each holds its own page cache and driver thread, and two cores serve no more at once.
        engine = create_engine(database_url, pool_size=HUB_CONNECTIONS, max_overflow=0)
        app = create_app(build_hub(engine, knowledge_base), base_url=base_url, page_cache=PageCache())

        async def dispose(_: web.Application) -> None:
            await engine.dispose()

        app.on_cleanup.append(dispose)
        trim = heap_trimmer()
        if trim is not None:
            # Start-up's garbage goes back to the system, and the heap keeps being trimmed: the hub must stay light.
            async def trimming(_: web.Application) -> AsyncIterator[None]:
                settle_startup_heap()
                trim()
                task = asyncio.create_task(trim_heap_periodically(trim))
                yield
                task.cancel()

            app.cleanup_ctx.append(trimming)
        return app

    logging.getLogger(__name__).info("web hub on http://%s:%d", host, port)
    web.run_app(application(), host=host, port=port, access_log=None, print=None)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bot.web`: the values `nexus-bot web` already checked."""
    parser = argparse.ArgumentParser(prog="python -m bot.web", description="serve the Nexus web hub")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--topics-dir", type=Path, required=True)
    parser.add_argument("--base-url")
    args = parser.parse_args(argv)
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        print("error: DATABASE_URL is not set; start the hub with `nexus-bot web`", file=sys.stderr)
        return 2
    serve(host=args.host, port=args.port, database_url=database_url, topics_dir=args.topics_dir, base_url=args.base_url)
    return 0
