"""The challenge log at scale: in-channel ingestion, search at 100,000 and 1,000,000 challenges, export.

1. Ingestion: the real bot runs in this process; the local Discord server runs in a child process (in
   the bot's process it would share its event loop and count against its rate). After a warm-up burst,
   bursts of "Challenge: …" posts, stored and encoded by the server beforehand, are sent down the
   gateway; the server polls the challenges table (its own sqlite3 connection) until every post is
   committed: the figure is the median of the bursts, first frame sent to last post committed. Beside
   it, in turn burst by burst, the floor bot (`benchmarks/floor_bot.py`, its own process against its own
   local server): one committed insert and one ✅ per post, unparsed, with the bot's own pragmas (WAL,
   synchronous=FULL: a commit is durable when it returns, as a post must be before it is acknowledged). For
   reference, sqlite3 alone: the same inserts without a bot, durable and with synchronous=NORMAL.
2. Search: databases of realistic challenges (vocabulary of the topic cards and the seeds, error texts,
   tracebacks) are generated once, straight into a migrated file (so the FTS5 table and its triggers are
   the product's own) and cached under `NEXUS_BENCH_DIR` (default /tmp/nexus-bench). The real search
   path, `ChallengeService.search` through SQLAlchemy, runs a mix of queries beside a LIKE scan.
3. Export: `/challenge export` of 100,000 challenges through the real bot (the local Discord server in a child
   process, the server boosted so that 100 MiB may be uploaded), as Markdown and CSV, then at Discord's 10 MiB
   upload limit: time, the event loop's worst lag (a task sleeping 10 ms, its overshoot; beside it the same
   probe with the bot idle) and the growth of the process's resident memory; and rendering alone, timed.

`NEXUS_BENCH_QUICK=1` limits search to 100,000 challenges (no 1,000,000 database to generate).
`NEXUS_BENCH_PARTS=ingest` (or any of `ingest,search,export`, comma-separated) runs only those parts;
`forum` (not run by default) times forum posts beside text-channel posts, and a backfill of archived posts
(`benchmarks/_forum.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import itertools
import json
import multiprocessing
import os
import random
import re
import shutil
import sqlite3
import statistics
import string
import sys
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy import TextClause, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks._child import ChildServer
from benchmarks._table import Row, row
from bot.app import build_services
from bot.challenges.errortext import error_signatures
from bot.challenges.parsing import MAX_TITLE, parse_post
from bot.challenges.query import parse_query
from bot.config import load_settings
from bot.core.errors import InvalidInputError
from bot.core.ratelimit import AcknowledgementLimiter
from bot.db import migrate
from bot.db.engine import SQLITE_PRAGMAS, create_engine, create_session_factory
from bot.db.search import SearchHit, search_engine_for
from bot.knowledge import TopicCard, load_knowledge_base
from bot.runtime.paths import default_data_dir, migrations_dir
from bot.services.challenges import ChallengeService

# Bump when the generator changes: cached databases of another version are not reused.
GENERATOR_VERSION = "g1"
CACHE_DIR = Path(os.environ.get("NEXUS_BENCH_DIR", "/tmp/nexus-bench"))  # noqa: S108 - a cache, not secrets
SEEDS_DIR = Path(os.environ.get("NEXUS_SEEDS_DIR", "/work/shared/seeds"))
QUICK = os.environ.get("NEXUS_BENCH_QUICK", "") not in ("", "0")
PARTS = frozenset(os.environ.get("NEXUS_BENCH_PARTS", "ingest,search,export").replace(" ", "").split(","))
SEARCH_SIZES = (100_000,) if QUICK else (100_000, 1_000_000)
EXPORT_SIZE = 100_000
EXPORT_LAG_TARGET_MS = 100
BOOSTED_UPLOAD_LIMIT = 100 * 1024 * 1024  # a server boosted to level 3
IDLE_PROBE_SECONDS = 10.0
EXPORT_MEMORY_TARGET_MB = 50
LAG_PROBE_SECONDS = 0.010
INGEST_POSTS = 2000
INGEST_WARMUP = 50
# Bursts of INGEST_POSTS each, into the same running bot, and runs of the floor: the figures are their medians
# (five of each: a burst's rate varies by a third from run to run on a shared two-core machine).
INGEST_BURSTS = 5
FLOOR_RUNS = 5
WARMUP_SETTLE_SECONDS = 3.0
SEARCH_ROUNDS = 5
SCAN_SUBSET_AT_1M = 10
MAIN_GUILD = 900_000_000_000_000_001
OTHER_GUILD = 900_000_000_000_000_002
TOKEN = "benchmark-token.not-a-real-one.0123456789"  # noqa: S105 - the local server accepts any token
CHUNK = 5000
CODENAME_SEED = 5
# Past this many seconds for one round of the query mix, it is timed once rather than SEARCH_ROUNDS times.
SEARCH_BUDGET_SECONDS = 60.0
QUERY_LIMIT_SECONDS = 10.0
LIVE, DELETED, OTHER = 0, 1, 2
DISCORD_EPOCH_MS = 1_420_070_400_000

# --- realistic challenge text ----------------------------------------------------------------------------


def _items(block: str) -> tuple[str, ...]:
    """Phrases written `a | b | c` over several lines (`\\n` inside a phrase is a line break of its own)."""
    return tuple(item.strip() for item in block.split("|") if item.strip())


SYMPTOMS = _items(
    """
    slow queries | high memory usage | timeouts | duplicate rows | stale data | random 500 errors |
    flaky tests | a race condition | a memory leak | permission denied errors | missing migrations |
    a circular import | N+1 queries | cache misses | a login loop | tokens expiring too early |
    emails sent twice | tasks stuck in pending | the container exits immediately | the build fails |
    static files not served | websocket disconnects | pagination returning duplicates |
    wrong timezone in timestamps | the serializer ignoring a field | the signal firing twice |
    the rate limit not applied | high CPU usage | requests hanging | the queue growing forever |
    the admin page loading slowly | the API returning empty lists | uploads failing for large files |
    the cron job running twice | responses cached for the wrong user
    """
)
WHERES = _items(
    """
    on large tables | in production | behind nginx | after deploy | under load | in the admin | in CI |
    inside Docker | with many users | on Kubernetes | in staging | only on my machine | with PostgreSQL |
    when running the tests | on the first request | every few hours | after a restart
    """
)
EVENTS = _items(
    """
    deploy | upgrading to Django 5 | adding a new migration | scaling to three replicas |
    switching to PostgreSQL | enabling HTTPS | merging to main | rotating the secret key | adding Celery |
    moving to docker compose | turning on caching | adding JWT auth | splitting the service in two |
    upgrading Python | adding an index
    """
)
ERROR_NAMES = _items(
    """
    IntegrityError | OperationalError | ProgrammingError | ValidationError | DoesNotExist |
    MultipleObjectsReturned | ImproperlyConfigured | ModuleNotFoundError | ImportError | AttributeError |
    KeyError | TypeError | ValueError | RecursionError | TimeoutError | ConnectionError | PermissionDenied |
    NotAuthenticated | AuthenticationFailed | SynchronousOnlyOperation | ExpiredSignatureError |
    SoftTimeLimitExceeded | DisallowedHost | NoReverseMatch | UniqueViolation | DeadlockDetected |
    JSONDecodeError
    """
)
HTTP_ERRORS = _items(
    """
    502 Bad Gateway | 504 Gateway Timeout | 500 Internal Server Error | 403 Forbidden | 401 Unauthorized |
    429 Too Many Requests | 404 Not Found | 400 Bad Request | 413 Payload Too Large | 503 Service Unavailable
    """
)
ERRORS = _items(
    """
    django.db.utils.IntegrityError: duplicate key value violates unique constraint "{table}_{field}_key" |
    IntegrityError: UNIQUE constraint failed: {table}.{field} |
    sqlite3.OperationalError: no such table: {table} |
    psycopg2.errors.UndefinedTable: relation "{table}" does not exist |
    django.db.utils.ProgrammingError: column "{field}" does not exist |
    psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint |
    django.db.utils.OperationalError: could not connect to server: Connection refused |
    ERROR: deadlock detected (SQLSTATE 40P01) | FATAL: password authentication failed for user "postgres" |
    ModuleNotFoundError: No module named 'rest_framework' | ModuleNotFoundError: No module named '{module}' |
    ImportError: cannot import name '{model}' from partially initialized module 'app.models' |
    AttributeError: 'NoneType' object has no attribute '{field}' | KeyError: 'SECRET_KEY' |
    TypeError: Object of type datetime is not JSON serializable |
    RecursionError: maximum recursion depth exceeded |
    django.core.exceptions.ImproperlyConfigured: settings.DATABASES is improperly configured |
    django.core.exceptions.SynchronousOnlyOperation: You cannot call this from an async context |
    {model}.DoesNotExist: {model} matching query does not exist. |
    {model}.MultipleObjectsReturned: get() returned more than one {model} |
    rest_framework.exceptions.NotAuthenticated: Authentication credentials were not provided. |
    jwt.exceptions.ExpiredSignatureError: Signature has expired |
    redis.exceptions.ConnectionError: Error 111 connecting to localhost:6379. Connection refused. |
    celery.exceptions.SoftTimeLimitExceeded: SoftTimeLimitExceeded() |
    kombu.exceptions.OperationalError: [Errno 111] Connection refused |
    ssl.SSLCertVerificationError: certificate verify failed: unable to get local issuer certificate |
    Invalid HTTP_HOST header: '{host}'. You may need to add it to ALLOWED_HOSTS. (DisallowedHost) |
    Access to fetch has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header |
    Back-off restarting failed container: CrashLoopBackOff | the pod is OOMKilled after a few minutes |
    Failed to pull image: ImagePullBackOff | Error: connect ECONNREFUSED 127.0.0.1:5432 |
    nginx answers 502 Bad Gateway | the load balancer returns 504 Gateway Timeout |
    the API answers 500 Internal Server Error | the client gets 429 Too Many Requests |
    the endpoint returns 403 Forbidden |
    json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0) |
    ERROR 1062 (23000): Duplicate entry '{n}' for key 'PRIMARY'
    """
)
MODELS = _items(
    """
    Order | User | Product | Invoice | Booking | Listing | Payment | Review | Property | Message |
    Conversation | Profile | Cart | Course | Enrollment | Ticket | Event | Comment | Post | Category |
    Notification | Subscription | Transaction | Room | Vendor | Shipment | Coupon
    """
)
FIELDS = _items(
    """
    email | user_id | created_at | slug | status | order_id | host_id | property_id | booking_date | username |
    phone_number | price | updated_at
    """
)
MODULES = _items(
    """
    rest_framework_simplejwt | corsheaders | django_filters | celery | channels | drf_yasg | decouple
    """
)
VERBS = (
    ("save", "saving"),
    ("update", "updating"),
    ("delete", "deleting"),
    ("serialize", "serializing"),
    ("paginate", "paginating"),
    ("cache", "caching"),
    ("migrate", "migrating"),
    ("deploy", "deploying"),
    ("authenticate", "authenticating"),
    ("validate", "validating"),
    ("filter", "filtering"),
    ("query", "querying"),
    ("upload", "uploading"),
    ("retry", "retrying"),
    ("schedule", "scheduling"),
    ("test", "testing"),
    ("send", "sending"),
    ("publish", "publishing"),
    ("create", "creating"),
    ("fetch", "fetching"),
)
ENVIRONMENTS = _items(
    """
    production | staging | Docker | docker compose | GitHub Actions | Jenkins | Render | Heroku |
    an AWS EC2 instance | Kubernetes | minikube | a small VPS | Railway | PythonAnywhere
    """
)
FIXES = _items(
    """
    added an index on {field} | used select_related('{rel}') on the queryset |
    used prefetch_related for the reverse relation | wrapped the writes in transaction.atomic() |
    switched to get_or_create | set CONN_MAX_AGE to 60 | raised the gunicorn timeout to {n} seconds |
    pointed proxy_pass at the right upstream | used the compose service name as host instead of localhost |
    moved the secret into an environment variable | pinned the version in requirements.txt |
    ran makemigrations and migrate again | added a unique constraint on {field} |
    used cache.get_or_set with a TTL of {n} seconds | set acks_late and a visibility timeout |
    used select_for_update inside the transaction | added pagination with page_size {n} |
    switched to cursor pagination | used F() expressions for the counter |
    added retries with exponential backoff | added the domain to ALLOWED_HOSTS | added CSRF_TRUSTED_ORIGINS |
    refreshed the token on a 401 | mounted a volume for the database |
    added a healthcheck and depends_on with condition service_healthy | set a readinessProbe on the pod |
    used bulk_create with batch_size {n} | added db_index=True to {field} |
    used only() and defer() to skip the large columns | used Redis as the channel layer |
    throttled with ScopedRateThrottle | used IsAuthenticatedOrReadOnly |
    ran the blocking call with sync_to_async | rebuilt the image without the cache |
    increased the memory limit of the pod | set DEBUG to False and collected static files
    """
)
CAUSES = _items(
    """
    a missing index | an N+1 query in the serializer | two workers processing the same task |
    the wrong DATABASE_URL in the container | a stale cache key | the timezone setting |
    a circular import between apps | an unapplied migration | the health check hitting the database |
    a typo in the environment file | the token lifetime in settings | the default page size
    """
)
WHENS = _items(
    """
    yesterday | last week | after the last release | this morning | since we moved hosting
    """
)
DURATIONS = _items(
    """
    two days | hours | a week | the whole weekend | three days
    """
)
SETTINGS_TEXT = _items(
    """
    DEBUG=False | CONN_MAX_AGE=0 | a 30 second timeout | 4 gunicorn workers | the default settings | USE_TZ=True
    """
)
SYLLABLES = _items(
    """
    ka | lo | ra | vin | tex | mo | zu | pel | dar | qui | sen | bo | nix | tor | fa | ly
    """
)

TITLES = _items(
    """
    {symptom} {where} | {error_name} when {verb_ing} {a_model} | {tech}: {symptom} {where} |
    How do I {verb} {a_model} with {tech}? | {tech} returns {http_error} {where} |
    {tech} {symptom} after {event} | Can't get {tech} to work with {tech2} | {error_name} in {tech} {where} |
    {http_error} from {tech} {where} | {symptom} with {tech} | Best way to {verb} {a_model} in {tech}? |
    {tech} and {tech2}: {symptom} | Help: {symptom} {where} | {tech} {symptom} {where}
    """
)
SENTENCES = _items(
    """
    I'm building {project} with {tech} and {tech2}. | When I {verb} {a_model}, I get {error}. |
    It works locally but fails {where}. |
    The {table} table has {rows} rows and the /api/{table}/ endpoint takes {n} seconds. |
    The logs show {error} right after {event}. |
    {tech} is configured with {setting}, and {tech2} runs in {env}. |
    Not sure if this is a {tech} problem or a {tech2} one. |
    I followed the {tech} docs but {symptom} keeps happening {where}. |
    Our project {codename} uses {tech}; {symptom} started {when}. |
    Traceback (most recent call last):\n  File "/app/{table}/views.py", line {n}, in {verb}\n{error} |
    Any idea what the cause could be? | I have been stuck on this for {duration}. |
    Only {a_model} with a {field} of None triggers it. | {env} shows {http_error} for about one request in {n}. |
    I expected {a_model} to be saved only once. | The same code worked with {tech2} before {event}. |
    We run {tech} on {env} with {setting}. | Maybe it is {cause}? | The {field} column is indexed already. |
    It only happens for {a_model} created {when}. | Locally I use {tech2}, in {env} it is {tech}.
    """
)
TRIED = (
    "Tried {fix} and {fix2}, still {symptom}.",
    "I already {fix}.",
    "Restarting {tech} helps for a while.",
)
SOLUTIONS = _items(
    """
    {Fix}. | The cause was {cause}; {fix} fixed it. | {Fix}, then {fix2}. | {pitfall} | {Fix}. {pitfall}
    """
)
# Who writes: a few learners write most of the challenges.
AUTHORS = 5000

_FIELD_NAMES = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class GeneratedChallenge:
    title: str
    details: str
    tried: str | None
    error_terms: str
    topics: tuple[str, ...]
    solutions: tuple[str, ...]
    accepted: bool


def _seed_lines() -> tuple[list[str], list[str]]:
    """The learners' own challenge titles and solutions, from the seeds (when the folder is there)."""
    titles: list[str] = []
    solutions: list[str] = []
    if not SEEDS_DIR.is_dir():
        return titles, solutions
    marker = re.compile(r"^(challenge|problem|solution)(?:\s+implemented)?\s*(?:\d+)?\s*[:\u2013\u2014-]\s*(.+)$", re.I)
    for path in sorted(SEEDS_DIR.glob("*.txt")):
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            line = raw.strip().strip("-#*_ ").replace("**", "").replace("*", "")
            found = marker.match(line)
            if found is None or not 10 <= len(found[2]) <= MAX_TITLE:
                continue
            (solutions if found[1].lower() == "solution" else titles).append(found[2].strip())
    return titles, solutions


def _solution_value(pitfall: str, values: Callable[[str], str], field: str) -> str:
    return pitfall if field == "pitfall" else values(field)


def _pitfalls(card: TopicCard) -> list[str]:
    """The bullet points of a card's pitfalls and key points: real advice, usable as solutions."""
    bullets = []
    for block in (card.pitfalls, card.key_points):
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("- ") and 20 <= len(line) <= 400:
                bullets.append(line[2:])
    return bullets or [card.summary[:300]]


class ChallengeWriter:
    """Challenges as learners write them; deterministic for a seed.

    Error signatures are computed per text fragment (memoised): running the real extractor over a
    million whole posts would take minutes. `check` compares with the extractor on whole texts.
    """

    def __init__(self, cards: Sequence[TopicCard], seed: int) -> None:
        self._rng = random.Random(seed)
        ordered = sorted(cards, key=lambda card: card.slug)
        random.Random(seed).shuffle(ordered)
        self._cards = ordered
        # Popularity: Zipf-like over the topics, as some subjects come up far more often than others.
        self._card_weights = [1 / (rank + 1) ** 0.8 for rank in range(len(ordered))]
        self._names = {card.slug: self._card_names(card) for card in ordered}
        self._pitfalls = {card.slug: _pitfalls(card) for card in ordered}
        self._seed_titles, self._seed_solutions = _seed_lines()
        self._codenames = self.codenames()
        self._signatures: dict[str, tuple[str, ...]] = {}
        self._templates: dict[str, list[tuple[str, str | None]]] = {}

    @staticmethod
    def codenames(count: int = 5000) -> list[str]:
        """Project names, the same for every database: rare words (each in about one post in 30,000)."""
        rng = random.Random(CODENAME_SEED)
        names: dict[str, None] = {}
        while len(names) < count:
            names.setdefault("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
        return list(names)

    @staticmethod
    def _card_names(card: TopicCard) -> list[str]:
        # The card's own name comes up most; keywords of more than two words are phrases, not names.
        names = [card.title] * 3 + [*card.aliases, *(word for word in card.keywords if len(word.split()) <= 2)]
        return [name for name in names if 2 < len(name) <= 40]

    # ----- pieces ------------------------------------------------------------------------------

    def reseed(self, seed: int) -> None:
        self._rng.seed(seed)

    def _parts(self, template: str) -> list[tuple[str, str | None]]:
        parts = self._templates.get(template)
        if parts is None:
            parts = [(literal, field) for literal, field, _, _ in string.Formatter().parse(template)]
            self._templates[template] = parts
        return parts

    def _fill(self, template: str, values: Callable[[str], str], out: list[str]) -> None:
        for literal, field in self._parts(template):
            if literal:
                out.append(literal)
            if field is not None:
                out.append(values(field))

    def _signatures_of(self, parts: Sequence[str]) -> tuple[str, ...]:
        found: dict[str, None] = {}
        for part in parts:
            known = self._signatures.get(part)
            if known is None:
                known = error_signatures(part) if len(part) > 2 else ()
                self._signatures[part] = known
            for token in known:
                found.setdefault(token)
        return tuple(found)[:20]

    def _value(self, field: str, tech: tuple[str, str]) -> str:
        rng = self._rng
        if field == "tech":
            return tech[0]
        if field == "tech2":
            return tech[1]
        if field == "symptom":
            return rng.choice(SYMPTOMS)
        if field == "where":
            return rng.choice(WHERES)
        if field == "event":
            return rng.choice(EVENTS)
        if field == "error_name":
            return rng.choice(ERROR_NAMES)
        if field == "http_error":
            return rng.choice(HTTP_ERRORS)
        if field == "error":
            return self._fill_inner(rng.choice(ERRORS), tech)
        if field in ("verb", "verb_ing"):
            verb = rng.choice(VERBS)
            return verb[0] if field == "verb" else verb[1]
        if field == "a_model":
            model = rng.choice(MODELS)
            return f"{'an' if model[0] in 'AEIOU' else 'a'} {model}"
        if field == "model":
            return rng.choice(MODELS)
        if field in ("table", "rel"):
            name = rng.choice(MODELS).lower()
            return name if field == "rel" else name[:-1] + "ies" if name.endswith("y") else name + "s"
        if field == "field":
            return rng.choice(FIELDS)
        if field == "module":
            return rng.choice(MODULES)
        if field == "host":
            return f"api.{rng.choice(self._codenames)}.com"
        if field == "n":
            return str(rng.choice((2, 3, 5, 8, 10, 12, 20, 30, 50, 60, 100, 120, 250, 500, 1000)))
        if field == "rows":
            return f"{rng.choice((2, 5, 8, 20, 40, 300))} million"
        if field == "project":
            return f"a {rng.choice(('booking', 'messaging', 'e-commerce', 'blog', 'travel', 'payments'))} API"
        if field == "codename":
            return rng.choice(self._codenames)
        if field == "setting":
            return rng.choice(SETTINGS_TEXT)
        if field == "env":
            return rng.choice(ENVIRONMENTS)
        if field == "when":
            return rng.choice(WHENS)
        if field == "duration":
            return rng.choice(DURATIONS)
        if field in ("fix", "fix2", "Fix"):
            fix = self._fill_inner(rng.choice(FIXES), tech)
            return fix[0].upper() + fix[1:] if field == "Fix" else fix
        if field == "cause":
            return rng.choice(CAUSES)
        raise KeyError(field)

    def _fill_inner(self, template: str, tech: tuple[str, str]) -> str:
        out: list[str] = []
        self._fill(template, lambda field: self._value(field, tech), out)
        return "".join(out)

    # ----- one challenge ----------------------------------------------------------------------

    def challenge(self) -> GeneratedChallenge:
        rng = self._rng
        primary, secondary = rng.choices(self._cards, weights=self._card_weights, k=2)
        tech = (rng.choice(self._names[primary.slug]), rng.choice(self._names[secondary.slug]))

        def values(field: str) -> str:
            return self._value(field, tech)

        title_parts: list[str] = []
        if self._seed_titles and rng.random() < 0.08:
            title_parts.append(rng.choice(self._seed_titles))
        else:
            self._fill(rng.choice(TITLES), values, title_parts)
        title = "".join(title_parts)
        title = title[0].upper() + title[1:]
        if len(title) > MAX_TITLE:
            title = title[: MAX_TITLE - 1].rsplit(" ", 1)[0] + "…"
        detail_parts: list[str] = []
        for number, template in enumerate(rng.sample(SENTENCES, rng.randint(2, 5))):
            if number:
                detail_parts.append(" " if rng.random() < 0.8 else "\n\n")
            self._fill(template, values, detail_parts)
        tried_parts: list[str] = []
        if rng.random() < 0.35:
            self._fill(rng.choice(TRIED), values, tried_parts)
        signatures = self._signatures_of([*title_parts, *detail_parts, *tried_parts])
        solutions = self._solutions(primary, secondary, values)
        topics: tuple[str, ...] = ()
        if rng.random() < 0.8:
            topics = (primary.slug,) if primary is secondary or rng.random() < 0.6 else (primary.slug, secondary.slug)
        return GeneratedChallenge(
            title=title,
            details="".join(detail_parts),
            tried="".join(tried_parts) or None,
            error_terms=" ".join(signatures),
            topics=topics,
            solutions=solutions,
            accepted=bool(solutions) and rng.random() < 0.78,
        )

    def _solutions(self, primary: TopicCard, secondary: TopicCard, values: Callable[[str], str]) -> tuple[str, ...]:
        rng = self._rng
        roll = rng.random()
        count = 0 if roll < 0.3 else 1 if roll < 0.8 else rng.randint(2, 3)
        bodies = []
        for _ in range(count):
            if self._seed_solutions and rng.random() < 0.05:
                bodies.append(rng.choice(self._seed_solutions))
                continue
            pitfall = rng.choice(self._pitfalls[rng.choice((primary, secondary)).slug])
            out: list[str] = []
            self._fill(rng.choice(SOLUTIONS), partial(_solution_value, pitfall, values), out)
            bodies.append("".join(out)[:4000])
        return tuple(bodies)

    def check(self, samples: int) -> int:
        """How many of `samples` fresh challenges get other signatures from the extractor on the whole text."""
        differ = 0
        for _ in range(samples):
            item = self.challenge()
            whole = "\n".join(part for part in (item.title, item.details, item.tried) if part)
            if set(error_signatures(whole)) != set(item.error_terms.split()):
                differ += 1
        return differ


# --- cached databases ------------------------------------------------------------------------------------


def _schema_key() -> str:
    """A digest of the migrations, so that a schema change never reuses an old database."""
    digest = hashlib.sha256()
    for path in sorted(migrations_dir().rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def _stamp(moment: datetime) -> str:
    # How SQLAlchemy's SQLite DateTime stores a value (UTC, no zone).
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


async def _migrate(path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


_INSERT_CHALLENGE = (
    "INSERT INTO challenges (id, guild_id, channel_id, author_id, author_name, source_message_id, title, details, "
    "tried, error_terms, status, created_at, updated_at, solved_at, deleted_at, deleted_by, nudged_at, "
    "asked_author_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_SOLUTION = (
    "INSERT INTO solutions (id, challenge_id, guild_id, author_id, author_name, source_message_id, body, accepted, "
    "accepted_at, created_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_TOPIC = "INSERT INTO challenge_topics (challenge_id, slug, position) VALUES (?, ?, ?)"


@dataclass
class _Rows:
    challenges: list[tuple[object, ...]]
    solutions: list[tuple[object, ...]]
    topics: list[tuple[object, ...]]


def _total(size: int) -> int:
    """Rows for `size` live challenges of the main server: plus 1% soft-deleted, plus 5% of another server."""
    return size + size // 100 + size // 20


class _Population:
    """Who posts where and when: ids, guilds, authors, times and statuses of the generated log.

    Chunks are generated independently (each reseeded from its first id), so that a worker process
    can write them while this one inserts; ids and snowflakes derive from the challenge's id.
    """

    def __init__(self, size: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        deleted, other = size // 100, size // 20
        self.total = _total(size)
        kinds = [LIVE] * size + [DELETED] * deleted + [OTHER] * other
        self.rng.shuffle(kinds)  # spread over the ids, and so over time
        self.kinds = bytes(kinds)
        self.start = datetime(2023, 1, 1, tzinfo=UTC)
        self.step = timedelta(days=3 * 365) / self.total
        self.author_weights = list(itertools.accumulate(1 / (rank + 1) ** 0.7 for rank in range(AUTHORS)))

    def author(self) -> tuple[int, str]:
        number = self.rng.choices(range(AUTHORS), cum_weights=self.author_weights)[0]
        return 800_000_000_000_000_000 + number, f"learner{number}"

    @staticmethod
    def snowflake(moment: datetime, sequence: int) -> int:
        # Unique: ids that share the low 22 bits are a million challenges (years) apart.
        return ((int(moment.timestamp() * 1000) - DISCORD_EPOCH_MS) << 22) | (sequence & 0x3FFFFF)

    def rows(self, writer: ChallengeWriter, first_id: int, count: int) -> _Rows:
        out = _Rows([], [], [])
        rng = self.rng
        rng.seed(self.seed * 1_000_003 + first_id)
        writer.reseed(self.seed * 1_000_033 + first_id)
        for challenge_id in range(first_id, first_id + count):
            item = writer.challenge()
            created = self.start + self.step * challenge_id
            kind = self.kinds[challenge_id - 1]
            deleted = kind == DELETED
            guild = OTHER_GUILD if kind == OTHER else MAIN_GUILD
            author_id, author_name = self.author()
            source = self.snowflake(created, challenge_id * 4) if rng.random() < 0.6 else None
            solved = item.accepted
            solved_at = created + timedelta(hours=rng.uniform(0.2, 72)) if solved else None
            for position, slug in enumerate(item.topics):
                out.topics.append((challenge_id, slug, position))
            for number, body in enumerate(item.solutions):
                at = created + timedelta(hours=rng.uniform(0.1, 48))
                accepted = solved and number == 0
                helper_id, helper_name = self.author()
                out.solutions.append(
                    (
                        challenge_id * 4 + number,
                        challenge_id,
                        guild,
                        helper_id,
                        helper_name,
                        self.snowflake(at, challenge_id * 4 + number + 1) if rng.random() < 0.5 else None,
                        body,
                        1 if accepted else 0,
                        _stamp(solved_at) if accepted and solved_at else None,
                        _stamp(at),
                        None,
                    )
                )
            out.challenges.append(
                (
                    challenge_id,
                    guild,
                    700_000_000_000_000_001 + challenge_id % 3,
                    author_id,
                    author_name,
                    source,
                    item.title,
                    item.details,
                    item.tried,
                    item.error_terms,
                    "solved" if solved else "open",
                    _stamp(created),
                    _stamp(solved_at or created),
                    _stamp(solved_at) if solved_at else None,
                    _stamp(created + timedelta(days=2)) if deleted else None,
                    author_id if deleted else None,
                    None if solved else _stamp(created + timedelta(hours=24)),
                    _stamp(created + timedelta(hours=48)) if item.solutions and not solved else None,
                )
            )
        return out


# One writer and population per process (the worker's memoised signatures survive between chunks).
_GENERATORS: dict[tuple[int, int], tuple[ChallengeWriter, _Population]] = {}


def _chunk(size: int, seed: int, first: int, count: int) -> _Rows:
    generators = _GENERATORS.get((size, seed))
    if generators is None:
        cards = load_knowledge_base(default_data_dir() / "topics").cards
        generators = ChallengeWriter(cards, seed), _Population(size, seed)
        _GENERATORS[(size, seed)] = generators
    writer, population = generators
    return population.rows(writer, first, count)


def _bulk_index_statement(trigger_sql: str) -> str | None:
    """The product's own "index this challenge" INSERT, from its trigger, widened to every challenge."""
    start = trigger_sql.find("INSERT INTO challenge_search")
    end = trigger_sql.rfind(";")
    condition = "c.id = new.id AND "
    if start < 0 or end < start or condition not in trigger_sql[start:end]:
        return None
    return trigger_sql[start:end].replace(condition, "")


def _generate(path: Path, size: int, seed: int) -> dict[str, float]:
    """Fill a migrated file with `size` live challenges of the main server, indexed as the product does.

    The full-text rows are built after the load by the product's own trigger statement (read from the
    file, run once over all challenges, then the triggers put back as they were): twice as fast as
    row by row. Should the trigger change shape, the triggers simply stay and index each insert.
    A worker process writes the text while this one inserts.
    """
    asyncio.run(_migrate(path))
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        # No journal while loading (a failed load is thrown away), WAL as the bot uses once done.
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "foreign_keys=OFF", "cache_size=-400000"):
            connection.execute(f"PRAGMA {pragma}")
        triggers = connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
        index_all = _bulk_index_statement(dict(triggers).get("challenges_search_insert", ""))
        connection.execute("BEGIN")
        if index_all is not None:
            for name, _ in triggers:
                connection.execute(f'DROP TRIGGER "{name}"')
        total = _total(size)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            pending: deque[Future[_Rows]] = deque()
            for first in [*range(1, total + 1, CHUNK), None]:
                if first is not None:
                    pending.append(pool.submit(_chunk, size, seed, first, min(CHUNK, total + 1 - first)))
                while pending and (first is None or len(pending) > 2):
                    rows = pending.popleft().result()
                    # Children first: with the triggers in place, the challenge's insert then indexes it whole.
                    connection.executemany(_INSERT_TOPIC, rows.topics)
                    connection.executemany(_INSERT_SOLUTION, rows.solutions)
                    connection.executemany(_INSERT_CHALLENGE, rows.challenges)
        if index_all is not None:
            connection.execute(index_all)
            for _, sql in triggers:
                connection.execute(sql)
        connection.execute("COMMIT")
        connection.execute("PRAGMA journal_mode=WAL")
        live = connection.execute(
            "SELECT count(*) FROM challenges WHERE guild_id = ? AND deleted_at IS NULL", (MAIN_GUILD,)
        ).fetchone()[0]
        indexed = connection.execute("SELECT count(*) FROM challenge_search").fetchone()[0]
    finally:
        connection.close()
    cards = load_knowledge_base(default_data_dir() / "topics").cards
    return {
        "size": size,
        "rows": total,
        "live_main": live,
        "indexed": indexed,
        "signature_mismatches_of_2000": ChallengeWriter(cards, seed + 99).check(2000),
        "bytes": path.stat().st_size,
    }


def cached_database(size: int, notes: list[str]) -> Path:
    """The generated database of `size` challenges, made once and reused while generator and schema hold."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = CACHE_DIR / f"challenges-{size}-{GENERATOR_VERSION}-{_schema_key()}.db"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        notes.append(
            f"{size:,} challenges: reused {path} ({meta['bytes'] / 1e6:,.0f} MB; "
            f"generating it took {meta['seconds']:.0f} s)"
        )
        return path
    partial = path.with_suffix(".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    started = time.perf_counter()
    _progress(f"generating {size:,} challenges into {partial} (once; later runs reuse it)")
    meta = _generate(partial, size, seed=size)
    meta["seconds"] = time.perf_counter() - started
    partial.rename(path)
    meta_path.write_text(json.dumps(meta))
    notes.append(
        f"{size:,} challenges: generated {meta['rows']:,} rows ({size:,} live in the searched server, "
        f"{meta['indexed']:,} indexed) in {meta['seconds']:.0f} s, {meta['bytes'] / 1e6:,.0f} MB, cached at {path}; "
        f"signature shortcut differs from the extractor on {meta['signature_mismatches_of_2000']} of 2,000 samples"
    )
    return path


# --- search ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    kind: str
    text: str


def query_mix() -> list[Query]:
    codenames = ChallengeWriter.codenames()
    # Rare words: project names (a few dozen challenges each at 1,000,000, a few at 100,000), a host
    # name with one in it, and a word no challenge has.
    rare = [*codenames[7:11], f"api.{codenames[3]}.com", "zyxwvut"]
    common = ["error", "django", "the", "slow", "api", "docker", "database", "tests", "production", "token"]
    multi = [
        "django error",
        "the api",
        "slow queries on large tables",
        "docker compose",
        "celery task stuck",
        "jwt token expired",
        "redis cache",
        "how do I fix the error",
        "postgres connection refused",
        "N+1 queries select_related",
        "rate limit not applied in production",
        "works locally but fails in production",
        "kubernetes ingress zyxwvut",  # no challenge has every word: the search falls back to any word
        "phone_number",
    ]
    errors = [
        "IntegrityError",
        "502 Bad Gateway",
        "IntegrityError: duplicate key value violates unique constraint",
        "django.db.utils.OperationalError: no such table: orders",
        "ModuleNotFoundError: No module named 'rest_framework'",
        "CrashLoopBackOff",
        "504 Gateway Timeout",
        "SQLSTATE 23505",
        "ECONNREFUSED",
        "Traceback (most recent call last):\n  File \"/app/views.py\", line 12, in get\nKeyError: 'SECRET_KEY'",
        "429 Too Many Requests",
        "psycopg2.errors.UniqueViolation",
    ]
    prefixes = ["postg", "djan", "kube", "serial", "integ", "celer", "migrat", "auth", "pagin", "thro"]
    syntax = ['"docker compose" NEAR(nginx)', "select_related OR prefetch*", "(celery) AND beat:", "title:redis -cache"]
    groups = {
        "common word": common,
        "multi-word": multi,
        "rare word": rare,
        "error text": errors,
        "prefix": prefixes,
        "FTS syntax typed": syntax,
    }
    return [Query(kind, item) for kind, items in groups.items() for item in items]


def scan_subset(queries: Sequence[Query], count: int) -> list[Query]:
    """`count` queries spread over the kinds, for the LIKE scan where scanning them all is too slow."""
    by_kind: dict[str, list[Query]] = {}
    for query in queries:
        by_kind.setdefault(query.kind, []).append(query)
    picked: list[Query] = []
    while len(picked) < count and any(by_kind.values()):
        for items in by_kind.values():
            if items and len(picked) < count:
                picked.append(items.pop(0))
    return picked


def _like_pattern(query: str) -> str:
    escaped = query.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# The baseline: the text as typed, anywhere in title or details. "every match" reads all rows (as
# ranking must); "newest 5" walks ids downwards and stops at the fifth match, as a naive search would.
_SCAN_ALL = text(
    "SELECT id FROM challenges WHERE guild_id = :guild AND deleted_at IS NULL "
    "AND (title LIKE :pattern ESCAPE '\\' OR details LIKE :pattern ESCAPE '\\') "
    "ORDER BY created_at DESC LIMIT 5"
)
_SCAN_NEWEST = text(
    "SELECT id FROM challenges WHERE guild_id = :guild AND deleted_at IS NULL "
    "AND (title LIKE :pattern ESCAPE '\\' OR details LIKE :pattern ESCAPE '\\') "
    "ORDER BY id DESC LIMIT 5"
)


class _Watchdog:
    """Stops a search that runs past `QUERY_LIMIT_SECONDS`, so that one pathological query cannot hold
    the suite for an hour. A SQLite progress handler (called every 100,000 virtual-machine steps, too
    rarely to cost anything measurable) aborts the statement once the deadline has passed."""

    def __init__(self) -> None:
        self.deadline = float("inf")

    def handler(self) -> int:
        return 1 if time.monotonic() > self.deadline else 0

    def install(self, dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.run_async(lambda driver: driver.set_progress_handler(self.handler, 100_000))


@contextlib.asynccontextmanager
async def _services(
    path: Path, watchdog: _Watchdog | None = None
) -> AsyncIterator[tuple[ChallengeService, async_sessionmaker[AsyncSession]]]:
    """The challenge service wired as the bot wires it (`build_services`), on the file at `path`."""
    url = f"sqlite+aiosqlite:///{path}"
    settings = load_settings(_env_file=None, DISCORD_TOKEN=TOKEN, DATABASE_URL=url)
    engine = create_engine(url)
    if watchdog is not None:
        event.listen(engine.sync_engine, "connect", watchdog.install)
    try:
        services = build_services(settings, engine, load_knowledge_base(settings.topics_dir))
        yield services.challenges, create_session_factory(engine)
    finally:
        await engine.dispose()


@dataclass
class _Timed:
    seconds: float
    found: int  # results; -1 when the query was rejected as empty
    stopped: bool = False  # ran past QUERY_LIMIT_SECONDS and was stopped


async def _timed_search(service: ChallengeService, watchdog: _Watchdog, query: str) -> _Timed:
    watchdog.deadline = time.monotonic() + QUERY_LIMIT_SECONDS
    start = time.perf_counter_ns()
    try:
        found = len(await service.search(MAIN_GUILD, query))
    except InvalidInputError:
        found = -1
    except OperationalError as error:
        if "interrupt" not in str(error):
            raise
        return _Timed((time.perf_counter_ns() - start) / 1e9, 0, stopped=True)
    finally:
        watchdog.deadline = float("inf")
    return _Timed((time.perf_counter_ns() - start) / 1e9, found)


async def _timed_scan(sessions: async_sessionmaker[AsyncSession], statement: TextClause, query: str) -> float:
    start = time.perf_counter_ns()
    async with sessions() as session:
        (await session.execute(statement, {"guild": MAIN_GUILD, "pattern": _like_pattern(query)})).all()
    return (time.perf_counter_ns() - start) / 1e9


async def _match_counts(sessions: async_sessionmaker[AsyncSession], words: Sequence[str]) -> str:
    """How many full-text rows each word matches: what ranking every match would have to score."""
    counts = []
    async with sessions() as session:
        for word in words:
            statement = text("SELECT count(*) FROM challenge_search WHERE challenge_search MATCH :word")
            count = (await session.execute(statement, {"word": f'"{word}"'})).scalar_one()
            counts.append(f"{word!r}: {count:,}")
    return ", ".join(counts)


def _progress(message: str) -> None:
    """A line on stderr while the suite runs: it takes minutes, and the table comes only at the end."""
    print(f"[challenges] {message}", file=sys.stderr, flush=True)


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _label(size: int) -> str:
    return f"{size // 1000:,}k" if size < 1_000_000 else f"{size // 1_000_000}M"


async def _time_mix(
    service: ChallengeService, watchdog: _Watchdog, queries: Sequence[Query], label: str, notes: list[str]
) -> dict[str, list[_Timed]]:
    """Every query of the mix, SEARCH_ROUNDS times after a warm-up round (fewer when it is very slow)."""
    started = time.perf_counter()
    warmup = {query.text: await _timed_search(service, watchdog, query.text) for query in queries}
    elapsed = time.perf_counter() - started
    rounds = SEARCH_ROUNDS if elapsed < SEARCH_BUDGET_SECONDS else 1
    if rounds == 1:
        notes.append(f"search {label}: one round of the mix took {elapsed:.0f} s, so each query was timed once")
    stopped = [text for text, timed in warmup.items() if timed.stopped]
    if stopped:
        notes.append(
            f"search {label}: {len(stopped)} queries ran past {QUERY_LIMIT_SECONDS:.0f} s and were stopped "
            f"(counted once, at the time they were stopped: the true figures are worse): {stopped}"
        )
    # A stopped query keeps its one (capped) sample rather than holding the suite again.
    timings = {text: [timed] for text, timed in warmup.items() if timed.stopped}
    for _ in range(rounds):
        for query in queries:
            if query.text not in stopped:
                timings.setdefault(query.text, []).append(await _timed_search(service, watchdog, query.text))
    return timings


async def _search_suite(size: int, path: Path) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    notes: list[str] = []
    label = _label(size)
    queries = query_mix()
    final = size >= 1_000_000
    watchdog = _Watchdog()
    _progress(f"search at {label}")
    async with _services(path, watchdog) as (service, sessions):
        notes.append(
            f"search {label}: challenges matching " + await _match_counts(sessions, ["error", "the", "django"])
        )
        timings = await _time_mix(service, watchdog, queries, label, notes)
        seconds = {text: [timed.seconds for timed in items] for text, items in timings.items()}
        every = [value for values in seconds.values() for value in values]
        target = "median < 2 ms, p99 < 25 ms" if final else ""
        overall = row(f"search {label}: ChallengeService.search, {len(queries)} queries", every, target)
        verdict = _verdict(overall.median_ms < 2 and overall.p99_ms < 25) if final else ""
        rows.append(Row(overall.name, overall.samples, overall.median_ms, overall.p99_ms, target, verdict))
        for kind in dict.fromkeys(query.kind for query in queries):
            samples = [value for query in queries if query.kind == kind for value in seconds[query.text]]
            rows.append(row(f"  search {label}: {kind} ({sum(q.kind == kind for q in queries)})", samples))
        slowest = sorted(seconds.items(), key=lambda item: statistics.median(item[1]), reverse=True)[:4]
        notes.append(
            f"search {label}: slowest queries (median ms): "
            + "; ".join(f"{query!r} {statistics.median(values) * 1000:,.1f}" for query, values in slowest)
        )
        no_hits = [text for text, items in timings.items() if items[-1].found == 0 and not items[-1].stopped]
        empty = [text for text, items in timings.items() if items[-1].found < 0]
        notes.append(
            f"search {label}: queries with no result: {no_hits or 'none'}; rejected as empty: {empty or 'none'}"
        )
        rows.append(await _engine_alone(sessions, queries, label))
        notes.append(await _service_floor(service, queries, label))
        subset = scan_subset(queries, SCAN_SUBSET_AT_1M) if final else list(queries)
        scan_rows, scan_notes = await _scan_beside(sessions, subset, seconds, label)
        rows += scan_rows
        notes += scan_notes
    return rows, notes


async def _engine_alone(sessions: async_sessionmaker[AsyncSession], queries: Sequence[Query], label: str) -> Row:
    """The search engine by itself, on a session as the service opens one: its share of the service's time
    (the statement returns the rows found; the service only maps them and renders the snippets)."""
    engine = search_engine_for("sqlite")
    parsed = [parse_query(query.text) for query in queries]
    samples: list[float] = []
    for round_ in range(SEARCH_ROUNDS + 1):
        for query in parsed:
            if query.is_empty():
                continue
            start = time.perf_counter_ns()
            async with sessions() as session:
                await engine.search(session, MAIN_GUILD, query, limit=5)
            if round_:  # the first round warms up
                samples.append((time.perf_counter_ns() - start) / 1e9)
    return row(f"  search {label}: the search engine alone (no mapping, no snippet rendering)", samples)


class _FoundWithoutSearching:
    """A search engine that returns the same five hits at once: what the service costs around any engine."""

    def __init__(self, hits: Sequence[SearchHit]) -> None:
        self.hits = list(hits)

    async def search(self, *_args: Any, limit: int, **_options: Any) -> list[SearchHit]:
        return self.hits[:limit]


async def _service_floor(service: ChallengeService, queries: Sequence[Query], label: str) -> str:
    searching = service._search
    async with service._sessions() as session:
        found = await searching.search(session, MAIN_GUILD, parse_query("error"), limit=5)
    service._search = _FoundWithoutSearching(found)
    try:
        samples = []
        for round_ in range(SEARCH_ROUNDS + 1):
            for query in queries:
                start = time.perf_counter_ns()
                with contextlib.suppress(InvalidInputError):
                    await service.search(MAIN_GUILD, query.text)
                if round_:
                    samples.append((time.perf_counter_ns() - start) / 1e9)
    finally:
        service._search = searching
    floor = row("floor", samples)
    return (
        f"search {label}: ChallengeService.search around an engine that returns {len(found)} rows without "
        f"searching (session, mapping the rows, rendering): median {floor.median_ms:.2f} ms, "
        f"p99 {floor.p99_ms:.2f} ms"
    )


async def _scan_beside(
    sessions: async_sessionmaker[AsyncSession],
    subset: Sequence[Query],
    searched: dict[str, list[float]],
    label: str,
) -> tuple[list[Row], list[str]]:
    """The LIKE baseline on the same queries, and how much faster the search is."""
    _progress(f"LIKE scans at {label}, {len(subset)} queries")
    await _timed_scan(sessions, _SCAN_ALL, subset[0].text)  # warm-up: the pages into the cache
    scan_all = [await _timed_scan(sessions, _SCAN_ALL, query.text) for query in subset]
    scan_newest = [await _timed_scan(sessions, _SCAN_NEWEST, query.text) for query in subset]
    medians = [statistics.median(searched[query.text]) for query in subset]
    rows = [
        row(f"search {label}: LIKE '%query%' scan, every match ({len(subset)} queries)", scan_all),
        row(f"search {label}: LIKE, newest 5 by id (stops early)", scan_newest),
    ]
    speedup = statistics.median(scan_all) / statistics.median(medians)
    worst = min(scan / fts for scan, fts in zip(scan_all, medians, strict=True))
    verdict = f" (target >= 50x: {_verdict(speedup >= 50)})"
    note = (
        f"search {label}: LIKE scan / search, medians over the same {len(subset)} queries: {speedup:,.1f}x{verdict}; "
        f"worst single query {worst:,.2f}x; against the early-stopping LIKE: "
        f"{statistics.median(scan_newest) / statistics.median(medians):,.1f}x"
    )
    return rows, [note]


# --- export ----------------------------------------------------------------------------------------------


class _LoopProbe:
    """A task in the bot's event loop that sleeps 10 ms again and again: how late it wakes is how long the loop was
    held (heartbeats and every other member's commands wait as long). At each wake it samples the process's
    resident memory too."""

    def __init__(self) -> None:
        self.worst_lag = 0.0
        self.wakes = 0
        self.peak_rss = _rss()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(LAG_PROBE_SECONDS)
            self.worst_lag = max(self.worst_lag, time.perf_counter() - start - LAG_PROBE_SECONDS)
            self.wakes += 1
            self.peak_rss = max(self.peak_rss, _rss())

    async def __aenter__(self) -> _LoopProbe:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def _rss() -> int:
    """This process's resident memory in bytes (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def _export_suite(path: Path, folder: Path) -> tuple[list[Row], list[str]]:
    """`/challenge export` of 100,000 challenges through the real bot, the local Discord server in a child process.

    The server is first boosted to level 3 (uploads of 100 MiB), so that the whole log is rendered and sent; then
    Discord's 10 MiB for a server without boosts is sent with each interaction, where the bot stops and answers
    privately.
    """
    from tests.e2e.harness import discord_globals_restored, running_bot
    from tests.e2e.server import ATTACHMENT_SIZE_LIMIT

    _progress("export: /challenge export through the bot")
    database = folder / "export.db"
    await asyncio.to_thread(shutil.copyfile, path, database)  # the bot records a little at start: not in the cache
    rows: list[Row] = []
    notes: list[str] = []
    with discord_globals_restored():
        async with _DiscordProcess(database, guild_id=MAIN_GUILD) as server:
            await server.ask("upload limit", (3, BOOSTED_UPLOAD_LIMIT))
            settings = load_settings(
                _env_file=None,
                DISCORD_TOKEN=TOKEN,
                DATABASE_URL=f"sqlite+aiosqlite:///{database}",
                DISCORD_API_URL=server.api_url,
                NEXUS_GUILD_ID=server.guild_id,
                NEXUS_LOG_LEVEL="WARNING",
            )
            async with running_bot(settings, settle_heap_after_setup=True) as bot:
                await server.ask("connected")
                await asyncio.sleep(0.5)
                # The floor: the same probe while the bot does nothing. On a shared machine other processes' load
                # alone delays a wake by tens of milliseconds.
                async with _LoopProbe() as idle:
                    await asyncio.sleep(IDLE_PROBE_SECONDS)
                rows.append(
                    Row(
                        f"  event loop's worst lag, bot idle for {IDLE_PROBE_SECONDS:.0f} s (the machine's floor)",
                        idle.wakes,
                        idle.worst_lag * 1000,
                        idle.worst_lag * 1000,
                    )
                )
                # Rendering alone: the service the command calls, in the running bot, no upload.
                for kind in ("markdown", "csv"):
                    start = time.perf_counter()
                    async with bot.services.challenges.export_file(
                        MAIN_GUILD, community="Benchmark", format=kind
                    ) as file:
                        seconds = time.perf_counter() - start
                        rows.append(
                            Row(
                                f"export {file.challenges:,} challenges → {kind} file (rendering only)",
                                1,
                                seconds * 1000,
                                seconds * 1000,
                                "< 10 s",
                                _verdict(seconds < 10),
                            )
                        )
                runs = [
                    ("markdown", BOOSTED_UPLOAD_LIMIT),
                    ("csv", BOOSTED_UPLOAD_LIMIT),
                    ("markdown", ATTACHMENT_SIZE_LIMIT),
                ]
                for kind, limit in runs:
                    await server.ask("upload limit", (3, limit))
                    gc.collect()
                    baseline = _rss()
                    async with _LoopProbe() as probe:
                        start = time.perf_counter()
                        answer, size = await server.ask("export", {"format": kind})
                        seconds = time.perf_counter() - start
                    growth = (probe.peak_rss - baseline) / 1e6
                    whole = limit > ATTACHMENT_SIZE_LIMIT
                    what = (
                        f"/challenge export of {EXPORT_SIZE:,} → {kind}, through the bot, answered with the file"
                        if whole
                        else f"/challenge export of {EXPORT_SIZE:,} → {kind} at 10 MiB: answered it is too large"
                    )
                    rows += [
                        # The whole log's time includes the local server (a process on the same cores) receiving
                        # and parsing a 50 MB upload: no target; rendering alone has one above.
                        Row(
                            what,
                            1,
                            seconds * 1000,
                            seconds * 1000,
                            "" if whole else "< 10 s",
                            "" if whole else _verdict(seconds < 10),
                        ),
                        Row(
                            "  event loop's worst lag (10 ms sleeps)",
                            probe.wakes,
                            probe.worst_lag * 1000,
                            probe.worst_lag * 1000,
                            f"< {EXPORT_LAG_TARGET_MS} ms",
                            _verdict(probe.worst_lag * 1000 < EXPORT_LAG_TARGET_MS),
                        ),
                        Row(
                            "  resident memory growth (peak over before)",
                            1,
                            0.0,
                            0.0,
                            f"<= +{EXPORT_MEMORY_TARGET_MB} MB",
                            f"{growth:+.1f} MB {_verdict(growth <= EXPORT_MEMORY_TARGET_MB)}",
                        ),
                    ]
                    notes.append(
                        f"export {kind} (upload limit {limit / 2**20:,.0f} MiB): the member was answered "
                        f"{answer[:240]!r}, with a file of {size / 1e6:,.1f} MB; {seconds:.1f} s from the command "
                        "to the answer (rows read in batches, rendered in a worker thread into a temporary file, "
                        "uploaded from it)"
                    )
                problems = await server.ask("problems")
    if problems:
        notes.append(f"export: {problems} requests Discord would have rejected")
    return rows, notes


# --- ingestion -------------------------------------------------------------------------------------------


def ingestion_posts(count: int, seed: int = 11) -> list[str]:
    """In-channel posts in the forms learners use, each one the parser accepts."""
    writer = ChallengeWriter(load_knowledge_base(default_data_dir() / "topics").cards, seed)
    rng = random.Random(seed)
    posts: list[str] = []
    while len(posts) < count:
        item = writer.challenge()
        solution = item.solutions[0] if item.solutions and rng.random() < 0.3 else None
        form = rng.random()
        if form < 0.6:
            post = f"Challenge: {item.title}\n{item.details}"
        elif form < 0.8:
            post = f"**Challenge:** {item.title}\n\n{item.details}"
        else:
            post = f"## Challenge: {item.title}\n{item.details}"
        if solution:
            post += f"\n\n**Solution:** {solution}"
        if len(post) <= 4000 and parse_post(post) is not None:
            posts.append(post)
    return posts


_FLOOR_TABLE = (
    "CREATE TABLE posts (id INTEGER PRIMARY KEY, guild_id INTEGER NOT NULL, channel_id INTEGER NOT NULL, "
    "author_id INTEGER, author_name TEXT NOT NULL, source_message_id INTEGER UNIQUE, title TEXT NOT NULL, "
    "details TEXT NOT NULL, tried TEXT, error_terms TEXT NOT NULL, status TEXT NOT NULL, "
    "created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
)
_FLOOR_INSERT = (
    "INSERT INTO posts (guild_id, channel_id, author_id, author_name, source_message_id, title, details, tried, "
    "error_terms, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def floor_inserts(posts: Sequence[str], path: Path, pragmas: Sequence[str] = SQLITE_PRAGMAS) -> list[float]:
    """One committed parameterised insert per post (parsed beforehand), each timed, into a file opened as the
    bot opens its own (`pragmas`)."""
    values = []
    for number, post in enumerate(posts):
        parsed = parse_post(post)
        assert parsed is not None
        signatures = " ".join(error_signatures(f"{parsed.title}\n{parsed.details}"))
        values.append((1, 2, 3, "learner", 10_000 + number, parsed.title, parsed.details, None, signatures, "open"))
    connection = sqlite3.connect(path, isolation_level=None)  # autocommit: every INSERT is its own transaction
    try:
        for pragma in pragmas:
            connection.execute(f"PRAGMA {pragma}")
        connection.execute(_FLOOR_TABLE)
        durations = []
        for value in values:
            start = time.perf_counter_ns()
            now = _stamp(datetime.now(UTC))
            connection.execute(_FLOOR_INSERT, (*value, now, now))
            durations.append((time.perf_counter_ns() - start) / 1e9)
    finally:
        connection.close()
    return durations


async def _wait_for_count(database: Path, target: int, within: float) -> tuple[float, int]:
    """perf_counter() when the challenges table holds `target` committed rows (or `within` passed), and the count."""
    connection = sqlite3.connect(database)
    deadline = time.perf_counter() + within
    try:
        while True:
            count = int(connection.execute("SELECT count(*) FROM challenges").fetchone()[0])
            now = time.perf_counter()
            if count >= target or now > deadline:
                return now, count
            await asyncio.sleep(0.001)
    finally:
        connection.close()


def _serve_discord(connection: Connection, database: str, guild_id: int | None) -> None:
    """The local Discord server in a process of its own (see `_DiscordProcess`)."""
    asyncio.run(_serve_discord_async(connection, Path(database), guild_id))


async def _serve_discord_async(connection: Connection, database: Path, guild_id: int | None) -> None:
    from tests.e2e.server import FakeDiscord
    from tests.e2e.users import FakeUser

    loop = asyncio.get_running_loop()
    async with FakeDiscord(guild_members=20, guild_id=guild_id) as server:
        channel = server.challenges_channel_id
        users = [FakeUser(server, member) for member in list(server.members)[2:]]
        connection.send((server.api_url, server.guild_id, channel))
        burst: list[tuple[dict[str, Any], str]] = []  # (the payload, as JSON)
        while True:
            command, argument = await loop.run_in_executor(None, connection.recv)
            if command == "connected":
                await server.wait_connected()
                connection.send(True)
            elif command == "prepare":
                # Stored and encoded beforehand, as Discord has them before it delivers them: the burst
                # then measures the bot, not this server's JSON encoding.
                burst = []
                for number, post in enumerate(argument):
                    user = users[number % len(users)]
                    message = server._store_message(channel, {"content": post}, author=user.member["user"])
                    payload = {**server.public(message), "member": user.member}
                    burst.append((payload, json.dumps(payload)))
                connection.send(len(burst))
            elif command == "burst":
                target, within = argument
                session = server.current_session
                assert session is not None
                assert session.socket is not None
                started = time.perf_counter()
                for payload, data in burst:
                    session.sequence += 1
                    session.events.append((session.sequence, "MESSAGE_CREATE", payload))  # kept for a RESUME
                    frame = f'{{"op":0,"t":"MESSAGE_CREATE","s":{session.sequence},"d":{data}}}'
                    await session.socket.send_str(frame)
                sent = time.perf_counter()
                done, count = await _wait_for_count(database, target, within)
                connection.send((started, sent, done, count))
            elif command == "acks":
                # Every post gets its ✅; replies are capped per channel and minute (AcknowledgementLimiter).
                connection.send(len(server.reactions))
            elif command == "problems":
                connection.send(len(server.violations) + len(server.unknown_routes))
            elif command == "upload limit":
                # (boost level, bytes): the level counts from the bot's next connection (GUILD_CREATE).
                server.premium_tier, server.attachment_size_limit = argument
                connection.send(True)
            elif command == "export":
                # `/challenge export` with the options in `argument`, by a member: what they were answered and
                # the size of the file they got (the file itself is dropped: it can be hundreds of MB).
                user = users[0]
                data = user._command_data("challenge export", argument)
                interaction = server.new_interaction(2, data, user.id, server.general_id)
                answer = await user._answer(interaction, within=900)
                attachments = answer.message["attachments"]
                server.uploads.clear()
                connection.send((answer.content, sum(attachment["size"] for attachment in attachments)))
            else:
                connection.send(None)
                return


class _DiscordProcess(ChildServer):
    """The local Discord server in a child process (see `benchmarks._child`)."""

    def __init__(self, database: Path, guild_id: int | None = None) -> None:
        super().__init__(_serve_discord, str(database), guild_id)

    async def __aenter__(self) -> _DiscordProcess:
        await super().__aenter__()
        self.api_url, self.guild_id, self.channel_id = self.hello
        return self


@dataclass
class _Burst:
    seconds: float  # first gateway frame sent → last post committed
    sending: float  # how long the server took to send the frames
    committed: int
    acked_after: float | None  # first frame → every post acknowledged

    @property
    def rate(self) -> float:
        return self.committed / self.seconds


async def _acked(server: _DiscordProcess, target: int, within: float) -> bool:
    """Wait until `target` posts have their ✅ reaction."""
    deadline = time.perf_counter() + within
    while await server.ask("acks") < target:
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def _ingestion_suite(folder: Path) -> tuple[list[Row], list[str]]:
    from benchmarks.roundtrip import bot_process
    from tests.e2e.harness import discord_globals_restored, running_bot

    _progress(f"ingestion: {INGEST_BURSTS} bursts of {INGEST_POSTS:,} posts")
    posts = ingestion_posts(INGEST_WARMUP + INGEST_BURSTS * INGEST_POSTS)
    warmup = posts[:INGEST_WARMUP]
    bursts = [
        posts[INGEST_WARMUP + number * INGEST_POSTS : INGEST_WARMUP + (number + 1) * INGEST_POSTS]
        for number in range(INGEST_BURSTS)
    ]
    floors = [floor_inserts(bursts[0], folder / f"floor-{number}.db") for number in range(FLOOR_RUNS)]
    floor_rates = sorted(len(durations) / sum(durations) for durations in floors)
    # For comparison only: the same floor without a sync per commit, which is not durable.
    unsynced = floor_inserts(bursts[0], folder / "floor-unsynced.db", (*SQLITE_PRAGMAS, "synchronous=NORMAL"))
    database = folder / "ingest.db"
    floor_database = folder / "floor-bot.db"
    measured: list[_Burst] = []
    floor_measured: list[_Burst] = []
    with discord_globals_restored():
        async with _DiscordProcess(database) as server, _DiscordProcess(floor_database) as floor_server:
            settings = load_settings(
                _env_file=None,
                DISCORD_TOKEN=TOKEN,
                DATABASE_URL=f"sqlite+aiosqlite:///{database}",
                DISCORD_API_URL=server.api_url,
                NEXUS_GUILD_ID=server.guild_id,
                NEXUS_CHALLENGE_CHANNEL_IDS=str(server.channel_id),
                NEXUS_LOG_LEVEL="WARNING",
            )
            floor_env = {"DISCORD_TOKEN": TOKEN, "DISCORD_API_URL": floor_server.api_url}
            floor_env["FLOOR_DATABASE"] = str(floor_database)
            # Set up as `python -m bot run` sets it up, its garbage collector settled after start-up.
            async with (
                running_bot(settings, settle_heap_after_setup=True),
                bot_process([sys.executable, "-m", "benchmarks.floor_bot"], floor_env),
            ):
                await server.ask("connected")
                await floor_server.ask("connected")
                await asyncio.sleep(0.5)  # the start-up backfill of the (empty) channel
                for side in (server, floor_server):
                    await side.ask("prepare", warmup)
                    await side.ask("burst", (len(warmup), 60))
                    await _acked(side, len(warmup), 60)
                await asyncio.sleep(WARMUP_SETTLE_SECONDS)
                logged = {id(server): len(warmup), id(floor_server): len(warmup)}
                # Nexus and the floor bot in turn, burst after burst: machine noise hits both alike.
                for burst in bursts:
                    for side, into in ((server, measured), (floor_server, floor_measured)):
                        # Each burst starts once the one before is acknowledged: the bot is idle again.
                        before = await side.ask("acks")
                        await side.ask("prepare", burst)
                        started, sent, done, count = await side.ask("burst", (logged[id(side)] + len(burst), 300))
                        committed, logged[id(side)] = count - logged[id(side)], count
                        acked = await _acked(side, before + committed, 300)
                        acked_after = time.perf_counter() - started if acked else None
                        into.append(_Burst(done - started, sent - started, committed, acked_after))
                problems = await server.ask("problems")
    rates = sorted(burst.rate for burst in measured)
    rate = statistics.median(rates)
    bot_floor_rate = statistics.median(burst.rate for burst in floor_measured)
    bot_ratio = rate / bot_floor_rate
    floor_rate = statistics.median(floor_rates)
    complete = all(burst.committed == INGEST_POSTS for burst in measured)
    rows = [
        row(
            f"ingest {INGEST_POSTS:,} posts: gateway → committed (wall)",
            [burst.seconds for burst in measured],
            ">= 2,000 posts/s",
            f"{rate:,.0f} posts/s {_verdict(rate >= 2000 and complete)}",
        ),
        row(
            "ingest floor bot: a committed INSERT and a ✅ per post",
            [burst.seconds for burst in floor_measured],
            note=f"{bot_floor_rate:,.0f} posts/s",
        ),
        Row(
            "ingest Nexus / floor bot (median rates)",
            1,
            0.0,
            0.0,
            ">= 0.9",
            f"{bot_ratio:.3f} {_verdict(bot_ratio >= 0.9)}",
        ),
        row(
            "  sqlite3 alone: one committed INSERT per post",
            [d for run in floors for d in run],
            note=f"{floor_rate:,.0f} posts/s; Nexus / it {rate / floor_rate:.3f}",
        ),
        row(
            "  sqlite3 alone, synchronous=NORMAL (no sync per commit)",
            unsynced,
            note=f"{len(unsynced) / sum(unsynced):,.0f} posts/s; Nexus / it {rate * sum(unsynced) / len(unsynced):.3f}",
        ),
    ]
    notes = [
        f"ingestion: Nexus committed {sum(burst.committed for burst in measured):,} of "
        f"{INGEST_BURSTS * INGEST_POSTS:,} posts; per burst of {INGEST_POSTS:,}, from the first gateway frame sent "
        "to the last post committed: "
        + ", ".join(f"{burst.rate:,.0f}" for burst in measured)
        + f" posts/s (median {rate:,.0f}; the server sent each burst in "
        + ", ".join(f"{burst.sending * 1000:.0f}" for burst in measured)
        + " ms); the floor bot, in turn with it, "
        + ", ".join(f"{burst.rate:,.0f}" for burst in floor_measured)
        + f" posts/s (median {bot_floor_rate:,.0f}); Nexus/floor bot {bot_ratio:.3f} "
        f"(target >= 0.9: {_verdict(bot_ratio >= 0.9)}); sqlite3 alone {floor_rate:,.0f} posts/s (median of "
        f"{FLOOR_RUNS} runs: " + ", ".join(f"{value:,.0f}" for value in floor_rates) + ")",
        "ingestion: acknowledgements (the ✅ reaction on each post, sent after its commit; writing goes first; "
        f"replies capped at {AcknowledgementLimiter.PER_MINUTE} a minute per channel) done "
        + ", ".join(f"{burst.acked_after:.1f} s" if burst.acked_after else "not all" for burst in measured)
        + " after each burst's first frame (floor bot: "
        + ", ".join(f"{burst.acked_after:.1f} s" if burst.acked_after else "not all" for burst in floor_measured)
        + "); each local Discord server runs in a process of its own and polls its bot's database there, so the "
        "figure is the bot's: gateway frames read and parsed by discord.py, posts parsed in the bot's process, "
        "committed" + (f"; {problems} requests Discord would have rejected" if problems else ""),
    ]
    return rows, notes


# --- the suite -------------------------------------------------------------------------------------------


def run() -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        if "ingest" in PARTS:
            ingest_rows, ingest_notes = asyncio.run(_ingestion_suite(folder))
            rows += ingest_rows
            notes += ingest_notes
        if "forum" in PARTS:
            from benchmarks._forum import forum_suite

            forum_rows, forum_notes = asyncio.run(forum_suite(folder))
            rows += forum_rows
            notes += forum_notes
        if PARTS & {"search", "export"}:
            paths = {size: cached_database(size, notes) for size in sorted({*SEARCH_SIZES, EXPORT_SIZE})}
            for size in SEARCH_SIZES if "search" in PARTS else ():
                search_rows, search_notes = asyncio.run(_search_suite(size, paths[size]))
                rows += search_rows
                notes += search_notes
            if "export" in PARTS:
                export_rows, export_notes = asyncio.run(_export_suite(paths[EXPORT_SIZE], folder))
                rows += export_rows
                notes += export_notes
    if QUICK:
        notes.append("NEXUS_BENCH_QUICK: search at 100,000 only; the 1,000,000 targets were not measured")
    return rows, notes
