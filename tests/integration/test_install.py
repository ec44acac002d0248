"""A user's install is not a checkout: a wheel carries the cards and the migrations, and works alone.

Slow on purpose: this module builds a real wheel with pip (fetching the build backend when it is not
installed) and installs it into a throw-away directory, once per session (module-scoped fixture),
then runs the installed package in subprocesses far from the checkout.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "install-test-token.not-a-real-one.0123456789"


@dataclass(frozen=True)
class Installed:
    wheel: Path
    site: Path


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  (our own interpreter and pip)
        [sys.executable, "-m", "pip", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    assert (REPO_ROOT / "pyproject.toml").is_file(), REPO_ROOT
    dist = tmp_path_factory.mktemp("dist")
    # Without build isolation only when the backend is already here; otherwise pip fetches it.
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("hatchling") else []
    built = _pip("wheel", "--no-deps", *isolation, "-w", str(dist), str(REPO_ROOT))
    assert built.returncode == 0, built.stdout + built.stderr
    wheels = list(dist.glob("nexus_bot-*.whl"))
    assert len(wheels) == 1, wheels
    site = tmp_path_factory.mktemp("site")
    install = _pip("install", "--no-deps", "--no-compile", "--target", str(site), str(wheels[0]))
    assert install.returncode == 0, install.stdout + install.stderr
    return Installed(wheel=wheels[0], site=site)


def _run_installed(
    installed: Installed, tmp_path: Path, *args: str, token: bool = True
) -> subprocess.CompletedProcess[str]:
    workdir = tmp_path / "elsewhere"
    workdir.mkdir(exist_ok=True)
    env = {
        name: value
        for name, value in os.environ.items()
        if name.upper() not in ("DISCORD_TOKEN", "DATABASE_URL", "PYTHONPATH") and not name.upper().startswith("NEXUS_")
    }
    env["PYTHONPATH"] = str(installed.site)
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'db' / 'nexus.db'}"
    if token:
        env["DISCORD_TOKEN"] = TOKEN
    return subprocess.run(  # noqa: S603  (our own interpreter and pip)
        [sys.executable, *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_wheel_carries_cards_and_migrations(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    cards = {name for name in names if name.startswith("bot/_bundled/data/topics/") and name.endswith(".md")}
    expected_cards = {f"bot/_bundled/data/topics/{path.name}" for path in (REPO_ROOT / "data" / "topics").glob("*.md")}
    assert cards == expected_cards
    assert len(cards) >= 40
    assert "bot/_bundled/migrations/env.py" in names
    versions = {name for name in names if name.startswith("bot/_bundled/migrations/versions/")}
    expected_versions = {
        f"bot/_bundled/migrations/versions/{path.name}" for path in (REPO_ROOT / "migrations" / "versions").glob("*.py")
    }
    assert expected_versions
    assert expected_versions <= versions
    assert "bot/cli.py" in names
    assert "cogs/__init__.py" in names


def test_installed_package_is_the_one_imported(installed: Installed, tmp_path: Path) -> None:
    result = _run_installed(
        installed,
        tmp_path,
        "-c",
        "import bot, bot.runtime.paths, sys; print(bot.__file__); print(bot.runtime.paths.default_data_dir())",
    )
    assert result.returncode == 0, result.stderr
    module_file, data_dir = (Path(line) for line in result.stdout.splitlines())
    assert module_file.resolve().is_relative_to(installed.site.resolve())
    assert not module_file.resolve().is_relative_to(REPO_ROOT)
    assert data_dir.resolve() == (installed.site / "bot" / "_bundled" / "data").resolve()


def test_installed_check_reads_the_bundled_cards(installed: Installed, tmp_path: Path) -> None:
    result = _run_installed(installed, tmp_path, "-m", "bot", "check")
    assert result.returncode == 0, result.stderr
    expected_cards = len(list((REPO_ROOT / "data" / "topics").glob("*.md")))
    assert f"{expected_cards} cards" in result.stdout
    assert str((installed.site / "bot" / "_bundled" / "data" / "topics").resolve()) in result.stdout
    assert TOKEN not in result.stdout + result.stderr, "`nexus-bot check` showed the token"


def test_installed_db_upgrade_uses_the_bundled_migrations(installed: Installed, tmp_path: Path) -> None:
    upgrade = _run_installed(installed, tmp_path, "-m", "bot", "db", "upgrade", token=False)
    assert upgrade.returncode == 0, upgrade.stderr
    assert "(at head)" in upgrade.stdout
    assert (tmp_path / "db" / "nexus.db").is_file()
    current = _run_installed(installed, tmp_path, "-m", "bot", "db", "current", token=False)
    assert current.returncode == 0, current.stderr
    assert current.stdout == upgrade.stdout
    located = _run_installed(
        installed, tmp_path, "-c", "from bot.db.migrate import migrations_dir; print(migrations_dir())"
    )
    assert Path(located.stdout.strip()).resolve() == (installed.site / "bot" / "_bundled" / "migrations").resolve()
