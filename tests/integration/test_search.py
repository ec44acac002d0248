"""Search over a log with more matches than the engines rank: real databases migrated to head.

Most tests run on each engine (`database_url` of tests/conftest.py: a SQLite file, and PostgreSQL where its
binaries are installed). The ones about the SQLite plan (candidate windows, cached frequencies, the query
plan) use a SQLite file only. Nothing here is timed: the benchmark measures; these pin down behaviour.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_services
from bot.challenges.errortext import error_signatures
from bot.challenges.query import parse_query
from bot.config import load_settings
from bot.core.errors import InvalidInputError
from bot.db import migrate, search
from bot.db.base import utcnow
from bot.db.engine import create_engine, create_session_factory
from bot.db.models import Challenge
from bot.db.search import search_engine_for
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.runtime.paths import default_data_dir
from bot.services.challenges import ChallengeService, Person

GUILD = 1001
OTHER_GUILD = 2002
CHANNEL = 3003
MODERATOR = Person(99, "Mod", is_moderator=True)
FILLER = "It happens on the staging server after the last deploy, and the logs show nothing useful."


@dataclass(frozen=True)
class Post:
    title: str
    details: str = FILLER
    guild: int = GUILD
    status: str = "open"


# --- fixtures and helpers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def knowledge_base() -> KnowledgeBase:
    return load_knowledge_base(default_data_dir() / "topics")


@pytest.fixture
def log(engine: AsyncEngine, database_url: str, knowledge_base: KnowledgeBase) -> ChallengeService:
    settings = load_settings(_env_file=None, DISCORD_TOKEN="x", DATABASE_URL=database_url)
    return build_services(settings, engine, knowledge_base).challenges


async def _add(engine: AsyncEngine, posts: Sequence[Post]) -> list[int]:
    """Rows straight into the tables (the triggers index them), oldest first; their ids, in order."""
    start = utcnow() - timedelta(days=30)
    challenges = [
        Challenge(
            guild_id=post.guild,
            channel_id=CHANNEL,
            author_id=11,
            author_name="Ann",
            title=post.title,
            details=post.details,
            error_terms=" ".join(error_signatures(f"{post.title}\n{post.details}")),
            status=post.status,
            created_at=start + timedelta(minutes=index),
        )
        for index, post in enumerate(posts)
    ]
    async with create_session_factory(engine).begin() as session:
        session.add_all(challenges)
        await session.flush()
        return [challenge.id for challenge in challenges]


async def _ids(log: ChallengeService, query: str, *, guild: int = GUILD, limit: int = 5) -> list[int]:
    return [result.challenge.id for result in await log.search(guild, query, limit=limit)]


# --- common words ---------------------------------------------------------------------------------------------


async def test_a_word_in_every_row_finds_the_newest_title_matches_first(
    log: ChallengeService, engine: AsyncEngine
) -> None:
    # 300 rows say "error" in their details; every fifth in its title too. Only the newest CANDIDATES
    # matches are ranked, and among them the title matches come first, newest first.
    posts = [Post(f"Build {n} {'error' if n % 5 == 0 else 'problem'}", f"{FILLER} error {n}") for n in range(300)]
    ids = await _add(engine, posts)
    results = await log.search(GUILD, "error")
    assert search.CANDIDATES >= 25
    assert [result.challenge.id for result in results] == [ids[n] for n in (295, 290, 285, 280, 275)]
    assert all("**error**" in result.snippet.lower() for result in results)
    # A word that is in every row, alone, still gets an answer.
    assert len(await _ids(log, "the")) == 5


async def test_all_words_first_among_rows_full_of_each_word(log: ChallengeService, engine: AsyncEngine) -> None:
    both = await _add(engine, [Post(f"docker compose stack {n}") for n in range(3)])
    await _add(
        engine, [Post(f"docker image {n}") for n in range(120)] + [Post(f"compose file {n}") for n in range(120)]
    )
    assert sorted(await _ids(log, "docker compose", limit=10)) == sorted(both)


async def test_any_word_when_no_row_has_them_all(log: ChallengeService, engine: AsyncEngine) -> None:
    redis = await _add(engine, [Post("redis eviction policy")])
    kube = await _add(engine, [Post("kubernetes pod restarts")])
    assert set(await _ids(log, "redis kubernetes zyxwvut")) == {*redis, *kube}
    assert await _ids(log, "zyxwvut qwertyuiop") == []


# --- error text -----------------------------------------------------------------------------------------------


async def test_a_pasted_error_ranks_the_rows_that_report_it_above_newer_loose_mentions(
    log: ChallengeService, engine: AsyncEngine
) -> None:
    reported = await _add(
        engine,
        [
            Post("Signup fails", 'django.db.utils.IntegrityError: duplicate key value violates unique constraint "x"'),
            Post("Saving twice", "raise IntegrityError from the save() call"),
        ],
    )
    # More newer rows than the engines rank, each holding the word "integrityerror" but reporting nothing.
    await _add(engine, [Post(f"Naming {n}", "is integrityerror a good name for my own class") for n in range(150)])
    assert sorted((await _ids(log, "IntegrityError"))[:2]) == sorted(reported)
    pasted = "IntegrityError: duplicate key value violates unique constraint"
    assert (await _ids(log, pasted))[:1] == reported[:1]
    # The SQLSTATE of the same fault finds the row whose text never says it.
    assert await _ids(log, "SQLSTATE 23505") == reported[:1]


async def test_a_pasted_traceback_finds_the_same_error(log: ChallengeService, engine: AsyncEngine) -> None:
    traceback = "Traceback (most recent call last):\n  File \"/app/views.py\", line 12, in get\nKeyError: 'SECRET_KEY'"
    [same] = await _add(engine, [Post("Settings crash on start", traceback)])
    await _add(engine, [Post(f"Views {n}", f"the app file views.py line {n} is most recent call") for n in range(60)])
    await _add(engine, [Post("Cache miss", "KeyError: 'user:42' when reading the cache")])
    found = await _ids(log, traceback)
    assert same in found[:2]
    # PostgreSQL's parser indexes "/app/views.py" as one lexeme, so there not every word of the paste meets
    # the row; on SQLite it has every word and the signature.
    if engine.dialect.name == "sqlite":
        assert found[0] == same


# --- who sees what --------------------------------------------------------------------------------------------


async def test_another_servers_rows_never_show_however_many_and_new(log: ChallengeService, engine: AsyncEngine) -> None:
    mine = await _add(engine, [Post(f"redis cache misses {n}") for n in range(3)])
    await _add(engine, [Post(f"redis cache misses {n}", guild=OTHER_GUILD) for n in range(300)])
    assert sorted(await _ids(log, "redis cache")) == sorted(mine)
    assert sorted(await _ids(log, "redis")) == sorted(mine)
    assert await _ids(log, "redis", guild=4004) == []


async def test_deleted_challenges_are_never_found(log: ChallengeService, engine: AsyncEngine) -> None:
    ids = await _add(
        engine, [Post(f"celery beat drift {n}", "celery beat runs twice; IntegrityError") for n in range(8)]
    )
    for challenge_id in ids[-4:]:
        await log.delete(GUILD, challenge_id, MODERATOR)
    assert sorted(await _ids(log, "celery beat", limit=10)) == sorted(ids[:4])
    assert sorted(await _ids(log, "IntegrityError", limit=10)) == sorted(ids[:4])


async def test_similar_challenges_are_solved_ones_and_never_the_challenge_itself(
    log: ChallengeService, engine: AsyncEngine
) -> None:
    solved = await _add(engine, [Post(f"Slow queries on list {n}", status="solved") for n in range(4)])
    opened = await _add(engine, [Post(f"Slow queries on list {n}") for n in range(40)])
    views = {result.challenge.id: result.challenge for result in await log.search(GUILD, "slow queries", limit=50)}
    for challenge_id in (solved[0], opened[-1]):
        similar = {item.id for item in await log.similar_solved(views[challenge_id])}
        assert similar <= set(solved) - {challenge_id}
        assert len(similar) == 3


# --- any text ---------------------------------------------------------------------------------------------------


async def test_typing_a_prefix_completes_it(log: ChallengeService, engine: AsyncEngine) -> None:
    [redis] = await _add(engine, [Post("Redis eviction policy")])
    await _add(engine, [Post("Celery beat drift")])
    assert [item[0] for item in await log.autocomplete(GUILD, "redi")] == [redis]
    assert [item[0] for item in await log.autocomplete(GUILD, "eviction red")] == [redis]


async def test_a_word_with_an_apostrophe_is_found_and_highlighted(log: ChallengeService, engine: AsyncEngine) -> None:
    [row] = await _add(engine, [Post("Hot reload", "It doesn't reload after I save a template.")])
    [result] = await log.search(GUILD, "doesn't reload")
    assert result.challenge.id == row
    assert "**reload**" in result.snippet


HOSTILE = st.one_of(
    st.text(max_size=80),
    st.text(alphabet="\"*:()-^+{}[]' \\_.,ANDORNEARnot\u2019éx1", max_size=40),
    st.sampled_from(
        [
            "NEAR(redis cache, 2)",
            "title:redis",
            "error_terms:integrityerror",
            "redis*",
            "'; DROP TABLE challenges; --",
            "Traceback (most recent call last):\nKeyError: 'x'",
            "\x00\x02\x03",
            "don't stop",
        ]
    ),
)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=HOSTILE)
async def test_any_text_is_a_query_or_a_clear_refusal(log: ChallengeService, engine: AsyncEngine, query: str) -> None:
    if not await _ids(log, "redis", limit=1):
        await _add(engine, [Post("redis cache stampede", "IntegrityError on the title field, don't retry")])
        await _add(engine, [Post("redis cache stampede", guild=OTHER_GUILD)])
    try:
        results = await log.search(GUILD, query)
    except InvalidInputError:
        assert parse_query(query).is_empty()
        return
    assert all(result.challenge.guild_id == GUILD for result in results)
    assert all("\x02" not in result.snippet and "\x03" not in result.snippet for result in results)
    # As typed, for autocomplete: the last word a prefix.
    async with create_session_factory(engine)() as session:
        hits = await search_engine_for(engine.dialect.name).search(
            session, GUILD, parse_query(query), limit=25, prefix=True
        )
    assert len(hits) <= 25


# --- the SQLite plan ----------------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'nexus.db'}"


@pytest.fixture
async def sqlite_engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    try:
        await migrate.upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sqlite_log(sqlite_engine: AsyncEngine, sqlite_url: str, knowledge_base: KnowledgeBase) -> ChallengeService:
    settings = load_settings(_env_file=None, DISCORD_TOKEN="x", DATABASE_URL=sqlite_url)
    return build_services(settings, sqlite_engine, knowledge_base).challenges


async def test_common_words_are_walked_over_the_newest_rows_and_the_rarest_over_all(
    sqlite_log: ChallengeService, sqlite_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A budget this small makes a few hundred rows behave like a million: "slow" and "tables" are each in
    # most rows, together in a few recent ones and in one old one, and "queries" is rarer.
    monkeypatch.setattr(search.sqlite, "WALK_BUDGET", 60)
    monkeypatch.setattr(search.sqlite, "FREQUENCY_SAMPLE", 16)
    old = await _add(sqlite_engine, [Post("slow queries on large tables")])
    await _add(sqlite_engine, [Post(f"slow page {n}", f"tables {n}") for n in range(200)])
    await _add(sqlite_engine, [Post(f"queries {n}", "reports") for n in range(30)])
    recent = await _add(sqlite_engine, [Post(f"slow queries on large tables {n}") for n in range(3)])
    await _add(sqlite_engine, [Post(f"slow page {n}", f"tables {n}") for n in range(20)])
    found = await _ids(sqlite_log, "slow queries tables", limit=50)
    # Every word, in the window of recent rows: first. The old row with every word, out of that window,
    # still comes through its rarest word, among the rows that have it.
    assert found[:3] == recent[::-1]
    assert old[0] in found


async def test_a_rare_word_logged_a_moment_ago_is_found_at_once(
    sqlite_log: ChallengeService, sqlite_engine: AsyncEngine
) -> None:
    await _add(sqlite_engine, [Post(f"redis cache {n}") for n in range(40)])
    assert await _ids(sqlite_log, "redis frobnicator") == (await _ids(sqlite_log, "redis"))
    [new] = await _add(sqlite_engine, [Post("redis frobnicator fails")])
    assert (await _ids(sqlite_log, "redis frobnicator"))[:1] == [new]


async def test_the_ranking_statement_streams_the_index_and_looks_rows_up(sqlite_engine: AsyncEngine) -> None:
    query = parse_query("django.db.utils.IntegrityError: duplicate key value")
    words, errors = query.fts5_words(prefix=False), query.fts5_errors()
    frequencies = {search._TOTAL_KEY: 1_000_000.0, **dict.fromkeys([*words, *errors], 50_000.0)}
    alternatives = search._alternatives(words, errors, frequencies, all_words=True)
    assert any(alternative.since > 0 for alternative in alternatives), "a window of recent rows"
    title_globs = {word: search._title_globs(term, prefix=False) for word, term in zip(words, query.terms, strict=True)}
    sql, values = search._ranking_statement(alternatives, search._filters("solved", 7), title_globs, snippets=True)
    values |= {"guild_id": GUILD, "status": "solved", "exclude_id": 7, "limit": 5}
    async with sqlite_engine.connect() as connection:
        nodes = [tuple(row) for row in await connection.execute(text(f"EXPLAIN QUERY PLAN {sql}"), values)]
    plan = [str(node[3]) for node in nodes]
    scans = [node for node in nodes if str(node[3]).startswith("SCAN s VIRTUAL TABLE")]
    assert len(scans) == len(alternatives)
    # Each FTS5 scan yields its rows in the ORDER BY (no sorter beside it: it stops at the LIMIT), and the
    # challenge is looked up by id: the server's rows are never scanned.
    for scan in scans:
        beside = [str(node[3]) for node in nodes if node[1] == scan[1]]
        assert "SEARCH c USING INTEGER PRIMARY KEY (rowid=?)" in beside
        assert not any(line.startswith("USE TEMP B-TREE") for line in beside)
    assert not any(line.startswith("SCAN c") for line in plan)


# --- snippets ----------------------------------------------------------------------------------------------------


def test_a_snippet_marks_whole_words_around_the_densest_cluster() -> None:
    details = "Intro words. " * 20 + "The redis cache misses; redis is cold after a deploy. " + "Outro. " * 30
    snippet = search.cut_snippet([details, "", "", "Cache title"], search.snippet_pattern(("redis", "cache")))
    assert snippet.startswith("…")
    assert snippet.endswith("…")
    assert "\x02redis\x03 \x02cache\x03 misses; \x02redis\x03" in snippet
    assert search.cut_snippet(["rediscover it"], search.snippet_pattern(("redis",))) == "rediscover it"


def test_a_snippet_folds_case_and_diacritics_and_completes_a_prefix() -> None:
    assert search.cut_snippet(["Le CAFÉ est fermé"], search.snippet_pattern(("cafe",))) == "Le \x02CAFÉ\x03 est fermé"
    pagination = search.snippet_pattern((), prefix="pagin")
    assert search.cut_snippet(["Pagination breaks"], pagination) == "\x02Pagination\x03 breaks"
    assert search.cut_snippet(["", "  ", "only the title"], search.snippet_pattern(("absent",))) == "only the title"
    assert search.cut_snippet(["a \x02 b"], search.snippet_pattern(("b",))) == "a   \x02b\x03"
    assert search.cut_snippet(["plain"], None) == "plain"
    # A phrase ("don't" is searched as "don t") marks its words one by one.
    assert search.cut_snippet(["I don't know"], search.snippet_pattern(("don t",))) == "I \x02don\x03'\x02t\x03 know"
