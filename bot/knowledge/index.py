"""Alias, prefix and fuzzy lookup of topics: every autocomplete keystroke, and every name typed and sent.

Everything is precomputed once; a keystroke costs two binary searches and, only when those
leave room, one fuzzy pass in rapidfuzz's C++ core. No database hop.
"""

from __future__ import annotations

import heapq
import math
import re
from bisect import bisect_left
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum, auto
from itertools import islice

from rapidfuzz import fuzz, process

from bot.core.limits import AUTOCOMPLETE_CHOICES, CHOICE_NAME
from bot.knowledge.cards import Category, TopicCard
from bot.knowledge.text import normalise

# Below this a fuzzy match is noise ("redis" for "rest"); measured on the real cards.
FUZZY_CUTOFF = 62.0
# At or above this, a name is a typo of one card ("kubernets", "postgress", "djnago"), not a question,
# unless another card scores within TYPO_MARGIN of it. Tuned on tests/unit/test_resolution.py's table.
TYPO_CUTOFF = 80.0
TYPO_CUTOFF_WORDS = 88.0  # several words hold more letters to be close by chance ("generics typescript")
TYPO_MARGIN = 8.0
# A name that fits more cards than this is a question, whatever the tie-breaks would say (and they
# stay cheap: a keystroke's budget is well under a millisecond at 5,000 cards).
_TIE_BREAK_LIMIT = 64
# The closest names scored for a typo: enough to hold the two best cards' (a card has a dozen names at most).
_FUZZY_NAMES = 24
# A query word of one or two letters is no word of a name ("js" aside, which is an alias's whole word).
_MIN_PREFIX = 3
_NOT_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")
_WORD = re.compile(r"[a-z0-9+#]+")


def _singular(word: str) -> str:
    """Plurals as singulars ("rest apis" and "REST API" meet)."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a typed name means: one card, or (when it is not clear which) the closest few."""

    card: TopicCard | None
    candidates: tuple[TopicCard, ...] = ()


@dataclass(frozen=True, slots=True)
class TopicChoice:
    """An autocomplete entry: what the user sees, and the slug the command receives."""

    name: str
    value: str


def _prefixed(sorted_keys: Sequence[str], prefix: str) -> Iterator[int]:
    position = bisect_left(sorted_keys, prefix)
    while position < len(sorted_keys) and sorted_keys[position].startswith(prefix):
        yield position
        position += 1


class TopicIndex:
    def __init__(self, cards: Sequence[TopicCard]) -> None:
        self._cards = {card.slug: card for card in cards}
        self._alphabetical = tuple(sorted(cards, key=lambda card: card.title.lower()))
        owner: dict[str, str] = {}
        # Titles and slugs first, so that a clashing alias can never shadow a real name.
        for card in cards:
            owner.setdefault(normalise(card.title), card.slug)
            owner.setdefault(normalise(card.slug), card.slug)
        for card in cards:
            for alias in card.aliases:
                owner.setdefault(normalise(alias), card.slug)
        self._owner = owner
        self._keys = sorted(owner)
        # Later words of multi-word names, so "compose" finds "docker compose".
        words = sorted({(word, key) for key in owner for word in key.split()[1:]})
        self._words = [word for word, _ in words]
        self._word_keys = [key for _, key in words]
        # Fuzzy candidates by first and second letter: a typo rarely changes both, and scoring a
        # tenth of the names keeps a keystroke well under a millisecond at thousands of cards.
        self._by_first_and_length: dict[tuple[str, int], list[str]] = {}
        self._by_second_and_length: dict[tuple[str, int], list[str]] = {}
        for key in owner:
            self._by_first_and_length.setdefault((key[0], len(key)), []).append(key)
            if len(key) > 1:
                self._by_second_and_length.setdefault((key[1], len(key)), []).append(key)
        self._choices = {card.slug: self._choice(card) for card in cards}
        # A compact form two cards share ("c i" and "ci") belongs to neither.
        compacts: dict[str, str | None] = {}
        for key, slug in owner.items():
            folded = _NOT_ALPHANUMERIC.sub("", key)
            compacts[folded] = slug if compacts.get(folded, slug) == slug else None
        self._compact_owner = {key: slug for key, slug in compacts.items() if slug is not None and key}
        # Whole words of each card's title, and of all its names, for a name typed in part.
        self._title_words = _WordIndex((card.slug, (card.title,)) for card in cards)
        self._title_tokens = {card.slug: tuple(_WORD.findall(normalise(card.title))) for card in cards}
        self._name_words = _WordIndex((card.slug, (card.title, card.slug, *card.aliases)) for card in cards)

    @staticmethod
    def _choice(card: TopicCard) -> TopicChoice:
        name = f"{card.title} · {card.category.label}"
        if len(name) > CHOICE_NAME:
            name = card.title[:CHOICE_NAME]
        return TopicChoice(name=name, value=card.slug)

    def __len__(self) -> int:
        return len(self._cards)

    def get(self, slug: str) -> TopicCard | None:
        return self._cards.get(slug)

    def resolve(self, name: str) -> TopicCard | None:
        """The card whose slug, title or alias is `name` (in any case or spacing), else None."""
        slug = self._owner.get(normalise(name))
        return self._cards[slug] if slug else None

    def lookup(self, name: str, limit: int = 3, prefer: Collection[Category] = ()) -> Lookup:
        """The card a typed name means whenever only one fits, else up to `limit` close candidates.

        In order, the first step that finds anything decides: the exact name (case, spacing and
        punctuation aside); the words of one card's title, then of its names; the same as word
        prefixes; the start of a name; a typo close to one name only; the card naming more of
        the words than any other. Between a few cards (`_decide`), a title the name starts and
        mostly covers wins, then the words as typed, then the `prefer`red categories (the
        learner's track), then a title the name starts; more than a few is always a question.
        """
        text = normalise(name)
        if not text:
            return Lookup(None)
        slug = self._owner.get(text) or self._compact_owner.get(_NOT_ALPHANUMERIC.sub("", text))
        if slug:
            return Lookup(self._cards[slug])
        typed = _WORD.findall(text)
        found = self._by_words(typed)
        if not found:
            starting = list(islice(_prefixed(self._keys, text), _TIE_BREAK_LIMIT + 1))
            found = {self._owner[self._keys[position]] for position in starting}
            if len(starting) > _TIE_BREAK_LIMIT:  # names cut short: a question, never a tie-break
                return Lookup(None, self._ranked(text, found, limit))
        if found:
            return self._decide(text, typed, found, limit, prefer)
        scores: dict[str, float] = {}
        for key, score, _ in process.extract(
            text,
            self._fuzzy_candidates(text, TYPO_CUTOFF if len(typed) == 1 else TYPO_CUTOFF_WORDS),
            scorer=fuzz.ratio,
            processor=None,
            limit=_FUZZY_NAMES,
            score_cutoff=FUZZY_CUTOFF,
        ):
            owner_slug = self._owner[key]
            scores[owner_slug] = max(score, scores.get(owner_slug, 0.0))
        ranked = sorted(scores, key=lambda slug: -scores[slug])
        cutoff = TYPO_CUTOFF if len(typed) == 1 else TYPO_CUTOFF_WORDS
        clear = len(ranked) == 1 or (len(ranked) > 1 and scores[ranked[1]] < scores[ranked[0]] - TYPO_MARGIN)
        if ranked and scores[ranked[0]] >= cutoff and clear:
            return Lookup(self._cards[ranked[0]])
        best = self._most_words(typed) if len(typed) > 1 else None
        if best is not None:
            return Lookup(self._cards[best])
        return Lookup(None, tuple(self._cards[slug] for slug in ranked[:limit]))

    def _most_words(self, words: Sequence[str]) -> str | None:
        """The one card naming more of the words than any other ("typescript generics": a title word
        beats an alias word), when no card names them all; None on a tie or without a title word."""
        score: dict[str, int] = {}
        for word in words:
            in_title = self._title_words.cards_with([word], _Match.PREFIX)
            if len(in_title) > _TIE_BREAK_LIMIT:
                continue  # a word most cards hold ("django") tells none apart
            for slug in in_title:
                score[slug] = score.get(slug, 0) + 2
            for slug in self._name_words.cards_with([word], _Match.PREFIX) - in_title:
                score[slug] = score.get(slug, 0) + 1
        top = heapq.nlargest(2, score.items(), key=lambda item: item[1])
        if not top or top[0][1] < 2 or (len(top) == 2 and top[1][1] == top[0][1]):
            return None
        return top[0][0]

    def _by_words(self, typed: Sequence[str]) -> set[str]:
        """The cards of the first word tier that holds every word: title words (plurals as singulars:
        "rest apis" is REST API Design), whole name words, title word prefixes, name word prefixes."""
        if not typed:
            return set()
        for index, match in (
            (self._title_words, _Match.SINGULAR),
            (self._name_words, _Match.WHOLE),
            (self._title_words, _Match.PREFIX),
            (self._name_words, _Match.PREFIX),
        ):
            found = index.cards_with(typed, match)
            if found:
                return found
        return set()

    def _decide(
        self, text: str, typed: Sequence[str], slugs: set[str], limit: int, prefer: Collection[Category]
    ) -> Lookup:
        if len(slugs) == 1:
            return Lookup(self._cards[next(iter(slugs))])
        if len(slugs) > _TIE_BREAK_LIMIT:
            return Lookup(None, self._ranked(text, slugs, limit))
        words = [_singular(word) for word in typed]
        # A title that starts with the name: "rest api" is REST API Design, "graphq" GraphQL (one word, as
        # typed), "caching" Caching Strategies. It wins outright when the name is half the title or more;
        # otherwise ("keys" of Keys and Constraints) the learner's track decides first.
        titles = {slug: [_singular(word) for word in self._title_tokens[slug]] for slug in slugs}
        starting = [slug for slug in slugs if _starts_with(titles[slug], words)]
        title_words = {slug: len(titles[slug]) for slug in starting}
        strong = [slug for slug in starting if 2 * len(words) >= title_words[slug]]
        if len(strong) > 1:
            strong = [slug for slug in strong if title_words[slug] == len(words)]
        if len(strong) == 1:
            return Lookup(self._cards[strong[0]])
        # "models" is Django Models, not the box model: the words as typed beat their singulars.
        as_typed = [slug for slug in slugs if set(typed) <= set(self._title_tokens[slug])]
        if len(as_typed) == 1:
            return Lookup(self._cards[as_typed[0]])
        preferred = [slug for slug in slugs if self._cards[slug].category in prefer]
        if len(preferred) == 1:
            return Lookup(self._cards[preferred[0]])
        if len(starting) == 1:
            return Lookup(self._cards[starting[0]])
        return Lookup(None, self._ranked(text, slugs, limit))

    def _ranked(self, text: str, slugs: Collection[str], limit: int) -> tuple[TopicCard, ...]:
        """The ambiguous cards in autocomplete's order (then alphabetical), for "did you mean"."""
        order = [card.slug for card in self.search(text, limit=min(len(slugs), 50) + limit) if card.slug in slugs]
        if len(order) < limit:
            rest = (card.slug for card in self._alphabetical if card.slug in slugs and card.slug not in order)
            order += islice(rest, limit - len(order))
        return tuple(self._cards[slug] for slug in order[:limit])

    def search(
        self, query: str, limit: int = AUTOCOMPLETE_CHOICES, prefer: Collection[Category] = ()
    ) -> list[TopicCard]:
        """Cards for a partial or misspelt name: exact, then prefix, then word prefix, then fuzzy;
        cards of the `prefer`red categories (a learner's track) first among those found."""
        text = normalise(query)
        if prefer:
            wider = self._alphabetical if not text else self.search(query, limit * 4)
            return sorted(wider, key=lambda card: card.category not in prefer)[:limit]
        if not text:
            return list(self._alphabetical[:limit])
        found: dict[str, None] = {}
        for position in _prefixed(self._keys, text):
            found.setdefault(self._owner[self._keys[position]])
            if len(found) >= limit:
                return self._cards_for(found)
        for position in _prefixed(self._words, text):
            found.setdefault(self._owner[self._word_keys[position]])
            if len(found) >= limit:
                return self._cards_for(found)
        matches = process.extract(
            text,
            self._fuzzy_candidates(text),
            scorer=fuzz.ratio,
            processor=None,
            limit=limit * 2,
            score_cutoff=FUZZY_CUTOFF,
        )
        for key, _score, _index in matches:
            found.setdefault(self._owner[key])
            if len(found) >= limit:
                break
        return self._cards_for(found)

    def autocomplete(
        self, query: str, limit: int = AUTOCOMPLETE_CHOICES, prefer: Collection[Category] = ()
    ) -> list[TopicChoice]:
        return [self._choices[card.slug] for card in self.search(query, limit, prefer)]

    def _fuzzy_candidates(self, text: str, cutoff: float = FUZZY_CUTOFF) -> list[str]:
        """Names that keep the query's first letter, lack it, have an extra or a swapped one, or (at
        about the same length) a wrong one. Only a typo in both of the first two letters is missed.
        Only names of a length that can reach `cutoff` are scored (fuzz.ratio is 2 * matches over both
        lengths): that keeps the pass small at thousands of cards."""
        shortest_share = cutoff / (200 - cutoff)
        lengths = range(math.ceil(len(text) * shortest_share), math.floor(len(text) / shortest_share) + 1)
        first, second = text[0], text[1] if len(text) > 1 else None
        candidates: list[str] = []
        for length in lengths:
            candidates += self._by_first_and_length.get((first, length), [])
            candidates += self._by_second_and_length.get((first, length), [])
            if second is not None:
                candidates += self._by_first_and_length.get((second, length), [])
        if second is not None:
            for length in (len(text) - 1, len(text), len(text) + 1):
                candidates += self._by_second_and_length.get((second, length), [])
        return candidates

    def _cards_for(self, slugs: dict[str, None]) -> list[TopicCard]:
        return [self._cards[slug] for slug in slugs]


class _Match(Enum):
    WHOLE = auto()  # the word as typed
    SINGULAR = auto()  # the word or its plural/singular
    PREFIX = auto()  # a word beginning with it


def _starts_with(title: Sequence[str], words: Sequence[str]) -> bool:
    """Whether a title's words begin with `words`, the last of them perhaps typed in part."""
    if not words or len(words) > len(title):
        return False
    *whole, last = words
    return list(title[: len(whole)]) == whole and title[len(whole)].startswith(last)


class _WordIndex:
    """Which cards have a word, or a word beginning with a given prefix, among some of their names."""

    def __init__(self, names: Iterable[tuple[str, Sequence[str]]]) -> None:
        by_singular: dict[str, set[str]] = {}
        by_word: dict[str, set[str]] = {}
        for slug, card_names in names:
            for name in card_names:
                for word in _WORD.findall(normalise(name)):
                    by_word.setdefault(word, set()).add(slug)
                    by_singular.setdefault(_singular(word), set()).add(slug)
        self._by_singular = by_singular
        self._by_word = by_word
        self._sorted = sorted(by_word)

    def cards_with(self, words: Sequence[str], match: _Match) -> set[str]:
        """Slugs of the cards holding every one of `words` as `match` says (prefixes as typed: "redus"
        starts nothing, though its singular would start "redux")."""
        if len(words) > 1 and not all(self._names_anything(word, match) for word in words):
            return set()  # cheap: before building the large sets of the common words
        found: set[str] | None = None
        for word in words:
            if match is _Match.PREFIX:
                cards = self._prefixed(word)
            elif match is _Match.SINGULAR:
                cards = self._by_singular.get(_singular(word), set())
            else:
                cards = self._by_word.get(word, set())
            found = cards if found is None else found & cards
            if not found:
                return set()
        return found or set()

    def _names_anything(self, word: str, match: _Match) -> bool:
        if match is _Match.SINGULAR:
            return _singular(word) in self._by_singular
        if match is _Match.WHOLE or len(word) < _MIN_PREFIX:
            return word in self._by_word
        return next(_prefixed(self._sorted, word), None) is not None

    def _prefixed(self, word: str) -> set[str]:
        if len(word) < _MIN_PREFIX:
            return set(self._by_word.get(word, ()))
        cards: set[str] = set()
        for position in _prefixed(self._sorted, word):
            cards |= self._by_word[self._sorted[position]]
        return cards
