"""Alembic environment: async engines, batch mode on SQLite, and a connection handed in by the bot."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from bot.db import models  # noqa: F401  (registers the tables on the metadata)
from bot.db.base import Base, UTCDateTime
from bot.db.engine import create_engine

config = context.config
target_metadata = Base.metadata

# Full-text search lives outside the models (FTS5 tables, a tsvector column) and is kept in step by
# triggers that the migrations create; autogenerate must not try to drop it.
_SEARCH_TABLE_PREFIX = "challenge_search"
_SEARCH_COLUMNS = {"search_vector"}
_SEARCH_INDEXES = {"ix_challenges_search_vector"}


def _include_name(name: str | None, type_: str, parent_names: Mapping[str, str | None]) -> bool:
    if type_ == "table" and name is not None and name.startswith(_SEARCH_TABLE_PREFIX):
        return False
    if type_ == "column" and name in _SEARCH_COLUMNS:
        return False
    return not (type_ == "index" and name in _SEARCH_INDEXES)


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    if type_ == "type" and isinstance(obj, UTCDateTime):
        autogen_context.imports.add("import bot.db.base")
        return "bot.db.base.UTCDateTime()"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=_include_name,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_configure)
    finally:
        await engine.dispose()


def _run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: set sqlalchemy.url or use `nexus-bot db`")
    asyncio.run(_run_with_own_engine(url))


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    _run_online()
