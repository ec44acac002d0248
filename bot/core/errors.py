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


class GoneError(NotFoundError):
    """It existed and was deleted on purpose (the web hub answers 410 Gone)."""


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


def size_text(size: int) -> str:
    """Bytes as people read an upload limit: "10 MB", "7.5 MB", "2.9 KB" (binary units, as Discord counts)."""
    value, unit = (size / 1024**2, "MB") if size >= 1024**2 else (size / 1024, "KB")
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


class ExportBusyError(NexusError):
    def __init__(self) -> None:
        super().__init__(
            "An export is already being prepared for this server. Try again in a minute, when it has been sent."
        )


class ExportTooLargeError(NexusError):
    """The export would pass the upload limit; `exported` challenges fitted before it did."""

    def __init__(self, limit: int, exported: int) -> None:
        self.limit = limit
        self.exported = exported
        super().__init__(
            f"The export is larger than this server's upload limit of {size_text(limit)} "
            f"(the first {exported:,} challenges fill it), so nothing was sent. Narrow it down with the "
            "options `topic`, `status` or `since`, for example `/challenge export status:solved since:2024-01-01`. "
            "An administrator can write the whole log with `nexus-bot export`."
        )
