"""Recognise error text in a post: exception classes, HTTP statuses, database codes, well-known error words.

Each finding becomes one signature token of lowercase ASCII letters and digits ("integrityerror",
"http502", "sqlstate23505"), so that it is a single token to SQLite FTS5 and to a PostgreSQL
`tsvector` alike: a post and a pasted error meet on the token however each was written.
Every pattern here is linear in the length of the text (no nested quantifiers), so a 4,000-character
paste or a hostile query costs one pass per pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from http import HTTPStatus
from typing import NamedTuple

MAX_SIGNATURES = 20


class _Finding(NamedTuple):
    position: int
    token: str


_NOT_TOKEN = re.compile(r"[^a-z0-9]+")


def _token(name: str) -> str:
    return _NOT_TOKEN.sub("", name.lower())


# Ignoring case, Python's `re` matches four non-ASCII letters to ASCII ones: U+0130 and U+0131 (dotted capital and
# dotless small I) to "i", U+017F (long S) to "s", U+212A (Kelvin sign) to "k" (its documentation lists them).
# Mapped to those, then lowered, a text holds the ASCII words of every match of a pattern that ignores case: the
# screens look for those words there.
_CASELESS_TO_ASCII = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def _caseless(text: str) -> str:
    """`text` mapped and lowered so: what a pattern ignoring case matched reads as its lowercase ASCII words."""
    return text.translate(_CASELESS_TO_ASCII).lower()


_FOUR_DIGITS = re.compile(r"[0-9]{4}")


class _Screen:
    """A text as the screens read it: a pattern runs only where what every match of it needs is found."""

    __slots__ = ("folded", "four_digits")

    def __init__(self, text: str) -> None:
        self.folded = _caseless(text)
        self.four_digits = _FOUR_DIGITS.search(text) is not None

    def holds(self, words: tuple[str, ...]) -> bool:
        """Whether any of these lowercase words is in the text, whatever its case."""
        return any(word in self.folded for word in words)


def _longest_words(phrases: Iterable[str]) -> tuple[str, ...]:
    """The longest word of each phrase: a screen for a pattern of the phrases, each word of which it matches."""
    return tuple(sorted({max(phrase.split(" "), key=len) for phrase in phrases}))


# --- exception classes ----------------------------------------------------------------------------------

_CLASS_SUFFIXES = ("Error", "Exception", "Warning", "Exit", "Interrupt", "Timeout", "Fault")
# Well-known exceptions whose names do not end in one of the suffixes above.
_KNOWN_CLASSES = frozenset(
    {
        "ImproperlyConfigured",
        "DoesNotExist",
        "ObjectDoesNotExist",
        "FieldDoesNotExist",
        "TemplateDoesNotExist",
        "MultipleObjectsReturned",
        "SuspiciousOperation",
        "PermissionDenied",
        "DisallowedHost",
        "NoReverseMatch",
        "Http404",
        "StopIteration",
        "StopAsyncIteration",
        "NotAuthenticated",
        "AuthenticationFailed",
        "NotFound",
        "Throttled",
        "MethodNotAllowed",
        "UniqueViolation",
        "ForeignKeyViolation",
        "NotNullViolation",
        "CheckViolation",
        "UndefinedTable",
        "UndefinedColumn",
        "DeadlockDetected",
        "SerializationFailure",
        "InvalidPassword",
        "SoftTimeLimitExceeded",
        "TimeLimitExceeded",
        "MaxRetriesExceeded",
        "NoResultFound",
        "MultipleResultsFound",
    }
)
# Module segments after which a capitalised name is an exception even without a suffix:
# `psycopg2.errors.UniqueViolation`, `rest_framework.exceptions.NotAuthenticated`, `sqlalchemy.exc.X`.
_EXCEPTION_MODULES = frozenset({"exceptions", "errors", "exc"})


def _is_exception_class(name: str) -> bool:
    if name in _KNOWN_CLASSES:
        return True
    # CamelCase with something before the suffix: "KeyError", "HTTPError", never a bare "Error".
    return (
        name[:1].isupper()
        and name.isalnum()
        and any(char.islower() for char in name)
        and any(name.endswith(suffix) and len(name) > len(suffix) for suffix in _CLASS_SUFFIXES)
    )


# Something every exception class found below contains: a suffix, a known name, or a module that names one.
# (Substring tests: a pass of `in` per hint is several times faster than one regex alternation of them all.)
_CLASS_HINTS = (*_CLASS_SUFFIXES, *sorted(_KNOWN_CLASSES), *(f"{module}." for module in sorted(_EXCEPTION_MODULES)))


def _maybe_class(text: str) -> bool:
    return any(hint in text for hint in _CLASS_HINTS)


# The parts of dotted identifiers (`psycopg2.errors.UniqueViolation`) that may name an exception class,
# found in C: a part (it starts after no letter, digit or underscore) that ends in a suffix or is a
# well-known name, or any capitalised part after a module that names exceptions (in its group).
_NAMED_CLASS = re.compile(
    rf"(?<![A-Za-z0-9_])(?:[A-Z][A-Za-z0-9]*(?:{'|'.join(_CLASS_SUFFIXES)})"
    rf"|{'|'.join(sorted(_KNOWN_CLASSES, key=len, reverse=True))})(?![A-Za-z0-9_])"
)
_AFTER_EXCEPTION_MODULE = re.compile(rf"(?<![A-Za-z0-9_])(?:{'|'.join(_EXCEPTION_MODULES)})\.([A-Z][A-Za-z0-9_]*)")


def _exception_classes(text: str) -> Iterator[_Finding]:
    parts = {
        match.start(): match.group() for match in _NAMED_CLASS.finditer(text) if _is_exception_class(match.group())
    }
    for match in _AFTER_EXCEPTION_MODULE.finditer(text):
        parts[match.start(1)] = match.group(1)
    for offset in sorted(parts):
        token = _token(parts[offset])
        yield _Finding(offset, token)
        # psycopg's `UniqueViolation` and asyncpg's `UniqueViolationError` name a SQLSTATE.
        condition = _CONDITION_BY_NAME.get(token.removesuffix("error"))
        if condition:
            yield from _condition(offset, condition)


# --- database errors ------------------------------------------------------------------------------------


class _Condition(NamedTuple):
    name: str
    sqlstate: str


_CONDITIONS = (
    _Condition("uniqueviolation", "23505"),
    _Condition("foreignkeyviolation", "23503"),
    _Condition("notnullviolation", "23502"),
    _Condition("checkviolation", "23514"),
    _Condition("undefinedtable", "42p01"),
    _Condition("undefinedcolumn", "42703"),
    _Condition("deadlockdetected", "40p01"),
    _Condition("serializationfailure", "40001"),
    _Condition("invalidpassword", "28p01"),
)
_CONDITION_BY_NAME = {condition.name: condition for condition in _CONDITIONS}
_CONDITION_BY_CODE = {condition.sqlstate: condition for condition in _CONDITIONS}
# PostgreSQL's messages for those conditions, and SQLite's wording of the same faults (SQLite has no
# SQLSTATE, so its messages give the condition name only).
# Each with the words every match of it holds, for the screen (lowercase; SQLite's as written).
_POSTGRES_MESSAGES = (
    (re.compile(r"duplicate key value violates unique constraint", re.IGNORECASE), "uniqueviolation", "duplicate"),
    (re.compile(r"violates foreign key constraint", re.IGNORECASE), "foreignkeyviolation", "violates"),
    (re.compile(r"violates not-null constraint", re.IGNORECASE), "notnullviolation", "violates"),
    (re.compile(r"violates check constraint", re.IGNORECASE), "checkviolation", "violates"),
    (re.compile(r"\brelation \"[^\"\n]{1,200}\" does not exist", re.IGNORECASE), "undefinedtable", "does not exist"),
    (re.compile(r"\bcolumn \"?[\w.]{1,200}\"? does not exist", re.IGNORECASE), "undefinedcolumn", "does not exist"),
    (re.compile(r"\bdeadlock detected\b", re.IGNORECASE), "deadlockdetected", "deadlock"),
    (re.compile(r"could not serialize access", re.IGNORECASE), "serializationfailure", "serialize"),
    (re.compile(r"password authentication failed", re.IGNORECASE), "invalidpassword", "password"),
)
_SQLITE_MESSAGES = (
    (re.compile(r"\bUNIQUE constraint failed"), "uniqueviolation", "UNIQUE constraint failed"),
    (re.compile(r"\bFOREIGN KEY constraint failed"), "foreignkeyviolation", "FOREIGN KEY constraint failed"),
    (re.compile(r"\bNOT NULL constraint failed"), "notnullviolation", "NOT NULL constraint failed"),
    (re.compile(r"\bCHECK constraint failed"), "checkviolation", "CHECK constraint failed"),
    (re.compile(r"\bno such table\b"), "undefinedtable", "no such table"),
    (re.compile(r"\bno such column\b"), "undefinedcolumn", "no such column"),
)
# "SQLSTATE[23505]", "sqlstate 23505", "SQL state: 23505"; a code is five characters, one a digit.
_SQLSTATE = re.compile(r"\bSQL[ _]?STATE\b[ \t]*[\[(:=]?[ \t]*(?=[A-Z]{0,4}[0-9])([0-9A-Z]{5})\b", re.IGNORECASE)
# MySQL's client "ERROR 1045 (28000): ..." and a driver's "OperationalError: (1045, 'Access denied ...')".
_MYSQL = re.compile(r"\bERROR[ \t]+([1-9][0-9]{3})[ \t]*\([0-9A-Z]{5}\)|(?<=Error)[: \t]*\(([1-9][0-9]{3}),[ \t]*[\"']")
_MONGO = re.compile(r"\bE([0-9]{5})\b")
# PostgreSQL's server errors at connection time: "FATAL:  password authentication failed".
_PG_FATAL = re.compile(r"\bFATAL:")


def _condition(position: int, condition: _Condition, *, with_code: bool = True) -> Iterator[_Finding]:
    yield _Finding(position, condition.name)
    if with_code:
        yield _Finding(position, f"sqlstate{condition.sqlstate}")


def _database_errors(text: str, screen: _Screen | None = None) -> Iterator[_Finding]:
    """Database errors; with a `screen`, only the patterns whose words (or four digits) the text holds run."""
    if screen is None or ("sql" in screen.folded and "state" in screen.folded):
        for match in _SQLSTATE.finditer(text):
            code = _caseless(match.group(1))
            known = _CONDITION_BY_CODE.get(code)
            if known:
                yield from _condition(match.start(), known)
            else:
                yield _Finding(match.start(), f"sqlstate{code}")
    for pattern, name, words in _POSTGRES_MESSAGES:
        if screen is None or words in screen.folded:
            for match in pattern.finditer(text):
                yield from _condition(match.start(), _CONDITION_BY_NAME[name])
    for pattern, name, words in _SQLITE_MESSAGES:
        if screen is None or words in text:
            for match in pattern.finditer(text):
                yield from _condition(match.start(), _CONDITION_BY_NAME[name], with_code=False)
    if screen is None or (screen.four_digits and ("ERROR" in text or "Error" in text)):
        for match in _MYSQL.finditer(text):
            yield _Finding(match.start(), f"mysql{match.group(1) or match.group(2)}")
    if screen is None or screen.four_digits:
        for match in _MONGO.finditer(text):
            yield _Finding(match.start(), f"mongoe{match.group(1)}")
    if screen is None or "FATAL:" in text:
        for match in _PG_FATAL.finditer(text):
            yield _Finding(match.start(), "pgfatal")


# --- HTTP statuses --------------------------------------------------------------------------------------


def _reason_phrases() -> dict[int, frozenset[str]]:
    phrases: dict[int, set[str]] = {status.value: {status.phrase.lower()} for status in HTTPStatus}
    # Older and newer names of the same statuses, and the ones servers and proxies print.
    extra = {
        413: ("payload too large", "request entity too large", "content too large"),
        414: ("uri too long", "request-uri too long"),
        416: ("range not satisfiable", "requested range not satisfiable"),
        418: ("i'm a teapot",),
        422: ("unprocessable entity", "unprocessable content"),
        499: ("client closed request",),
    }
    for code, names in extra.items():
        phrases.setdefault(code, set()).update(names)
    for code in phrases:
        # `requests`: "404 Client Error: Not Found for url".
        phrases[code].add("client error" if code < 500 else "server error")
    return {code: frozenset(names) for code, names in phrases.items() if 100 <= code < 600}


_REASONS = _reason_phrases()
_PHRASE = "|".join(
    re.escape(phrase).replace(r"\ ", r"[ \t]+")
    for phrase in sorted({phrase for names in _REASONS.values() for phrase in names}, key=len, reverse=True)
)
_CODE = r"(?<![\w.])([1-5][0-9]{2})(?![\w.])"
# "502 Bad Gateway", "404: Not Found"; the phrase must be the code's own, so "200 Accepted" is no status.
_CODE_THEN_PHRASE = re.compile(rf"{_CODE}(?:[ \t]*[-:][ \t]*|[ \t]+)({_PHRASE})\b", re.IGNORECASE)
# Django's "Forbidden (403)".
_PHRASE_THEN_CODE = re.compile(rf"\b({_PHRASE})[ \t]*\(([1-5][0-9]{{2}})\)", re.IGNORECASE)
# "HTTP/1.1 404", `"GET / HTTP/1.1" 500`, "status code 500", "Error 403", "status=502".
_WORD_THEN_CODE = re.compile(
    r"\b(?:HTTP(?:/[0-9](?:\.[0-9])?)?|status(?:[ _]?code)?|(?:error|response|http)[ _]code|error)"
    rf"[\"']?[ \t]*[:=#]?[ \t]*{_CODE}",
    re.IGNORECASE,
)
_STATUS_WORDS = ("http", "status", "error", "response")
# Phrases that name one status on their own, without its number; the plainer ones ("Not Found",
# "Bad Request") are ordinary English and need the number.
_DISTINCT_PHRASES = re.compile(
    r"\b(internal[ \t]+server[ \t]+error|bad[ \t]+gateway|service[ \t]+unavailable|gateway[ \t]+timeout"
    r"|too[ \t]+many[ \t]+requests|method[ \t]+not[ \t]+allowed|unprocessable[ \t]+entity)\b",
    re.IGNORECASE,
)
_DISTINCT_CODES = {
    "internal server error": 500,
    "bad gateway": 502,
    "service unavailable": 503,
    "gateway timeout": 504,
    "too many requests": 429,
    "method not allowed": 405,
    "unprocessable entity": 422,
}
_PHRASE_WORDS = _longest_words(_DISTINCT_CODES)
_SPACES = re.compile(r"[ \t]+")


def _phrase_of(code: int, phrase: str) -> bool:
    return _SPACES.sub(" ", _caseless(phrase)) in _REASONS.get(code, frozenset())


# A status code: all but `_DISTINCT_PHRASES` need one, and the long alternation of reason phrases is the
# costliest pattern here, so a post without a three-digit number skips them; the phrase before its code in
# parentheses, the costliest of all, runs only where a "(404)" is.
_MAYBE_CODE = re.compile(r"[1-5][0-9]{2}")
_CODE_IN_PARENTHESES = re.compile(r"\([1-5][0-9]{2}\)")


def _distinct_phrases(text: str, screen: _Screen | None = None) -> Iterator[_Finding]:
    if screen is not None and not screen.holds(_PHRASE_WORDS):
        return
    for match in _DISTINCT_PHRASES.finditer(text):
        yield _Finding(match.start(), f"http{_DISTINCT_CODES[_SPACES.sub(' ', _caseless(match.group(1)))]}")


def _http_statuses(text: str, screen: _Screen | None = None) -> Iterator[_Finding]:
    for match in _CODE_THEN_PHRASE.finditer(text):
        if _phrase_of(int(match.group(1)), match.group(2)):
            yield _Finding(match.start(), f"http{match.group(1)}")
    for match in _PHRASE_THEN_CODE.finditer(text) if _CODE_IN_PARENTHESES.search(text) else ():
        if _phrase_of(int(match.group(2)), match.group(1)):
            yield _Finding(match.start(), f"http{match.group(2)}")
    for match in _WORD_THEN_CODE.finditer(text) if screen is None or screen.holds(_STATUS_WORDS) else ():
        # Only real statuses: "exit code 137" is a process, not a response.
        if int(match.group(1)) in _REASONS:
            yield _Finding(match.start(1), f"http{match.group(1)}")
    yield from _distinct_phrases(text, screen)


# --- well-known error words -----------------------------------------------------------------------------

_WORDS = {
    "cors": "cors",
    "access-control-allow-origin": "cors",
    "econnrefused": "econnrefused",
    "err_connection_refused": "econnrefused",
    "connection refused": "econnrefused",
    "econnreset": "econnreset",
    "etimedout": "etimedout",
    "enoent": "enoent",
    "eaddrinuse": "eaddrinuse",
    "eacces": "eacces",
    "enotfound": "enotfound",
    "oomkilled": "oomkilled",
    "crashloopbackoff": "crashloopbackoff",
    "imagepullbackoff": "imagepullbackoff",
    "errimagepull": "errimagepull",
    "segfault": "segfault",
    "segmentation fault": "segfault",
    "sigsegv": "segfault",
}
_WORD = re.compile(
    r"(?<![A-Za-z0-9_])("
    + "|".join(re.escape(word).replace(r"\ ", r"[ \t]+") for word in sorted(_WORDS, key=len, reverse=True))
    + r")(?![A-Za-z0-9_])",
    re.IGNORECASE,
)


_WORD_WORDS = _longest_words(_WORDS)


def _error_words(text: str, screen: _Screen | None = None) -> Iterator[_Finding]:
    if screen is not None and not screen.holds(_WORD_WORDS):
        return
    for match in _WORD.finditer(text):
        yield _Finding(match.start(), _WORDS[_SPACES.sub(" ", _caseless(match.group(1)))])


# --- together -------------------------------------------------------------------------------------------


def _findings(text: str, *, screened: bool = True) -> list[_Finding]:
    """Every finding in `text`. Screened, a pattern runs only where a cheap pass found what all its matches
    need (most posts have no error text: it keeps parsing fast); `screened=False` runs them all, for the
    test that shows both give the same."""
    if not screened:
        return [*_exception_classes(text), *_database_errors(text), *_http_statuses(text), *_error_words(text)]
    screen = _Screen(text)
    findings = [*_exception_classes(text)] if _maybe_class(text) else []
    findings += _database_errors(text, screen)
    findings += _http_statuses(text, screen) if _MAYBE_CODE.search(text) else _distinct_phrases(text, screen)
    findings += _error_words(text, screen)
    return findings


def error_signatures(text: str, *, screened: bool = True) -> tuple[str, ...]:
    """The error signatures in `text`, each once, in order of first appearance, at most `MAX_SIGNATURES`."""
    findings = _findings(text, screened=screened)
    # A stable sort keeps a condition's name before its code when both come from one place.
    findings.sort(key=lambda finding: finding.position)
    tokens: dict[str, None] = {}
    for finding in findings:
        if finding.token:
            tokens.setdefault(finding.token)
            if len(tokens) == MAX_SIGNATURES:
                break
    return tuple(tokens)
