"""`nexus-bot`: run the bot, manage the database, check configuration and the knowledge base."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "db":
            return _db(args.action, getattr(args, "revision", None))
        settings = load_settings()
        if args.command == "check":
            return _check(settings)
        return _run(settings)
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
