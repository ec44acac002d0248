"""The matcher at the size of a large server: one new request against 10,000 waiting, and the periodic round.

The queue is generated (seeded) to look like the real one: frontend and backend learners, 0-4 topics from the
knowledge base's cards (a few popular, most not), weekly availability typed in the compact form in a dozen
timezones and parsed by `parse_availability` (15% give none), waits spread over two weeks, ratings for the 30% with
history, and a past pair or three for 5% of the learners.

1. `best_partner` with 10,000 waiting: the plain scan over a list, as the service does it for a new request.
2. The optimised round (`assign`) at 6,000 x 4,000 and 5,000 x 5,000, end to end: from the rows as a service loads
   them (the Candidates are built inside the timing) to the list of matches. Beside it, on the same queue: the
   exact optimum, from the dense score matrix solved by SciPy's `linear_sum_assignment` (the matrix is computed
   here without the matcher, and checked against `score` and `compatible` on random pairs); a greedy round (best
   pair first); every pair checked against the rules (compatible, nobody twice, no repeat while avoidable); and
   the round's peak memory, traced by tracemalloc in a run of its own.
3. A round where 5% of the learners accept either track, which makes the graph non-bipartite: time, total, checks.

`NEXUS_BENCH_QUICK=1` runs everything at a fifth of the size (the targets are then not measured).
"""

from __future__ import annotations

import os
import random
import sys
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from benchmarks._table import Row, row
from bot.pairing.availability import MINUTES_PER_WEEK, WeeklyInterval, merge_intervals, parse_availability
from bot.pairing.matching import (
    MIN_OVERLAP_MINUTES,
    OVERLAP_CAP_MINUTES,
    Candidate,
    LookingFor,
    Match,
    Track,
    assign,
    best_partner,
    compatible,
    default_looking_for,
    score,
)
from bot.runtime.paths import default_data_dir

QUICK = os.environ.get("NEXUS_BENCH_QUICK", "") not in ("", "0")
SCALE = 5 if QUICK else 1
WAITING = 10_000 // SCALE
NEW_REQUESTS = 100
SCANNED = 100
ROUNDS = ((6_000 // SCALE, 4_000 // SCALE), (5_000 // SCALE, 5_000 // SCALE))
ROUND_RUNS = 5
ANY_SHARE = 0.05
CHECKED_PAIRS = 2_000
NOW = datetime(2026, 2, 2, 12, 0, tzinfo=UTC)  # a week without a change of clocks in these zones
# Where learners are, weighted: mostly the African timezones of the programme, a few beyond (and a half hour).
ZONES = {
    "Africa/Lagos": 28,
    "Africa/Nairobi": 18,
    "Africa/Accra": 8,
    "Africa/Johannesburg": 7,
    "Africa/Cairo": 7,
    "Africa/Kigali": 6,
    "Africa/Casablanca": 5,
    "Africa/Addis_Ababa": 5,
    "Europe/London": 6,
    "Asia/Kolkata": 4,
    "America/New_York": 3,
    "Asia/Dubai": 3,
}
DAYS = ("Mon-Fri", "weekdays", "weekends", "daily", "Mon, Wed, Fri", "Tue, Thu", "Sat", "Sun", "Mon-Thu", "Fri-Sun")
START_HOURS = (6, 7, 8, 9, 10, 12, 14, 16, 17, 18, 18, 19, 19, 20, 20, 21, 22)
LENGTHS = (60, 90, 120, 120, 180, 180, 240)
MICRO = 1_000_000


@dataclass(frozen=True)
class Request:
    """A waiting request as a service loads it: the fields of a `Candidate`."""

    user_id: int
    track: Track
    looking_for: LookingFor
    topics: frozenset[str]
    intervals: tuple[WeeklyInterval, ...] | None
    waiting_since: datetime
    rating: float

    def candidate(self) -> Candidate:
        return Candidate(
            self.user_id,
            self.track,
            self.looking_for,
            self.topics,
            self.intervals,
            self.waiting_since,
            self.rating,
        )


class Generator:
    """Seeded learners: the same queue every run."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.topics = sorted(path.stem for path in (default_data_dir() / "topics").glob("*.md"))
        popularity = [1 / (rank + 1) ** 0.8 for rank in range(len(self.topics))]
        self.rng.shuffle(popularity)
        self.popularity = popularity
        self.parsed: dict[tuple[str, str], tuple[WeeklyInterval, ...]] = {}

    def _window(self) -> str:
        start = self.rng.choice(START_HOURS) * 60 + self.rng.choice((0, 0, 0, 30))
        end = (start + self.rng.choice(LENGTHS)) % (24 * 60)  # may pass midnight
        return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"

    def _availability(self) -> tuple[WeeklyInterval, ...] | None:
        if self.rng.random() < 0.15:
            return None
        text = f"{self.rng.choice(DAYS)} {self._window()}"
        if self.rng.random() < 0.35:
            text += f", {self.rng.choice(('Sat', 'Sun', 'weekends'))} {self._window()}"
        zone = self.rng.choices(list(ZONES), weights=list(ZONES.values()))[0]
        key = (text, zone)
        if key not in self.parsed:
            self.parsed[key] = parse_availability(text, zone, reference=NOW).intervals
        return self.parsed[key]

    def request(self, user_id: int, track: Track, any_share: float = 0.0) -> Request:
        count = self.rng.choice((0, 1, 1, 2, 2, 3, 4))
        topics = frozenset(self.rng.choices(self.topics, weights=self.popularity, k=count))
        looking_for: LookingFor = "any" if self.rng.random() < any_share else default_looking_for(track)
        rating = 0.0 if self.rng.random() < 0.7 else round(self.rng.uniform(-1, 1), 2)
        since = NOW - timedelta(seconds=self.rng.randrange(14 * 24 * 3600))
        return Request(user_id, track, looking_for, topics, self._availability(), since, rating)

    def queue(self, frontend: int, backend: int, any_share: float = 0.0) -> list[Request]:
        tracks: list[Track] = ["frontend"] * frontend + ["backend"] * backend
        requests = [self.request(1_000_000 + index, track, any_share) for index, track in enumerate(tracks)]
        self.rng.shuffle(requests)
        return requests

    def history(self, requests: Sequence[Request], share: float = 0.05) -> frozenset[frozenset[int]]:
        """Past pairs for `share` of the learners, one to three each, mostly with the other track."""
        by_track: dict[str, list[int]] = {"frontend": [], "backend": []}
        for request in requests:
            by_track[request.track].append(request.user_id)
        pairs: set[frozenset[int]] = set()
        for request in self.rng.sample(list(requests), int(len(requests) * share)):
            for _ in range(self.rng.randint(1, 3)):
                other_track = default_looking_for(request.track) if self.rng.random() < 0.9 else request.track
                partner = self.rng.choice(by_track[other_track])
                if partner != request.user_id:
                    pairs.add(frozenset((request.user_id, partner)))
        return frozenset(pairs)


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _progress(message: str) -> None:
    print(f"[pairing] {message}", file=sys.stderr, flush=True)


# --- best_partner -----------------------------------------------------------------------------------------------


def _best_partner_rows(generator: Generator, notes: list[str]) -> list[Row]:
    waiting = [request.candidate() for request in generator.queue(WAITING * 6 // 10, WAITING * 4 // 10)]
    arrivals = [
        generator.request(2_000_000 + index, "frontend" if index % 2 else "backend").candidate()
        for index in range(NEW_REQUESTS)
    ]
    everyone = [
        Request(c.user_id, c.track, c.looking_for, c.topics, c.intervals, c.waiting_since, c.rating)
        for c in [*waiting, *arrivals]
    ]
    past = generator.history(everyone)
    scanned: list[float] = []
    matched = 0
    for new in arrivals[:SCANNED]:
        started = time.perf_counter_ns()
        matched += best_partner(new, waiting, past_pairs=past) is not None
        scanned.append((time.perf_counter_ns() - started) / 1e9)
    rows = [row(f"best_partner, {len(waiting):,} waiting, plain list scan", scanned, note=f"{matched} matched")]
    notes.append(f"best_partner: {len(past):,} past pairs")
    return rows


# --- The round ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dense:
    """Every frontend x backend pair of a queue, scored here without the matcher (millionths; -1: not allowed)."""

    frontend: list[Candidate]
    backend: list[Candidate]
    micro: NDArray[np.int64]
    seconds: float


def _line(intervals: tuple[WeeklyInterval, ...]) -> list[tuple[int, int]]:
    """Merged spans on the week's line [0, MINUTES_PER_WEEK]: an interval past Sunday night is cut in two."""
    spans: list[tuple[int, int]] = []
    for interval in merge_intervals(intervals):
        if interval.end <= MINUTES_PER_WEEK:
            spans.append((interval.start, interval.end))
        else:
            spans += [(interval.start, MINUTES_PER_WEEK), (0, interval.end - MINUTES_PER_WEEK)]
    return spans


def _minutes(left: Sequence[Candidate], right: Sequence[Candidate]) -> NDArray[np.int64]:
    """Weekly overlap of every left learner with every right one, through their distinct availabilities."""
    keys = {c.intervals for c in [*left, *right] if c.intervals is not None}
    lines = {key: _line(key) for key in keys}
    points = np.unique([0, MINUTES_PER_WEEK, *(p for line in lines.values() for span in line for p in span)])
    index = {key: number for number, key in enumerate(lines)}
    cover = np.zeros((len(lines) + 1, len(points) - 1))  # the last row: no availability
    for key, line in lines.items():
        for start, end in line:
            cover[index[key], np.searchsorted(points, start) : np.searchsorted(points, end)] = 1
    table = np.rint((cover * np.diff(points)) @ cover.T).astype(np.int64)
    none = len(lines)
    at_left = np.array([index.get(c.intervals, none) if c.intervals is not None else none for c in left])
    at_right = np.array([index.get(c.intervals, none) if c.intervals is not None else none for c in right])
    return table[at_left][:, at_right]


def _dense(candidates: Sequence[Candidate], past: frozenset[frozenset[int]]) -> Dense:
    started = time.perf_counter()
    frontend = [c for c in candidates if c.track == "frontend"]
    backend = [c for c in candidates if c.track == "backend"]
    minutes = _minutes(frontend, backend)
    given_f = np.array([c.intervals is not None for c in frontend])
    given_b = np.array([c.intervals is not None for c in backend])
    suitable = (minutes >= MIN_OVERLAP_MINUTES) | ~given_f[:, None] | ~given_b[None, :]
    vocabulary = {slug: bit for bit, slug in enumerate(sorted({s for c in candidates for s in c.topics}))}

    words = max(1, -(-len(vocabulary) // 64))

    def masks(side: Sequence[Candidate], word: int) -> NDArray[np.uint64]:
        # One 64-bit word of each learner's topic mask: the knowledge base has more than 64 slugs.
        bits = [sum(1 << vocabulary[s] for s in c.topics) >> (64 * word) & (2**64 - 1) for c in side]
        return np.array(bits, dtype=np.uint64)

    shared = np.zeros((len(frontend), len(backend)), dtype=np.int64)
    for word in range(words):
        shared += np.bitwise_count(masks(frontend, word)[:, None] & masks(backend, word)[None, :])
    ratings_f = np.array([c.rating for c in frontend])
    ratings_b = np.array([c.rating for c in backend])
    ratings = np.rint(MICRO // 2 * ((ratings_f[:, None] + ratings_b[None, :]) + 2) / 4).astype(np.int64)
    micro = shared * 10 * MICRO + np.minimum(minutes, OVERLAP_CAP_MINUTES) * 12_500 + ratings
    micro[~suitable] = -1
    # The repeat rule: a past pair stays allowed only when neither of the two has a fresh partner in the queue.
    position_f = {c.user_id: index for index, c in enumerate(frontend)}
    position_b = {c.user_id: index for index, c in enumerate(backend)}
    repeats = [
        (position_f[x], position_b[y])
        for pair in past
        for x, y in (tuple(pair), tuple(pair)[::-1])
        if x in position_f and y in position_b
    ]
    at_f = np.array([f for f, _ in repeats], dtype=np.int64)
    at_b = np.array([b for _, b in repeats], dtype=np.int64)
    kept = micro[at_f, at_b].copy()
    micro[at_f, at_b] = -1
    fresh_f, fresh_b = (micro >= 0).any(axis=1), (micro >= 0).any(axis=0)
    allowed = (kept >= 0) & ~fresh_f[at_f] & ~fresh_b[at_b]
    micro[at_f[allowed], at_b[allowed]] = kept[allowed]
    return Dense(frontend, backend, micro, time.perf_counter() - started)


def _check_dense(dense: Dense, past: frozenset[frozenset[int]], rng: random.Random) -> int:
    """How many random pairs the dense matrix scores differently from `score` and `compatible` (ought to be 0)."""
    wrong = 0
    for _ in range(CHECKED_PAIRS):
        f, b = rng.randrange(len(dense.frontend)), rng.randrange(len(dense.backend))
        x, y = dense.frontend[f], dense.backend[b]
        fresh = compatible(x, y, past_pairs=frozenset())
        value = int(dense.micro[f, b])
        if frozenset((x.user_id, y.user_id)) in past:
            wrong += value >= 0 and not fresh
        elif value >= 0:
            wrong += not fresh or value != round(score(x, y) * MICRO)
        else:
            wrong += fresh
    return wrong


def _optimum(dense: Dense) -> tuple[float, float]:
    """The best total score (points) and the seconds the dense assignment took."""
    weights = np.where(dense.micro >= 0, dense.micro, 0).astype(np.float64)
    started = time.perf_counter()
    rows, cols = linear_sum_assignment(weights, maximize=True)
    seconds = time.perf_counter() - started
    return float(weights[rows, cols].sum()) / MICRO, seconds


def _greedy(dense: Dense) -> tuple[float, float, int]:
    """Best pair first (longest wait on ties), each learner once: total score, seconds, pairs."""
    started = time.perf_counter()
    f, b = np.nonzero(dense.micro >= 0)
    values = dense.micro[f, b]
    waits = sorted(range(len(dense.frontend) + len(dense.backend)), key=lambda i: _since(dense, i))
    rank = np.empty(len(waits), dtype=np.int64)
    rank[waits] = np.arange(len(waits))
    early = np.minimum(rank[f], rank[len(dense.frontend) + b])
    late = np.maximum(rank[f], rank[len(dense.frontend) + b])
    bits = max(1, len(waits).bit_length())
    order = np.argsort((((int(values.max()) - values) << bits | early) << bits) | late)
    free_f = np.ones(len(dense.frontend), dtype=np.bool_)
    free_b = np.ones(len(dense.backend), dtype=np.bool_)
    total, pairs = 0, 0
    for start in range(0, len(order), 1 << 16):
        block = order[start : start + (1 << 16)]
        block = block[free_f[f[block]] & free_b[b[block]]]
        for edge in block.tolist():
            x, y = f[edge], b[edge]
            if free_f[x] and free_b[y]:
                free_f[x] = free_b[y] = False
                total += int(values[edge])
                pairs += 1
        if not free_f.any() or not free_b.any():
            break
    return total / MICRO, time.perf_counter() - started, pairs


def _since(dense: Dense, index: int) -> tuple[datetime, int]:
    side = dense.frontend[index] if index < len(dense.frontend) else dense.backend[index - len(dense.frontend)]
    return side.waiting_since, side.user_id


def _violations(matches: Sequence[Match], dense: Dense, past: frozenset[frozenset[int]]) -> tuple[int, int, int]:
    """Repeats made while avoidable, other pairs not allowed or misreported, and learners matched twice."""
    position_f = {c.user_id: index for index, c in enumerate(dense.frontend)}
    position_b = {c.user_id: index for index, c in enumerate(dense.backend)}
    repeats = invalid = 0
    for match in matches:
        f = position_f.get(match.a, position_f.get(match.b))
        b = position_b.get(match.a, position_b.get(match.b))
        value = -1 if f is None or b is None else int(dense.micro[f, b])
        if value < 0 and frozenset((match.a, match.b)) in past:
            repeats += 1
        elif value < 0 or value != round(match.score * MICRO):
            invalid += 1
    users = [user for match in matches for user in (match.a, match.b)]
    return repeats, invalid, len(users) - len(set(users))


def _round_rows(generator: Generator, frontend: int, backend: int, notes: list[str]) -> list[Row]:
    label = f"{frontend:,} x {backend:,}"
    requests = generator.queue(frontend, backend)
    past = generator.history(requests)
    _progress(f"round {label}: optimised round x{ROUND_RUNS}")
    seconds: list[float] = []
    matches: list[Match] = []
    for _ in range(ROUND_RUNS):
        started = time.perf_counter()
        matches = assign([request.candidate() for request in requests], past_pairs=past)
        seconds.append(time.perf_counter() - started)
    ours = sum(match.score for match in matches)
    candidates = [request.candidate() for request in requests]
    tracemalloc.start()
    started = time.perf_counter()
    assign(candidates, past_pairs=past)
    traced = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    _progress(f"round {label}: dense scores, exact optimum, greedy")
    dense = _dense(candidates, past)
    wrong = _check_dense(dense, past, generator.rng)
    optimum, optimum_seconds = _optimum(dense)
    greedy_total, greedy_seconds, greedy_pairs = _greedy(dense)
    started = time.perf_counter()
    repeats, invalid, twice = _violations(matches, dense, past)
    checked = time.perf_counter() - started
    ratio = ours / optimum
    final = not QUICK
    timed = row(f"round {label}: assign, end to end", seconds)
    rows = [
        Row(
            timed.name,
            timed.samples,
            timed.median_ms,
            timed.p99_ms,
            "< 1,000 ms" if final else "",
            f"total {ours:,.2f}, {len(matches):,} pairs {_verdict(timed.median_ms < 1000) if final else ''}".strip(),
        ),
        Row(
            "  exact optimum: linear_sum_assignment, dense",
            1,
            optimum_seconds * 1000,
            optimum_seconds * 1000,
            ">= 99.5%" if final else "",
            f"total {optimum:,.2f}; ours {ratio:.4%} {_verdict(ratio >= 0.995) if final else ''}".strip(),
        ),
        Row(
            "  greedy round, best pair first",
            1,
            greedy_seconds * 1000,
            greedy_seconds * 1000,
            "",
            f"total {greedy_total:,.2f}, {greedy_pairs:,} pairs ({greedy_total / optimum:.2%} of optimum)",
        ),
        Row(
            "  rules: repeats / invalid / twice",
            1,
            checked * 1000,
            checked * 1000,
            "0 / 0 / 0",
            f"{repeats} / {invalid} / {twice} {_verdict(repeats == invalid == twice == 0)}",
        ),
        Row(
            "  peak memory of the round (tracemalloc)",
            1,
            traced * 1000,
            traced * 1000,
            "< 300 MB" if final else "",
            f"{peak / 1e6:,.0f} MB {_verdict(peak < 300e6) if final else ''}".strip(),
        ),
    ]
    notes.append(
        f"round {label}: {len(past):,} past pairs; assign runs {', '.join(f'{s * 1000:.0f}' for s in seconds)} ms "
        f"(the traced one: {traced * 1000:.0f} ms); the dense score matrix for the optimum and the checks took "
        f"{dense.seconds:.1f} s to build and disagrees with score()/compatible() on {wrong} of {CHECKED_PAIRS:,} "
        "random pairs"
    )
    return rows


def _any_rows(generator: Generator, notes: list[str]) -> list[Row]:
    """A round where some learners accept either track: pairs inside a track make the graph non-bipartite."""
    frontend, backend = ROUNDS[1]
    label = f"{frontend:,} x {backend:,}, {ANY_SHARE:.0%} 'any'"
    requests = generator.queue(frontend, backend, ANY_SHARE)
    past = generator.history(requests)
    _progress(f"round {label}")
    seconds: list[float] = []
    matches: list[Match] = []
    for _ in range(3):
        started = time.perf_counter()
        matches = assign([request.candidate() for request in requests], past_pairs=past)
        seconds.append(time.perf_counter() - started)
    by_id = {request.user_id: request.candidate() for request in requests}
    users = [user for match in matches for user in (match.a, match.b)]
    unsuitable = sum(not compatible(by_id[m.a], by_id[m.b], past_pairs=frozenset()) for m in matches)
    repeats = sum(frozenset((m.a, m.b)) in past for m in matches)
    within = sum(by_id[m.a].track == by_id[m.b].track for m in matches)
    notes.append(
        f"round {label}: {within} pairs within a track; repeats made {repeats} (allowed only when neither has a "
        f"fresh partner; not checked exhaustively here)"
    )
    ok = unsuitable == 0 and len(users) == len(set(users))
    return [
        row(
            f"round {label}: assign",
            seconds,
            note=f"total {sum(m.score for m in matches):,.2f}, {len(matches):,} pairs, valid {_verdict(ok)}",
        )
    ]


def run() -> tuple[list[Row], list[str]]:
    notes: list[str] = []
    generator = Generator(seed=5)
    _progress("best_partner")
    rows = _best_partner_rows(generator, notes)
    for frontend, backend in ROUNDS:
        rows += _round_rows(generator, frontend, backend, notes)
    rows += _any_rows(generator, notes)
    if QUICK:
        notes.append("NEXUS_BENCH_QUICK: sizes divided by 5; the targets were not measured")
    notes.append(
        f"availability: {len(generator.parsed):,} distinct (text, timezone) pairs parsed; timings on a shared "
        f"2-core machine: compare rows of one run; medians of {ROUND_RUNS} rounds"
    )
    return rows, notes
