"""The forum part of the challenge benchmark (`NEXUS_BENCH_PARTS=forum`): forum posts ingested beside text-channel
posts, by the same writer, and a backfill of archived posts.

Bursts of `FORUM_POSTS` posts reach the running bot over the gateway, taking turns: a text-channel burst
(`MESSAGE_CREATE` of "Challenge: …" posts), then a forum burst (per post `THREAD_CREATE`, then its starter message's
`MESSAGE_CREATE`), built from the same generated challenges. Each is timed from its first frame to its last post
committed. Then, with the bot stopped, `BACKFILL_POSTS` posts are archived in the forum, and a new start is timed
from ready to the last of them committed (read from the archived listing, a post's messages each).
The local Discord server runs in a process of its own (as for `ingest`), so its work does not count as the bot's.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import statistics
import time
from multiprocessing.connection import Connection
from pathlib import Path

from benchmarks._child import ChildServer
from benchmarks._table import Row, row

FORUM_POSTS = 2000
FORUM_ROUNDS = 3
FORUM_WARMUP = 50
BACKFILL_POSTS = 1000
TOKEN = "benchmark-token.not-a-real-one.0123456789"  # noqa: S105 - the local server accepts any token
TAGS = ["Django", "docker", "help", "graphql", "redis"]


def generated(count: int, seed: int = 19) -> list[tuple[str, str]]:
    """(title, details) of generated challenges, in the forms learners write them."""
    from benchmarks.challenges import ChallengeWriter
    from bot.knowledge import load_knowledge_base
    from bot.runtime.paths import default_data_dir

    writer = ChallengeWriter(load_knowledge_base(default_data_dir() / "topics").cards, seed)
    items: list[tuple[str, str]] = []
    while len(items) < count:
        item = writer.challenge()
        if 1 <= len(item.title.strip()) <= 100 and len(item.details) <= 3900:
            items.append((item.title.strip(), item.details))
    return items


def _count(database: Path) -> int:
    connection = sqlite3.connect(database)
    try:
        return int(connection.execute("SELECT count(*) FROM challenges").fetchone()[0])
    finally:
        connection.close()


async def _wait_for(database: Path, target: int, within: float) -> tuple[float, int]:
    deadline = time.perf_counter() + within
    while True:
        count = _count(database)
        now = time.perf_counter()
        if count >= target or now > deadline:
            return now, count
        await asyncio.sleep(0.002)


def _serve(connection: Connection, database: str) -> None:
    asyncio.run(_serve_async(connection, Path(database)))


async def _serve_async(connection: Connection, database: Path) -> None:
    from tests.e2e.server import FakeDiscord
    from tests.e2e.users import FakeUser

    loop = asyncio.get_running_loop()
    rng = random.Random(5)
    async with FakeDiscord(guild_members=20) as server:
        forum = server.add_forum("help-forum", TAGS, announce=False)
        channel = server.challenges_channel_id
        users = [FakeUser(server, member) for member in list(server.members)[2:]]
        connection.send((server.api_url, server.guild_id, channel, forum))
        frames: list[str] = []
        while True:
            command, argument = await loop.run_in_executor(None, connection.recv)
            if command == "connected":
                await server.wait_connected()
                connection.send(True)
            elif command in ("prepare text", "prepare forum"):
                # Stored and encoded beforehand, as Discord has them before it delivers them.
                frames = []
                for number, (title, details) in enumerate(argument):
                    user = users[number % len(users)]
                    if command == "prepare text":
                        message = server._store_message(
                            channel, {"content": f"Challenge: {title}\n{details}"}, author=user.member["user"]
                        )
                        frames.append(json.dumps(("MESSAGE_CREATE", {**server.public(message), "member": user.member})))
                        continue
                    tags = rng.sample(TAGS, rng.randint(0, 3))
                    thread, starter = server.create_post(forum, user.id, title, details, tags=tags, announce=False)
                    frames.append(json.dumps(("THREAD_CREATE", {**thread, "newly_created": True})))
                    frames.append(json.dumps(("MESSAGE_CREATE", {**server.public(starter), "member": user.member})))
                connection.send(len(frames))
            elif command == "archive":
                for number, (title, details) in enumerate(argument):
                    user = users[number % len(users)]
                    server.create_post(forum, user.id, title, details, announce=False, archived=True)
                connection.send(len(argument))
            elif command == "burst":
                target, within = argument
                session = server.current_session
                assert session is not None
                assert session.socket is not None
                started = time.perf_counter()
                for frame in frames:
                    event, payload = json.loads(frame)
                    session.sequence += 1
                    session.events.append((session.sequence, event, payload))
                    data = json.dumps(payload)
                    await session.socket.send_str(f'{{"op":0,"t":"{event}","s":{session.sequence},"d":{data}}}')
                done, count = await _wait_for(database, target, within)
                connection.send((started, done, count))
            elif command == "calls":
                prefix = str(argument)
                connection.send(sum(1 for call in server.calls if call.method == "GET" and call.path.endswith(prefix)))
            elif command == "acks":
                connection.send(len(server.reactions))
            elif command == "problems":
                connection.send(len(server.violations) + len(server.unknown_routes))
            else:
                connection.send(None)
                return


class _Server(ChildServer):
    def __init__(self, database: Path) -> None:
        super().__init__(_serve, str(database))

    async def __aenter__(self) -> _Server:
        await super().__aenter__()
        self.api_url, self.guild_id, self.channel_id, self.forum_id = self.hello
        return self


async def _acked(server: _Server, target: int, within: float) -> None:
    """Wait until `target` posts have their ✅, or no more come for a second (acknowledgements past the queue's
    bound are dropped, by design), so that the next burst starts with the bot idle again."""
    deadline = time.perf_counter() + within
    seen, since = -1, time.perf_counter()
    while time.perf_counter() < deadline:
        acks = await server.ask("acks")
        if acks >= target:
            return
        if acks != seen:
            seen, since = acks, time.perf_counter()
        elif time.perf_counter() - since > 1.0:
            return
        await asyncio.sleep(0.05)


async def forum_suite(folder: Path) -> tuple[list[Row], list[str]]:
    from bot.config import load_settings
    from tests.e2e.harness import discord_globals_restored, running_bot

    items = generated(FORUM_WARMUP * 2 + FORUM_ROUNDS * FORUM_POSTS + BACKFILL_POSTS)
    warmup_text, warmup_forum = items[:FORUM_WARMUP], items[FORUM_WARMUP : 2 * FORUM_WARMUP]
    rounds = [
        items[2 * FORUM_WARMUP + number * FORUM_POSTS : 2 * FORUM_WARMUP + (number + 1) * FORUM_POSTS]
        for number in range(FORUM_ROUNDS)
    ]
    archived = items[-BACKFILL_POSTS:]
    database = folder / "forum.db"
    seconds: dict[str, list[float]] = {"text": [], "forum": []}
    committed: dict[str, int] = {"text": 0, "forum": 0}
    with discord_globals_restored():
        async with _Server(database) as server:
            settings = load_settings(
                _env_file=None,
                DISCORD_TOKEN=TOKEN,
                DATABASE_URL=f"sqlite+aiosqlite:///{database}",
                DISCORD_API_URL=server.api_url,
                NEXUS_GUILD_ID=server.guild_id,
                NEXUS_CHALLENGE_CHANNEL_IDS=str(server.channel_id),
                NEXUS_CHALLENGE_FORUM_IDS=str(server.forum_id),
                NEXUS_LOG_LEVEL="WARNING",
            )
            logged = 0
            async with running_bot(settings, settle_heap_after_setup=True):
                await server.ask("connected")
                await asyncio.sleep(0.5)  # the start-up backfill (nothing to read)
                for kind, warmup in (("text", warmup_text), ("forum", warmup_forum)):
                    await server.ask(f"prepare {kind}", warmup)
                    _, _, logged = await server.ask("burst", (logged + len(warmup), 60))
                await _acked(server, logged, 120)
                for burst in rounds:
                    for kind in ("text", "forum"):
                        await server.ask(f"prepare {kind}", burst)
                        started, done, count = await server.ask("burst", (logged + len(burst), 300))
                        committed[kind] += count - logged
                        logged = count
                        seconds[kind].append(done - started)
                        await _acked(server, logged, 300)  # the next burst starts with the bot idle again
            await server.ask("archive", archived)
            before_history = await server.ask("calls", "/messages")
            before_listings = await server.ask("calls", "/threads/archived/public")
            async with running_bot(settings, settle_heap_after_setup=True):
                started = time.perf_counter()
                done, count = await _wait_for(database, logged + BACKFILL_POSTS, 600)
                backfill = done - started
            listings = await server.ask("calls", "/threads/archived/public") - before_listings
            histories = await server.ask("calls", "/messages") - before_history
            problems = await server.ask("problems")
    rates = {kind: statistics.median(FORUM_POSTS / value for value in seconds[kind]) for kind in seconds}
    ratio = rates["forum"] / rates["text"]
    backfilled = count - logged
    rows = [
        row(
            f"ingest {FORUM_POSTS:,} text-channel posts: gateway → committed",
            seconds["text"],
            note=f"{rates['text']:,.0f} posts/s",
        ),
        row(
            f"ingest {FORUM_POSTS:,} forum posts: gateway → committed",
            seconds["forum"],
            "as fast as text posts",
            f"{rates['forum']:,.0f} posts/s; forum / text {ratio:.2f}",
        ),
        row(
            f"backfill {BACKFILL_POSTS:,} archived forum posts: ready → committed",
            [backfill],
            note=f"{backfilled:,} logged, {backfilled / backfill:,.0f} posts/s",
        ),
    ]
    notes = [
        f"forum: {FORUM_ROUNDS} rounds of a text burst then a forum burst of {FORUM_POSTS:,} posts each (the same "
        f"generated challenges), into one running bot; committed text {committed['text']:,}, forum "
        f"{committed['forum']:,}; per burst (s) text "
        + ", ".join(f"{value:.2f}" for value in seconds["text"])
        + ", forum "
        + ", ".join(f"{value:.2f}" for value in seconds["forum"])
        + f"; forum / text rate {ratio:.2f}",
        f"forum backfill: {backfilled:,} of {BACKFILL_POSTS:,} archived posts logged in {backfill:.1f} s after ready, "
        f"with {listings} archived-listing pages and {histories} message-history reads"
        + (f"; {problems} requests Discord would have rejected" if problems else ""),
    ]
    return rows, notes
