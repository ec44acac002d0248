"""User text as the bot shows it: Markdown, masked links and mass mentions inert, code kept as code."""

from __future__ import annotations

import re

import pytest

from bot.core.usertext import ZERO_WIDTH_SPACE, user_text

# A masked link Discord would draw: `[text](http…)` whose brackets are not escaped.
MASKED_LINK = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\((?:<)?https?://")
# Markdown that would still take effect: an unescaped marker character.
LIVE_MARKUP = re.compile(r"(?<!\\)[*_~|>#\[\]()<`]")


@pytest.mark.parametrize("one_line", [True, False])
def test_a_masked_link_is_shown_as_its_text(one_line: bool) -> None:
    shown = user_text("[Django docs](https://evil.example/login)", one_line=one_line)
    assert not MASKED_LINK.search(shown)
    assert shown.startswith("\\[Django docs\\]\\(")


def test_a_title_has_no_markdown_and_no_link_left() -> None:
    title = "# **Urgent** [docs](https://evil.example) ||spoiler|| ~~x~~ __u__ > quote `code` <@123> <t:1:R>"
    shown = user_text(title, one_line=True)
    assert not LIVE_MARKUP.search(shown), shown
    assert "https\\://evil.example" in shown  # a bare address is shown, not linked
    assert user_text("1. first step", one_line=True) == "1\\. first step"
    assert user_text("two\n\nlines\t here", one_line=True) == "two lines here"


def test_mass_mentions_cannot_ping() -> None:
    for one_line in (True, False):
        shown = user_text("@everyone and @here, `@everyone`", one_line=one_line)
        assert "@everyone" not in shown
        assert "@here" not in shown
        assert shown.count(f"@{ZERO_WIDTH_SPACE}") == 3


def test_longer_text_keeps_code_and_bare_links() -> None:
    body = (
        "Run:\n```sh\npython manage.py migrate --fake [app]\n```\n"
        "then `pip install django_cors` see https://docs.x.org/a_b-c (ok)"
    )
    shown = user_text(body)
    assert "```sh\npython manage.py migrate --fake [app]\n```" in shown
    assert "`pip install django_cors`" in shown
    assert "https://docs.x.org/a_b-c " in shown
    assert "\\(ok\\)" in shown
    # A fence that never closes is no code: its marks are shown as typed.
    assert user_text("``` *bold*") == "\\`\\`\\` \\*bold\\*"


def test_list_numbers_and_headings_in_longer_text_stay_text() -> None:
    shown = user_text("1. one\n2) two\n# Title\n-# small\n> quote")
    assert shown == "1\\. one\n2\\) two\n\\# Title\n\\-\\# small\n\\> quote"


def test_plain_places_are_not_escaped() -> None:
    # Discord shows embed footers as plain text: a backslash there would be seen.
    assert user_text("john_doe **x**\n@here", markdown=False) == f"john_doe **x** @{ZERO_WIDTH_SPACE}here"


def test_snake_case_stays_readable_but_double_underscores_do_not_underline() -> None:
    assert user_text("select_related and prefetch_related") == "select_related and prefetch_related"
    assert user_text("a__b__c _x_ __init__") == "a\\_\\_b\\_\\_c \\_x\\_ \\_\\_init\\_\\_"
