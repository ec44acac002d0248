"""Telling "Discord cannot be reached right now" apart from every other start-up failure, in a few words.

Unreachable (no network, a name that does not resolve, a refused or timed-out connection, Discord's 5xx) is worth
waiting out; a refused token or a bug is not, and is left to fail.
"""

from __future__ import annotations

import errno
import os
import socket

import aiohttp
import discord
import yarl
from tenacity import wait_exponential, wait_random_exponential
from tenacity.wait import wait_base

# 2-4 s, then twice as long each time, up to 5 minutes; half of each wait is random so that many bots cut off
# together (one host's outage) do not all come back at the same second.
RECONNECT_WAIT: wait_base = wait_exponential(multiplier=2, max=150) + wait_random_exponential(multiplier=2, max=150)


def api_host(api_base: str) -> str:
    """`host:port` of the REST API's base, for the log line (never the URL: it may hold credentials)."""
    url = yarl.URL(api_base)
    return f"{url.host}:{url.port}"


def unreachable_reason(error: BaseException) -> str | None:
    """Why Discord could not be reached, or None when `error` is something else (not worth a retry)."""
    if isinstance(error, discord.DiscordServerError):
        return f"Discord answered {error.status} {error.response.reason}".rstrip()
    if isinstance(error, TimeoutError):  # aiohttp's connect and read timeouts are TimeoutErrors too
        return "timed out"
    if isinstance(error, aiohttp.ClientConnectorError):
        return _os_reason(error.os_error)
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    if isinstance(error, aiohttp.ClientConnectionError | OSError):
        return _os_reason(error) if isinstance(error, OSError) else str(error) or type(error).__name__
    return None


def _os_reason(error: OSError) -> str:
    if isinstance(error, socket.gaierror):
        detail = error.strerror or str(error)
        return f"the name does not resolve ({detail})"
    if isinstance(error, TimeoutError) or error.errno == errno.ETIMEDOUT:
        return "timed out"
    if error.errno:
        # "Connect call failed ('127.0.0.1', 9)" says less than the errno's own words.
        return os.strerror(error.errno).lower()
    return str(error) or type(error).__name__
