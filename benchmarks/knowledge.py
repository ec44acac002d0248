"""Autocomplete per keystroke over the knowledge base, and the start-up cost of loading it."""

from __future__ import annotations

import random
import tempfile
from datetime import date
from pathlib import Path

from benchmarks._table import Row, row, time_calls
from bot.knowledge import Category, TopicCard, TopicIndex, categories_for_track, load_knowledge_base
from bot.runtime.paths import default_data_dir

WORDS = (
    *[
        "django",
        "python",
        "redis",
        "cache",
        "query",
        "index",
        "graph",
        "auth",
        "token",
        "queue",
        "celery",
        "kube",
        "deploy",
        "test",
        "async",
    ],
    *[
        "thread",
        "model",
        "serial",
        "view",
        "permission",
        "rate",
        "limit",
        "docker",
        "compose",
        "postgres",
        "schema",
        "migration",
    ],
    *[
        "signal",
        "admin",
        "router",
        "socket",
        "channel",
        "stream",
        "pipeline",
        "secret",
        "monitor",
        "trace",
        "scale",
        "shard",
        "replica",
    ],
    *["gateway", "contract"],
)

# What people type: real names, aliases, and typos of both.
TYPED = [
    "docker compose",
    "kubernets",
    "k8s",
    "select_related",
    "djnago orm",
    "postgress",
    "jwt refresh",
    "celery beat",
    "rabit mq",
    "cache invalidation",
    "graphql subscriptions",
    "rate limiting",
    "oauth",
    "github actions",
    "n+1",
    "pytest fixtures",
    "https",
    "drf permissions",
    "async await",
    "websockets",
]


def keystrokes(phrases: list[str]) -> list[str]:
    """Every prefix a user sends while typing each phrase (one autocomplete request per keystroke)."""
    return [phrase[:end] for phrase in phrases for end in range(1, len(phrase) + 1)]


def synthetic_cards(count: int, seed: int = 7) -> list[TopicCard]:
    rng = random.Random(seed)
    body = "x" * 60
    cards = []
    for number in range(count):
        words = rng.sample(WORDS, 3)
        cards.append(
            TopicCard(
                title=f"{' '.join(words).title()} {number}",
                slug=f"{'-'.join(words)}-{number}",
                category=rng.choice(list(Category)),
                aliases=tuple(f"{rng.choice(WORDS)}{rng.choice(WORDS)}{number}" for _ in range(3)),
                summary=body,
                key_points=body,
                pitfalls=body,
                reviewed=date(2026, 12, 7),
            )
        )
    return cards


def _write_cards(directory: Path, cards: list[TopicCard]) -> None:
    for card in cards:
        text = (
            f"---\ntitle: {card.title}\nslug: {card.slug}\ncategory: {card.category.value}\n"
            f"aliases: [{', '.join(card.aliases)}]\nreviewed: {card.reviewed.isoformat()}\n"
            f"---\n\n## Summary\n{card.summary}\n\n"
            f"## Key points\n{card.key_points}\n\n## Common pitfalls\n{card.pitfalls}\n"
        )
        (directory / f"{card.slug}.md").write_text(text, encoding="utf-8")


def run() -> tuple[list[Row], list[str]]:
    real = load_knowledge_base(default_data_dir() / "topics")
    typed = keystrokes(TYPED)
    rows = []
    real_index = TopicIndex(real.cards)
    rows.append(
        row(
            f"autocomplete per keystroke, {len(real)} real cards",
            time_calls([lambda text=text: real_index.autocomplete(text) for text in typed], repeat=20),
            "p99 < 0.5 ms",
        )
    )
    from tests.unit.test_resolution import QUERIES

    names = [query for query, _ in QUERIES]
    rows.append(
        row(
            f"resolve a typed name (Enter), {len(names)} table queries, {len(real)} real cards",
            time_calls([lambda name=name: real_index.lookup(name) for name in names], repeat=20),
            "p99 < 0.5 ms",
        )
    )
    frontend = categories_for_track("frontend")
    rows.append(
        row(
            f"autocomplete per keystroke, frontend learner first, {len(real)} real cards",
            time_calls([lambda text=text: real_index.autocomplete(text, prefer=frontend) for text in typed], repeat=20),
            "p99 < 0.5 ms",
        )
    )
    synthetic = synthetic_cards(5000)
    big_index = TopicIndex(synthetic)
    rows.append(
        row(
            "autocomplete per keystroke, 5,000 synthetic cards",
            time_calls([lambda text=text: big_index.autocomplete(text) for text in typed], repeat=5),
            "p99 < 0.5 ms",
        )
    )
    rows.append(
        row(
            "resolve a typed name (Enter), 5,000 synthetic cards",
            time_calls([lambda name=name: big_index.lookup(name) for name in names + typed], repeat=3),
            "p99 < 0.5 ms",
        )
    )
    topics = default_data_dir() / "topics"
    rows.append(
        row(
            f"start-up: load and validate {len(real)} cards + build index",
            time_calls([lambda: TopicIndex(load_knowledge_base(topics).cards)], repeat=15),
        )
    )
    with tempfile.TemporaryDirectory() as folder:
        _write_cards(Path(folder), synthetic)
        rows.append(
            row(
                "start-up: load and validate 5,000 cards + build index",
                time_calls([lambda: TopicIndex(load_knowledge_base(Path(folder)).cards)], repeat=3),
            )
        )
    rows.append(row("build index only, 5,000 cards", time_calls([lambda: TopicIndex(synthetic)], repeat=5)))
    return rows, []
