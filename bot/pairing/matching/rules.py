"""The pairing rules: who may pair with whom, how good a pair is, and the best partner for one new request.

Pure and free of numpy: the service matches every new request with `best_partner` over a plain list (see the
package docstring for the rules precisely); the round (`round.py`) and the index (`queue.py`) build on these.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from bot.pairing.availability import WeeklyInterval, overlap_minutes

Track = Literal["frontend", "backend"]
LookingFor = Literal["frontend", "backend", "any"]

_TRACKS = frozenset(get_args(Track))
_LOOKING_FOR = frozenset(get_args(LookingFor))

MIN_OVERLAP_MINUTES = 60
"""The least weekly overlap, when both learners gave availability, for them to be paired."""

# Scores are computed in integer millionths of a point: exact ties stay exact (no float noise decides a tie), and
# networkx's matching runs in integer arithmetic, which it only does when every weight is an int.
_MICRO = 1_000_000
_TOPIC_MICRO = 10 * _MICRO
"""10 points per shared topic: one shared topic outweighs the most that overlap and ratings can add (8 points)."""
OVERLAP_CAP_MINUTES = 600
"""Overlap beyond 10 hours a week adds nothing: a pair meets for an hour or two, not for the whole week."""
_OVERLAP_MICRO_PER_MINUTE = 12_500
"""0.75 point per hour of weekly overlap, so at most 7.5 points."""
_RATING_MICRO = _MICRO // 2
"""At most half a point from the two learners' ratings: past behaviour nudges, worth less than an hour of overlap."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A waiting (or new) pairing request, as the matcher sees it."""

    user_id: int
    track: Track
    looking_for: LookingFor
    topics: frozenset[str]
    """Topic slugs."""
    intervals: tuple[WeeklyInterval, ...] | None
    """UTC weekly availability; None when the learner gave none (an empty tuple means "given, but no hours")."""
    waiting_since: datetime
    """Timezone-aware; when the request started waiting."""
    rating: float = 0.0
    """From past sessions and check-ins, -1..1; 0 for a learner with no history."""

    def __post_init__(self) -> None:
        # Checked here so that a bad value fails where it is built, not as a wrong pairing three calls later.
        if self.track not in _TRACKS:
            raise ValueError(f"track must be 'frontend' or 'backend', not {self.track!r}")
        if self.looking_for not in _LOOKING_FOR:
            raise ValueError(f"looking_for must be 'frontend', 'backend' or 'any', not {self.looking_for!r}")
        if self.waiting_since.utcoffset() is None:
            raise ValueError("waiting_since must be timezone-aware (UTC)")
        if not (math.isfinite(self.rating) and -1.0 <= self.rating <= 1.0):
            raise ValueError(f"rating must be between -1 and 1, not {self.rating!r}")


@dataclass(frozen=True, slots=True)
class Match:
    """A pairing decided by the matcher.

    From `best_partner`, `a` is the new request and `b` the waiting partner. From `assign`, `a` is whichever of the
    two has waited longer (the smaller user id when both started at the same instant).
    """

    a: int
    b: int
    score: float
    shared_topics: frozenset[str]
    overlap_minutes: int
    """Weekly overlap in minutes; 0 when either learner gave no availability."""


@dataclass(frozen=True, slots=True)
class _Link:
    """What the matcher knows about one suitable pair, computed once."""

    x: Candidate
    y: Candidate
    micro: int
    shared_topics: frozenset[str]
    overlap: int


def default_looking_for(track: Track) -> LookingFor:
    """The other track: what a learner looks for when they did not say."""
    return "backend" if track == "frontend" else "frontend"


def compatible(x: Candidate, y: Candidate, *, past_pairs: frozenset[frozenset[int]]) -> bool:
    """Whether x and y may be paired as a fresh pair (never the same user, never two learners paired before).

    Whether a past pair may be repeated depends on the rest of the pool: see the module docstring.
    """
    return _link(x, y) is not None and not _paired_before(x, y, past_pairs)


def score(x: Candidate, y: Candidate) -> float:
    """How good the pair is, in points, never negative: shared topics first, then hours of overlap, then ratings.

    10 points per shared topic; 0.75 per hour of weekly overlap, up to 10 hours (0 when either gave no
    availability); and up to half a point from the mean of the two ratings (0.25 for two learners without history).
    """
    return _score_micro(x, y, _overlap(x, y) or 0) / _MICRO


def best_partner(
    new: Candidate, waiting: Sequence[Candidate], *, past_pairs: frozenset[frozenset[int]]
) -> Match | None:
    """The best partner for a new request among the waiting ones, or None to let it wait.

    Highest score first; on a tie, the pair that has waited longest (see `_wait_key`). A past partner is chosen only
    when the new request has no fresh partner in the queue and the past partner has none either.
    """
    # One pass, cheap for a short queue: the history is consulted only for a partner who would beat the best fresh
    # one found so far, and nothing is built for a partner until the winner is known.
    best: tuple[int, Candidate] | None = None
    repeats: list[Candidate] = []
    for other in waiting:
        minutes = _fit(new, other)
        if minutes is None:
            continue
        micro = _score_micro(new, other, minutes)
        if best is not None and not _beats(new, (micro, other), best):
            continue
        if _paired_before(new, other, past_pairs):
            repeats.append(other)  # complete whenever no fresh partner turns up: then `best` stayed None throughout
        else:
            best = (micro, other)
    if best is None:
        allowed = [other for other in repeats if not _has_fresh_partner(other, waiting, past_pairs)]
        return _best_repeat(new, allowed)
    return _partner_match(new, best[1])


def _best_repeat(new: Candidate, allowed: Sequence[Candidate]) -> Match | None:
    """The best of the past partners that the repeat rule allows, or None."""
    if not allowed:
        return None
    partner = min(allowed, key=lambda other: (-_score_micro(new, other, _fit(new, other) or 0), _wait_key(new, other)))
    return _partner_match(new, partner)


def _partner_match(new: Candidate, partner: Candidate) -> Match:
    minutes = _fit(new, partner) or 0  # suitable, as chosen by the caller: the `or` only satisfies the type
    micro = _score_micro(new, partner, minutes)
    return Match(new.user_id, partner.user_id, micro / _MICRO, new.topics & partner.topics, minutes)


def _allowed_links(pool: Sequence[Candidate], past_pairs: frozenset[frozenset[int]]) -> list[_Link]:
    """Every pair the round may make: the fresh suitable pairs, and the repeats that the pool rule allows."""
    fresh: list[_Link] = []
    repeats: list[_Link] = []
    has_fresh: set[int] = set()
    for i, x in enumerate(pool):
        for y in pool[i + 1 :]:
            link = _link(x, y)
            if link is None:
                continue
            if _paired_before(x, y, past_pairs):
                repeats.append(link)
            else:
                fresh.append(link)
                has_fresh.update((x.user_id, y.user_id))
    allowed = [link for link in repeats if link.x.user_id not in has_fresh and link.y.user_id not in has_fresh]
    return fresh + allowed


def _has_fresh_partner(candidate: Candidate, pool: Sequence[Candidate], past_pairs: frozenset[frozenset[int]]) -> bool:
    return any(compatible(candidate, other, past_pairs=past_pairs) for other in pool)


def _link(x: Candidate, y: Candidate) -> _Link | None:
    """The pair's score and overlap when x and y are suitable for each other (ignoring history), else None."""
    minutes = _fit(x, y)
    if minutes is None:
        return None
    return _Link(x, y, _score_micro(x, y, minutes), x.topics & y.topics, minutes)


def _fit(x: Candidate, y: Candidate) -> int | None:
    """None when x and y are not suitable for each other (ignoring history), else their weekly overlap in minutes."""
    if x.user_id == y.user_id or not (_accepts(x.looking_for, y.track) and _accepts(y.looking_for, x.track)):
        return None
    overlap = _overlap(x, y)
    if overlap is not None and overlap < MIN_OVERLAP_MINUTES:
        return None
    return overlap or 0


def _beats(new: Candidate, option: tuple[int, Candidate], best: tuple[int, Candidate]) -> bool:
    """Whether a partner for `new` is better than the best so far: higher score, then the longer-waiting pair."""
    if option[0] != best[0]:
        return option[0] > best[0]
    return _wait_key(new, option[1]) < _wait_key(new, best[1])


def _accepts(looking_for: LookingFor, track: Track) -> bool:
    return looking_for in ("any", track)


def _overlap(x: Candidate, y: Candidate) -> int | None:
    """Weekly overlap in minutes, or None when either learner gave no availability (and so fits any hours)."""
    if x.intervals is None or y.intervals is None:
        return None
    return overlap_minutes(x.intervals, y.intervals)


def _score_micro(x: Candidate, y: Candidate, overlap: int) -> int:
    topics = len(x.topics & y.topics) * _TOPIC_MICRO
    hours = min(overlap, OVERLAP_CAP_MINUTES) * _OVERLAP_MICRO_PER_MINUTE
    # Ratings are in -1..1: shift the mean into 0..1 so that the score never goes negative.
    ratings = round(_RATING_MICRO * (x.rating + y.rating + 2) / 4)
    return topics + hours + ratings


def _paired_before(x: Candidate, y: Candidate, past_pairs: frozenset[frozenset[int]]) -> bool:
    return frozenset((x.user_id, y.user_id)) in past_pairs


def _wait_key(x: Candidate, y: Candidate) -> tuple[datetime, datetime, int, int]:
    """Sorts pairs longest-waiting first: by the earlier start of the two, then the later one, then the user ids."""
    early, late = sorted((x.waiting_since, y.waiting_since))
    low, high = sorted((x.user_id, y.user_id))
    return early, late, low, high


def _match(link: _Link) -> Match:
    """The round's match, the longer-waiting learner first."""
    first, second = sorted((link.x, link.y), key=lambda candidate: (candidate.waiting_since, candidate.user_id))
    return Match(first.user_id, second.user_id, link.micro / _MICRO, link.shared_topics, link.overlap)


def _reject_duplicates(pool: Sequence[Candidate]) -> None:
    seen: set[int] = set()
    for candidate in pool:
        if candidate.user_id in seen:
            raise ValueError(f"user {candidate.user_id} has more than one request in the queue")
        seen.add(candidate.user_id)
