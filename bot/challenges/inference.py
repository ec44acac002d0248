"""Which knowledge-base topics a free-text post is about, from the names and keywords of the cards.

A post is matched on `normalise`d text (lowercase, accents folded, `_-./` read as spaces), name by
whole name: "redis" never matches "redistribute", nor "pod" "podcast". A post costs one scan of its
words: a name can only start where a word starts, and only with that whole word (a name's first
word is followed by a non-word character or by its end, and so must the text's), so each word
looks up the few names that begin with it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from bot.knowledge.cards import TopicCard
from bot.knowledge.text import normalise

# Names this short ("ci", "cd", "pg", "mq") are everyday letter pairs in lowercase prose ("cd into
# the folder"); written in capitals they are the term.
SHORT_NAME = 2

# The same separators as `normalise`, so that the case-keeping copy lines up with it character by
# character (see `_fold`).
_SEPARATORS = re.compile(r"[\s_\-./]+")
_ALNUM = "a-z0-9"
_ALNUM_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_FIRST_WORD = re.compile(rf"[{_ALNUM}]+")


def _fold(text: str) -> str:
    """`normalise(text)` without the lowercasing: same length, same positions, original case."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _SEPARATORS.sub(" ", folded).strip()


# Names of cards that are also everyday English: alone they say little about a post's topic
# ("it depends on the rest of the code" is about neither Compose nor REST).
EVERYDAY_WORDS = frozenset(
    {
        *("rest", "compose", "depends", "depends on", "yield", "cache", "deploy", "index", "queue", "role"),
        *("roles", "pipeline", "schema", "mock", "signals", "admin", "models", "migrations", "permissions"),
        *("testing", "throttling", "pagination", "monitoring", "scaling", "enter", "exit", "release"),
        *("password", "orm"),
    }
)


def _card_names(card: TopicCard) -> Iterable[tuple[str, bool]]:
    """Every name of a card, and whether it is strong: a name of the card rather than a keyword."""
    for name in (card.slug, card.title, *card.aliases):
        yield name, True
    for name in card.keywords:
        yield name, False


@dataclass(slots=True)
class _Hits:
    """What one card matched in one text: the distinct names, and where the first one was."""

    first: int
    names: set[str] = field(default_factory=set)


def _places(text: str, part: str) -> Iterator[int]:
    """Where `part` occurs in `text` after no letter or digit: where a name may start."""
    start = text.find(part)
    while start >= 0:
        if start == 0 or text[start - 1] not in _ALNUM_CHARS:
            yield start
        start = text.find(part, start + 1)


class TopicMatcher:
    def __init__(self, cards: Sequence[TopicCard]) -> None:
        owners: dict[str, list[str]] = {}
        self._weight: dict[tuple[str, str], float] = {}
        for card in cards:
            for raw, strong in _card_names(card):
                name = normalise(raw)
                if not name:
                    continue
                # A keyword may point at several cards; the same name twice on one card counts once.
                if card.slug not in owners.setdefault(name, []):
                    owners[name].append(card.slug)
                weight = 0.5 if name in EVERYDAY_WORDS else 2.0 if strong else 1.0
                self._weight[card.slug, name] = max(weight, self._weight.get((card.slug, name), 0.0))
        self._owners = {name: tuple(slugs) for name, slugs in owners.items()}
        self._slugs = frozenset(card.slug for card in cards)
        # A regex returns one match per position: the longest name wins, and the shorter names it
        # starts with ("docker" in "docker compose") are added from this table. Those are the name's cuts
        # before a character that is no letter or digit: looked up, not found by comparing every pair of
        # names (quadratic: seconds for the knowledge base, paid by every service built).
        order = {name: index for index, name in enumerate(self._owners)}
        self._shorter: dict[str, tuple[str, ...]] = {
            name: tuple(
                sorted(
                    {name[:cut] for cut in range(1, len(name)) if not name[cut].isalnum() and name[:cut] in order},
                    key=order.__getitem__,
                )
            )
            for name in self._owners
        }
        # Names by the run of letters and digits they start with ("docker" for "docker compose"), or
        # by their first character when that is no letter ("@property"); longest first, so that the
        # first one present is the longest name at that place.
        self._by_start: dict[str, tuple[str, ...]] = {}
        for name in sorted(self._owners, key=lambda name: (-len(name), name)):
            key = _FIRST_WORD.match(name)
            start = key.group() if key else name[0]
            self._by_start[start] = (*self._by_start.get(start, ()), name)
        self._words = frozenset(start for start in self._by_start if _FIRST_WORD.fullmatch(start))
        self._symbols = tuple(sorted(start for start in self._by_start if start not in self._words))

    def infer(self, text: str, limit: int = 5) -> tuple[str, ...]:
        """The slugs of the cards `text` names, most distinct names first, then earliest mention."""
        if limit <= 0 or not self._by_start:
            return ()
        cased = _fold(text)
        lowered = cased.lower()
        found: list[tuple[int, str]] = []  # (where, the longest name that starts there)
        # Only the words that start some name are looked for: a set intersection, in C, drops the rest.
        for word in self._words.intersection(_FIRST_WORD.findall(lowered)):
            for start in _places(lowered, word):
                end = start + len(word)
                if end == len(lowered) or lowered[end] not in _ALNUM_CHARS:  # the whole word, not its start
                    self._longest_at(lowered, start, word, found)
        for symbol in self._symbols:
            if symbol in lowered:
                for start in _places(lowered, symbol):
                    self._longest_at(lowered, start, symbol, found)
        found.sort()
        hits: dict[str, _Hits] = {}
        for start, longest in found:
            for name in (longest, *self._shorter[longest]):
                if len(name) <= SHORT_NAME and not cased[start : start + len(name)].isupper():
                    continue
                for slug in self._owners[name]:
                    hit = hits.get(slug)
                    if hit is None:  # the earliest mention: `found` is in order of place
                        hit = hits[slug] = _Hits(first=start)
                    hit.names.add(name)
        # A name of the card counts 2, a keyword 1, an everyday word ½. A card known only from one
        # keyword is a guess: kept when nothing clearer was found, never riding along with a clear one.
        weights = {slug: sum(self._weight[slug, name] for name in hit.names) for slug, hit in hits.items()}
        top = max(weights.values(), default=0.0)
        kept = [slug for slug, weight in weights.items() if weight >= 2 or (weight >= 1 and top < 2)]
        kept.sort(key=lambda slug: (-weights[slug], hits[slug].first, slug))
        return tuple(kept[:limit])

    def _longest_at(self, lowered: str, start: int, key: str, found: list[tuple[int, str]]) -> None:
        for name in self._by_start[key]:
            end = start + len(name)
            if lowered.startswith(name, start) and (end == len(lowered) or lowered[end] not in _ALNUM_CHARS):
                found.append((start, name))
                return

    @property
    def slugs(self) -> frozenset[str]:
        return self._slugs
