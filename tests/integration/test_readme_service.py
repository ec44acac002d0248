"""The README's data and `/nexus profile`'s choices on both engines: one server's live entries of the member only,
partners named only when credited, nothing of forgotten members; forget-me deletes the choices; and the offline
`nexus-bot readme`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import cli
from bot.app import build_services
from bot.client import Services
from bot.community.readme import NOTHING_LOGGED, Partner
from bot.config import load_settings
from bot.core.errors import NotFoundError
from bot.db import migrate
from bot.db.engine import create_engine, create_session_factory
from bot.db.models import LearnerProfile, Pair, PairRequest, StudySession
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.runtime.paths import default_data_dir
from bot.services.challenges import Person
from bot.services.readme import MemberChoiceSettings

GUILD = 1001
OTHER_GUILD = 2002
CHANNEL = 3003
ADA = Person(11, "Ada")
GRACE = Person(12, "Grace")
LINUS = Person(13, "Linus")
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def knowledge_base() -> KnowledgeBase:
    return load_knowledge_base(default_data_dir() / "topics")


@pytest.fixture
def services(engine: AsyncEngine, database_url: str, knowledge_base: KnowledgeBase) -> Services:
    settings = load_settings(_env_file=None, DISCORD_TOKEN="x", DATABASE_URL=database_url)
    return build_services(settings, engine, knowledge_base)


async def _populate(services: Services, engine: AsyncEngine) -> None:
    """Ada's history in GUILD (and one challenge in OTHER_GUILD); Grace credits herself, Linus does not."""
    log = services.challenges
    integrity = await log.log_challenge(
        guild_id=GUILD,
        channel_id=CHANNEL,
        author=ADA,
        title="IntegrityError on signup",
        details="IntegrityError: duplicate key value violates unique constraint",
        topics="keys-and-constraints",
    )
    grace_fix = await log.add_solution(
        guild_id=GUILD, challenge_id=integrity.challenge.id, author=GRACE, body="Catch it in transaction.atomic()."
    )
    await log.accept(GUILD, integrity.challenge.id, grace_fix.solution.id, ADA)
    gateway = await log.log_challenge(
        guild_id=GUILD,
        channel_id=CHANNEL,
        author=ADA,
        title="nginx 502 Bad Gateway behind gunicorn",
        details="Only in Docker.",
        topics="docker",
    )
    linus_fix = await log.add_solution(
        guild_id=GUILD, challenge_id=gateway.challenge.id, author=LINUS, body="Bind gunicorn to 0.0.0.0."
    )
    await log.accept(GUILD, gateway.challenge.id, linus_fix.solution.id, ADA)
    await log.log_challenge(
        guild_id=GUILD, channel_id=CHANNEL, author=ADA, title="Redis cache is stale", topics="redis"
    )
    deleted = await log.log_challenge(guild_id=GUILD, channel_id=CHANNEL, author=ADA, title="A mistaken post")
    await log.delete(GUILD, deleted.challenge.id, ADA)
    await log.log_challenge(guild_id=OTHER_GUILD, channel_id=CHANNEL, author=ADA, title="Elsewhere entirely")
    graces = await log.log_challenge(
        guild_id=GUILD, channel_id=CHANNEL, author=GRACE, title="Celery loses tasks", topics="celery"
    )
    ada_answer = await log.add_solution(
        guild_id=GUILD, challenge_id=graces.challenge.id, author=ADA, body="task_acks_late = True"
    )
    await log.accept(GUILD, graces.challenge.id, ada_answer.solution.id, GRACE)
    linus_own = await log.log_challenge(guild_id=GUILD, channel_id=CHANNEL, author=LINUS, title="CORS blocked")
    await log.add_solution(guild_id=GUILD, challenge_id=linus_own.challenge.id, author=ADA, body="Add the origin.")
    # Profiles, pairs and sessions as the pairing flow would have written them, at chosen dates.
    async with create_session_factory(engine).begin() as session:
        for person, track in ((ADA, "backend"), (GRACE, "backend"), (LINUS, "frontend")):
            session.add(LearnerProfile(guild_id=GUILD, user_id=person.id, display_name=person.name, track=track))
        request = PairRequest(
            guild_id=GUILD, user_id=LINUS.id, track="frontend", looking_for="backend", state="matched", closed_at=NOW
        )
        session.add(request)
        await session.flush()
        session.add_all(
            [
                Pair(
                    guild_id=GUILD,
                    user_low=ADA.id,
                    user_high=GRACE.id,
                    shared_topics=("docker", "rest-api-design"),
                    matched_at=NOW - timedelta(days=20),
                    ended_at=NOW - timedelta(days=10),
                ),
                Pair(
                    guild_id=GUILD,
                    user_low=ADA.id,
                    user_high=LINUS.id,
                    request_high_id=request.id,
                    shared_topics=("api-contracts",),
                    matched_at=NOW - timedelta(days=5),
                ),
                Pair(guild_id=OTHER_GUILD, user_low=ADA.id, user_high=LINUS.id, matched_at=NOW),
            ]
        )
        session.add_all(
            [
                StudySession(
                    guild_id=GUILD,
                    organiser_id=ADA.id,
                    partner_id=GRACE.id,
                    starts_at=NOW - timedelta(days=15),
                    duration_minutes=60,
                    topic="docker",
                ),
                StudySession(
                    guild_id=GUILD,
                    organiser_id=LINUS.id,
                    partner_id=ADA.id,
                    starts_at=NOW - timedelta(days=2),
                    duration_minutes=45,
                ),
                # Not held: one still to come, one cancelled.
                StudySession(
                    guild_id=GUILD, organiser_id=ADA.id, partner_id=GRACE.id, starts_at=NOW + timedelta(days=2)
                ),
                StudySession(
                    guild_id=GUILD,
                    organiser_id=ADA.id,
                    partner_id=GRACE.id,
                    starts_at=NOW - timedelta(days=3),
                    state="cancelled",
                ),
            ]
        )
    await services.challenges.delete(GUILD, linus_own.challenge.id, LINUS)  # Ada's answer to it goes with it
    await services.readme.set_choices(GUILD, GRACE.id, "Grace H.", credit=True)
    await services.readme.set_choices(GUILD, LINUS.id, "Linus", web=True)


async def test_history_holds_the_members_live_entries_of_this_server(services: Services, engine: AsyncEngine) -> None:
    await _populate(services, engine)

    history = await services.readme.history(GUILD, ADA.id, "Ada")

    assert [challenge.title for challenge in history.challenges] == [
        "Redis cache is stale",
        "nginx 502 Bad Gateway behind gunicorn",
        "IntegrityError on signup",
    ]
    assert (history.challenges_total, history.challenges_solved) == (3, 2)
    integrity = history.challenges[2]
    assert integrity.errors == ("IntegrityError", "SQLSTATE 23505")
    assert integrity.solution == "Catch it in transaction.atomic()."
    assert integrity.solved_by == Partner("Grace H.", "backend")
    gateway = history.challenges[1]
    assert gateway.errors == ("HTTP 502",)
    assert gateway.solved_by == Partner(None, "frontend")
    assert history.challenges[0].solution is None
    assert [(solution.challenge_title, solution.accepted) for solution in history.solutions] == [
        ("Celery loses tasks", True)
    ]
    assert (history.solutions_total, history.solutions_accepted) == (1, 1)
    # The topics of her three live challenges and of Grace's she answered (some inferred from the text), each once;
    # none from the deleted challenge she answered ("CORS blocked").
    uses = {topic.slug: topic.uses for topic in history.topics}
    assert {"celery", "docker", "keys-and-constraints", "redis"} <= set(uses)
    assert "cors" not in uses
    assert set(uses.values()) == {1}
    assert [topic.title for topic in history.topics] == sorted((t.title for t in history.topics), key=str.casefold)
    assert history.pairs_total == 2
    assert [(pair.partner, pair.topics) for pair in history.pairs] == [
        (Partner(None, "frontend"), ("Frontend-Backend API Contracts",)),
        (Partner("Grace H.", "backend"), ("Docker", "REST API Design")),
    ]
    assert (history.sessions_total, history.session_minutes) == (2, 105)
    assert [(item.partner, item.topic) for item in history.sessions] == [
        (Partner(None, "frontend"), None),
        (Partner("Grace H.", "backend"), "Docker"),
    ]
    assert history.track == "backend"

    written = await services.readme.readme(GUILD, ADA.id, name="Ada", community="Nexus test")
    assert "Elsewhere entirely" not in written.document
    assert "A mistaken post" not in written.document
    assert "CORS blocked" not in written.document
    assert "Linus" not in written.document
    assert "Grace H., a backend learner" in written.document
    assert written.filename.endswith(".md")


async def test_forgotten_members_leave_no_trace_and_their_choices_go(services: Services, engine: AsyncEngine) -> None:
    await _populate(services, engine)
    await services.readme.set_choices(GUILD, LINUS.id, "Linus", credit=True)
    assert (await services.privacy.footprint(GUILD, LINUS.id)).choices

    await services.privacy.forget_me(GUILD, LINUS.id)

    assert await services.readme.choices(GUILD, LINUS.id) == MemberChoiceSettings(None, False)
    assert not (await services.privacy.footprint(GUILD, LINUS.id)).choices
    history = await services.readme.history(GUILD, ADA.id)
    assert history.challenges[1].solved_by == Partner(None, None)  # anonymised: no name, no track
    assert history.pairs_total == 1
    assert history.sessions_total == 1
    assert "Linus" not in (await services.readme.readme(GUILD, ADA.id, community="x")).document
    with pytest.raises(NotFoundError) as nothing:
        await services.readme.readme(GUILD, LINUS.id, community="x")
    assert nothing.value.user_message == NOTHING_LOGGED


async def test_an_erased_solution_is_not_shown_as_the_solution(services: Services, engine: AsyncEngine) -> None:
    await _populate(services, engine)

    await services.privacy.forget_me(GUILD, LINUS.id, erase_text=True)

    gateway = (await services.readme.history(GUILD, ADA.id)).challenges[1]
    assert gateway.title == "nginx 502 Bad Gateway behind gunicorn"
    assert gateway.solved_at is not None
    assert (gateway.solution, gateway.solved_by) == (None, None)


async def test_choices_keep_what_was_not_given(services: Services) -> None:
    readme = services.readme
    assert await readme.choices(GUILD, ADA.id) == MemberChoiceSettings(None, False)
    assert await readme.set_choices(GUILD, ADA.id, "Ada", web=True) == MemberChoiceSettings(True, False)
    assert await readme.set_choices(GUILD, ADA.id, "Ada L.", credit=True) == MemberChoiceSettings(True, True)
    assert await readme.set_choices(GUILD, ADA.id, "Ada L.", web=False) == MemberChoiceSettings(False, True)
    assert await readme.choices(OTHER_GUILD, ADA.id) == MemberChoiceSettings(None, False)
    assert await services.privacy.servers_of(ADA.id) == [GUILD]


async def test_a_member_with_nothing_logged_is_told_how_to_start(services: Services) -> None:
    await services.readme.set_choices(GUILD, ADA.id, "Ada", credit=True)  # choices alone are no history
    with pytest.raises(NotFoundError) as nothing:
        await services.readme.readme(GUILD, ADA.id, community="x")
    assert "/challenge new" in nothing.value.user_message


def test_offline_readme_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'nexus.db'}"
    knowledge_base = load_knowledge_base(default_data_dir() / "topics")

    async def prepare() -> None:
        engine = create_engine(url)
        try:
            await migrate.upgrade(engine)
            settings = load_settings(_env_file=None, DISCORD_TOKEN="x", DATABASE_URL=url)
            await _populate(build_services(settings, engine, knowledge_base), engine)
        finally:
            await engine.dispose()

    asyncio.run(prepare())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    output = tmp_path / "README.md"

    assert cli.main(["readme", "--guild", str(GUILD), "--member", str(ADA.id), "-o", str(output)]) == 0

    document = output.read_text(encoding="utf-8")
    assert document.startswith("# ALX Project Nexus: Ada\n")
    assert "### Challenge 1: IntegrityError on signup" in document
    assert "README of member 11 written to" in capsys.readouterr().err
    assert cli.main(["readme", "--guild", str(GUILD), "--member", "999"]) == 1
    assert "Nexus has nothing logged for you" in capsys.readouterr().err
    assert cli.main(["readme", "--guild", str(GUILD), "--member", str(ADA.id)]) == 0
    assert capsys.readouterr().out == document
