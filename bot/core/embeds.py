"""A plain description of an embed, so rendering is pure, testable and held to Discord's limits.

The cogs turn an `EmbedSpec` into a `discord.Embed`; nothing here imports discord.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core import limits

ELLIPSIS = "…"


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with an ellipsis when something was cut."""
    if len(text) <= limit:
        return text
    if limit < len(ELLIPSIS) + 1:
        return text[: max(limit, 0)]
    return text[: max(limit - len(ELLIPSIS), 0)].rstrip() + ELLIPSIS


@dataclass(frozen=True, slots=True)
class EmbedField:
    name: str
    value: str
    inline: bool = False


@dataclass(frozen=True, slots=True)
class EmbedSpec:
    title: str
    description: str = ""
    fields: tuple[EmbedField, ...] = ()
    footer: str = ""
    colour: int | None = None
    url: str | None = None

    @property
    def total_length(self) -> int:
        """What Discord counts towards its 6,000-character limit."""
        return (
            len(self.title)
            + len(self.description)
            + len(self.footer)
            + sum(len(item.name) + len(item.value) for item in self.fields)
        )

    def problems(self) -> list[str]:
        """Every way this embed would be rejected by Discord; empty when it is valid."""
        found: list[str] = []

        def check(what: str, text: str, limit: int, *, required: bool = False) -> None:
            if len(text) > limit:
                found.append(f"{what} is {len(text)} characters (limit {limit})")
            if required and not text.strip():
                found.append(f"{what} is empty")

        check("title", self.title, limits.EMBED_TITLE)
        check("description", self.description, limits.EMBED_DESCRIPTION)
        check("footer", self.footer, limits.EMBED_FOOTER)
        if len(self.fields) > limits.EMBED_FIELDS:
            found.append(f"{len(self.fields)} fields (limit {limits.EMBED_FIELDS})")
        for item in self.fields:
            check(f"field {item.name!r} name", item.name, limits.EMBED_FIELD_NAME, required=True)
            check(f"field {item.name!r} value", item.value, limits.EMBED_FIELD_VALUE, required=True)
        if self.total_length > limits.EMBED_TOTAL:
            found.append(f"{self.total_length} characters in all (limit {limits.EMBED_TOTAL})")
        return found
