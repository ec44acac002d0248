"""The "Challenges & Solutions" document, as Markdown grouped by topic or as CSV. Pure: it opens nothing.

`MarkdownExport` and `CsvExport` write into binary streams the caller opens (a file, or memory), a batch of
challenges at a time, and hold no challenge once it is written: memory stays bounded however long the log.
Each challenge appears once in the Markdown, under its first topic; its other topics' sections point to it.
With a `limit`, writing stops (`ExportTooLarge`) as soon as the document would pass that many bytes.
"""

from __future__ import annotations

import csv
import io
import re
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import BinaryIO

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


_NOT_A_FENCE = "\u200b"


def neutralise(text: str) -> str:
    """User text made safe to show: mentions never ping, and Markdown cannot open a section or HTML.

    `@everyone`/`@here` and `<@id>`, `<@!id>`, `<@&id>`, `<#id>` get a zero-width space after the sigil;
    a line that would be a heading (`# …`, or a `===`/`---` underline) and an HTML tag get a backslash,
    which Markdown and Discord both hide. Fenced code is left as written, mentions apart.
    """
    return _neutralise_block(text)[0]


def _one_line(text: str) -> str:
    """A name or title, for a heading or a status line: neutralised, on one line. Within a line a leading ``` is
    no fence, so a zero-width space in front keeps it from shielding what follows, and is taken off again."""
    line = " ".join(text.split())
    if not line.startswith(("```", "~~~")):
        return neutralise(line)
    return neutralise(_NOT_A_FENCE + line)[len(_NOT_A_FENCE) :]


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


def _render_challenge(challenge: ExportChallenge, others: Iterable[str] = ()) -> str:
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
        _section("Also about", ", ".join(others)),
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


class ExportTooLarge(Exception):
    """The document would pass `limit` bytes; `exported` challenges fitted before it did."""

    def __init__(self, limit: int, exported: int) -> None:
        super().__init__(f"the export passes {limit} bytes after {exported} challenges")
        self.limit = limit
        self.exported = exported


def describe_scope(*, topic: str | None = None, status: str | None = None, since: date | None = None) -> str:
    """One sentence for the document's head saying which challenges a filtered export holds ("" for all)."""
    if topic is None and status is None and since is None:
        return ""
    text = f"Only {status} challenges" if status else "Only challenges"
    if topic:
        text += f" about {_one_line(topic)}" + ("," if since else "")
    if since:
        text += f" logged since {since.isoformat()}"
    return text + "."


class _Ranges:
    """Where a topic's entries lie in a scratch stream: (offset, length) pairs in one compact array."""

    __slots__ = ("count", "spans")

    def __init__(self) -> None:
        self.spans = array("q")
        self.count = 0

    def add(self, offset: int, length: int) -> None:
        self.spans.append(offset)
        self.spans.append(length)
        self.count += 1

    def size(self) -> int:
        return sum(self.spans[1::2])


class MarkdownExport:
    """The Markdown document: title, scope, contents, then one `##` section per topic, General last.

    Entries are rendered into one scratch stream and the pointers to them ("- #3 Title (under Topic)") into
    another, as they come; only their offsets are kept, per topic. `finish` then copies them into `out`
    section by section. Each challenge is listed under its first topic (or `lead_topic`, when it has it),
    in the order given; its other topics' sections list it after their own entries.
    """

    def __init__(
        self,
        out: BinaryIO,
        *,
        community: str,
        generated_at: datetime,
        limit: int | None = None,
        lead_topic: str | None = None,
        scope: str = "",
        scratch: Callable[[], BinaryIO] = io.BytesIO,
    ) -> None:
        self.out = out
        self._community = community
        self._generated_at = generated_at
        self._limit = limit
        self._lead = " ".join(lead_topic.split()) if lead_topic else None
        self._scope = scope
        self._entries = scratch()
        self._pointers = scratch()
        self._placed: dict[str, _Ranges] = {}  # topic → its own entries in `_entries`
        self._pointed: dict[str, _Ranges] = {}  # topic → pointers in `_pointers` to entries placed elsewhere
        self._general = _Ranges()
        self._count = self._solved = self._size = 0

    def write(self, challenges: Iterable[ExportChallenge]) -> int:
        """`add` every challenge, then `finish`: the document's size in bytes."""
        self.add(challenges)
        return self.finish()

    def add(self, challenges: Iterable[ExportChallenge]) -> None:
        for challenge in challenges:
            topics = _topics(challenge)
            home = self._lead if self._lead in topics else (topics[0] if topics else None)
            entry = _render_challenge(challenge, [topic for topic in topics if topic != home]).encode()
            ranges = self._general if home is None else self._placed.setdefault(home, _Ranges())
            ranges.add(self._entries.tell(), len(entry))
            self._entries.write(entry)
            added = len(entry)
            for topic in topics:
                if topic != home:
                    pointer = self._pointer(challenge, home or GENERAL_TOPIC).encode()
                    self._pointed.setdefault(topic, _Ranges()).add(self._pointers.tell(), len(pointer))
                    self._pointers.write(pointer)
                    added += len(pointer)
            if self._limit is not None and self._size + added > self._limit:
                raise ExportTooLarge(self._limit, self._count)
            self._size += added
            self._count += 1
            self._solved += challenge.status == "solved"

    @staticmethod
    def _pointer(challenge: ExportChallenge, home: str) -> str:
        return f"- #{challenge.id} {_one_line(challenge.title) or '(untitled)'} (under {_one_line(home)})\n"

    def _sections(self) -> list[tuple[str, _Ranges, _Ranges | None]]:
        """Topics alphabetically, then General (challenges without a topic)."""
        names = sorted({*self._placed, *self._pointed}, key=lambda topic: (topic.casefold(), topic))
        empty = _Ranges()
        sections = [(name, self._placed.get(name, empty), self._pointed.get(name)) for name in names]
        if self._general.count:
            sections.append((GENERAL_TOPIC, self._general, None))
        return sections

    def _plan(self) -> Iterator[bytes | tuple[BinaryIO, _Ranges]]:
        stamp = _utc(self._generated_at).strftime("%Y-%m-%d %H:%M")
        head = "# Challenges & Solutions\n\n"
        head += f"Challenges logged by {_one_line(self._community) or 'this community'}, generated {stamp} UTC.\n\n"
        if self._scope:
            head += f"{self._scope}\n\n"
        if not self._count:
            yield (head + (f"No challenge matches: {self._scope}\n" if self._scope else NOTHING_LOGGED)).encode()
            return
        head += f"{self._count} {'challenge' if self._count == 1 else 'challenges'}, {self._solved} solved. "
        head += "Each challenge is listed once, under its first topic; its other topics point to it.\n\n"
        sections = self._sections()
        used = {"challenges--solutions", "contents"}
        anchors = [_anchor(_one_line(topic), used) for topic, _, _ in sections]
        toc = "".join(
            f"- [{_one_line(topic).replace('[', '(').replace(']', ')')}](#{anchor}) "
            f"({placed.count + (pointed.count if pointed else 0)})\n"
            for (topic, placed, pointed), anchor in zip(sections, anchors, strict=True)
        )
        yield (head + "## Contents\n\n" + toc + "\n").encode()
        for topic, placed, pointed in sections:
            yield f"## {_one_line(topic)}\n\n".encode()
            yield self._entries, placed
            if pointed:
                yield f"Also about {_one_line(topic)}, listed under another topic:\n\n".encode()
                yield self._pointers, pointed
                yield b"\n"

    def finish(self) -> int:
        """Write the document into `out`; its size in bytes. Nothing is written when it would pass the limit."""
        plan = list(self._plan())
        size = sum(len(part) if isinstance(part, bytes) else part[1].size() for part in plan)
        if self._limit is not None and size > self._limit:
            raise ExportTooLarge(self._limit, self._count)
        for part in plan:
            if isinstance(part, bytes):
                self.out.write(part)
                continue
            source, ranges = part
            spans = ranges.spans
            for index in range(0, len(spans), 2):
                source.seek(spans[index])
                self.out.write(source.read(spans[index + 1]))
        self.out.flush()
        return size


NOTHING_LOGGED = "No challenges have been logged yet.\n"


def render_markdown(
    challenges: Iterable[ExportChallenge],
    *,
    community: str,
    generated_at: datetime,
    lead_topic: str | None = None,
    scope: str = "",
) -> Iterator[str]:
    """The Markdown document in memory, in chunks (for small documents; large ones go through `MarkdownExport`)."""
    out = io.BytesIO()
    MarkdownExport(out, community=community, generated_at=generated_at, lead_topic=lead_topic, scope=scope).write(
        challenges
    )
    text = out.getvalue().decode()
    # Chunks at entry boundaries, as a caller writing them one by one would see them.
    for index, chunk in enumerate(re.split(r"(?=^#{1,3} )", text, flags=re.MULTILINE)):
        if chunk or index == 0:
            yield chunk


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


class CsvExport:
    """The CSV export written into `out` (UTF-8, RFC 4180 `\\r\\n` rows), one row per challenge as it comes."""

    def __init__(self, out: BinaryIO, *, limit: int | None = None) -> None:
        self.out = out
        self._limit = limit
        self._count = self._size = 0
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer)
        self._writer.writerow(CSV_HEADER)
        self._flush()

    def _flush(self) -> None:
        chunk = self._buffer.getvalue().encode()
        self._buffer.seek(0)
        self._buffer.truncate()
        if self._limit is not None and self._size + len(chunk) > self._limit:
            raise ExportTooLarge(self._limit, self._count)
        self.out.write(chunk)
        self._size += len(chunk)

    def write(self, challenges: Iterable[ExportChallenge]) -> int:
        self.add(challenges)
        return self.finish()

    def add(self, challenges: Iterable[ExportChallenge]) -> None:
        for challenge in challenges:
            self._writer.writerow(_csv_row(challenge))
            self._flush()
            self._count += 1

    def finish(self) -> int:
        self.out.flush()
        return self._size


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
