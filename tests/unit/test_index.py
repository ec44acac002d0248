"""Topic lookup: aliases, prefixes, misspellings and autocomplete over the real cards and a large index."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import limits
from bot.core.errors import TopicNotFoundError
from bot.knowledge import Category, Lookup, TopicCard, TopicIndex, categories_for_track, load_knowledge_base
from bot.knowledge.cards import FRONTEND_CATEGORIES
from bot.knowledge.render import SolvedChallenges
from bot.runtime.paths import default_data_dir
from bot.services.topics import TopicService

KNOWLEDGE_BASE = load_knowledge_base(default_data_dir() / "topics")
INDEX = TopicIndex(KNOWLEDGE_BASE.cards)


class NoSolvedChallenges:
    """A challenge log with nothing solved yet."""

    async def solved_for_topic(self, guild_id: int | None, slug: str, limit: int) -> SolvedChallenges:
        return SolvedChallenges()


SERVICE = TopicService(KNOWLEDGE_BASE, NoSolvedChallenges())
SLUGS = frozenset(card.slug for card in KNOWLEDGE_BASE.cards)


def _slugs(query: str) -> list[str]:
    return [choice.value for choice in INDEX.autocomplete(query)]


# --- exact names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("k8s", "kubernetes"),
        ("K8S", "kubernetes"),
        ("drf", "django-rest-framework"),
        ("ci", "ci-cd"),
        ("jwt", "jwt"),
        ("Docker Compose", "docker-compose"),
        ("docker_compose", "docker-compose"),
        ("DOCKER-COMPOSE", "docker-compose"),
        ("  docker   compose  ", "docker-compose"),
        ("kubernetes", "kubernetes"),
    ],
)
def test_names_and_aliases_resolve(name: str, slug: str) -> None:
    card = INDEX.resolve(name)
    assert card is not None
    assert card.slug == slug
    assert SERVICE.find(name).slug == slug


def test_every_card_resolves_by_slug_and_title() -> None:
    assert len(INDEX) == len(KNOWLEDGE_BASE)
    for card in KNOWLEDGE_BASE.cards:
        assert INDEX.get(card.slug) is card
        assert INDEX.resolve(card.slug) is card
        assert INDEX.resolve(card.title) is card
        assert INDEX.resolve(card.title.upper()) is card


def test_unknown_name_does_not_resolve() -> None:
    assert INDEX.resolve("zzzzqqq") is None
    assert INDEX.get("k8s") is None  # `get` is by slug only


# --- prefixes and misspellings ------------------------------------------------------------------------


def test_prefix_finds_the_card_first() -> None:
    assert _slugs("kube")[0] == "kubernetes"
    assert set(_slugs("dock")[:2]) == {"docker", "docker-compose"}


def test_later_word_prefix_finds_multi_word_names() -> None:
    assert _slugs("compose")[0] == "docker-compose"
    assert "docker-compose" in _slugs("comp")


@pytest.mark.parametrize(
    ("query", "slug"),
    [
        ("kubernets", "kubernetes"),
        ("postgress", "postgresql"),
        ("djnago orm", "django-orm"),
        ("celerey", "celery"),
        ("redus", "redis"),
    ],
)
def test_misspelling_puts_the_intended_card_first(query: str, slug: str) -> None:
    assert _slugs(query)[0] == slug
    assert INDEX.search(query)[0].slug == slug
    found = INDEX.lookup(query)
    assert (found.card or found.candidates[0]).slug == slug  # "redus": Redis, or Redux?


@pytest.mark.parametrize(
    ("query", "slug"),
    [("lubernetes", "kubernetes"), ("xocker", "docker"), ("velery", "celery"), ("rostgresql", "postgresql")],
)
def test_misspelt_first_letter_still_finds_the_card(query: str, slug: str) -> None:
    assert _slugs(query)[0] == slug
    assert SERVICE.find(query).slug == slug


@pytest.mark.parametrize("query", ["", "   ", "\t"])
def test_empty_query_lists_cards_alphabetically(query: str) -> None:
    choices = INDEX.autocomplete(query)
    expected = sorted(KNOWLEDGE_BASE.cards, key=lambda card: card.title.lower())[: limits.AUTOCOMPLETE_CHOICES]
    assert len(choices) == limits.AUTOCOMPLETE_CHOICES
    assert [choice.value for choice in choices] == [card.slug for card in expected]


def test_choice_names_show_title_and_category() -> None:
    choice = next(choice for choice in INDEX.autocomplete("kubernetes") if choice.value == "kubernetes")
    assert choice.name == f"Kubernetes · {Category.DEVOPS.label}"


def test_nonsense_finds_nothing() -> None:
    assert INDEX.autocomplete("zzzzqqq") == []
    assert INDEX.lookup("zzzzqqq") == Lookup(None)


def test_limit_is_respected() -> None:
    assert len(INDEX.search("d", limit=3)) == 3
    assert len(INDEX.lookup("d").candidates) == 3


# --- TopicService.find ----------------------------------------------------------------------------------


def test_find_exact_slug_title_and_alias() -> None:
    assert SERVICE.find("kubernetes").slug == "kubernetes"
    assert SERVICE.find("Docker Compose").slug == "docker-compose"
    assert SERVICE.find("drf").slug == "django-rest-framework"


@pytest.mark.parametrize(
    ("typo", "slug"),
    [
        ("celerey", "celery"),
        ("jenkin", "jenkins"),
        ("fastpi", "fastapi"),
        ("kubernets", "kubernetes"),
        ("postgress", "postgresql"),
        ("djangoo", "django"),
    ],
)
def test_find_resolves_a_clear_typo(typo: str, slug: str) -> None:
    assert SERVICE.find(typo).slug == slug


def test_find_ambiguous_name_raises_with_suggestions() -> None:
    with pytest.raises(TopicNotFoundError) as info:
        SERVICE.find("orm")
    error = info.value
    assert error.query == "orm"
    assert set(error.suggestions) == {"Django ORM and QuerySets", "Query Optimization (Django ORM)"}
    assert "Did you mean **Django ORM and QuerySets**" in error.user_message
    assert "`orm`" in error.user_message


def test_find_unknown_name_raises_without_suggestions() -> None:
    with pytest.raises(TopicNotFoundError) as info:
        SERVICE.find("zzzzqqq")
    assert info.value.suggestions == ()
    assert "Did you mean" not in info.value.user_message
    assert "`zzzzqqq`" in info.value.user_message


_MESSAGE = re.compile(r"^No topic is called `(?P<shown>[^`]*)`\.")


def _assert_safe_message(error: TopicNotFoundError, query: str) -> None:
    message = error.user_message
    match = _MESSAGE.match(message)
    assert match is not None, message
    # Only the message's own backticks: one pair around the query, one around /topics.
    assert message.count("`") == 4
    shown = match["shown"]
    assert "`" not in shown
    assert len(shown) <= 60
    if len(query) <= 60:
        assert shown == query.replace("`", "'")


@pytest.mark.parametrize("query", ["zz`zz", "```", "`/topics`", "qqq" * 30 + "`", "`" * 80, "zq`" * 25])
def test_find_error_never_holds_a_raw_backtick(query: str) -> None:
    with pytest.raises(TopicNotFoundError) as info:
        SERVICE.find(query)
    _assert_safe_message(info.value, query)


@settings(deadline=None)  # correctness only: no timing
@given(query=st.text(max_size=120))
def test_find_on_any_text_returns_a_card_or_a_safe_error(query: str) -> None:
    found = _find_or_error(query)
    if isinstance(found, TopicNotFoundError):
        _assert_safe_message(found, query)
        assert len(found.suggestions) <= 3
    else:
        assert found.slug in SLUGS


def _find_or_error(query: str) -> TopicCard | TopicNotFoundError:
    try:
        return SERVICE.find(query)
    except TopicNotFoundError as error:
        return error


# --- autocomplete on anything -----------------------------------------------------------------------------


def _assert_valid_choices(index: TopicIndex, query: str, slugs: frozenset[str]) -> None:
    choices = index.autocomplete(query)
    assert len(choices) <= limits.AUTOCOMPLETE_CHOICES
    values = [choice.value for choice in choices]
    assert len(values) == len(set(values))
    for choice in choices:
        assert 1 <= len(choice.name) <= limits.CHOICE_NAME
        assert 1 <= len(choice.value) <= limits.CHOICE_VALUE
        assert choice.value in slugs


@settings(deadline=None)  # correctness only: no timing
@given(query=st.text())
def test_autocomplete_on_any_text_gives_valid_choices(query: str) -> None:
    _assert_valid_choices(INDEX, query, SLUGS)


# --- a large index ---------------------------------------------------------------------------------------

WORDS = [
    "async", "cache", "django", "docker", "graph", "kafka", "lambda", "model", "queue", "redis",
    "schema", "serverless", "stream", "token", "vector", "webhook", "worker", "yaml", "zone", "index",
]  # fmt: skip
SECTION = "Synthetic text for a synthetic card, long enough for every section of the format."


def _synthetic_cards(count: int) -> list[TopicCard]:
    categories = list(Category)
    cards = []
    for number in range(count):
        first, second = WORDS[number % len(WORDS)], WORDS[(number // len(WORDS)) % len(WORDS)]
        cards.append(
            TopicCard(
                title=f"{first.title()} {second} handbook {number}",
                slug=f"topic-{number}",
                category=categories[number % len(categories)],
                aliases=(f"{first}-{second}-{number}", f"t{number}"),
                summary=SECTION,
                key_points=SECTION,
                pitfalls=SECTION,
                reviewed=date(2026, 12, 7),
            )
        )
    return cards


LARGE_CARDS = _synthetic_cards(5000)
LARGE_INDEX = TopicIndex(LARGE_CARDS)
LARGE_SLUGS = frozenset(card.slug for card in LARGE_CARDS)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "a",
        "do",
        "docker",
        "docker cache",
        "handbook",
        "handbook 4",
        "t4999",
        "dokcer kafak",
        "zzzz",
        "4321",
    ],
)
def test_large_index_answers_with_at_most_25_choices(query: str) -> None:
    _assert_valid_choices(LARGE_INDEX, query, LARGE_SLUGS)


def test_large_index_finds_exact_and_prefixed_names() -> None:
    assert len(LARGE_INDEX) == 5000
    assert LARGE_INDEX.autocomplete("t4999")[0].value == "topic-4999"
    assert LARGE_INDEX.resolve("Docker Redis handbook 4983") is LARGE_INDEX.get("topic-4983")
    assert len(LARGE_INDEX.autocomplete("docker")) == limits.AUTOCOMPLETE_CHOICES
    assert all(choice.name.startswith("Docker ") for choice in LARGE_INDEX.autocomplete("docker"))


@settings(deadline=None)  # correctness only: no timing
@given(query=st.text(max_size=40))
def test_large_index_autocomplete_on_any_text(query: str) -> None:
    _assert_valid_choices(LARGE_INDEX, query, LARGE_SLUGS)


# --- a learner's track first -------------------------------------------------------------------------------


def test_a_track_puts_its_categories_first_without_losing_the_rest() -> None:
    plain = INDEX.search("re", limit=25)
    frontend = INDEX.search("re", limit=25, prefer=categories_for_track("frontend"))
    backend = INDEX.search("re", limit=25, prefer=categories_for_track("backend"))
    for ordered in (frontend, backend):
        assert len(ordered) == len(plain)
    front = [card.category in FRONTEND_CATEGORIES for card in frontend]
    assert front == sorted(front, reverse=True), "frontend cards first, then the rest"
    back = [card.category not in FRONTEND_CATEGORIES for card in backend]
    assert back == sorted(back, reverse=True), "backend cards first, then the rest"
    assert any(front), "'re' finds React cards"
    assert categories_for_track(None) == frozenset()
    assert INDEX.search("re", limit=25, prefer=categories_for_track(None)) == plain


def test_an_empty_query_lists_the_tracks_cards_first() -> None:
    choices = INDEX.autocomplete("", prefer=categories_for_track("frontend"))
    assert len(choices) == limits.AUTOCOMPLETE_CHOICES
    assert all(INDEX.get(choice.value).category in FRONTEND_CATEGORIES for choice in choices[:20])  # type: ignore[union-attr]


class CountingTracks:
    def __init__(self) -> None:
        self.calls = 0

    async def track_of(self, guild_id: int, user_id: int) -> str | None:
        self.calls += 1
        return "frontend" if user_id == 1 else None


async def test_a_members_track_is_read_once_per_ttl_and_never_outside_a_server() -> None:
    now = [0.0]
    tracks = CountingTracks()
    service = TopicService(KNOWLEDGE_BASE, NoSolvedChallenges(), tracks=tracks, clock=lambda: now[0])
    assert await service.learner_track(None, 1) is None
    assert tracks.calls == 0
    assert await service.learner_track(10, 1) == "frontend"
    assert await service.learner_track(10, 1) == "frontend"
    assert await service.learner_track(10, 2) is None
    assert tracks.calls == 2
    now[0] = TopicService.TRACK_TTL + 1
    assert await service.learner_track(10, 1) == "frontend"
    assert tracks.calls == 3
    first = service.autocomplete("", "frontend")[0]
    assert INDEX.get(first.value).category in FRONTEND_CATEGORIES  # type: ignore[union-attr]


def test_lookup_on_a_large_index_resolves_names_and_asks_between_many() -> None:
    assert LARGE_INDEX.lookup("t4999").card is LARGE_INDEX.get("topic-4999")
    assert LARGE_INDEX.lookup("Docker Redis handbook 4983").card is LARGE_INDEX.get("topic-4983")
    many = LARGE_INDEX.lookup("handbook")
    assert many.card is None
    assert len(many.candidates) == 3
