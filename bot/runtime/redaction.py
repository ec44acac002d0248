"""Keeping credentials out of what the bot logs or prints: URLs are shown without their secrets.

`DISCORD_API_URL` may name a proxy with a password or a token in it, and `DATABASE_URL` usually holds the database's
password. Every log line is passed through `RedactingFormatter`, so a URL (or the token) quoted anywhere, a library's
message or an exception's included, is masked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

MASK = "***"

# scheme://user:password@ or scheme://user@ (the lone user part is often itself a token).
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^\s/?#@:]*)(?::(?P<password>[^\s/?#@]*))?@")
# ?token=…, &api_key=…, password=…: a query parameter whose name says it is a credential.
_CREDENTIAL_NAME = (
    r"(?:[^\s=&?#;/]*(?:token|key|secret|passw(?:or)?d|pwd|signature|credential)[^\s=&?#;/]*|auth(?:orization)?|sig)"
)
_SECRET_PARAMETER = re.compile(rf"(?P<name>[?&;]{_CREDENTIAL_NAME}=)[^\s&#;'\"]+", re.IGNORECASE)
_CREDENTIAL_PARAMETER_NAME = re.compile(rf"^{_CREDENTIAL_NAME}$", re.IGNORECASE)


def _mask_userinfo(match: re.Match[str]) -> str:
    if match.group("password") is None:
        return f"{match.group('scheme')}{MASK}@"
    return f"{match.group('scheme')}{match.group('user')}:{MASK}@"


def redact_url(text: str) -> str:
    """`text` with every URL's password (or lone user part) and token-like query values masked."""
    return _SECRET_PARAMETER.sub(rf"\g<name>{MASK}", _USERINFO.sub(_mask_userinfo, text))


def url_secrets(url: str) -> list[str]:
    """The secret parts of `url` (password, a lone user part, token-like query values), to mask wherever they
    appear alone."""
    try:
        parts = urlsplit(url)
        password, username = parts.password, parts.username
    except ValueError:
        return []
    found = [password] if password else [username] if username else []
    found += [value for name, value in parse_qsl(parts.query) if _CREDENTIAL_PARAMETER_NAME.match(name) and value]
    return found


class RedactingFormatter(logging.Formatter):
    """Formats with `inner`, then masks URL credentials and the given secrets in the whole output, traceback
    included."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._inner = inner
        # Longest first, so a secret that contains another is masked whole; very short values would mask common
        # words, and are not worth a secret's name.
        self._secrets = sorted({secret for secret in secrets if len(secret) >= 4}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = redact_url(self._inner.format(record))
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text
