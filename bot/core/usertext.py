"""User text as the bot shows it on Discord: what a member wrote, never what it would render as.

Titles, names, details and solutions are shown in embeds and messages the bot posts, so Markdown in them would
be the bot's: a title `[Django docs](https://…)` would become a link that hides where it goes, `**` or `#` would
restyle the card, `@everyone` would read as a ping. `user_text` is the one function every rendering of user text
goes through. Pure: no discord import.
"""

from __future__ import annotations

import re

ZERO_WIDTH_SPACE = "\u200b"

# Every character Discord's Markdown gives a meaning: emphasis, code, strike, spoilers, quotes, headings and
# subtext, lists, masked links, mentions, channels, custom emoji and timestamps (`<…>`). A backslash before any
# of them shows the character itself, and Discord hides the backslash.
_MARKUP = "\\*_~`|>#[]()<-"
# Code renders as written (no links, no formatting inside), so it is kept: fenced blocks, then inline spans.
_CODE = r"```[\s\S]*?```|``[^`\n]+?``|`[^`\n]+`"
# A bare URL shows where it goes: in longer text it stays a link, kept whole so that its `_` and `-` stay in it.
_URL = r"https?://[^\s<>()\[\]`|*~]+"
# A list item's number (`1. `), which would otherwise be drawn as a numbered list.
_LIST_NUMBER = r"(?m:^)[ \t]*\d{1,9}(?=[.)][ \t])"
_MARK = "[" + re.escape(_MARKUP) + "]"
_BLOCK = re.compile(f"(?P<code>{_CODE})|(?P<url>{_URL})|(?P<number>{_LIST_NUMBER})(?P<dot>[.)])|(?P<mark>{_MARK})")
_LINE = re.compile(f"(?P<number>{_LIST_NUMBER})(?P<dot>[.)])|(?P<mark>{_MARK})|(?P<scheme>://)")
_MASS_MENTION = re.compile(r"@(?=everyone|here)", re.IGNORECASE)


def _escape(match: re.Match[str]) -> str:
    kept = match.groupdict()
    if kept.get("code") is not None or kept.get("url") is not None:
        return match[0]
    if match["number"] is not None:
        return f"{match['number']}\\{match['dot']}"
    if kept.get("scheme") is not None:
        return "\\://"  # `https\://…` is shown as written but is no link
    if match[0] == "_" and _inside_word(match.string, match.start()):
        return "_"  # snake_case: one underscore between letters or digits never emphasises
    return "\\" + match[0]


def _inside_word(text: str, at: int) -> bool:
    return 0 < at < len(text) - 1 and text[at - 1].isalnum() and text[at + 1].isalnum()


def user_text(text: str, *, one_line: bool = False, markdown: bool = True) -> str:
    """`text` made inert for a message or an embed: Markdown and masked links shown as the characters typed,
    `@everyone`/`@here` unable to ping; code spans and blocks kept as code, where nothing renders.

    `one_line` is for titles, names and search snippets: whitespace folded to single spaces, every character
    shown as typed (code marks too: a snippet may cut a span, and bold marks go around its matches), and bare
    URLs shown but not linked (a card's or a list's line is the bot's words, not a place for someone's link).
    In longer text (details, solutions) a bare URL stays a link: it shows its own address. `markdown=False` is
    for what Discord shows as plain text (embed footers): nothing renders there, so nothing is escaped (a
    backslash would show).
    """
    if one_line or not markdown:
        text = " ".join(text.split())
    elif "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if markdown:
        text = (_LINE if one_line else _BLOCK).sub(_escape, text)
    if "@" in text:
        text = _MASS_MENTION.sub("@" + ZERO_WIDTH_SPACE, text)
    return text
