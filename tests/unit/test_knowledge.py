"""The knowledge base: the real cards, the card format's faults, and rendering within Discord's limits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import _check
from bot.config import Settings
from bot.core import limits
from bot.core.embeds import ELLIPSIS, EmbedField, EmbedSpec, shorten
from bot.knowledge import (
    Category,
    KnowledgeBase,
    KnowledgeBaseError,
    TopicCard,
    load_knowledge_base,
    parse_card,
    stale_cards,
)
from bot.knowledge.render import (
    SOLVED_FIELD_NAME,
    SOLVED_FIELD_RESERVE,
    SolvedChallengeRef,
    SolvedChallenges,
    card_problems,
    page_count,
    render_card,
    render_category,
    render_overview,
)
from bot.runtime.paths import default_data_dir

TOPICS_DIR = default_data_dir() / "topics"
TODAY = datetime.now(UTC).date()
KNOWLEDGE_BASE = load_knowledge_base(TOPICS_DIR)
TITLES = {card.slug: card.title for card in KNOWLEDGE_BASE.cards}

SECTION_TEXT = "A section long enough for the card format, which asks for fifty characters at least."


def card_markdown(
    slug: str,
    *,
    title: str | None = None,
    category: str = "python",
    aliases: Sequence[str] = (),
    related: Sequence[str] = (),
    body: str | None = None,
) -> str:
    """A valid card unless the arguments make it otherwise."""
    front = [
        "---",
        f"title: {title or slug.replace('-', ' ').title()}",
        f"slug: {slug}",
        f"category: {category}",
        f"aliases: [{', '.join(aliases)}]",
        f"related: [{', '.join(related)}]",
        "reviewed: 2026-12-07",
        "docs:",
        "  - title: Reference",
        "    url: https://docs.example.org/reference/",
        "---",
        "",
    ]
    if body is None:
        body = (
            f"## Summary\n{SECTION_TEXT}\n\n## Key points\n{SECTION_TEXT}\n\n"
            f"## Common pitfalls\n{SECTION_TEXT}\n\n## Example\n```python\nprint('hi')\n```\n"
        )
    return "\n".join(front) + body


# --- the real knowledge base ---------------------------------------------------------------------------


def test_real_knowledge_base_is_large_enough() -> None:
    assert len(KNOWLEDGE_BASE) >= 110
    assert len(KNOWLEDGE_BASE.by_category[Category.WEB]) + len(KNOWLEDGE_BASE.by_category[Category.FRONTEND]) >= 25
    assert len(KNOWLEDGE_BASE) == len(list(TOPICS_DIR.glob("*.md")))


def test_every_category_is_used() -> None:
    assert set(KNOWLEDGE_BASE.categories) == set(Category)
    for category, cards in KNOWLEDGE_BASE.by_category.items():
        assert cards, category
        assert all(card.category is category for card in cards)
    assert sum(len(cards) for cards in KNOWLEDGE_BASE.by_category.values()) == len(KNOWLEDGE_BASE)


def test_every_related_slug_exists() -> None:
    for card in KNOWLEDGE_BASE.cards:
        for slug in card.related:
            assert slug in KNOWLEDGE_BASE.by_slug, f"{card.slug} -> {slug}"
            assert slug != card.slug


def test_cards_are_sorted_by_title_and_indexed_by_slug() -> None:
    titles = [card.title.lower() for card in KNOWLEDGE_BASE.cards]
    assert titles == sorted(titles)
    assert set(KNOWLEDGE_BASE.by_slug) == {path.stem for path in TOPICS_DIR.glob("*.md")}
    assert KNOWLEDGE_BASE.problems() == []


@pytest.mark.parametrize("card", KNOWLEDGE_BASE.cards, ids=lambda card: card.slug)
def test_every_real_card_renders_within_limits(card: TopicCard) -> None:
    embed = render_card(card, TITLES)
    assert embed.problems() == []
    assert embed.total_length <= limits.EMBED_TOTAL
    assert embed.title == card.title
    assert embed.description == card.summary
    names = [field.name for field in embed.fields]
    assert names[:2] == ["Key points", "Common pitfalls"]
    assert "Official docs" in names
    # Related topics show titles, not slugs.
    if card.related:
        related = next(field for field in embed.fields if field.name == "Related topics")
        assert TITLES[card.related[0]] in related.value


@pytest.mark.parametrize("card", KNOWLEDGE_BASE.cards, ids=lambda card: card.slug)
def test_every_real_card_has_https_docs(card: TopicCard) -> None:
    assert len(card.docs) >= 1
    assert all(link.url.scheme == "https" for link in card.docs)


def test_browser_pages_render_within_limits() -> None:
    counts = {category: len(cards) for category, cards in KNOWLEDGE_BASE.by_category.items()}
    overview = render_overview(counts)
    assert overview.problems() == []
    assert f"{len(KNOWLEDGE_BASE)} topics in all" in overview.footer
    for category, cards in KNOWLEDGE_BASE.by_category.items():
        shown = ""
        for page in range(page_count(len(cards))):
            embed = render_category(category, cards, page)
            assert embed.problems() == []
            shown += embed.description
        assert all(f"**{card.title}**" in shown for card in cards)


# --- parse_card ---------------------------------------------------------------------------------------


def test_the_card_template_is_valid() -> None:
    card = parse_card(card_markdown("sample-topic", aliases=["sample", "st"], related=["other"]), "x.md")
    assert card.slug == "sample-topic"
    assert card.category is Category.PYTHON
    assert card.aliases == ("sample", "st")
    assert card.related == ("other",)
    assert card.summary == SECTION_TEXT
    assert card.example is not None
    assert card.example.startswith("```python")


def test_example_section_is_optional_and_headings_are_case_insensitive() -> None:
    body = f"## SUMMARY\n{SECTION_TEXT}\n\n## key points\n{SECTION_TEXT}\n\n## Common Pitfalls\n{SECTION_TEXT}\n"
    card = parse_card(card_markdown("no-example", body=body), "no-example.md")
    assert card.example is None
    assert card.key_points == SECTION_TEXT


VALID_BODY = f"## Summary\n{SECTION_TEXT}\n\n## Key points\n{SECTION_TEXT}\n\n## Common pitfalls\n{SECTION_TEXT}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(VALID_BODY, "front matter", id="no-front-matter"),
        pytest.param(
            card_markdown("topic", body=VALID_BODY + f"\n## Trivia\n{SECTION_TEXT}\n"),
            "unknown section '## Trivia'",
            id="unknown-section",
        ),
        pytest.param(
            card_markdown("topic", body=VALID_BODY + f"\n## Summary\n{SECTION_TEXT}\n"),
            "appears twice",
            id="duplicate-section",
        ),
        pytest.param(card_markdown("Bad_Slug"), "slug", id="bad-slug"),
        pytest.param(card_markdown("trailing-"), "slug", id="slug-trailing-dash"),
        pytest.param(card_markdown("topic", aliases=["K8S"]), "lowercase", id="uppercase-alias"),
        pytest.param(card_markdown("topic", related=["topic"]), "itself", id="self-related"),
        pytest.param(card_markdown("topic", related=["Not A Slug"]), "not a slug", id="related-not-slug"),
        pytest.param(
            card_markdown("topic", body="Stray words.\n\n" + VALID_BODY),
            "before the first '##' heading",
            id="text-before-heading",
        ),
        pytest.param(card_markdown("topic", body="No headings at all."), "no '## Summary'", id="no-sections"),
        pytest.param(card_markdown("topic", body=f"## Summary\n{SECTION_TEXT}\n"), "key_points", id="missing-section"),
        pytest.param(card_markdown("topic", category="cooking"), "category", id="unknown-category"),
        pytest.param(card_markdown("topic").replace("https://docs", "http://docs"), "https", id="http-doc-link"),
        pytest.param("---\ntitle: [unclosed\n---\n" + VALID_BODY, "broken.md", id="bad-yaml"),
    ],
)
def test_parse_card_rejects_with_the_source_named(text: str, expected: str) -> None:
    with pytest.raises(KnowledgeBaseError) as info:
        parse_card(text, source="broken.md")
    error = info.value
    assert len(error.problems) == 1
    assert error.problems[0].startswith("broken.md: ")
    assert "broken.md" in str(error)
    assert expected in str(error)


# --- review dates ---------------------------------------------------------------------------------------


def test_every_real_card_was_reviewed_and_none_in_the_future() -> None:
    for card in KNOWLEDGE_BASE.cards:
        assert date(2025, 1, 1) <= card.reviewed <= TODAY, card.slug


def test_a_card_without_a_review_date_does_not_load() -> None:
    text = card_markdown("no-review").replace("reviewed: 2026-12-07\n", "")
    with pytest.raises(KnowledgeBaseError, match=r"no-review.md: reviewed: Field required"):
        parse_card(text, source="no-review.md")


def test_a_malformed_review_date_is_reported() -> None:
    text = card_markdown("bad-review").replace("reviewed: 2026-12-07", "reviewed: last tuesday")
    with pytest.raises(KnowledgeBaseError, match=r"bad-review.md: reviewed: "):
        parse_card(text, source="bad-review.md")


def _reviewed(slug: str, day: date) -> str:
    return card_markdown(slug).replace("reviewed: 2026-12-07", f"reviewed: {day.isoformat()}")


def test_stale_cards_are_those_reviewed_longer_ago_than_the_limit_oldest_first(tmp_path: Path) -> None:
    topics = tmp_path / "topics"
    _write(topics, "fresh.md", _reviewed("fresh", date(2026, 12, 1)))
    _write(topics, "edge.md", _reviewed("edge", date(2026, 9, 8)))
    _write(topics, "old.md", _reviewed("old", date(2026, 9, 7)))
    _write(topics, "older.md", _reviewed("older", date(2025, 1, 2)))
    knowledge_base = load_knowledge_base(topics)
    stale = stale_cards(knowledge_base, date(2026, 12, 7), 90)
    assert [card.slug for card in stale] == ["older", "old"]
    assert stale_cards(knowledge_base, date(2026, 12, 7), 10_000) == []


def test_check_stale_lists_the_due_cards_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    topics = tmp_path / "topics"
    _write(topics, "fresh.md", _reviewed("fresh", TODAY))
    _write(topics, "old.md", _reviewed("old", date(2025, 1, 2)))
    settings = Settings.model_validate({"DISCORD_TOKEN": "x.y.z", "NEXUS_DATA_DIR": str(tmp_path)})
    assert _check(settings, stale_days=30) == 1
    out = capsys.readouterr().out
    assert "1 card(s) not reviewed within the last 30 days" in out
    assert "old" in out
    assert "reviewed 2025-01-02" in out
    assert "fresh " not in out
    (topics / "old.md").unlink()
    assert _check(settings, stale_days=30) == 0
    assert "every card was reviewed within the last 30 days" in capsys.readouterr().out


# --- load_knowledge_base ------------------------------------------------------------------------------


def _write(topics: Path, name: str, text: str) -> None:
    topics.mkdir(parents=True, exist_ok=True)
    (topics / name).write_text(text, encoding="utf-8")


def test_load_reports_every_fault_at_once(tmp_path: Path) -> None:
    topics = tmp_path / "topics"
    _write(topics, "misnamed.md", card_markdown("another-name"))
    _write(topics, "dangling.md", card_markdown("dangling", related=["ghost-topic"]))
    _write(topics, "first.md", card_markdown("first", aliases=["shared name"]))
    _write(topics, "second.md", card_markdown("second", aliases=["shared-name"]))
    _write(topics, "broken.md", card_markdown("broken", body=VALID_BODY + f"## Trivia\n{SECTION_TEXT}\n"))
    _write(topics, "notes.txt", "not a card, ignored")
    with pytest.raises(KnowledgeBaseError) as info:
        load_knowledge_base(topics)
    problems = info.value.problems
    assert len(problems) == 4, problems
    assert any(
        "misnamed.md" in problem and "'another-name'" in problem and "'misnamed'" in problem for problem in problems
    )
    assert any("dangling" in problem and "'ghost-topic' does not exist" in problem for problem in problems)
    assert any(problem.startswith("second: alias 'shared-name'") and "'first'" in problem for problem in problems)
    assert any(problem.startswith("broken.md: unknown section") for problem in problems)
    assert str(info.value) == "\n".join(problems)


def test_alias_may_not_take_another_cards_title(tmp_path: Path) -> None:
    topics = tmp_path / "topics"
    _write(topics, "redis.md", card_markdown("redis"))
    _write(topics, "caching.md", card_markdown("caching", aliases=["redis"]))
    with pytest.raises(KnowledgeBaseError) as info:
        load_knowledge_base(topics)
    assert info.value.problems == ("caching: alias 'redis' is already a name of 'redis'",)


def test_a_large_category_loads_and_is_browsed_in_pages(tmp_path: Path) -> None:
    topics = tmp_path / "topics"
    count = limits.SELECT_OPTIONS + 1
    for number in range(count):
        _write(topics, f"topic-{number:02d}.md", card_markdown(f"topic-{number:02d}", category="testing"))
    knowledge_base = load_knowledge_base(topics)
    cards = knowledge_base.by_category[Category.TESTING]
    assert len(cards) == count
    assert page_count(count) == 2
    first, second = render_category(Category.TESTING, cards, 0), render_category(Category.TESTING, cards, 1)
    assert first.description.count("**") == 2 * limits.SELECT_OPTIONS
    assert second.description.count("**") == 2
    assert second.footer.startswith(f"Page 2 of 2 · {count} topics")
    assert first.problems() == second.problems() == []


@pytest.mark.parametrize(("items", "pages"), [(0, 1), (1, 1), (25, 1), (26, 2), (50, 2), (51, 3)])
def test_page_count(items: int, pages: int) -> None:
    assert page_count(items) == pages


def test_empty_or_missing_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match="no such directory"):
        load_knowledge_base(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(KnowledgeBaseError, match="holds no topic cards"):
        load_knowledge_base(tmp_path / "empty")


def test_small_valid_knowledge_base_loads(tmp_path: Path) -> None:
    topics = tmp_path / "topics"
    _write(topics, "beta.md", card_markdown("beta", category="devops", related=["alpha"]))
    _write(topics, "alpha.md", card_markdown("alpha", aliases=["a1"], related=["beta"]))
    knowledge_base = load_knowledge_base(topics)
    assert isinstance(knowledge_base, KnowledgeBase)
    assert [card.slug for card in knowledge_base.cards] == ["alpha", "beta"]
    assert knowledge_base.categories == (Category.PYTHON, Category.DEVOPS)


# --- shorten and EmbedSpec ------------------------------------------------------------------------------


@settings(deadline=None)  # correctness only: no timing
@given(text=st.text(max_size=3000), limit=st.integers(min_value=0, max_value=3000))
def test_shorten_never_exceeds_the_limit(text: str, limit: int) -> None:
    result = shorten(text, limit)
    assert len(result) <= limit
    if len(text) <= limit:
        assert result == text
    elif limit > len(ELLIPSIS):
        assert result.endswith(ELLIPSIS)
        assert text.startswith(result[: -len(ELLIPSIS)])
    else:
        assert result == text[:limit]


@pytest.mark.parametrize(("limit", "expected"), [(-1, ""), (0, ""), (1, "a"), (2, "a" + ELLIPSIS)])
def test_shorten_to_tiny_limits(limit: int, expected: str) -> None:
    assert shorten("abc", limit) == expected


def test_shorten_cuts_with_an_ellipsis() -> None:
    assert shorten("hello world", 8) == "hello w" + ELLIPSIS
    assert shorten("hello world", 7) == "hello" + ELLIPSIS  # trailing space before the ellipsis removed
    assert shorten("hello", 5) == "hello"


solved_refs = st.builds(
    SolvedChallengeRef,
    id=st.integers(min_value=1, max_value=2**63 - 1),
    title=st.text(max_size=500),
)
solved_challenges = st.builds(
    SolvedChallenges,
    count=st.integers(min_value=0, max_value=10**6),
    top=st.lists(solved_refs, max_size=10).map(tuple),
)


@settings(deadline=None)  # correctness only: no timing
@given(card=st.sampled_from(KNOWLEDGE_BASE.cards), solved=solved_challenges)
def test_render_card_with_any_solved_challenges_is_within_limits(card: TopicCard, solved: SolvedChallenges) -> None:
    embed = render_card(card, TITLES, solved)
    assert embed.problems() == []
    solved_fields = [field for field in embed.fields if field.name == "Solved challenges"]
    if solved.count > 0:
        assert len(solved_fields) == 1
        assert f"**{solved.count}**" in solved_fields[0].value
    else:
        assert solved_fields == []


def _largest_valid_card() -> tuple[TopicCard, dict[str, str]]:
    """A card near Discord's total (but within it): what `nexus-bot check` accepts."""
    related = tuple(f"related-{number}" for number in range(5))
    card = TopicCard(
        title="T" * 80,
        slug="big-card",
        category=Category.ARCHITECTURE,
        aliases=tuple(f"alias number {number:02d}" for number in range(30)),
        related=related,
        docs=tuple({"title": "D" * 80, "url": f"https://docs.example.org/{number}/{'p' * 40}"} for number in range(5)),
        summary="s" * 1000,
        key_points="k" * 1000,
        pitfalls="p" * 1000,
        example="e" * 1000,
        reviewed=date(2026, 12, 7),
    )
    return card, dict.fromkeys(related, "R" * 80)


def test_check_wants_room_for_solved_challenges() -> None:
    card, titles = _largest_valid_card()
    embed = render_card(card, titles)
    assert embed.problems() == []
    room = limits.EMBED_TOTAL - embed.total_length
    assert 0 < room < SOLVED_FIELD_RESERVE
    problems = card_problems(card, titles)
    assert problems == [
        f"leaves {room} characters for solved challenges (needs {SOLVED_FIELD_RESERVE}); shorten a section"
    ]


@pytest.mark.parametrize("card", KNOWLEDGE_BASE.cards, ids=lambda card: card.slug)
def test_every_real_card_passes_the_check(card: TopicCard) -> None:
    assert card_problems(card, TITLES) == []


LOTS_SOLVED = SolvedChallenges(
    count=999_999, top=tuple(SolvedChallengeRef(id=number, title="x" * 200) for number in range(10))
)


def test_large_card_with_solved_challenges_stays_within_limits() -> None:
    card, titles = _largest_valid_card()
    embed = render_card(card, titles, LOTS_SOLVED)
    assert embed.problems() == []
    assert embed.total_length <= limits.EMBED_TOTAL
    # The field is cut to the room left, not dropped while there is room for it.
    solved = [field for field in embed.fields if field.name == SOLVED_FIELD_NAME]
    assert len(solved) == 1
    assert solved[0].value.startswith("**999999** solved")
    assert solved[0].value.endswith(ELLIPSIS)


def test_card_with_no_room_drops_the_solved_field() -> None:
    card, titles = _largest_valid_card()
    fuller = card.model_copy(update={"aliases": (*card.aliases, *(f"more alias {n:03d}" for n in range(8)))})
    plain = render_card(fuller, titles)
    assert plain.problems() == []
    assert limits.EMBED_TOTAL - plain.total_length < 40 + len(SOLVED_FIELD_NAME)
    embed = render_card(fuller, titles, LOTS_SOLVED)
    assert embed == plain


def test_embed_at_every_limit_has_no_problems() -> None:
    spec = EmbedSpec(
        title="t" * limits.EMBED_TITLE,
        description="d" * limits.EMBED_DESCRIPTION,
        fields=(EmbedField("n" * 100, "v" * limits.EMBED_FIELD_VALUE),),
        footer="f" * (limits.EMBED_TOTAL - limits.EMBED_TITLE - limits.EMBED_DESCRIPTION - 100 - 1024),
    )
    assert spec.total_length == limits.EMBED_TOTAL
    assert spec.problems() == []
    many = EmbedSpec(title="t", fields=tuple(EmbedField("n", "v") for _ in range(limits.EMBED_FIELDS)))
    assert many.problems() == []


PARTS = ["title", "description", "footer", "field name", "field value", "fields", "total"]


def _over_limit(part: str, excess: int) -> EmbedSpec:
    if part == "title":
        return EmbedSpec(title="t" * (limits.EMBED_TITLE + excess))
    if part == "description":
        return EmbedSpec(title="t", description="d" * (limits.EMBED_DESCRIPTION + excess))
    if part == "footer":
        return EmbedSpec(title="t", footer="f" * (limits.EMBED_FOOTER + excess))
    if part == "field name":
        return EmbedSpec(title="t", fields=(EmbedField("n" * (limits.EMBED_FIELD_NAME + excess), "v"),))
    if part == "field value":
        return EmbedSpec(title="t", fields=(EmbedField("n", "v" * (limits.EMBED_FIELD_VALUE + excess)),))
    if part == "fields":
        return EmbedSpec(title="t", fields=tuple(EmbedField("n", "v") for _ in range(limits.EMBED_FIELDS + excess)))
    # Every part within its own limit, but together over the total.
    fixed = 1 + limits.EMBED_DESCRIPTION + 1 + limits.EMBED_FIELD_VALUE
    return EmbedSpec(
        title="t",
        description="d" * limits.EMBED_DESCRIPTION,
        fields=(EmbedField("n", "v" * limits.EMBED_FIELD_VALUE),),
        footer="f" * (limits.EMBED_TOTAL - fixed + excess),
    )


EXPECTED_MENTION = {
    "title": "title is",
    "description": "description is",
    "footer": "footer is",
    "field name": "name is",
    "field value": "value is",
    "fields": "fields (limit 25)",
    "total": "characters in all (limit 6000)",
}


@settings(deadline=None)  # correctness only: no timing
@given(part=st.sampled_from(PARTS), excess=st.integers(min_value=1, max_value=200))
def test_embed_problems_flag_each_part_over_its_limit(part: str, excess: int) -> None:
    problems = _over_limit(part, excess).problems()
    assert len(problems) == 1, problems
    assert EXPECTED_MENTION[part] in problems[0]


@pytest.mark.parametrize(("name", "value"), [("", "v"), ("n", ""), ("   ", "v"), ("n", "\n")])
def test_embed_problems_flag_an_empty_field(name: str, value: str) -> None:
    problems = EmbedSpec(title="t", fields=(EmbedField(name, value),)).problems()
    assert len(problems) == 1
    assert problems[0].endswith("is empty")
