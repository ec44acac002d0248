"""Startup weight: the bot's own modules load without numpy and SciPy (the matcher imports them for large rounds)."""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = """
import importlib, json, pkgutil, sys
import bot, cogs
from bot.client import discover_extensions

# Every module the bot can load, and every extension it loads at startup; only the large-round optimiser is skipped.
for package in (bot, cogs):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if module.name != "bot.pairing.matching._optimiser" and not module.name.endswith("__main__"):
            importlib.import_module(module.name)
for extension in discover_extensions():
    importlib.import_module(extension)
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in ("numpy", "scipy"))))
"""


def test_the_bot_starts_without_numpy_or_scipy() -> None:
    done = subprocess.run(  # noqa: S603  (our own interpreter, a fixed script)
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_a_small_round_does_not_load_numpy() -> None:
    probe = """
import json, sys
from datetime import UTC, datetime
from bot.pairing.matching import Candidate, assign
now = datetime(2026, 3, 2, tzinfo=UTC)
pool = [Candidate(n, "frontend" if n % 2 else "backend", "backend" if n % 2 else "frontend", frozenset(), None, now)
        for n in range(1, 31)]
assert len(assign(pool, past_pairs=frozenset())) == 15
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in ("numpy", "scipy"))))
"""
    done = subprocess.run(  # noqa: S603  (our own interpreter, a fixed script)
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
