"""Topic inference from free text: whole names, short names in capitals, keywords, ranking, any text."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.challenges.inference import EVERYDAY_WORDS, TopicMatcher, _fold
from bot.knowledge import Category, TopicCard, load_knowledge_base
from bot.knowledge.text import normalise
from bot.runtime.paths import default_data_dir

KNOWLEDGE_BASE = load_knowledge_base(default_data_dir() / "topics")
MATCHER = TopicMatcher(KNOWLEDGE_BASE.cards)
SLUGS = frozenset(card.slug for card in KNOWLEDGE_BASE.cards)

_FILLER = "A section long enough for the card model's fifty-character minimum length."


def _card(slug: str, title: str, aliases: tuple[str, ...] = (), keywords: tuple[str, ...] = ()) -> TopicCard:
    return TopicCard(
        title=title,
        slug=slug,
        category=Category.DEVOPS,
        aliases=aliases,
        keywords=keywords,
        summary=_FILLER,
        key_points=_FILLER,
        pitfalls=_FILLER,
        reviewed=date(2026, 12, 7),
    )


SMALL = TopicMatcher(
    [
        _card("redis", "Redis", aliases=("redis-cli",)),
        _card("ci-cd", "CI/CD", aliases=("ci", "cd", "continuous integration")),
        _card("kubernetes", "Kubernetes", aliases=("k8s", "pod")),
        _card("docker", "Docker", aliases=("dockerfile",)),
        _card("docker-compose", "Docker Compose", aliases=("compose", "docker compose")),
        _card("django-orm", "Django ORM", aliases=("queryset",), keywords=("select_related", "n+1")),
        _card(
            "query-optimization",
            "Query Optimization",
            aliases=("slow queries",),
            keywords=("select_related",),
        ),
        _card("django-signals", "Django Signals", aliases=("@receiver",)),
        _card("postgresql", "PostgreSQL", aliases=("postgres", "pg")),
    ]
)


# --- the real knowledge base ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("slow queries: select_related and N+1", {"query-optimization"}),
        ("my celery worker can't reach rabbitmq", {"celery", "rabbitmq"}),
        ("CI pipeline on GitHub Actions fails", {"ci-cd", "github-actions"}),
        ("Leveraged Docker and Docker Compose for reproducible deployments", {"docker", "docker-compose"}),
        ("Had a really hard time understanding Kubernetes concepts", {"kubernetes"}),
        ("Challenge: CI/CD pipeline failures", {"ci-cd"}),
        ("Slow queries with increasing data volume", {"query-optimization"}),
        ("PG refuses my password", {"postgresql"}),
    ],
)
def test_real_cards_are_inferred(text: str, expected: set[str]) -> None:
    assert expected <= set(MATCHER.infer(text))


@pytest.mark.parametrize("text", ["hello there", "", "   ", "thanks, that worked!", "redistribute the podcast"])
def test_text_without_topic_names_infers_nothing(text: str) -> None:
    assert MATCHER.infer(text) == ()


def test_every_real_card_is_found_by_each_of_its_names() -> None:
    for card in KNOWLEDGE_BASE.cards:
        for name in (card.slug, card.title, *card.aliases, *card.keywords):
            if normalise(name) in EVERYDAY_WORDS:
                continue  # alone, an everyday word ("rest", "compose") is not evidence of a topic
            written = name.upper() if len(normalise(name)) <= 2 else name
            found = MATCHER.infer(f"a question about {written} here", limit=len(SLUGS))
            if name in card.keywords:
                # A keyword tags its card unless a clearer name inside it tags another one.
                assert found, (card.slug, name)
            else:
                assert card.slug in found, (card.slug, name)


def test_the_case_keeping_copy_lines_up_with_normalise_on_the_real_titles() -> None:
    for card in KNOWLEDGE_BASE.cards:
        assert _fold(card.title).lower() == normalise(card.title)


# --- whole names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "we redistribute the load",
        "a circle of friends",
        "listening to a podcast",
        "the rediscovery of fire",
        "composer install",
        "dockerized",
    ],
)
def test_a_name_inside_a_longer_word_is_not_matched(text: str) -> None:
    assert SMALL.infer(text) == ()


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Redis is down", "redis"),
        ("REDIS is down", "redis"),
        ("is redis, or memcached, better?", "redis"),
        ("(redis)", "redis"),
        ("the pod restarts", "kubernetes"),
        ("k8s cluster", "kubernetes"),
        ("Rédis with an accent", "redis"),
        ("redis_cli and redis.cli and redis/cli", "redis"),
        ("use @receiver(post_save) here", "django-signals"),
    ],
)
def test_whole_names_match_in_any_case_accent_and_separator(text: str, slug: str) -> None:
    assert SMALL.infer(text)[0] == slug


@pytest.mark.parametrize(
    "spelling", ["select_related", "select-related", "select.related", "Select Related", "SELECT_RELATED"]
)
def test_separators_are_equivalent(spelling: str) -> None:
    assert set(SMALL.infer(f"I used {spelling} there")) == {"django-orm", "query-optimization"}


def test_a_name_with_a_plus_matches_only_as_written() -> None:
    assert SMALL.infer("the N+1 problem") == ("django-orm",)
    assert SMALL.infer("n+10 items") == ()
    assert SMALL.infer("an+1 items") == ()


def test_a_receiver_name_needs_its_at_sign_to_stand_alone() -> None:
    assert SMALL.infer("mail@receiver.example") == ()


# --- short names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["CI is red", "CI/CD", "our CD step", "PG is slow", "the ci/cd pipeline"])
def test_short_names_count_in_capitals_or_inside_a_longer_name(text: str) -> None:
    assert SMALL.infer(text)


@pytest.mark.parametrize("text", ["cd into the folder", "ci is red", "pg 12 of the book", "Ci is red", "Pg"])
def test_short_names_in_lowercase_or_mixed_case_are_ignored(text: str) -> None:
    assert SMALL.infer(text) == ()


# --- keywords and ranking -------------------------------------------------------------------------------


def test_a_shared_keyword_tags_every_card_that_lists_it() -> None:
    assert set(SMALL.infer("select_related helped")) == {"django-orm", "query-optimization"}


def test_more_distinct_names_rank_first() -> None:
    # django-orm: select_related and n+1 and queryset; query-optimization: one keyword only, which
    # does not ride along with a card the post names clearly.
    assert SMALL.infer("select_related fixed the N+1 in my queryset") == ("django-orm",)
    # query-optimization: select_related and slow queries.
    assert SMALL.infer("select_related fixed the slow queries") == ("query-optimization",)


def test_a_name_repeated_counts_once_and_ties_go_to_the_first_mentioned() -> None:
    text = "docker docker docker, then redis"
    assert SMALL.infer(text) == ("docker", "redis")
    assert SMALL.infer("redis, then docker docker docker") == ("redis", "docker")


def test_overlapping_names_are_all_found() -> None:
    # "docker compose" is one name of docker-compose, "compose" another; "docker" is the docker card.
    assert SMALL.infer("docker compose up fails") == ("docker-compose", "docker")


def test_the_limit_keeps_the_best() -> None:
    text = "redis, docker, the pod, postgres and CI"
    assert SMALL.infer(text, limit=2) == ("redis", "docker")
    assert len(SMALL.infer(text)) == 5
    assert SMALL.infer(text, limit=0) == ()
    assert SMALL.infer(text, limit=-1) == ()


def test_no_cards_infer_nothing() -> None:
    assert TopicMatcher([]).infer("redis docker kubernetes") == ()


# --- any text -------------------------------------------------------------------------------------------


@given(st.text(), st.integers(min_value=-2, max_value=12))
def test_any_text_gives_distinct_existing_slugs_within_the_limit(text: str, limit: int) -> None:
    found = MATCHER.infer(text, limit=limit)
    assert isinstance(found, tuple)
    assert set(found) <= SLUGS
    assert len(found) == len(set(found))
    assert len(found) <= max(limit, 0)


_NAMEY = st.lists(
    st.sampled_from(["redis", "CI", "ci", "pod", " ", "_", "-", ".", "/", "+", "n+1", "@receiver", "é", "docker"]),
    max_size=30,
).map("".join)


@given(_NAMEY)
def test_text_made_of_names_and_separators_gives_distinct_existing_slugs(text: str) -> None:
    found = SMALL.infer(text, limit=10)
    assert len(found) == len(set(found))
    assert set(found) <= SMALL.slugs


@given(st.text())
def test_the_case_keeping_copy_lines_up_with_normalise(text: str) -> None:
    assert _fold(text).lower() == normalise(text)


def test_the_shorter_names_table_is_every_name_each_name_starts_with_before_a_separator() -> None:
    # The table is built by looking up each name's cuts; this is its definition, pair by pair, on the real cards.
    table = MATCHER._shorter
    for name in table:
        expected = tuple(
            other
            for other in table
            if len(other) < len(name) and name.startswith(other) and not name[len(other)].isalnum()
        )
        assert table[name] == expected, name
    assert table["docker compose"] == ("docker",)
