"""Echoing what a learner typed back inside an error message."""

import re

_SPACES = re.compile(r"\s+")


def quoted(text: str) -> str:
    """`text` safe to echo between backticks: short, one line, without backticks."""
    flat = _SPACES.sub(" ", text.replace("`", "'")).strip()
    return flat if len(flat) <= 30 else flat[:29] + "…"
