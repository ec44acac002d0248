"""User text and cards as HTML: CommonMark with raw HTML off, no images, and every link marked as user content."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

LINK_REL = "nofollow ugc noopener"


def _renderer() -> MarkdownIt:
    # "html": False renders any raw HTML as text; markdown-it's own link check refuses javascript:, vbscript:,
    # file: and data: URLs. Images are off so a post cannot make readers' browsers fetch a tracker.
    md = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False}).enable(["table", "strikethrough"])
    md.disable("image")

    def link_open(renderer: Any, tokens: Sequence[Token], index: int, options: Any, env: Any) -> str:
        tokens[index].attrSet("rel", LINK_REL)
        return str(renderer.renderToken(tokens, index, options, env))

    md.add_render_rule("link_open", link_open)
    return md


class Markdown:
    def __init__(self) -> None:
        self._md = _renderer()

    def block(self, text: str | None) -> Markup:
        # Safe: markdown-it escapes everything it does not produce itself (raw HTML is off).
        return Markup(self._md.render(text or ""))  # noqa: S704

    def inline(self, text: str | None) -> Markup:
        return Markup(self._md.renderInline(text or ""))  # noqa: S704
