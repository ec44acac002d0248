"""Discord's payload rules, as the API enforces them, returning Discord-style error paths.

Each function returns a list of `(path, message)`; empty means Discord would accept the payload.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

Problems = list[tuple[str, str]]

COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")
CHAT_INPUT, USER_COMMAND, MESSAGE_COMMAND = 1, 2, 3
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
MAX_MESSAGE_COMMANDS = 15  # per scope, since 2026
MAX_USER_COMMANDS = 15


def _length(problems: Problems, path: str, value: Any, low: int, high: int) -> None:
    if not isinstance(value, str):
        problems.append((path, "must be a string"))
    elif not low <= len(value) <= high:
        problems.append((path, f"must be between {low} and {high} in length (is {len(value)})"))


def validate_commands(commands: Sequence[Mapping[str, Any]]) -> Problems:
    problems: Problems = []
    counts = {CHAT_INPUT: 0, USER_COMMAND: 0, MESSAGE_COMMAND: 0}
    names: set[tuple[int, str]] = set()
    for index, command in enumerate(commands):
        kind = command.get("type", CHAT_INPUT)
        counts[kind] = counts.get(kind, 0) + 1
        path = f"{index}"
        name = command.get("name", "")
        if (kind, name) in names:
            problems.append((f"{path}.name", "Application command names must be unique"))
        names.add((kind, name))
        if kind == CHAT_INPUT:
            if not COMMAND_NAME.match(name) or name != name.lower():
                problems.append((f"{path}.name", "Invalid chat input command name"))
            _length(problems, f"{path}.description", command.get("description"), 1, 100)
            problems += _validate_options(command.get("options") or [], f"{path}.options", depth=0)
        else:
            _length(problems, f"{path}.name", name, 1, 32)
            if command.get("description"):
                problems.append((f"{path}.description", "Context menu commands cannot have a description"))
            if command.get("options"):
                problems.append((f"{path}.options", "Context menu commands cannot have options"))
    if counts[CHAT_INPUT] > 100:
        problems.append(("_", "Maximum number of chat input commands reached (100)"))
    if counts[MESSAGE_COMMAND] > MAX_MESSAGE_COMMANDS:
        problems.append(("_", f"Maximum number of message commands reached ({MAX_MESSAGE_COMMANDS})"))
    if counts[USER_COMMAND] > MAX_USER_COMMANDS:
        problems.append(("_", f"Maximum number of user commands reached ({MAX_USER_COMMANDS})"))
    return problems


def _validate_options(options: Sequence[Mapping[str, Any]], path: str, depth: int) -> Problems:
    problems: Problems = []
    if len(options) > 25:
        problems.append((path, "Must be 25 or fewer in length."))
    seen_optional = False
    for index, option in enumerate(options):
        where = f"{path}.{index}"
        name = option.get("name", "")
        if not COMMAND_NAME.match(name) or name != name.lower():
            problems.append((f"{where}.name", "Invalid option name"))
        _length(problems, f"{where}.description", option.get("description"), 1, 100)
        kind = option.get("type")
        if kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
            if depth >= (1 if kind == SUB_COMMAND_GROUP else 2):
                problems.append((where, "Sub-commands nest at most two levels"))
            problems += _validate_options(option.get("options") or [], f"{where}.options", depth + 1)
            continue
        if option.get("required"):
            if seen_optional:
                problems.append((where, "Required options must be placed before non-required options"))
        else:
            seen_optional = True
        choices = option.get("choices") or []
        if choices and option.get("autocomplete"):
            problems.append((where, "Autocomplete cannot be set with choices"))
        if len(choices) > 25:
            problems.append((f"{where}.choices", "Must be 25 or fewer in length."))
        for number, choice in enumerate(choices):
            _length(problems, f"{where}.choices.{number}.name", choice.get("name"), 1, 100)
            if isinstance(choice.get("value"), str):
                _length(problems, f"{where}.choices.{number}.value", choice.get("value"), 1, 100)
    return problems


def validate_autocomplete(choices: Sequence[Mapping[str, Any]]) -> Problems:
    problems: Problems = []
    if len(choices) > 25:
        problems.append(("data.choices", "Must be 25 or fewer in length."))
    for index, choice in enumerate(choices):
        _length(problems, f"data.choices.{index}.name", choice.get("name"), 1, 100)
        value = choice.get("value")
        if isinstance(value, str):
            _length(problems, f"data.choices.{index}.value", value, 1, 100)
    return problems


def _embed_problems(embed: Mapping[str, Any], path: str) -> tuple[Problems, int]:
    problems: Problems = []
    total = 0

    def text(key: str, value: Any, limit: int, *, required: bool = False) -> None:
        nonlocal total
        if value is None:
            if required:
                problems.append((f"{path}.{key}", "This field is required"))
            return
        total += len(value)
        _length(problems, f"{path}.{key}", value, 1 if required else 0, limit)

    text("title", embed.get("title"), 256)
    text("description", embed.get("description"), 4096)
    if "footer" in embed:
        text("footer.text", embed["footer"].get("text"), 2048, required=True)
    if "author" in embed:
        text("author.name", embed["author"].get("name"), 256, required=True)
    fields = embed.get("fields") or []
    if len(fields) > 25:
        problems.append((f"{path}.fields", "Must be 25 or fewer in length."))
    for index, item in enumerate(fields):
        text(f"fields.{index}.name", item.get("name"), 256, required=True)
        text(f"fields.{index}.value", item.get("value"), 1024, required=True)
    return problems, total


BUTTON, SELECT_TYPES, TEXT_INPUT = 2, {3, 5, 6, 7, 8}, 4


def validate_components(rows: Sequence[Mapping[str, Any]], path: str = "components") -> Problems:
    problems: Problems = []
    if len(rows) > 5:
        problems.append((path, "Must be 5 or fewer in length."))
    custom_ids: set[str] = set()
    for index, row in enumerate(rows):
        where = f"{path}.{index}"
        children = row.get("components") or []
        if row.get("type") != 1:
            problems.append((where, "Top-level components must be action rows"))
        if not children:
            problems.append((f"{where}.components", "Must be between 1 and 5 in length."))
        has_select = any(child.get("type") in SELECT_TYPES for child in children)
        if has_select and len(children) > 1:
            problems.append((f"{where}.components", "A select menu must be alone in its row"))
        if len(children) > 5:
            problems.append((f"{where}.components", "Must be 5 or fewer in length."))
        for number, child in enumerate(children):
            at = f"{where}.components.{number}"
            custom_id = child.get("custom_id")
            if custom_id is not None:
                _length(problems, f"{at}.custom_id", custom_id, 1, 100)
                if custom_id in custom_ids:
                    problems.append((f"{at}.custom_id", "Component custom id cannot be duplicated"))
                custom_ids.add(custom_id)
            elif not child.get("url") and not child.get("sku_id"):
                problems.append((f"{at}.custom_id", "A custom id is required"))
            if child.get("type") == BUTTON and child.get("label") is not None:
                _length(problems, f"{at}.label", child["label"], 0, 80)
            if child.get("type") == 3:
                options = child.get("options") or []
                if not 1 <= len(options) <= 25:
                    problems.append((f"{at}.options", "Must be between 1 and 25 in length."))
                for position, option in enumerate(options):
                    _length(problems, f"{at}.options.{position}.label", option.get("label"), 1, 100)
                    _length(problems, f"{at}.options.{position}.value", option.get("value"), 1, 100)
                    if option.get("description") is not None:
                        where_description = f"{at}.options.{position}.description"
                        _length(problems, where_description, option["description"], 0, 100)
                if child.get("placeholder") is not None:
                    _length(problems, f"{at}.placeholder", child["placeholder"], 0, 150)
    return problems


def validate_message(payload: Mapping[str, Any], path: str = "") -> Problems:
    """A message create or edit body (channel message, interaction response, webhook follow-up)."""
    prefix = f"{path}." if path else ""
    problems: Problems = []
    content = payload.get("content")
    if content is not None:
        _length(problems, f"{prefix}content", content, 0, 2000)
    embeds = payload.get("embeds") or []
    if len(embeds) > 10:
        problems.append((f"{prefix}embeds", "Must be 10 or fewer in length."))
    total = 0
    for index, embed in enumerate(embeds):
        found, size = _embed_problems(embed, f"{prefix}embeds.{index}")
        problems += found
        total += size
    if total > 6000:
        problems.append((f"{prefix}embeds", f"Embed size exceeds maximum size of 6000 (is {total})"))
    problems += validate_components(payload.get("components") or [], f"{prefix}components")
    return problems


def validate_modal(payload: Mapping[str, Any]) -> Problems:
    problems: Problems = []
    _length(problems, "data.title", payload.get("title"), 1, 45)
    _length(problems, "data.custom_id", payload.get("custom_id"), 1, 100)
    rows = payload.get("components") or []
    if not 1 <= len(rows) <= 5:
        problems.append(("data.components", "Must be between 1 and 5 in length."))
    for index, row in enumerate(rows):
        for number, child in enumerate(_modal_inputs(row)):
            at = f"data.components.{index}.components.{number}"
            _length(problems, f"{at}.custom_id", child.get("custom_id"), 1, 100)
            if child.get("label") is not None:
                _length(problems, f"{at}.label", child["label"], 1, 45)
            if child.get("value") is not None:
                _length(problems, f"{at}.value", child["value"], 0, 4000)
            if child.get("placeholder") is not None:
                _length(problems, f"{at}.placeholder", child["placeholder"], 0, 100)
            if child.get("max_length") is not None and not 1 <= child["max_length"] <= 4000:
                problems.append((f"{at}.max_length", "Must be between 1 and 4000"))
    return problems


def _modal_inputs(row: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Text inputs inside an action row (type 1) or a label component (type 18)."""
    if row.get("type") == 18:
        component = row.get("component")
        labelled = dict(component or {})
        labelled.setdefault("label", row.get("label"))
        return [labelled]
    return list(row.get("components") or [])


def validate_thread_name(name: Any) -> Problems:
    problems: Problems = []
    _length(problems, "name", name, 1, 100)
    return problems


def form_error(problems: Problems) -> dict[str, Any]:
    """Discord's 400 body for invalid form data, with nested `_errors` per path."""
    errors: dict[str, Any] = {}
    for path, message in problems:
        node = errors
        for part in path.split("."):
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": "BASE_TYPE_INVALID", "message": message})
    return {"code": 50035, "errors": errors, "message": "Invalid Form Body"}
