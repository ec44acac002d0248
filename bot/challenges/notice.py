"""The channel notice "posts here are published on the web hub", read from a watched channel's topic or a watched
forum's guidelines (both are the channel's `topic` in Discord's API).

The rule, as the README states it: some line of the text holds the word "published" and either the word "web" or
the words "Nexus hub", and that line holds no negation ("not", "never", "no", "nothing", "n't"). Posting in such a
channel counts as consent to publish, so the rule errs on the side of *not* publishing: a notice it cannot read as
plainly affirmative is no notice.
"""

from __future__ import annotations

import re

_PUBLISHED = re.compile(r"\bpublished\b")
_WHERE = re.compile(r"\bweb\b|\bnexus\s+hub\b")
# "isn't", "aren't", "won't"... with a straight or a curly apostrophe.
_NEGATION = re.compile(r"\b(?:not|never|no|nothing)\b|n['\u2019]t\b")


def says_published(text: str | None) -> bool:
    """Whether the topic or guidelines `text` says posts there are published on the web hub (see the module)."""
    if not text:
        return False
    for line in text.casefold().splitlines():
        if _PUBLISHED.search(line) and _WHERE.search(line) and not _NEGATION.search(line):
            return True
    return False
