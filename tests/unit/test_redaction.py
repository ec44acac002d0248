"""URLs with credentials never reach the log whole: user:password@ and token-like query values are masked."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.app import configure_logging
from bot.config import load_settings
from bot.runtime.redaction import redact_url

TOKEN = "redaction-test-token.not-a-real-one.0123456789"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:s3cret@proxy.example/api/v10", "https://user:***@proxy.example/api/v10"),
        ("https://only-a-token@proxy.example/api", "https://***@proxy.example/api"),
        ("http://127.0.0.1:8080/api/v10?token=abc123&x=1", "http://127.0.0.1:8080/api/v10?token=***&x=1"),
        ("https://proxy.example/api?api_key=abc&Signature=def", "https://proxy.example/api?api_key=***&Signature=***"),
        ("postgresql+asyncpg://nexus:pw@db:5432/nexus", "postgresql+asyncpg://nexus:***@db:5432/nexus"),
        (
            "postgresql+asyncpg://db/nexus?password=pw&ssl=require",
            "postgresql+asyncpg://db/nexus?password=***&ssl=require",
        ),
        ("https://proxy.example/api?auth=abc&sig=def", "https://proxy.example/api?auth=***&sig=***"),
        ("https://discord.com/api/v10/channels/1/messages?author=2&design=3", None),
        ("https://discord.com/api/v10", None),
        ("sqlite+aiosqlite:////var/lib/nexus/nexus.db", None),
    ],
)
def test_redact_url(url: str, shown: str | None) -> None:
    assert redact_url(url) == (url if shown is None else shown)


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """The root logger's output, as configured for a run, captured; the root logger is restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quieted = logging.getLogger("aiosqlite").level
    captured = io.StringIO()
    try:
        yield captured
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
        logging.getLogger("aiosqlite").setLevel(quieted)


def test_logged_urls_and_secrets_are_redacted(stream: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", stream)
    settings = load_settings(
        _env_file=None,
        DISCORD_TOKEN=TOKEN,
        DISCORD_API_URL="https://apiuser:api-pass-42@proxy.example/api/v10?token=query-secret-7",
        DATABASE_URL="postgresql+asyncpg://nexus:db-pass-99@db:5432/nexus",
    )
    configure_logging(settings)
    log = logging.getLogger("bot.test")
    log.info("API at %s, database at %s", settings.discord_api_url, settings.database_url)
    log.warning("token %s, bare password %s", TOKEN, "db-pass-99")
    try:
        raise RuntimeError(f"failed on {settings.discord_api_url} with api-pass-42")
    except RuntimeError:
        log.exception("something broke")
    output = stream.getvalue()
    for secret in (TOKEN, "api-pass-42", "query-secret-7", "db-pass-99"):
        assert secret not in output
    assert "proxy.example/api/v10" in output
    assert "postgresql+asyncpg://nexus:***@db:5432/nexus" in output
    assert "Traceback" in output
    assert "something broke" in output


def test_debug_logging_does_not_turn_on_aiosqlite_s_parameter_log(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging(load_settings(_env_file=None, DISCORD_TOKEN=TOKEN, NEXUS_LOG_LEVEL="DEBUG"))
    assert logging.getLogger("bot").isEnabledFor(logging.DEBUG)
    # aiosqlite logs each call with its arguments (the bound parameters) at DEBUG.
    assert not logging.getLogger("aiosqlite").isEnabledFor(logging.DEBUG)
