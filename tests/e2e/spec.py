"""Discord's published OpenAPI description (vendored in `discord_api_spec/`) as a check of request bodies.

`DiscordSpec.operation(method, path)` finds the operation the spec describes for a concrete request path, and
`DiscordSpec.check(operation, body)` validates a body against that operation's request schema with `jsonschema`
(JSON Schema 2020-12, the dialect of OpenAPI 3.1). One validator is compiled per route and method, on first use,
and kept.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, relevance
from referencing import Registry
from referencing.jsonschema import DRAFT202012

SPEC_DIR = Path(__file__).with_name("discord_api_spec")
# Any absolute URI: it names the document so that its "#/components/..." references resolve inside it.
BASE_URI = "https://discord.com/api/v10/openapi.json"
METHODS = ("get", "put", "post", "patch", "delete")
MAX_PROBLEMS = 10
MAX_REMEMBERED = 4096
MAX_MESSAGE = 200
SHORT_INSTANCE = 60
BOUNDS = {"maxLength": "at most", "maxItems": "at most", "minLength": "at least", "minItems": "at least"}

Problems = list[tuple[str, str]]


@dataclass(frozen=True)
class Operation:
    """One route and method of the spec: its path template and, when it takes one, its request body."""

    template: str
    method: str
    pointer: str | None  # JSON pointer of the body's schema in the document
    body_required: bool


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _body_pointer(template: str, method: str, operation: Mapping[str, Any]) -> str | None:
    content = (operation.get("requestBody") or {}).get("content") or {}
    # A multipart body is Discord's JSON body (`payload_json`) beside the files: the JSON schema applies to it.
    for media in ("application/json", "multipart/form-data"):
        if media in content and "schema" in content[media]:
            return f"/paths/{_escape(template)}/{method}/requestBody/content/{_escape(media)}/schema"
    return None


SCHEMA_REF = "#/components/schemas/"


def _kinds(union: Any, schemas: Mapping[str, Any]) -> list[tuple[str, list[Any]]] | None:
    """For a union of `$ref`s to object schemas told apart by a required `type` property with disjoint enums
    (Discord's components, interaction callbacks, command options), each branch's ref and `type` values."""
    if not isinstance(union, list) or len(union) < 2:
        return None
    kinds: list[tuple[str, list[Any]]] = []
    seen: set[str] = set()
    for branch in union:
        ref = branch.get("$ref", "") if isinstance(branch, dict) and len(branch) == 1 else ""
        target = schemas.get(ref.removeprefix(SCHEMA_REF)) if ref.startswith(SCHEMA_REF) else None
        values = ((target or {}).get("properties") or {}).get("type", {}).get("enum")
        if not values or "type" not in (target or {}).get("required", []):
            return None
        keys = {json.dumps(value) for value in values}
        if keys & seen:
            return None
        seen |= keys
        kinds.append((ref, values))
    return kinds


def _constants(union: Any) -> list[Any] | None:
    """The values of a union of distinct constants that carry only annotations (title, description)."""
    if not isinstance(union, list) or not all(
        isinstance(branch, dict) and "const" in branch and set(branch) <= {"const", "title", "description"}
        for branch in union
    ):
        return None
    values = [branch["const"] for branch in union]
    return values if len({json.dumps(value) for value in values}) == len(values) else None


def _of_type(values: list[Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["type"], "properties": {"type": {"enum": values}}}


def _by_kind(node: Any, schemas: Mapping[str, Any]) -> Any:
    """`node` with each such union rewritten to validate only the branch its `type` names, and each union of
    constants rewritten as an enum.

    jsonschema tries every branch of an anyOf/oneOf, and Discord's nest (a modal's rows, each a union of
    component kinds, inside a union of callback kinds, each `type` checked against a oneOf of 20 constants):
    a modal took 30 ms of CPU, Nexus's command list 100 ms; rewritten, 2 ms and 25 ms. With disjoint required
    `type` values, "some branch accepts it" and "its type is one of theirs and the branch for that type accepts
    it" are the same rule, so the rewrites change no verdict, only the work (test_discord_spec.py compares the
    verdicts of both on sample bodies).
    """
    if isinstance(node, list):
        return [_by_kind(item, schemas) for item in node]
    if not isinstance(node, dict):
        return node
    rewritten = {key: _by_kind(value, schemas) for key, value in node.items()}
    for keyword in ("anyOf", "oneOf"):
        constants = _constants(node.get(keyword))
        if constants is not None:
            # Discord's enums are a oneOf of titled constants: with distinct values, the same as an enum.
            del rewritten[keyword]
            rewritten["allOf"] = [*rewritten.get("allOf", []), {"enum": constants}]
            continue
        kinds = _kinds(node.get(keyword), schemas)
        if kinds is None:
            continue
        del rewritten[keyword]
        every = [value for _ref, values in kinds for value in values]
        rule: list[Any] = [_of_type(every)]
        rule += [{"if": _of_type(values), "then": {"$ref": ref}} for ref, values in kinds]
        rewritten["allOf"] = [*rewritten.get("allOf", []), *rule]
    return rewritten


class DiscordSpec:
    def __init__(self, document: dict[str, Any], *, by_kind: bool = True) -> None:
        schemas = dict(document["components"]["schemas"])
        # Discord accepts a snowflake as a JSON integer as well as a decimal string (discord.py sends integers).
        schemas["SnowflakeType"] = {"anyOf": [schemas["SnowflakeType"], {"type": "integer", "minimum": 0}]}
        document = {**document, "components": {**document["components"], "schemas": schemas}}
        if by_kind:
            document = _by_kind(document, schemas)
        self._registry: Registry[Any] = Registry().with_resource(BASE_URI, DRAFT202012.create_resource(document))
        self._operations: dict[int, list[tuple[tuple[str, ...], Operation]]] = {}
        for template, item in document["paths"].items():
            segments = tuple(template.strip("/").split("/"))
            for method in METHODS:
                if method in item:
                    operation = Operation(
                        template=template,
                        method=method.upper(),
                        pointer=_body_pointer(template, method, item[method]),
                        body_required=bool((item[method].get("requestBody") or {}).get("required")),
                    )
                    self._operations.setdefault(len(segments), []).append((segments, operation))
        self._validators: dict[tuple[str, str], Draft202012Validator] = {}
        self._checked: dict[str, Problems] = {}  # the answers for bodies seen before, by route and body

    @classmethod
    @functools.cache
    def vendored(cls) -> DiscordSpec:
        """The spec in `discord_api_spec/`, read once per process."""
        return cls(json.loads((SPEC_DIR / "openapi.json").read_text(encoding="utf-8")))

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation `method path` (a concrete path: `/channels/123/messages`), or None if the spec has none.

        Literal segments win over parameters, leftmost first (`.../messages/@original` over `.../{message_id}`).
        """
        parts = path.strip("/").split("/")
        best: tuple[tuple[bool, ...], Operation] | None = None
        for segments, operation in self._operations.get(len(parts), []):
            if operation.method != method:
                continue
            if all(segment.startswith("{") or segment == part for segment, part in zip(segments, parts, strict=True)):
                rank = tuple(segment.startswith("{") for segment in segments)
                if best is None or rank < best[0]:
                    best = (rank, operation)
        return best[1] if best else None

    def _validator(self, operation: Operation) -> Draft202012Validator:
        key = (operation.method, operation.template)
        validator = self._validators.get(key)
        if validator is None:
            validator = Draft202012Validator({"$ref": f"{BASE_URI}#{operation.pointer}"}, registry=self._registry)
            self._validators[key] = validator
        return validator

    def check(self, operation: Operation, body: Any) -> Problems:
        """What the spec rejects in `body` (the parsed JSON body, or a multipart request's `payload_json`)."""
        if operation.pointer is None:
            return []
        if body is None:
            return [("_", "spec: this route needs a request body")] if operation.body_required else []
        # Every test's bot sends the same command list at start-up, and that body alone takes ~25 ms to check.
        key = f"{operation.method} {operation.template} {json.dumps(body, sort_keys=True)}"
        known = self._checked.get(key)
        if known is None:
            known = []
            for error in self._validator(operation).iter_errors(body):
                known.append(_problem(error))
                if len(known) == MAX_PROBLEMS:
                    break
            if len(self._checked) >= MAX_REMEMBERED:
                self._checked.clear()
            self._checked[key] = known
        return list(known)


def _problem(error: ValidationError) -> tuple[str, str]:
    """A Discord-style (path, message) for one error; for a union, the branch the body meant."""
    closest = _closest(error)
    path = ".".join(str(part) for part in closest.absolute_path) or "_"
    message, shown = closest.message, repr(closest.instance)
    if len(shown) > SHORT_INSTANCE and isinstance(closest.instance, str | list | dict):
        # "'xxx…' is too long" would repeat the whole value: name its kind and size instead.
        message = message.replace(shown, f"<{type(closest.instance).__name__} of length {len(closest.instance)}>")
    if closest.validator in BOUNDS:
        message += f" ({BOUNDS[str(closest.validator)]} {closest.validator_value})"
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    return path, f"spec: {message}"


def _closest(error: ValidationError) -> ValidationError:
    """Descend a union (anyOf/oneOf) into the branch for the body's kind: Discord tells its unions apart by a
    `type` property (or by JSON type: null or an object), so a branch that refuses those is another kind's.
    Of several candidate branches, the one with fewest errors; in it, the most relevant error (jsonschema's key)."""
    while error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for inner in error.context:
            branches.setdefault(inner.relative_schema_path[0], []).append(inner)
        meant = [errors for errors in branches.values() if not any(_other_kind(inner) for inner in errors)]
        if not meant:
            return error
        error = max(min(meant, key=lambda errors: len(errors)), key=relevance)
    return error


def _other_kind(error: ValidationError) -> bool:
    where = list(error.relative_path)
    return where == ["type"] or (not where and error.validator == "type")
