"""A first run as a new user has it: `python -m bot run` when Discord cannot be reached or refuses the token.

Each test runs the real command in a subprocess and reads what it prints, as a person at a terminal would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from tests.e2e.harness import TOKEN
from tests.e2e.server import FakeDiscord

RETRY_LINE = "cannot reach Discord at"


def _environment(tmp_path: Path, api_url: str) -> dict[str, str]:
    return {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DISCORD", "NEXUS", "DATABASE"))},
        "DISCORD_TOKEN": TOKEN,
        "DISCORD_API_URL": api_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'nexus.db'}",
        "NEXUS_LOG_LEVEL": "INFO",
    }


async def _start(tmp_path: Path, api_url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=_environment(tmp_path, api_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def _closed_port() -> int:
    """A local port nothing listens on: bound, then released (connecting to it is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_unreachable_discord_is_one_clear_line_and_a_retry(tmp_path: Path) -> None:
    port = _closed_port()
    process = await _start(tmp_path, f"http://127.0.0.1:{port}/api/v10")
    assert process.stderr is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(60):
            while not any(RETRY_LINE in line for line in seen):
                line = (await process.stderr.readline()).decode()
                assert line, "the bot exited instead of retrying:\n" + "".join(seen)
                seen.append(line)
        # A retry is scheduled, not spun: the process is still waiting a moment later.
        await asyncio.sleep(0.5)
        assert process.returncode is None, "".join(seen)
        process.send_signal(signal.SIGTERM)
        _, rest = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
    log = "".join(seen) + rest.decode()
    assert process.returncode == 0, log
    assert "Traceback" not in log
    retry_lines = [line for line in log.splitlines() if RETRY_LINE in line]
    assert len(retry_lines) == 1, log  # the first wait is about 2 s; SIGTERM came before a second attempt
    assert f"127.0.0.1:{port}" in retry_lines[0]
    assert "connection refused" in retry_lines[0].lower()
    assert "retrying in" in retry_lines[0]
    assert "stopped: gateway closed, database engine disposed" in log
    assert TOKEN not in log


async def test_an_invalid_token_is_one_line_and_exit_status_2(discord_server: FakeDiscord, tmp_path: Path) -> None:
    discord_server.force_401(r"^GET /users/@me$")
    process = await _start(tmp_path, discord_server.api_url)
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
    log = stderr.decode()
    assert process.returncode == 2, log
    assert "Traceback" not in log
    errors = [line for line in log.splitlines() if "DISCORD_TOKEN" in line]
    assert errors == ["error: Discord rejected DISCORD_TOKEN; copy the bot token again from the Developer Portal"], log
    assert RETRY_LINE not in log
    assert TOKEN not in log
