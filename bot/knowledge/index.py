"""Alias, prefix and fuzzy lookup of topics: the hot path of every autocomplete keystroke.

Everything is precomputed once; a keystroke costs two binary searches and, only when those
leave room, one fuzzy pass in rapidfuzz's C++ core. No database hop.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bot.knowledge.cards import TopicCard
from bot.knowledge.text import normalise
from bot.limits import AUTOCOMPLETE_CHOICES, CHOICE_NAME

# Below this a fuzzy match is noise ("redis" for "rest"); measured on the real cards.
FUZZY_CUTOFF = 62.0
# At or above this, a name is a typo of one card ("kubernets", "postgress"), not a question.
TYPO_CUTOFF = 85.0


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
        self._by_first: dict[str, list[str]] = {}
        self._by_second: dict[str, list[str]] = {}
        self._by_second_and_length: dict[tuple[str, int], list[str]] = {}
        for key in owner:
            self._by_first.setdefault(key[0], []).append(key)
            if len(key) > 1:
                self._by_second.setdefault(key[1], []).append(key)
                self._by_second_and_length.setdefault((key[1], len(key)), []).append(key)
        self._choices = {card.slug: self._choice(card) for card in cards}

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

    def closest(self, query: str) -> TopicCard | None:
        """The card a misspelt name clearly means, else None."""
        text = normalise(query)
        if not text:
            return None
        best = process.extractOne(
            text, self._fuzzy_candidates(text), scorer=fuzz.ratio, processor=None, score_cutoff=TYPO_CUTOFF
        )
        return self._cards[self._owner[best[0]]] if best else None

    def search(self, query: str, limit: int = AUTOCOMPLETE_CHOICES) -> list[TopicCard]:
        """Cards for a partial or misspelt name: exact, then prefix, then word prefix, then fuzzy."""
        text = normalise(query)
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

    def autocomplete(self, query: str, limit: int = AUTOCOMPLETE_CHOICES) -> list[TopicChoice]:
        return [self._choices[card.slug] for card in self.search(query, limit)]

    def suggestions(self, query: str, limit: int = 3) -> list[TopicCard]:
        """The closest few cards for a name that did not resolve (for "did you mean")."""
        return self.search(query, limit)

    def _fuzzy_candidates(self, text: str) -> list[str]:
        """Names that keep the query's first letter, lack it, have an extra or a swapped one, or (at
        about the same length) a wrong one. Only a typo in both of the first two letters is missed.
        """
        candidates = self._by_first.get(text[0], []) + self._by_second.get(text[0], [])
        if len(text) > 1:
            candidates += self._by_first.get(text[1], [])
            for length in (len(text) - 1, len(text), len(text) + 1):
                candidates += self._by_second_and_length.get((text[1], length), [])
        return candidates

    def _cards_for(self, slugs: dict[str, None]) -> list[TopicCard]:
        return [self._cards[slug] for slug in slugs]
