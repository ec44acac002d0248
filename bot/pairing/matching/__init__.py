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

* `best_partner` scans a plain list in Python (`rules.py`): the service loads the server's queue for each request
  under its lock, so the table stays the only copy (no index to keep in step across commands, rounds and processes).
* `assign` (`round.py`) gives a pool of at most `SMALL_POOL` learners, or a pool of at most `EXACT_LIMIT` with pairs
  inside a track (someone accepts their own track), to networkx's exact general matching, in pure Python. Any other
  pool goes to the optimiser (`_optimiser.py`, numpy and SciPy, imported then) in three steps. Candidates: every
  suitable pair is scored, in vectorised blocks, and each learner keeps `top_k` partners, ranked by score less half
  the partner's "price" (what that partner can get elsewhere), so that learners nobody prefers still keep candidates
  who will be free (see `_block_edges`). Solving: when every candidate pair joins the two tracks (the normal case) the
  sparse graph is an assignment problem, solved exactly by SciPy's LAPJVsp; pairs inside a track make it a general
  matching, solved through the bipartite double cover (see `_solve`). Again: learners left waiting are scored among
  themselves and solved again, until no two of them could pair. Weights keep the rules above: score first, in exact
  integers, then the wait, and every allowed pair is worth more than none. With `top_k` at least the size of the other
  track, a bipartite pool gets the exact optimum; on larger ones benchmarks/pairing.py measures the gap to it.
"""

from __future__ import annotations

from bot.pairing.matching.round import EXACT_LIMIT, SMALL_POOL, TOP_K, assign
from bot.pairing.matching.rules import (
    MIN_OVERLAP_MINUTES,
    OVERLAP_CAP_MINUTES,
    Candidate,
    LookingFor,
    Match,
    Track,
    best_partner,
    compatible,
    default_looking_for,
    score,
)

__all__ = [
    "EXACT_LIMIT",
    "MIN_OVERLAP_MINUTES",
    "OVERLAP_CAP_MINUTES",
    "SMALL_POOL",
    "TOP_K",
    "Candidate",
    "LookingFor",
    "Match",
    "Track",
    "assign",
    "best_partner",
    "compatible",
    "default_looking_for",
    "score",
]
