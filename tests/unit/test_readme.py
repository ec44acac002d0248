"""The learner's README renderer (pure): the seeds' structure, nothing invented, sections left out when empty, user
text that cannot produce raw HTML, a mention or a link, the bounds, and a golden file reviewed by eye.

To accept a deliberate change of the golden file: NEXUS_UPDATE_GOLDEN=1 pytest tests/unit/test_readme.py, then
review the diff."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.community.readme import (
    MAX_BODY,
    MAX_CHALLENGES,
    MAX_SOLUTIONS,
    LearnerHistory,
    Partner,
    ReadmeChallenge,
    ReadmePair,
    ReadmeSession,
    ReadmeSolution,
    ReadmeTopic,
    error_label,
    escape_user_text,
    first_sentence,
    inline,
    quoted,
    readme_preview,
    render_readme,
)
from bot.core import limits
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.runtime.paths import default_data_dir

GOLDEN = Path(__file__).parent / "golden" / "readme_rich.md"
DAY = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)
GENERATED = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
DISCORD_UPLOAD_LIMIT = 8 * 1024 * 1024  # the smallest upload limit Discord has had for bots


def _cards() -> KnowledgeBase:
    return load_knowledge_base(default_data_dir() / "topics")


def _topic(knowledge_base: KnowledgeBase, slug: str, uses: int) -> ReadmeTopic:
    card = knowledge_base.by_slug[slug]
    return ReadmeTopic(card.slug, card.title, card.category.value, card.summary, card.key_points, uses)


GRACE = Partner("Grace", "backend")  # chose credit:on
UNCREDITED = Partner(None, "frontend")


def rich_history() -> LearnerHistory:
    """Ada, a backend learner with a rich history: solved challenges with errors, her own fix and others', an open
    one, solutions given, two pairs (Grace credited, a frontend learner not) and study sessions."""
    cards = _cards()
    challenges = (
        ReadmeChallenge(
            id=3,
            title="IntegrityError when two users sign up with the same email",
            details="Signup returns 500: IntegrityError: duplicate key value violates unique constraint "
            '"accounts_user_email_key". The form validates the email first.',
            created_at=DAY,
            solved_at=DAY + timedelta(days=1),
            topics=("Keys and Constraints", "Django Models"),
            errors=("IntegrityError", "SQLSTATE 23505"),
            solution="Two requests passed the form's check at the same time. I kept the unique constraint, wrapped "
            "the save in `transaction.atomic()` and turned the `IntegrityError` into a form error:\n\n"
            "```python\ntry:\n    with transaction.atomic():\n        user.save()\nexcept IntegrityError:\n"
            '    form.add_error("email", "This email is already registered.")\n```',
            solved_by=GRACE,
        ),
        ReadmeChallenge(
            id=7,
            title="nginx answers 502 Bad Gateway behind gunicorn in Docker",
            details="Works with runserver, 502 Bad Gateway with docker compose up.",
            created_at=DAY + timedelta(days=6),
            solved_at=DAY + timedelta(days=6, hours=3),
            topics=("Docker", "Docker Compose"),
            errors=("HTTP 502",),
            solution="gunicorn was bound to 127.0.0.1 inside its container: bind 0.0.0.0:8000.",
            solved_by=None,
        ),
        ReadmeChallenge(
            id=12,
            title="Celery tasks vanish when the worker restarts",
            details="A deploy restarts the worker and queued emails are lost <b>sometimes</b>. @everyone seen this?",
            created_at=DAY + timedelta(days=14),
            solved_at=DAY + timedelta(days=15),
            topics=("Celery Background Tasks", "RabbitMQ"),
            errors=(),
            solution="Set `task_acks_late = True` and `task_reject_on_worker_lost = True`; see [the docs](https://evil.example/x).",
            solved_by=UNCREDITED,
        ),
        ReadmeChallenge(
            id=15,
            title="Redis cache keeps stale user profiles",
            details="",
            created_at=DAY + timedelta(days=20),
            solved_at=None,
            topics=("Redis",),
            errors=(),
            solution=None,
            solved_by=None,
        ),
    )
    solutions = (
        ReadmeSolution(4, "CORS error calling the API from Next.js", True, DAY + timedelta(days=2), ("CORS",)),
        ReadmeSolution(9, "pytest fixtures leak state between tests", False, DAY + timedelta(days=9), ()),
        ReadmeSolution(
            11, "Slow admin list page", True, DAY + timedelta(days=12), ("Query Optimization (Django ORM)",)
        ),
    )
    topics = (
        _topic(cards, "docker", 3),
        _topic(cards, "celery", 2),
        _topic(cards, "keys-and-constraints", 2),
        _topic(cards, "cors", 1),
        _topic(cards, "django-models", 1),
        _topic(cards, "query-optimization", 1),
        _topic(cards, "redis", 1),
    )
    pairs = (
        ReadmePair(GRACE, DAY + timedelta(days=1), ("Docker", "REST API Design")),
        ReadmePair(UNCREDITED, DAY + timedelta(days=16), ("Frontend-Backend API Contracts",)),
    )
    sessions = (
        ReadmeSession(GRACE, DAY + timedelta(days=3), 60, "Docker"),
        ReadmeSession(GRACE, DAY + timedelta(days=8), 90, None),
        ReadmeSession(UNCREDITED, DAY + timedelta(days=18), 45, "Frontend-Backend API Contracts"),
    )
    return LearnerHistory(
        name="Ada",
        track="backend",
        challenges=challenges,
        challenges_total=4,
        challenges_solved=3,
        solutions=solutions,
        solutions_total=3,
        solutions_accepted=2,
        topics=topics,
        pairs=pairs,
        pairs_total=2,
        sessions=sessions,
        sessions_total=3,
        session_minutes=195,
    )


def test_rich_history_matches_the_reviewed_golden_file() -> None:
    document = render_readme(rich_history(), community="ProDev Project Nexus", generated_at=GENERATED)
    if os.environ.get("NEXUS_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(document, encoding="utf-8")
    assert document == GOLDEN.read_text(encoding="utf-8")


def _headings(document: str) -> list[str]:
    return [line for line in document.splitlines() if line.startswith("## ")]


def test_sections_follow_the_seeds_and_empty_ones_are_left_out() -> None:
    full = render_readme(rich_history(), community="X", generated_at=GENERATED)
    assert full.startswith("# ALX Project Nexus: Ada\n")
    assert _headings(full) == [
        "## Overview of the ProDev Programme",
        "## Key Technologies",
        "## Important Concepts",
        "## Challenges I Faced and Solutions I Implemented",
        "## Solutions I Gave Others",
        "## Collaboration",
        "## Best Practices and Personal Takeaways",
    ]
    only_pairs = replace(
        rich_history(),
        challenges=(),
        challenges_total=0,
        challenges_solved=0,
        solutions=(),
        solutions_total=0,
        solutions_accepted=0,
        topics=(),
    )
    document = render_readme(only_pairs, community="X", generated_at=GENERATED)
    assert _headings(document) == ["## Overview of the ProDev Programme", "## Collaboration"]
    assert "0 " not in document.split("## Collaboration")[0].split("logged in X:")[1].split(".")[0]


def test_technologies_and_concepts_are_split_by_card_category_most_used_first() -> None:
    document = render_readme(rich_history(), community="X", generated_at=GENERATED)
    technologies = document.split("## Key Technologies")[1].split("## Important Concepts")[0]
    concepts = document.split("## Important Concepts")[1].split("## Challenges")[0]
    assert [line.split("**")[1] for line in technologies.strip().splitlines()] == [
        "Docker",
        "CORS (Cross-Origin Resource Sharing)",
        "Django Models",
    ]
    assert [line.split("**")[1] for line in concepts.strip().splitlines()] == [
        "Celery Background Tasks",
        "Keys and Constraints",
        "Query Optimization (Django ORM)",
        "Redis",
    ]
    docker = _cards().by_slug["docker"]
    assert f"- **Docker** (3 entries): {first_sentence(docker.summary)}" in technologies
    assert first_sentence(docker.summary).startswith("Docker packages an app")


def test_partners_are_named_only_when_credited() -> None:
    document = render_readme(rich_history(), community="X", generated_at=GENERATED)
    collaboration = document.split("## Collaboration")[1]
    assert "paired with Grace, a backend learner" in collaboration
    assert "paired with a frontend learner" in collaboration
    assert "(suggested by a frontend learner)" in document
    assert Partner(None, None).label() == "a fellow learner"


def test_challenges_carry_their_solution_error_and_date() -> None:
    document = render_readme(rich_history(), community="X", generated_at=GENERATED)
    first = document.split("### Challenge 1: ")[1].split("### Challenge 2")[0]
    assert first.startswith("IntegrityError when two users sign up with the same email\n")
    assert "_Logged 2026-11-02 · solved 2026-11-03 · Keys and Constraints, Django Models_" in first
    assert "**Error reported:** `IntegrityError`, `SQLSTATE 23505`" in first
    assert "**Solution implemented** (suggested by Grace, a backend learner):" in first
    assert "> ```python" in first
    fourth = document.split("### Challenge 4: ")[1].split("## ")[0]
    assert "not solved yet" in fourth
    assert "Solution" not in fourth


def test_user_text_is_inert_in_the_document() -> None:
    document = render_readme(rich_history(), community="X", generated_at=GENERATED)
    assert re.search(r"(?<!\\)<b>", document) is None
    assert "\\<b>sometimes\\</b>" in document
    assert "@everyone" not in document
    # The `[` escaped, no link forms: the address shows as written (GitHub may autolink it, visibly).
    assert "\\[the docs](https://evil.example/x)" in document
    assert "[" not in _prose(document.split("## Challenges")[1].split("## Solutions I Gave")[0])


def test_a_fence_that_is_no_fence_does_not_shield_html_or_links() -> None:
    # On one line (a title, a detail) ``` opens no code block; nor does a backtick fence whose info string holds one.
    assert inline("```js <b>x</b> [a](https://e)") == "```js \\<b>x\\</b> \\[a](https://e)"
    assert quoted("```a`b\n[a](https://e)") == "> ```a`b\n> \\[a](https://e)"
    # A real fence keeps its text as written, and a fence left open ends with the quote.
    assert quoted("```\n[a](b) <i>\n```\n[c](d)") == "> ```\n> [a](b) <i>\n> ```\n> \\[c](d)"


def test_error_labels_read_as_written() -> None:
    assert error_label("http502", "") == "HTTP 502"
    assert error_label("sqlstate23505", "") == "SQLSTATE 23505"
    assert error_label("integrityerror", "Got an IntegrityError: duplicate") == "IntegrityError"
    assert error_label("uniqueviolation", "duplicate key value violates unique constraint") is None


def test_entries_are_bounded_and_the_document_says_so() -> None:
    base = rich_history()
    long_body = "x" * 4000
    challenge = replace(base.challenges[0], solution=long_body, details="d" * 4000)
    many = replace(
        base,
        challenges=tuple(
            replace(challenge, id=n, created_at=DAY + timedelta(minutes=n)) for n in range(MAX_CHALLENGES)
        ),
        challenges_total=250,
        solutions=tuple(replace(base.solutions[0], challenge_id=n) for n in range(MAX_SOLUTIONS)),
        solutions_total=400,
    )
    document = render_readme(many, community="X", generated_at=GENERATED)
    assert "_The 30 most recent of my 250 challenges are shown here._" in document
    assert "_The 30 most recent of my 400 solutions are shown here._" in document
    assert long_body not in document
    assert len(document.encode()) < 200_000 < DISCORD_UPLOAD_LIMIT


def test_preview_embed_is_within_discord_limits() -> None:
    spec = readme_preview(rich_history())
    assert spec.problems() == []
    assert spec.total_length <= limits.EMBED_TOTAL
    assert spec.description.splitlines() == [
        "4 challenges (3 solved)",
        "3 solutions given (2 accepted)",
        "2 pairs",
        "3 study sessions",
    ]


def test_empty_history_is_empty() -> None:
    empty = replace(
        rich_history(),
        challenges=(),
        challenges_total=0,
        challenges_solved=0,
        solutions=(),
        solutions_total=0,
        solutions_accepted=0,
        topics=(),
        pairs=(),
        pairs_total=0,
        sessions=(),
        sessions_total=0,
        session_minutes=0,
    )
    assert empty.empty
    assert not rich_history().empty


# --- escaping, by property -----------------------------------------------------------------------------------------

# CommonMark's fences, as GitHub reads them (a backtick fence's info string holds no backtick).
_FENCE_OPEN = re.compile(r"^ {0,3}(?:(`{3,})[^`]*|(~{3,}).*)$")
_FENCE_CLOSE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")
_CODE_SPAN = re.compile(r"`(`*)[^`\n]*?(?<!`)`\1(?!`)")
_ESCAPED = re.compile(r"\\[\s\S]")
# The start of an HTML tag, comment, declaration or processing instruction as CommonMark reads it (`<https://…>`
# is an autolink, not a tag: a tag name holds no colon).
_RAW_TAG = re.compile(r"<(?:[A-Za-z][A-Za-z0-9-]*(?=[\s/>]|$)|/[A-Za-z]|!|\?)", re.MULTILINE)
_MENTION = re.compile(r"@(everyone|here)|<[@#][!&]?\d", re.IGNORECASE)


def _prose(markdown: str, *, block: bool = True) -> str:
    """What GitHub reads as Markdown prose: fenced blocks (only in a `block`: within a line ``` opens none), code
    spans and backslash escapes replaced by a placeholder, so that what stood on either side cannot join."""
    kept: list[str] = []
    fence: str | None = None
    for line in markdown.split("\n"):
        line = re.sub(r"^(> ?)+", "", line) if block else line
        if block and fence is None and (opening := _FENCE_OPEN.match(line)):
            fence = opening[1] or opening[2]
            continue
        if fence is not None:
            closing = _FENCE_CLOSE.match(line)
            if closing and closing[1][0] == fence[0] and len(closing[1]) >= len(fence):
                fence = None
            continue
        kept.append(_CODE_SPAN.sub("\x00", _ESCAPED.sub("\x00", line)))
    return "\n".join(kept)


_PIECES = st.sampled_from(
    [*"<>@#[]()`~!/\\&*_-=: \nabzAZ019", "everyone", "here", "script", "https://x.y", "```", "~~~"]
)
HOSTILE = st.lists(_PIECES, max_size=40).map("".join) | st.text(max_size=80)


@given(HOSTILE)
def test_no_user_text_yields_raw_html_a_mention_or_a_link(text: str) -> None:
    for rendered, prose in (
        (escape_user_text(text), _prose(escape_user_text(text))),
        (quoted(text, MAX_BODY), _prose(quoted(text, MAX_BODY))),
        (inline(text), _prose("x " + inline(text), block=False)),
    ):
        assert not _RAW_TAG.search(prose), rendered
        assert "[" not in prose, rendered  # no link, image or reference definition can open
        assert not _MENTION.search(rendered), rendered


@given(HOSTILE, HOSTILE)
def test_hostile_titles_and_solutions_cannot_open_sections(title: str, body: str) -> None:
    base = rich_history()
    challenge = replace(base.challenges[0], title=title or "t", details=body, solution=body)
    document = render_readme(
        replace(base, challenges=(challenge,), name=title or "n"), community=title, generated_at=GENERATED
    )
    assert _headings(document) == _headings(
        render_readme(replace(base, challenges=(base.challenges[0],)), community="X", generated_at=GENERATED)
    )
    prose = _prose(document)
    assert not _RAW_TAG.search(prose)
    assert not _MENTION.search(document)
