"""The "Challenges & Solutions" document, as Markdown grouped by topic or as CSV. Pure: no I/O.

Both renderers stream chunks (one per challenge) so that a caller can write a large export straight to a
file; the challenges themselves are held once, because grouping by topic needs all of them.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

GENERAL_TOPIC = "General"
CSV_HEADER = (
    "id",
    "title",
    "status",
    "author",
    "created_at",
    "topics",
    "details",
    "tried",
    "accepted_solution",
    "other_solutions",
)
ZERO_WIDTH_SPACE = "\u200b"


@dataclass(frozen=True, slots=True)
class ExportSolution:
    author: str  # display name, or "a former member" when anonymised
    body: str
    accepted: bool


@dataclass(frozen=True, slots=True)
class ExportChallenge:
    id: int
    title: str
    details: str
    tried: str | None
    author: str
    status: str  # "open" or "solved"
    created_at: datetime  # aware UTC
    topics: tuple[str, ...]  # topic titles (already resolved from slugs), possibly empty
    solutions: tuple[ExportSolution, ...]


# --- neutralising user text ----------------------------------------------------------------------------

# Discord pings on these anywhere in a message; a zero-width space after the sigil keeps the text
# readable but inert (the same trick discord.py's escape_mentions uses).
_MASS_MENTION = re.compile(r"@(?=everyone|here)", re.IGNORECASE)
_ENTITY_MENTION = re.compile(r"<([@#])(?=[!&]?\d)")

# A line opening or closing a fenced code block (CommonMark: up to three spaces of indent; a backtick
# fence's info string may not hold a backtick, or it is no fence at all).
_FENCE_OPEN = re.compile(r"^ {0,3}(?:(`{3,})[^`]*|(~{3,}).*)$")
_FENCE_CLOSE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")
# Whatever may precede a block marker on its line: indent, block quotes, list markers (a list marker
# needs a space after it, so Discord's "-# subtext" is left alone).
_LEAD = r"[ ]{0,3}(?:>[ ]{0,4}|(?:[-*+]|\d{1,9}[.)])[ ]{1,4})*"
# ATX headings, and the `===` / `---` underlines that turn the paragraph above them into a heading.
# Matched after a newline (the text gets one in front) rather than at `^` in MULTILINE mode: a literal
# first character lets the regex engine skip ahead, four times faster on long posts.
_HEADING = re.compile(rf"\n({_LEAD})(#|=+[ \t]*(?=\n|\Z)|-+[ \t]*(?=\n|\Z))")
# An HTML tag, comment or processing instruction: `<!--` or `<details>` would swallow the rest of the
# document on GitHub. `<https://…>` autolinks and Discord's `<t:…>` timestamps are not tags and are kept.
_TAG = r"<(?=[A-Za-z/!?])(?![A-Za-z][A-Za-z0-9+.\-]*:)"
_HTML_TAG = re.compile(_TAG)
# The same, where backslash escapes and code spans are matched first so that they stay as written.
# Every branch starts with a literal character, so the regex engine can skip to the candidates.
_HTML_OUTSIDE_CODE = re.compile(rf"\\[\s\S]|`(`*)[^`\n]*?(?<!`)`\1(?!`)|{_TAG}")


def _inert_mentions(text: str) -> str:
    # The `in` tests skip a regex pass over most texts: exports run this on every field.
    if "@" in text:
        text = _MASS_MENTION.sub("@" + ZERO_WIDTH_SPACE, text)
    if "<" in text:
        text = _ENTITY_MENTION.sub(_inert_entity, text)
    return text


def _inert_entity(match: re.Match[str]) -> str:
    return f"<{match[1]}{ZERO_WIDTH_SPACE}"


def _escape_html(match: re.Match[str]) -> str:
    return "\\<" if match[0] == "<" else match[0]


def _escape_markup(text: str) -> str:
    """Escape headings and HTML in text that holds no fenced code."""
    if "#" in text or "=" in text or "-" in text:
        text = _HEADING.sub(_escape_heading, "\n" + text)[1:]
    if "<" not in text:
        return text
    if "`" in text or "\\" in text:
        return _HTML_OUTSIDE_CODE.sub(_escape_html, text)
    return _HTML_TAG.sub("\\\\<", text)


def _escape_heading(match: re.Match[str]) -> str:
    return f"\n{match[1]}\\{match[2]}"


def _neutralise_block(text: str) -> tuple[str, str | None]:
    """`neutralise`, plus the fence still open at the end of the text (None when all are closed)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _inert_mentions(text)
    if "```" not in text and "~~~" not in text:
        return _escape_markup(text), None
    # Inside fenced code a `#` is a comment, not a heading, and a backslash would show: leave it.
    out: list[str] = []
    prose: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        if fence is None:
            opening = _FENCE_OPEN.match(line)
            if opening is None:
                prose.append(line)
                continue
            out.extend(_escape_markup("\n".join(prose)).split("\n") if prose else ())
            prose = []
            fence = opening[1] or opening[2]
        else:
            closing = _FENCE_CLOSE.match(line)
            if closing and closing[1][0] == fence[0] and len(closing[1]) >= len(fence):
                fence = None
        out.append(line)
    if prose:
        out.extend(_escape_markup("\n".join(prose)).split("\n"))
    return "\n".join(out), fence


def neutralise(text: str) -> str:
    """User text made safe to show: mentions never ping, and Markdown cannot open a section or HTML.

    `@everyone`/`@here` and `<@id>`, `<@!id>`, `<@&id>`, `<#id>` get a zero-width space after the sigil;
    a line that would be a heading (`# …`, or a `===`/`---` underline) and an HTML tag get a backslash,
    which Markdown and Discord both hide. Fenced code is left as written, mentions apart.
    """
    return _neutralise_block(text)[0]


def _one_line(text: str) -> str:
    """A name or title, for a heading or a status line: neutralised, on one line."""
    return neutralise(" ".join(text.split()))


# --- Markdown ------------------------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _anchor(title: str, used: set[str]) -> str:
    """The fragment GitHub gives a heading: lowercase, punctuation dropped, spaces to hyphens, unique."""
    base = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
    anchor, n = base, 0
    while anchor in used:
        n += 1
        anchor = f"{base}-{n}"
    used.add(anchor)
    return anchor


def _section(label: str, text: str | None) -> str:
    """`**Label:** text`, inline for one line; a block below the label when it has lines of its own."""
    body, fence = _neutralise_block(text.strip()) if text else ("", None)
    if not body:
        return ""
    if fence is None and "\n" not in body:
        return f"**{label}:** {body}\n\n"
    # An unclosed fence would turn the rest of the document into code: close it where the text ends.
    closing = f"\n{fence}" if fence else ""
    return f"**{label}:**\n{body}{closing}\n\n"


def _ordered_solutions(challenge: ExportChallenge) -> list[ExportSolution]:
    return sorted(challenge.solutions, key=lambda solution: not solution.accepted)  # stable: accepted first


def _render_challenge(challenge: ExportChallenge) -> str:
    # A trailing run of `#` would be read as the heading's closing sequence and vanish.
    title = re.sub(r"#+$", lambda match: "\\#" * len(match[0]), _one_line(challenge.title)) or "(untitled)"
    solutions = _ordered_solutions(challenge)
    accepted = solutions[0] if solutions and solutions[0].accepted else None
    status = [
        challenge.status.capitalize() if challenge.status else "Open",
        f"asked by {_one_line(challenge.author)}",
        _utc(challenge.created_at).date().isoformat(),
    ]
    if accepted is not None:
        status.append(f"solution by {_one_line(accepted.author)}")
    parts = [
        f"### #{challenge.id} {title}\n\n",
        " · ".join(status) + "\n\n",
        _section("Challenge", challenge.details),
        _section("Tried", challenge.tried),
    ]
    for solution in solutions:
        label = "Solution" if solution is accepted else f"Other solution (by {_one_line(solution.author)})"
        parts.append(_section(label, solution.body))
    return "".join(parts)


def _topics(challenge: ExportChallenge) -> list[str]:
    """The challenge's topics, each once, blank ones dropped."""
    return list(dict.fromkeys(" ".join(topic.split()) for topic in challenge.topics if topic.strip()))


def _group_by_topic(challenges: Sequence[ExportChallenge]) -> list[tuple[str, list[ExportChallenge]]]:
    """Topics alphabetically, then General (challenges without a topic); oldest challenge first in each."""
    groups: defaultdict[str, list[ExportChallenge]] = defaultdict(list)
    general: list[ExportChallenge] = []
    for challenge in challenges:
        topics = _topics(challenge)
        for topic in topics:
            groups[topic].append(challenge)
        if not topics:
            general.append(challenge)
    ordered = [(topic, groups[topic]) for topic in sorted(groups, key=lambda topic: (topic.casefold(), topic))]
    if general:
        ordered.append((GENERAL_TOPIC, general))
    for _, members in ordered:
        members.sort(key=lambda challenge: (_utc(challenge.created_at), challenge.id))
    return ordered


def render_markdown(challenges: Iterable[ExportChallenge], *, community: str, generated_at: datetime) -> Iterator[str]:
    """The Markdown document, in chunks: title, contents, then one `##` section per topic."""
    items = list(challenges)
    stamp = _utc(generated_at).strftime("%Y-%m-%d %H:%M")
    yield "# Challenges & Solutions\n\n"
    yield f"Challenges logged by {_one_line(community) or 'this community'}, generated {stamp} UTC.\n\n"
    if not items:
        yield "No challenges have been logged yet.\n"
        return
    solved = sum(1 for challenge in items if challenge.status == "solved")
    yield f"{len(items)} {'challenge' if len(items) == 1 else 'challenges'}, {solved} solved.\n\n"
    groups = _group_by_topic(items)
    used = {"challenges--solutions", "contents"}
    anchors = [_anchor(_one_line(topic), used) for topic, _ in groups]
    toc = (
        f"- [{_one_line(topic).replace('[', '(').replace(']', ')')}](#{anchor}) ({len(members)})\n"
        for (topic, members), anchor in zip(groups, anchors, strict=True)
    )
    yield "## Contents\n\n" + "".join(toc) + "\n"
    # A challenge with several topics is rendered once and kept only until its last section is out.
    pending: dict[int, tuple[str, int]] = {}
    for topic, members in groups:
        yield f"## {_one_line(topic)}\n\n"
        for challenge in members:
            key = id(challenge)
            if key in pending:
                entry, left = pending.pop(key)
                if left > 1:
                    pending[key] = (entry, left - 1)
            else:
                entry = _render_challenge(challenge)
                if len(challenge.topics) > 1 and (sections := len(_topics(challenge))) > 1:
                    pending[key] = (entry, sections - 1)
            yield entry


# --- CSV -----------------------------------------------------------------------------------------------

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    text = _inert_mentions(text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_row(challenge: ExportChallenge) -> tuple[object, ...]:
    solutions = _ordered_solutions(challenge)
    accepted = solutions[0] if solutions and solutions[0].accepted else None
    others = "\n\n".join(f"{solution.author}: {solution.body}" for solution in solutions if solution is not accepted)
    return (
        challenge.id,
        _cell(challenge.title),
        _cell(challenge.status),
        _cell(challenge.author),
        _utc(challenge.created_at).isoformat(),
        _cell("; ".join(challenge.topics)),
        _cell(challenge.details),
        _cell(challenge.tried or ""),
        _cell(accepted.body if accepted else ""),
        _cell(others),
    )


def render_csv(challenges: Iterable[ExportChallenge]) -> Iterator[str]:
    """The CSV export, in chunks of one row: RFC 4180 (`\\r\\n` rows), so write it with `newline=""`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        chunk = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return chunk

    writer.writerow(CSV_HEADER)
    yield flush()
    for challenge in challenges:
        writer.writerow(_csv_row(challenge))
        yield flush()
