"""The hub's JSON API on both engines: the OpenAPI document is valid OpenAPI 3.1, and every real answer of every
operation (successes and errors) matches the schema the document gives for it; the API and the pages agree."""

from __future__ import annotations

from typing import Any

import jsonschema
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from bot.web.openapi import openapi_document
from tests.integration.webhub import SLUG, Hub, client, knowledge_base, populated

__all__ = ["client", "knowledge_base", "populated"]  # fixtures, used by name


def _check(document: dict[str, Any], path: str, status: int, body: Any) -> None:
    """`body` matches the schema the document gives for `path`'s GET answering `status`."""
    operation = document["paths"][path]["get"]
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    registry: Registry[Any] = Registry().with_resource("urn:hub", DRAFT202012.create_resource(document))
    validator = jsonschema.Draft202012Validator(
        {"$ref": "urn:hub#/components/schemas/" + schema["$ref"].rsplit("/", 1)[1]}, registry=registry
    )
    validator.validate(body)


def test_the_document_is_valid_openapi() -> None:
    validate(openapi_document())
    validate(openapi_document("https://hub.example"))


async def test_served_document_is_the_same(client: TestClient) -> None:  # type: ignore[type-arg]
    served = await (await client.get("/api/v1/openapi.json")).json()
    validate(served)
    assert served["servers"] == [{"url": "https://hub.example"}]
    assert set(served["paths"]) == {
        "/api/v1/topics",
        "/api/v1/topics/{slug}",
        "/api/v1/challenges",
        "/api/v1/openapi.json",
    }


async def test_every_answer_matches_its_schema(client: TestClient, populated: Hub) -> None:  # type: ignore[type-arg]
    document = openapi_document()
    cases = [
        ("/api/v1/topics", "/api/v1/topics", 200),
        ("/api/v1/topics/keys-and-constraints", "/api/v1/topics/{slug}", 200),
        ("/api/v1/topics/docker", "/api/v1/topics/{slug}", 200),
        ("/api/v1/topics/nope", "/api/v1/topics/{slug}", 404),
        ("/api/v1/challenges", "/api/v1/challenges", 200),
        ("/api/v1/challenges?status=open", "/api/v1/challenges", 200),
        ("/api/v1/challenges?status=solved&topic=keys-and-constraints", "/api/v1/challenges", 200),
        ("/api/v1/challenges?q=IntegrityError", "/api/v1/challenges", 200),
        ("/api/v1/challenges?q=IntegrityError&status=solved&page=1", "/api/v1/challenges", 200),
        ("/api/v1/challenges?page=0", "/api/v1/challenges", 400),
        ("/api/v1/challenges?status=x", "/api/v1/challenges", 400),
        ("/api/v1/challenges?page=7", "/api/v1/challenges", 404),
    ]
    for url, path, status in cases:
        response = await client.get(url)
        assert response.status == status, url
        assert response.content_type == "application/json"
        _check(document, path, status, await response.json())


async def test_the_api_and_the_pages_agree(client: TestClient, populated: Hub) -> None:  # type: ignore[type-arg]
    listing = await (await client.get("/api/v1/challenges")).json()
    numbers = {item["number"] for item in listing["items"]}
    assert numbers == {populated.solved, populated.open}
    assert listing["total"] == 2
    assert listing["pages"] == 1
    for item in listing["items"]:
        assert item["server"] == SLUG
        page = await client.get(item["url"])
        assert page.status == 200
        assert item["title"] in await page.text()
    solved = next(item for item in listing["items"] if item["number"] == populated.solved)
    assert solved["author"] == "Ada Lovelace"
    assert solved["status"] == "solved"
    assert solved["topics"][0] == "keys-and-constraints"
    found = await (await client.get("/api/v1/challenges?q=IntegrityError")).json()
    assert [item["number"] for item in found["items"]] == [populated.solved]
    assert "**IntegrityError**" in found["items"][0]["snippet"]
    topic = await (await client.get("/api/v1/topics/keys-and-constraints")).json()
    assert [item["number"] for item in topic["solved_challenges"]] == [populated.solved]
    topics = await (await client.get("/api/v1/topics")).json()
    assert len(topics["topics"]) == len(populated.hub.knowledge_base.cards)
    for card in topics["topics"][:5]:
        assert (await client.get(card["url"])).status == 200
