"""`nexus-bot`: run the bot, manage the database, check configuration and the knowledge base."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Literal

from bot.config import ConfigurationError, Settings, load_database_settings, load_settings, load_web_settings


def _run(settings: Settings) -> int:
    import discord

    from bot.app import configure_logging, run_bot
    from bot.db.child_migration import MigrationError
    from bot.knowledge import KnowledgeBaseError

    configure_logging(settings)
    try:
        asyncio.run(run_bot(settings))
    except discord.LoginFailure:
        print(
            "error: Discord rejected DISCORD_TOKEN; copy the bot token again from the Developer Portal",
            file=sys.stderr,
        )
        return 2  # a configuration fault, like a missing variable: restarting will not help
    except KnowledgeBaseError as error:
        print("error: the knowledge base is invalid:\n" + str(error), file=sys.stderr)
        return 1
    except MigrationError as error:
        print(f"error: the database could not be migrated: {error}", file=sys.stderr)
        return 1
    return 0


def _db(action: str, revision: str | None) -> int:
    from bot.db import migrate
    from bot.db.engine import create_engine

    async def go() -> str:
        engine = create_engine(load_database_settings().database_url)
        try:
            if action == "upgrade":
                await migrate.upgrade(engine, revision or "head")
            elif action == "downgrade":
                await migrate.downgrade(engine, revision or "-1")
            current = await migrate.current_revision(engine)
            head = migrate.head_revision()
            state = "at head" if current == head else f"head is {head}"
            return f"database revision: {current or 'base (empty)'} ({state})"
        finally:
            await engine.dispose()

    print(asyncio.run(go()))
    return 0


def _db_copy(to: str, batch_size: int) -> int:
    """Copy the configured database into the empty database at `to`, then verify both sides."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from bot.config import DatabaseSettings
    from bot.db.copy import CopyFailed, CopyRefused, copy_database, search_index_problems, verify_copy
    from bot.db.engine import create_engine
    from bot.runtime.redaction import redact_url

    source_url = load_database_settings().database_url
    try:
        target_url = DatabaseSettings.model_validate({"DATABASE_URL": to}).database_url
    except ValueError:
        # Never echo the URL: it may hold a password.
        print(
            "error: --to must be a database URL: postgresql://user:password@host/database (or sqlite:///path.db)",
            file=sys.stderr,
        )
        return 2
    if _same_database(source_url, target_url):
        print("error: --to names the configured database itself; copy into another, empty database", file=sys.stderr)
        return 2
    shown_source = redact_url(make_url(source_url).render_as_string(hide_password=True))
    shown_target = redact_url(make_url(target_url).render_as_string(hide_password=True))

    def copied(table: str, rows: int) -> None:
        print(f"  {table:<22} {rows:>9} rows", flush=True)

    async def go() -> int:
        source = create_engine(source_url)
        target = create_engine(target_url)
        try:
            print(f"copying {shown_source} -> {shown_target} (target migrated to head first)", flush=True)
            try:
                counts = await copy_database(source, target, batch_size=batch_size, progress=copied)
            except (CopyRefused, CopyFailed) as error:
                print(f"error: {error}", file=sys.stderr)
                return 1
            except (SQLAlchemyError, OSError) as error:
                # Cannot connect, no such database, no permission: the driver's words, never the URL.
                reason = error.orig if isinstance(error, DBAPIError) and error.orig else error
                print(f"error: the copy failed: {type(reason).__name__}: {reason}", file=sys.stderr)
                return 1
            print(f"copied {sum(counts.values())} rows in {len(counts)} tables; verifying", flush=True)
            checks = await verify_copy(source, target)
            live, problems = await search_index_problems(target)
        finally:
            await source.dispose()
            await target.dispose()
        print(f"  {'table':<22} {'source':>9} {'target':>9}  content sha256")
        for check in checks:
            verdict = (
                check.target_hash[:16]
                if check.equal
                else f"DIFFERENT ({check.source_hash[:12]} != {check.target_hash[:12]})"
            )
            print(f"  {check.table:<22} {check.source_rows:>9} {check.target_rows:>9}  {verdict}")
        different = [check.table for check in checks if not check.equal]
        if problems:
            print(f"search index on the target: {'; '.join(problems)}", file=sys.stderr)
        else:
            print(f"search index on the target: all {live} live challenges indexed")
        if different:
            print(f"error: the copy differs from the source in: {', '.join(different)}", file=sys.stderr)
        if different or problems:
            return 1
        print(f"verified: row counts and content hashes equal in all {len(checks)} tables")
        return 0

    return asyncio.run(go())


def _same_database(first: str, second: str) -> bool:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    a, b = make_url(first), make_url(second)
    if a.get_backend_name() == b.get_backend_name() == "sqlite":
        if not a.database or not b.database or ":memory:" in (a.database, b.database):
            return False
        return Path(a.database).expanduser().resolve() == Path(b.database).expanduser().resolve()
    return (a.host, a.port or 5432, a.database) == (b.host, b.port or 5432, b.database) and a.drivername == b.drivername


def _export(
    guild_id: int | None,
    output_format: Literal["markdown", "csv"],
    output: str | None,
    *,
    topic: str | None = None,
    status: Literal["open", "solved"] | None = None,
    since: date | None = None,
) -> int:
    """The challenge document, offline: straight from the database, no Discord connection and no size limit.

    The same path as `/challenge export` (`ChallengeService.export_file`), then copied where it is asked for.
    """
    import shutil

    from bot.core.errors import NexusError
    from bot.db.engine import create_engine, create_session_factory
    from bot.db.search import search_engine_for
    from bot.knowledge import load_knowledge_base
    from bot.services.challenges import ChallengeService, SolvedChallengeLog
    from bot.services.topics import TopicService

    offline = load_database_settings()
    knowledge_base = load_knowledge_base(offline.topics_dir)

    async def write() -> tuple[int | None, list[int], int]:
        engine = create_engine(offline.database_url)
        try:
            sessions = create_session_factory(engine)
            topics = TopicService(knowledge_base, SolvedChallengeLog(sessions))
            challenges = ChallengeService(sessions, search_engine_for(engine.dialect.name), topics)
            guilds = await challenges.guilds()
            chosen = guild_id if guild_id is not None else (guilds[0] if len(guilds) == 1 else None)
            if chosen is None:
                return None, guilds, 0
            async with challenges.export_file(
                chosen, community=f"server {chosen}", format=output_format, topic=topic, status=status, since=since
            ) as exported:
                if output is None:
                    with exported.path.open("rb") as source:
                        shutil.copyfileobj(source, sys.stdout.buffer)
                    sys.stdout.buffer.flush()
                else:
                    shutil.copyfile(exported.path, output)
                return chosen, guilds, exported.challenges
        finally:
            await engine.dispose()

    try:
        chosen, guilds, count = asyncio.run(write())
    except NexusError as error:
        print(f"error: {error.user_message}", file=sys.stderr)
        return 2
    if chosen is None:
        listed = ", ".join(str(guild) for guild in guilds) or "none: nothing is logged yet"
        print(f"error: choose a server with --guild; servers with challenges: {listed}", file=sys.stderr)
        return 2
    if output is not None:
        print(f"{count} challenges written to {output}", file=sys.stderr)
    return 0


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a date written YYYY-MM-DD, such as 2024-05-01") from None


def _readme(guild_id: int, member_id: int, output: str | None) -> int:
    """A member's README, offline: the same service and renderer as `/nexus readme`, no Discord connection."""
    from bot.core.errors import NexusError
    from bot.db.engine import create_engine, create_session_factory
    from bot.knowledge import load_knowledge_base
    from bot.services.readme import Readme, ReadmeService

    offline = load_database_settings()
    knowledge_base = load_knowledge_base(offline.topics_dir)

    async def write() -> Readme:
        engine = create_engine(offline.database_url)
        try:
            service = ReadmeService(create_session_factory(engine), knowledge_base)
            return await service.readme(guild_id, member_id, community=f"server {guild_id}")
        finally:
            await engine.dispose()

    try:
        written = asyncio.run(write())
    except NexusError as error:
        print(f"member {member_id} in server {guild_id}: {error.user_message}", file=sys.stderr)
        return 1
    if output is None:
        sys.stdout.write(written.document)
        return 0
    with open(output, "w", encoding="utf-8") as handle:
        handle.write(written.document)
    print(f"README of member {member_id} written to {output}", file=sys.stderr)
    return 0


def _check(settings: Settings, stale_days: int | None = None) -> int:
    from bot.knowledge import KnowledgeBaseError, load_knowledge_base, stale_cards
    from bot.knowledge.render import card_problems

    try:
        knowledge_base = load_knowledge_base(settings.topics_dir)
    except KnowledgeBaseError as error:
        print(f"knowledge base {settings.topics_dir}: {len(error.problems)} problem(s)", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    titles = {card.slug: card.title for card in knowledge_base.cards}
    problems = [f"{card.slug}: {problem}" for card in knowledge_base.cards for problem in card_problems(card, titles)]
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    if problems:
        return 1
    print(
        f"configuration valid; knowledge base {settings.topics_dir}: {len(knowledge_base)} cards "
        f"in {len(knowledge_base.categories)} categories, every card within Discord's limits"
    )
    if stale_days is None:
        return 0
    today = datetime.now(UTC).date()
    stale = stale_cards(knowledge_base, today, stale_days)
    if not stale:
        print(f"every card was reviewed within the last {stale_days} days")
        return 0
    print(f"{len(stale)} card(s) not reviewed within the last {stale_days} days, oldest first:")
    for card in stale:
        print(f"  {card.slug:<40} reviewed {card.reviewed.isoformat()} ({(today - card.reviewed).days} days ago)")
    return 1


def _web() -> int:
    from bot.web.launch import exec_server

    settings = load_web_settings()
    exec_server(
        host=settings.web_host,
        port=settings.web_port,
        database_url=settings.database_url,
        topics_dir=settings.topics_dir,
        base_url=settings.web_base_url,
    )
    return 0  # not reached: the process is replaced


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nexus-bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="migrate the database to the newest revision and start the bot")
    check = commands.add_parser("check", help="validate the configuration and the whole knowledge base")
    check.add_argument(
        "--stale",
        type=_positive,
        metavar="DAYS",
        help="also list the cards not reviewed within DAYS days (exit status 1 if any)",
    )
    db = commands.add_parser("db", help="database migrations")
    db_actions = db.add_subparsers(dest="action", required=True)
    upgrade = db_actions.add_parser("upgrade", help="migrate to a revision (default: head)")
    upgrade.add_argument("revision", nargs="?", default="head")
    downgrade = db_actions.add_parser("downgrade", help="migrate back (default: one revision)")
    downgrade.add_argument("revision", nargs="?", default="-1")
    db_actions.add_parser("current", help="show the database's revision")
    copy = db_actions.add_parser(
        "copy",
        help="copy every row from DATABASE_URL into a new, empty database (e.g. SQLite to PostgreSQL) and verify",
    )
    copy.add_argument("--to", required=True, metavar="URL", help="the empty target, e.g. postgresql://user:pw@host/db")
    copy.add_argument("--batch-size", type=_positive, default=1000, help="rows per insert (default: 1000)")
    export = commands.add_parser("export", help="write the Challenges & Solutions document (offline)")
    export.add_argument("--guild", type=int, help="the server's id (needed when several servers log challenges)")
    export.add_argument("--format", choices=("markdown", "csv"), default="markdown")
    export.add_argument("--output", "-o", help="a file to write (default: standard output)")
    export.add_argument("--topic", help="only challenges about this topic (its name or slug)")
    export.add_argument("--status", choices=("open", "solved"), help="only open or only solved challenges")
    export.add_argument("--since", type=_date, help="only challenges logged on or after this date (YYYY-MM-DD)")
    commands.add_parser(
        "web", help="serve the web hub (NEXUS_WEB_HOST, NEXUS_WEB_PORT) from the database; needs no token"
    )
    readme = commands.add_parser("readme", help="write a member's Project Nexus README (offline)")
    readme.add_argument("--guild", type=int, required=True, help="the server's id")
    readme.add_argument("--member", type=int, required=True, help="the member's id")
    readme.add_argument("--output", "-o", help="a file to write (default: standard output)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "db" and args.action == "copy":
            return _db_copy(args.to, args.batch_size)
        if args.command == "db":
            return _db(args.action, getattr(args, "revision", None))
        if args.command == "export":
            return _export(args.guild, args.format, args.output, topic=args.topic, status=args.status, since=args.since)
        if args.command == "readme":
            return _readme(args.guild, args.member, args.output)
        if args.command == "web":
            return _web()
        settings = load_settings()
        if args.command == "check":
            return _check(settings, args.stale)
        return _run(settings)
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
