"""The web hub's pure parts: its settings (no token needed, a base URL checked), the Markdown renderer's safety,
and the aiohttp application's import weight (no discord)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigurationError, load_web_settings
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
