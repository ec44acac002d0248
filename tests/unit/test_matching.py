"""The matcher: compatibility, the repeat rule, scores, tie-breaks, and the optimised round against greedy."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.pairing.availability import WeeklyInterval
from bot.pairing.matching import (
    MIN_OVERLAP_MINUTES,
    SMALL_POOL,
    Candidate,
    LookingFor,
    Match,
    Track,
    _optimiser,
    assign,
    best_partner,
    compatible,
    default_looking_for,
    score,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = 24 * 60
NO_HISTORY: frozenset[frozenset[int]] = frozenset()


def cand(
    user_id: int,
    track: Track = "frontend",
    looking_for: LookingFor | None = None,
    *,
    topics: Iterable[str] = (),
    intervals: Sequence[WeeklyInterval] | None = None,
    waited: int = 0,
    rating: float = 0.0,
) -> Candidate:
    """A request that started waiting `waited` minutes before T0."""
    return Candidate(
        user_id=user_id,
        track=track,
        looking_for=looking_for or default_looking_for(track),
        topics=frozenset(topics),
        intervals=None if intervals is None else tuple(intervals),
        waiting_since=T0 - timedelta(minutes=waited),
        rating=rating,
    )


def hours(day: int, start: int, end: int) -> WeeklyInterval:
    """Day 0 is Monday; hours in UTC; end may pass midnight (and Sunday night wraps into Monday)."""
    return WeeklyInterval(day * DAY + start * 60, day * DAY + end * 60)


def past(*pairs: tuple[int, int]) -> frozenset[frozenset[int]]:
    return frozenset(frozenset(pair) for pair in pairs)


def suitable(x: Candidate, y: Candidate) -> bool:
    """Compatible ignoring history: the rule the repeat exception starts from."""
    return compatible(x, y, past_pairs=NO_HISTORY)


def allowed(x: Candidate, y: Candidate, pool: Sequence[Candidate], history: frozenset[frozenset[int]]) -> bool:
    """The documented rule, written out independently: fresh and suitable, or a repeat nobody else could replace."""
    if compatible(x, y, past_pairs=history):
        return True
    if not suitable(x, y):
        return False
    return not any(compatible(x, z, past_pairs=history) or compatible(y, z, past_pairs=history) for z in pool)


def greedy(pool: Sequence[Candidate], history: frozenset[frozenset[int]]) -> list[tuple[Candidate, Candidate]]:
    """The round the optimised one must never lose to: best pair first, longest wait on ties."""
    edges = [(x, y) for x, y in itertools.combinations(pool, 2) if allowed(x, y, pool, history)]
    edges.sort(key=lambda e: (-score(*e), min(e[0].waiting_since, e[1].waiting_since), e[0].user_id, e[1].user_id))
    taken: set[int] = set()
    chosen = []
    for x, y in edges:
        if x.user_id not in taken and y.user_id not in taken:
            chosen.append((x, y))
            taken.update((x.user_id, y.user_id))
    return chosen


def brute_force_best(pool: Sequence[Candidate], history: frozenset[frozenset[int]]) -> float:
    """The highest total score of any matching over the allowed pairs, by trying them all (small pools only)."""
    edges = [(x, y) for x, y in itertools.combinations(pool, 2) if allowed(x, y, pool, history)]

    def best(index: int, taken: frozenset[int]) -> float:
        if index == len(edges):
            return 0.0
        x, y = edges[index]
        skip = best(index + 1, taken)
        if x.user_id in taken or y.user_id in taken:
            return skip
        return max(skip, score(x, y) + best(index + 1, taken | {x.user_id, y.user_id}))

    return best(0, frozenset())


def total(matches: Iterable[Match]) -> float:
    return sum(match.score for match in matches)


# --- Candidate ------------------------------------------------------------------------------------------------------


def test_default_looking_for_is_the_other_track() -> None:
    assert default_looking_for("frontend") == "backend"
    assert default_looking_for("backend") == "frontend"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"waiting_since": datetime(2026, 3, 2, 9, 0)}, "timezone-aware"),  # noqa: DTZ001 - the point of the test
        ({"rating": 1.5}, "rating"),
        ({"rating": -1.01}, "rating"),
        ({"rating": math.nan}, "rating"),
        ({"track": "fullstack"}, "track"),
        ({"looking_for": "designer"}, "looking_for"),
    ],
)
def test_candidate_rejects_values_the_matcher_cannot_use(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "user_id": 1,
        "track": "frontend",
        "looking_for": "backend",
        "topics": frozenset(),
        "intervals": None,
        "waiting_since": T0,
        "rating": 0.0,
    }
    with pytest.raises(ValueError, match=message):
        Candidate(**{**fields, **changes})  # type: ignore[arg-type]


# --- Compatibility --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x_track", "x_wants", "y_track", "y_wants", "expected"),
    [
        ("frontend", None, "backend", None, True),  # the default: each wants the other track
        ("frontend", None, "frontend", None, False),  # two frontends, each wanting a backend
        ("backend", None, "backend", None, False),
        ("frontend", "any", "frontend", "any", True),
        ("frontend", "frontend", "frontend", "any", True),
        ("frontend", "any", "frontend", "backend", False),  # y wants a backend; x is a frontend
        ("backend", "any", "frontend", None, True),
        ("frontend", "backend", "backend", "backend", False),  # x is fine with y, y is not with x
        ("frontend", "frontend", "backend", "frontend", False),  # x wants a frontend; y is a backend
        ("backend", "any", "backend", "backend", True),
    ],
)
def test_compatibility_by_track(
    x_track: Track, x_wants: LookingFor | None, y_track: Track, y_wants: LookingFor | None, expected: bool
) -> None:
    x = cand(1, x_track, x_wants)
    y = cand(2, y_track, y_wants)
    assert compatible(x, y, past_pairs=NO_HISTORY) is expected
    assert compatible(y, x, past_pairs=NO_HISTORY) is expected


@pytest.mark.parametrize(
    ("x_hours", "y_hours", "expected"),
    [
        ([hours(0, 18, 21)], [hours(0, 18, 21)], True),
        ([hours(0, 18, 19)], [hours(0, 18, 19)], True),  # exactly the minimum
        (
            [WeeklyInterval(18 * 60, 19 * 60)],
            [WeeklyInterval(18 * 60 + 1, 20 * 60)],
            False,  # 59 minutes
        ),
        ([hours(0, 18, 21)], [hours(1, 18, 21)], False),  # same hours, different days
        ([hours(0, 9, 10), hours(2, 9, 10)], [hours(2, 9, 12)], True),  # one of several windows is enough
        ([hours(6, 23, 25)], [hours(0, 0, 1)], True),  # Sunday 23:00 to Monday 01:00 wraps the week
        ([hours(0, 18, 21)], None, True),  # one gave no availability: it fits any hours
        (None, [hours(0, 18, 21)], True),
        (None, None, True),
        ([], [hours(0, 18, 21)], False),  # given, but no hours at all
    ],
)
def test_compatibility_by_overlap(
    x_hours: list[WeeklyInterval] | None, y_hours: list[WeeklyInterval] | None, expected: bool
) -> None:
    x = cand(1, "frontend", intervals=x_hours)
    y = cand(2, "backend", intervals=y_hours)
    assert compatible(x, y, past_pairs=NO_HISTORY) is expected
    assert compatible(y, x, past_pairs=NO_HISTORY) is expected


def test_minimum_overlap_is_one_hour() -> None:
    assert MIN_OVERLAP_MINUTES == 60


def test_never_the_same_user() -> None:
    x = cand(1, "frontend", "any")
    assert not compatible(x, x, past_pairs=NO_HISTORY)
    assert not compatible(x, cand(1, "backend", "any"), past_pairs=NO_HISTORY)
    assert best_partner(x, [x], past_pairs=NO_HISTORY) is None


def test_a_past_pair_is_not_compatible_as_a_pair() -> None:
    x, y = cand(1, "frontend"), cand(2, "backend")
    assert not compatible(x, y, past_pairs=past((1, 2)))
    assert compatible(x, y, past_pairs=past((1, 3), (2, 4)))


# --- Score ----------------------------------------------------------------------------------------------------------


def test_one_shared_topic_beats_any_overlap_and_rating() -> None:
    x = cand(1, "frontend", topics={"rest-api", "react"}, intervals=[hours(d, 0, 24) for d in range(7)], rating=-1)
    topic_only = cand(2, "backend", topics={"rest-api"}, rating=-1)
    hours_only = cand(3, "backend", topics={"django"}, intervals=[hours(d, 0, 24) for d in range(7)], rating=1)
    assert score(x, topic_only) > score(x, hours_only)


def test_more_shared_topics_score_higher() -> None:
    x = cand(1, "frontend", topics={"rest-api", "react", "auth"})
    assert score(x, cand(2, "backend", topics={"rest-api", "auth"})) > score(x, cand(3, "backend", topics={"auth"}))


def test_overlap_counts_up_to_ten_hours() -> None:
    x = cand(1, "frontend", intervals=[hours(d, 8, 20) for d in range(7)])
    two_hours = cand(2, "backend", intervals=[hours(0, 8, 10)])
    five_hours = cand(3, "backend", intervals=[hours(0, 8, 13)])
    ten_hours = cand(4, "backend", intervals=[hours(0, 8, 18)])
    twenty_hours = cand(5, "backend", intervals=[hours(0, 8, 18), hours(1, 8, 18)])
    assert score(x, two_hours) < score(x, five_hours) < score(x, ten_hours)
    assert score(x, ten_hours) == score(x, twenty_hours)


def test_unknown_availability_earns_no_overlap_points() -> None:
    x = cand(1, "frontend", intervals=[hours(0, 8, 12)])
    assert score(x, cand(2, "backend", intervals=[hours(0, 8, 12)])) > score(x, cand(3, "backend"))


def test_rating_is_a_small_nudge() -> None:
    x = cand(1, "frontend", intervals=[hours(0, 8, 12)])
    liked = cand(2, "backend", intervals=[hours(0, 8, 10)], rating=1)
    unknown = cand(3, "backend", intervals=[hours(0, 8, 10)])
    disliked = cand(4, "backend", intervals=[hours(0, 8, 10)], rating=-1)
    assert score(x, liked) > score(x, unknown) > score(x, disliked)
    # One more hour of overlap outweighs the whole rating range: two disliked learners against two liked ones.
    x_disliked = cand(6, "frontend", intervals=[hours(0, 8, 12)], rating=-1)
    x_liked = cand(7, "frontend", intervals=[hours(0, 8, 12)], rating=1)
    disliked_three_hours = cand(5, "backend", intervals=[hours(0, 8, 11)], rating=-1)
    assert score(x_disliked, disliked_three_hours) > score(x_liked, liked)


def test_score_is_symmetric_and_never_negative() -> None:
    x = cand(1, "frontend", topics={"a"}, rating=-1)
    y = cand(2, "backend", topics={"b"}, rating=-1)
    assert score(x, y) == score(y, x) == 0.0


# --- best_partner ---------------------------------------------------------------------------------------------------


def test_best_partner_takes_the_highest_score() -> None:
    new = cand(1, "frontend", topics={"rest-api", "auth"})
    waiting = [
        cand(2, "backend", topics={"auth"}, waited=90),
        cand(3, "backend", topics={"rest-api", "auth"}, waited=5),
        cand(4, "frontend", topics={"rest-api", "auth"}, waited=500),  # same track: not compatible
    ]
    match = best_partner(new, waiting, past_pairs=NO_HISTORY)
    expected = Match(
        a=1, b=3, score=score(new, waiting[1]), shared_topics=frozenset({"rest-api", "auth"}), overlap_minutes=0
    )
    assert match == expected


def test_best_partner_reports_the_overlap() -> None:
    new = cand(1, "frontend", intervals=[hours(0, 18, 21)])
    match = best_partner(new, [cand(2, "backend", intervals=[hours(0, 19, 23)])], past_pairs=NO_HISTORY)
    assert match is not None
    assert match.overlap_minutes == 120


def test_best_partner_ties_go_to_the_longest_wait() -> None:
    new = cand(1, "frontend", topics={"auth"})
    waiting = [
        cand(5, "backend", topics={"auth"}, waited=10),
        cand(6, "backend", topics={"auth"}, waited=30),
        cand(7, "backend", topics={"auth"}, waited=20),
    ]
    match = best_partner(new, waiting, past_pairs=NO_HISTORY)
    assert match is not None
    assert match.b == 6


def test_best_partner_ties_at_the_same_instant_go_to_the_smaller_id() -> None:
    new = cand(1, "frontend")
    waiting = [cand(9, "backend", waited=10), cand(4, "backend", waited=10), cand(7, "backend", waited=10)]
    match = best_partner(new, waiting, past_pairs=NO_HISTORY)
    assert match is not None
    assert match.b == 4


def test_best_partner_lets_the_request_wait_when_nobody_fits() -> None:
    new = cand(1, "frontend", intervals=[hours(0, 8, 9)])
    waiting = [cand(2, "frontend"), cand(3, "backend", intervals=[hours(3, 8, 9)])]
    assert best_partner(new, waiting, past_pairs=NO_HISTORY) is None
    assert best_partner(new, [], past_pairs=NO_HISTORY) is None


# --- The repeat rule ------------------------------------------------------------------------------------------------


def test_best_partner_prefers_a_fresh_partner_to_a_better_past_one() -> None:
    new = cand(1, "frontend", topics={"auth", "rest-api"})
    old_friend = cand(2, "backend", topics={"auth", "rest-api"}, waited=100)
    stranger = cand(3, "backend")
    match = best_partner(new, [old_friend, stranger], past_pairs=past((1, 2)))
    assert match is not None
    assert match.b == 3


def test_best_partner_repeats_when_neither_has_anyone_else() -> None:
    new = cand(1, "frontend")
    old_friend = cand(2, "backend")
    bystander = cand(3, "backend", "backend")  # waiting too, but compatible with neither
    match = best_partner(new, [old_friend, bystander], past_pairs=past((1, 2)))
    assert match is not None
    assert (match.a, match.b) == (1, 2)


def test_best_partner_does_not_repeat_while_the_past_partner_has_someone_else() -> None:
    new = cand(1, "frontend", intervals=[hours(0, 8, 10)])
    old_friend = cand(2, "backend", "any", intervals=[hours(0, 8, 10), hours(1, 8, 10)])
    other_frontend = cand(3, "frontend", intervals=[hours(1, 8, 10)])  # compatible with 2, not with 1
    assert not compatible(new, other_frontend, past_pairs=NO_HISTORY)
    assert best_partner(new, [old_friend, other_frontend], past_pairs=past((1, 2))) is None


def test_best_partner_does_not_count_the_past_partners_other_past_partners() -> None:
    # 2's only other option is 3, another past partner: that is no fresh partner, so 1 and 2 may repeat.
    new = cand(1, "frontend")
    match = best_partner(new, [cand(2, "backend"), cand(3, "frontend")], past_pairs=past((1, 2), (2, 3)))
    assert match is not None
    assert match.b == 2


def test_assign_repeats_only_when_unavoidable() -> None:
    a, b, c = cand(1, "frontend"), cand(2, "backend"), cand(3, "frontend", waited=50)
    # b could pair fresh with c: the repeat a-b is barred and b goes to c, even though c waited less.
    assert [(m.a, m.b) for m in assign([a, b, c], past_pairs=past((1, 2)))] == [(3, 2)]
    # With c gone, a-b is the only pairing either can get: the repeat is allowed.
    assert [(m.a, m.b) for m in assign([a, b], past_pairs=past((1, 2)))] == [(1, 2)]


def test_assign_bars_a_repeat_even_when_the_fresh_partner_goes_elsewhere() -> None:
    # 1 and 2 were paired before; 1 could pair fresh with 3, but 3 pairs better with 4. The rule is about the pool:
    # 1 has a fresh partner waiting, so 1-2 is barred this round; 1 and 2 wait for the next one.
    one = cand(1, "frontend", intervals=[hours(0, 8, 10), hours(2, 8, 10)])
    two = cand(2, "backend", intervals=[hours(0, 8, 10)])
    three = cand(3, "backend", topics={"auth"}, intervals=[hours(2, 8, 10)])
    four = cand(4, "frontend", topics={"auth"}, intervals=[hours(2, 8, 10)])
    matches = assign([one, two, three, four], past_pairs=past((1, 2)))
    assert [(m.a, m.b) for m in matches] == [(3, 4)]
    # Next round, without 3 and 4, the repeat is the only pairing left, and it is made.
    assert [(m.a, m.b) for m in assign([one, two], past_pairs=past((1, 2)))] == [(1, 2)]


# --- assign ---------------------------------------------------------------------------------------------------------


def crafted_queue() -> list[Candidate]:
    """A and B pair best, but taking them leaves C and D (who cannot meet) alone; A-C plus B-D is worth more."""
    return [
        cand(1, "frontend", topics={"auth", "rest-api"}, intervals=[hours(0, 10, 12)], waited=40),  # A
        cand(2, "backend", topics={"auth", "rest-api", "sql"}, intervals=[hours(0, 10, 12), hours(1, 10, 12)]),  # B
        cand(3, "backend", topics={"rest-api"}, intervals=[hours(0, 10, 12)], waited=30),  # C
        cand(4, "frontend", topics={"sql"}, intervals=[hours(1, 10, 12)], waited=20),  # D
    ]


def test_assign_beats_greedy_on_a_crafted_queue() -> None:
    queue = crafted_queue()
    greedy_pairs = greedy(queue, NO_HISTORY)
    assert {(x.user_id, y.user_id) for x, y in greedy_pairs} == {(1, 2)}
    matches = assign(queue, past_pairs=NO_HISTORY)
    assert {frozenset((m.a, m.b)) for m in matches} == {frozenset((1, 3)), frozenset((2, 4))}
    assert total(matches) > sum(score(x, y) for x, y in greedy_pairs)


def test_assign_reports_each_match_in_full_longest_wait_first() -> None:
    a, b, c, d = crafted_queue()
    matches = assign([a, b, c, d], past_pairs=NO_HISTORY)
    assert matches == [
        Match(a=1, b=3, score=score(a, c), shared_topics=frozenset({"rest-api"}), overlap_minutes=120),
        Match(a=4, b=2, score=score(b, d), shared_topics=frozenset({"sql"}), overlap_minutes=120),
    ]


def test_assign_serves_the_longest_waiting_on_equal_scores() -> None:
    # Three learners who all fit each other equally well: the newest one is left to wait.
    queue = [cand(1, "frontend", "any", waited=5), cand(2, "backend", "any", waited=30), cand(3, "frontend", "any")]
    assert [(m.a, m.b) for m in assign(queue, past_pairs=NO_HISTORY)] == [(2, 1)]


def test_assign_prefers_score_to_wait() -> None:
    queue = [
        cand(1, "frontend", topics={"auth"}),
        cand(2, "backend", waited=500),
        cand(3, "backend", topics={"auth"}),
    ]
    assert [(m.a, m.b) for m in assign(queue, past_pairs=NO_HISTORY)] == [(1, 3)]


def test_assign_never_trades_score_for_wait() -> None:
    # C scores one millionth of a point more with A than B does; B waited far longer. Score wins, however small
    # the difference and however many pairs in the round carry a wait bonus.
    monday, wednesday = [hours(0, 8, 12)], [hours(2, 8, 12)]
    a = cand(1, "frontend", intervals=monday)
    b = cand(2, "backend", intervals=monday, waited=100)
    c = cand(3, "backend", intervals=monday, rating=0.00001)
    d, e = cand(4, "frontend", intervals=wednesday, waited=50), cand(5, "backend", intervals=wednesday, waited=50)
    assert score(a, c) > score(a, b)
    assert [(m.a, m.b) for m in assign([a, b, c, d, e], past_pairs=NO_HISTORY)] == [(4, 5), (1, 3)]


def test_assign_pairs_zero_score_learners() -> None:
    queue = [cand(1, "frontend", rating=-1), cand(2, "backend", rating=-1)]
    assert score(*queue) == 0.0
    assert [(m.a, m.b) for m in assign(queue, past_pairs=NO_HISTORY)] == [(1, 2)]


def test_assign_on_an_empty_or_hopeless_queue() -> None:
    assert assign([], past_pairs=NO_HISTORY) == []
    assert assign([cand(1, "frontend"), cand(2, "frontend")], past_pairs=NO_HISTORY) == []


def test_assign_rejects_a_learner_queued_twice() -> None:
    with pytest.raises(ValueError, match="user 1"):
        assign([cand(1, "frontend"), cand(2, "backend"), cand(1, "frontend", waited=5)], past_pairs=NO_HISTORY)


def test_assign_uses_each_learner_once() -> None:
    # Everyone fits everyone ("any"), so a careless round could hand one learner to two partners.
    queue = [cand(i, "frontend" if i % 2 else "backend", "any", topics={"auth"}, waited=i) for i in range(1, 10)]
    matches = assign(queue, past_pairs=NO_HISTORY)
    users = [user for m in matches for user in (m.a, m.b)]
    assert len(users) == len(set(users)) == 8


def test_assign_does_not_depend_on_queue_order() -> None:
    # Many equal scores and equal waits, where only the tie-breaks decide.
    queue = [cand(i, "frontend" if i % 3 else "backend", "any", waited=i % 2) for i in range(1, 9)]
    queue += [cand(i, "backend", topics={"auth"}, waited=7) for i in range(20, 23)]
    queue += [cand(i, "frontend", topics={"auth"}, waited=7) for i in range(30, 33)]
    expected = assign(queue, past_pairs=past((1, 2), (20, 30)))
    shuffler = random.Random(5)
    for _ in range(20):
        shuffled = queue[:]
        shuffler.shuffle(shuffled)
        assert assign(shuffled, past_pairs=past((1, 2), (20, 30))) == expected


# --- Properties over random pools -----------------------------------------------------------------------------------

TOPICS = ["auth", "rest-api", "react", "sql", "docker"]


@st.composite
def intervals(draw: st.DrawFn) -> tuple[WeeklyInterval, ...] | None:
    if draw(st.booleans()):
        return None
    windows = []
    for _ in range(draw(st.integers(0, 3))):
        # Whole hours of a few days, so that overlaps (and near misses) are common.
        start = draw(st.integers(0, 3)) * DAY + draw(st.integers(0, 23)) * 60
        windows.append(WeeklyInterval(start, start + draw(st.sampled_from([30, 59, 60, 90, 180, 600]))))
    return tuple(windows)


@st.composite
def pools(draw: st.DrawFn, max_size: int) -> tuple[list[Candidate], frozenset[frozenset[int]]]:
    size = draw(st.integers(0, max_size))
    pool = [
        Candidate(
            user_id=user_id,
            track=draw(st.sampled_from(["frontend", "backend"])),
            looking_for=draw(st.sampled_from(["frontend", "backend", "any"])),
            topics=frozenset(draw(st.sets(st.sampled_from(TOPICS), max_size=3))),
            intervals=draw(intervals()),
            waiting_since=T0 - timedelta(minutes=draw(st.integers(0, 5))),  # few distinct waits: many ties
            rating=draw(st.sampled_from([-1.0, -0.5, 0.0, 0.3, 1.0])),
        )
        for user_id in range(1, size + 1)
    ]
    all_pairs = [frozenset(pair) for pair in itertools.combinations(range(1, size + 1), 2)]
    history = frozenset(draw(st.sets(st.sampled_from(all_pairs), max_size=6))) if all_pairs else frozenset()
    return pool, history


def check_round(pool: list[Candidate], history: frozenset[frozenset[int]], matches: list[Match]) -> None:
    by_id = {candidate.user_id: candidate for candidate in pool}
    users = [user for m in matches for user in (m.a, m.b)]
    assert len(users) == len(set(users)), "a learner matched twice"
    for m in matches:
        x, y = by_id[m.a], by_id[m.b]
        assert allowed(x, y, pool, history), f"{m.a}-{m.b} is not an allowed pair"
        assert m.score == score(x, y)
        assert m.shared_topics == x.topics & y.topics
    # Every weight is positive, so the round is maximal: no two learners left waiting could have been paired.
    alone = [candidate for candidate in pool if candidate.user_id not in users]
    assert not any(allowed(x, y, pool, history) for x, y in itertools.combinations(alone, 2))


@settings(max_examples=300, deadline=None)
@given(pools(max_size=12))
def test_assign_is_valid_and_never_worse_than_greedy(drawn: tuple[list[Candidate], frozenset[frozenset[int]]]) -> None:
    pool, history = drawn
    matches = assign(pool, past_pairs=history)
    check_round(pool, history, matches)
    assert total(matches) >= sum(score(x, y) for x, y in greedy(pool, history)) - 1e-9


@settings(max_examples=200, deadline=None)
@given(pools(max_size=8))
def test_assign_finds_the_optimum(drawn: tuple[list[Candidate], frozenset[frozenset[int]]]) -> None:
    pool, history = drawn
    assert math.isclose(total(assign(pool, past_pairs=history)), brute_force_best(pool, history), abs_tol=1e-9)


@settings(max_examples=100, deadline=None)
@given(pools(max_size=10), st.randoms(use_true_random=False))
def test_assign_ignores_queue_order(
    drawn: tuple[list[Candidate], frozenset[frozenset[int]]], shuffler: random.Random
) -> None:
    pool, history = drawn
    shuffled = pool[:]
    shuffler.shuffle(shuffled)
    assert assign(shuffled, past_pairs=history) == assign(pool, past_pairs=history)


@settings(max_examples=300, deadline=None)
@given(pools(max_size=10))
def test_best_partner_is_the_best_allowed_pair(drawn: tuple[list[Candidate], frozenset[frozenset[int]]]) -> None:
    pool, history = drawn
    if not pool:
        return
    new, waiting = pool[-1], pool[:-1]
    match = best_partner(new, waiting, past_pairs=history)
    options = [y for y in waiting if allowed(new, y, pool, history)]
    if not options:
        assert match is None
        return
    assert match is not None
    assert match.a == new.user_id
    partner = next(y for y in waiting if y.user_id == match.b)
    assert partner in options
    assert match.score == max(score(new, y) for y in options)
    # Among the equally good, the one who has waited longest (then the smallest id).
    ties = [y for y in options if score(new, y) == match.score]
    assert partner == min(ties, key=lambda y: (y.waiting_since, y.user_id))


# --- The round at scale: the sparse candidate graph, the non-bipartite path -----------------------------------------


@st.composite
def bipartite_pools(draw: st.DrawFn, max_size: int) -> tuple[list[Candidate], frozenset[frozenset[int]]]:
    """Pools where everybody looks for the other track: the normal case, solved as an assignment problem."""
    pool, history = draw(pools(max_size))
    return [replace(c, looking_for=default_looking_for(c.track)) for c in pool], history


def exact_best(pool: Sequence[Candidate], history: frozenset[frozenset[int]], *, across_only: bool = False) -> float:
    """The best total over the allowed pairs (across tracks only, if asked), by networkx's exact general matching:
    a reference, not the code under test."""
    graph = nx.Graph()
    for x, y in itertools.combinations(pool, 2):
        if allowed(x, y, pool, history) and not (across_only and x.track == y.track):
            graph.add_edge(x.user_id, y.user_id, weight=round(score(x, y) * 1_000_000))
    mates = nx.max_weight_matching(graph, maxcardinality=False)
    return sum(graph.edges[u, v]["weight"] for u, v in mates) / 1_000_000


@settings(max_examples=150, deadline=None)
@given(bipartite_pools(max_size=16))
def test_sparse_round_is_exact_when_every_partner_is_a_candidate(
    drawn: tuple[list[Candidate], frozenset[frozenset[int]]],
) -> None:
    pool, history = drawn
    matches = assign(pool, past_pairs=history, top_k=len(pool))
    check_round(pool, history, matches)
    assert math.isclose(total(matches), exact_best(pool, history), abs_tol=1e-6)


@settings(max_examples=150, deadline=None)
@given(pools(max_size=14), st.integers(1, 3))
def test_sparse_round_with_few_candidates_is_valid_and_maximal(
    drawn: tuple[list[Candidate], frozenset[frozenset[int]]], top_k: int
) -> None:
    # exact_limit=0 sends pools with pairs inside a track through the double cover; a tiny top_k leaves most
    # pairs out of the first graph, so the rounds among those left waiting do the rest.
    pool, history = drawn
    matches = assign(pool, past_pairs=history, top_k=top_k, exact_limit=0)
    check_round(pool, history, matches)  # every pair allowed, nobody twice, nobody left who could pair


@settings(max_examples=150, deadline=None)
@given(pools(max_size=12))
def test_double_cover_round_is_within_two_thirds_of_the_optimum(
    drawn: tuple[list[Candidate], frozenset[frozenset[int]]],
) -> None:
    pool, history = drawn
    matches = assign(pool, past_pairs=history, top_k=len(pool), exact_limit=0)
    check_round(pool, history, matches)
    assert total(matches) >= 2 / 3 * exact_best(pool, history) - 1e-6


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pools(max_size=14))
def test_round_with_pairs_inside_a_track_beyond_the_double_cover(
    monkeypatch: pytest.MonkeyPatch, drawn: tuple[list[Candidate], frozenset[frozenset[int]]]
) -> None:
    # What a pool of thousands goes through when a few accept their own track, on small pools: the assignment
    # across tracks, then the learners of pairs inside a track solved again with their partners.
    monkeypatch.setattr(_optimiser, "_DOUBLE_COVER_LIMIT", 0)
    pool, history = drawn
    matches = assign(pool, past_pairs=history, top_k=len(pool), exact_limit=0)
    check_round(pool, history, matches)
    assert total(matches) >= exact_best(pool, history, across_only=True) - 1e-6


@settings(max_examples=60, deadline=None)
@given(pools(max_size=12), st.randoms(use_true_random=False))
def test_sparse_round_ignores_queue_order(
    drawn: tuple[list[Candidate], frozenset[frozenset[int]]], shuffler: random.Random
) -> None:
    pool, history = drawn
    shuffled = pool[:]
    shuffler.shuffle(shuffled)
    for top_k in (2, 20):
        expected = assign(pool, past_pairs=history, top_k=top_k, exact_limit=0)
        assert assign(shuffled, past_pairs=history, top_k=top_k, exact_limit=0) == expected


@settings(max_examples=150, deadline=None)
@given(bipartite_pools(max_size=SMALL_POOL))
def test_small_pools_get_the_optimisers_answer_without_numpy(
    drawn: tuple[list[Candidate], frozenset[frozenset[int]]],
) -> None:
    # Up to SMALL_POOL the round is networkx's exact matching in pure Python; exact_limit=0 forces the same pool
    # through the numpy optimiser, which keeps every pair at this size and so is exact too: the same optimum, score
    # and wait bonuses alike (which of two equally good pairings is picked may differ, hence the totals).
    pool, history = drawn
    pure = assign(pool, past_pairs=history)
    optimised = assign(pool, past_pairs=history, exact_limit=0)
    check_round(pool, history, pure)
    assert sum(round(m.score * 1_000_000) for m in pure) == sum(round(m.score * 1_000_000) for m in optimised)
    assert wait_ranks(pool, pure) == wait_ranks(pool, optimised)


def wait_ranks(pool: Sequence[Candidate], matches: Sequence[Match]) -> int:
    """The round's tie-break: the summed wait rank (longest-waiting highest) of everyone it pairs."""
    order = sorted(pool, key=lambda candidate: (candidate.waiting_since, candidate.user_id))
    rank = {candidate.user_id: len(order) - index for index, candidate in enumerate(order)}
    return sum(rank[match.a] + rank[match.b] for match in matches)


def test_sparse_round_keeps_the_tie_break_and_the_repeat_rule() -> None:
    # The crafted cases of the exact round, through the sparse one.
    a, b, c = cand(1, "frontend"), cand(2, "backend"), cand(3, "frontend", waited=50)
    assert [(m.a, m.b) for m in assign([a, b, c], past_pairs=past((1, 2)), exact_limit=0)] == [(3, 2)]
    assert [(m.a, m.b) for m in assign([a, b], past_pairs=past((1, 2)), exact_limit=0)] == [(1, 2)]
    monday, wednesday = [hours(0, 8, 12)], [hours(2, 8, 12)]
    d = cand(1, "frontend", intervals=monday)
    e = cand(2, "backend", intervals=monday, waited=100)
    f = cand(3, "backend", intervals=monday, rating=0.00001)
    g, h = cand(4, "frontend", intervals=wednesday, waited=50), cand(5, "backend", intervals=wednesday, waited=50)
    assert [(m.a, m.b) for m in assign([d, e, f, g, h], past_pairs=NO_HISTORY, exact_limit=0)] == [(4, 5), (1, 3)]
    equal = [cand(1, "frontend", "any", waited=5), cand(2, "backend", "any", waited=30), cand(3, "frontend", "any")]
    assert [(m.a, m.b) for m in assign(equal, past_pairs=NO_HISTORY, exact_limit=0)] == [(2, 1)]


def test_large_pool_with_a_few_active_learners_is_solved_exactly() -> None:
    # More learners than the exact limit, but only a handful who can pair (the others gave availability with no
    # hours): the candidate graph is small, and its pairs within a track go to networkx's exact matching.
    inert = [cand(n, "frontend" if n % 2 else "backend", "any", intervals=[]) for n in range(100, 220)]
    monday = [hours(0, 8, 12)]
    active = [
        cand(1, "frontend", "any", topics={"auth"}, intervals=monday, waited=3),
        cand(2, "frontend", "any", topics={"auth", "sql"}, intervals=monday, waited=2),
        cand(3, "frontend", "any", topics={"sql"}, intervals=monday, waited=1),
        cand(4, "backend", "frontend", topics={"docker"}, intervals=monday),
        cand(5, "backend", "backend", intervals=monday),
    ]
    pool = inert + active
    matches = assign(pool, past_pairs=NO_HISTORY)
    check_round(pool, NO_HISTORY, matches)
    assert math.isclose(total(matches), brute_force_best(active, NO_HISTORY), abs_tol=1e-9)


def test_assign_at_a_few_hundred_is_near_the_optimum_and_valid() -> None:
    # A seeded pool big enough that each learner keeps only some partners as candidates.
    shuffler = random.Random(11)
    pool = [
        cand(
            10**17 + n,  # Discord-sized ids
            "frontend" if n % 5 < 3 else "backend",
            topics=shuffler.sample(TOPICS, shuffler.randint(0, 2)),
            intervals=[hours(shuffler.randint(0, 6), start, start + shuffler.randint(1, 3)) for start in (9, 19)]
            if n % 6
            else None,
            waited=shuffler.randint(0, 20_000),
            rating=shuffler.choice([-1.0, -0.2, 0.0, 0.0, 0.4, 1.0]),
        )
        for n in range(120)
    ]
    history = past(*((10**17 + n, 10**17 + n + 1) for n in range(0, 120, 9)))
    matches = assign(pool, past_pairs=history, top_k=5)
    check_round(pool, history, matches)
    assert total(matches) >= 0.99 * exact_best(pool, history)
    assert total(matches) >= sum(score(x, y) for x, y in greedy(pool, history)) - 1e-9
