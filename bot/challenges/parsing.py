"""Recognise learners' "Challenge: … Solution: …" posts and cut them into a title, details and a solution.

Pure: text in, values out. Every function accepts any string: a message that is not a challenge post gives
`None`, never an exception. Only `split_title` raises (`ValueError`, with a message meant for the user),
because its callers were asked to log a message and must say why they cannot.

The accepted forms are those learners actually write (see the seeds): a post starting with `Challenge:`
(Markdown emphasis, a bullet or a quote around it tolerated), a `## Challenge 1: <title>` heading with the
details below it, and the seeds' layout of a bold title line followed by a `*Challenge:*` line. A
`Solution:` part may follow, on its own line or after a sentence end.
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from bot.challenges.errortext import error_signatures
from bot.core.embeds import ELLIPSIS
from bot.core.errors import InvalidInputError

MAX_TITLE = 100
MAX_DETAILS = 4000
MAX_SOLUTION = 4000

NO_TEXT_MESSAGE = "The message has no text to log."


@dataclass(frozen=True, slots=True)
class ParsedPost:
    title: str
    details: str
    solution: str | None


# --- cleaning ---------------------------------------------------------------------------------------------

_LINE_BREAKS = re.compile(r"\r\n?|[\x85\u2028\u2029]")
# Control characters but newline and tab; zero-width and bidirectional controls (they hide or reorder text
# and would defeat the marker: "Chal\u200blenge:"); a few more invisible format characters; lone surrogates,
# which no database or Discord message can hold. U+200D is handled apart: it also joins emoji.
_INVISIBLE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b\u200c\u200e\u200f\u202a-\u202e"
    r"\u2060-\u2064\u2066-\u206f\ufeff\ud800-\udfff]"
)
_ZWJ = "\u200d"
_EMOJI_VARIATION = "\ufe0f"
_SKIN_TONES = ("\U0001f3fb", "\U0001f3ff")
# Enough for any input: each pass only removes characters or composes them (see `clean_text`).
_CLEAN_PASSES = 4


def _joins_emoji(text: str, at: int) -> bool:
    """Whether the zero-width joiner at `at` glues two emoji ("👩‍💻"): removing it would split the picture."""
    if at == 0 or at + 1 >= len(text):
        return False
    before, after = text[at - 1], text[at + 1]
    left_ok = (
        unicodedata.category(before) == "So" or before == _EMOJI_VARIATION or _SKIN_TONES[0] <= before <= _SKIN_TONES[1]
    )
    return left_ok and unicodedata.category(after) == "So"


def _clean_once(text: str) -> str:
    text = _LINE_BREAKS.sub("\n", text)
    text = _INVISIBLE.sub("", text)
    if _ZWJ in text:
        text = "".join(char for at, char in enumerate(text) if char != _ZWJ or _joins_emoji(text, at))
    text = unicodedata.normalize("NFC", text)
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def clean_text(text: str) -> str:
    """`text` without invisible or control characters, NFC, with \\n line ends and no trailing blanks.

    Visible text (emoji, any script) is kept. Removing a character can bring a letter and a combining mark
    together, which NFC then composes, and composing can change whether a joiner sits between emoji: so the
    steps repeat until nothing changes, which makes the function idempotent.
    """
    for _ in range(_CLEAN_PASSES):
        cleaned = _clean_once(text)
        if cleaned == text:
            break
        text = cleaned
    return text


# --- markers ----------------------------------------------------------------------------------------------

_CHALLENGE_WORD = r"(?:challenge|problem)"
_SOLUTION_WORD = r"(?:solutions?(?:[ \t]+implemented)?|fix(?:es)?|answer)"
# Indentation, list bullets and quote marks before a marker. Atomic: a run of "> - > -" can be split in
# many ways, and backtracking through all of them on a failed match would be exponential.
_PREFIX = r"(?>[ \t]*(?:(?:>+|[-*+•](?=[ \t]))[ \t]*)*)"
_NUMBER = r"(?:[ \t]*\#?\d+)?"


def _marker(word: str) -> str:
    """`word:` with emphasis tolerated before, around the word, and after the colon (then before a space)."""
    return (
        rf"(?P<open>[*_]{{0,3}}){word}{_NUMBER}(?P<mid>[*_]{{0,3}})[ \t]*:"
        r"(?:(?P<close>[*_]{1,3})(?=\s|$))?"
    )


_CHALLENGE_START = re.compile(_PREFIX + _marker(_CHALLENGE_WORD), re.IGNORECASE)
_SOLUTION_START = re.compile(_PREFIX + _marker(_SOLUTION_WORD), re.IGNORECASE)
# A solution marker inside the challenge text: at a line start, after a sentence end, or emphasised
# (`slow queries **Solution:** indexes`). The lookbehind on the last form starts a run of blanks only once.
_SOLUTION_ANYWHERE = re.compile(
    rf"(?:^{_PREFIX}|(?<=[.!?…])[ \t]+|(?<![ \t])[ \t]+(?=[*_])){_marker(_SOLUTION_WORD)}",
    re.IGNORECASE | re.MULTILINE,
)
# Every solution marker holds one of these words (under the same case folding): a text without any has no
# marker, and one cheap search spares most posts the marker pattern, which is tried at every position.
_SOLUTION_HINT = re.compile(r"solution|fix|answer", re.IGNORECASE)
# Fenced and inline code: a "Fix:" inside a pasted log is not the solution.
_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]+`", re.DOTALL)

_HEADING = re.compile(r"[ \t]*(?P<hashes>#{1,6})[ \t]+(?P<text>.*)")
# "Challenge 1: t", "Challenge 1 - t" with a hyphen, an en or em dash, or one of those dashes as the seeds
# hold them: UTF-8 read as Mac Roman or Windows-1252 by some editor on the way. A hyphen needs a space
# before it, so "Challenge-based learning" stays an ordinary heading.
_DASHES = tuple(
    dash.encode("utf-8").decode(codec) if codec else dash
    for dash in ("\u2014", "\u2013")
    for codec in ("", "mac_roman", "cp1252")
)
_TITLE_SEPARATOR = rf"(?:[ \t]*:|[ \t]*(?:{'|'.join(map(re.escape, _DASHES))})|[ \t]+-)"
_CHALLENGE_HEADING = re.compile(
    rf"[*_]{{0,3}}{_CHALLENGE_WORD}{_NUMBER}[*_]{{0,3}}"
    rf"(?:{_TITLE_SEPARATOR}[*_]{{0,3}}[ \t]*(?P<title>.*))?",
    re.IGNORECASE,
)
_BOLD_TITLE = re.compile(r"(?>[ \t]*(?:[-*+•][ \t]+)?)(?P<em>\*\*|__)(?P<title>(?:(?!(?P=em)).)+)(?P=em)[ \t]*:?")
_FENCE = ("```", "~~~")
# By heading level: the headings that end a section of that level.
_SECTION_ENDS = {level: re.compile(rf"[ \t]*#{{1,{level}}}[ \t]") for level in range(1, 7)}


def _code_spans(text: str) -> tuple[list[int], list[int]]:
    starts: list[int] = []
    ends: list[int] = []
    for match in _CODE.finditer(text):
        starts.append(match.start())
        ends.append(match.end())
    return starts, ends


def _in_code(spans: tuple[list[int], list[int]], position: int) -> bool:
    starts, ends = spans
    index = bisect_right(starts, position) - 1
    return index >= 0 and position < ends[index]


def _after_marker(line: str, match: re.Match[str]) -> str:
    """The rest of a marker's line, without the closing emphasis of `**Challenge: slow queries**`."""
    rest = line[match.end() :]
    opened = match["open"] or ""
    missing = len(opened) - len(match["mid"] or "") - len(match["close"] or "")
    if missing > 0:
        closer = opened[:missing][::-1]
        trimmed = rest.rstrip()
        if trimmed.endswith(closer):
            rest = trimmed[: -len(closer)]
    return rest


def _split_solution(text: str) -> tuple[str, str | None]:
    """(challenge part, solution part or None): everything after the first solution marker is the solution."""
    if _SOLUTION_HINT.search(text) is None:
        return text, None
    spans = _code_spans(text)
    for match in _SOLUTION_ANYWHERE.finditer(text):
        if _in_code(spans, match.start("open")):
            continue
        line_end = text.find("\n", match.end())
        if line_end < 0:
            line_end = len(text)
        solution = _after_marker(text[:line_end], match) + text[line_end:]
        return text[: match.start()], solution
    return text, None


def _tidy(part: str) -> str:
    """A part without its surrounding blanks or the indentation its lines shared under a list item."""
    first, _, rest = part.partition("\n")
    return (first.strip() + "\n" + textwrap.dedent(rest)).strip() if rest else first.strip()


# --- titles and cutting -----------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")
_LEADING_MARKUP = re.compile(r"^(?>(?:[-*+•][ \t]+|\d{1,9}[.)][ \t]+|>+[ \t]*|#{1,6}[ \t]+)*)")
_SENTENCE_END = re.compile(r"[.!?…]+\s+")
# "Hi all. My migrations fail" should not be titled "Hi all": a sentence this short is a greeting.
_MIN_SENTENCE = 10
# Titles are worked on a bounded prefix: emphasis unwrapping is quadratic in the worst case.
_TITLE_WORK = 4 * MAX_TITLE
_EMPHASIS_PAIR = re.compile(r"(?<!\w)(\*{1,3}|_{1,3})(?=[^\s*_])(.+?)(?<=[^\s*_])\1(?!\w)")
_INLINE_CODE = re.compile(r"(`+)([^`]+)\1")
_EDGE_LEADING = "*_#>-"
_EDGE_TRAILING = "*_#>-.,;:"


def _strip_edges(text: str) -> str:
    while True:
        stripped = text.strip().lstrip(_EDGE_LEADING).rstrip(_EDGE_TRAILING)
        if stripped == text:
            return text
        text = stripped


def _grapheme_safe(text: str, end: int) -> int:
    """`end` moved back so a cut does not part a letter from its accent or an emoji from its joiner."""
    while 0 < end < len(text) and (
        unicodedata.combining(text[end])
        or text[end] in (_ZWJ, _EMOJI_VARIATION)
        or text[end - 1] == _ZWJ
        or _SKIN_TONES[0] <= text[end] <= _SKIN_TONES[1]
    ):
        end -= 1
    return end


def _cut_head(text: str, room: int) -> str:
    """At most `room` characters of `text`, ending at a word boundary when one is in the second half."""
    if len(text) <= room:
        return text
    for end in range(room, room // 2, -1):
        if text[end].isspace():
            return text[:end]
    return text[: _grapheme_safe(text, room) or room]


def _cut(text: str, limit: int, *, force: bool = False) -> str:
    """`text` within `limit`, or cut with an ellipsis; `force` adds it when `text` is already a cut."""
    if len(text) <= limit and not force:
        return text
    return _cut_head(text, limit - len(ELLIPSIS)).rstrip() + ELLIPSIS


def _title_from(text: str) -> str:
    """One line of plain text for a title; empty when nothing but markup is left."""
    text = _WHITESPACE.sub(" ", text).strip()
    truncated = len(text) > _TITLE_WORK
    text = _INLINE_CODE.sub(r"\2", _EMPHASIS_PAIR.sub(r"\2", text[:_TITLE_WORK]))
    # Unwrapping can bring a letter next to its accent: compose them again, as clean_text does.
    text = _strip_edges(unicodedata.normalize("NFC", text))
    if not text or (len(text) <= MAX_TITLE and not truncated):
        return text
    head = _cut_head(text, MAX_TITLE - len(ELLIPSIS))
    return (_strip_edges(head) or head.rstrip()) + ELLIPSIS


def _first_sentence(line: str) -> str:
    for match in _SENTENCE_END.finditer(line):
        following = line[match.end() : match.end() + 1]
        if match.end() >= _MIN_SENTENCE and following and not following.islower():
            return line[: match.end()]
    return line


def _derive_title(text: str) -> str:
    """The first sentence of the first line with words in it (fence lines skipped), as a title."""
    fallback = ""
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped or (stripped.startswith(_FENCE) and " " not in stripped):
            continue
        stripped = _LEADING_MARKUP.sub("", stripped, count=1)
        title = _title_from(_first_sentence(stripped))
        if any(char.isalnum() for char in title):
            return title
        fallback = fallback or title
    return fallback


# --- posts ------------------------------------------------------------------------------------------------


def _build(title_text: str | None, challenge: str, solution: str | None, *, titled_details: bool) -> ParsedPost | None:
    """The post, or None when its challenge is empty. `titled_details`: a heading alone may be the challenge."""
    details = _tidy(challenge)
    title = _title_from(title_text) if title_text else ""
    if not details:
        if not (titled_details and title):
            return None
        details = title
    title = title or _derive_title(details)
    if not title:
        return None
    solution_text = _tidy(solution) if solution is not None else ""
    return ParsedPost(
        title=title,
        details=_cut(details, MAX_DETAILS),
        solution=_cut(solution_text, MAX_SOLUTION) if solution_text else None,
    )


def _section_body(lines: list[str], level: int) -> list[str]:
    """The lines of a heading's section: up to the next heading as high as it, outside code fences."""
    ends_section = _SECTION_ENDS[level]
    in_fence = False
    for index, line in enumerate(lines):
        if not in_fence and ends_section.match(line):
            return lines[:index]
        if line.count("```") % 2 or line.lstrip().startswith("~~~"):
            in_fence = not in_fence
    return lines


def _heading_post(title: str | None, body: list[str]) -> ParsedPost | None:
    """`## Challenge 1: title` and its body; a `Problem:` / `Challenge:` line opening the body is the details."""
    for index, line in enumerate(body):
        if not line.strip():
            continue
        marker = _CHALLENGE_START.match(line)
        if marker is not None:
            body = [*body[:index], _after_marker(line, marker), *body[index + 1 :]]
        break
    challenge, solution = _split_solution("\n".join(body))
    return _build(title, challenge, solution, titled_details=True)


def _titled_post(title: str, lines: list[str]) -> ParsedPost | None:
    """The seeds' layout: a bold (or heading) title line, then a `Challenge:` line."""
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        marker = _CHALLENGE_START.match(line)
        if marker is None:
            return None
        rest = "\n".join([_after_marker(line, marker), *lines[index + 1 :]])
        challenge, solution = _split_solution(rest)
        return _build(title, challenge, solution, titled_details=False)
    return None


def parse_post(text: str) -> ParsedPost | None:
    """The challenge post in `text`, or None when it is not one (or its challenge is empty)."""
    lines = clean_text(text).split("\n")
    first, others = lines[0], lines[1:]
    marker = _CHALLENGE_START.match(first)
    if marker is not None:
        challenge, solution = _split_solution("\n".join([_after_marker(first, marker), *others]))
        return _build(None, challenge, solution, titled_details=False)
    heading = _HEADING.fullmatch(first)
    if heading is not None:
        heading_text = _drop_closing_hashes(heading["text"])
        challenge_heading = _CHALLENGE_HEADING.fullmatch(heading_text)
        if challenge_heading is not None:
            return _heading_post(challenge_heading["title"], _section_body(others, len(heading["hashes"])))
        return _titled_post(heading_text, others)
    bold = _BOLD_TITLE.fullmatch(first)
    if bold is not None:
        return _titled_post(bold["title"], others)
    return None


def _drop_closing_hashes(text: str) -> str:
    """`Title ##` → `Title`: Markdown's optional closing sequence of a heading."""
    stripped = text.rstrip().rstrip("#")
    if stripped == text.rstrip() or (stripped and not stripped[-1].isspace()):
        return text.rstrip()
    return stripped.rstrip()


def parse_solution(text: str) -> str | None:
    """The body of a reply starting with `Solution:` (or `Fix:`, `Answer:`), or None."""
    first, newline, others = clean_text(text).partition("\n")
    marker = _SOLUTION_START.match(first)
    if marker is None:
        return None
    body = _tidy(_after_marker(first, marker) + newline + others)
    return _cut(body, MAX_SOLUTION) if body else None


def split_title(text: str) -> tuple[str, str]:
    """(title, details) for logging any message; a challenge post keeps the title and details it states.

    Raises ValueError, with a message for the user, when no visible text is left.
    """
    cleaned = clean_text(text)
    post = parse_post(cleaned)
    if post is not None:
        return post.title, post.details
    title = _derive_title(cleaned)
    if not title:
        raise ValueError(NO_TEXT_MESSAGE)
    return title, _cut(cleaned.strip(), MAX_DETAILS)


# --- a message of a watched channel, checked ----------------------------------------------------------------


class TopicInference(Protocol):
    """What infers topics from text (`bot.challenges.inference.TopicMatcher`)."""

    def infer(self, text: str) -> Iterable[str]: ...


@dataclass(frozen=True, slots=True)
class ParsedChallenge:
    """A challenge post, checked against the limits: what the writer stores."""

    title: str
    details: str
    solution: str | None
    error_terms: str
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ParsedSolution:
    body: str


ParsedMessage = ParsedChallenge | ParsedSolution | None


@dataclass(frozen=True, slots=True)
class ForumPostText:
    """A forum post's starter message: the post's title, and the topics its tags name (no `Challenge:` needed)."""

    title: str
    topics: tuple[str, ...] = ()
    # The forum the post is in: its guidelines may say posts there are published (consent on the web hub).
    forum_id: int | None = None


def required(text: str, what: str, limit: int) -> str:
    """`text` cleaned; `InvalidInputError` (saying what to do) when it is empty or longer than `limit`."""
    cleaned = clean_text(text).strip()
    if not cleaned:
        raise InvalidInputError(f"The {what} is empty. Write a few words, then try again.")
    if len(cleaned) > limit:
        raise InvalidInputError(
            f"The {what} is {len(cleaned):,} characters; the limit is {limit:,}. Shorten it and try again."
        )
    return cleaned


def optional(text: str | None, what: str, limit: int) -> str | None:
    """As `required`, but nothing written (None, or only invisible characters) gives None."""
    if text is None or not clean_text(text):
        return None
    return required(text, what, limit)


def with_inferred(slugs: list[str], matcher: TopicInference, text: str) -> list[str]:
    """`slugs`, then the topics inferred from `text`, each once, at most five."""
    for slug in matcher.infer(text):
        if slug not in slugs:
            slugs.append(slug)
    return slugs[:5]


def parse_message(
    content: str, answers: bool, matcher: TopicInference, forum: ForumPostText | None = None
) -> ParsedMessage:
    """What an in-channel message is: a challenge post, a solution (when it `answers` a message), or neither.

    Most of the work of logging a post. Raises `InvalidInputError` for a post that cannot be logged, as
    `/challenge new` does. A forum post's starter message (`forum`) is a challenge as it stands.
    """
    if forum is not None:
        title = required(forum.title, "title", MAX_TITLE)
        details = optional(content, "details", MAX_DETAILS) or ""
        text = "\n".join(part for part in (title, details) if part)
        topics = tuple(with_inferred(list(forum.topics), matcher, text))
        return ParsedChallenge(title, details, None, " ".join(error_signatures(text)), topics)
    parsed = parse_post(content)
    if parsed is not None:
        title = required(parsed.title, "title", MAX_TITLE)
        details = optional(parsed.details, "details", MAX_DETAILS) or ""
        solution = optional(parsed.solution, "solution", MAX_SOLUTION)
        text = "\n".join(part for part in (title, details) if part)
        topics = tuple(with_inferred([], matcher, text))
        return ParsedChallenge(title, details, solution, " ".join(error_signatures(text)), topics)
    body = parse_solution(content) if answers else None
    return ParsedSolution(body) if body is not None else None
