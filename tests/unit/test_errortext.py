"""Error text: exception classes, HTTP statuses, database codes and error words become search tokens."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.challenges.errortext import MAX_SIGNATURES, error_signatures

TOKEN = re.compile(r"^[a-z0-9]+$")

DJANGO_TRACEBACK = """\
Internal Server Error: /api/users/
Traceback (most recent call last):
  File "/app/.venv/lib/python3.11/site-packages/django/db/backends/utils.py", line 89, in _execute
    return self.cursor.execute(sql, params)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "accounts_user_email_key"
DETAIL:  Key (email)=(ada@example.com) already exists.


The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/app/.venv/lib/python3.11/site-packages/django/core/handlers/exception.py", line 55, in inner
    response = get_response(request)
               ^^^^^^^^^^^^^^^^^^^^^
  File "/app/accounts/views.py", line 42, in create
    user = User.objects.create(email=data["email"])
django.db.utils.IntegrityError: duplicate key value violates unique constraint "accounts_user_email_key"
DETAIL:  Key (email)=(ada@example.com) already exists.
[12/May/2024 10:15:32] "POST /api/users/ HTTP/1.1" 500 145
"""

CELERY_LOG = """\
[2024-05-12 10:15:32,123: ERROR/MainProcess] consumer: Cannot connect to amqp://guest:**@rabbitmq:5672//: \
[Errno 111] Connection refused.
Trying again in 2.00 seconds... (1/100)
[2024-05-12 10:16:01,004: ERROR/ForkPoolWorker-2] Task app.tasks.send_email[3f2a] raised unexpected: \
SoftTimeLimitExceeded()
kombu.exceptions.OperationalError: [Errno 111] Connection refused
"""

KUBECTL_OUTPUT = """\
NAME                      READY   STATUS             RESTARTS   AGE
api-7d9f8c6b5d-x2x7k      0/1     CrashLoopBackOff   5          3m
worker-6c8d7f9b8-kq2lp    0/1     OOMKilled          2          3m
web-5f6d8c7b9-abcde       0/1     ImagePullBackOff   0          100s
    Last State:     Terminated
      Reason:       OOMKilled
      Exit Code:    137
"""


# --- exception classes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IntegrityError", ("integrityerror",)),
        ("django.db.utils.IntegrityError: duplicate entry", ("integrityerror",)),
        ("KeyError: 'id'", ("keyerror",)),
        ("ModuleNotFoundError: No module named 'rest_framework'", ("modulenotfounderror",)),
        ("raised ConnectionRefusedError and then TimeoutError", ("connectionrefusederror", "timeouterror")),
        ("django.core.exceptions.ImproperlyConfigured: SECRET_KEY", ("improperlyconfigured",)),
        ("User.DoesNotExist: User matching query does not exist.", ("doesnotexist",)),
        ("get() returned MultipleObjectsReturned", ("multipleobjectsreturned",)),
        ("SuspiciousOperation and PermissionDenied", ("suspiciousoperation", "permissiondenied")),
        ("KeyboardInterrupt", ("keyboardinterrupt",)),
        ("SystemExit: 1", ("systemexit",)),
        ("RuntimeWarning: coroutine was never awaited", ("runtimewarning",)),
        ("requests.exceptions.ReadTimeout", ("readtimeout",)),
        ("java.lang.NullPointerException", ("nullpointerexception",)),
        ("Uncaught TypeError: Cannot read properties of undefined", ("typeerror",)),
        ("rest_framework.exceptions.NotAuthenticated: no credentials", ("notauthenticated",)),
        ("sqlalchemy.exc.NoResultFound", ("noresultfound",)),
        ("raise Http404", ("http404",)),
    ],
)
def test_exception_classes(text: str, expected: tuple[str, ...]) -> None:
    assert error_signatures(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Error handling is hard",
        "an Exception, a Warning, a Timeout, an Exit",
        "ERROR: something",
        "errorError",
        "the_KeyError_suffix",
    ],
)
def test_bare_suffixes_and_non_class_words_are_not_classes(text: str) -> None:
    assert error_signatures(text) == ()


# --- HTTP statuses --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("502 Bad Gateway", "http502"),
        ("nginx says 502 bad gateway", "http502"),
        ("HTTP/1.1 404 Not Found", "http404"),
        ("HTTP 429", "http429"),
        ("Request failed with status code 500", "http500"),
        ("Error 403", "http403"),
        ("403 Forbidden", "http403"),
        ("404: Not Found", "http404"),
        ("status=503", "http503"),
        ("Forbidden (403): /api/", "http403"),
        ('"GET /api/ HTTP/1.1" 500 145', "http500"),
        ("404 Client Error: Not Found for url", "http404"),
        ("422 Unprocessable Entity", "http422"),
        ("413 Request Entity Too Large", "http413"),
        ("Internal Server Error: /api/users/", "http500"),
        ("the gateway said Bad Gateway", "http502"),
        ("101 Switching Protocols", "http101"),
    ],
)
def test_http_statuses(text: str, expected: str) -> None:
    assert error_signatures(text) == (expected,)


@pytest.mark.parametrize(
    "text",
    [
        "I got 200 points",
        "We had 404 members and 500 messages",
        "200 accepted answers",
        "exited with exit code 137",
        "error 1045",
        "module not found, bad request",
        "HTTP 2 and HTTP 3",
        "room 404",
        "version 1.404 Not Found",
    ],
)
def test_numbers_that_are_not_statuses(text: str) -> None:
    assert error_signatures(text) == ()


# --- database errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SQLSTATE[23505]: Unique violation", ("uniqueviolation", "sqlstate23505")),
        ("sqlstate 23505", ("uniqueviolation", "sqlstate23505")),
        ("SQL state: 42P01", ("undefinedtable", "sqlstate42p01")),
        ("SQLSTATE[HY000] [2002] Connection timed out", ("sqlstatehy000",)),
        (
            'ERROR:  duplicate key value violates unique constraint "users_email_key"',
            ("uniqueviolation", "sqlstate23505"),
        ),
        ('ERROR:  relation "app_user" does not exist', ("undefinedtable", "sqlstate42p01")),
        ("psycopg2.errors.UniqueViolation: duplicate", ("uniqueviolation", "sqlstate23505")),
        (
            "asyncpg.exceptions.UniqueViolationError: duplicate",
            ("uniqueviolationerror", "uniqueviolation", "sqlstate23505"),
        ),
        (
            "sqlite3.IntegrityError: UNIQUE constraint failed: app_user.email",
            ("integrityerror", "uniqueviolation"),
        ),
        ("ERROR 1045 (28000): Access denied for user 'root'@'localhost'", ("mysql1045",)),
        ('OperationalError: (2002, "Can\'t connect to MySQL server")', ("operationalerror", "mysql2002")),
        ("E11000 duplicate key error collection: app.users", ("mongoe11000",)),
        (
            'psql: error: FATAL:  password authentication failed for user "nexus"',
            ("pgfatal", "invalidpassword", "sqlstate28p01"),
        ),
        ('FATAL:  database "nexus" does not exist', ("pgfatal",)),
    ],
)
def test_database_errors(text: str, expected: tuple[str, ...]) -> None:
    assert error_signatures(text) == expected


def test_the_same_condition_written_three_ways_shares_its_tokens() -> None:
    by_code = set(error_signatures("SQLSTATE 23505"))
    by_class = set(error_signatures("psycopg.errors.UniqueViolation"))
    by_message = set(error_signatures("duplicate key value violates unique constraint"))
    assert by_code == by_class == by_message == {"uniqueviolation", "sqlstate23505"}


# --- error words ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("blocked by CORS policy", "cors"),
        ("No 'Access-Control-Allow-Origin' header is present", "cors"),
        ("connect ECONNREFUSED 127.0.0.1:5432", "econnrefused"),
        ("net::ERR_CONNECTION_REFUSED", "econnrefused"),
        ("[Errno 111] Connection refused", "econnrefused"),
        ("ETIMEDOUT", "etimedout"),
        ("ENOENT: no such file or directory", "enoent"),
        ("listen EADDRINUSE: address already in use :::3000", "eaddrinuse"),
        ("the pod was OOMKilled", "oomkilled"),
        ("CrashLoopBackOff", "crashloopbackoff"),
        ("ImagePullBackOff", "imagepullbackoff"),
        ("segfault at 0", "segfault"),
        ("Segmentation fault (core dumped)", "segfault"),
        ("signal SIGSEGV", "segfault"),
    ],
)
def test_error_words(text: str, expected: str) -> None:
    assert error_signatures(text) == (expected,)


@pytest.mark.parametrize(
    "text",
    [
        "the N+1 problem",
        "corsair keyboards",
        "ecors",
        "I got 200 points",
        "Error handling is hard",
        "I caught the exception and logged a warning after a timeout",
        "Challenge: slow queries on large tables. Solution: indexes, select_related, pagination.",
        "In 2023 we had 500 learners and 404 projects",
        "",
    ],
)
def test_ordinary_prose_has_no_signatures(text: str) -> None:
    assert error_signatures(text) == ()


# --- whole pastes ---------------------------------------------------------------------------------------


def test_a_django_traceback_pasted_whole() -> None:
    assert error_signatures(DJANGO_TRACEBACK) == (
        "http500",
        "uniqueviolation",
        "sqlstate23505",
        "integrityerror",
    )


def test_a_celery_log() -> None:
    assert error_signatures(CELERY_LOG) == ("econnrefused", "softtimelimitexceeded", "operationalerror")


def test_kubectl_output() -> None:
    assert error_signatures(KUBECTL_OUTPUT) == ("crashloopbackoff", "oomkilled", "imagepullbackoff")


def test_order_of_appearance_and_no_duplicates() -> None:
    text = "ValueError, then 502 Bad Gateway, then ValueError again, then CORS, then 502 Bad Gateway"
    assert error_signatures(text) == ("valueerror", "http502", "cors")


def test_at_most_the_first_twenty() -> None:
    names = [f"Custom{chr(ord('A') + index)}Error" for index in range(26)]
    found = error_signatures(" ".join(names))
    assert len(found) == MAX_SIGNATURES
    assert found == tuple(name.lower() for name in names[:MAX_SIGNATURES])


# --- any text -------------------------------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        "Error",
        "KeyError",
        ".",
        ":",
        " ",
        "\n",
        "(",
        ")",
        "[",
        "]",
        "'",
        '"',
        "502",
        "1045",
        "23505",
        "Bad Gateway",
        "HTTP/1.1",
        "status code",
        "SQLSTATE",
        "ERROR",
        "FATAL:",
        "E11000",
        "errors",
        "exceptions",
        "UniqueViolation",
        "CORS",
        "Connection refused",
        "é",
        "_",
        # The non-ASCII letters Python's `re` matches to ASCII ones when it ignores case.
        "\u0130",
        "\u0131",
        "\u017f",
        "\u212a",
        "INTERNAL SERVER ERROR",
        "SIGSEGV",
        "violates unique constraint",
    ]
)


def _check(found: tuple[str, ...]) -> None:
    assert isinstance(found, tuple)
    assert len(found) <= MAX_SIGNATURES
    assert len(found) == len(set(found))
    assert all(TOKEN.match(token) for token in found)


@given(st.text())
def test_any_text_gives_well_formed_tokens(text: str) -> None:
    _check(error_signatures(text))


@given(st.lists(_FRAGMENTS, max_size=40).map("".join))
def test_error_like_text_gives_well_formed_tokens(text: str) -> None:
    _check(error_signatures(text))


@given(st.text() | st.lists(_FRAGMENTS, max_size=40).map("".join))
def test_screening_finds_exactly_what_running_every_pattern_finds(text: str) -> None:
    assert error_signatures(text) == error_signatures(text, screened=False)


@pytest.mark.parametrize(
    "text",
    [
        "éexc.Thing failed",
        "x.errors.Broken",
        "ERROR 1045 (28000): Access denied",
        "E11000 duplicate key",
        'fatal: relation "orders" does not exist',
        "Forbidden (403)",
        "the gateway timed out: Bad Gateway",
        "DoesNotExist",
        "duplicate key value VIOLATES unique constraint".replace("I", "\u0130", 1),
        "sqlstate 23505".replace("s", "\u017f", 1),
    ],
)
def test_screening_keeps_the_edge_cases(text: str) -> None:
    assert error_signatures(text) == error_signatures(text, screened=False)
    assert error_signatures(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\u0130NTERNAL SERVER ERROR on every request", ("http500",)),
        ("the worker died: S\u0130GSEGV", ("segfault",)),
        ("\u0131'm a teapot: 418", ()),  # no word before the code, no code before the phrase
        ("418 \u0130'M A TEAPOT", ("http418",)),
        ("SQLSTATE 2350\u212a", ("sqlstate2350k",)),
    ],
)
def test_letters_that_match_ascii_ones_ignoring_case_read_as_those(text: str, expected: tuple[str, ...]) -> None:
    assert error_signatures(text) == expected
    _check(error_signatures(text))
