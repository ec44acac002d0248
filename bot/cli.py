"""`nexus-bot`: run the bot, manage the database, check configuration and the knowledge base."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.config import ConfigurationError, Settings, load_database_settings, load_settings


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
        return 1
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


def _export(guild_id: int | None, output_format: str, output: str | None) -> int:
    """The challenge document, offline: straight from the database, no Discord connection."""
    from bot.challenges.export import ExportChallenge, render_csv, render_markdown
    from bot.db.engine import create_engine, create_session_factory
    from bot.db.search import search_engine_for
    from bot.knowledge import load_knowledge_base
    from bot.services.challenges import ChallengeService, SolvedChallengeLog
    from bot.services.topics import TopicService

    offline = load_database_settings()
    knowledge_base = load_knowledge_base(offline.topics_dir)

    async def collect() -> tuple[int | None, list[int], list[ExportChallenge]]:
        engine = create_engine(offline.database_url)
        try:
            sessions = create_session_factory(engine)
            topics = TopicService(knowledge_base, SolvedChallengeLog(sessions))
            challenges = ChallengeService(sessions, search_engine_for(engine.dialect.name), topics)
            guilds = await challenges.guilds()
            chosen = guild_id if guild_id is not None else (guilds[0] if len(guilds) == 1 else None)
            items = [item async for item in challenges.export(chosen)] if chosen is not None else []
            return chosen, guilds, items
        finally:
            await engine.dispose()

    chosen, guilds, items = asyncio.run(collect())
    if chosen is None:
        listed = ", ".join(str(guild) for guild in guilds) or "none: nothing is logged yet"
        print(f"error: choose a server with --guild; servers with challenges: {listed}", file=sys.stderr)
        return 2
    if output_format == "csv":
        chunks = render_csv(items)
    else:
        chunks = render_markdown(items, community=f"server {chosen}", generated_at=datetime.now(UTC))
    if output is None:
        sys.stdout.writelines(chunks)
        return 0
    with open(output, "w", encoding="utf-8", newline="") as handle:
        handle.writelines(chunks)
    print(f"{len(items)} challenges written to {output}", file=sys.stderr)
    return 0


def _check(settings: Settings) -> int:
    from bot.knowledge import KnowledgeBaseError, load_knowledge_base
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
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nexus-bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="migrate the database to the newest revision and start the bot")
    commands.add_parser("check", help="validate the configuration and the whole knowledge base")
    db = commands.add_parser("db", help="database migrations")
    db_actions = db.add_subparsers(dest="action", required=True)
    upgrade = db_actions.add_parser("upgrade", help="migrate to a revision (default: head)")
    upgrade.add_argument("revision", nargs="?", default="head")
    downgrade = db_actions.add_parser("downgrade", help="migrate back (default: one revision)")
    downgrade.add_argument("revision", nargs="?", default="-1")
    db_actions.add_parser("current", help="show the database's revision")
    export = commands.add_parser("export", help="write the Challenges & Solutions document (offline)")
    export.add_argument("--guild", type=int, help="the server's id (needed when several servers log challenges)")
    export.add_argument("--format", choices=("markdown", "csv"), default="markdown")
    export.add_argument("--output", "-o", help="a file to write (default: standard output)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "db":
            return _db(args.action, getattr(args, "revision", None))
        if args.command == "export":
            return _export(args.guild, args.format, args.output)
        settings = load_settings()
        if args.command == "check":
            return _check(settings)
        return _run(settings)
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
