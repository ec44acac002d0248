"""The web hub in a real browser: a seeded SQLite database, `nexus-bot web` started on it as its own process, and
Debian's headless Chromium driven through chromedriver by Selenium.

Without Chromium, chromedriver or Selenium every browser test is skipped with the reason; with
NEXUS_REQUIRE_BROWSER=1 (as `.ci/run` sets) it fails instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from bot.app import build_services
from bot.config import load_settings
from bot.db import migrate
from bot.db.engine import create_engine
from bot.knowledge import load_knowledge_base
from bot.services.challenges import Person

REQUIRE_BROWSER = "NEXUS_REQUIRE_BROWSER"
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
STARTUP_SECONDS = 90.0  # a loaded 2-core machine (CI runs the suites side by side) starts it slowly

GUILD = 5001
SERVER_NAME = "Nexus Browser Club"
SERVER_SLUG = "nexus-browser-club"
QUIET_GUILD = 5002  # never opted in
CHANNEL = 7001
ADA = Person(11, "Ada Lovelace")  # consents, credited
GRACE = Person(12, "Grace Hopper")  # consents, not credited
LINUS = Person(13, "Linus Private")  # never consents
ERROR = 'django.db.utils.IntegrityError: duplicate key value violates unique constraint "users_email_key"'
PRIVATE_MARKER = "zebracorn"  # in everything of the non-consenting member, the quiet server and the deleted entry


@dataclass(frozen=True)
class Seeded:
    """What the seeded database holds, by number."""

    integrity: int  # solved, with an accepted solution that is not the first one posted
    cors: int  # solved
    open: int  # open, for the server's "needs help" listing
    private: int  # by LINUS, who never consented: not on the hub
    deleted: int  # deleted: 410
    accepted_text: str
    earlier_text: str


@dataclass(frozen=True)
class Hub:
    url: str
    seeded: Seeded

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:  # noqa: S310 - the local hub
            return json.loads(response.read())


def browser_unavailable(reason: str, *, module: bool = False) -> NoReturn:
    """Skip (the whole module when `module`), or fail where NEXUS_REQUIRE_BROWSER=1 says the browser must be there."""
    if os.environ.get(REQUIRE_BROWSER) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_BROWSER}=1 requires the browser tests to run", pytrace=False)
    pytest.skip(reason, allow_module_level=module)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _seed(database_url: str) -> Seeded:
    """An opted-in server with consenting authors (one credited), solved challenges with error text, a solution by
    a member who never consented, a challenge by them, a deleted challenge, and a server that never opted in."""
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        settings = load_settings(_env_file=None, DISCORD_TOKEN="browser-tests", DATABASE_URL=database_url)
        services = build_services(settings, engine, load_knowledge_base(settings.topics_dir))
        log, readme, web = services.challenges, services.readme, services.web
        await web.set_web(GUILD, SERVER_NAME, True)
        await readme.set_choices(GUILD, ADA.id, ADA.name, web=True, credit=True)
        await readme.set_choices(GUILD, GRACE.id, GRACE.name, web=True)
        await readme.set_choices(GUILD, LINUS.id, LINUS.name, web=False)

        async def challenge(author: Person, title: str, details: str, topics: str, guild: int = GUILD) -> int:
            logged = await log.log_challenge(
                guild_id=guild, channel_id=CHANNEL, author=author, title=title, details=details, topics=topics
            )
            return logged.challenge.id

        async def solution(number: int, author: Person, body: str, guild: int = GUILD) -> int:
            added = await log.add_solution(guild_id=guild, challenge_id=number, author=author, body=body)
            return added.solution.id

        earlier_text = "Run the migration again with fake-initial; it did not help in the end."
        accepted_text = "Remove the duplicate emails first, then add the unique constraint:"
        integrity = await challenge(
            ADA,
            "Migration fails with IntegrityError on users.email",
            f"`manage.py migrate` stops with:\n\n```\n{ERROR}\nDETAIL:  Key (email)=(a@b.c) already exists.\n```",
            "django, postgresql",
        )
        await solution(integrity, GRACE, earlier_text)
        accepted = await solution(
            integrity,
            ADA,
            accepted_text + "\n\n```python\nUser.objects.filter(email=dupe).exclude(pk=keep).delete()\n```",
        )
        await solution(integrity, LINUS, f"My {PRIVATE_MARKER} answer, never published.")
        await log.accept(GUILD, integrity, accepted, ADA)

        cors = await challenge(
            GRACE,
            "CORS error when the React app calls the API",
            "Access to fetch at 'http://localhost:8000/api/' has been blocked by CORS policy",
            "cors, react",
        )
        cors_fix = await solution(cors, ADA, "Add `django-cors-headers` and list the origin in CORS_ALLOWED_ORIGINS.")
        await log.accept(GUILD, cors, cors_fix, GRACE)

        open_number = await challenge(ADA, "Celery worker never picks up tasks", "The task stays PENDING.", "celery")
        private = await challenge(
            LINUS, f"IntegrityError in my {PRIVATE_MARKER} project", f"{ERROR} again", "django, postgresql"
        )
        private_fix = await solution(private, LINUS, "Deduplicate.")
        await log.accept(GUILD, private, private_fix, LINUS)
        deleted = await challenge(ADA, f"Deleted {PRIVATE_MARKER} question", f"{ERROR} once more", "django")
        await log.delete(GUILD, deleted, ADA)
        quiet = await challenge(ADA, f"Quiet server {PRIVATE_MARKER} IntegrityError", ERROR, "django", QUIET_GUILD)
        await log.accept(QUIET_GUILD, quiet, await solution(quiet, ADA, "Fixed.", QUIET_GUILD), ADA)
        return Seeded(integrity, cors, open_number, private, deleted, accepted_text, earlier_text)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    folder = tmp_path_factory.mktemp("hub")
    database_url = f"sqlite+aiosqlite:///{folder / 'hub.db'}"
    seeded = asyncio.run(_seed(database_url))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "NEXUS_WEB_HOST": "127.0.0.1",
        "NEXUS_WEB_PORT": str(port),
        "NEXUS_WEB_BASE_URL": url,
        "NEXUS_LOG_LEVEL": "WARNING",
    }
    log_path = folder / "hub.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "web"], cwd=folder, env=environment, stdout=log_file, stderr=log_file
        )
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                if process.poll() is not None:
                    raise AssertionError(f"nexus-bot web exited with {process.returncode}: {log_path.read_text()}")
                with contextlib.suppress(OSError), urllib.request.urlopen(url + "/healthz", timeout=10) as answer:  # noqa: S310
                    if answer.status == 200:
                        break
                if time.monotonic() > deadline:
                    raise AssertionError(f"nexus-bot web did not answer /healthz: {log_path.read_text()}")
                time.sleep(0.1)
            yield Hub(url, seeded)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    # Anything the hub logged at WARNING or above during the run is a fault the pages hid.
    assert "Traceback" not in log_path.read_text(), log_path.read_text()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        browser_unavailable("Selenium is not installed (the dev extra)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        browser_unavailable("Chromium and chromedriver are not installed (Debian: chromium, chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"):
        options.add_argument(argument)
    options.add_argument("--window-size=1280,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(options=options, service=Service(chromedriver))
    except WebDriverException as error:
        browser_unavailable(f"Chromium did not start: {error.msg}")
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


def set_theme(browser: Any, theme: str) -> None:
    """`prefers-color-scheme` as the page sees it: "light" or "dark"."""
    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": theme}]}
    )


@pytest.fixture
def page(browser: Any, hub: Hub) -> Any:
    """The browser, in the light theme, its console log emptied."""
    set_theme(browser, "light")
    browser.get_log("browser")
    return browser


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.browser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the web hub in headless Chromium (tests/browser/)")
