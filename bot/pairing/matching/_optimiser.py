"""The round at scale: the sparse candidate graph and its solvers (numpy and SciPy, imported with this module).

See the package docstring for how; `round.assign` comes here only for pools beyond `SMALL_POOL`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.pairing.availability import MINUTES_PER_WEEK, WeeklyInterval, week_line
from bot.pairing.matching.rules import (
    _OVERLAP_MICRO_PER_MINUTE,
    _RATING_MICRO,
    _TOPIC_MICRO,
    MIN_OVERLAP_MINUTES,
    OVERLAP_CAP_MINUTES,
    Candidate,
    LookingFor,
    _link,
)

_ACCEPTS_FRONTEND, _ACCEPTS_BACKEND = 1, 2
_WANTS: dict[LookingFor, int] = {
    "frontend": _ACCEPTS_FRONTEND,
    "backend": _ACCEPTS_BACKEND,
    "any": _ACCEPTS_FRONTEND | _ACCEPTS_BACKEND,
}
_WORD_BITS = 64
_WORD_MASK = (1 << _WORD_BITS) - 1
_Line = tuple[tuple[int, int], ...]
_Ints = NDArray[np.int64]

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
