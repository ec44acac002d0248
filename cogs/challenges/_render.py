"""What the challenge commands show: embeds and short texts, within Discord's limits, mentions inert."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.core import limits
from bot.core.embeds import EmbedField, EmbedSpec, shorten
from bot.core.usertext import user_text
from bot.services.challenges import (
    ChallengePage,
    ChallengeView,
    LeaderboardEntry,
    Logged,
    SearchResult,
    SolutionLogged,
)

OPEN_COLOUR = 0xF1C40F
SOLVED_COLOUR = 0x2ECC71
TopicTitle = Callable[[str], str]


def _status(challenge: ChallengeView) -> str:
    return "Solved" if challenge.status == "solved" else "Open"


def _topics(challenge: ChallengeView, topic_title: TopicTitle) -> str:
    return ", ".join(topic_title(slug) for slug in challenge.topics) or "none yet"


def _by(name: str, user_id: int | None, *, markdown: bool = True) -> str:
    """The author's name as shown (`markdown=False` in a footer, which Discord shows as plain text)."""
    return user_text(name, one_line=True, markdown=markdown) if user_id is not None else "a former member"


def _title(title: str) -> str:
    return user_text(title, one_line=True)


def challenge_embed(challenge: ChallengeView, topic_title: TopicTitle) -> EmbedSpec:
    """The challenge with its solutions, accepted first, every user text shown as written (`user_text`)."""
    description = user_text(challenge.details) if challenge.details else "*No details given.*"
    fields = []
    if challenge.tried:
        fields.append(EmbedField("Tried", shorten(user_text(challenge.tried), limits.EMBED_FIELD_VALUE)))
    budget = limits.EMBED_TOTAL - 800 - len(description[: limits.EMBED_DESCRIPTION])
    for solution in challenge.solutions[:10]:
        mark = "✅ Accepted solution" if solution.accepted else "Solution"
        name = f"{mark} #{solution.id} · by {_by(solution.author_name, solution.author_id)}"
        value = shorten(user_text(solution.body), min(limits.EMBED_FIELD_VALUE, max(budget, 100)))
        budget -= len(name) + len(value)
        if budget < 0:
            break
        fields.append(EmbedField(shorten(name, limits.EMBED_FIELD_NAME), value))
    hidden = len(challenge.solutions) - (len(fields) - (1 if challenge.tried else 0))
    footer = (
        f"{_status(challenge)} · by {_by(challenge.author_name, challenge.author_id, markdown=False)} · "
        f"{challenge.created_at:%Y-%m-%d} · topics: {_topics(challenge, topic_title)}"
    )
    if hidden > 0:
        footer += f" · {hidden} more solutions not shown"
    return EmbedSpec(
        title=shorten(f"#{challenge.id} · {_title(challenge.title)}", limits.EMBED_TITLE),
        description=shorten(description, limits.EMBED_DESCRIPTION - 1000),
        fields=tuple(fields),
        footer=shorten(footer, limits.EMBED_FOOTER),
        colour=SOLVED_COLOUR if challenge.status == "solved" else OPEN_COLOUR,
    )


def acknowledgement(result: Logged | SolutionLogged, topic_title: TopicTitle) -> str:
    """The one short reply to a logged post."""
    if isinstance(result, SolutionLogged):
        return (
            f"Logged as solution #{result.solution.id} to challenge #{result.challenge.id} "
            f"({shorten(_title(result.challenge.title), 80)}). The challenge's author can accept it below."
        )
    challenge = result.challenge
    lines = [f"Logged as challenge **#{challenge.id}** · topics: {_topics(challenge, topic_title)}."]
    if result.solution is not None:
        lines[0] += f" Its solution is #{result.solution.id}."
    if result.similar:
        similar = "; ".join(f"#{item.id} {shorten(_title(item.title), 60)}" for item in result.similar)
        lines.append(f"Similar solved challenges: {similar} (see `/challenge show`).")
    return shorten("\n".join(lines), limits.MESSAGE_CONTENT)


def page_embed(page: ChallengePage, title: str, topic_title: TopicTitle) -> EmbedSpec:
    if not page.items:
        return EmbedSpec(title=title, description="No challenges match. Log one with `/challenge new`.")
    lines = []
    for challenge in page.items:
        lines.append(
            f"**#{challenge.id}** {shorten(_title(challenge.title), 90)}\n"
            f"{_status(challenge)} · {_by(challenge.author_name, challenge.author_id)} · "
            f"{challenge.created_at:%Y-%m-%d} · {shorten(_topics(challenge, topic_title), 80)}"
        )
    return EmbedSpec(
        title=title,
        description="\n\n".join(lines),
        footer=f"Page {page.page + 1} of {page.pages} · {page.total} challenges · /challenge show id:<number>",
    )


def search_embed(query: str, results: Sequence[SearchResult]) -> EmbedSpec:
    shown = shorten(" ".join(query.split()), 80)
    if not results:
        return EmbedSpec(
            title=f"Search: {shown}",
            description="Nothing matches yet. Try fewer or other words, or log it with `/challenge new`.",
        )
    lines = [
        f"**#{result.challenge.id}** {shorten(_title(result.challenge.title), 90)} · {_status(result.challenge)}\n"
        f"{shorten(result.snippet, 300)}"  # already shown as written: `render_snippet`
        for result in results
    ]
    return EmbedSpec(
        title=shorten(f"Search: {shown}", limits.EMBED_TITLE),
        description=shorten("\n\n".join(lines), limits.EMBED_DESCRIPTION),
        footer="Best matches first · /challenge show id:<number>",
    )


def leaderboard_embed(entries: Sequence[LeaderboardEntry], period: str) -> EmbedSpec:
    label = {"week": "this week", "month": "this month", "all": "all time"}[period]
    if not entries:
        return EmbedSpec(
            title=f"Leaderboard · {label}",
            description="No accepted solutions yet. Answer an open challenge: `/challenge list status:open`.",
        )
    lines = [
        f"**{rank}.** {user_text(entry.name, one_line=True)} · {entry.accepted} accepted"
        for rank, entry in enumerate(entries, start=1)
    ]
    return EmbedSpec(title=f"Leaderboard · {label}", description="\n".join(lines))
