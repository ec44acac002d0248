"""Domain errors: every failure a user can cause or fix, with the message they should read.

Services raise these; the command tree's error handler answers them ephemerally and does not log
them as faults.
"""

from __future__ import annotations

from collections.abc import Sequence


class NexusError(Exception):
    """An expected failure with a message for the user that says what to do instead."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class NotFoundError(NexusError):
    pass


class InvalidInputError(NexusError):
    pass


class PermissionDeniedError(NexusError):
    pass


class RateLimitedError(NexusError):
    def __init__(self, retry_after: float, what: str) -> None:
        self.retry_after = retry_after
        seconds = max(1, round(retry_after))
        wait = f"{seconds} s" if seconds < 120 else f"{-(-seconds // 60)} min"
        super().__init__(f"Slow down a little: you can {what} again in {wait}.")


class TopicNotFoundError(NotFoundError):
    def __init__(self, query: str, suggestions: Sequence[str]) -> None:
        self.query = query
        self.suggestions = tuple(suggestions)
        shown = query if len(query) <= 60 else query[:57] + "…"
        message = f"No topic is called `{_inline(shown)}`."
        if self.suggestions:
            message += " Did you mean " + ", ".join(f"**{name}**" for name in self.suggestions) + "?"
        message += " Pick one from the list as you type, or browse with `/topics`."
        super().__init__(message)


def _inline(text: str) -> str:
    """Text safe inside one pair of backticks."""
    return text.replace("`", "'")
