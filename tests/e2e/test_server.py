"""The local server enforces what Discord enforces: each rule, shown with a raw request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.e2e.server import ATTACHMENT_SIZE_LIMIT, INTERACTION_ACK_SECONDS, INTERACTION_TOKEN_SECONDS, FakeDiscord
from tests.e2e.users import FakeUser


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _button(number: int, **extra: Any) -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": f"b{number}", "custom_id": f"id{number}", **extra}


def _row(*components: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(components)}


INVALID_MESSAGES = {
    "content over 2000": {"content": "x" * 2001},
    "empty message": {"content": ""},
    "title over 256": {"embeds": [{"title": "x" * 257}]},
    "description over 4096": {"embeds": [{"description": "x" * 4097}]},
    "26 fields": {"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]},
    "field value over 1024": {"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}]},
    "field name over 256": {"embeds": [{"fields": [{"name": "n" * 257, "value": "v"}]}]},
    "empty field value": {"embeds": [{"fields": [{"name": "n", "value": ""}]}]},
    "footer over 2048": {"embeds": [{"footer": {"text": "f" * 2049}}]},
    "author over 256": {"embeds": [{"author": {"name": "a" * 257}}]},
    "11 embeds": {"embeds": [{"title": "t"}] * 11},
    "over 6000 in all": {"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]},
    "6 rows": {"components": [_row(_button(n)) for n in range(6)]},
    "6 buttons in a row": {"components": [_row(*(_button(n) for n in range(6)))]},
    "custom_id over 100": {"components": [_row(_button(1, custom_id="c" * 101))]},
    "duplicate custom_id": {"components": [_row(_button(1), _button(1))]},
    "26 select options": {
        "components": [
            _row(
                {
                    "type": 3,
                    "custom_id": "s",
                    "options": [{"label": str(n), "value": str(n)} for n in range(26)],
                }
            )
        ]
    },
    "select beside a button": {
        "components": [_row({"type": 3, "custom_id": "s", "options": [{"label": "a", "value": "a"}]}, _button(1))]
    },
}


@pytest.mark.parametrize("body", INVALID_MESSAGES.values(), ids=INVALID_MESSAGES.keys())
async def test_invalid_messages_are_rejected_like_discord(
    discord_server: FakeDiscord, http: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    url = f"{discord_server.api_url}/channels/{discord_server.general_id}/messages"
    async with http.post(url, json=body) as response:
        assert response.status == 400
        assert response.headers["Content-Type"] == "application/json"
        error = await response.json()
    assert error["code"] == 50035
    assert error["errors"]
    assert len(discord_server.violations) == 1
    discord_server.violations.clear()


async def test_a_valid_message_is_stored_and_dispatched(
    discord_server: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    url = f"{discord_server.api_url}/channels/{discord_server.general_id}/messages"
    body = {
        "content": "hi <@1> @everyone",
        "embeds": [{"title": "t", "fields": [{"name": "n", "value": "v"}]}],
    }
    async with http.post(url, json=body) as response:
        assert response.status == 200
        message = await response.json()
    assert message["content"] == body["content"]
    # No allowed_mentions means Discord's default: everything in the text pings.
    assert message["mention_everyone"] is True
    assert discord_server.violations == []
    # The server flags such a message as one that could ping; the bot itself never sends one.
    assert discord_server.ping_violations() == [f"message {message['id']} has no allowed_mentions: 'hi <@1> @everyone'"]
    del discord_server.messages[int(message["id"])]


INVALID_COMMANDS = {
    "uppercase name": [{"name": "Topic", "description": "d", "type": 1}],
    "name over 32": [{"name": "t" * 33, "description": "d", "type": 1}],
    "empty description": [{"name": "topic", "description": "", "type": 1}],
    "description over 100": [{"name": "topic", "description": "d" * 101, "type": 1}],
    "26 options": [
        {
            "name": "topic",
            "description": "d",
            "type": 1,
            "options": [{"name": f"o{n}", "description": "d", "type": 3} for n in range(26)],
        }
    ],
    "26 choices": [
        {
            "name": "topic",
            "description": "d",
            "type": 1,
            "options": [
                {
                    "name": "o",
                    "description": "d",
                    "type": 3,
                    "choices": [{"name": str(n), "value": str(n)} for n in range(26)],
                }
            ],
        }
    ],
    "required after optional": [
        {
            "name": "topic",
            "description": "d",
            "type": 1,
            "options": [
                {"name": "a", "description": "d", "type": 3},
                {"name": "b", "description": "d", "type": 3, "required": True},
            ],
        }
    ],
    "context menu with a description": [{"name": "Log it", "description": "no", "type": 3}],
    "16 message commands": [{"name": f"Menu {n}", "type": 3} for n in range(16)],
}


@pytest.mark.parametrize("payload", INVALID_COMMANDS.values(), ids=INVALID_COMMANDS.keys())
async def test_invalid_commands_are_rejected(
    discord_server: FakeDiscord, http: aiohttp.ClientSession, payload: list[dict[str, Any]]
) -> None:
    url = f"{discord_server.api_url}/applications/{discord_server.application_id}/commands"
    async with http.put(url, json=payload) as response:
        assert response.status == 400
    assert discord_server.global_commands == []
    discord_server.violations.clear()


async def _callback(
    discord_server: FakeDiscord, http: aiohttp.ClientSession, kind: int, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    user = discord_server.add_member("someone")
    interaction = discord_server.new_interaction(
        kind, {"id": "1", "name": "topic", "type": 1}, user, discord_server.general_id, dispatch=False
    )
    url = f"{discord_server.api_url}/interactions/{interaction.id}/{interaction.token}/callback"
    async with http.post(url, json=body, params={"with_response": "1"}) as response:
        return response.status, await response.json()


INVALID_CALLBACKS = {
    "26 autocomplete choices": (4, {"type": 8, "data": {"choices": [{"name": "n", "value": "v"}] * 26}}),
    "choice name over 100": (4, {"type": 8, "data": {"choices": [{"name": "n" * 101, "value": "v"}]}}),
    "message to an autocomplete": (4, {"type": 4, "data": {"content": "hi"}}),
    "modal title over 45": (
        2,
        {
            "type": 9,
            "data": {
                "title": "t" * 46,
                "custom_id": "m",
                "components": [_row({"type": 4, "custom_id": "x", "label": "l", "style": 1})],
            },
        },
    ),
    "modal label over 45": (
        2,
        {
            "type": 9,
            "data": {
                "title": "t",
                "custom_id": "m",
                "components": [_row({"type": 4, "custom_id": "x", "label": "l" * 46, "style": 1})],
            },
        },
    ),
    "modal with 6 rows": (
        2,
        {
            "type": 9,
            "data": {
                "title": "t",
                "custom_id": "m",
                "components": [_row({"type": 4, "custom_id": f"x{n}", "label": "l", "style": 1}) for n in range(6)],
            },
        },
    ),
    "response content over 2000": (2, {"type": 4, "data": {"content": "x" * 2001}}),
}


@pytest.mark.parametrize(("kind", "body"), INVALID_CALLBACKS.values(), ids=INVALID_CALLBACKS.keys())
async def test_invalid_interaction_responses_are_rejected(
    discord_server: FakeDiscord, http: aiohttp.ClientSession, kind: int, body: dict[str, Any]
) -> None:
    status, error = await _callback(discord_server, http, kind, body)
    assert status == 400
    assert error["code"] == 50035
    discord_server.violations.clear()


async def test_an_interaction_answered_after_three_seconds_has_expired(
    discord_server: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    user = discord_server.add_member("late")
    interaction = discord_server.new_interaction(2, {"name": "topic"}, user, discord_server.general_id, dispatch=False)
    discord_server.advance_clock(INTERACTION_ACK_SECONDS + 0.1)
    url = f"{discord_server.api_url}/interactions/{interaction.id}/{interaction.token}/callback"
    async with http.post(url, json={"type": 4, "data": {"content": "too late"}}) as response:
        assert response.status == 404
        assert (await response.json())["code"] == 10062
    assert interaction.expired
    assert [problem for violation in discord_server.violations for problem in violation.problems] == [
        ("_", "interaction acknowledged after 3 s")
    ]
    discord_server.violations.clear()


async def test_follow_ups_work_for_fifteen_minutes(discord_server: FakeDiscord, http: aiohttp.ClientSession) -> None:
    user = discord_server.add_member("patient")
    interaction = discord_server.new_interaction(2, {"name": "topic"}, user, discord_server.general_id, dispatch=False)
    callback = f"{discord_server.api_url}/interactions/{interaction.id}/{interaction.token}/callback"
    async with http.post(callback, json={"type": 5}) as response:
        assert response.status == 200
    followup = f"{discord_server.api_url}/webhooks/{discord_server.application_id}/{interaction.token}"
    discord_server.advance_clock(INTERACTION_TOKEN_SECONDS - 5)
    async with http.post(followup, json={"content": "still in time"}) as response:
        assert response.status == 200
    discord_server.advance_clock(10)
    async with http.post(followup, json={"content": "too late"}) as response:
        assert response.status == 401
        assert (await response.json())["code"] == 50027


async def test_an_interaction_is_acknowledged_once(discord_server: FakeDiscord, http: aiohttp.ClientSession) -> None:
    user = discord_server.add_member("twice")
    interaction = discord_server.new_interaction(2, {"name": "topic"}, user, discord_server.general_id, dispatch=False)
    url = f"{discord_server.api_url}/interactions/{interaction.id}/{interaction.token}/callback"
    async with http.post(url, json={"type": 4, "data": {"content": "one"}}) as response:
        assert response.status == 200
        body = await response.json()
    assert body["interaction"]["response_message_id"] == str(interaction.original_message_id)
    async with http.post(url, json={"type": 4, "data": {"content": "two"}}) as response:
        assert response.status == 400
        assert (await response.json())["code"] == 40060


def _upload(size: int) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("payload_json", '{"content": "a file", "attachments": [{"id": 0, "filename": "a.md"}]}')
    form.add_field("files[0]", b"x" * size, filename="a.md", content_type="text/markdown")
    return form


async def test_an_upload_over_the_limit_gets_413_like_discord(
    discord_server: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    # As Discord tells the bot in every interaction, and as discord.py reckons it for a server without boosts.
    interaction = discord_server.new_interaction(2, {"name": "topic"}, discord_server.owner_id, 0, dispatch=False)
    assert interaction.payload["attachment_size_limit"] == ATTACHMENT_SIZE_LIMIT == 10 * 1024 * 1024
    assert discord_server.guild_payload()["premium_tier"] == 0
    discord_server.attachment_size_limit = 1000
    url = f"{discord_server.api_url}/channels/{discord_server.general_id}/messages"
    async with http.post(url, data=_upload(1000)) as response:
        assert response.status == 200
        message = await response.json()
    async with http.post(url, data=_upload(1001)) as response:
        assert response.status == 413
        assert (await response.json())["code"] == 40005
    assert [violation.problems for violation in discord_server.violations] == [[("a.md", "file over the upload limit")]]
    discord_server.violations.clear()
    del discord_server.messages[int(message["id"])]


async def test_unknown_routes_answer_404_and_are_recorded(
    discord_server: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{discord_server.api_url}/guilds/1/audit-logs") as response:
        assert response.status == 404
    assert [call.path for call in discord_server.unknown_routes] == ["/api/v10/guilds/1/audit-logs"]
    discord_server.unknown_routes.clear()


async def test_a_forced_429_carries_what_discord_py_needs_to_retry(
    discord_server: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    discord_server.force_429(r"^POST /channels/\d+/messages$", retry_after=0.25)
    url = f"{discord_server.api_url}/channels/{discord_server.general_id}/messages"
    async with http.post(url, json={"content": "a"}) as response:
        assert response.status == 429
        assert response.headers["Via"]
        assert response.headers["X-RateLimit-Reset-After"] == "0.25"
        assert (await response.json())["retry_after"] == 0.25
    async with http.post(url, json={"content": "a"}) as response:
        assert response.status == 200
        assert "X-RateLimit-Remaining" in response.headers
        assert "X-RateLimit-Reset-After" in response.headers


async def test_history_pages_with_before_after_and_limit(
    discord_server: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    poster = FakeUser(discord_server, discord_server.add_member("poster"))
    posted = [poster.post(discord_server.general_id, f"m{number}") for number in range(10)]
    url = f"{discord_server.api_url}/channels/{discord_server.general_id}/messages"
    async with http.get(url, params={"limit": "3"}) as response:
        newest = [message["content"] for message in await response.json()]
    assert newest == ["m9", "m8", "m7"]
    async with http.get(url, params={"before": posted[5]["id"], "limit": "2"}) as response:
        assert [message["content"] for message in await response.json()] == ["m4", "m3"]
    async with http.get(url, params={"after": posted[7]["id"]}) as response:
        assert [message["content"] for message in await response.json()] == ["m9", "m8"]  # newest first, as Discord


async def test_thread_names_are_limited_to_100(discord_server: FakeDiscord, http: aiohttp.ClientSession) -> None:
    url = f"{discord_server.api_url}/channels/{discord_server.pairing_channel_id}/threads"
    async with http.post(url, json={"name": "t" * 101, "type": 12}) as response:
        assert response.status == 400
    discord_server.violations.clear()
    async with http.post(url, json={"name": "Ada & Grace", "type": 12}) as response:
        assert response.status == 201
    assert discord_server.threads[-1]["name"] == "Ada & Grace"


def test_without_message_content_intent_guild_messages_arrive_empty() -> None:
    message = {"id": "1", "guild_id": "2", "content": "Challenge: x", "embeds": [], "mentions": []}
    plain = FakeDiscord._visible("MESSAGE_CREATE", message, 1 | (1 << 9), bot_id="99")
    assert plain is not None
    assert plain["content"] == ""
    full = FakeDiscord._visible("MESSAGE_CREATE", message, 1 | (1 << 9) | (1 << 15), bot_id="99")
    assert full is not None
    assert full["content"] == "Challenge: x"
    assert FakeDiscord._visible("MESSAGE_CREATE", message, 1, bot_id="99") is None


def test_permissions_follow_discords_overwrite_order() -> None:
    server = FakeDiscord()
    view, manage_messages = 1 << 10, 1 << 13
    helpers = server.add_role("Helpers")
    member = server.add_member("ada", roles=[helpers])
    channel = server.add_channel("staff")
    assert server.permissions_in(member, channel) & view
    assert not server.permissions_in(member, channel) & manage_messages
    # @everyone denied, the member's role allowed: the role's overwrite comes after @everyone's.
    server.set_overwrite(channel, server.guild_id, deny=view)
    assert not server.permissions_in(member, channel) & view
    server.set_overwrite(channel, helpers, allow=view)
    assert server.permissions_in(member, channel) & view
    # The member's own overwrite comes last; it grants Manage Messages here only, not in other channels.
    server.set_overwrite(channel, member, allow=manage_messages, deny=view)
    assert server.permissions_in(member, channel) == (server.permissions_in(member, server.general_id) & ~view) | (
        manage_messages
    )
    assert not server.permissions_in(member, server.general_id) & manage_messages
    # A thread has its parent's permissions; the owner has all.
    thread = server.add_thread(channel, "private talk", private=True)
    assert server.channels[thread]["type"] == 12
    assert server.permissions_in(member, thread) == server.permissions_in(member, channel)
    assert server.permissions_in(server.owner_id, channel) == (1 << 50) - 1
