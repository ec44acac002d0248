"""The challenge post parser: every accepted form, the seeds' own text, non-posts, limits and free text."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.challenges.parsing import (
    MAX_DETAILS,
    MAX_SOLUTION,
    MAX_TITLE,
    NO_TEXT_MESSAGE,
    ParsedChallenge,
    ParsedPost,
    ParsedSolution,
    clean_text,
    optional,
    parse_message,
    parse_post,
    parse_solution,
    required,
    split_title,
)
from bot.core.errors import InvalidInputError

ELLIPSIS = "…"
EN_DASH = "\u2013"
EM_DASH = "\u2014"
# The seeds' em dash: its UTF-8 bytes once read as Mac Roman; and the same read as Windows-1252.
SEED_DASH = "\u201a\u00c4\u00ee"
CP1252_DASH = "\u00e2\u20ac\u201d"
TITLE_EDGES = "*_#>-"

# Copied from the seeds (trailing double spaces, indentation and the mis-decoded dash, spelt as SEED_DASH).
SEED_000_ENVIRONMENT = (
    "- **Environment Configuration Issues**  \n"
    "  *Challenge:* Managing dependencies across different environments  \n"
    "  *Solution:* Used virtual environments and Docker to isolate and standardize setups\n"
)
SEED_000_DATABASE = (
    "- **Database Performance Bottlenecks**  \n"
    "  *Challenge:* Slow queries with increasing data volume  \n"
    "  *Solution:* Applied indexing, optimized querysets, and pagination\n"
)
SEED_000_AUTH = (
    "- **Authentication and Authorization Complexity**  \n"
    "  *Challenge:* Securing endpoints correctly  \n"
    "  *Solution:* Implemented Django authentication, permissions, and token-based access control\n"
)
SEED_000_DEPLOYMENT = (
    "- **Deployment and Containerization**  \n"
    "  *Challenge:* Ensuring consistent behavior across systems  \n"
    "  *Solution:* Leveraged Docker and Docker Compose for reproducible deployments\n"
)
SEED_001_DATABASE = (
    "### Challenge 1: Database Performance Optimization\n"
    "**Problem**: Slow query performance with large datasets affecting API response times.\n"
    "\n"
    "**Solution Implemented**:\n"
    "- Implemented database indexing on frequently queried fields\n"
    "- Used Django's `select_related()` and `prefetch_related()` to reduce N+1 queries\n"
    "- Added query result caching using Redis\n"
    "- **Result**: Reduced average API response time from 2.5s to 300ms\n"
)
SEED_001_DATABASE_SOLUTION = (
    "- Implemented database indexing on frequently queried fields\n"
    "- Used Django's `select_related()` and `prefetch_related()` to reduce N+1 queries\n"
    "- Added query result caching using Redis\n"
    "- **Result**: Reduced average API response time from 2.5s to 300ms"
)
SEED_001_ARCHITECTURE = (
    "### Challenge 2: Scalable API Architecture\n"
    "**Problem**: Monolithic API structure becoming difficult to maintain and scale.\n"
    "\n"
    "**Solution Implemented**:\n"
    "- Refactored codebase into microservices architecture using Docker\n"
    "- Implemented API gateway pattern for request routing\n"
    "- Used message queues (Celery + Redis) for asynchronous task processing\n"
    "- **Result**: Improved system modularity and reduced deployment complexity\n"
)
SEED_004_DATABASE = (
    f"#### Challenge 1 {SEED_DASH} Complex Database Relationships\n"
    "**Solution:** Broke the schema into modular entities, used foreign keys, and created ERDs to visualize "
    "relationships clearly.\n"
)
SEED_004_AUTHENTICATION = (
    f"#### Challenge 2 {SEED_DASH} Managing Authentication\n"
    "**Solution:** Used JWT authentication, DRF permissions, and role-based access control.\n"
)
ISSUE_EXAMPLE = "Challenge: slow queries on large tables. Solution: indexes, select_related, pagination, Redis caching."


def assert_valid(post: ParsedPost) -> None:
    """Every shape promise of ParsedPost: lengths, one-line title without dangling markup, clean text."""
    assert 1 <= len(post.title) <= MAX_TITLE
    assert "\n" not in post.title
    for edge in (post.title[0], post.title[-1]):
        assert edge not in TITLE_EDGES
        assert not edge.isspace()
    assert 0 <= len(post.details) <= MAX_DETAILS
    if post.solution is not None:
        assert 1 <= len(post.solution) <= MAX_SOLUTION
        assert post.solution.strip()
    for part in (post.title, post.details, post.solution or ""):
        assert clean_text(part) == part.strip("\n") or part.endswith(ELLIPSIS)
        assert "\u200b" not in part
        assert "\u202e" not in part


# --- clean_text -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Chal\u200blenge\u200c: x\u200d\u2060\ufeff", "Challenge: x"),
        ("\u202aa\u202bb\u202cc\u202dd\u202ee\u2066f\u2067g\u2068h\u2069i\u200ej\u200fk\u061cl", "abcdefghijkl"),
        ("bell\x07 nul\x00 del\x7f c1\x9b", "bell nul del c1"),
        ("tab\tkept\nnewline kept", "tab\tkept\nnewline kept"),
        ("windows\r\nold mac\rline\u2028para\u2029end", "windows\nold mac\nline\npara\nend"),
        ("cafe\u0301", "café"),
        ("e\u200b\u0301", "é"),
        ("trailing   \nspaces\t\n", "trailing\nspaces"),
        ("\n\n  \n  indented first\n\nlast\n\n \n", "  indented first\n\nlast"),
        ("", ""),
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_clean_text_keeps_visible_text_of_every_script() -> None:
    text = "😀 👍🏽 日本語 مرحبا Привет हिन्दी עברית 🇳🇬 ✔️"
    assert clean_text(text) == text


def test_clean_text_keeps_emoji_joined_by_zero_width_joiners() -> None:
    technologist = "\U0001f469\u200d\U0001f4bb"  # woman technologist, one picture
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert clean_text(f"{technologist} {family}") == f"{technologist} {family}"
    assert clean_text("ab\u200dcd") == "abcd"


# --- parse_post: the accepted forms -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Challenge: slow queries",
        "challenge : slow queries",
        "CHALLENGE: slow queries",
        "cHaLlEnGe:slow queries",
        "**Challenge:** slow queries",
        "**Challenge**: slow queries",
        "*Challenge:* slow queries",
        "*Challenge*: slow queries",
        "__Challenge__: slow queries",
        "_Challenge:_ slow queries",
        "***Challenge:*** slow queries",
        "**Challenge: slow queries**",
        "- Challenge: slow queries",
        "* Challenge: slow queries",
        "- **Challenge:** slow queries",
        "> Challenge: slow queries",
        ">>> **Challenge:** slow queries",
        "   Challenge: slow queries",
        "Problem: slow queries",
        "**Problem**: slow queries",
        "Challenge 2: slow queries",
        "Challenge:\nslow queries",
        "\n\n**Challenge:**\n\n  slow queries  \n\n",
    ],
)
def test_marker_forms(text: str) -> None:
    post = parse_post(text)
    assert post == ParsedPost(title="slow queries", details="slow queries", solution=None)


@pytest.mark.parametrize(
    "text",
    [
        "Challenge: slow queries\nSolution: add indexes",
        "Challenge: slow queries\n\nsolution : add indexes",
        "**Challenge:** slow queries\n**Solution:** add indexes",
        "*Challenge:* slow queries\n*Solution:* add indexes",
        "*Challenge:* slow queries  \n  *Solution:* add indexes",
        "Challenge: slow queries\n**Solution**: add indexes",
        "Challenge: slow queries\n__Solution__: add indexes",
        "Challenge: slow queries\n- Solution: add indexes",
        "Challenge: slow queries\n> Solution: add indexes",
        "Challenge: slow queries\nSOLUTION: add indexes",
        "Challenge: slow queries\nSolution Implemented: add indexes",
        "Challenge: slow queries\nFix: add indexes",
        "Challenge: slow queries\nAnswer: add indexes",
        "Challenge: slow queries\nSolution:\nadd indexes",
        "Challenge: slow queries\n*Solution: add indexes*",
        "Challenge: slow queries. Solution: add indexes",
        "Challenge: slow queries.  Fix: add indexes",
        "Challenge: slow queries **Solution:** add indexes",
        "**Challenge: slow queries. Solution: add indexes**",
    ],
)
def test_challenge_with_solution(text: str) -> None:
    post = parse_post(text)
    assert post is not None
    assert post.title == "slow queries"
    assert post.details.rstrip(".!") == "slow queries"
    assert post.solution == "add indexes"


def test_the_issues_example_inline() -> None:
    assert parse_post(ISSUE_EXAMPLE) == ParsedPost(
        title="slow queries on large tables",
        details="slow queries on large tables.",
        solution="indexes, select_related, pagination, Redis caching.",
    )


def test_solution_keeps_its_markdown_bullets() -> None:
    post = parse_post("Challenge: deploys fail\nSolution:\n- pin versions\n  - in requirements.txt\n- rebuild")
    assert post is not None
    assert post.solution == "- pin versions\n  - in requirements.txt\n- rebuild"


def test_multiline_challenge_is_the_details_and_its_first_line_the_title() -> None:
    text = "Challenge: Celery tasks never run\nThe worker starts.\nThe queue stays full.\nFix: set the broker URL"
    post = parse_post(text)
    assert post == ParsedPost(
        title="Celery tasks never run",
        details="Celery tasks never run\nThe worker starts.\nThe queue stays full.",
        solution="set the broker URL",
    )


def test_title_is_the_first_sentence() -> None:
    post = parse_post("Challenge: My migrations fail on deploy. They work locally. Any idea?")
    assert post is not None
    assert post.title == "My migrations fail on deploy"
    assert post.details == "My migrations fail on deploy. They work locally. Any idea?"


def test_a_short_greeting_is_not_the_title() -> None:
    post = parse_post("Challenge: Hi all. My migrations fail on deploy. Any idea?")
    assert post is not None
    assert post.title == "Hi all. My migrations fail on deploy"


def test_a_lowercase_word_after_a_period_does_not_end_the_title() -> None:
    post = parse_post("Challenge: queries e.g. on the users table are slow")
    assert post is not None
    assert post.title == "queries e.g. on the users table are slow"


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Challenge: **slow** queries", "slow queries"),
        ("Challenge: __init__ runs twice", "init runs twice"),
        ("Challenge: `select_related` is ignored", "select_related is ignored"),
        ("Challenge: - - slow queries -", "slow queries"),
        ("Challenge: > quoted > ", "quoted"),
        ("Challenge: 1. first step fails", "first step fails"),
        ("Challenge:\n```\nIntegrityError: duplicate key\n```", "IntegrityError: duplicate key"),
    ],
)
def test_markup_is_stripped_from_titles_and_kept_in_details(text: str, title: str) -> None:
    post = parse_post(text)
    assert post is not None
    assert post.title == title
    assert_valid(post)


def test_details_keep_markdown_as_written() -> None:
    post = parse_post("**Challenge:** **slow queries** on `orders`")
    assert post is not None
    assert post.details == "**slow queries** on `orders`"
    assert post.title == "slow queries on orders"


def test_solution_markers_inside_code_are_not_the_solution() -> None:
    text = "Challenge: the build log says\n```\nFix: run migrate. Answer: no\n```\nand `Solution:` too\nFix: migrate"
    post = parse_post(text)
    assert post is not None
    assert post.details == "the build log says\n```\nFix: run migrate. Answer: no\n```\nand `Solution:` too"
    assert post.solution == "migrate"


def test_a_word_ending_in_solution_is_not_a_marker() -> None:
    post = parse_post("Challenge: the resolution: 1080p breaks the layout")
    assert post is not None
    assert post.solution is None
    assert post.details == "the resolution: 1080p breaks the layout"


# --- the heading form -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "heading",
    [
        "## Challenge: Slow queries",
        "# Challenge: Slow queries",
        "#### Challenge: Slow queries",
        "### Challenge 1: Slow queries",
        f"### Challenge 1 {EM_DASH} Slow queries",
        f"### Challenge 1 {EN_DASH} Slow queries",
        "### Challenge 1 - Slow queries",
        f"### Challenge {EM_DASH} Slow queries",
        "### **Challenge 1:** Slow queries",
        "### challenge 1: Slow queries ###",
        f"#### Challenge 1 {SEED_DASH} Slow queries",
        f"#### Challenge 1 {CP1252_DASH} Slow queries",
    ],
)
def test_heading_forms(heading: str) -> None:
    post = parse_post(f"{heading}\nThe orders page takes five seconds.\nSolution: an index on created_at")
    assert post == ParsedPost(
        title="Slow queries",
        details="The orders page takes five seconds.",
        solution="an index on created_at",
    )


def test_bare_heading_takes_its_title_from_the_body() -> None:
    post = parse_post("## Challenge\nThe orders page takes five seconds.\n\n**Fix:** an index")
    assert post == ParsedPost(
        title="The orders page takes five seconds",
        details="The orders page takes five seconds.",
        solution="an index",
    )


def test_a_problem_line_in_the_heading_body_is_the_details() -> None:
    post = parse_post("## Challenge 3: CORS\nChallenge: the browser blocks every request\nSolution: allow origin")
    assert post == ParsedPost(title="CORS", details="the browser blocks every request", solution="allow origin")


def test_heading_section_ends_at_the_next_heading_of_its_level() -> None:
    text = (
        "### Challenge 1: Slow queries\n**Problem**: five seconds\n**Solution**: an index\n"
        "#### Detail\nstill the solution\n"
        "```python\n# a comment, not a heading\n```\n"
        "### Challenge 2: Flaky tests\n**Problem**: random failures\n"
    )
    post = parse_post(text)
    assert post is not None
    assert post.details == "five seconds"
    assert post.solution == ("an index\n#### Detail\nstill the solution\n```python\n# a comment, not a heading\n```")


@pytest.mark.parametrize(
    "text",
    ["## Challenge", "## Challenge:", "## Challenge\n\n", "## Challenge\nSolution: only a solution"],
)
def test_heading_without_any_challenge_text_is_ignored(text: str) -> None:
    assert parse_post(text) is None


@pytest.mark.parametrize(
    "text",
    ["## Challenges Faced and Solutions Implemented", "## Challenge-based learning", "## Challenge accepted"],
)
def test_other_headings_are_not_posts(text: str) -> None:
    assert parse_post(f"{text}\nSome text about it.") is None


# --- the seeds' own layout --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            SEED_000_ENVIRONMENT,
            ParsedPost(
                title="Environment Configuration Issues",
                details="Managing dependencies across different environments",
                solution="Used virtual environments and Docker to isolate and standardize setups",
            ),
        ),
        (
            SEED_000_DATABASE,
            ParsedPost(
                title="Database Performance Bottlenecks",
                details="Slow queries with increasing data volume",
                solution="Applied indexing, optimized querysets, and pagination",
            ),
        ),
        (
            SEED_000_AUTH,
            ParsedPost(
                title="Authentication and Authorization Complexity",
                details="Securing endpoints correctly",
                solution="Implemented Django authentication, permissions, and token-based access control",
            ),
        ),
        (
            SEED_000_DEPLOYMENT,
            ParsedPost(
                title="Deployment and Containerization",
                details="Ensuring consistent behavior across systems",
                solution="Leveraged Docker and Docker Compose for reproducible deployments",
            ),
        ),
        (
            SEED_001_DATABASE,
            ParsedPost(
                title="Database Performance Optimization",
                details="Slow query performance with large datasets affecting API response times.",
                solution=SEED_001_DATABASE_SOLUTION,
            ),
        ),
        (
            SEED_001_ARCHITECTURE,
            ParsedPost(
                title="Scalable API Architecture",
                details="Monolithic API structure becoming difficult to maintain and scale.",
                solution=(
                    "- Refactored codebase into microservices architecture using Docker\n"
                    "- Implemented API gateway pattern for request routing\n"
                    "- Used message queues (Celery + Redis) for asynchronous task processing\n"
                    "- **Result**: Improved system modularity and reduced deployment complexity"
                ),
            ),
        ),
        (
            SEED_004_DATABASE,
            ParsedPost(
                title="Complex Database Relationships",
                details="Complex Database Relationships",
                solution=(
                    "Broke the schema into modular entities, used foreign keys, and created ERDs to "
                    "visualize relationships clearly."
                ),
            ),
        ),
        (
            SEED_004_AUTHENTICATION,
            ParsedPost(
                title="Managing Authentication",
                details="Managing Authentication",
                solution="Used JWT authentication, DRF permissions, and role-based access control.",
            ),
        ),
    ],
)
def test_seed_snippets(text: str, expected: ParsedPost) -> None:
    assert parse_post(text) == expected


def test_seed_004_with_a_real_em_dash() -> None:
    post = parse_post(SEED_004_DATABASE.replace(SEED_DASH, EM_DASH))
    assert post is not None
    assert post.title == "Complex Database Relationships"


def test_seed_000_without_the_bullet_or_trailing_spaces() -> None:
    post = parse_post("**Environment Configuration Issues**\n*Challenge:* Managing dependencies")
    assert post == ParsedPost(title="Environment Configuration Issues", details="Managing dependencies", solution=None)


def test_a_heading_title_line_before_a_challenge_line() -> None:
    post = parse_post("## Docker networking\n\n**Challenge:** containers cannot reach the database")
    assert post == ParsedPost(title="Docker networking", details="containers cannot reach the database", solution=None)


def test_a_bold_title_needs_a_challenge_line_after_it() -> None:
    assert parse_post("**Environment Configuration Issues**\nJust some notes.") is None
    assert parse_post("**Environment Configuration Issues**") is None
    assert parse_post("**Title**\n*Challenge:*   \n*Solution:* something") is None


# --- non-posts --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t\n",
        "I have a challenge: my tests are flaky",
        "Solution: x",
        "**Solution:** add an index\nChallenge: slow queries",
        "Challenge:",
        "Challenge:   ",
        "**Challenge:**",
        "Challenge:\n\n   \n",
        "Challenge: \u200b\u200b",
        "Challenge:\nSolution: add an index",
        "Challenges are hard",
        "Challenges: many",
        "Challenged: yes",
        "Challenge accepted",
        "Today's challenge: none",
        "`Challenge:` is the marker",
        "Challenge: ***",
        "Hello\nChallenge: slow queries",
    ],
)
def test_non_posts(text: str) -> None:
    assert parse_post(text) is None


def test_empty_solution_part_gives_no_solution() -> None:
    for text in (
        "Challenge: slow queries\nSolution:",
        "Challenge: slow queries. Solution:   ",
        "Challenge: x\nFix:\n\n",
    ):
        post = parse_post(text)
        assert post is not None
        assert post.solution is None


# --- hidden characters and limits -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Chal\u200blenge: slow queries",
        "\u202eChallenge: slow queries",
        "\ufeff**Chall\u2060enge\u200d:** slow queries",
        "\u2067Challenge\u2069: slow\u200b queries\u200e",
        "Challenge: slow queries\r\n",
    ],
)
def test_hidden_characters_in_the_marker(text: str) -> None:
    assert parse_post(text) == ParsedPost(title="slow queries", details="slow queries", solution=None)


def test_hidden_characters_in_the_solution_marker() -> None:
    post = parse_post("Challenge: slow queries\nSolu\u200btion\u202e: an index")
    assert post is not None
    assert post.solution == "an index"


def test_non_latin_text_survives() -> None:
    post = parse_post("Challenge: Запросы медленные 🐢\nSolution: 添加索引 ✅")
    assert post == ParsedPost(title="Запросы медленные 🐢", details="Запросы медленные 🐢", solution="添加索引 ✅")


def test_a_4000_character_post_is_cut_within_the_limits() -> None:
    challenge = " ".join(f"word{index}" for index in range(800))
    solution = "fix " * 1200
    text = f"Challenge: {challenge}\nSolution: {solution}"
    assert len(text) > 4000
    post = parse_post(text)
    assert post is not None
    assert_valid(post)
    assert len(post.title) == MAX_TITLE or post.title.endswith(ELLIPSIS)
    assert post.title.startswith("word0 word1 ")
    assert post.title.endswith(ELLIPSIS)
    assert post.title[:-1].split()[-1] in challenge.split()  # cut at a word boundary
    assert len(post.details) <= MAX_DETAILS
    assert post.details.endswith(ELLIPSIS)
    assert post.details[:-1] == challenge[: len(post.details) - 1]
    assert post.solution is not None
    assert len(post.solution) <= MAX_SOLUTION
    assert post.solution.endswith(ELLIPSIS)


def test_a_long_title_without_spaces_is_cut_hard() -> None:
    post = parse_post("Challenge: " + "x" * 300)
    assert post is not None
    assert post.title == "x" * (MAX_TITLE - 1) + ELLIPSIS
    assert post.details == "x" * 300


def test_an_explicit_long_title_is_cut() -> None:
    post = parse_post("## Challenge: " + "long title " * 20 + "\nbody")
    assert post is not None
    assert len(post.title) <= MAX_TITLE
    assert post.title.endswith("title" + ELLIPSIS) or post.title.endswith("long" + ELLIPSIS)
    assert post.details == "body"


# --- parse_solution ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Solution: add an index",
        "solution : add an index",
        "**Solution:** add an index",
        "**Solution**: add an index",
        "*Solution:* add an index",
        "_Solution:_ add an index",
        "__Solution__: add an index",
        "**Solution: add an index**",
        "- Solution: add an index",
        "> Solution: add an index",
        "SOLUTION: add an index",
        "Solution Implemented: add an index",
        "Fix: add an index",
        "Answer: add an index",
        "Solution:\n\nadd an index\n",
        "Solu\u200btion: add an index",
        "\u202eSolution: add an index",
    ],
)
def test_parse_solution_forms(text: str) -> None:
    assert parse_solution(text) == "add an index"


def test_parse_solution_keeps_the_whole_body() -> None:
    assert parse_solution("Fix:\n- pin versions\n- rebuild the image") == "- pin versions\n- rebuild the image"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Solution:",
        "Solution:   \n\n",
        "**Solution:**",
        "Thanks! Solution: none",
        "I found the solution: indexes",
        "Solutionist: no",
        "Challenge: slow\nSolution: index",
        "add an index",
    ],
)
def test_parse_solution_rejects(text: str) -> None:
    assert parse_solution(text) is None


def test_parse_solution_cuts_long_bodies() -> None:
    solution = parse_solution("Solution: " + "index " * 1000)
    assert solution is not None
    assert len(solution) <= MAX_SOLUTION
    assert solution.endswith("index" + ELLIPSIS)


# --- split_title ------------------------------------------------------------------------------------------


def test_split_title_of_an_ordinary_message() -> None:
    text = "My Celery worker never picks up tasks. I restarted it twice.\nAny idea?"
    assert split_title(text) == (
        "My Celery worker never picks up tasks",
        "My Celery worker never picks up tasks. I restarted it twice.\nAny idea?",
    )


def test_split_title_of_a_challenge_post_uses_its_title_and_details() -> None:
    assert split_title(SEED_000_ENVIRONMENT) == (
        "Environment Configuration Issues",
        "Managing dependencies across different environments",
    )
    assert split_title(ISSUE_EXAMPLE) == ("slow queries on large tables", "slow queries on large tables.")


def test_split_title_cuts_a_long_first_line_at_a_word_boundary() -> None:
    text = "why " * 60 + "\nsecond line"
    title, details = split_title(text)
    assert title == ("why " * 25).strip() + ELLIPSIS
    assert details == clean_text(text)


def test_split_title_cuts_long_details() -> None:
    title, details = split_title("a " * 3000)
    assert len(details) == MAX_DETAILS
    assert details.endswith(ELLIPSIS)
    assert title.endswith(ELLIPSIS)


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t\n", "\u200b\u200c\u202e\ufeff", "\x00\x07", "```\n```"])
def test_split_title_without_visible_text_raises(text: str) -> None:
    with pytest.raises(ValueError, match=NO_TEXT_MESSAGE):
        split_title(text)


# --- any text ---------------------------------------------------------------------------------------------

# Fragments that reach the parser's branches far more often than uniformly random text does.
FRAGMENTS = st.sampled_from(
    [
        "Challenge",
        "challenge",
        "Problem",
        "Solution",
        "Solution Implemented",
        "Fix",
        "Answer",
        ":",
        " : ",
        "*",
        "**",
        "_",
        "__",
        "#",
        "## ",
        "- ",
        "> ",
        "1",
        f" {EM_DASH} ",
        SEED_DASH,
        ".",
        ". ",
        "\n",
        "\r\n",
        "  ",
        "\t",
        "```",
        "`",
        "x",
        "slow queries",
        "é",
        "\u0301",
        "\u200b",
        "\u200d",
        "\u202e",
        "\U0001f469",
        "\x00",
    ]
)
MARKDOWNISH = st.lists(FRAGMENTS, max_size=40).map("".join)
ANY_TEXT = st.one_of(st.text(), MARKDOWNISH, st.text(alphabet=st.characters(codec=None), max_size=50))


@settings(max_examples=400)
@given(ANY_TEXT)
def test_parse_post_on_any_text(text: str) -> None:
    post = parse_post(text)
    if post is not None:
        assert_valid(post)


@settings(max_examples=400)
@given(ANY_TEXT)
def test_parse_solution_on_any_text(text: str) -> None:
    solution = parse_solution(text)
    if solution is not None:
        assert 1 <= len(solution) <= MAX_SOLUTION
        assert solution.strip()


@settings(max_examples=400)
@given(ANY_TEXT)
def test_clean_text_on_any_text(text: str) -> None:
    cleaned = clean_text(text)
    assert clean_text(cleaned) == cleaned
    assert unicodedata.is_normalized("NFC", cleaned)
    assert "\r" not in cleaned
    assert not cleaned.startswith("\n")
    assert not cleaned.endswith(("\n", " ", "\t"))
    assert all(char in "\n\t" or unicodedata.category(char) not in ("Cc", "Cs") for char in cleaned)


@settings(max_examples=400)
@given(ANY_TEXT)
def test_split_title_on_any_text(text: str) -> None:
    try:
        title, details = split_title(text)
    except ValueError as error:
        refusal: str | None = str(error)
    else:
        refusal = None
        assert_valid(ParsedPost(title=title, details=details, solution=None))
        assert details.strip()
    assert refusal in (None, NO_TEXT_MESSAGE)


# --- a watched channel's message, checked ------------------------------------------------------------------


class _Topics:
    """Infers a topic from a word in the text, as the topic matcher does from a card's names."""

    def __init__(self, *known: str) -> None:
        self.known = known

    def infer(self, text: str) -> list[str]:
        return [slug for slug in self.known if slug in text.lower()]


def test_a_challenge_post_is_checked_and_gets_its_topics_and_error_terms() -> None:
    parsed = parse_message(
        "Challenge: docker compose fails\nIt raises IntegrityError on start.\n\nSolution: pin the image",
        answers=False,
        matcher=_Topics("docker", "redis"),
    )
    assert parsed == ParsedChallenge(
        title="docker compose fails",
        details="docker compose fails\nIt raises IntegrityError on start.",
        solution="pin the image",
        error_terms="integrityerror",
        topics=("docker",),
    )


def test_a_solution_counts_only_when_it_answers_a_message() -> None:
    assert parse_message("Solution: restart the worker", answers=True, matcher=_Topics()) == ParsedSolution(
        "restart the worker"
    )
    assert parse_message("Solution: restart the worker", answers=False, matcher=_Topics()) is None
    assert parse_message("just chatting", answers=True, matcher=_Topics()) is None


def test_a_part_past_its_limit_is_refused_with_what_to_do() -> None:
    with pytest.raises(InvalidInputError, match=r"the limit is 4,000\. Shorten it"):
        required("x" * (MAX_SOLUTION + 1), "solution", MAX_SOLUTION)
    # A post's parts are cut to the limits before they are checked: a long post is logged, not refused.
    parsed = parse_message("Challenge: a long one\n\nSolution: " + "x" * (MAX_SOLUTION + 1), False, _Topics())
    assert isinstance(parsed, ParsedChallenge)
    assert parsed.solution is not None
    assert len(parsed.solution) == MAX_SOLUTION


def test_required_and_optional_say_what_is_missing() -> None:
    with pytest.raises(InvalidInputError, match="The title is empty"):
        required(" \u200b ", "title", MAX_TITLE)
    assert optional("\u200b", "details", MAX_DETAILS) is None
    assert optional(None, "details", MAX_DETAILS) is None
    assert required("  ok  ", "title", MAX_TITLE) == "ok"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.booleans())
def test_any_message_is_a_checked_post_a_solution_nothing_or_a_clear_refusal(content: str, answers: bool) -> None:
    try:
        parsed = parse_message(content, answers, _Topics("docker"))
    except InvalidInputError as error:
        refusal = str(error)
        assert "try again" in refusal  # any refusal says what to do
        return
    if isinstance(parsed, ParsedChallenge):
        assert 0 < len(parsed.title) <= MAX_TITLE
        assert len(parsed.details) <= MAX_DETAILS
        assert parsed.solution is None or 0 < len(parsed.solution) <= MAX_SOLUTION
        assert clean_text(parsed.title) == parsed.title
        assert len(parsed.topics) <= 5
    elif isinstance(parsed, ParsedSolution):
        assert answers
    else:
        assert parsed is None


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=200).filter(lambda text: clean_text(text).strip() != ""))
def test_a_challenge_line_with_words_is_always_a_challenge(title: str) -> None:
    try:
        parsed = parse_message(f"Challenge: {title}", answers=False, matcher=_Topics())
    except InvalidInputError:
        return  # a title the parser cut to nothing visible (only markup) is refused, never half-stored
    assert parsed is None or isinstance(parsed, ParsedChallenge)
