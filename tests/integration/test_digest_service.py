"""The weekly digest's service on both engines: what a server's week holds (its live entries only, no forgotten
member's name, nothing of another server), when a digest is due, and claims that let exactly one sender post it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.challenges.digest import render_digest
from bot.db.engine import create_session_factory
from bot.db.models import Challenge, ChallengeTopic, Pair, PairRequest, SessionRating, Solution, StudySession
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.runtime.paths import default_data_dir
from bot.services.challenges import ANONYMOUS, ERASED_TITLE, SolvedChallengeLog
from bot.services.digest import CLAIM_LEASE, DigestService, digest_nonce
from bot.services.guild_settings import GuildSettingsService
from bot.services.topics import TopicService

GUILD, OTHER = 1001, 2002
CHANNEL = 555
SLOT = datetime(2026, 12, 7, 9, tzinfo=UTC)  # Monday 09:00 UTC: the default schedule
WEEK_START = SLOT - timedelta(days=7)
IN_WEEK = WEEK_START + timedelta(days=2)
LAST_WEEK = WEEK_START - timedelta(days=3)


@pytest.fixture(scope="module")
def knowledge_base() -> KnowledgeBase:
    return load_knowledge_base(default_data_dir() / "topics")


@pytest.fixture
def digest(engine: AsyncEngine, knowledge_base: KnowledgeBase) -> DigestService:
    sessions = create_session_factory(engine)
    return DigestService(sessions, TopicService(knowledge_base, SolvedChallengeLog(sessions)))


@pytest.fixture
def guild_settings(engine: AsyncEngine) -> GuildSettingsService:
    return GuildSettingsService(create_session_factory(engine))


def _challenge(
    guild_id: int, title: str, created: datetime, *, topics: tuple[str, ...] = (), **values: object
) -> Challenge:
    challenge = Challenge(
        guild_id=guild_id,
        channel_id=values.pop("channel_id", 77),
        author_id=values.pop("author_id", 1),
        author_name=values.pop("author_name", "ada"),
        title=title,
        created_at=created,
        updated_at=created,
        **values,
    )
    challenge.topics = [ChallengeTopic(slug=slug, position=index) for index, slug in enumerate(topics)]
    return challenge


def _accepted(challenge: Challenge, author_id: int | None, name: str, when: datetime, **values: object) -> Solution:
    return Solution(
        challenge=challenge,
        guild_id=challenge.guild_id,
        author_id=author_id,
        author_name=name,
        body="do this",
        accepted=True,
        accepted_at=when,
        created_at=when,
        **values,
    )


async def _add(engine: AsyncEngine, *rows: object) -> None:
    async with create_session_factory(engine).begin() as session:
        session.add_all(rows)


async def test_the_week_holds_this_servers_live_entries_and_no_forgotten_names(
    engine: AsyncEngine, digest: DigestService, guild_settings: GuildSettingsService
) -> None:
    oldest = _challenge(GUILD, "Oldest open", WEEK_START - timedelta(days=30), topics=("docker",), source_message_id=9)
    newer_open = _challenge(GUILD, "Newer open", IN_WEEK, topics=("docker", "redis"))
    erased = _challenge(GUILD, ERASED_TITLE, WEEK_START - timedelta(days=40), author_id=None, author_name=ANONYMOUS)
    deleted_open = _challenge(GUILD, "Deleted open", WEEK_START - timedelta(days=50), deleted_at=IN_WEEK)
    solved = _challenge(GUILD, "Solved", IN_WEEK, topics=("docker",), status="solved", solved_at=IN_WEEK)
    solved_by_forgotten = _challenge(GUILD, "Solved 2", IN_WEEK, status="solved", solved_at=IN_WEEK)
    last_week = _challenge(GUILD, "Last week", LAST_WEEK, topics=("redis", "redis-caching"))
    deleted_solved = _challenge(
        GUILD, "Deleted solved", IN_WEEK, topics=("django",), status="solved", solved_at=IN_WEEK, deleted_at=IN_WEEK
    )
    elsewhere = _challenge(OTHER, "Other server", IN_WEEK, topics=("docker",), status="solved", solved_at=IN_WEEK)
    await _add(
        engine,
        oldest,
        newer_open,
        erased,
        deleted_open,
        solved,
        solved_by_forgotten,
        last_week,
        deleted_solved,
        elsewhere,
        _accepted(solved, 5, "grace", IN_WEEK),
        _accepted(solved_by_forgotten, None, ANONYMOUS, IN_WEEK),
        _accepted(deleted_solved, 6, "mallory", IN_WEEK),
        _accepted(elsewhere, 7, "eve", IN_WEEK),
    )
    pair = Pair(guild_id=GUILD, user_low=1, user_high=2, matched_at=IN_WEEK)
    other_pair = Pair(guild_id=OTHER, user_low=1, user_high=2, matched_at=IN_WEEK)
    held = StudySession(guild_id=GUILD, organiser_id=1, partner_id=2, starts_at=IN_WEEK, state="scheduled")
    cancelled = StudySession(guild_id=GUILD, organiser_id=1, partner_id=2, starts_at=IN_WEEK, state="cancelled")
    await _add(
        engine,
        pair,
        other_pair,
        held,
        cancelled,
        PairRequest(guild_id=GUILD, user_id=3, track="frontend", looking_for="backend", created_at=IN_WEEK),
        PairRequest(guild_id=GUILD, user_id=4, track="frontend", looking_for="backend", created_at=IN_WEEK),
        PairRequest(guild_id=OTHER, user_id=4, track="backend", looking_for="frontend", created_at=IN_WEEK),
    )
    await _add(
        engine,
        SessionRating(session_id=held.id, rater_id=1, ratee_id=2, value=1),
        SessionRating(session_id=held.id, rater_id=2, ratee_id=1, value=-1),
    )
    await guild_settings.update(GUILD, digest_channel_id=CHANNEL, now=WEEK_START - timedelta(days=1))
    (due,) = await digest.due(SLOT)
    assert (due.guild_id, due.week, due.slot, due.channel_id) == (GUILD, "2026-W50", SLOT, CHANNEL)
    week = await digest.digest_for(due, SLOT)
    assert (week.logged, week.solved) == (3, 2)  # newer open, solved, solved 2: not deleted ones, not others'
    assert [challenge.title for challenge in week.needing_help] == ["Oldest open", "Last week", "Newer open"]
    assert week.open_total == 3
    assert week.needing_help[0].url == f"https://discord.com/channels/{GUILD}/77/9"
    assert week.needing_help[0].topics == ("Docker",)
    assert week.needing_help[2].url is None
    assert [(solver.name, solver.accepted) for solver in week.solvers] == [("grace", 1)]
    assert week.solvers_total == 1
    assert week.topics_this_week == {"Docker": 2, "Redis": 1}
    assert week.topics_last_week == {"Redis": 1, "redis-caching": 1}  # a slug with no card shows as typed
    assert (week.new_pairs, week.sessions_held, week.ratings) == (1, 1, (1, 0, 1))
    assert week.waiting_by_track == {"frontend": 2}
    rendered = render_digest(week, due.schedule)
    text = str(rendered)
    for hidden in ("mallory", "eve", "Other server", "Deleted", ANONYMOUS, ERASED_TITLE):
        assert hidden not in text


async def test_a_digest_set_up_after_this_weeks_moment_waits_for_next_week(
    digest: DigestService, guild_settings: GuildSettingsService
) -> None:
    await guild_settings.update(
        GUILD, digest_channel_id=CHANNEL, digest_day=0, digest_hour=9, now=SLOT + timedelta(hours=1)
    )
    assert await digest.due(SLOT + timedelta(hours=2)) == []
    (due,) = await digest.due(SLOT + timedelta(days=7))
    assert due.week == "2026-W51"
    # A server without a digest channel has none.
    await guild_settings.update(OTHER, digest_day=3, now=SLOT - timedelta(days=30))
    assert [due.guild_id for due in await digest.due(SLOT + timedelta(days=7))] == [GUILD]


async def test_two_concurrent_claimers_post_once_and_a_dead_claim_is_taken_over_after_the_lease(
    digest: DigestService, guild_settings: GuildSettingsService
) -> None:
    await guild_settings.update(GUILD, digest_channel_id=CHANNEL, now=WEEK_START - timedelta(days=1))
    (due,) = await digest.due(SLOT)
    won = await asyncio.gather(*(digest.claim(due, SLOT) for _ in range(2)))
    assert sorted(won) == [False, True]
    assert await digest.state(GUILD, due.week) == "claimed"
    # While the claim is live nobody else sends; once its sender is presumed dead, one (only) takes it over.
    assert await digest.due(SLOT + CLAIM_LEASE / 2) == []
    later = SLOT + CLAIM_LEASE + timedelta(seconds=1)
    (again,) = await digest.due(later)
    assert again.nonce == due.nonce == digest_nonce(GUILD, "2026-W50")
    taken = await asyncio.gather(*(digest.claim(again, later) for _ in range(2)))
    assert sorted(taken) == [False, True]
    await digest.sent(again, 4242, later)
    assert await digest.state(GUILD, due.week) == "sent"
    assert await digest.due(later + timedelta(days=1)) == []
    assert not await digest.claim(again, later + timedelta(days=1))


async def test_a_skipped_week_is_not_retried_but_next_week_is_due(
    digest: DigestService, guild_settings: GuildSettingsService
) -> None:
    await guild_settings.update(GUILD, digest_channel_id=CHANNEL, now=WEEK_START - timedelta(days=1))
    (due,) = await digest.due(SLOT)
    assert await digest.claim(due, SLOT)
    await digest.skipped(due, SLOT)
    assert await digest.state(GUILD, due.week) == "skipped"
    assert await digest.due(SLOT + timedelta(days=1)) == []
    (next_week,) = await digest.due(SLOT + timedelta(days=7))
    assert next_week.week == "2026-W51"
    assert next_week.nonce != due.nonce


async def test_the_preview_covers_the_last_seven_days(engine: AsyncEngine, digest: DigestService) -> None:
    await _add(
        engine,
        _challenge(GUILD, "Recent", SLOT - timedelta(days=1)),
        _challenge(GUILD, "Old", SLOT - timedelta(days=8)),
    )
    week = await digest.preview(GUILD, SLOT)
    assert (week.start, week.end, week.logged, week.open_total) == (SLOT - timedelta(days=7), SLOT, 1, 2)
