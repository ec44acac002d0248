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
from tests.e2e.spec import SPEC_DIR, DiscordSpec


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


TEXT_INPUT = {"type": 4, "style": 1, "label": "Title", "custom_id": "title", "max_length": 100}
CALLBACK = "/interactions/1/token/callback"
SAMPLES: dict[str, tuple[str, str, Any, bool]] = {
    "a modal": (
        "POST",
        CALLBACK,
        {
            "type": 9,
            "data": {
                "custom_id": "m",
                "title": "T",
                "components": [
                    {"type": 1, "components": [TEXT_INPUT]},
                    {"type": 18, "label": "Details", "component": TEXT_INPUT},
                ],
            },
        },
        True,
    ),
    "a modal with a button": (
        "POST",
        CALLBACK,
        {"type": 9, "data": {"custom_id": "m", "title": "T", "components": [{"type": 1, "components": [BUTTON]}]}},
        False,
    ),
    "a text input of style 9": (
        "POST",
        CALLBACK,
        {
            "type": 9,
            "data": {
                "custom_id": "m",
                "title": "T",
                "components": [{"type": 1, "components": [{**TEXT_INPUT, "style": 9}]}],
            },
        },
        False,
    ),
    "a row without its type": (
        "POST",
        CALLBACK,
        {"type": 9, "data": {"custom_id": "m", "title": "T", "components": [{"components": [TEXT_INPUT]}]}},
        False,
    ),
    "a message with a button and a select": (
        "POST",
        CALLBACK,
        {
            "type": 4,
            "data": {
                "content": "hi",
                "components": [
                    {"type": 1, "components": [BUTTON]},
                    {
                        "type": 1,
                        "components": [{"type": 3, "custom_id": "s", "options": [{"label": "a", "value": "a"}]}],
                    },
                ],
            },
        },
        True,
    ),
    "a component of no kind": ("POST", CALLBACK, {"type": 4, "data": {"components": [{"type": 99}]}}, False),
    "a null component": ("POST", CALLBACK, {"type": 4, "data": {"components": [None]}}, False),
    "a deferred update": ("POST", CALLBACK, {"type": 6}, True),
    "an unknown callback": ("POST", CALLBACK, {"type": 3}, False),
    "25 choices": ("POST", CALLBACK, {"type": 8, "data": {"choices": [{"name": "n", "value": "v"}] * 25}}, True),
    "26 choices": ("POST", CALLBACK, {"type": 8, "data": {"choices": [{"name": "n", "value": "v"}] * 26}}, False),
    "a command with options": (
        "PUT",
        "/applications/1/guilds/2/commands",
        [
            {
                "name": "pair",
                "description": "d",
                "options": [
                    {
                        "type": 1,
                        "name": "request",
                        "description": "d",
                        "options": [
                            {
                                "type": 3,
                                "name": "track",
                                "description": "d",
                                "required": True,
                                "choices": [{"name": "a", "value": "a"}],
                            },
                            {"type": 4, "name": "days", "description": "d", "min_value": 1},
                        ],
                    }
                ],
            }
        ],
        True,
    ),
    "an option of type 99": (
        "PUT",
        "/applications/1/guilds/2/commands",
        [{"name": "pair", "description": "d", "options": [{"type": 99, "name": "x", "description": "d"}]}],
        False,
    ),
}


@pytest.fixture(scope="module")
def plain_spec() -> DiscordSpec:
    """The spec as published, without the rewrites that make it fast."""
    return DiscordSpec(json.loads((SPEC_DIR / "openapi.json").read_text(encoding="utf-8")), by_kind=False)


@pytest.mark.parametrize(("method", "path", "body", "valid"), SAMPLES.values(), ids=SAMPLES.keys())
def test_the_faster_schema_gives_the_published_verdicts(
    plain_spec: DiscordSpec, method: str, path: str, body: Any, valid: bool
) -> None:
    fast, plain = DiscordSpec.vendored(), plain_spec
    operation, published = fast.operation(method, path), plain.operation(method, path)
    assert operation is not None
    assert published is not None
    assert (fast.check(operation, body) == []) is valid
    assert (plain.check(published, body) == []) is valid
