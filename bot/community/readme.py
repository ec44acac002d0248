"""The learner's own "Project Nexus" README, in the seeds' structure, from what they logged. Pure: no I/O.

Every line is either fixed text about the programme, the learner's own data (their challenges, the solutions they
gave, their pairs and study sessions) or a line of a topic card; a section with nothing to say is left out. The
document is bounded (at most `MAX_CHALLENGES` challenges, `MAX_SOLUTIONS` solutions, ... shown, each text shortened),
so it always fits in one Discord upload, and it says when something was left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.challenges.export import neutralise
from bot.core.embeds import EmbedField, EmbedSpec, shorten

MAX_CHALLENGES = 30
MAX_SOLUTIONS = 30
MAX_PAIRS = 20
MAX_SESSIONS = 20
MAX_TOPICS = 12  # per section (technologies, concepts)
TAKEAWAY_CARDS = 4  # the cards used most give the takeaways...
POINTS_PER_CARD = 2  # ...each with its first key points
MAX_BODY = 1500  # characters of a solution shown
MAX_DETAILS = 300  # characters of a challenge's details, on one line
MAX_SUMMARY = 300

# Technologies vs concepts, by the card's category, as the seeds split them: "Key technologies" are the tools and
# languages (Python, Django, REST/GraphQL APIs, Docker, CI/CD, testing tools, the frontend stack); "Important concepts"
# are the ideas that cut across tools (database design, async work, caching and performance, security, architecture).
TECHNOLOGY_CATEGORIES = frozenset({"python", "django", "apis", "devops", "testing", "web", "frontend"})

OVERVIEW = (
    "The ALX ProDev programme is an intensive, hands-on training in building production-ready software. Its "
    "backend track covers Python, Django, REST and GraphQL APIs, database design, asynchronous work with Celery and "
    "RabbitMQ, caching with Redis, security, Docker and CI/CD; its frontend learners build on the backend learners' "
    "endpoints. Project Nexus is where the programme's learners document their major learnings, the challenges they "
    "faced with the solutions they implemented, and work together across the two tracks in the #ProDevProjectNexus "
    "community."
)

NOTHING_LOGGED = (
    "Nexus has nothing logged for you in this server yet, so there is no README to write. Log a challenge you hit "
    "with `/challenge new` (or post `Challenge: …` in the challenge channel), answer someone else's with "
    "`/challenge solve`, or find a study partner with `/pair request`; then run `/nexus readme` again."
)


@dataclass(frozen=True, slots=True)
class ReadmeTopic:
    """A topic the learner's challenges and solutions touched: its card's lines, and how often it came up."""

    slug: str
    title: str
    category: str
    summary: str
    key_points: str
    uses: int


@dataclass(frozen=True, slots=True)
class Partner:
    """Someone the learner worked with: named only when they chose to be credited (`/nexus profile credit:on`)."""

    name: str | None
    track: str | None

    def label(self) -> str:
        if self.name is not None:
            shown = inline(self.name) or "a learner"
            return f"{shown}, a {self.track} learner" if self.track else shown
        return f"a {self.track} learner" if self.track else "a fellow learner"


@dataclass(frozen=True, slots=True)
class ReadmeChallenge:
    id: int
    title: str
    details: str
    created_at: datetime
    solved_at: datetime | None
    topics: tuple[str, ...]  # card titles
    errors: tuple[str, ...]  # error signatures as shown (`IntegrityError`, `HTTP 502`)
    solution: str | None  # the accepted solution's text
    solved_by: Partner | None  # who gave it; None when it was the learner's own


@dataclass(frozen=True, slots=True)
class ReadmeSolution:
    challenge_id: int
    challenge_title: str
    accepted: bool
    created_at: datetime
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReadmePair:
    partner: Partner
    matched_at: datetime
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReadmeSession:
    partner: Partner
    starts_at: datetime
    minutes: int
    topic: str | None


@dataclass(frozen=True, slots=True)
class LearnerHistory:
    """What the README is made of. The tuples hold the newest entries (at most the MAX_ of each), the totals count
    them all."""

    name: str
    track: str | None
    challenges: tuple[ReadmeChallenge, ...]
    challenges_total: int
    challenges_solved: int
    solutions: tuple[ReadmeSolution, ...]
    solutions_total: int
    solutions_accepted: int
    topics: tuple[ReadmeTopic, ...]  # most used first
    pairs: tuple[ReadmePair, ...]
    pairs_total: int
    sessions: tuple[ReadmeSession, ...]
    sessions_total: int
    session_minutes: int

    @property
    def empty(self) -> bool:
        return not (self.challenges_total or self.solutions_total or self.pairs_total or self.sessions_total)


# --- user text -----------------------------------------------------------------------------------------------------

# CommonMark's fences: a backtick fence's info string holds no backtick (else it is no fence at all), and a closing
# fence is the fence character alone, at least as long as the opening one.
_FENCE_OPEN = re.compile(r"^ {0,3}(?:(`{3,})[^`]*|(~{3,}).*)$")
_FENCE_CLOSE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")
# Backslash escapes and code spans are kept as written; any other `[` is escaped, so no link, image or reference
# definition (a masked link: text that hides where it goes) can form.
_BRACKET_OUTSIDE_CODE = re.compile(r"\\[\s\S]|`(`*)[^`\n]*?(?<!`)`\1(?!`)|\[")
# Put in front of one-line text so that nothing in it is read as a fence, then taken off again.
_NOT_A_FENCE = "\u200b"


def _escape_bracket(match: re.Match[str]) -> str:
    return "\\[" if match[0] == "[" else match[0]


def escape_user_text(text: str, *, block: bool = True) -> str:
    """User text made safe for GitHub Markdown: the one place it is done (swap it for a shared helper here).

    It builds on the export's `neutralise` (escapes only what could act: the file is the learner's to keep and
    edit) rather than `bot.core.usertext.user_text`, which escapes every Markdown character for Discord's renderer and
    would be as safe here, but noisy in the file's source.

    `neutralise` makes mentions inert and escapes headings and HTML tags outside fenced code; then every `[` outside
    code is escaped, so no masked link can form. In a `block` (text on lines of its own) fenced code is left as
    written; text shown within a line (`block=False`) holds no fence, whatever it starts with.
    """
    if not block:
        # neutralise reads a leading ``` as a fence; within a line it is none, so it must not shield what follows.
        return _BRACKET_OUTSIDE_CODE.sub(_escape_bracket, neutralise(_NOT_A_FENCE + text)[len(_NOT_A_FENCE) :])
    text = neutralise(text)
    if "[" not in text:
        return text
    out: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        if fence is None:
            opening = _FENCE_OPEN.match(line)
            if opening:
                fence = opening[1] or opening[2]
            else:
                line = _BRACKET_OUTSIDE_CODE.sub(_escape_bracket, line)
        else:
            closing = _FENCE_CLOSE.match(line)
            if closing and closing[1][0] == fence[0] and len(closing[1]) >= len(fence):
                fence = None
        out.append(line)
    return "\n".join(out)


def inline(text: str, limit: int = 200) -> str:
    """A name or title on one line, escaped; a trailing `#` run is escaped so a heading keeps it."""
    flat = shorten(" ".join(text.split()), limit)
    escaped = escape_user_text(flat, block=False)
    return re.sub(r"#+$", lambda match: "\\#" * len(match[0]), escaped)


def quoted(text: str, limit: int = MAX_BODY) -> str:
    """A block of user text as a block quote: whatever it holds (an unclosed code fence, a heading, a list) ends
    with the quote, so it cannot spill into the rest of the document."""
    body = escape_user_text(shorten(text.strip().replace("\r\n", "\n").replace("\r", "\n"), limit))
    return "\n".join(f"> {line}" if line.strip() else ">" for line in body.split("\n"))


# --- card lines ----------------------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z*`\"(])")


def first_sentence(summary: str) -> str:
    """A card summary's first sentence, on one line (the card is the project's own text)."""
    flat = " ".join(summary.split())
    return shorten(_SENTENCE_END.split(flat, maxsplit=1)[0], MAX_SUMMARY)


def key_points(card_points: str, count: int = POINTS_PER_CARD) -> list[str]:
    """The first `count` bullet points of a card's key points, without their markers."""
    points = [line[2:].strip() for line in card_points.splitlines() if line.startswith(("- ", "* "))]
    return points[:count]


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def error_label(token: str, text: str) -> str | None:
    """An error signature as a reader knows it: `http502` → HTTP 502, `sqlstate23505` → SQLSTATE 23505, an exception
    name as written in the challenge (`integrityerror` → IntegrityError). None for a signature the text does not
    spell out (one the recogniser derived, such as `uniqueviolation` from "violates unique constraint"): the README
    shows the error as reported, not the search index's synonyms."""
    if match := re.fullmatch(r"http(\d{3})", token):
        return f"HTTP {match[1]}"
    if match := re.fullmatch(r"sqlstate([0-9a-z]{5})", token):
        return f"SQLSTATE {match[1].upper()}"
    for word in _WORD.finditer(text):
        if word[0].lower().replace("_", "") == token:
            return word[0]
    return None


# --- the document --------------------------------------------------------------------------------------------------


def _day(moment: datetime) -> str:
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)).date().isoformat()


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _shown_of(shown: int, total: int, noun: str) -> str:
    return f"_The {shown} most recent of my {total} {noun} are shown here._\n\n" if shown < total else ""


def _topic_list(topics: Sequence[ReadmeTopic]) -> str:
    lines = []
    for topic in topics[:MAX_TOPICS]:
        uses = "1 entry" if topic.uses == 1 else f"{topic.uses} entries"
        lines.append(f"- **{topic.title}** ({uses}): {first_sentence(topic.summary)}")
    more = len(topics) - MAX_TOPICS
    if more > 0:
        lines.append(f"- …and {_plural(more, 'more topic')}.")
    return "\n".join(lines) + "\n\n"


def _challenge(number: int, challenge: ReadmeChallenge) -> str:
    title = inline(challenge.title, 100) or "(untitled)"
    facts = [f"Logged {_day(challenge.created_at)}"]
    facts.append(f"solved {_day(challenge.solved_at)}" if challenge.solved_at else "not solved yet")
    if challenge.topics:
        facts.append(", ".join(challenge.topics))
    parts = [f"### Challenge {number}: {title}\n\n", f"_{' · '.join(facts)}_\n\n"]
    details = inline(challenge.details, MAX_DETAILS)
    if details:
        parts.append(f"**Challenge:** {details}\n\n")
    if challenge.errors:
        parts.append("**Error reported:** " + ", ".join(f"`{error}`" for error in challenge.errors) + "\n\n")
    if challenge.solution is not None:
        label = "**Solution implemented:**"
        if challenge.solved_by is not None:
            label = f"**Solution implemented** (suggested by {challenge.solved_by.label()}):"
        parts.append(f"{label}\n\n{quoted(challenge.solution)}\n\n")
    return "".join(parts)


def _collaboration(history: LearnerHistory) -> str:
    parts = ["## Collaboration\n\n"]
    if history.pairs_total:
        topics = list(dict.fromkeys(topic for pair in history.pairs for topic in pair.topics))
        line = f"- **Pairs:** {history.pairs_total} through Nexus's frontend/backend pairing"
        parts.append(line + (f", on {', '.join(topics)}.\n" if topics else ".\n"))
        for pair in history.pairs:
            on = f" · {', '.join(pair.topics)}" if pair.topics else ""
            parts.append(f"  - {_day(pair.matched_at)}: paired with {pair.partner.label()}{on}\n")
        if len(history.pairs) < history.pairs_total:
            parts.append(f"  - …and {_plural(history.pairs_total - len(history.pairs), 'earlier pair')}.\n")
    if history.sessions_total:
        hours, minutes = divmod(history.session_minutes, 60)
        length = f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
        topics = list(dict.fromkeys(session.topic for session in history.sessions if session.topic))
        line = f"- **Study sessions held:** {history.sessions_total} ({length} in all)"
        parts.append(line + (f", on {', '.join(topics)}.\n" if topics else ".\n"))
        for session in history.sessions:
            on = f" · {session.topic}" if session.topic else ""
            parts.append(f"  - {_day(session.starts_at)}: {session.minutes} min with {session.partner.label()}{on}\n")
        if len(history.sessions) < history.sessions_total:
            parts.append(f"  - …and {_plural(history.sessions_total - len(history.sessions), 'earlier session')}.\n")
    parts.append(
        "\nFrontend and backend learners of ProDev: find me in #ProDevProjectNexus, or ask Nexus for a partner with "
        "`/pair request`.\n\n"
    )
    return "".join(parts)


def _takeaways(topics: Sequence[ReadmeTopic]) -> str:
    lines: list[str] = []
    for topic in topics[:TAKEAWAY_CARDS]:
        lines.extend(f"- **{topic.title}:** {point}" for point in key_points(topic.key_points))
    return "## Best Practices and Personal Takeaways\n\n" + "\n".join(lines) + "\n\n" if lines else ""


def _intro(history: LearnerHistory, community: str) -> str:
    counts = []
    if history.challenges_total:
        counts.append(_plural(history.challenges_total, "challenge"))
    if history.solutions_total:
        counts.append(_plural(history.solutions_total, "solution") + " given to others")
    if history.pairs_total:
        counts.append(_plural(history.pairs_total, "pair"))
    if history.sessions_total:
        counts.append(_plural(history.sessions_total, "study session"))
    track = f" I followed the **{history.track}** track." if history.track else ""
    where = inline(community, 100) or "the community"
    return (
        f"This README was written by Nexus from what I logged in {where}: {', '.join(counts)}.{track} Every line "
        "below comes from that log or from the community's topic cards.\n\n"
    )


def render_readme(history: LearnerHistory, *, community: str, generated_at: datetime) -> str:
    """The whole document, as GitHub Markdown. The caller checks `history.empty` first (there is nothing to say)."""
    parts = [
        f"# ALX Project Nexus: {inline(history.name, 80) or 'my learning journey'}\n\n",
        _intro(history, community),
        "## Overview of the ProDev Programme\n\n",
        OVERVIEW + "\n\n",
    ]
    technologies = [topic for topic in history.topics if topic.category in TECHNOLOGY_CATEGORIES]
    concepts = [topic for topic in history.topics if topic.category not in TECHNOLOGY_CATEGORIES]
    if technologies:
        parts += ["## Key Technologies\n\n", _topic_list(technologies)]
    if concepts:
        parts += ["## Important Concepts\n\n", _topic_list(concepts)]
    if history.challenges:
        parts.append("## Challenges I Faced and Solutions I Implemented\n\n")
        parts.append(_shown_of(len(history.challenges), history.challenges_total, "challenges"))
        ordered = sorted(history.challenges, key=lambda challenge: (challenge.created_at, challenge.id))
        parts += [_challenge(number, challenge) for number, challenge in enumerate(ordered, 1)]
    if history.solutions:
        parts.append("## Solutions I Gave Others\n\n")
        accepted = f", {history.solutions_accepted} of them accepted" if history.solutions_accepted else ""
        parts.append(f"I answered other learners' challenges {_plural(history.solutions_total, 'time')}{accepted}.\n\n")
        parts.append(_shown_of(len(history.solutions), history.solutions_total, "solutions"))
        for solution in sorted(history.solutions, key=lambda item: (item.created_at, item.challenge_id)):
            verdict = "accepted" if solution.accepted else "suggested"
            topics = f" · {', '.join(solution.topics)}" if solution.topics else ""
            title = inline(solution.challenge_title, 100) or "(untitled)"
            parts.append(f"- {_day(solution.created_at)}: {title} ({verdict}){topics}\n")
        parts.append("\n")
    if history.pairs_total or history.sessions_total:
        parts.append(_collaboration(history))
    parts.append(_takeaways(history.topics))
    parts.append(f"---\n\n_Generated by Nexus on {_day(generated_at)}._\n")
    return "".join(parts)


def readme_preview(history: LearnerHistory) -> EmbedSpec:
    """A short embed beside the file: what it holds, and the topics that lead it."""
    lines = []
    if history.challenges_total:
        lines.append(f"{_plural(history.challenges_total, 'challenge')} ({history.challenges_solved} solved)")
    if history.solutions_total:
        lines.append(f"{_plural(history.solutions_total, 'solution')} given ({history.solutions_accepted} accepted)")
    if history.pairs_total:
        lines.append(_plural(history.pairs_total, "pair"))
    if history.sessions_total:
        lines.append(_plural(history.sessions_total, "study session"))
    fields: tuple[EmbedField, ...] = ()
    if history.topics:
        top = ", ".join(topic.title for topic in history.topics[:5])
        fields = (EmbedField("Top topics", shorten(top, 1024)),)
    return EmbedSpec(
        title="Your Project Nexus README",
        description="\n".join(lines),
        fields=fields,
        footer="The file is attached: put it in your repository as README.md.",
    )
