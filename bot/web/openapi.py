"""The OpenAPI 3.1 description of the hub's JSON API (`/api/v1/openapi.json`); a test validates it and checks every
answer of the API against it."""

from __future__ import annotations

from typing import Any

from bot.services.web import MAX_PAGE, MAX_QUERY


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "400": _json(_ref("Error"), "Bad input: the message says what to change."),
    "404": _json(_ref("Error"), "Nothing published at this address."),
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "status"],
        "additionalProperties": False,
        "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
    },
    "Category": {
        "type": "object",
        "required": ["slug", "label"],
        "additionalProperties": False,
        "properties": {"slug": {"type": "string"}, "label": {"type": "string"}},
    },
    "TopicSummary": {
        "type": "object",
        "required": ["slug", "title", "category", "url"],
        "additionalProperties": False,
        "properties": {
            "slug": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"},
            "title": {"type": "string"},
            "category": {"type": "string"},
            "url": {"type": "string", "description": "The card's page on the hub, relative."},
        },
    },
    "TopicList": {
        "type": "object",
        "required": ["categories", "topics"],
        "additionalProperties": False,
        "properties": {
            "categories": {"type": "array", "items": _ref("Category")},
            "topics": {"type": "array", "items": _ref("TopicSummary")},
        },
    },
    "Topic": {
        "type": "object",
        "required": [
            "slug",
            "title",
            "category",
            "url",
            "summary",
            "key_points",
            "pitfalls",
            "example",
            "related",
            "docs",
            "solved_challenges",
        ],
        "additionalProperties": False,
        "properties": {
            "slug": {"type": "string"},
            "title": {"type": "string"},
            "category": {"type": "string"},
            "url": {"type": "string"},
            "summary": {"type": "string", "description": "Markdown."},
            "key_points": {"type": "string", "description": "Markdown."},
            "pitfalls": {"type": "string", "description": "Markdown."},
            "example": {"type": ["string", "null"], "description": "Markdown, usually a fenced code block."},
            "related": {"type": "array", "items": _ref("TopicSummary")},
            "docs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["title", "url"],
                    "additionalProperties": False,
                    "properties": {"title": {"type": "string"}, "url": {"type": "string", "format": "uri"}},
                },
            },
            "solved_challenges": {"type": "array", "items": _ref("Challenge")},
        },
    },
    "Challenge": {
        "type": "object",
        "required": ["server", "number", "title", "status", "topics", "author", "created_at", "solved_at", "url"],
        "additionalProperties": False,
        "properties": {
            "server": {"type": "string", "description": "The server's slug on the hub."},
            "number": {"type": "integer", "minimum": 1},
            "title": {"type": "string"},
            "status": {"type": "string", "enum": ["open", "solved"]},
            "topics": {"type": "array", "items": {"type": "string"}},
            "author": {
                "type": "string",
                "description": 'The name the author chose to be credited by, otherwise "a learner".',
            },
            "created_at": {"type": "string", "format": "date-time"},
            "solved_at": {"type": ["string", "null"], "format": "date-time"},
            "url": {"type": "string", "description": "The challenge's page on the hub, relative."},
            "snippet": {
                "type": ["string", "null"],
                "description": "With `q`: the matching passage, Markdown, matched words in bold.",
            },
        },
    },
    "ChallengePage": {
        "type": "object",
        "required": ["items", "page", "pages", "total"],
        "additionalProperties": False,
        "properties": {
            "items": {"type": "array", "items": _ref("Challenge")},
            "page": {"type": "integer", "minimum": 1},
            "pages": {"type": "integer", "minimum": 1},
            "total": {
                "type": "integer",
                "minimum": 0,
                "description": (
                    "Without `q`, counted up to 1,000 (the newest 1,000 are listed); with `q`, up to 50 per server."
                ),
            },
        },
    },
}


def openapi_document(base_url: str = "") -> dict[str, Any]:
    page = {
        "name": "page",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
    }
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Nexus hub API",
            "version": "1.0.0",
            "description": (
                "Topic cards and the published challenges of the Discord servers that opted in to the Nexus web hub. "
                "Only entries whose authors consented are published; read-only, no authentication."
            ),
        },
        "paths": {
            "/api/v1/topics": {
                "get": {
                    "operationId": "listTopics",
                    "summary": "Every topic card, and the categories",
                    "responses": {"200": _json(_ref("TopicList"), "The cards, by title.")},
                }
            },
            "/api/v1/topics/{slug}": {
                "get": {
                    "operationId": "getTopic",
                    "summary": "One card, with the published solved challenges tagged with it",
                    "parameters": [{"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": _json(_ref("Topic"), "The card."), "404": _ERRORS["404"]},
                }
            },
            "/api/v1/challenges": {
                "get": {
                    "operationId": "listChallenges",
                    "summary": "Published challenges: searched with `q` (error text ranked first), or newest first",
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "maxLength": MAX_QUERY},
                        },
                        {"name": "topic", "in": "query", "required": False, "schema": {"type": "string"}},
                        {
                            "name": "status",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": ["open", "solved"]},
                        },
                        page,
                    ],
                    "responses": {
                        "200": _json(_ref("ChallengePage"), "A page of challenges."),
                        "400": _ERRORS["400"],
                        "404": _json(_ref("Error"), "A page past the last."),
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document",
                    "responses": {"200": {"description": "The OpenAPI document.", "content": {"application/json": {}}}},
                }
            },
        },
        "components": {"schemas": _SCHEMAS},
    }
    if base_url:
        document["servers"] = [{"url": base_url}]
    return document
