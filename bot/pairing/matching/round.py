"""The periodic round: the whole queue paired for the best total score.

Small pools are solved exactly in pure Python (networkx's general matching), so a server with a short queue never
loads numpy or SciPy; larger ones go to the sparse optimiser (`_optimiser.py`), imported only then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.pairing.matching.rules import (
    Candidate,
    Match,
    _allowed_links,
    _Link,
    _match,
    _reject_duplicates,
    _wait_key,
)

TOP_K = 20
"""How many best partners of each learner the periodic round keeps as candidates (see `assign`)."""
EXACT_LIMIT = 100
"""Pools up to this size with pairs inside a track get networkx's exact general matching, whose cost grows as n^3."""
SMALL_POOL = 2 * TOP_K
"""Pools up to this size are solved exactly without numpy. The smaller track of such a pool has at most `TOP_K`
learners, so the sparse optimiser keeps every pair too and is exact: both give the same optimum."""


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

    How (see the package docstring): a pool of at most `SMALL_POOL` (and `exact_limit`) learners gets networkx's exact
    general matching over every allowed pair, in pure Python. Beyond, every suitable pair is scored and each learner
    keeps `top_k` candidate partners; that sparse graph is solved exactly as an assignment problem when it is bipartite
    (nobody pairs within their own track: the normal case), else as a general matching (see `_solve`). A pool of at most
    `exact_limit` learners with a pair inside a track gets networkx's exact general matching over every allowed pair
    instead. Learners left waiting are scored again among themselves until no two of them could pair, so nobody waits
    while a fresh partner of theirs waits too.

    Raises ValueError when a user appears twice: one learner has at most one open request, and a queue that breaks
    this is a bug upstream that pairing must not paper over.
    """
    pool = sorted(waiting, key=lambda candidate: (candidate.waiting_since, candidate.user_id))
    _reject_duplicates(pool)
    if len(pool) < 2:
        return []
    if len(pool) <= exact_limit:
        links = _allowed_links(sorted(pool, key=lambda candidate: candidate.user_id), past_pairs)
        if len(pool) <= SMALL_POOL or any(link.x.track == link.y.track for link in links):
            return _exact_round(links, pool)
    # Imported here: numpy and SciPy cost tens of megabytes, and most servers never queue more than SMALL_POOL.
    from bot.pairing.matching._optimiser import _Pool, _sparse_round

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
    import networkx as nx  # here, not at the top: only small pools come here

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
