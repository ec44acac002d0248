"""Starting the hub from `nexus-bot web`: the settings were checked there; the server runs in a fresh, lean
interpreter (`python -OO -m bot.web`) that never imports pydantic-settings nor keeps the libraries' docstrings.
Light on purpose: nothing of the server is imported before the process is replaced."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def exec_server(*, host: str, port: int, database_url: str, topics_dir: Path, base_url: str | None) -> None:
    """Replace this process with the lean server (`python -OO -m bot.web`); the URL travels in the environment,
    where a password is not shown to other users by `ps`."""
    arguments = ["--host", host, "--port", str(port), "--topics-dir", str(topics_dir)]
    if base_url:
        arguments += ["--base-url", base_url]
    environment = {**os.environ, "DATABASE_URL": database_url}
    os.execve(sys.executable, [sys.executable, "-OO", "-m", "bot.web", *arguments], environment)  # noqa: S606
