"""Names typed and sent without picking a suggestion: the table of what learners type and the card each means.

Every query must reach its card, either at once or, where the name really fits several cards, among the
"did you mean" candidates; a query that resolves must never resolve to another card. The share resolved at
once is printed (`pytest -s`) and must stay at or above RESOLVED_AT_ONCE.
"""

from __future__ import annotations

import pytest

from bot.knowledge import TopicIndex, categories_for_track, load_knowledge_base
from bot.runtime.paths import default_data_dir

INDEX = TopicIndex(load_knowledge_base(default_data_dir() / "topics").cards)
RESOLVED_AT_ONCE = 0.95

# (what a learner types, the card they mean)
QUERIES: list[tuple[str, str]] = [
    # --- backend: exact names, aliases, abbreviations ---
    ("docker", "docker"), ("Docker", "docker"), ("dockerfile", "docker"), ("docker compose", "docker-compose"),
    ("docker-compose", "docker-compose"), ("compose", "docker-compose"), ("k8s", "kubernetes"),
    ("kubernetes", "kubernetes"), ("kubectl", "kubernetes"), ("drf", "django-rest-framework"),
    ("django rest framework", "django-rest-framework"), ("djangorestframework", "django-rest-framework"),
    ("ci", "ci-cd"), ("ci/cd", "ci-cd"), ("cicd", "ci-cd"), ("jwt", "jwt"), ("json web token", "jwt"),
    ("simplejwt", "jwt"), ("postgres", "postgresql"), ("postgresql", "postgresql"), ("psql", "postgresql"),
    ("redis", "redis"), ("celery", "celery"), ("celery beat", "celery"), ("rabbitmq", "rabbitmq"),
    ("rabbit", "rabbitmq"), ("graphql", "graphql"), ("graphene", "graphql"), ("oauth", "oauth2"),
    ("oauth2", "oauth2"), ("oidc", "oauth2"), ("swagger", "openapi-swagger"), ("openapi", "openapi-swagger"),
    ("pytest", "pytest-coverage"), ("coverage", "pytest-coverage"), ("venv", "virtual-environments"),
    ("virtualenv", "virtual-environments"), ("pip", "virtual-environments"), ("gha", "github-actions"),
    ("github actions", "github-actions"), ("jenkins", "jenkins"), ("jenkinsfile", "jenkins"),
    ("fastapi", "fastapi"), ("fast api", "fastapi"), ("rbac", "rbac"), ("n+1", "query-optimization"),
    ("select_related", "query-optimization"), ("prefetch_related", "query-optimization"),
    ("gil", "threading-vs-multiprocessing"), ("asyncio", "async-await"), ("async", "async-await"),
    ("async await", "async-await"), ("channels", "websockets-channels"), ("django channels", "websockets-channels"),
    ("websockets", "websockets-channels"), ("websocket", "websockets-channels"), ("signals", "django-signals"),
    ("post_save", "django-signals"), ("middleware", "django-middleware"), ("migrations", "django-migrations"),
    ("makemigrations", "django-migrations"), ("admin", "django-admin"), ("django admin", "django-admin"),
    ("orm", "django-orm"), ("queryset", "django-orm"), ("django orm", "django-orm"), ("models", "django-models"),
    ("django models", "django-models"), ("foreignkey", "django-models"), ("serializers", "drf-serializers"),
    ("serializer", "drf-serializers"), ("viewsets", "drf-viewsets"), ("viewset", "drf-viewsets"),
    ("permissions", "drf-permissions"), ("throttling", "drf-throttling"), ("indexes", "indexing"),
    ("index", "indexing"), ("caching", "caching-strategies"), ("http caching", "http-caching"),
    ("etag", "http-caching"), ("https", "https-tls"), ("tls", "https-tls"), ("ssl", "https-tls"),
    ("status codes", "http-status-codes"), ("sql injection", "input-validation-sql-injection"),
    ("rate limiting", "rate-limiting"), ("decorators", "python-decorators"), ("decorator", "python-decorators"),
    ("generators", "python-generators"), ("yield", "python-generators"),
    ("context managers", "python-context-managers"),
    ("with statement", "python-context-managers"), ("oop", "python-oop"), ("dataclasses", "python-oop"),
    ("microservices", "microservices-api-gateway"), ("api gateway", "microservices-api-gateway"),
    ("system design", "system-design-scaling"), ("load balancer", "system-design-scaling"),
    ("monitoring", "monitoring-apm"), ("sentry", "monitoring-apm"), ("prometheus", "monitoring-apm"),
    ("secrets", "secrets-management"), ("pagination", "api-pagination-filtering"), ("versioning", "api-versioning"),
    ("rest", "rest-api-design"), ("restful", "rest-api-design"), ("normalization", "database-design"),
    ("erd", "database-design"), ("primary key", "keys-and-constraints"), ("message queues", "message-queues"),
    ("dlq", "message-queues"), ("git", "git-branching"), ("pull request", "git-branching"),
    ("aws", "cloud-deployment"), ("nginx", "cloud-deployment"), ("gunicorn", "cloud-deployment"),
    # --- backend typos ---
    ("djnago", "django"), ("djangoo", "django"), ("dajngo", "django"), ("kubernets", "kubernetes"),
    ("kubernates", "kubernetes"), ("postgress", "postgresql"), ("postgre", "postgresql"), ("postgesql", "postgresql"),
    ("celerey", "celery"), ("celary", "celery"), ("redus", "redis"), ("rabitmq", "rabbitmq"), ("dokcer", "docker"),
    ("graphq", "graphql"), ("grapql", "graphql"), ("jenkin", "jenkins"), ("fastpi", "fastapi"),
    ("pytset", "pytest-coverage"),
    ("djnago orm", "django-orm"), ("serialiser", "drf-serializers"), ("middlewear", "django-middleware"),
    ("kubernetees", "kubernetes"), ("websokets", "websockets-channels"), ("swager", "openapi-swagger"),
    # --- backend gaps (new cards) ---
    ("sql joins", "sql-joins-grouping"), ("joins", "sql-joins-grouping"), ("group by", "sql-joins-grouping"),
    ("having", "sql-joins-grouping"), ("window functions", "sql-subqueries-ctes-windows"),
    ("cte", "sql-subqueries-ctes-windows"), ("subqueries", "sql-subqueries-ctes-windows"),
    ("transactions", "database-transactions"), ("isolation levels", "database-transactions"),
    ("deadlock", "locking-deadlocks"), ("deadlocks", "locking-deadlocks"), ("select_for_update", "locking-deadlocks"),
    ("full text search", "postgres-full-text-search"), ("tsvector", "postgres-full-text-search"),
    ("exceptions", "python-exceptions"), ("try except", "python-exceptions"), ("type hints", "python-type-hints"),
    ("mypy", "python-type-hints"), ("typing", "python-type-hints"), ("mutable default", "python-pitfalls"),
    ("kwargs", "python-pitfalls"), ("logging", "python-logging"), ("mock", "python-mocking"),
    ("unittest.mock", "python-mocking"), ("views", "django-views-urls"), ("class based views", "django-views-urls"),
    ("urls", "django-views-urls"), ("templates", "django-templates-forms"),
    ("django forms", "django-templates-forms"),
    ("management commands", "django-management-commands"), ("fixtures", "django-management-commands"),
    ("file uploads", "django-file-uploads"), ("s3", "django-file-uploads"),
    ("django-storages", "django-file-uploads"),
    ("email", "django-email"), ("send_mail", "django-email"), ("webhooks", "webhooks-payments"),
    ("idempotency key", "webhooks-payments"), ("owasp", "security-headers-owasp"),
    ("security headers", "security-headers-owasp"), ("ssh", "linux-ssh-cron"), ("cron", "linux-ssh-cron"),
    ("linux", "linux-ssh-cron"), ("locust", "load-testing"), ("k6", "load-testing"), ("load testing", "load-testing"),
    ("django tasks", "django-tasks"), ("csp", "django-csp"), ("12 factor", "environment-config"),
    # --- frontend: names, aliases, abbreviations ---
    ("react", "react-components"), ("React", "react-components"), ("react components", "react-components"),
    ("props", "react-components"), ("jsx", "react-components"), ("react hooks", "react-hooks"),
    ("hooks", "react-hooks"), ("usestate", "react-hooks"), ("useState", "react-hooks"),
    ("custom hooks", "react-hooks"),
    ("useeffect", "react-effects"), ("useEffect", "react-effects"), ("use effect", "react-effects"),
    ("effects", "react-effects"), ("keys", "keys-and-constraints"), ("react keys", "react-rendering"),
    ("hydration", "react-rendering"),
    ("re-render", "react-rendering"), ("nextjs", "nextjs-app-router"), ("next.js", "nextjs-app-router"),
    ("next", "nextjs-app-router"), ("Next JS", "nextjs-app-router"), ("app router", "nextjs-app-router"),
    ("server components", "nextjs-server-client-components"), ("use client", "nextjs-server-client-components"),
    ("server actions", "nextjs-server-client-components"), ("route handlers", "nextjs-route-handlers"),
    ("redux", "react-state-management"), ("redux toolkit", "react-state-management"),
    ("zustand", "react-state-management"), ("context api", "react-state-management"),
    ("tanstack query", "tanstack-query-swr"), ("react query", "tanstack-query-swr"), ("swr", "tanstack-query-swr"),
    ("apollo", "apollo-client"), ("apollo client", "apollo-client"), ("react hook form", "react-forms-validation"),
    ("zod", "react-forms-validation"), ("forms validation", "react-forms-validation"),
    ("testing library", "frontend-testing"), ("vitest", "frontend-testing"), ("jest", "frontend-testing"),
    ("playwright", "frontend-testing"), ("api loading states", "consuming-rest-apis"),
    ("axios", "consuming-rest-apis"), ("vercel", "deploying-frontends"),
    ("netlify", "deploying-frontends"), ("react native", "react-native-expo"), ("expo", "react-native-expo"),
    ("javascript", "javascript-essentials"), ("js", "javascript-essentials"), ("closures", "javascript-essentials"),
    ("promises", "async-javascript"), ("async javascript", "async-javascript"),
    ("abortcontroller", "async-javascript"),
    ("typescript", "typescript"), ("ts", "typescript"), ("typescript generics", "typescript"),
    ("dom", "dom-events"), ("event delegation", "dom-events"), ("flexbox", "css-layout"), ("css grid", "css-layout"),
    ("box model", "css-layout"), ("tailwind", "tailwind-css"), ("tailwindcss", "tailwind-css"),
    ("media queries", "responsive-design"), ("responsive", "responsive-design"), ("a11y", "accessibility"),
    ("aria", "accessibility"), ("accessibility", "accessibility"), ("core web vitals", "web-performance"),
    ("lcp", "web-performance"), ("localstorage", "browser-token-storage"), ("cookies", "browser-token-storage"),
    ("cors", "cors"), ("CORS", "cors"), ("preflight", "cors"), ("npm", "package-managers"),
    ("pnpm", "package-managers"),
    ("package-lock.json", "package-managers"), ("vite", "vite-build-tools"), ("pwa", "progressive-web-apps"),
    ("service worker", "progressive-web-apps"),
    # --- frontend typos and variants ---
    ("raect", "react-components"), ("reakt", "react-components"), ("nextsj", "nextjs-app-router"),
    ("typscript", "typescript"), ("typesript", "typescript"), ("tailwnd", "tailwind-css"),
    ("javscript", "javascript-essentials"),
    ("flexbx", "css-layout"), ("zustnd", "react-state-management"), ("acessibility", "accessibility"),
    ("useeffct", "react-effects"), ("redxu", "react-state-management"), ("playwrite", "frontend-testing"),
]  # fmt: skip

# Names of things Nexus has no card on: resolving them to a look-alike card ("rust" to REST, "vue" to Vite)
# would answer a question nobody asked. They must get "no topic" or "did you mean", never a card.
UNKNOWN: list[str] = [
    "rust", "golang", "php", "laravel", "ruby on rails", "spring boot", "kotlin", "swift", "flutter", "vue",
    "angular", "svelte", "unity", "excel", "photoshop", "blockchain", "basketweaving", "football", "weather",
    "hello", "thanks", "homework", "mentor", "cohort", "deadline", "music", "cooking", "figma", "jquery",
    "bootstrap", "sass", "webpack", "mongodb", "firebase", "supabase", "terraform", "ansible", "kafka",
]  # fmt: skip


# Between cards of both tracks, the learner's track decides.
BY_TRACK: list[tuple[str, str, str]] = [
    ("keys", "frontend", "react-rendering"),
    ("keys", "backend", "keys-and-constraints"),
    ("caching", "frontend", "caching-strategies"),
    ("rest api", "frontend", "rest-api-design"),
    ("hooks", "backend", "react-hooks"),
    ("graph", "backend", "graphql"),
    ("graph", "frontend", "graphql"),
]


def _outcome(query: str, slug: str) -> str:
    found = INDEX.lookup(query)
    if found.card is not None:
        return "resolved" if found.card.slug == slug else f"WRONG: {found.card.slug}"
    return "asked" if slug in {card.slug for card in found.candidates} else "MISSED"


def test_the_table_is_large_and_names_real_cards() -> None:
    assert len(QUERIES) >= 200
    assert len({query for query, _ in QUERIES}) == len(QUERIES), "a query appears twice"
    unknown = {slug for _, slug in QUERIES if INDEX.get(slug) is None}
    assert not unknown


@pytest.mark.parametrize(("query", "slug"), QUERIES)
def test_a_typed_name_reaches_its_card(query: str, slug: str) -> None:
    assert _outcome(query, slug) in ("resolved", "asked")


@pytest.mark.parametrize(("query", "track", "slug"), BY_TRACK)
def test_the_learners_track_decides_between_tracks(query: str, track: str, slug: str) -> None:
    found = INDEX.lookup(query, prefer=categories_for_track(track)).card
    assert found is not None
    assert found.slug == slug


@pytest.mark.parametrize("name", UNKNOWN)
def test_a_name_no_card_has_is_never_taken_for_another(name: str) -> None:
    assert INDEX.lookup(name).card is None


def test_most_typed_names_resolve_at_once() -> None:
    outcomes = {query: _outcome(query, slug) for query, slug in QUERIES}
    resolved = sum(outcome == "resolved" for outcome in outcomes.values())
    share = resolved / len(QUERIES)
    asked = sorted(query for query, outcome in outcomes.items() if outcome != "resolved")
    print(f"\n{resolved} of {len(QUERIES)} typed names resolve at once ({share:.1%}); asked: {asked}")
    assert share >= RESOLVED_AT_ONCE, asked
