"""The local server checks request bodies against Discord's published OpenAPI spec (tests/e2e/discord_api_spec/).

Each test sends raw requests: a body the spec rejects is refused with Discord's 400 and recorded as a violation
(which fails any end-to-end test), and one it accepts goes through.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.e2e.server import FakeDiscord
from tests.e2e.spec import DiscordSpec


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _spec_problems(server: FakeDiscord) -> list[tuple[str, str]]:
    """The problems the spec check reported, taken off the server (so the fixture's own check passes)."""
    problems = [problem for violation in server.violations for problem in violation.problems]
    server.violations.clear()
    assert problems, "nothing was rejected"
    assert all(message.startswith("spec: ") for _path, message in problems), problems
    return problems


async def _callback(server: FakeDiscord, http: aiohttp.ClientSession, body: dict[str, Any]) -> int:
    user = server.add_member("someone")
    interaction = server.new_interaction(2, {"id": "1", "name": "topic", "type": 1}, user, server.general_id)
    async with http.post(
        f"{server.api_url}/interactions/{interaction.id}/{interaction.token}/callback", json=body
    ) as r:
        return r.status


BUTTON = {"type": 2, "style": 1, "label": "Send", "custom_id": "send"}


async def test_a_response_of_2001_characters_is_rejected(
    discord_server: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    # The spec allows 2,000 in interaction responses and webhooks (it says 4,000 for channel messages, where the
    # server's own rule keeps Discord's 2,000 for bots).
    status = await _callback(discord_server, http, {"type": 4, "data": {"content": "x" * 2001}})
    assert status == 400
    assert _spec_problems(discord_server) == [("data.content", "spec: <str of length 2001> is too long (at most 2000)")]


async def test_eleven_embeds_are_rejected(discord_server: FakeDiscord, http: aiohttp.ClientSession) -> None:
    url = f"{discord_server.api_url}/channels/{discord_server.general_id}/messages"
    async with http.post(url, json={"embeds": [{"title": "t"}] * 11}) as response:
        assert response.status == 400
        error = await response.json()
    assert error["code"] == 50035
    assert error["errors"]["embeds"]["_errors"][0]["message"].startswith("spec: ")
    assert _spec_problems(discord_server) == [("embeds", "spec: <list of length 11> is too long (at most 10)")]


async def test_a_button_in_a_modal_is_rejected(discord_server: FakeDiscord, http: aiohttp.ClientSession) -> None:
    # The server's own modal rules check lengths only: this one is the spec's alone.
    modal = {"custom_id": "m", "title": "Title", "components": [{"type": 1, "components": [BUTTON]}]}
    status = await _callback(discord_server, http, {"type": 9, "data": modal})
    assert status == 400
    assert _spec_problems(discord_server) == [("data.components.0.components.0.type", "spec: 2 is not one of [4]")]


async def test_an_upload_is_checked_by_its_payload_json(
    discord_server: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    url = f"{discord_server.api_url}/channels/{discord_server.general_id}/messages"
    form = aiohttp.FormData()
    form.add_field(
        "payload_json", json.dumps({"content": "log", "attachments": [{"id": 0, "filename": "log.md"}] * 11})
    )
    form.add_field("files[0]", b"# log", filename="log.md", content_type="text/markdown")
    async with http.post(url, data=form) as response:
        assert response.status == 400
    assert _spec_problems(discord_server) == [("attachments", "spec: <list of length 11> is too long (at most 10)")]


async def test_integer_snowflakes_are_accepted_as_discord_does(
    discord_server: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    """discord.py sends integers in allowed_mentions, message_reference and attachment ids; Discord takes them."""
    url = f"{discord_server.api_url}/channels/{discord_server.general_id}/messages"
    async with http.post(url, json={"content": "first"}) as response:
        first = int((await response.json())["id"])
    payload = {
        "content": "reply",
        "allowed_mentions": {"parse": [], "users": [discord_server.owner_id], "replied_user": False},
        "message_reference": {
            "message_id": first,
            "channel_id": discord_server.general_id,
            "fail_if_not_exists": False,
        },
        "attachments": [{"id": 0, "filename": "log.md"}],
    }
    form = aiohttp.FormData()
    form.add_field("payload_json", json.dumps(payload))
    form.add_field("files[0]", b"# log", filename="log.md", content_type="text/markdown")
    async with http.post(url, data=form) as response:
        assert response.status == 200
    assert discord_server.violations == []


async def test_a_route_the_spec_does_not_describe_is_noted(
    discord_server: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{discord_server.api_url}/channels/{discord_server.general_id}/nowhere", json={}) as response:
        assert response.status == 404
    assert discord_server.undescribed_routes == {"POST /channels/{id}/nowhere"}
    discord_server.unknown_routes.clear()  # the server does not model it either


def test_a_literal_segment_wins_over_a_parameter() -> None:
    spec = DiscordSpec.vendored()
    original = spec.operation("PATCH", "/webhooks/1/token/messages/@original")
    reaction = spec.operation("PUT", "/channels/1/messages/2/reactions/%E2%9C%85/@me")
    assert original is not None
    assert original.template == "/webhooks/{webhook_id}/{webhook_token}/messages/@original"
    assert reaction is not None
    assert reaction.template == "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me"
    assert spec.operation("GET", "/channels/1/nowhere") is None
    assert spec.operation("PUT", "/channels/1/messages") is None
