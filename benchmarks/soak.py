"""Soak: the bot under ten times a busy channel's traffic for minutes on end, on SQLite and on PostgreSQL.

The real bot runs as its own process (`python -m bot run`) against the local Discord server in this process. A
busy channel is taken as 200 messages and 50 interactions a minute; the soak sends ten times that, mixed: in the
watched channel, challenge posts, solutions as replies and plain chatter; as interactions, private /topic cards,
autocomplete, /challenge search, list and show, /pair status, request and cancel, /session list. The server
records every interaction's acknowledgement (it refuses one later than Discord's 3 s, as Discord does) and every
payload Discord would reject; the bot's log is scanned for errors; its resident memory is sampled throughout.

`NEXUS_SOAK_SECONDS` (default 600) sets the length of each run; `NEXUS_SOAK_ENGINES` (default
`sqlite,postgresql`) which engines run. PostgreSQL needs the server binaries (see tests/postgres.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks._table import Row, percentile
from benchmarks.roundtrip import bot_process, resident_mb
from tests.e2e.server import FakeDiscord, Interaction
from tests.e2e.users import FakeUser, NoAnswer

SECONDS = float(os.environ.get("NEXUS_SOAK_SECONDS", "600"))
ENGINES = [name for name in os.environ.get("NEXUS_SOAK_ENGINES", "sqlite,postgresql").split(",") if name]
MESSAGES_PER_MINUTE = 10 * 200
INTERACTIONS_PER_MINUTE = 10 * 50
WARM_UP_SHARE = 0.2
SAMPLE_SECONDS = 5.0
LEARNERS = 400
TOKEN = "benchmark-token"  # noqa: S105 - the local server accepts any token
TOPICS = ["docker", "redis", "django orm", "jwt", "graphql", "celery", "postgresql", "ci/cd", "caching", "drf"]
_VOCABULARY = (
    "slow query index pagination select_related migration docker compose redis cache celery worker jwt token "
    "refresh cors preflight graphql resolver serializer validation permission throttling deployment nginx "
    "gunicorn timeout 502 IntegrityError unique constraint foreign key transaction rollback webhook"
)
WORDS = _VOCABULARY.split()


@dataclass
class SoakResult:
    engine: str
    interactions: list[Interaction] = field(default_factory=list)
    messages: int = 0
    memory: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since start, resident MB)"""
    log_errors: list[str] = field(default_factory=list)
    violations: int = 0
    unanswered: int = 0


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


class Traffic:
    """What ten busy channels' worth of learners do, drawn from a seeded generator."""

    def __init__(self, server: FakeDiscord, rng: random.Random) -> None:
        self.server = server
        self.rng = rng
        self.users = [FakeUser(server, server.add_member(f"learner{n}")) for n in range(LEARNERS)]
        self.challenge_posts: list[dict[str, object]] = []
        self.unanswered = 0

    def message(self) -> None:
        user = self.rng.choice(self.users)
        roll = self.rng.random()
        channel = self.server.challenges_channel_id
        if roll < 0.2:
            post = user.post(channel, f"Challenge: {_sentence(self.rng, 6)}\n{_sentence(self.rng, 30)}")
            self.challenge_posts.append(post)
        elif roll < 0.3 and self.challenge_posts:
            user.post(channel, f"Solution: {_sentence(self.rng, 20)}", reply_to=self.rng.choice(self.challenge_posts))  # type: ignore[arg-type]
        else:
            user.post(channel, _sentence(self.rng, self.rng.randint(3, 25)))

    def interaction(self) -> Callable[[], Awaitable[object]]:
        user = self.rng.choice(self.users)
        kind = self.rng.random()
        if kind < 0.25:
            return lambda: user.slash("topic", name=self.rng.choice(TOPICS), private=True)
        if kind < 0.45:
            return lambda: user.autocomplete("topic", "name", self.rng.choice(TOPICS)[:3])
        if kind < 0.6:
            return lambda: user.slash("challenge search", query=_sentence(self.rng, self.rng.randint(1, 3)))
        if kind < 0.7:
            return lambda: user.slash("challenge list")
        if kind < 0.75:
            return lambda: user.slash("challenge show", id=self.rng.randint(1, max(1, len(self.challenge_posts))))
        if kind < 0.85:
            return lambda: user.slash("pair status")
        if kind < 0.95:
            track = self.rng.choice(["frontend", "backend"])

            async def request_then_cancel() -> None:
                await user.slash("pair request", track=track, topics="Docker", availability="Mon-Fri 18-21")
                await user.slash("pair cancel")

            return request_then_cancel
        return lambda: user.slash("session list")

    async def run(self, seconds: float, tick: Callable[[float], None]) -> int:
        """Send the traffic at its rates for `seconds`; interactions run concurrently, as users do."""
        pending: set[asyncio.Task[None]] = set()
        started = time.perf_counter()
        messages = interactions = 0
        while (elapsed := time.perf_counter() - started) < seconds:
            while messages < elapsed * MESSAGES_PER_MINUTE / 60:
                self.message()
                messages += 1
            while interactions < elapsed * INTERACTIONS_PER_MINUTE / 60:
                task = asyncio.create_task(self._guarded(self.interaction()))
                pending.add(task)
                task.add_done_callback(pending.discard)
                interactions += 1
            tick(elapsed)
            await asyncio.sleep(0.05)
        if pending:
            await asyncio.wait(pending, timeout=30)
        return messages

    async def _guarded(self, action: Callable[[], Awaitable[object]]) -> None:
        try:
            await action()
        except NoAnswer:
            self.unanswered += 1


async def _ready(server: FakeDiscord) -> None:
    await server.wait_connected(within=120)
    for _ in range(1200):
        if server.guild_commands.get(server.guild_id):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the bot never synced its commands")


async def soak(engine: str, database_url: str, folder: Path) -> SoakResult:
    result = SoakResult(engine)
    async with FakeDiscord() as server:
        env = {
            "DISCORD_TOKEN": TOKEN,
            "DISCORD_API_URL": server.api_url,
            "NEXUS_GUILD_ID": str(server.guild_id),
            "DATABASE_URL": database_url,
            "NEXUS_CHALLENGE_CHANNEL_IDS": str(server.challenges_channel_id),
            "NEXUS_PAIRING_CHANNEL_ID": str(server.pairing_channel_id),
            "NEXUS_LOG_LEVEL": "WARNING",
        }
        log_path = folder / f"bot-{engine}.log"
        traffic = Traffic(server, random.Random(7))
        async with bot_process([sys.executable, "-m", "bot", "run"], env, log=log_path) as bot:
            await _ready(server)
            next_sample = 0.0

            def sample(elapsed: float) -> None:
                nonlocal next_sample
                if elapsed >= next_sample:
                    result.memory.append((elapsed, resident_mb(bot.pid)))
                    next_sample += SAMPLE_SECONDS

            result.messages = await traffic.run(SECONDS, sample)
            sample(SECONDS)
        result.interactions = [item for item in server.interactions.values() if item.type in (2, 3, 4, 5)]
        result.violations = len(server.violations)
        result.unanswered = traffic.unanswered
    text = log_path.read_text(errors="replace")
    result.log_errors = [line for line in text.splitlines() if " ERROR " in line or line.startswith("Traceback")]
    return result


def _growth(memory: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(MB just after warm-up, MB over the last minute, growth in %): medians, so one GC pause does not decide."""
    after_warm_up = [mb for at, mb in memory if SECONDS * WARM_UP_SHARE <= at < SECONDS * WARM_UP_SHARE + 60]
    last = [mb for at, mb in memory if at >= SECONDS - 60]
    start, end = statistics.median(after_warm_up or [memory[0][1]]), statistics.median(last or [memory[-1][1]])
    return start, end, (end - start) / start * 100


@contextlib.contextmanager
def _database(engine: str, folder: Path) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite+aiosqlite:///{folder}/soak.db"
        return
    from tests.postgres import running_cluster  # the tests' own throwaway cluster

    with running_cluster() as cluster, cluster.database() as url:
        yield url


def run() -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    notes: list[str] = []
    for engine in ENGINES:
        with tempfile.TemporaryDirectory() as folder, _database(engine, Path(folder)) as url:
            result = asyncio.run(soak(engine, str(url), Path(folder)))
        latencies = [item.acknowledged_at - item.dispatched_at for item in result.interactions if item.acknowledged_at]
        expired = sum(1 for item in result.interactions if item.expired or item.acknowledged_at is None)
        start, end, growth = _growth(result.memory)
        rows.append(
            Row(
                f"soak {engine}: interaction acknowledged",
                len(latencies),
                statistics.median(latencies) * 1000,
                percentile(latencies, 0.99) * 1000,
                "no error, none expired",
            )
        )
        verdict = "met" if not (result.log_errors or expired or result.violations or result.unanswered) else "missed"
        notes.append(
            f"soak {engine}, {SECONDS:.0f} s: {result.messages:,} messages and {len(result.interactions):,} "
            f"interactions; errors in the log {len(result.log_errors)}, expired/unacknowledged {expired}, "
            f"unanswered {result.unanswered}, payloads Discord would reject {result.violations}: {verdict}"
        )
        notes.append(
            f"soak {engine} memory: {start:.1f} MB after warm-up, {end:.1f} MB over the last minute, "
            f"growth {growth:+.1f}% (target < 5%): {'met' if growth < 5 else 'missed'}"
        )
        notes += [f"  {line}" for line in result.log_errors[:5]]
    return rows, notes
