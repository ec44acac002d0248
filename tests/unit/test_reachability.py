"""Why Discord could not be reached, in a few words, and how long the bot waits before trying again."""

from __future__ import annotations

import errno
import socket
from types import SimpleNamespace
from typing import Any

import aiohttp
import discord
import pytest
from aiohttp.client_reqrep import ConnectionKey

from bot.runtime.reachability import RECONNECT_WAIT, api_host, unreachable_reason


def _key(host: str = "discord.com", port: int = 443) -> ConnectionKey:
    return ConnectionKey(host, port, True, True, None, None, None)


def test_connection_refused() -> None:
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed ('127.0.0.1', 9)")
    assert unreachable_reason(aiohttp.ClientConnectorError(_key(), refused)) == "connection refused"


def test_name_not_resolved() -> None:
    failure = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    reason = unreachable_reason(aiohttp.ClientConnectorError(_key(), failure))
    assert reason == "the name does not resolve (Name or service not known)"


def test_timeouts() -> None:
    assert unreachable_reason(TimeoutError()) == "timed out"
    assert unreachable_reason(aiohttp.ConnectionTimeoutError("Connection timeout to host")) == "timed out"


def test_connection_dropped() -> None:
    assert unreachable_reason(aiohttp.ServerDisconnectedError()) == "the server closed the connection"
    assert unreachable_reason(ConnectionResetError(errno.ECONNRESET, "reset")) == "connection reset by peer"


def test_discord_server_errors_are_waited_out() -> None:
    response: Any = SimpleNamespace(status=503, reason="Service Unavailable")
    reason = unreachable_reason(discord.DiscordServerError(response, {"message": "down", "code": 0}))
    assert reason == "Discord answered 503 Service Unavailable"


@pytest.mark.parametrize(
    "error",
    [
        discord.LoginFailure("Improper token has been passed."),
        discord.PrivilegedIntentsRequired(None),
        ValueError("a bug"),
        RuntimeError("Session is closed"),
    ],
)
def test_other_failures_are_not_retried(error: BaseException) -> None:
    assert unreachable_reason(error) is None


def test_api_host_names_host_and_port() -> None:
    assert api_host("https://discord.com/api/v10") == "discord.com:443"
    assert api_host("http://127.0.0.1:8080/api/v10") == "127.0.0.1:8080"
    # Credentials in the URL never reach the log line.
    assert api_host("https://user:secret@proxy.example/api") == "proxy.example:443"


def test_waits_double_from_two_seconds_to_five_minutes_half_of_it_random() -> None:
    def wait(attempt: int) -> float:
        state: Any = SimpleNamespace(attempt_number=attempt)
        return float(RECONNECT_WAIT(state))

    for attempt in range(1, 8):
        assert 2**attempt <= wait(attempt) <= 2 ** (attempt + 1)
    for attempt in (9, 20, 200):
        assert 150 <= wait(attempt) <= 300
    assert len({wait(3) for _ in range(20)}) > 1
