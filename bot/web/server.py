"""`nexus-bot web`: build the hub from the settings and serve it until stopped."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import WebSettings
from bot.db.engine import create_engine, create_session_factory
from bot.db.search import search_engine_for
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.runtime.memory import heap_trimmer, settle_startup_heap, trim_heap_periodically
from bot.runtime.redaction import RedactingFormatter, url_secrets
from bot.services import TopicService
from bot.services.challenges import ChallengeService, SolvedChallengeLog
from bot.services.web import WebHubService
from bot.web.app import create_app


def build_hub(engine: AsyncEngine, knowledge_base: KnowledgeBase) -> WebHubService:
    """The hub's read models over `engine`, searching with the engine of `/challenge search`."""
    sessions = create_session_factory(engine)
    topics = TopicService(knowledge_base, SolvedChallengeLog(sessions))
    challenges = ChallengeService(sessions, search_engine_for(engine.dialect.name), topics)
    return WebHubService(sessions, knowledge_base, challenges)


def _configure_logging(settings: WebSettings) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter(
            logging.Formatter("%(asctime)s %(levelname)-8s %(name)s %(message)s"), url_secrets(settings.database_url)
        )
    )
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    # One line per request would quote search queries (user text) into the logs.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def reexec_without_docstrings() -> None:
    """Run again as `python -OO` unless already: the libraries' docstrings (SQLAlchemy's above all) are some 5 MB of
    resident memory that a web server never reads."""
    if sys.flags.optimize < 2 and not os.environ.get("NEXUS_WEB_KEEP_DOCSTRINGS"):
        os.execv(sys.executable, [sys.executable, "-OO", "-m", "bot", *sys.argv[1:]])  # noqa: S606


def run_web(settings: WebSettings) -> None:
    _configure_logging(settings)
    knowledge_base = load_knowledge_base(settings.topics_dir)

    async def application() -> web.Application:
        engine = create_engine(settings.database_url)
        app = create_app(build_hub(engine, knowledge_base), base_url=settings.web_base_url)

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

    logging.getLogger(__name__).info("web hub on http://%s:%d", settings.web_host, settings.web_port)
    web.run_app(application(), host=settings.web_host, port=settings.web_port, access_log=None, print=None)
