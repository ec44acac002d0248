"""`/nexus forget-me`'s confirmation and summary fit in one Discord message however many servers are listed."""

from __future__ import annotations

from bot.services.privacy import Footprint, Forgotten
from cogs.nexus import MESSAGE_LIMIT, forget_question, forget_summary

HEAVY = Footprint(True, 99, 99, 99, 9999, 9999)


def _names(count: int) -> dict[int, str]:
    # Escaped Markdown doubles a name's length: the worst a server's name can be in a message.
    return dict.fromkeys(range(1, count + 1), "\\*" * 100)


def test_a_few_servers_are_all_listed() -> None:
    names = {1: "ProDev Project Nexus", 2: "server 4242"}
    question = forget_question(names, dict.fromkeys(names, HEAVY), here=False)
    assert question.startswith("**Forget me in 2 servers?**")
    assert (
        "• **ProDev Project Nexus**: deletes your pairing profile, 99 pairing requests, 99 pairs, 99 study sessions"
        in question
    )
    assert "• **server 4242**:" in question
    assert "more server" not in question


def test_many_servers_are_counted_beyond_what_fits() -> None:
    names = _names(40)
    question = forget_question(names, dict.fromkeys(names, HEAVY), here=False)
    assert len(question) <= MESSAGE_LIMIT
    listed = question.count("\n• **")
    assert 1 <= listed < 40
    assert f"…and {40 - listed} more servers." in question
    assert question.endswith("Nothing happens unless you press one of the **Forget me** buttons.")

    done = forget_summary(dict.fromkeys(names, Forgotten(True, 99, 99, 99, 9999, 9999, erased=True)), names, here=False)
    assert len(done) <= MESSAGE_LIMIT
    assert done.startswith("Done: you are forgotten in 40 servers.")
    assert "more servers." in done
