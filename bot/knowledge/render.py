"""Render topic cards and the topic browser as `EmbedSpec`s within Discord's limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from bot.core import limits
from bot.core.embeds import EmbedField, EmbedSpec, shorten
from bot.core.usertext import user_text
from bot.knowledge.cards import Category, TopicCard

CATEGORY_COLOURS: Mapping[Category, int] = {
    Category.PYTHON: 0x3776AB,
    Category.DJANGO: 0x0C4B33,
    Category.APIS: 0x6F42C1,
    Category.DATABASES: 0x336791,
    Category.ASYNC: 0xFF6600,
    Category.PERFORMANCE: 0xDC382D,
    Category.SECURITY: 0xB00020,
    Category.DEVOPS: 0x2496ED,
    Category.ARCHITECTURE: 0x607D8B,
    Category.TESTING: 0x2E7D32,
    Category.WEB: 0xF7DF1E,
    Category.FRONTEND: 0x61DAFB,
}


@dataclass(frozen=True, slots=True)
class SolvedChallengeRef:
    id: int
    title: str


@dataclass(frozen=True, slots=True)
class SolvedChallenges:
    """The community's solved challenges tagged with a topic, as shown on its card."""

    count: int = 0
    top: tuple[SolvedChallengeRef, ...] = ()


SOLVED_FIELD_NAME = "Solved challenges"
# Room every card must leave under the 6,000-character embed limit for its solved challenges.
SOLVED_FIELD_RESERVE = 400


def _solved_field(solved: SolvedChallenges, budget: int) -> EmbedField | None:
    """The solved-challenges field, cut to the characters the embed has left; None if it cannot fit."""
    room = min(limits.EMBED_FIELD_VALUE, budget - len(SOLVED_FIELD_NAME))
    if solved.count <= 0 or room < 40:
        return None
    lines = [f"**{solved.count}** solved in this community. Open one with `/challenge show`:"]
    # The titles are members' words on the bot's card: shown as written, never as links or formatting.
    lines += [f"`#{item.id}` {shorten(user_text(item.title, one_line=True), 120)}" for item in solved.top]
    return EmbedField(SOLVED_FIELD_NAME, shorten("\n".join(lines), room))


def render_card(
    card: TopicCard,
    titles: Mapping[str, str],
    solved: SolvedChallenges | None = None,
) -> EmbedSpec:
    """The card's embed. `titles` maps slugs to titles, for the related topics."""
    fields = [
        EmbedField("Key points", card.key_points),
        EmbedField("Common pitfalls", card.pitfalls),
    ]
    if card.example:
        fields.append(EmbedField("Example", card.example))
    if card.related:
        related = ", ".join(f"`{titles.get(slug, slug)}`" for slug in card.related)
        fields.append(EmbedField("Related topics", shorten(related, limits.EMBED_FIELD_VALUE), inline=True))
    if card.docs:
        docs = "\n".join(f"[{link.title}]({link.url})" for link in card.docs)
        fields.append(EmbedField("Official docs", shorten(docs, limits.EMBED_FIELD_VALUE), inline=True))
    footer = card.category.label
    if card.aliases:
        footer += " · also: " + ", ".join(card.aliases)
    spec = EmbedSpec(
        title=card.title,
        description=card.summary,
        fields=tuple(fields),
        footer=shorten(footer, limits.EMBED_FOOTER),
        colour=CATEGORY_COLOURS[card.category],
    )
    solved_field = _solved_field(solved or SolvedChallenges(), limits.EMBED_TOTAL - spec.total_length)
    if solved_field is None:
        return spec
    return replace(spec, fields=(*spec.fields, solved_field))


def card_problems(card: TopicCard, titles: Mapping[str, str]) -> list[str]:
    """Why `card` would not render well: Discord's limits, and room for its solved challenges."""
    spec = render_card(card, titles)
    problems = spec.problems()
    room = limits.EMBED_TOTAL - spec.total_length
    if room < SOLVED_FIELD_RESERVE:
        problems.append(
            f"leaves {room} characters for solved challenges (needs {SOLVED_FIELD_RESERVE}); shorten a section"
        )
    return problems


BROWSER_PAGE_SIZE = limits.SELECT_OPTIONS


def page_count(items: int, size: int = BROWSER_PAGE_SIZE) -> int:
    return max(1, -(-items // size))


def render_category(category: Category, cards: Sequence[TopicCard], page: int = 0) -> EmbedSpec:
    """One page of the topic browser: up to 25 cards of a category, one line each."""
    pages = page_count(len(cards))
    shown = cards[page * BROWSER_PAGE_SIZE : (page + 1) * BROWSER_PAGE_SIZE]
    lines = [f"**{card.title}** · {_first_sentence(card.summary, 90)}" for card in shown]
    footer = f"{len(cards)} topics · pick one below to open its card"
    if pages > 1:
        footer = f"Page {page + 1} of {pages} · " + footer
    return EmbedSpec(
        title=f"Topics · {category.label}",
        description=shorten("\n".join(lines), limits.EMBED_DESCRIPTION),
        footer=footer,
        colour=CATEGORY_COLOURS[category],
    )


def render_overview(counts: Mapping[Category, int]) -> EmbedSpec:
    """The browser's first page: every category with how many cards it holds."""
    lines = [f"**{category.label}** · {count} topics" for category, count in counts.items()]
    return EmbedSpec(
        title="Topics of the ProDev programme",
        description="\n".join(lines) + "\n\nPick a category below, or use `/topic` with a name.",
        footer=f"{sum(counts.values())} topics in all",
    )


def _first_sentence(text: str, limit: int) -> str:
    sentence = text.split(". ", 1)[0].rstrip(".") + "."
    return shorten(sentence, limit)
