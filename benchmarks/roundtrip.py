"""Interaction round trip and resident memory through the real stack, Nexus beside the floor bot.

Both bots run as their own processes, each against its own local Discord-compatible server in this
process; interactions alternate between them so machine noise hits both alike. Latency is measured
by the server: INTERACTION_CREATE sent → interaction callback received. Memory is the resident set of
each bot's process tree (any child process counted), after READY, after a burst of challenge posts in a
watched channel (once Nexus has committed them all), and at rest (after the bot's periodic heap trim).
`NEXUS_ROUNDTRIP_PARTS=memory` (or `latency`) runs only that part.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from benchmarks._table import Row, percentile
from benchmarks.challenges import ingestion_posts
from tests.e2e.server import FakeDiscord, Interaction
from tests.e2e.users import FakeUser

INTERACTIONS = 1000
MESSAGES = 8000  # with the 2,000 interactions: 10,000 events after READY
BURST = 1000  # challenge posts in the watched channel
REST_SECONDS = 65.0  # past the bot's heap trim (every 60 s)
READY_TARGET_MB, BURST_TARGET_MB = 75, 85
PARTS = frozenset(os.environ.get("NEXUS_ROUNDTRIP_PARTS", "memory,latency").replace(" ", "").split(","))
MEMBERS = 50_000
TOKEN = "benchmark-token"  # noqa: S105 - the local server accepts any token


@contextlib.asynccontextmanager
async def bot_process(
    command: list[str], env: dict[str, str], *, log: Path | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A bot as its own process with only `env` of the bot's settings; its output goes to `log` (or nowhere)."""
    base = {key: value for key, value in os.environ.items() if not key.startswith(("DISCORD", "NEXUS", "DATABASE"))}
    with contextlib.ExitStack() as stack:
        output = stack.enter_context(log.open("wb")) if log is not None else asyncio.subprocess.DEVNULL
        process = await asyncio.create_subprocess_exec(*command, env={**base, **env}, stdout=output, stderr=output)
        try:
            yield process
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 20)
                except TimeoutError:
                    process.kill()


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def tree_mb(pid: int) -> tuple[float, int]:
    """The resident memory of a process and all its descendants (MiB), and how many processes that is."""
    total, count, pending = 0.0, 0, [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):  # a process that ended meanwhile counts for nothing
            total += resident_mb(current)
            count += 1
            pending += _children(current)
    return total, count


async def _committed(database: Path, target: int, within: float) -> int:
    """Wait until Nexus's challenges table holds `target` rows (or `within` seconds passed); the count."""
    deadline = time.perf_counter() + within
    count = 0
    while time.perf_counter() < deadline:
        with contextlib.suppress(sqlite3.OperationalError):  # the table may not exist yet, or be locked
            connection = sqlite3.connect(database)
            try:
                count = int(connection.execute("SELECT count(*) FROM challenges").fetchone()[0])
            finally:
                connection.close()
        if count >= target:
            break
        await asyncio.sleep(0.05)
    return count


async def _ready(server: FakeDiscord) -> None:
    await server.wait_connected(within=60)
    for _ in range(600):
        if server.guild_commands.get(server.guild_id):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the bot never synced its commands")


async def _roundtrip(user: FakeUser, kind: str) -> float:
    if kind == "slash":
        answer = await user.slash("topic", name="docker")
        interaction: Interaction = answer.interaction
    else:
        await user.autocomplete("topic", "name", "dock")
        interaction = next(reversed(user.server.interactions.values()))
    assert interaction.acknowledged_at is not None
    return interaction.acknowledged_at - interaction.dispatched_at


async def measure() -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        async with FakeDiscord() as floor_server, FakeDiscord() as nexus_server:
            for server in (floor_server, nexus_server):
                server.add_synthetic_members(MEMBERS)
            floor_env = {
                "DISCORD_TOKEN": TOKEN,
                "DISCORD_API_URL": floor_server.api_url,
                "FLOOR_GUILD_ID": str(floor_server.guild_id),
            }
            nexus_env = {
                "DISCORD_TOKEN": TOKEN,
                "DISCORD_API_URL": nexus_server.api_url,
                "NEXUS_GUILD_ID": str(nexus_server.guild_id),
                "DATABASE_URL": f"sqlite+aiosqlite:///{folder}/nexus.db",
                "NEXUS_CHALLENGE_CHANNEL_IDS": str(nexus_server.challenges_channel_id),
                "NEXUS_LOG_LEVEL": "WARNING",
            }
            posts = ingestion_posts(BURST, seed=23)
            async with (
                bot_process([sys.executable, "-m", "benchmarks.floor_bot"], floor_env) as floor,
                bot_process([sys.executable, "-m", "bot", "run"], nexus_env) as nexus,
            ):
                await asyncio.gather(_ready(floor_server), _ready(nexus_server))
                await asyncio.sleep(1)
                ready_mb = resident_mb(floor.pid), resident_mb(nexus.pid)
                memory = {"after READY": (tree_mb(floor.pid), tree_mb(nexus.pid))}
                if "memory" in PARTS:
                    started = time.perf_counter()
                    for server in (floor_server, nexus_server):
                        poster = FakeUser(server, list(server.members)[8])
                        for number, post in enumerate(posts):
                            poster.post(server.challenges_channel_id, post)
                            if number % 100 == 0:
                                await asyncio.sleep(0)
                    committed = await _committed(Path(folder) / "nexus.db", BURST, 300)
                    burst_seconds = time.perf_counter() - started
                    await asyncio.sleep(1)  # the acknowledgements after the last commit
                    memory[f"after a {BURST:,}-post burst"] = (tree_mb(floor.pid), tree_mb(nexus.pid))
                    await asyncio.sleep(REST_SECONDS)
                    memory[f"at rest ({REST_SECONDS:.0f} s later)"] = (tree_mb(floor.pid), tree_mb(nexus.pid))
                    notes.append(
                        f"burst: Nexus committed {committed:,} of {BURST:,} challenge posts in {burst_seconds:.1f} s "
                        f"(the floor bot got the same {BURST:,} posts); process trees' resident memory, "
                        f"{MEMBERS:,}-member guild (targets: Nexus <= {READY_TARGET_MB} MiB after READY, "
                        f"<= {BURST_TARGET_MB} MiB after the burst and at rest); n is the number of Nexus's processes"
                    )
                    for label, ((floor_tree, floor_count), (nexus_tree, nexus_count)) in memory.items():
                        target = READY_TARGET_MB if label == "after READY" else BURST_TARGET_MB
                        verdict = "met" if nexus_tree <= target else "MISSED"
                        rows.append(
                            Row(
                                f"resident memory {label}, process tree",
                                nexus_count,
                                0.0,
                                0.0,
                                f"<= {target} MiB",
                                f"Nexus {nexus_tree:.1f} MiB {verdict}; floor {floor_tree:.1f} MiB ({floor_count})",
                            )
                        )
                if "latency" in PARTS:
                    rows += await _latency(floor_server, nexus_server, notes)
                    for server in (floor_server, nexus_server):
                        poster = FakeUser(server, list(server.members)[7])
                        for number in range(MESSAGES):
                            poster.post(server.general_id, f"message {number} about docker and redis")
                            if number % 500 == 0:
                                await asyncio.sleep(0)
                    await asyncio.sleep(2)  # let both bots drain their sockets
                    floor_mb, nexus_mb = resident_mb(floor.pid), resident_mb(nexus.pid)
                    notes.append(
                        f"resident memory after READY with a {MEMBERS:,}-member guild and 10,000 messages and "
                        f"interactions: floor {floor_mb:.1f} MB, Nexus {nexus_mb:.1f} MB, "
                        f"ratio {nexus_mb / floor_mb:.2f}x (targets: <=1.3x, under 80 MB)"
                    )
                    notes.append(
                        f"growth from READY to the end of that workload: floor {floor_mb - ready_mb[0]:+.1f} MB, "
                        f"Nexus {nexus_mb - ready_mb[1]:+.1f} MB"
                    )
    return rows, notes


async def _latency(floor_server: FakeDiscord, nexus_server: FakeDiscord, notes: list[str]) -> list[Row]:
    rows: list[Row] = []
    # One user per interaction: public /topic cards are limited per user and minute.
    floor_users = [FakeUser(floor_server, uid) for uid in list(floor_server.members)[5:]]
    nexus_users = [FakeUser(nexus_server, uid) for uid in list(nexus_server.members)[5:]]
    for kind in ("slash", "autocomplete"):
        for number in range(50):  # warm-up, not counted
            await _roundtrip(floor_users[number], kind)
            await _roundtrip(nexus_users[number], kind)
        floor_times: list[float] = []
        nexus_times: list[float] = []
        offset = 100 if kind == "slash" else 2000
        for number in range(INTERACTIONS):
            floor_times.append(await _roundtrip(floor_users[offset + number], kind))
            nexus_times.append(await _roundtrip(nexus_users[offset + number], kind))
        label = "/topic" if kind == "slash" else "autocomplete"
        floor_row = _row(f"{label} round trip, floor bot", floor_times)
        nexus_row = _row(f"{label} round trip, Nexus", nexus_times, "median <=1.5x, p99 <=2x floor")
        rows += [floor_row, nexus_row]
        notes.append(
            f"{label}: Nexus/floor median {nexus_row.median_ms / floor_row.median_ms:.2f}x, "
            f"p99 {nexus_row.p99_ms / floor_row.p99_ms:.2f}x"
        )
    return rows


def _row(name: str, seconds: list[float], target: str = "") -> Row:
    return Row(name, len(seconds), statistics.median(seconds) * 1000, percentile(seconds, 0.99) * 1000, target)


def run() -> tuple[list[Row], list[str]]:
    return asyncio.run(measure())
