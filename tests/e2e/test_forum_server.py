"""The local server's forum channels follow Discord's rules: each rule, shown with a raw request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.e2e.server import FakeDiscord
from tests.e2e.server.forums import MANAGE_THREADS

HEADERS = {"Authorization": "Bot test"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=HEADERS) as session:
        yield session


async def _call(http: aiohttp.ClientSession, server: FakeDiscord, method: str, path: str, **kwargs: Any) -> Any:
    async with http.request(method, server.api_url + path, **kwargs) as response:
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body


async def test_a_post_has_a_starter_message_sharing_its_id(http: aiohttp.ClientSession) -> None:
    async with FakeDiscord() as server:
        forum = server.add_forum("help", ["django", "docker"])
        tag = str(server.tag_id(forum, "django"))
        status, thread = await _call(
            http,
            server,
            "POST",
            f"/channels/{forum}/threads",
            json={"name": "CORS error", "message": {"content": "details"}, "applied_tags": [tag]},
        )
        assert status == 201
        assert thread["parent_id"] == str(forum)
        assert thread["applied_tags"] == [tag]
        status, starter = await _call(http, server, "GET", f"/channels/{thread['id']}/messages/{thread['id']}")
        assert status == 200
        assert starter["content"] == "details"
        assert not server.violations


async def test_tags_must_exist_and_be_at_most_five(http: aiohttp.ClientSession) -> None:
    async with FakeDiscord() as server:
        forum = server.add_forum("help", [f"t{n}" for n in range(7)])
        thread, _ = server.create_post(forum, server.owner_id, "A post", "text", announce=False)
        six = [str(server.tag_id(forum, f"t{n}")) for n in range(6)]
        status, _ = await _call(http, server, "PATCH", f"/channels/{thread['id']}", json={"applied_tags": six})
        assert status == 400  # the spec's maxItems and the server's own rule
        status, body = await _call(http, server, "PATCH", f"/channels/{thread['id']}", json={"applied_tags": ["12345"]})
        assert status == 400
        assert body["errors"]["applied_tags"]["0"]["_errors"][0]["message"] == "Unknown tag"
        status, body = await _call(http, server, "PATCH", f"/channels/{thread['id']}", json={"applied_tags": six[:5]})
        assert status == 200
        assert body["applied_tags"] == six[:5]


async def test_a_moderated_tag_and_another_members_post_need_manage_threads(http: aiohttp.ClientSession) -> None:
    async with FakeDiscord() as server:
        forum = server.add_forum("help", ["open", "staff"], moderated=("staff",), bot_manages=False)
        thread, _ = server.create_post(forum, server.owner_id, "A post", "text", announce=False)
        staff = str(server.tag_id(forum, "staff"))
        status, body = await _call(http, server, "PATCH", f"/channels/{thread['id']}", json={"applied_tags": [staff]})
        assert status == 403
        assert body["code"] == 50013
        status, _ = await _call(http, server, "PATCH", f"/channels/{thread['id']}", json={"archived": True})
        assert status == 403
        server.set_overwrite(forum, int(server.bot_user["id"]), allow=MANAGE_THREADS)
        status, body = await _call(http, server, "PATCH", f"/channels/{thread['id']}", json={"applied_tags": [staff]})
        assert status == 200
        status, body = await _call(
            http, server, "PATCH", f"/channels/{thread['id']}", json={"archived": True, "locked": True}
        )
        assert status == 200
        assert body["thread_metadata"]["archived"]
        assert body["thread_metadata"]["locked"]


async def test_forum_tags_need_manage_channels(http: aiohttp.ClientSession) -> None:
    async with FakeDiscord() as server:
        forum = server.add_forum("help", ["django"], bot_manages=False)
        tags = [*server.channels[forum]["available_tags"], {"name": "Solved", "moderated": False}]
        status, _ = await _call(http, server, "PATCH", f"/channels/{forum}", json={"available_tags": tags})
        assert status == 403
        server.set_overwrite(forum, int(server.bot_user["id"]), allow=1 << 4)
        status, body = await _call(http, server, "PATCH", f"/channels/{forum}", json={"available_tags": tags})
        assert status == 200
        assert [tag["name"] for tag in body["available_tags"]] == ["django", "Solved"]
        assert body["available_tags"][1]["id"]
        long_name = [{"name": "x" * 21}]
        status, _ = await _call(http, server, "PATCH", f"/channels/{forum}", json={"available_tags": long_name})
        assert status == 400


async def test_the_listings_of_active_and_archived_posts(http: aiohttp.ClientSession) -> None:
    async with FakeDiscord() as server:
        forum = server.add_forum("help", [])
        active, _ = server.create_post(forum, server.owner_id, "active", "text", announce=False)
        archived = [
            server.create_post(forum, server.owner_id, f"old {n}", "text", announce=False, archived=True)[0]
            for n in range(5)
        ]
        status, body = await _call(http, server, "GET", f"/guilds/{server.guild_id}/threads/active")
        assert status == 200
        assert [thread["id"] for thread in body["threads"]] == [active["id"]]
        seen: list[str] = []
        params: dict[str, str] = {"limit": "2"}
        while True:
            status, body = await _call(http, server, "GET", f"/channels/{forum}/threads/archived/public", params=params)
            assert status == 200
            seen += [thread["id"] for thread in body["threads"]]
            if not body["has_more"]:
                break
            params["before"] = body["threads"][-1]["thread_metadata"]["archive_timestamp"]
        assert seen == [thread["id"] for thread in reversed(archived)]  # newest archived first, each once
        status, _ = await _call(
            http, server, "GET", f"/channels/{forum}/threads/archived/public", params={"limit": "1"}
        )
        assert status == 400


async def test_a_message_to_an_archived_post_reopens_it_unless_locked(http: aiohttp.ClientSession) -> None:
    async with FakeDiscord() as server:
        forum = server.add_forum("help", [], bot_manages=False)
        thread, _ = server.create_post(forum, server.owner_id, "old", "text", announce=False, archived=True)
        status, _ = await _call(http, server, "POST", f"/channels/{thread['id']}/messages", json={"content": "hi"})
        assert status == 200
        assert not thread["thread_metadata"]["archived"]
        server.edit_post(int(thread["id"]), archived=True, locked=True)
        status, body = await _call(http, server, "POST", f"/channels/{thread['id']}/messages", json={"content": "hi"})
        assert status == 400
        assert body["code"] == 50083
