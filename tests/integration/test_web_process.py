"""`nexus-bot web` as a real process: it replaces itself with the lean server (`python -OO -m bot.web`), serves the
hub from a migrated database, and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a local test server
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_nexus_bot_web_serves_the_hub_and_stops(tmp_path: Path) -> None:
    database = tmp_path / "nexus.db"
    port = _free_port()
    environment = {
        **{key: value for key, value in os.environ.items() if key != "DISCORD_TOKEN"},
        "DATABASE_URL": f"sqlite:///{database}",
        "NEXUS_WEB_PORT": str(port),
    }
    subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"], env=environment, cwd=tmp_path, check=True, timeout=120
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "web"],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else b""
                assert time.monotonic() < deadline, "the hub did not start within 120 s"
                time.sleep(0.5)
        assert status == 200
        assert b'"ok"' in body
        assert _get(f"http://127.0.0.1:{port}/topics/docker")[0] == 200
        assert _get(f"http://127.0.0.1:{port}/challenges/nobody/1")[0] == 404
        command = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        assert b"-OO" in command
        assert b"bot.web" in command
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
