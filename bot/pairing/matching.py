"""Who may pair with whom, how good a pair is, and who pairs with whom: the matcher of frontend and backend learners.

Pure: no Discord, no database, no clock. The service layer loads the queue and the pairing history, calls
`best_partner` when a request arrives and `assign` in the periodic round, and stores what comes back.

The rules, precisely:

* Two requests are *suitable* for each other when they belong to different users, each one's `looking_for` accepts
  the other's track ("any" accepts both; the service fills in the other track when the learner gave none), and,
  when BOTH gave availability, their weekly availability overlaps by at least `MIN_OVERLAP_MINUTES`. A learner who
  gave no availability can meet anyone's hours, so it never blocks a pair.
* `compatible` is suitability for a FRESH pair: two learners who were paired before (their ids form a set in
  `past_pairs`) are not compatible.
* The repeat exception is a property of a pool, not of a pair: within a pool (the waiting queue, plus the new
  request for `best_partner`), a past pair that is otherwise suitable is *allowed* only when neither of the two is
  compatible with anybody else in the pool. So a repeat happens only when it is the only pairing either of them
  could get right now. A repeat stays barred while a fresh partner of either is in the pool, even if the optimised
  round gives that fresh partner to somebody else: the barred learner keeps waiting, and the next round, without
  that partner in the pool, may allow the repeat.
* The score of a pair (see `score`) is never negative, and every allowed pair is worth making: an allowed pair is
  always better than leaving both learners waiting.

At the size of a large server (tens of thousands of learners, thousands waiting at once):

* `best_partner` scans a plain list in Python, which is fine for a short queue. A `WaitingQueue` keeps the queue
  as arrays per track (topics as bit masks, free hours as spans on the week's line) and scores a new request
  against all of it in a few vectorised passes: a fraction of a millisecond with 10,000 waiting. Same answers.
* `assign` gives a small pool with pairs inside a track (someone accepts their own track) to networkx's exact
  general matching. Any other pool goes through three steps. Candidates: every suitable pair is scored, in
  vectorised blocks, and each learner keeps `top_k` partners, ranked by score less half the partner's "price"
  (what that partner can get elsewhere), so that learners nobody prefers still keep candidates who will be free
  (see `_block_edges`). Solving: when every candidate pair joins the two tracks (the normal case) the sparse graph
  is an assignment problem, solved exactly by SciPy's LAPJVsp; pairs inside a track make it a general matching,
  solved through the bipartite double cover (see `_solve`). Again: learners left waiting are scored among
  themselves and solved again, until no two of them could pair. Weights keep the rules above: score first, in
  exact integers, then the wait, and every allowed pair is worth more than none. With `top_k` at least the size
  of the other track, a bipartite pool gets the exact optimum; on the benchmark's queues of 10,000 the round is
  within a fraction of a percent of it (benchmarks/pairing.py computes both).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar, get_args

import numpy as np
from numpy.typing import NDArray

from bot.pairing.availability import MINUTES_PER_WEEK, WeeklyInterval, overlap_minutes, week_line

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

TOP_K = 20
"""How many best partners of each learner the periodic round keeps as candidates (see `assign`)."""
EXACT_LIMIT = 100
"""Pools up to this size with pairs inside a track get networkx's exact general matching (0.3 s at 100)."""


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
    new: Candidate, waiting: Sequence[Candidate] | WaitingQueue, *, past_pairs: frozenset[frozenset[int]]
) -> Match | None:
    """The best partner for a new request among the waiting ones, or None to let it wait.

    Highest score first; on a tie, the pair that has waited longest (see `_wait_key`). A past partner is chosen only
    when the new request has no fresh partner in the queue and the past partner has none either.

    `waiting` is either a plain sequence, scanned one candidate at a time, or a `WaitingQueue`, which scores the
    whole queue at once (the way to stay within a few milliseconds with thousands waiting). Both give the same answer.
    """
    if isinstance(waiting, WaitingQueue):
        return waiting.best_partner(new, past_pairs=past_pairs)
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


# --- The waiting queue as arrays ------------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_ACCEPTS_FRONTEND, _ACCEPTS_BACKEND = 1, 2
_WANTS: dict[LookingFor, int] = {
    "frontend": _ACCEPTS_FRONTEND,
    "backend": _ACCEPTS_BACKEND,
    "any": _ACCEPTS_FRONTEND | _ACCEPTS_BACKEND,
}
_ACCEPTED_BY: dict[Track, int] = {"frontend": _ACCEPTS_FRONTEND, "backend": _ACCEPTS_BACKEND}
_WORD_BITS = 64
_WORD_MASK = (1 << _WORD_BITS) - 1
_Line = tuple[tuple[int, int], ...]
_Ints = NDArray[np.int64]
_Item = TypeVar("_Item", bound=np.generic)


def _longer(array: NDArray[_Item], extra: int) -> NDArray[_Item]:
    """The array with `extra` zeros after it."""
    grown: NDArray[_Item] = np.concatenate((array, np.zeros(extra, dtype=array.dtype)))
    return grown


def _instant(moment: datetime) -> int:
    """Microseconds since 1970 UTC: exact, and ordered as the aware datetimes are, whatever their tzinfo."""
    return (moment - _EPOCH) // _MICROSECOND


def _topic_words(topics: frozenset[str], vocabulary: dict[str, int], words: int) -> list[int]:
    """A topic set as `words` 64-bit masks over the vocabulary's bits; slugs outside it are left out."""
    mask = 0
    for slug in topics:
        bit = vocabulary.get(slug)
        if bit is not None:
            mask |= 1 << bit
    return [(mask >> (_WORD_BITS * word)) & _WORD_MASK for word in range(words)]


def _rating_micro(new_rating: float, ratings: NDArray[np.float64]) -> NDArray[np.int64]:
    """`_score_micro`'s rating part for many pairs, with the same float operations in the same order."""
    return np.rint(_RATING_MICRO * ((new_rating + ratings) + 2) / 4).astype(np.int64)


def _free_before(line: _Line) -> NDArray[np.int32]:
    """For every minute t of the week (and its end), how many of a learner's free minutes come before t.

    The overlap with anybody is then the sum, over their spans, of its rise across the span: two lookups a span.
    """
    free = np.zeros(MINUTES_PER_WEEK + 1, dtype=np.int32)
    for start, end in line:
        free[start + 1 : end + 1] = 1
    before: NDArray[np.int32] = np.cumsum(free, dtype=np.int32)
    return before


class _Shelf:
    """One track's waiting requests as growable arrays, in the order they were added.

    A removed request leaves a dead slot (masked out of every query) until dead slots are half the shelf; then the
    shelf is rebuilt. Free hours are kept as a flat list of spans with their owner's slot, so that one new request's
    overlap with everybody is a few vectorised passes over those spans.
    """

    def __init__(self, words: int) -> None:
        self.candidates: list[Candidate | None] = []
        self.slots: dict[int, int] = {}
        self.dead = 0
        self.size = 0
        self.user = np.zeros(0, dtype=np.int64)
        self.since = np.zeros(0, dtype=np.int64)
        self.wants = np.zeros(0, dtype=np.int8)
        self.given = np.zeros(0, dtype=np.bool_)
        self.live = np.zeros(0, dtype=np.bool_)
        self.rating = np.zeros(0, dtype=np.float64)
        self.topics = np.zeros((0, words), dtype=np.uint64)
        self.spans = 0
        self.span_start = np.zeros(0, dtype=np.int64)
        self.span_end = np.zeros(0, dtype=np.int64)
        self.span_owner = np.zeros(0, dtype=np.int64)

    def add(self, candidate: Candidate, words: list[int]) -> None:
        if self.size == len(self.user):
            self._grow(max(64, 2 * self.size))
        slot = self.size
        self.size += 1
        self.candidates.append(candidate)
        self.slots[candidate.user_id] = slot
        self.user[slot] = candidate.user_id
        self.since[slot] = _instant(candidate.waiting_since)
        self.wants[slot] = _WANTS[candidate.looking_for]
        self.given[slot] = candidate.intervals is not None
        self.live[slot] = True
        self.rating[slot] = candidate.rating
        self.topics[slot] = words
        line = week_line(candidate.intervals) if candidate.intervals is not None else ()
        if self.spans + len(line) > len(self.span_start):
            self._grow_spans(max(256, 2 * (self.spans + len(line))))
        for start, end in line:
            self.span_start[self.spans] = start
            self.span_end[self.spans] = end
            self.span_owner[self.spans] = slot
            self.spans += 1

    def remove(self, user_id: int) -> Candidate:
        slot = self.slots.pop(user_id)
        candidate = self.candidates[slot]
        self.candidates[slot] = None
        self.live[slot] = False
        self.dead += 1
        if candidate is None:  # pragma: no cover - a slot in `slots` always holds its candidate
            raise KeyError(user_id)
        return candidate

    def needs_compaction(self) -> bool:
        return self.dead > 64 and 2 * self.dead > self.size

    def widen(self, words: int) -> None:
        """Room for more topic words: the vocabulary outgrew them."""
        extra = words - self.topics.shape[1]
        self.topics = np.pad(self.topics, ((0, 0), (0, extra)))

    def _grow(self, capacity: int) -> None:
        extra = capacity - len(self.user)
        self.user, self.since = _longer(self.user, extra), _longer(self.since, extra)
        self.wants, self.given = _longer(self.wants, extra), _longer(self.given, extra)
        self.live, self.rating = _longer(self.live, extra), _longer(self.rating, extra)
        self.topics = np.pad(self.topics, ((0, extra), (0, 0)))

    def _grow_spans(self, capacity: int) -> None:
        extra = capacity - len(self.span_start)
        self.span_start, self.span_end = _longer(self.span_start, extra), _longer(self.span_end, extra)
        self.span_owner = _longer(self.span_owner, extra)

    def suitable(self, new: Candidate, probe: _Probe) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The slots suitable for `new` (history aside), and their weekly overlap with it in minutes."""
        size = self.size
        ok = self.live[:size] & ((self.wants[:size] & _ACCEPTED_BY[new.track]) != 0)
        ok &= self.user[:size] != new.user_id
        if probe.before is None:
            minutes = np.zeros(size, dtype=np.int64)
        else:
            rise = probe.before[self.span_end[: self.spans]] - probe.before[self.span_start[: self.spans]]
            owners = self.span_owner[: self.spans]
            minutes = np.bincount(owners, weights=rise, minlength=size)[:size].astype(np.int64)
            ok &= ~self.given[:size] | (minutes >= MIN_OVERLAP_MINUTES)
        slots = np.flatnonzero(ok)
        return slots, minutes[slots]

    def micro(self, new: Candidate, probe: _Probe, slots: _Ints, minutes: _Ints) -> _Ints:
        """`_score_micro` of `new` with each of the slots."""
        shared = np.zeros(len(slots), dtype=np.int64)
        for word, mask in enumerate(probe.words):
            if mask:
                shared += np.bitwise_count(self.topics[slots, word] & np.uint64(mask))
        hours = np.minimum(minutes, OVERLAP_CAP_MINUTES) * _OVERLAP_MICRO_PER_MINUTE
        micro: NDArray[np.int64] = shared * _TOPIC_MICRO + hours + _rating_micro(new.rating, self.rating[slots])
        return micro


@dataclass(frozen=True, slots=True)
class _Probe:
    """A request about to be scored against a queue: its hours as a function, its topics as the queue's words."""

    before: NDArray[np.int32] | None
    """See `_free_before`; None when the request gave no availability."""
    words: list[int]


class WaitingQueue:
    """The waiting requests, indexed so that `best_partner` scores a new request against all of them at once.

    Grouped by track, with topics as bit masks and free hours as spans on the week's line: one request against
    10,000 waiting is a handful of vectorised passes instead of 10,000 Python comparisons. Keep one in memory per
    queue and `add` and `remove` requests as they start and stop waiting: both are cheap, while building the index
    from scratch costs more than one plain scan of a list (`best_partner` accepts either).

    A learner has at most one open request, so a user appears at most once.
    """

    def __init__(self, candidates: Iterable[Candidate] = ()) -> None:
        self._vocabulary: dict[str, int] = {}
        self._words = 1
        self._shelves: dict[Track, _Shelf] = {"frontend": _Shelf(1), "backend": _Shelf(1)}
        self._track: dict[int, Track] = {}
        for candidate in candidates:
            self.add(candidate)

    def __len__(self) -> int:
        return len(self._track)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._track

    def __iter__(self) -> Iterator[Candidate]:
        for shelf in self._shelves.values():
            yield from (candidate for candidate in shelf.candidates if candidate is not None)

    def add(self, candidate: Candidate) -> None:
        """Queue a request. Raises ValueError when the user already has one queued."""
        if candidate.user_id in self._track:
            raise ValueError(f"user {candidate.user_id} has more than one request in the queue")
        for slug in sorted(candidate.topics - self._vocabulary.keys()):
            self._vocabulary[slug] = len(self._vocabulary)
        words = max(1, -(-len(self._vocabulary) // _WORD_BITS))
        if words > self._words:
            self._words = words
            for shelf in self._shelves.values():
                shelf.widen(words)
        self._shelves[candidate.track].add(candidate, _topic_words(candidate.topics, self._vocabulary, self._words))
        self._track[candidate.user_id] = candidate.track

    def remove(self, user_id: int) -> Candidate:
        """Take a user's request out of the queue (matched, cancelled or expired). Raises KeyError when absent."""
        track = self._track.pop(user_id)
        shelf = self._shelves[track]
        candidate = shelf.remove(user_id)
        if shelf.needs_compaction():
            fresh = _Shelf(self._words)
            for kept in shelf.candidates:
                if kept is not None:
                    fresh.add(kept, _topic_words(kept.topics, self._vocabulary, self._words))
            self._shelves[track] = fresh
        return candidate

    def best_partner(self, new: Candidate, *, past_pairs: frozenset[frozenset[int]]) -> Match | None:
        """`best_partner(new, self, past_pairs=...)`: the same rules, scored with arrays."""
        found = self._suitable(new)
        if found is None:
            return None
        shelf_of, slot_of, micro, since, users = found
        new_since = _instant(new.waiting_since)
        remaining = np.ones(len(users), dtype=np.bool_)
        repeats: list[Candidate] = []
        # Best first; a past partner is set aside and the next best tried, so the history is consulted only for the
        # few partners that beat the best fresh one.
        while remaining.any():
            tied = np.flatnonzero(remaining & (micro == micro[remaining].max()))
            if len(tied) > 1:
                early = np.minimum(since[tied], new_since)
                late = np.maximum(since[tied], new_since)
                low = np.minimum(users[tied], new.user_id)
                high = np.maximum(users[tied], new.user_id)
                tied = tied[np.lexsort((high, low, late, early))[:1]]
            pick = int(tied[0])
            partner = self._at(int(shelf_of[pick]), int(slot_of[pick]))
            if not _paired_before(new, partner, past_pairs):
                return _partner_match(new, partner)
            remaining[pick] = False
            repeats.append(partner)
        return _best_repeat(new, [other for other in repeats if not self._has_fresh_partner(other, past_pairs)])

    def _probe(self, candidate: Candidate) -> _Probe:
        before = None if candidate.intervals is None else _free_before(week_line(candidate.intervals))
        return _Probe(before, _topic_words(candidate.topics, self._vocabulary, self._words))

    def _at(self, shelf: int, slot: int) -> Candidate:
        candidate = list(self._shelves.values())[shelf].candidates[slot]
        if candidate is None:  # pragma: no cover - only live slots are ever suitable
            raise LookupError(slot)
        return candidate

    def _suitable(self, new: Candidate) -> tuple[NDArray[np.int64], ...] | None:
        """Everyone suitable for `new` (history aside): their shelves, slots, scores, waiting starts and user ids."""
        probe = self._probe(new)
        parts: list[tuple[NDArray[np.int64], ...]] = []
        for index, (track, shelf) in enumerate(self._shelves.items()):
            if not _accepts(new.looking_for, track) or shelf.size == 0:
                continue
            slots, minutes = shelf.suitable(new, probe)
            if len(slots):
                micro = shelf.micro(new, probe, slots, minutes)
                parts.append((np.full(len(slots), index), slots, micro, shelf.since[slots], shelf.user[slots]))
        if not parts:
            return None
        return tuple(np.concatenate(column) for column in zip(*parts, strict=True))

    def _has_fresh_partner(self, candidate: Candidate, past_pairs: frozenset[frozenset[int]]) -> bool:
        found = self._suitable(candidate)
        if found is None:
            return False
        return any(frozenset((candidate.user_id, user)) not in past_pairs for user in found[4].tolist())


def assign(
    waiting: Iterable[Candidate],
    *,
    past_pairs: frozenset[frozenset[int]],
    top_k: int = TOP_K,
    exact_limit: int = EXACT_LIMIT,
) -> list[Match]:
    """The periodic round: pairs the whole queue so as to maximise the total score, each learner at most once.

    Greedy rounds let early arrivals take the partners that later ones needed; a maximum-weight matching does not.
    Every allowed pair is worth more than leaving both learners waiting, and among assignments with the same total
    score the one that serves the learners who waited longest wins (see `_weights`). The queue is put in a
    canonical order first, so the result never depends on the order of `waiting`. Matches come back
    longest-waiting pair first.

    How (see the module docstring): every suitable pair is scored and each learner keeps `top_k` candidate
    partners; that sparse graph is solved exactly as an assignment problem when it is bipartite (nobody pairs within
    their own track: the normal case), else as a general matching (see `_solve`). A pool of at most `exact_limit`
    learners with a pair inside a track gets networkx's exact general matching over every allowed pair instead.
    Learners left waiting are scored again among themselves until no two of them could pair, so nobody waits while
    a fresh partner of theirs waits too.

    Raises ValueError when a user appears twice: one learner has at most one open request, and a queue that breaks
    this is a bug upstream that pairing must not paper over.
    """
    pool = sorted(waiting, key=lambda candidate: (candidate.waiting_since, candidate.user_id))
    _reject_duplicates(pool)
    if len(pool) < 2:
        return []
    if len(pool) <= exact_limit:
        links = _allowed_links(sorted(pool, key=lambda candidate: candidate.user_id), past_pairs)
        if any(link.x.track == link.y.track for link in links):
            return _exact_round(links, pool)
    chosen = _sparse_round(_Pool(pool, past_pairs), max(1, top_k), exact_limit)
    links = [
        _Link(pool[x], pool[y], micro, pool[x].topics & pool[y].topics, minutes)
        for x, y, micro, minutes in zip(
            chosen.u.tolist(), chosen.v.tolist(), chosen.micro.tolist(), chosen.minutes.tolist(), strict=True
        )
    ]
    links.sort(key=lambda link: _wait_key(link.x, link.y))
    return [_match(link) for link in links]


def _exact_round(links: Sequence[_Link], pool: Sequence[Candidate]) -> list[Match]:
    """A general maximum-weight matching over every allowed link (networkx): exact, for small pools."""
    import networkx as nx  # here, not at the top: only small pools with pairs inside a track come here

    graph = nx.Graph()
    for link, weight in zip(links, _weights(links, pool), strict=True):
        graph.add_edge(link.x.user_id, link.y.user_id, weight=weight, link=link)
    mates: set[tuple[int, int]] = nx.max_weight_matching(graph, maxcardinality=False)
    chosen: list[_Link] = [graph.edges[u, v]["link"] for u, v in mates]
    chosen.sort(key=lambda link: _wait_key(link.x, link.y))
    return [_match(link) for link in chosen]


def _weights(links: Sequence[_Link], pool: Sequence[Candidate]) -> list[int]:
    """Integer edge weights: the score, then a wait bonus too small to ever outweigh one millionth of a point.

    Each learner's bonus is their rank by wait (the longest-waiting of n learners n, the newest 1) and a pair is
    worth both of theirs: every weight is positive (a zero-score pair is still worth making) and, among assignments
    of equal total score, the heaviest serves the learners who waited longest. A matching's bonuses add up to at
    most n x n, less than `scale`, one unit of score.
    """
    by_wait = sorted(pool, key=lambda candidate: (candidate.waiting_since, candidate.user_id))
    bonus = {candidate.user_id: len(pool) - rank for rank, candidate in enumerate(by_wait)}
    scale = len(pool) * len(pool) + 1
    return [link.micro * scale + bonus[link.x.user_id] + bonus[link.y.user_id] for link in links]


# --- The round at scale ---------------------------------------------------------------------------------------------

_CHUNK_CELLS = 1 << 18
"""Pairs scored per block step: a megabyte per int32 buffer, small enough to stay in cache."""
_EXACT_FLOAT = 1 << 48
"""Weights stay below this, so the float64 solver adds costs (at most twice as big) exactly, with room to spare."""
_DOUBLE_COVER_LIMIT = 2000
"""Beyond this many learners in a graph with pairs inside a track, the double cover is solved only where those
pairs are (see `_solve_mostly_bipartite`): on the whole graph it is several times slower than the assignment."""
_WAIT_LEVELS = 1024
"""At most this many wait ranks in the sparse round's weights: finer ones make the solver slower for nothing."""
_PRICE_SAMPLE = 20
"""Prices are estimated on one learner in this many (at least `_PRICE_SAMPLE_MIN`): an estimate is all they need."""
_PRICE_SAMPLE_MIN = 512
_ALL = slice(None)


def _none() -> _Ints:
    return np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class _Edges:
    """Pairs as pool positions (u < v), with their scores in millionths of a point and their overlap in minutes."""

    u: _Ints
    v: _Ints
    micro: _Ints
    minutes: _Ints

    def __len__(self) -> int:
        return len(self.u)

    @staticmethod
    def of(u: _Ints, v: _Ints, micro: _Ints, minutes: _Ints, size: int) -> _Edges:
        """Normalised (u < v) and without duplicates (a pair kept from both of its ends)."""
        low, high = np.minimum(u, v), np.maximum(u, v)
        _, first = np.unique(low * size + high, return_index=True)
        return _Edges(low[first], high[first], micro[first], minutes[first])

    @staticmethod
    def joined(parts: Sequence[_Edges]) -> _Edges:
        if not parts:
            return _Edges(_none(), _none(), _none(), _none())
        return _Edges(
            np.concatenate([part.u for part in parts]),
            np.concatenate([part.v for part in parts]),
            np.concatenate([part.micro for part in parts]),
            np.concatenate([part.minutes for part in parts]),
        )

    def take(self, index: _Ints | NDArray[np.bool_]) -> _Edges:
        return _Edges(self.u[index], self.v[index], self.micro[index], self.minutes[index])

    def among(self, members: _Ints) -> _Edges:
        return self.take(np.isin(self.u, members) & np.isin(self.v, members))


class _Pool:
    """The round's queue as arrays, longest-waiting first: what the vectorised scoring reads."""

    def __init__(self, pool: Sequence[Candidate], past_pairs: frozenset[frozenset[int]]) -> None:
        size = self.size = len(pool)
        self.user = np.fromiter((c.user_id for c in pool), dtype=np.int64, count=size)
        self.frontend = np.fromiter((c.track == "frontend" for c in pool), dtype=np.bool_, count=size)
        wants = np.fromiter((_WANTS[c.looking_for] for c in pool), dtype=np.int8, count=size)
        self.wants_frontend = (wants & _ACCEPTS_FRONTEND) != 0
        self.wants_backend = (wants & _ACCEPTS_BACKEND) != 0
        self.rating = np.fromiter((c.rating for c in pool), dtype=np.float64, count=size)
        vocabulary = {slug: bit for bit, slug in enumerate(sorted({slug for c in pool for slug in c.topics}))}
        words = max(1, -(-len(vocabulary) // _WORD_BITS))
        masks = [sum(1 << vocabulary[slug] for slug in c.topics) for c in pool]
        self.topics = np.empty((size, words), dtype=np.uint64)
        for word in range(words):
            self.topics[:, word] = [(mask >> (_WORD_BITS * word)) & _WORD_MASK for mask in masks]
        self.topic_count = np.fromiter((len(c.topics) for c in pool), dtype=np.int64, count=size)
        # Learners share availabilities (the same text in the same timezone): overlaps are computed per distinct one.
        profiles: dict[tuple[WeeklyInterval, ...] | None, int] = {}
        self.profile = np.fromiter(
            (profiles.setdefault(c.intervals, len(profiles)) for c in pool), dtype=np.int64, count=size
        )
        self.lines: list[_Line] = [() if key is None else week_line(key) for key in profiles]
        self.given = np.array([key is not None for key in profiles], dtype=np.bool_)
        # The history within the pool, both ways round, and its pairs that are suitable at all.
        position = {c.user_id: index for index, c in enumerate(pool)}
        past = [
            (position[x], position[y])
            for x, y in (tuple(pair) for pair in past_pairs if len(pair) == 2)
            if x in position and y in position
        ]
        self.past_u = np.array([x for x, _ in past] + [y for _, y in past], dtype=np.int64)
        self.past_v = np.array([y for _, y in past] + [x for x, _ in past], dtype=np.int64)
        self._repeats = [(x, y, link) for x, y in past if (link := _link(pool[x], pool[y])) is not None]

    def allowed_repeats(self, fresh: NDArray[np.bool_]) -> _Edges:
        """The past pairs the repeat rule allows here: suitable, and neither of the two has a fresh partner."""
        kept = [(x, y, link) for x, y, link in self._repeats if not fresh[x] and not fresh[y]]
        columns = (
            np.array([x for x, _, _ in kept], dtype=np.int64),
            np.array([y for _, y, _ in kept], dtype=np.int64),
            np.array([link.micro for _, _, link in kept], dtype=np.int64),
            np.array([link.overlap for _, _, link in kept], dtype=np.int64),
        )
        return _Edges.of(*columns, self.size)


def _sparse_round(pool: _Pool, top_k: int, exact_limit: int) -> _Edges:
    """The chosen pairs: the candidate graph solved, then again among those left waiting until none can pair."""
    graph = _candidate_graph(pool, np.arange(pool.size, dtype=np.int64), top_k)
    repeats = pool.allowed_repeats(graph.fresh)
    edges = _Edges.joined([graph.edges, repeats])
    chosen: list[_Edges] = []
    taken = np.zeros(pool.size, dtype=np.bool_)
    while len(edges):
        picked = edges.take(_solve(pool, edges, exact_limit))
        if not len(picked):  # pragma: no cover - positive weights always make some pair
            break
        chosen.append(picked)
        taken[picked.u] = taken[picked.v] = True
        left = np.flatnonzero(~taken)
        edges = _Edges.joined([_candidate_graph(pool, left, top_k).edges, repeats.among(left)])
    return _Edges.joined(chosen)


@dataclass(frozen=True, slots=True)
class _Graph:
    edges: _Edges
    fresh: NDArray[np.bool_]
    """Per pool position: whether the learner has a suitable partner here they were never paired with."""


def _candidate_graph(pool: _Pool, members: _Ints, top_k: int) -> _Graph:
    """Candidate pairs among the members (see `_block_edges`), and which members have a fresh partner at all.

    Three blocks cover every suitable pair: frontend and backend learners who accept the other track, and, within
    each track, the learners who accept their own.
    """
    frontend, backend = members[pool.frontend[members]], members[~pool.frontend[members]]
    across = frontend[pool.wants_backend[frontend]], backend[pool.wants_frontend[backend]]
    fronts, backs = frontend[pool.wants_frontend[frontend]], backend[pool.wants_backend[backend]]
    fresh = np.zeros(pool.size, dtype=np.bool_)
    parts = [
        _block_edges(pool, *across, False, top_k, fresh),
        _block_edges(pool, fronts, fronts, True, top_k, fresh),
        _block_edges(pool, backs, backs, True, top_k, fresh),
    ]
    u, v, micro, minutes = (np.concatenate(column) for column in zip(*parts, strict=True))
    return _Graph(_Edges.of(u, v, micro, minutes, pool.size), fresh)


def _block_edges(
    pool: _Pool, rows: _Ints, cols: _Ints, same: bool, top_k: int, fresh: NDArray[np.bool_]
) -> tuple[_Ints, _Ints, _Ints, _Ints]:
    """Candidate partners within one block: `top_k` for every row among the columns and, across tracks, for every
    column among the rows. Marks in `fresh` everyone of the block with a fresh partner in it. `same`: rows and
    columns are the same learners (those of a track who accept their own track).

    Every pair is scored, a few rows at a time, but not ranked by its score alone: keeping each learner's
    best-scoring partners gives everybody the same few sought-after partners (those free when most people are),
    and leaves the others with candidates who all end up taken. So a partner j ranks by score(i, j) - price(j) / 2,
    price(j) being an estimate of what j can get elsewhere (its k-th best score, on a sample): a partner with good
    options is a weaker candidate, one with few a stronger one. That is what lets a sparse graph hold nearly all of
    the optimum. Keys are int32 (see `_Block`); the exact scores of the kept pairs are computed afterwards.
    """
    if len(rows) == 0 or len(cols) == 0 or (same and len(rows) < 2):
        return _none(), _none(), _none(), _none()
    block = _Block(pool, rows, cols, same)
    rows, cols = block.rows, block.cols  # reordered: learners with topics first
    n_rows, n_cols = len(rows), len(cols)
    row_vector = block.price_vector(along_rows=True, top_k=top_k)  # a term per column, added to every row
    col_vector = block.price_vector(along_rows=False, top_k=top_k)  # a term per row, added to every column
    col_vector += block.tie_rows
    past_rows, past_cols = _pairs_within(pool, pool.past_u, pool.past_v, rows, cols)
    keep = min(top_k, n_cols)
    step = max(1, min(n_rows, _CHUNK_CELLS // n_cols))
    # Buffers reused by every step: fresh memory is dearer to touch than these passes are to run.
    base_buffer, key_buffer, part_buffer = (np.empty((step, n_cols), dtype=np.int32) for _ in range(3))
    flag_buffer = np.empty(-(-step * n_cols // 8) * 8, dtype=np.bool_)  # whole 8-byte words: see `_nonzero`
    found: list[tuple[_Ints, _Ints]] = []
    columns = _RunningTop(n_cols, top_k, n_rows)
    for start in range(0, n_rows, step):
        stop = min(n_rows, start + step)
        height = stop - start
        base, key = base_buffer[:height], key_buffer[:height]
        part, flag = part_buffer[:height], flag_buffer[: height * n_cols].reshape(height, n_cols)
        block.keys(slice(start, stop), out=base, work=key)
        low, high = np.searchsorted(past_rows, (start, stop))
        base[past_rows[low:high] - start, past_cols[low:high]] = block.unsuitable  # a past pair is never fresh
        if same:
            base[np.arange(height), np.arange(start, stop)] = block.unsuitable
        # Rows rank columns; ties between equal columns broken at random, differently at every step.
        np.add(base, row_vector + block.ties(n_cols), out=key)
        np.copyto(part, key)
        part.partition(n_cols - keep, axis=1)
        np.greater_equal(key, part[:, n_cols - keep :].min(axis=1)[:, None], out=flag)
        i, j = _nonzero(flag_buffer, height, n_cols)
        found.append((i + start, j))
        if not same:
            np.add(base, col_vector[start:stop, None], out=key)
            columns.offer(key, start, flag, flag_buffer)
    r, c = (np.concatenate(column) for column in zip(*found, strict=True))
    if not same:
        col_r, col_c = columns.result()
        r, c = np.concatenate((r, col_r)), np.concatenate((c, col_c))
    micro, minutes = block.micro(r, c)
    good = (micro >= 0) & ~np.isin(r * n_cols + c, past_rows * n_cols + past_cols) & (rows[r] != cols[c])
    r, c = r[good], c[good]
    fresh[rows[r]] = True
    fresh[cols[c]] = True
    return rows[r], cols[c], micro[good], minutes[good]


def _nonzero(buffer: NDArray[np.bool_], height: int, width: int) -> tuple[_Ints, _Ints]:
    """np.nonzero of the first height x width flags of `buffer`, read 8 at a time: the flags are few, so most
    8-byte words are zero and skipped at once. `buffer` is a whole number of words."""
    flags = buffer[: -(-height * width // 8) * 8]
    words = np.flatnonzero(flags.view(np.uint64))
    word, byte = np.nonzero(flags.reshape(-1, 8)[words])
    where = words[word] * 8 + byte
    where = where[where < height * width]  # past the end: the buffer's leftovers
    return where // width, where % width


class _RunningTop:
    """Each column's `top_k` rows, over row steps seen one at a time: a floor per column (its k-th best key so far)
    lets only the keys above it through, and the pile is cut back to k per column whenever it grows too big."""

    def __init__(self, n_cols: int, top_k: int, n_rows: int) -> None:
        self.top_k = top_k
        self.floor = np.full(n_cols, np.iinfo(np.int32).min, dtype=np.int32)
        self.row_bits = max(1, n_rows.bit_length())
        # 32 bits of key where they fit beside the column and the row; coarser (a cruder floor) past 100,000 a side.
        self.coarse = max(0, n_cols.bit_length() + 32 + self.row_bits - 63)
        self.packed: list[_Ints] = []
        self.pending = 0
        self.limit = 4 * top_k * n_cols

    def offer(self, keys: NDArray[np.int32], start: int, flag: NDArray[np.bool_], buffer: NDArray[np.bool_]) -> None:
        """Rows start.. of the keys; `flag` is a view of `buffer` (see `_nonzero`) with the keys' shape."""
        height = len(keys)
        if not self.packed and height > self.top_k:  # the first step sets the floors, rather than keep it all
            self.floor = np.partition(keys, height - self.top_k, axis=0)[height - self.top_k]
        np.greater_equal(keys, self.floor[None, :], out=flag)
        r, c = _nonzero(buffer, *keys.shape)
        # One int64 per candidate: column, then key inverted (so that ascending is best first), then row.
        inverted = (np.int64(np.iinfo(np.int32).max) - keys[r, c]) >> self.coarse
        self.packed.append((c << (32 - self.coarse + self.row_bits)) | (inverted << self.row_bits) | (r + start))
        self.pending += len(r)
        if self.pending > self.limit:
            self._cut()

    def result(self) -> tuple[_Ints, _Ints]:
        self._cut()
        packed = self.packed[0]
        return packed & ((1 << self.row_bits) - 1), packed >> (32 - self.coarse + self.row_bits)

    def _cut(self) -> None:
        packed = np.sort(np.concatenate(self.packed)) if self.packed else _none()
        cols = packed >> (32 - self.coarse + self.row_bits)
        rank = np.arange(len(packed)) - np.searchsorted(cols, cols)  # place within its column, best first
        kept = rank < self.top_k
        packed, cols, rank = packed[kept], cols[kept], rank[kept]
        last = rank == self.top_k - 1
        inverted = (packed[last] >> self.row_bits) & ((1 << (32 - self.coarse)) - 1)
        # The lowest key of the k-th best one's bucket: never above the k-th best key itself.
        lowest = np.int64(np.iinfo(np.int32).max) - (((inverted + 1) << self.coarse) - 1)
        self.floor[cols[last]] = np.maximum(lowest, np.iinfo(np.int32).min).astype(np.int32)
        self.packed = [packed]
        self.pending = len(packed)


class _Block:
    """Ranking keys and exact scores of one block's pairs, from tables over its distinct availabilities.

    Keys are int32: twice the score, in units of 2^`shift` millionths (about a thousandth of a point: enough to
    rank), shifted left by `tie_bits` to leave room for tie-breaking bits. An unsuitable pair's key is
    `unsuitable`, below any suitable pair's whatever price, rating or tie term is added, and far from overflowing.
    Ratings stay out of the tables: nearly separable (the rating part is round(a_i + b_j)), they join the price
    vectors, one term per learner; a ranking can afford being off by a unit.
    """

    def __init__(self, pool: _Pool, rows: _Ints, cols: _Ints, same: bool) -> None:
        # Learners with topics first, so that steps of rows without any skip the topic passes, and the passes
        # of the others skip the columns without any.
        rows = np.concatenate((rows[pool.topic_count[rows] > 0], rows[pool.topic_count[rows] == 0]))
        cols = rows if same else np.concatenate((cols[pool.topic_count[cols] > 0], cols[pool.topic_count[cols] == 0]))
        self.pool, self.rows, self.cols, self.same = pool, rows, cols, same
        self.cols_with_topics = int((pool.topic_count[cols] > 0).sum())
        profile_rows, self.profile_rows = np.unique(pool.profile[rows], return_inverse=True)
        profile_cols, self.profile_cols = np.unique(pool.profile[cols], return_inverse=True)
        self.open_rows, self.open_cols = ~pool.given[profile_rows], ~pool.given[profile_cols]
        shared = int(min(pool.topic_count[rows].max(), pool.topic_count[cols].max()))
        rest = shared * _TOPIC_MICRO + OVERLAP_CAP_MINUTES * _OVERLAP_MICRO_PER_MINUTE + _RATING_MICRO
        # Units small enough to rank, large enough that 8 x the largest key fits in 18 bits: 13 bits for ties.
        self.shift = max(10, (2 * rest).bit_length() - 15)
        top = (2 * rest) >> self.shift  # the largest score in key units
        self.tie_bits = 31 - (8 * top + 8).bit_length()
        # Below any suitable key (at least -top / 2, after a price) whatever topics, ratings and ties add (under
        # 3 x top), and above the int32 floor whatever price is taken off (top / 2 at most).
        self.unsuitable = -((4 * top + 4) << self.tie_bits)
        # The overlap part of the keys, looked up by minutes: suitable from MIN_OVERLAP_MINUTES on.
        by_minutes = np.full(MINUTES_PER_WEEK + 1, self.unsuitable, dtype=np.int64)
        enough = np.arange(MIN_OVERLAP_MINUTES, MINUTES_PER_WEEK + 1)
        overlap_part = np.minimum(enough, OVERLAP_CAP_MINUTES) * (2 * _OVERLAP_MICRO_PER_MINUTE)
        by_minutes[MIN_OVERLAP_MINUTES:] = (overlap_part >> self.shift) << self.tie_bits
        self.minutes, self.hours = _overlap_tables(
            [pool.lines[p] for p in profile_rows], [pool.lines[p] for p in profile_cols], by_minutes.astype(np.int32)
        )
        self.hours[self.open_rows, :] = 0  # no availability given: fits anyone's hours, for no points
        self.hours[:, self.open_cols] = 0
        topic_keys = (np.arange(_WORD_BITS + 1, dtype=np.int64) * (2 * _TOPIC_MICRO) >> self.shift) << self.tie_bits
        self.topic_keys = topic_keys.astype(np.int32)
        words = pool.topics.shape[1]
        self.topics_rows = [np.ascontiguousarray(pool.topics[rows, word]) for word in range(words)]
        self.topics_cols = [np.ascontiguousarray(pool.topics[cols, word]) for word in range(words)]
        self.shuffler = np.random.default_rng(len(rows) * 7919 + len(cols))  # seeded: the same queue, the same round
        self.tie_rows = self.ties(len(rows))

    def ties(self, count: int) -> NDArray[np.int32]:
        """Distinct random tie-breaking values for `count` learners (distinct up to 8,192 of them)."""
        ties = 1 << self.tie_bits
        drawn: NDArray[np.int32] = self.shuffler.permutation(ties)[np.arange(count) % ties].astype(np.int32)
        return drawn

    def keys(
        self,
        rows: slice | _Ints,
        cols: slice | _Ints = _ALL,
        *,
        out: NDArray[np.int32] | None = None,
        work: NDArray[np.int32] | None = None,
    ) -> NDArray[np.int32]:
        """Keys (without ties) of some rows with some columns, as block positions; into `out`, `work` as scratch."""
        at_rows, at_cols = self.profile_rows[rows], self.profile_cols[cols]
        shape = (len(at_rows), len(at_cols))
        key = np.empty(shape, dtype=np.int32) if out is None else out
        scratch = np.empty(shape, dtype=np.int32) if work is None else work
        np.take(self.hours[at_rows], at_cols, axis=1, out=key)
        if isinstance(cols, slice):  # all columns: those without topics are the last ones, and can be skipped
            cols, width = slice(0, self.cols_with_topics), self.cols_with_topics
        else:
            width = len(at_cols)
        for row_words, col_words in zip(self.topics_rows, self.topics_cols, strict=True):
            mine, theirs = row_words[rows], col_words[cols]
            if mine.any() and theirs.any():
                np.take(self.topic_keys, np.bitwise_count(mine[:, None] & theirs[None, :]), out=scratch[:, :width])
                key[:, :width] += scratch[:, :width]
        return key

    def rating_terms(self, side: _Ints) -> NDArray[np.int32]:
        """Each learner's half of the rating part, doubled, in key units: 250,000 x (rating + 1)."""
        terms = np.rint(_RATING_MICRO * (self.pool.rating[side] + 1) / 2).astype(np.int64) >> self.shift
        shifted: NDArray[np.int32] = (terms << self.tie_bits).astype(np.int32)
        return shifted

    def price_vector(self, *, along_rows: bool, top_k: int) -> NDArray[np.int32]:
        """What to add to every row of keys (along_rows: a term per column) or to every column (a term per row).

        The learner's doubled rating term, less its price: its k-th best score, estimated on a sample of one in
        `_PRICE_SAMPLE` of the other side (there, the k / `_PRICE_SAMPLE`-th best). A learner with few options
        costs nothing.
        """
        sampled = len(self.rows) if along_rows else len(self.cols)
        size = min(sampled, max(_PRICE_SAMPLE_MIN, sampled // _PRICE_SAMPLE))
        sample = np.linspace(0, sampled - 1, size).astype(np.int64)
        if along_rows:  # prices of the columns, from sampled rows; one row per column
            scores = np.ascontiguousarray(self.keys(sample).T)
            if self.same:
                scores[sample, np.arange(size)] = self.unsuitable
            scores += self.rating_terms(self.rows[sample])[None, :]
            terms = self.rating_terms(self.cols)
        else:  # prices of the rows, from sampled columns
            scores = self.keys(_ALL, sample)
            scores += self.rating_terms(self.cols[sample])[None, :]
            terms = self.rating_terms(self.rows)
        scores += terms[:, None]
        rank = max(1, min(size, round(top_k * size / sampled)))
        kth = np.partition(scores, size - rank, axis=1)[:, size - rank]
        price = (np.maximum(kth >> self.tie_bits, 0) // 2) << self.tie_bits
        vector: NDArray[np.int32] = (terms - price).astype(np.int32)
        return vector

    def micro(self, r: _Ints, c: _Ints) -> tuple[_Ints, _Ints]:
        """Exact `_score_micro` of the pairs (rows[r], cols[c]), -1 where unsuitable, and their overlap in minutes."""
        pool, x, y = self.pool, self.rows[r], self.cols[c]
        at = (self.profile_rows[r], self.profile_cols[c])
        minutes = self.minutes[at].astype(np.int64)
        suitable = (minutes >= MIN_OVERLAP_MINUTES) | self.open_rows[at[0]] | self.open_cols[at[1]]
        hours = np.minimum(minutes, OVERLAP_CAP_MINUTES) * _OVERLAP_MICRO_PER_MINUTE
        shared = np.bitwise_count(pool.topics[x] & pool.topics[y]).sum(axis=1, dtype=np.int64)
        ratings = np.rint(_RATING_MICRO * ((pool.rating[x] + pool.rating[y]) + 2) / 4).astype(np.int64)
        micro = shared * _TOPIC_MICRO + hours + ratings
        micro[~suitable] = -1
        return micro, minutes


def _overlap_tables(
    rows: Sequence[_Line], cols: Sequence[_Line], by_minutes: NDArray[np.int32]
) -> tuple[NDArray[np.int16], NDArray[np.int32]]:
    """Weekly overlap in minutes of every row availability with every column one, and `by_minutes` of it.

    The week is cut wherever either side starts or ends a span; each availability is then 0/1 over the pieces,
    and the overlap is the sum of the lengths of the pieces both cover: a matrix product, which float32 adds
    exactly (whole minutes, at most a week's) in whatever order the BLAS adds them. Done a slice of rows at a time,
    straight into the two tables, so that no table-sized float array is ever made.
    """
    points = np.unique(
        np.array([0, MINUTES_PER_WEEK] + [point for line in (*rows, *cols) for span in line for point in span])
    )

    def cover(lines: Sequence[_Line]) -> NDArray[np.float32]:
        marks = np.zeros((len(lines), len(points)), dtype=np.int32)
        owner = np.array([index for index, line in enumerate(lines) for _ in line], dtype=np.int64)
        starts = np.array([start for line in lines for start, _ in line], dtype=np.int64)
        ends = np.array([end for line in lines for _, end in line], dtype=np.int64)
        np.add.at(marks, (owner, np.searchsorted(points, starts)), 1)
        np.add.at(marks, (owner, np.searchsorted(points, ends)), -1)
        return np.cumsum(marks, axis=1)[:, :-1].astype(np.float32)

    row_cover, col_cover = cover(rows), (cover(cols) * np.diff(points).astype(np.float32)).T
    minutes = np.empty((len(rows), len(cols)), dtype=np.int16)
    looked_up = np.empty((len(rows), len(cols)), dtype=np.int32)
    # Slices of 4M cells: big products keep a multithreaded BLAS efficient, and no float table is ever whole.
    step = max(1, (1 << 22) // max(1, len(cols)))
    for start in range(0, len(rows), step):
        whole = (row_cover[start : start + step] @ col_cover).astype(np.int32)
        np.copyto(minutes[start : start + step], whole, casting="unsafe")
        np.take(by_minutes, whole, out=looked_up[start : start + step])
    return minutes, looked_up


def _pairs_within(pool: _Pool, u: _Ints, v: _Ints, rows: _Ints, cols: _Ints) -> tuple[_Ints, _Ints]:
    """The pairs (u, v) with u among the rows and v among the columns, as block positions, sorted by row."""
    row_at = np.full(pool.size, -1, dtype=np.int64)
    row_at[rows] = np.arange(len(rows))
    col_at = np.full(pool.size, -1, dtype=np.int64)
    col_at[cols] = np.arange(len(cols))
    r, c = row_at[u], col_at[v]
    inside = (r >= 0) & (c >= 0)
    order = np.argsort(r[inside], kind="stable")
    return r[inside][order], c[inside][order]


# --- Solving the candidate graph ------------------------------------------------------------------------------------


def _solve(pool: _Pool, edges: _Edges, exact_limit: int) -> _Ints:
    """A maximum-weight matching of the candidate graph, as indices into `edges`.

    Bipartite (every pair joins the two tracks): the assignment, exact. Otherwise networkx's exact matching for at
    most `exact_limit` learners; the double cover (at least two thirds of the best) up to `_DOUBLE_COVER_LIMIT`;
    beyond, the assignment across tracks, improved where the pairs inside a track are.
    """
    same = pool.frontend[edges.u] == pool.frontend[edges.v]
    if not same.any():
        return _solve_bipartite(pool, edges)
    learners = len(np.unique(np.concatenate((edges.u, edges.v))))
    if learners <= exact_limit:
        return _solve_exact(pool, edges)
    if learners <= _DOUBLE_COVER_LIMIT:
        return _solve_double_cover(pool, edges)
    return _solve_mostly_bipartite(pool, edges, same, exact_limit)


def _solve_mostly_bipartite(pool: _Pool, edges: _Edges, same: NDArray[np.bool_], exact_limit: int) -> _Ints:
    """Many learners, and pairs inside a track among a few of them (who accept their own track).

    The pairs across tracks are solved exactly, as an assignment. Then the learners of the pairs inside a track,
    with their partners in that solution, are solved again together over all their candidate pairs, as a general
    matching (exact when few, else the double cover): their part of the solution is replaced when that weighs
    more. Never worse than the best matching across tracks; pairs inside a track are made where they pay.
    """
    across = np.flatnonzero(~same)
    chosen = across[_solve_bipartite(pool, edges.take(across))]
    core = np.zeros(pool.size, dtype=np.bool_)
    core[edges.u[same]] = core[edges.v[same]] = True
    touched = core[edges.u[chosen]] | core[edges.v[chosen]]
    core[edges.u[chosen[touched]]] = core[edges.v[chosen[touched]]] = True
    inside = np.flatnonzero(core[edges.u] & core[edges.v])
    local = edges.take(inside)
    learners = len(np.unique(np.concatenate((local.u, local.v))))
    again = inside[_solve_exact(pool, local) if learners <= exact_limit else _solve_double_cover(pool, local)]
    weight, _ = _solver_weights(pool, edges, learners)
    if int(weight[again].sum()) > int(weight[chosen[touched]].sum()):
        return np.concatenate((chosen[~touched], again))
    return chosen


def _solver_weights(pool: _Pool, edges: _Edges, pairs: int) -> tuple[_Ints, int]:
    """Integer edge weights, and a ceiling above them all: as `_weights`, within `_EXACT_FLOAT` for a float64 solver.

    The score, scaled, plus both learners' wait bonuses; a matching of at most `pairs` pairs gets less than one
    unit of score from bonuses. With many learners, wait ranks are grouped into fewer bonus levels, which only
    makes the tie-break coarser.
    """
    top = int(edges.micro.max()) + 1
    levels = max(1, min(pool.size, _WAIT_LEVELS, (_EXACT_FLOAT // top - 1) // (2 * max(pairs, 1))))
    bonus = levels - np.arange(pool.size, dtype=np.int64) * levels // pool.size  # pool positions: longest first
    scale = 2 * max(pairs, 1) * levels + 1
    return edges.micro * scale + bonus[edges.u] + bonus[edges.v], top * scale


def _solve_bipartite(pool: _Pool, edges: _Edges) -> _Ints:
    """Every edge joins the two tracks: an assignment problem, solved exactly by LAPJVsp on the sparse graph.

    Made square, because LAPJVsp skips its initial reductions on rectangular problems and leaves every row to a
    shortest-path search: a row per learner of one track and a "left waiting" row per learner of the other, and
    the columns likewise. A pair (a, b) costs K - w; a learner left waiting costs (K + 1) / 2, where their real
    and their waiting node meet; and a pair's two waiting nodes may meet at cost 1. Then a pair costs K - w + 1
    against K + 1 for the two waiting: the cheapest assignment is the heaviest matching (K above every weight).
    """
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    if not len(edges):
        return _none()
    front = pool.frontend[edges.u]
    rows, at_rows = np.unique(np.where(front, edges.u, edges.v), return_inverse=True)
    cols, at_cols = np.unique(np.where(front, edges.v, edges.u), return_inverse=True)
    if len(rows) > len(cols):  # the smaller side as rows: LAPJVsp's reductions then settle most of them at once
        rows, at_rows, cols, at_cols = cols, at_cols, rows, at_rows
    n_rows, n_cols = len(rows), len(cols)
    weight, ceiling = _solver_weights(pool, edges, min(n_rows, n_cols))
    every_row, every_col = np.arange(n_rows), np.arange(n_cols)
    r = np.concatenate((at_rows, every_row, n_rows + at_cols, n_rows + every_col))
    c = np.concatenate((at_cols, n_cols + every_row, n_cols + at_rows, every_col))
    alone = np.full(n_rows + n_cols, ceiling + 1)
    cost = np.concatenate((2 * ceiling + 1 - weight, alone[:n_rows], np.ones(len(edges), np.int64), alone[n_rows:]))
    size = n_rows + n_cols
    got_rows, got_cols = min_weight_full_bipartite_matching(csr_array((cost.astype(np.float64), (r, c)), (size, size)))
    paired = (got_rows < n_rows) & (got_cols < n_cols)
    return _edge_index(at_rows * n_cols + at_cols, got_rows[paired] * n_cols + got_cols[paired])


def _edge_index(keys: _Ints, wanted: _Ints) -> _Ints:
    """Where each wanted key is among `keys` (all distinct, and every wanted one present)."""
    order = np.argsort(keys)
    return order[np.searchsorted(keys[order], wanted)]


def _solve_exact(pool: _Pool, edges: _Edges) -> _Ints:
    """networkx's exact general matching, for few learners."""
    import networkx as nx

    nodes, at = np.unique(np.concatenate((edges.u, edges.v)), return_inverse=True)
    n, count = len(nodes), len(edges)
    a, b = at[:count], at[count:]
    weight, _ = _solver_weights(pool, edges, n)
    graph = nx.Graph()
    graph.add_weighted_edges_from(zip(a.tolist(), b.tolist(), weight.tolist(), strict=True))
    mates: set[tuple[int, int]] = nx.max_weight_matching(graph, maxcardinality=False)
    found = np.array([(min(x, y), max(x, y)) for x, y in mates], dtype=np.int64).reshape(-1, 2)
    return _edge_index(a * n + b, found[:, 0] * n + found[:, 1])  # a < b: nodes keep the pool's order


def _solve_double_cover(pool: _Pool, edges: _Edges) -> _Ints:
    """The bipartite double cover: every learner once as a row and once as a column, a pair as both of its cells,
    "keeps waiting" on the diagonal, solved exactly as an assignment.

    Its optimum is a set of cycles weighing at least twice the best matching (each pair of the best matching is
    a 2-cycle): half of it bounds the best matching from above. A 2-cycle is a pair; a longer cycle gives the
    best matching along it, all of an even cycle's half value and at least two thirds of an odd one's, so the
    result is at least two thirds of the best matching.
    """
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    nodes, at = np.unique(np.concatenate((edges.u, edges.v)), return_inverse=True)
    n, count = len(nodes), len(edges)
    a, b = at[:count], at[count:]
    keys = a * n + b  # a < b: nodes keep the pool's order
    weight, ceiling = _solver_weights(pool, edges, n)
    cost = np.concatenate((ceiling - weight, ceiling - weight, np.full(n, ceiling))).astype(np.float64)
    r = np.concatenate((a, b, np.arange(n)))
    c = np.concatenate((b, a, np.arange(n)))
    got_rows, got_cols = min_weight_full_bipartite_matching(csr_array((cost, (r, c)), shape=(n, n)))
    successor = np.empty(n, dtype=np.int64)
    successor[got_rows] = got_cols
    order = np.argsort(keys)
    sorted_keys, sorted_weights = keys[order], weight[order]

    def edge_weight(x: int, y: int) -> int:
        return int(sorted_weights[np.searchsorted(sorted_keys, min(x, y) * n + max(x, y))])

    pairs: list[tuple[int, int]] = []
    seen = np.zeros(n, dtype=np.bool_)
    for start in np.flatnonzero(successor != np.arange(n)).tolist():
        if seen[start]:
            continue
        cycle = [start]
        seen[start] = True
        step = int(successor[start])
        while step != start:
            cycle.append(step)
            seen[step] = True
            step = int(successor[step])
        pairs += _best_on_cycle(cycle, edge_weight)
    found = np.array([(min(x, y), max(x, y)) for x, y in pairs], dtype=np.int64).reshape(-1, 2)
    return _edge_index(keys, found[:, 0] * n + found[:, 1])


def _best_on_cycle(cycle: list[int], edge_weight: Callable[[int, int], int]) -> list[tuple[int, int]]:
    """The heaviest matching along a cycle of the double cover's optimum (of two nodes: one pair)."""
    if len(cycle) == 2:
        return [(cycle[0], cycle[1])]
    # A matching of a cycle leaves out its last edge or its first: the better of the two paths.
    options = [_best_on_path(cycle, edge_weight), _best_on_path(cycle[1:] + cycle[:1], edge_weight)]
    return max(options, key=lambda pairs: sum(edge_weight(x, y) for x, y in pairs))


def _best_on_path(path: list[int], edge_weight: Callable[[int, int], int]) -> list[tuple[int, int]]:
    """The heaviest matching along a path of nodes, by dynamic programming over its edges."""
    weights = [edge_weight(x, y) for x, y in itertools.pairwise(path)]
    best = [0, weights[0]]  # best[i]: the heaviest matching of the first i edges
    for i in range(2, len(weights) + 1):
        best.append(max(best[i - 1], best[i - 2] + weights[i - 1]))
    pairs: list[tuple[int, int]] = []
    i = len(weights)
    while i >= 1:
        if best[i] != best[i - 1]:  # edge i - 1 is in it
            pairs.append((path[i - 1], path[i]))
            i -= 2
        else:
            i -= 1
    return pairs


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
