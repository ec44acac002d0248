"""The challenge log's export: the "Challenges & Solutions" document of a server, streamed to a temporary file."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import tempfile
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.challenges.export import (
    CsvExport,
    ExportChallenge,
    ExportSolution,
    ExportTooLarge,
    MarkdownExport,
    describe_scope,
)
from bot.core.errors import ExportBusyError, ExportTooLargeError, InvalidInputError
from bot.db.base import utcnow
from bot.db.repositories import ChallengeRepository
from bot.services.challenges.views import ANONYMOUS, ExportedFile
from bot.services.topics import TopicService

Status = Literal["open", "solved"]
ExportFormat = Literal["markdown", "csv"]
# Challenges read from the database at a time for an export: each batch is rendered in a worker thread, so the
# event loop only ever holds the rows of one batch, and only for as long as the driver takes to hand them over.
EXPORT_BATCH = 500


# The export's worker thread renders this many challenges, then pauses this long. A thread running Python keeps
# the GIL until the event loop has waited a whole switch interval (5 ms) for it, at every turn of the loop; the
# pause hands it over at once instead.
RENDER_SLICE = 20
RENDER_PAUSE = 0.0001


def _render(writer: MarkdownExport | CsvExport, items: Iterator[ExportChallenge]) -> None:
    while chunk := list(itertools.islice(items, RENDER_SLICE)):
        writer.add(chunk)
        time.sleep(RENDER_PAUSE)


def parse_since(text: str) -> date:
    """The `since` option of an export: a date as YYYY-MM-DD."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        shown = text.strip()[:40].replace("`", "'")
        raise InvalidInputError(
            f"`since` takes a date written YYYY-MM-DD, such as 2024-05-01; `{shown}` is not one."
        ) from None


def topic_title(topics: TopicService, slug: str) -> str:
    """A card's title, or the slug itself for a topic the knowledge base no longer has."""
    card = topics.knowledge_base.by_slug.get(slug)
    return card.title if card else slug


class ChallengeExports:
    """The export half of `ChallengeService` (which sets these attributes)."""

    _sessions: async_sessionmaker[AsyncSession]
    _topics: TopicService
    _exporting: set[int]

    async def guilds(self) -> list[int]:
        """Every server with a logged challenge (for the offline export)."""
        async with self._sessions() as session:
            return await ChallengeRepository(session).guilds()

    async def export(self, guild_id: int, *, batch: int = 2000) -> AsyncIterator[ExportChallenge]:
        """Every live challenge of a server with its solutions (accepted first), streamed in id order."""
        async for raw in self._export_batches(guild_id, batch=batch):
            for item in self._export_items(raw):
                yield item

    async def _export_batches(
        self,
        guild_id: int,
        *,
        batch: int,
        status: Status | None = None,
        topic: str | None = None,
        since: datetime | None = None,
    ) -> AsyncGenerator[tuple[list[Any], dict[int, list[str]], dict[int, list[Any]]]]:
        """The rows of the export, `batch` challenges at a time, in id order (keyset: no batch rereads another)."""
        after = 0
        while True:
            async with self._sessions() as session:
                raw = await ChallengeRepository(session).export_batch(
                    guild_id, after, batch, status=status, topic=topic, since=since
                )
            rows = raw[0]
            if rows:
                yield raw
            if len(rows) < batch:
                return
            after = rows[-1].id

    def _export_items(
        self, raw: tuple[list[Any], dict[int, list[str]], dict[int, list[Any]]]
    ) -> Iterator[ExportChallenge]:
        rows, topics, solutions = raw
        for row in rows:
            yield ExportChallenge(
                id=row.id,
                title=row.title,
                details=row.details,
                tried=row.tried,
                author=row.author_name if row.author_id is not None else ANONYMOUS,
                status=row.status,
                created_at=row.created_at,
                topics=tuple(topic_title(self._topics, slug) for slug in topics.get(row.id, ())),
                solutions=tuple(
                    ExportSolution(
                        author=solution.author_name if solution.author_id is not None else ANONYMOUS,
                        body=solution.body,
                        accepted=solution.accepted,
                    )
                    for solution in solutions.get(row.id, ())
                ),
            )

    @contextlib.asynccontextmanager
    async def export_file(
        self,
        guild_id: int,
        *,
        community: str,
        format: ExportFormat = "markdown",
        limit: int | None = None,
        topic: str | None = None,
        status: Status | None = None,
        since: date | None = None,
    ) -> AsyncIterator[ExportedFile]:
        """The "Challenges & Solutions" document of a server in a temporary file, removed when the block ends.

        Rows come from the database in batches and are rendered in a worker thread, so the event loop is never
        held for long and memory stays bounded whatever the size of the log. Past `limit` bytes (the server's
        upload limit) it stops and raises `ExportTooLargeError`, which offers the filters. One export at a time
        per server, from the start of rendering to the end of the block (its upload): a second gets
        `ExportBusyError`.
        """
        card = self._topics.find(topic) if topic else None
        if guild_id in self._exporting:
            raise ExportBusyError()
        self._exporting.add(guild_id)
        folder: Path | None = None
        try:
            folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="nexus-export-"))
            yield await self._write_export(
                folder,
                guild_id,
                community=community,
                format=format,
                limit=limit,
                topic=(card.slug, card.title) if card else None,
                status=status,
                since=since,
            )
        finally:
            # The server is free as soon as the file is sent; removing it needs no guard.
            self._exporting.discard(guild_id)
            if folder is not None:
                await asyncio.to_thread(shutil.rmtree, folder, True)

    def exporting(self, guild_id: int) -> bool:
        """Whether an export of this server is being prepared or sent."""
        return guild_id in self._exporting

    async def _write_export(
        self,
        folder: Path,
        guild_id: int,
        *,
        community: str,
        format: ExportFormat,
        limit: int | None,
        topic: tuple[str, str] | None,
        status: Status | None,
        since: date | None,
    ) -> ExportedFile:
        now = utcnow()
        slug, title = topic if topic else (None, None)
        filename = f"challenges-{slug + '-' if slug else ''}{now:%Y%m%d}.{'csv' if format == 'csv' else 'md'}"
        path = folder / filename
        count = 0
        with contextlib.ExitStack() as files:
            out = files.enter_context(path.open("wb"))
            writer: MarkdownExport | CsvExport
            if format == "csv":
                writer = CsvExport(out, limit=limit)
            else:
                writer = MarkdownExport(
                    out,
                    community=community,
                    generated_at=now,
                    limit=limit,
                    lead_topic=title,
                    scope=describe_scope(topic=title, status=status, since=since),
                    # The rendered entries wait on disk for their section, not in memory.
                    scratch=lambda: files.enter_context(tempfile.TemporaryFile(dir=folder)),
                )
            starts = datetime(since.year, since.month, since.day, tzinfo=UTC) if since else None
            batches = self._export_batches(guild_id, batch=EXPORT_BATCH, status=status, topic=slug, since=starts)
            # One batch at a time: the event loop holds only the rows of the batch being rendered.
            try:
                async with contextlib.aclosing(batches):
                    async for raw in batches:
                        await asyncio.to_thread(_render, writer, self._export_items(raw))
                        count += len(raw[0])
                size = await asyncio.to_thread(writer.finish)
            except ExportTooLarge as error:
                raise ExportTooLargeError(error.limit, error.exported) from None
        return ExportedFile(path, filename, count, size)
