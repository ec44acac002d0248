"""The channel notice rule: which topics and forum guidelines say posts are published on the web hub."""

from __future__ import annotations

import pytest

from bot.challenges.notice import says_published


@pytest.mark.parametrize(
    "text",
    [
        "Posts here are published on the Nexus web hub.",
        "Share your bugs!\nSolved challenges posted here are published on the web.",
        "**PUBLISHED** on the web hub: see https://nexus.example.org",
        "Challenges in this forum are published on the Nexus hub for future learners.",
        "Answers are published on the web (opt out with /nexus profile web:off).",
    ],
)
def test_notices_that_say_posts_are_published(text: str) -> None:
    assert says_published(text)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "Post your challenges here. Be kind.",
        "Posts here are not published on the web hub.",
        "Nothing here is published on the web.",
        "Posts here aren't published on the web hub.",
        "Posts here aren\u2019t published on the web hub.",  # a curly apostrophe
        "We never published anything on the web.",
        "No posts are published on the web hub.",
        "Published weekly: the digest.",  # published, but not on the web
        "Our website has a published guide",  # "website" is not the word "web"
        "Posts here are published\non the web hub.",  # the two halves on different lines
        "Read the web hub. Nothing is republished.",
    ],
)
def test_text_that_is_no_notice(text: str | None) -> None:
    assert not says_published(text)
