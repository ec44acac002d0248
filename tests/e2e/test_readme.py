"""`/nexus readme` and `/nexus profile` end to end: nothing logged yet is a private message saying how to start; with a
history, a private `.md` file and a short preview embed; a partner is named only once they chose `credit:on`."""

from __future__ import annotations

from bot.client import NexusBot
from bot.core import limits
from tests.e2e.server import FakeDiscord
from tests.e2e.users import Answer, FakeUser


async def _log_with_modal(user: FakeUser, title: str, details: str) -> Answer:
    modal = await user.slash("challenge new")
    inputs = [row["components"][0]["custom_id"] for row in modal.modal["components"]]
    return await user.submit_modal(modal, **{inputs[0]: title, inputs[1]: details})


async def _solve(user: FakeUser, challenge_id: int, body: str) -> Answer:
    modal = await user.slash("challenge solve", id=challenge_id)
    body_id = modal.modal["components"][0]["components"][0]["custom_id"]
    return await user.submit_modal(modal, **{body_id: body})


async def _readme(discord_server: FakeDiscord, learner: FakeUser) -> tuple[Answer, str]:
    answer = await learner.slash("nexus readme")
    assert answer.ephemeral
    [attachment] = answer.message["attachments"]
    assert attachment["filename"].startswith("README-")
    assert attachment["filename"].endswith(".md")
    return answer, discord_server.uploads[(int(answer.message["id"]), attachment["filename"])].decode()


async def test_readme_with_nothing_logged_says_how_to_start(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser
) -> None:
    answer = await learner.slash("nexus readme")
    assert answer.ephemeral
    assert "Nexus has nothing logged for you in this server yet" in answer.content
    assert "/challenge new" in answer.content
    assert answer.message.get("attachments", []) == []


async def test_readme_is_a_private_file_with_a_preview_and_credits_only_who_chose_it(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser
) -> None:
    await _log_with_modal(learner, "IntegrityError on signup", "IntegrityError: duplicate key on the email column")
    await _solve(other_learner, 1, "Catch the IntegrityError inside transaction.atomic().")
    await learner.slash("challenge accept", id=1, solution=1)
    await _log_with_modal(other_learner, "Celery loses tasks on restart", "The worker restarts during deploys")
    await _solve(learner, 2, "Set task_acks_late = True.")
    await learner.slash("pair request", track="backend", topics="docker")
    await other_learner.slash("pair request", track="frontend", topics="docker")

    answer, document = await _readme(discord_server, learner)

    embed = answer.embed
    assert embed["title"] == "Your Project Nexus README"
    assert embed["description"].splitlines() == ["1 challenge (1 solved)", "1 solution given (0 accepted)", "1 pair"]
    assert len(embed["title"]) + len(embed.get("description", "")) <= limits.EMBED_TOTAL
    assert document.startswith("# ALX Project Nexus: ada\n")
    assert "### Challenge 1: IntegrityError on signup" in document
    assert "**Error reported:** `IntegrityError`" in document
    assert "(suggested by a frontend learner)" in document
    assert "- **Pairs:** 1 through Nexus's frontend/backend pairing" in document
    assert "paired with a frontend learner" in document
    assert "grace" not in document
    assert "Celery loses tasks on restart (suggested)" in document

    credited = await other_learner.slash("nexus profile", credit=True)
    assert credited.ephemeral
    assert credited.content.splitlines()[0] == "Saved. Your choices in this server:"
    assert "• Credit by name: **on**: you are named, as “grace”" in credited.content
    assert "• Web hub: **off** (not chosen yet)" in credited.content
    shown = await other_learner.slash("nexus profile")
    assert shown.content.splitlines()[0] == "Your choices in this server:"
    assert "Credit by name: **on**" in shown.content

    _, document = await _readme(discord_server, learner)
    assert "(suggested by grace, a frontend learner)" in document
    assert "paired with grace, a frontend learner" in document

    published = await other_learner.slash("nexus profile", web=True, credit=False)
    assert "• Web hub: **on**" in published.content
    assert "• Credit by name: **off**" in published.content
    _, document = await _readme(discord_server, learner)
    assert "grace" not in document


async def test_forget_me_deletes_the_choices_and_the_name_goes_from_others_readmes(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser
) -> None:
    await learner.slash("pair request", track="backend")
    await other_learner.slash("pair request", track="frontend")
    await other_learner.slash("nexus profile", credit=True)
    _, document = await _readme(discord_server, learner)
    assert "paired with grace, a frontend learner" in document

    asked = await other_learner.slash("nexus forget-me")
    assert "your profile choices (web hub consent, credit by name)" in asked.content
    await other_learner.click(asked.message, "Forget me")

    shown = await other_learner.slash("nexus profile")
    assert "• Credit by name: **off**" in shown.content
    # Forgetting deleted the pair too: Ada's README has nothing left to say.
    nothing = await learner.slash("nexus readme")
    assert "Nexus has nothing logged for you in this server yet" in nothing.content
