"""`make run` installs what running needs, not the dev tools; `make test` adds them and checks the lock first.

Dry runs (`make -n`) against a fresh, empty virtual-environment path: what make would do on a new machine.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _dry_run(target: str, venv: Path) -> str:
    result = subprocess.run(  # noqa: S603  (make, from PATH, on our own Makefile)
        ["make", "-n", "--no-print-directory", "-C", str(ROOT), target, f"VENV={venv}"],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_run_installs_the_runtime_only(tmp_path: Path) -> None:
    commands = _dry_run("run", tmp_path / "venv")
    assert "pip install --quiet -e '.[postgres]'" in commands
    assert "[dev]" not in commands
    assert commands.rstrip().endswith("nexus-bot run")


def test_test_installs_the_dev_tools_and_checks_the_lock(tmp_path: Path) -> None:
    commands = _dry_run("test", tmp_path / "venv")
    assert "pip install --quiet -e '.[dev]'" in commands
    assert "tests/unit/test_lock.py" in commands
    assert commands.index("tests/unit/test_lock.py") < commands.rindex("-m pytest")


def test_run_after_a_dev_install_installs_nothing_more(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    (venv / ".installed-dev").touch()
    (venv / ".installed-runtime").touch()
    assert "pip install" not in _dry_run("run", venv)
