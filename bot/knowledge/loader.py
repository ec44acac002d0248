"""Parse and validate the Markdown cards of `data/topics/` into a `KnowledgeBase`, once at start-up."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from pydantic import ValidationError

from bot.knowledge.cards import Category, TopicCard
from bot.knowledge.text import normalise

_SECTION_FIELDS = {
    "summary": "summary",
    "key points": "key_points",
    "common pitfalls": "pitfalls",
    "example": "example",
}
_HEADING = re.compile(r"^##[ \t]+(?P<title>.+?)[ \t]*$", re.MULTILINE)


class KnowledgeBaseError(Exception):
    """The knowledge base has faults; `problems` lists each one with the file it is in."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


def _split_sections(body: str) -> dict[str, str]:
    headings = list(_HEADING.finditer(body))
    if not headings:
        raise ValueError("the body has no '## Summary' section")
    if body[: headings[0].start()].strip():
        raise ValueError("text before the first '##' heading; start the body with '## Summary'")
    sections: dict[str, str] = {}
    for current, following in zip(headings, [*headings[1:], None], strict=True):
        name = current["title"].strip().lower()
        if name not in _SECTION_FIELDS:
            known = ", ".join(f"'## {title.capitalize()}'" for title in _SECTION_FIELDS)
            raise ValueError(f"unknown section '## {current['title']}'; the sections are {known}")
        key = _SECTION_FIELDS[name]
        if key in sections:
            raise ValueError(f"section '## {current['title']}' appears twice")
        end = following.start() if following else len(body)
        sections[key] = body[current.end() : end].strip()
    return sections


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "card"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def parse_card(text: str, source: str = "<card>") -> TopicCard:
    """Parse one card's Markdown; raise `KnowledgeBaseError` naming `source` on any fault."""
    try:
        post = frontmatter.loads(text)
        metadata: Mapping[str, Any] = post.metadata
        if not isinstance(metadata, Mapping) or not metadata:
            raise ValueError("missing YAML front matter between '---' lines")
        return TopicCard.model_validate({**metadata, **_split_sections(post.content)})
    except ValidationError as error:
        raise KnowledgeBaseError([f"{source}: {_describe(error)}"]) from None
    except (ValueError, yaml.YAMLError) as error:
        raise KnowledgeBaseError([f"{source}: {error}"]) from None


@dataclass(frozen=True)
class KnowledgeBase:
    """Every card, by slug and by category, checked for cross-references and clashing names."""

    cards: tuple[TopicCard, ...]
    by_slug: Mapping[str, TopicCard] = field(init=False)
    by_category: Mapping[Category, tuple[TopicCard, ...]] = field(init=False)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.cards, key=lambda card: card.title.lower()))
        object.__setattr__(self, "cards", ordered)
        object.__setattr__(self, "by_slug", {card.slug: card for card in ordered})
        grouped = {category: tuple(card for card in ordered if card.category is category) for category in Category}
        object.__setattr__(self, "by_category", {key: value for key, value in grouped.items() if value})

    def __len__(self) -> int:
        return len(self.cards)

    @property
    def categories(self) -> tuple[Category, ...]:
        return tuple(self.by_category)

    def problems(self) -> list[str]:
        """Faults that span cards: duplicate slugs, dangling `related`, names two cards claim."""
        problems: list[str] = []
        seen_slugs: set[str] = set()
        owners: dict[str, str] = {}
        for card in self.cards:
            if card.slug in seen_slugs:
                problems.append(f"{card.slug}: two cards use this slug")
            seen_slugs.add(card.slug)
            for name in {normalise(card.slug), normalise(card.title)}:
                owners.setdefault(name, card.slug)
        for card in self.cards:
            for alias in card.aliases:
                owner = owners.setdefault(normalise(alias), card.slug)
                if owner != card.slug:
                    problems.append(f"{card.slug}: alias {alias!r} is already a name of '{owner}'")
            for slug in card.related:
                if slug not in self.by_slug:
                    problems.append(f"{card.slug}: related topic '{slug}' does not exist")
        return problems


def stale_cards(knowledge_base: KnowledgeBase, today: date, days: int) -> list[TopicCard]:
    """Cards last reviewed more than `days` days before `today`, oldest review first."""
    due = [card for card in knowledge_base.cards if (today - card.reviewed).days > days]
    return sorted(due, key=lambda card: (card.reviewed, card.slug))


def load_knowledge_base(topics_dir: Path) -> KnowledgeBase:
    """Read every `*.md` card below `topics_dir`; raise `KnowledgeBaseError` listing all faults at once."""
    if not topics_dir.is_dir():
        raise KnowledgeBaseError([f"{topics_dir}: no such directory of topic cards"])
    cards: list[TopicCard] = []
    problems: list[str] = []
    for path in sorted(topics_dir.glob("*.md")):
        try:
            card = parse_card(path.read_text(encoding="utf-8"), source=path.name)
        except KnowledgeBaseError as error:
            problems.extend(error.problems)
            continue
        if card.slug != path.stem:
            problems.append(f"{path.name}: slug '{card.slug}' must equal the file name '{path.stem}'")
        cards.append(card)
    if not cards and not problems:
        problems.append(f"{topics_dir}: holds no topic cards (*.md)")
    knowledge_base = KnowledgeBase(tuple(cards))
    problems.extend(knowledge_base.problems())
    if problems:
        raise KnowledgeBaseError(problems)
    return knowledge_base
