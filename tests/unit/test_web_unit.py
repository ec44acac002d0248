"""The web hub's pure parts: its settings (no token needed, a base URL checked), the Markdown renderer's safety,
and the aiohttp application's import weight (no discord)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.config import ConfigurationError, load_web_settings
from bot.web import app as web_app
from bot.web.cache import MAX_PAGE_BYTES, PageCache, cache_middleware
from bot.web.markdown import LINK_REL, Markdown


def test_web_settings_need_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    settings = load_web_settings(_env_file=None)
    assert (settings.web_host, settings.web_port, settings.web_base_url) == ("127.0.0.1", 8080, None)
    monkeypatch.setenv("NEXUS_WEB_HOST", "0.0.0.0")  # noqa: S104
    monkeypatch.setenv("NEXUS_WEB_PORT", "9000")
    monkeypatch.setenv("NEXUS_WEB_BASE_URL", "https://hub.example.org/")
    settings = load_web_settings(_env_file=None)
    assert (settings.web_host, settings.web_port, settings.web_base_url) == ("0.0.0.0", 9000, "https://hub.example.org")  # noqa: S104


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NEXUS_WEB_PORT", "0"),
        ("NEXUS_WEB_PORT", "70000"),
        ("NEXUS_WEB_BASE_URL", "hub.example.org"),
        ("NEXUS_WEB_BASE_URL", "javascript:alert(1)"),
        ("NEXUS_WEB_BASE_URL", "https://hub.example.org/?x=1"),
    ],
)
def test_bad_web_settings_name_their_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=variable):
        load_web_settings(_env_file=None)


def test_markdown_has_no_raw_html_no_images_and_marks_links() -> None:
    markdown = Markdown()
    html = markdown.block(
        "<img src=x onerror=alert(1)> <b>bold</b> [x](javascript:alert(1)) [ok](https://example.org) "
        "![tracker](https://t.example/p.gif) [data](data:text/html;base64,PHNjcmlwdD4=)"
    )
    assert "<img" not in html
    assert "<b>" not in html
    assert "&lt;b&gt;" in html
    assert 'href="javascript:' not in html
    assert 'href="data:' not in html
    assert f'<a href="https://example.org" rel="{LINK_REL}">ok</a>' in html
    assert "<pre><code" in markdown.block("```\n<script>\n```")
    assert "&lt;script&gt;" in markdown.block("```\n<script>\n```")


def test_the_web_process_never_imports_discord() -> None:
    code = "import sys, bot.web.server, bot.cli; assert 'discord' not in sys.modules, 'discord imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)  # noqa: S603


def test_cli_web_reports_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    environment = {**os.environ, "NEXUS_WEB_PORT": "http", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    environment.pop("DISCORD_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "web"], env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: configuration error: NEXUS_WEB_PORT: ")
    assert done.stderr.count("\n") == 1


def test_the_lean_server_needs_the_database_url(tmp_path: Path) -> None:
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bot.web", "--host", "127.0.0.1", "--port", "1", "--topics-dir", str(tmp_path)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "nexus-bot web" in done.stderr


def _page(text: str, status: int = 200) -> web.Response:
    response = web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
    response.last_modified = datetime(2026, 1, 1, tzinfo=UTC)
    return response


def test_the_page_cache_keeps_a_page_no_longer_than_its_ttl() -> None:
    now = [100.0]
    cache = PageCache(ttl=5.0, size=8, clock=lambda: now[0])
    cache.put("/topics/docker", _page("first"))
    now[0] += 4.9
    hit = cache.get("/topics/docker")
    assert hit is not None
    assert hit.body == b"first"
    assert hit.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Last-Modified" in hit.headers
    now[0] += 0.2  # past the TTL: a withdrawal is shown from here on
    assert cache.get("/topics/docker") is None
    assert len(cache) == 0


def test_the_page_cache_is_bounded_and_evicts_the_least_recently_used() -> None:
    cache = PageCache(ttl=5.0, size=2)
    cache.put("/a", _page("a"))
    cache.put("/b", _page("b"))
    assert cache.get("/a") is not None  # /a used: /b is the oldest now
    cache.put("/c", _page("c"))
    assert len(cache) == 2
    assert cache.get("/b") is None
    cache.put("/big", web.Response(body=b"x" * (MAX_PAGE_BYTES + 1)))
    assert cache.get("/big") is None


async def test_the_cache_middleware_serves_pages_but_never_searches_or_errors() -> None:
    calls: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(request.path_qs)
        return _page("gone", status=404) if request.path == "/missing" else _page(f"page {len(calls)}")

    middleware = cache_middleware(PageCache(ttl=5.0))
    for path in ("/topics/docker", "/topics/docker", "/search?q=x", "/search?q=x", "/missing", "/missing"):
        await middleware(make_mocked_request("GET", path), handler)
    assert calls == ["/topics/docker", "/search?q=x", "/search?q=x", "/missing", "/missing"]


async def test_a_request_over_the_time_limit_is_answered_503_and_its_work_cancelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(web_app, "REQUEST_SECONDS", 0.05)
    cancelled = asyncio.Event()

    async def slow(_: web.Request) -> web.Response:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return web.Response(text="late")

    response = await web_app.errors(make_mocked_request("GET", "/api/v1/challenges"), slow)
    assert response.status == 503
    assert response.headers["Retry-After"] == "5"
    assert cancelled.is_set()
