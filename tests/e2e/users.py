"""Test helpers that act as a Discord user would: run a slash command, type, click, pick, post."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Any

from tests.e2e.server import EPHEMERAL, JSON, FakeDiscord, Interaction

ANSWER_TIMEOUT = 5.0
OPTION_TYPES = {
    "SUB_COMMAND": 1,
    "SUB_COMMAND_GROUP": 2,
    "STRING": 3,
    "INTEGER": 4,
    "BOOLEAN": 5,
    "USER": 6,
    "CHANNEL": 7,
    "ROLE": 8,
}


class NoAnswer(AssertionError):
    """The bot did not answer an interaction in time ("The application did not respond")."""


@dataclass
class Answer:
    """What the user saw in reply to one interaction."""

    server: FakeDiscord
    interaction: Interaction

    @property
    def response_type(self) -> int | None:
        return self.interaction.response_type

    @property
    def message(self) -> JSON:
        """The message the reply produced: the newest follow-up, else the original response."""
        ids = self.interaction.followup_ids or [self.interaction.original_message_id]
        if ids[-1] is None:
            raise AssertionError(f"the reply (type {self.response_type}) produced no message")
        return self.server.messages[ids[-1]]

    @property
    def content(self) -> str:
        return str(self.message["content"])

    @property
    def embeds(self) -> list[JSON]:
        return list(self.message["embeds"])

    @property
    def embed(self) -> JSON:
        embeds = self.embeds
        assert len(embeds) == 1, f"expected one embed, got {len(embeds)}"
        return embeds[0]

    @property
    def ephemeral(self) -> bool:
        return bool(self.message["flags"] & EPHEMERAL)

    @property
    def choices(self) -> list[JSON]:
        assert self.response_type == 8, f"not an autocomplete answer (type {self.response_type})"
        return list((self.interaction.response or {}).get("choices", []))

    @property
    def modal(self) -> JSON:
        assert self.response_type == 9, f"not a modal (type {self.response_type})"
        return dict(self.interaction.response or {})

    @property
    def input_ids(self) -> list[str]:
        """The modal's text inputs' custom ids, in order (in action rows, or in labels: component type 18)."""
        ids = []
        for row in self.modal["components"]:
            inputs = [row["component"]] if row.get("type") == 18 else row["components"]
            ids += [text_input["custom_id"] for text_input in inputs]
        return ids

    @property
    def deleted(self) -> bool:
        original = self.interaction.original_message_id
        return original is not None and bool(self.server.messages[original].get("deleted"))


def find_component(message: JSON, *, label: str | None = None, custom_id: str | None = None) -> JSON:
    for row in message.get("components", []):
        for component in row.get("components", []):
            if label is not None and component.get("label") == label:
                return dict(component)
            if custom_id is not None and component.get("custom_id") == custom_id:
                return dict(component)
            if label is not None and component.get("placeholder") == label:
                return dict(component)
    raise AssertionError(f"no component {label or custom_id!r} on message {message['id']}")


class FakeUser:
    def __init__(self, server: FakeDiscord, user_id: int) -> None:
        self.server = server
        self.id = user_id

    @property
    def member(self) -> JSON:
        return self.server.members[self.id]

    def _command(self, name: str) -> JSON:
        for command in [
            *self.server.guild_commands.get(self.server.guild_id, []),
            *self.server.global_commands,
        ]:
            if command["name"] == name and command.get("type", 1) == 1:
                return command
        raise AssertionError(f"/{name} is not a registered command")

    def _options(self, definitions: list[JSON], values: dict[str, Any], resolved: JSON) -> list[JSON]:
        by_name = {option["name"]: option for option in definitions}
        options = []
        for name, value in values.items():
            definition = by_name.get(name)
            assert definition is not None, f"the command has no option {name!r}"
            kind = definition["type"]
            if kind == OPTION_TYPES["USER"]:
                member = self.server.members[int(value)]
                resolved.setdefault("users", {})[str(value)] = member["user"]
                resolved.setdefault("members", {})[str(value)] = {
                    key: item for key, item in member.items() if key != "user"
                } | {"permissions": "0"}
                value = str(value)
            elif kind == OPTION_TYPES["CHANNEL"]:
                channel = self.server.channels[int(value)]
                resolved.setdefault("channels", {})[str(value)] = {
                    **{key: channel[key] for key in ("id", "type", "name")},
                    "permissions": "0",
                    **({"parent_id": channel["parent_id"]} if channel.get("parent_id") else {}),
                }
                value = str(value)
            elif kind == OPTION_TYPES["ROLE"]:
                resolved.setdefault("roles", {})[str(value)] = self.server.roles[int(value)]
                value = str(value)
            options.append({"name": name, "type": kind, "value": value})
        return options

    def _command_data(self, command_line: str, values: dict[str, Any], focused: str | None = None) -> JSON:
        names = command_line.split()
        command = self._command(names[0])
        resolved: JSON = {}
        definitions = command.get("options") or []
        nesting: list[JSON] = []
        for name in names[1:]:
            group = next((option for option in definitions if option["name"] == name), None)
            assert group is not None, f"/{command_line}: no subcommand {name!r}"
            assert group["type"] in (1, 2), f"/{command_line}: {name!r} is an option, not a subcommand"
            nesting.append({"name": name, "type": group["type"], "options": []})
            definitions = group.get("options") or []
        options = self._options(definitions, values, resolved)
        if focused is not None:
            for option in options:
                if option["name"] == focused:
                    option["focused"] = True
        if nesting:
            nesting[-1]["options"] = options
            for outer, inner in itertools.pairwise(nesting):
                outer["options"] = [inner]
            options = [nesting[0]]
        data: JSON = {"id": command["id"], "name": command["name"], "type": 1, "options": options}
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        if resolved:
            data["resolved"] = resolved
        return data

    async def _answer(self, interaction: Interaction, within: float = ANSWER_TIMEOUT) -> Answer:
        try:
            await asyncio.wait_for(interaction.answered.wait(), within)
        except TimeoutError:
            raise NoAnswer(
                f"no answer to interaction type {interaction.type} within {within} s "
                f"(acknowledged: {interaction.acknowledged.is_set()})"
            ) from None
        return Answer(self.server, interaction)

    async def slash(self, command_line: str, *, channel: int | None = None, **options: Any) -> Answer:
        """Run `/command_line` with `options`, e.g. `await user.slash("topic", name="docker")`."""
        data = self._command_data(command_line, options)
        interaction = self.server.new_interaction(2, data, self.id, channel or self.server.general_id)
        return await self._answer(interaction)

    async def autocomplete(
        self, command_line: str, option: str, typed: str, *, channel: int | None = None, **others: Any
    ) -> list[JSON]:
        """What the user sees while typing `typed` into `option`."""
        data = self._command_data(command_line, {**others, option: typed}, focused=option)
        interaction = self.server.new_interaction(4, data, self.id, channel or self.server.general_id)
        return (await self._answer(interaction)).choices

    async def click(self, message: JSON, label: str) -> Answer:
        """Press the button labelled `label` on `message`."""
        button = find_component(message, label=label)
        assert not button.get("disabled"), f"the {label!r} button is disabled"
        data = {"custom_id": button["custom_id"], "component_type": 2}
        return await self._component(message, data)

    async def select(self, message: JSON, placeholder: str, *values: str) -> Answer:
        """Pick `values` in the select menu whose placeholder is `placeholder`."""
        menu = find_component(message, label=placeholder)
        assert not menu.get("disabled"), f"the {placeholder!r} menu is disabled"
        offered = {option["value"] for option in menu.get("options", [])}
        assert set(values) <= offered, f"{values} not among the menu's options {sorted(offered)}"
        data = {"custom_id": menu["custom_id"], "component_type": 3, "values": list(values)}
        return await self._component(message, data)

    async def _component(self, message: JSON, data: JSON) -> Answer:
        interaction = self.server.new_interaction(
            3, data, self.id, int(message["channel_id"]), message=self.server.public(message)
        )
        return await self._answer(interaction)

    async def submit_modal(self, modal_answer: Answer, **values: str) -> Answer:
        """Fill the modal shown in `modal_answer` (by text input custom_id) and submit it."""
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": custom_id, "value": values.get(custom_id, "")}]}
            for custom_id in modal_answer.input_ids
        ]
        data = {"custom_id": modal_answer.modal["custom_id"], "components": rows}
        channel = int(modal_answer.interaction.payload["channel_id"])
        interaction = self.server.new_interaction(5, data, self.id, channel)
        return await self._answer(interaction)

    async def context_menu(self, message: JSON, name: str) -> Answer:
        """Run the message menu `name` ("Log as challenge", …) on `message`."""
        commands = [*self.server.guild_commands.get(self.server.guild_id, []), *self.server.global_commands]
        command = next((item for item in commands if item["name"] == name and item.get("type") == 3), None)
        assert command is not None, f"no message menu {name!r} is registered"
        data: JSON = {
            "id": command["id"],
            "name": name,
            "type": 3,
            "target_id": message["id"],
            "resolved": {"messages": {message["id"]: self.server.public(message)}},
        }
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        interaction = self.server.new_interaction(2, data, self.id, int(message["channel_id"]))
        return await self._answer(interaction)

    def edit(self, message: JSON, content: str) -> None:
        """Edit one of this user's messages; the bot receives MESSAGE_UPDATE."""
        message["content"] = content
        message["edited_timestamp"] = "2026-11-22T00:00:00+00:00"
        self.server.dispatch("MESSAGE_UPDATE", {**self.server.public(message), "member": self.member})

    def delete(self, message: JSON) -> None:
        """Delete a message; the bot receives MESSAGE_DELETE."""
        self.server._remove(message)

    def post(
        self, channel_id: int, content: str, *, reply_to: JSON | None = None, webhook_id: int | None = None
    ) -> JSON:
        """Post a message in a channel as this user; the bot receives MESSAGE_CREATE."""
        payload: JSON = {"content": content}
        if reply_to is not None:
            payload["message_reference"] = {
                "message_id": reply_to["id"],
                "channel_id": reply_to["channel_id"],
                "guild_id": str(self.server.guild_id),
            }
        message = self.server._store_message(channel_id, payload, author=self.member["user"])
        if webhook_id is not None:
            message["webhook_id"] = str(webhook_id)
        self.server.dispatch("MESSAGE_CREATE", {**self.server.public(message), "member": self.member})
        return message
