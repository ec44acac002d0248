"""`/topic`, `/topics` and the delete button, end to end through the real discord.py client."""

from __future__ import annotations

from bot.client import NexusBot
from bot.knowledge.cards import FRONTEND_CATEGORIES
from tests.e2e.server import FakeDiscord
from tests.e2e.users import FakeUser


async def test_topic_card_is_public_with_a_delete_button(nexus: NexusBot, learner: FakeUser) -> None:
    answer = await learner.slash("topic", name="docker")
    assert not answer.ephemeral
    embed = answer.embed
    assert embed["title"] == "Docker"
    assert [field["name"] for field in embed["fields"]][:2] == ["Key points", "Common pitfalls"]
    assert "Official docs" in [field["name"] for field in embed["fields"]]
    assert answer.message["components"][0]["components"][0]["label"] == "Delete"
    assert answer.message["mentions"] == []
    assert answer.message["allowed_mentions"]["parse"] == []


async def test_aliases_and_misspellings_resolve(nexus: NexusBot, learner: FakeUser) -> None:
    for typed, title in [
        ("k8s", "Kubernetes"),
        ("drf", "Django REST Framework (DRF)"),
        ("kubernets", "Kubernetes"),
    ]:
        answer = await learner.slash("topic", name=typed, private=True)
        assert answer.embed["title"] == title, typed


async def test_names_typed_and_sent_resolve_to_their_card(nexus: NexusBot, learner: FakeUser) -> None:
    for typed, title in [
        ("async", "Async/Await and asyncio"),
        ("channels", "WebSockets and Django Channels"),
        ("djnago", "Django"),
        ("react", "React components, JSX, props and state"),
        ("next.js", "Next.js App Router, layouts and file-based routing"),
        ("useEffect", "React effects (useEffect), dependencies and cleanup"),
        ("dock", "Docker"),
    ]:
        answer = await learner.slash("topic", name=typed, private=True)
        assert answer.embed["title"] == title, typed


async def test_unknown_topic_answers_privately_with_suggestions(nexus: NexusBot, learner: FakeUser) -> None:
    answer = await learner.slash("topic", name="orm")
    assert answer.ephemeral
    assert "No topic is called `orm`" in answer.content
    assert "Did you mean" in answer.content
    assert "**Django ORM and QuerySets**" in answer.content
    nothing = await learner.slash("topic", name="qqqqzzzz")
    assert nothing.ephemeral
    assert "/topics" in nothing.content
    assert "Did you mean" not in nothing.content


async def test_private_card_is_ephemeral_without_delete_button(nexus: NexusBot, learner: FakeUser) -> None:
    answer = await learner.slash("topic", name="jwt", private=True)
    assert answer.ephemeral
    assert "JWT" in answer.embed["title"]
    assert answer.message["components"] == []


async def test_card_addressed_to_a_member_pings_only_that_member(
    nexus: NexusBot, learner: FakeUser, other_learner: FakeUser, discord_server: FakeDiscord
) -> None:
    discord_server.members[learner.id]["user"]["global_name"] = "@everyone <@&1>"
    answer = await learner.slash("topic", name="redis", user=other_learner.id)
    assert answer.content.startswith(f"<@{other_learner.id}>")
    assert [user["id"] for user in answer.message["mentions"]] == [str(other_learner.id)]
    assert answer.message["mention_roles"] == []
    assert answer.message["mention_everyone"] is False


async def test_only_the_asker_or_a_moderator_can_delete_a_card(
    nexus: NexusBot, learner: FakeUser, other_learner: FakeUser, mentor: FakeUser
) -> None:
    card = await learner.slash("topic", name="celery")
    refused = await other_learner.click(card.message, "Delete")
    assert refused.ephemeral
    assert "Only the person who asked" in refused.content
    assert not card.message.get("deleted")
    await learner.click(card.message, "Delete")
    assert card.message.get("deleted")

    second = await learner.slash("topic", name="rabbitmq")
    await mentor.click(second.message, "Delete")
    assert second.message.get("deleted")


async def test_public_cards_are_rate_limited_per_user_private_ones_are_not(
    nexus: NexusBot, learner: FakeUser, other_learner: FakeUser
) -> None:
    for name in ("git", "docker", "redis"):
        assert not (await learner.slash("topic", name=name)).ephemeral
    blocked = await learner.slash("topic", name="celery")
    assert blocked.ephemeral
    assert "Slow down" in blocked.content
    assert (await learner.slash("topic", name="celery", private=True)).embed["title"].startswith("Celery")
    assert not (await other_learner.slash("topic", name="celery")).ephemeral


async def test_autocomplete_answers_aliases_prefixes_and_typos(nexus: NexusBot, learner: FakeUser) -> None:
    assert (await learner.autocomplete("topic", "name", "k8s"))[0]["value"] == "kubernetes"
    assert (await learner.autocomplete("topic", "name", "postgress"))[0]["value"] == "postgresql"
    docker = await learner.autocomplete("topic", "name", "dock")
    assert {"docker", "docker-compose"} <= {choice["value"] for choice in docker}
    everything = await learner.autocomplete("topic", "name", "")
    assert len(everything) == 25
    assert all(1 <= len(choice["name"]) <= 100 for choice in everything)


async def test_a_frontend_learner_is_offered_frontend_cards_first(nexus: NexusBot, learner: FakeUser) -> None:
    cards = nexus.services.topics.knowledge_base.by_slug
    before = [cards[choice["value"]].category for choice in await learner.autocomplete("topic", "name", "")]
    assert any(category not in FRONTEND_CATEGORIES for category in before), "alphabetical: both tracks"
    await learner.slash("pair request", track="frontend", topics="react, typescript")
    after = [cards[choice["value"]].category for choice in await learner.autocomplete("topic", "name", "")]
    assert len(after) == 25
    assert all(category in FRONTEND_CATEGORIES for category in after)
    typed = [
        cards[choice["value"]].category in FRONTEND_CATEGORIES
        for choice in await learner.autocomplete("topic", "name", "re")
    ]
    assert typed == sorted(typed, reverse=True), "frontend cards first, then the rest"
    assert True in typed
    assert False in typed
    # Between cards of both tracks, the learner's track decides what a typed name means.
    keys = await learner.slash("topic", name="keys", private=True)
    assert keys.embed["title"] == "React rendering, keys, memo and hydration errors"


async def test_topics_browser_opens_categories_and_cards(nexus: NexusBot, learner: FakeUser) -> None:
    overview = await learner.slash("topics")
    assert overview.ephemeral
    assert overview.embed["title"] == "Topics of the ProDev programme"
    page = await learner.select(overview.message, "Choose a category…", "security")
    assert page.response_type == 7
    assert page.embed["title"] == "Topics · Security"
    card = await learner.select(page.message, "Open a topic card…", "oauth2")
    assert card.embed["title"].startswith("OAuth")


async def test_topics_can_start_in_a_category(nexus: NexusBot, learner: FakeUser) -> None:
    page = await learner.slash("topics", category="databases")
    assert page.embed["title"] == "Topics · Databases"
    menu = page.message["components"][1]["components"][0]
    assert {option["value"] for option in menu["options"]} >= {"postgresql", "indexing"}


async def test_nexus_about(nexus: NexusBot, learner: FakeUser) -> None:
    answer = await learner.slash("nexus about")
    assert answer.ephemeral
    fields = {field["name"]: field["value"] for field in answer.embed["fields"]}
    assert fields["Topics"] == str(len(nexus.services.topics.knowledge_base))
    assert fields["Servers"] == "1"
    assert fields["Gateway latency"].endswith("ms")
