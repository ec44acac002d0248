"""The "Challenges & Solutions" export: Markdown structure, neutralised user text, CSV round trips."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.challenges.export import (
    CSV_HEADER,
    ZERO_WIDTH_SPACE,
    CsvExport,
    ExportChallenge,
    ExportSolution,
    ExportTooLarge,
    MarkdownExport,
    neutralise,
    render_csv,
    render_markdown,
)

GENERATED = datetime(2024, 6, 1, 12, 30, tzinfo=UTC)
DAY = timedelta(days=1)
START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def _challenge(
    id: int,
    title: str = "A challenge",
    *,
    topics: tuple[str, ...] = (),
    details: str = "Something does not work.",
    tried: str | None = None,
    author: str = "Ada",
    status: str = "open",
    created_at: datetime = START,
    solutions: tuple[ExportSolution, ...] = (),
) -> ExportChallenge:
    return ExportChallenge(id, title, details, tried, author, status, created_at, topics, solutions)


def _markdown(challenges: list[ExportChallenge], community: str = "ALX ProDev") -> str:
    return "".join(render_markdown(challenges, community=community, generated_at=GENERATED))


def _rows(challenges: list[ExportChallenge]) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(render_csv(challenges)), newline="")))


def _headings(document: str) -> list[str]:
    """Headings as a CommonMark reader sees them, fenced code skipped; `===`/`---` under text count too."""
    headings: list[str] = []
    fence: str | None = None
    previous = ""
    for line in document.split("\n"):
        if fence is not None:
            closing = re.match(r" {0,3}(`{3,}|~{3,})[ \t]*$", line)
            if closing and closing[1][0] == fence[0] and len(closing[1]) >= len(fence):
                fence = None
            line = ""
        elif opening := re.match(r" {0,3}(?:(`{3,})[^`]*|(~{3,}).*)$", line):
            fence = opening[1] or opening[2]
            line = ""
        elif re.match(r" {0,3}(?:>[ ]{0,4})*#{1,6}(?:[ \t]|$)", line):
            headings.append(line.strip())
        elif previous.strip() and re.match(r" {0,3}(?:=+|-+)[ \t]*$", line):
            headings.append(f"setext heading: {previous.strip()}")
        previous = line
    assert fence is None, "the document ends inside a code fence"
    return headings


def _section(document: str, heading: str) -> str:
    """The text under `heading` up to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = document.index(heading + "\n")
    rest = document[start + len(heading) + 1 :]
    ends = [m.start() for m in re.finditer(rf"^#{{1,{len(level)}}} ", rest, re.MULTILINE)]
    return rest[: ends[0]] if ends else rest


# --- Markdown structure --------------------------------------------------------------------------------

SAMPLE = [
    _challenge(
        3,
        "Slow queries on large tables",
        topics=("Query Optimization", "Django ORM"),
        details="The listing page makes 300 queries.",
        tried="Adding an index.",
        status="solved",
        created_at=START + 2 * DAY,
        solutions=(
            ExportSolution("Bob", "Cache the whole page.", accepted=False),
            ExportSolution("Grace", "select_related('author') and pagination.", accepted=True),
        ),
    ),
    _challenge(1, "Migrations conflict", topics=("Django ORM",), created_at=START),
    _challenge(2, "Docker build fails", created_at=START + DAY, author="Linus"),
    _challenge(4, "Which broker?", topics=("Celery",), created_at=START + 3 * DAY),
]


def test_document_heads_with_title_community_and_generation_time() -> None:
    document = _markdown(SAMPLE)
    lines = document.split("\n")
    assert lines[0] == "# Challenges & Solutions"
    assert "ALX ProDev" in document.split("## Contents")[0]
    assert "2024-06-01 12:30 UTC" in document.split("## Contents")[0]
    assert "4 challenges, 1 solved." in document


def test_topics_are_sections_in_alphabetical_order_with_general_last() -> None:
    headings = [h for h in _headings(_markdown(SAMPLE)) if h.startswith("## ")]
    assert headings == ["## Contents", "## Celery", "## Django ORM", "## Query Optimization", "## General"]


def test_contents_lists_every_topic_with_its_count_and_anchor() -> None:
    contents = _section(_markdown(SAMPLE), "## Contents")
    assert contents.strip().split("\n") == [
        "- [Celery](#celery) (1)",
        "- [Django ORM](#django-orm) (2)",
        "- [Query Optimization](#query-optimization) (1)",
        "- [General](#general) (1)",
    ]


def test_a_challenge_with_several_topics_appears_once_under_its_first_topic() -> None:
    document = _markdown(SAMPLE)
    assert document.count("### #3 Slow queries on large tables") == 1
    assert [h for h in _headings(_section(document, "## Query Optimization")) if h.startswith("### ")] == [
        "### #3 Slow queries on large tables"
    ]
    django = _section(document, "## Django ORM")
    assert [h for h in _headings(django) if h.startswith("### ")] == ["### #1 Migrations conflict"]
    # Its other topics point to it rather than repeating it.
    assert "- #3 Slow queries on large tables (under Query Optimization)" in django
    assert "**Also about:** Django ORM" in _section(document, "### #3 Slow queries on large tables")
    assert _headings(_section(document, "## General")) == ["### #2 Docker build fails"]


def test_every_challenge_appears_exactly_once() -> None:
    many = [
        _challenge(
            number, f"Challenge {number}", topics=tuple(["Docker", "Celery", "Redis", "Django ORM"][: number % 5])
        )
        for number in range(1, 41)
    ]
    entries = [h for h in _headings(_markdown(many)) if h.startswith("### ")]
    assert sorted(entries) == sorted(f"### #{number} Challenge {number}" for number in range(1, 41))


def test_a_lead_topic_gathers_its_challenges_in_its_own_section() -> None:
    document = "".join(
        render_markdown(
            SAMPLE, community="X", generated_at=GENERATED, lead_topic="Django ORM", scope="About Django ORM."
        )
    )
    django = _section(document, "## Django ORM")
    assert [h for h in _headings(django) if h.startswith("### ")] == [
        "### #3 Slow queries on large tables",
        "### #1 Migrations conflict",
    ]
    assert "- #3 Slow queries on large tables (under Django ORM)" in _section(document, "## Query Optimization")
    assert "About Django ORM." in document.split("## Contents")[0]


def test_an_empty_filtered_export_says_nothing_matched() -> None:
    document = "".join(render_markdown([], community="X", generated_at=GENERATED, scope="Only solved challenges."))
    assert "No challenge matches: Only solved challenges." in document


def test_markdown_export_into_a_file_matches_the_rendered_text() -> None:
    out = io.BytesIO()
    size = MarkdownExport(out, community="ALX ProDev", generated_at=GENERATED).write(SAMPLE)
    assert out.getvalue().decode() == _markdown(SAMPLE)
    assert size == len(out.getvalue())


@pytest.mark.parametrize("kind", ["markdown", "csv"])
def test_an_export_stops_at_the_limit_without_reading_further(kind: str) -> None:
    consumed: list[int] = []

    def stream() -> Iterator[ExportChallenge]:
        for number in range(1, 1001):
            consumed.append(number)
            yield _challenge(number, details="x" * 1000, topics=("Docker",))

    out = io.BytesIO()
    export = (
        MarkdownExport(out, community="X", generated_at=GENERATED, limit=20_000)
        if kind == "markdown"
        else CsvExport(out, limit=20_000)
    )
    with pytest.raises(ExportTooLarge) as raised:
        export.write(stream())
    assert raised.value.limit == 20_000
    assert 10 <= raised.value.exported < 20
    assert len(consumed) < 25  # it stopped reading: the rest was never rendered
    assert len(out.getvalue()) <= 20_000


@pytest.mark.parametrize("kind", ["markdown", "csv"])
def test_an_export_exactly_at_the_limit_is_written_whole(kind: str) -> None:
    challenges = [_challenge(number, details="y" * 500, topics=("Docker",)) for number in range(1, 6)]
    whole = io.BytesIO()
    make = (
        (lambda out, limit: MarkdownExport(out, community="X", generated_at=GENERATED, limit=limit))
        if kind == "markdown"
        else (lambda out, limit: CsvExport(out, limit=limit))
    )
    size = make(whole, None).write(challenges)
    exact = io.BytesIO()
    assert make(exact, size).write(challenges) == size
    assert exact.getvalue() == whole.getvalue()
    with pytest.raises(ExportTooLarge):
        make(io.BytesIO(), size - 1).write(challenges)


def test_markdown_export_keeps_entries_in_scratch_files_not_in_memory() -> None:
    scratches: list[io.BytesIO] = []

    def scratch() -> io.BytesIO:
        scratches.append(io.BytesIO())
        return scratches[-1]

    out = io.BytesIO()
    MarkdownExport(out, community="X", generated_at=GENERATED, scratch=scratch).write(SAMPLE)
    assert b"### #3 Slow queries on large tables" in scratches[0].getvalue()
    assert b"- #3 Slow queries on large tables (under Query Optimization)" in scratches[1].getvalue()


def test_challenge_entry_has_status_challenge_tried_and_accepted_solution_first() -> None:
    entry = _section(_markdown(SAMPLE), "### #3 Slow queries on large tables")
    assert "Solved · asked by Ada · 2024-05-03 · solution by Grace" in entry
    labels = re.findall(r"^\*\*([^*]+):\*\*", entry, re.MULTILINE)
    assert labels == ["Also about", "Challenge", "Tried", "Solution", "Other solution (by Bob)"]
    assert "**Solution:** select_related('author') and pagination." in entry
    assert "**Other solution (by Bob):** Cache the whole page." in entry


def test_open_challenge_without_tried_or_solutions_has_only_its_challenge() -> None:
    entry = _section(_markdown(SAMPLE), "### #2 Docker build fails")
    assert entry.startswith("\nOpen · asked by Linus · 2024-05-02\n")
    assert re.findall(r"^\*\*([^*]+):\*\*", entry, re.MULTILINE) == ["Challenge"]


def test_unaccepted_solutions_are_all_other_solutions() -> None:
    challenge = _challenge(
        7,
        solutions=(ExportSolution("Bob", "Try A.", False), ExportSolution("Eve", "Try B.", False)),
    )
    entry = _section(_markdown([challenge]), "### #7 A challenge")
    assert "**Solution:**" not in entry
    assert entry.index("(by Bob)") < entry.index("(by Eve)")
    assert "solution by" not in entry


def test_dates_are_shown_in_utc() -> None:
    late_evening_west = datetime(2024, 5, 1, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
    entry = _section(_markdown([_challenge(1, created_at=late_evening_west)]), "### #1 A challenge")
    assert "2024-05-02" in entry


def test_multiline_text_is_a_block_under_its_label() -> None:
    challenge = _challenge(1, details="First line\n- a list item\n\n```python\nprint('hi')\n```")
    entry = _section(_markdown([challenge]), "### #1 A challenge")
    assert "**Challenge:**\nFirst line\n- a list item\n\n```python\nprint('hi')\n```\n" in entry


def test_empty_export_says_there_are_no_challenges_yet() -> None:
    document = _markdown([])
    assert document.startswith("# Challenges & Solutions\n")
    assert "No challenges have been logged yet." in document
    assert _headings(document) == ["# Challenges & Solutions"]


def test_markdown_streams_in_chunks_from_a_one_shot_iterator() -> None:
    def once() -> Iterator[ExportChallenge]:
        yield from SAMPLE

    chunks = list(render_markdown(once(), community="X", generated_at=GENERATED))
    assert len(chunks) > len(SAMPLE)
    assert "".join(chunks) == _markdown(SAMPLE, community="X")


# --- user text cannot break the document ---------------------------------------------------------------


def test_headings_in_user_text_do_not_open_sections() -> None:
    challenge = _challenge(
        1,
        "# Big title ##",
        topics=("Docker",),
        details="# Not a section\n## Nor this\n> # quoted\n\nA paragraph\n===\nanother\n---",
        tried="### nope",
        solutions=(ExportSolution("## Bob", "#### still not", True),),
        author="# Ada",
    )
    headings = _headings(_markdown([challenge]))
    assert headings == ["# Challenges & Solutions", "## Contents", "## Docker", r"### #1 \# Big title \#\#"]
    document = _markdown([challenge])
    assert "\\# Not a section" in document
    assert "A paragraph\n\\===" in document
    assert "another\n\\---" in document


def test_an_unclosed_code_fence_is_closed_where_the_text_ends() -> None:
    challenge = _challenge(1, topics=("Docker",), details="```python\n# a comment\nprint(1)")
    later = _challenge(2, "Later challenge", topics=("Docker",), created_at=START + DAY)
    document = _markdown([challenge, later])
    assert "```python\n# a comment\nprint(1)\n```\n" in document  # the comment keeps its `#`
    assert "### #2 Later challenge" in _headings(document)


def test_html_that_would_hide_the_rest_is_escaped() -> None:
    challenge = _challenge(1, topics=("Docker",), details="<!-- oops\n<details>\n<script>x</script>")
    document = _markdown([challenge, _challenge(2, "After", topics=("Docker",), created_at=START + DAY)])
    assert "\\<!-- oops\n\\<details>\n\\<script>x\\</script>" in document
    assert "<!--" not in document.replace("\\<!--", "")


MARKDOWN_TOKENS = ["```", "~~~~", "# ", "## ", "\n", "\n\n", "===", "---", "<!--", "<b>", "> ", "- ", "   ", "\\"]
MARKDOWNISH = st.one_of(
    st.text(alphabet=st.sampled_from(list("#=-`~<>!@ \t\n\r\\ab1*_&[]()")), max_size=120),
    st.lists(st.sampled_from([*MARKDOWN_TOKENS, "a", "`", "~", "#"]), max_size=30).map("".join),
)
USER_TEXT = st.one_of(st.text(max_size=120), MARKDOWNISH)


@settings(max_examples=200, deadline=None)
@given(
    titles=st.lists(USER_TEXT, min_size=1, max_size=4),
    bodies=st.lists(USER_TEXT, min_size=4, max_size=4),
    topics=st.lists(st.sampled_from(["Docker", "Celery", "Django"]), max_size=2, unique=True),
)
def test_no_user_text_adds_or_hides_a_heading(titles: list[str], bodies: list[str], topics: list[str]) -> None:
    challenges = [
        _challenge(
            index + 1,
            title,
            topics=tuple(topics),
            details=bodies[0],
            tried=bodies[1],
            author=bodies[2],
            solutions=(
                ExportSolution(bodies[3], bodies[0], True),
                ExportSolution(bodies[2], bodies[1], False),
            ),
        )
        for index, title in enumerate(titles)
    ]
    headings = _headings(_markdown(challenges, community=bodies[3]))
    sections = len(topics) or 1
    # Each challenge once, under its first topic; the other topics only point to it.
    assert len(headings) == 2 + sections + len(challenges)
    assert [h for h in headings if h.startswith("### ")] == [h for h in headings if re.fullmatch(r"### #\d+ .*", h)]


# --- neutralise ----------------------------------------------------------------------------------------

Z = ZERO_WIDTH_SPACE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hey @everyone look", f"hey @{Z}everyone look"),
        ("@here", f"@{Z}here"),
        ("@EveryOne", f"@{Z}EveryOne"),
        ("ping <@123>", f"ping <@{Z}123>"),
        ("<@!123>", f"<@{Z}!123>"),
        ("role <@&456>", f"role <@{Z}&456>"),
        ("see <#789>", f"see <#{Z}789>"),
        ("mail me at ada@example.com", "mail me at ada@example.com"),
        ("# heading", "\\# heading"),
        ("   ## indented", "   \\## indented"),
        ("> # quoted", "> \\# quoted"),
        ("- # in a list", "- \\# in a list"),
        ("    # code, four spaces", "    # code, four spaces"),
        ("issue #12 is fixed", "issue #12 is fixed"),
        ("text\n===", "text\n\\==="),
        ("text\n---", "text\n\\---"),
        ("line\r# after a carriage return", "line\n\\# after a carriage return"),
        ("```\n# comment\n```", "```\n# comment\n```"),
        ("~~~\n# comment\n~~~\n# heading", "~~~\n# comment\n~~~\n\\# heading"),
        ("<!-- hide", "\\<!-- hide"),
        ("a <div> b", "a \\<div> b"),
        ("keep `<div>` code", "keep `<div>` code"),
        ("link <https://example.com>", "link <https://example.com>"),
        ("already \\<b> escaped", "already \\<b> escaped"),
        ("-# subtext", "-# subtext"),
        ("plain text", "plain text"),
    ],
)
def test_neutralise(text: str, expected: str) -> None:
    assert neutralise(text) == expected


LIVE_MENTION = re.compile(r"@everyone|@here|<@!?\d+>|<@&\d+>|<#\d+>", re.IGNORECASE)
MENTIONISH = st.text(alphabet=st.sampled_from(list("@<>#!&0123456789everyonhr \n`\\")), max_size=80)


@settings(max_examples=500)
@given(st.one_of(st.text(), MENTIONISH, MARKDOWNISH))
def test_neutralised_text_never_holds_a_live_mention(text: str) -> None:
    assert LIVE_MENTION.search(neutralise(text)) is None


@settings(max_examples=300)
@given(st.one_of(st.text(), MENTIONISH, MARKDOWNISH))
def test_neutralise_is_idempotent(text: str) -> None:
    once = neutralise(text)
    assert neutralise(once) == once


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(exclude_characters="`~\\")))
def test_outside_code_no_line_starts_a_heading(text: str) -> None:
    for line in neutralise(text).split("\n"):
        assert not re.match(r" {0,3}(?:>[ ]{0,4})*#", line)


# --- CSV -----------------------------------------------------------------------------------------------


def test_csv_header_and_one_row_per_challenge() -> None:
    rows = _rows(SAMPLE)
    assert tuple(rows[0]) == CSV_HEADER
    assert [row[0] for row in rows[1:]] == ["3", "1", "2", "4"]
    assert all(len(row) == len(CSV_HEADER) for row in rows)


def test_csv_row_fields() -> None:
    row = dict(zip(CSV_HEADER, _rows(SAMPLE)[1], strict=True))
    assert row["title"] == "Slow queries on large tables"
    assert row["status"] == "solved"
    assert row["created_at"] == "2024-05-03T09:00:00+00:00"
    assert datetime.fromisoformat(row["created_at"]) == START + 2 * DAY
    assert row["topics"] == "Query Optimization; Django ORM"
    assert row["tried"] == "Adding an index."
    assert row["accepted_solution"] == "select_related('author') and pagination."
    assert row["other_solutions"] == "Bob: Cache the whole page."


def test_csv_round_trips_commas_quotes_and_newlines() -> None:
    details = 'He said "it, works"\non my machine,\r\nthen "didn\'t".'
    challenge = _challenge(9, 'Title, with "quotes"', details=details, tried=None)
    row = _rows([challenge])[1]
    assert row[1] == 'Title, with "quotes"'
    assert row[6] == details
    assert row[7] == ""


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_a_spreadsheet_would_run_are_defused(start: str) -> None:
    formula = f'{start}HYPERLINK("https://evil.example","x")'
    challenge = _challenge(1, formula, details=formula, author=formula, solutions=(ExportSolution("B", formula, True),))
    row = _rows([challenge])[1]
    for cell in (row[1], row[3], row[6], row[8]):
        assert cell.startswith("'")
        assert cell[1:].replace(Z, "") == formula


def test_csv_neutralises_mentions() -> None:
    row = _rows([_challenge(1, details="thanks <@123> and @everyone")])[1]
    assert LIVE_MENTION.search(row[6]) is None
    assert row[6].replace(Z, "") == "thanks <@123> and @everyone"


def test_csv_of_nothing_is_just_the_header() -> None:
    assert _rows([]) == [list(CSV_HEADER)]


@settings(max_examples=200)
@given(title=st.text(), details=st.text(), tried=st.none() | st.text())
def test_csv_round_trips_any_text(title: str, details: str, tried: str | None) -> None:
    row = _rows([_challenge(1, title, details=details, tried=tried)])[1]

    def restored(cell: str) -> str:
        return cell.replace(Z, "")

    for original, cell in ((title, row[1]), (details, row[6]), (tried or "", row[7])):
        expected = original.replace(Z, "")
        if cell.startswith("'") and not expected.startswith("'"):
            cell = cell[1:]
        assert restored(cell) == expected


def test_repeated_or_blank_topics_count_once() -> None:
    challenge = _challenge(5, topics=("Docker", "Docker", "  ", "Docker  "))
    document = _markdown([challenge])
    assert [h for h in _headings(document) if h.startswith("## ")] == ["## Contents", "## Docker"]
    assert "- [Docker](#docker) (1)" in document
    assert document.count("### #5 A challenge") == 1


def test_a_title_that_starts_like_a_fence_does_not_shield_html_in_a_heading() -> None:
    # Within a line, a leading ``` opens no code block: the HTML after it must be escaped like any other.
    from bot.challenges.export import _one_line

    assert _one_line("```js <b>x</b>") == "```js \\<b>x\\</b>"
    assert _one_line("~~~ <i>") == "~~~ \\<i>"
