"""The hub's routes: HTML pages, the JSON API (described by `openapi.json`), and the files crawlers ask for.

Handlers parse and check their input strictly (a bad page number or status is a 400, an unknown slug a 404) and ask
`WebHubService` for everything; they never see a row the consent rule did not let through."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

from aiohttp import web

from bot.core.errors import InvalidInputError, NotFoundError
from bot.knowledge import Category, TopicCard
from bot.services.web import MAX_PAGE, MAX_QUERY, HubChallenge, HubPage, WebHubService
from bot.web.keys import BASE_URL, HUB, STYLESHEET, TEMPLATES
from bot.web.openapi import openapi_document

_PAGE = re.compile(r"[0-9]{1,5}")
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,59}")
STATUSES = ("open", "solved")
STATIC_CACHE = "public, max-age=31536000, immutable"


def _hub(request: web.Request) -> WebHubService:
    return request.app[HUB]


def _render(
    request: web.Request, template: str, *, last_modified: datetime | None = None, **context: Any
) -> web.Response:
    environment = request.app[TEMPLATES]
    context.setdefault("query", "")
    body = environment.get_template(template).render(categories=Category, base_url=request.app[BASE_URL], **context)
    response = web.Response(text=body, content_type="text/html", charset="utf-8")
    if last_modified is not None:
        response.last_modified = last_modified
    return response


def _page(request: web.Request) -> int:
    raw = request.query.get("page", "1")
    if not _PAGE.fullmatch(raw) or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidInputError(f"`page` must be a whole number from 1 to {MAX_PAGE:,}.")
    return int(raw)


def _status(request: web.Request) -> str | None:
    raw = request.query.get("status") or None
    if raw is not None and raw not in STATUSES:
        raise InvalidInputError("`status` must be `open` or `solved`.")
    return raw


def _query(request: web.Request) -> str:
    raw = request.query.get("q", "")
    if len(raw) > MAX_QUERY:
        raise InvalidInputError(f"The search is {len(raw):,} characters long; the limit is {MAX_QUERY}. Shorten it.")
    return raw.strip()


def _topic_param(request: web.Request) -> str | None:
    raw = request.query.get("topic") or None
    if raw is not None and raw not in _hub(request).knowledge_base.by_slug:
        raise InvalidInputError("`topic` must be a topic's slug, as listed by /api/v1/topics.")
    return raw


def _slug(value: str, what: str) -> str:
    if not _SLUG.fullmatch(value):
        raise NotFoundError(f"There is no {what} at this address.")
    return value


def _card(request: web.Request, slug: str) -> TopicCard:
    card = _hub(request).knowledge_base.by_slug.get(slug)
    if card is None:
        raise NotFoundError("There is no topic card at this address.")
    return card


def _newest(items: tuple[HubChallenge, ...]) -> datetime | None:
    return max((item.updated_at for item in items), default=None)


# ----- pages ----------------------------------------------------------------------------------------------------


async def home(request: web.Request) -> web.Response:
    hub = _hub(request)
    recent = await hub.recent_solved()
    return _render(request, "home.html", knowledge_base=hub.knowledge_base, recent=recent)


async def topics(request: web.Request) -> web.Response:
    return _render(request, "topics.html", knowledge_base=_hub(request).knowledge_base)


async def topic(request: web.Request) -> web.Response:
    name = _slug(request.match_info["name"], "topic")
    hub = _hub(request)
    knowledge_base = hub.knowledge_base
    category = next((item for item in knowledge_base.categories if item.value == name), None)
    card = knowledge_base.by_slug.get(name)
    if card is None and category is not None:
        return _render(request, "category.html", category=category, cards=knowledge_base.by_category[category])
    if card is None:
        raise NotFoundError("There is no topic card at this address.")
    solved = await hub.solved_for_topic(card.slug)
    related = [knowledge_base.by_slug[slug] for slug in card.related if slug in knowledge_base.by_slug]
    # A card named like its category (django) takes the address; the category's cards are listed on it then.
    siblings = knowledge_base.by_category[category] if category is not None else ()
    return _render(
        request,
        "topic.html",
        card=card,
        related=related,
        solved=solved,
        siblings=siblings,
        last_modified=_newest(solved),
    )


async def challenge(request: web.Request) -> web.Response:
    server = _slug(request.match_info["server"], "server")
    raw = request.match_info["number"]
    if not re.fullmatch(r"[0-9]{1,18}", raw):
        raise NotFoundError("There is no challenge at this address.")
    found = await _hub(request).challenge(server, int(raw))
    return _render(request, "challenge.html", challenge=found, last_modified=found.updated_at)


async def server_listing(request: web.Request) -> web.Response:
    server = _slug(request.match_info["server"], "server")
    status = _status(request)
    page = _page(request)
    listing = await _hub(request).listing(server=server, status=status, page=page)
    return _render(
        request,
        "server.html",
        server=server,
        status=status,
        listing=listing,
        page_url=lambda number: f"/challenges/{quote(server)}?" + _params(status=status, page=number),
    )


async def search(request: web.Request) -> web.Response:
    text = _query(request)
    page = _page(request)
    if not text:
        return _render(request, "search.html", query="", result=None, page_url=None)
    result = await _hub(request).search(text, page=page)
    return _render(
        request,
        "search.html",
        query=text,
        result=result,
        page_url=lambda number: "/search?" + _params(q=text, page=number),
    )


def _params(**values: Any) -> str:
    return urlencode({key: value for key, value in values.items() if value not in (None, "", 1)})


# ----- JSON API -------------------------------------------------------------------------------------------------


def _topic_summary(card: TopicCard) -> dict[str, Any]:
    return {
        "slug": card.slug,
        "title": card.title,
        "category": card.category.value,
        "url": f"/topics/{card.slug}",
    }


def _challenge_json(item: HubChallenge) -> dict[str, Any]:
    return {
        "server": item.server,
        "number": item.number,
        "title": item.title,
        "status": item.status,
        "topics": [topic.slug for topic in item.topics],
        "author": item.author,
        "created_at": item.created_at.isoformat(),
        "solved_at": item.solved_at.isoformat() if item.solved_at else None,
        "url": item.path,
        "snippet": item.snippet,
    }


def _page_json(page: HubPage) -> dict[str, Any]:
    return {
        "items": [_challenge_json(item) for item in page.items],
        "page": page.page,
        "pages": page.pages,
        "total": page.total,
    }


async def api_topics(request: web.Request) -> web.Response:
    knowledge_base = _hub(request).knowledge_base
    return web.json_response(
        {
            "categories": [{"slug": item.value, "label": item.label} for item in knowledge_base.categories],
            "topics": [_topic_summary(card) for card in knowledge_base.cards],
        }
    )


async def api_topic(request: web.Request) -> web.Response:
    hub = _hub(request)
    card = _card(request, request.match_info["slug"])
    solved = await hub.solved_for_topic(card.slug)
    return web.json_response(
        {
            **_topic_summary(card),
            "summary": card.summary,
            "key_points": card.key_points,
            "pitfalls": card.pitfalls,
            "example": card.example,
            "related": [_topic_summary(hub.knowledge_base.by_slug[slug]) for slug in card.related],
            "docs": [{"title": doc.title, "url": str(doc.url)} for doc in card.docs],
            "solved_challenges": [_challenge_json(item) for item in solved],
        }
    )


async def api_challenges(request: web.Request) -> web.Response:
    text = _query(request)
    status = _status(request)
    topic_slug = _topic_param(request)
    page = _page(request)
    hub = _hub(request)
    if text:
        listing = (await hub.search(text, page=page, status=status, topic=topic_slug)).challenges
    else:
        listing = await hub.listing(status=status, topic=topic_slug, page=page)
    return web.json_response(_page_json(listing))


async def api_openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app[BASE_URL]))


# ----- plumbing -------------------------------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    try:
        healthy = await _hub(request).healthy()
    except Exception:  # any database failure is "unhealthy", not a 500 page
        healthy = False
    response = web.json_response(
        {"status": "ok" if healthy else "database unreachable"}, status=200 if healthy else 503
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def robots(request: web.Request) -> web.Response:
    base = request.app[BASE_URL]
    lines = ["User-agent: *", "Allow: /", "Disallow: /search", "Disallow: /api/"]
    if base:
        lines.append(f"Sitemap: {base}/sitemap.xml")
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")


async def sitemap(request: web.Request) -> web.Response:
    base = request.app[BASE_URL] or f"{request.scheme}://{request.host}"
    hub = _hub(request)
    urls: list[tuple[str, datetime | None]] = [(f"{base}/", None), (f"{base}/topics", None)]
    urls += [(f"{base}/topics/{item.value}", None) for item in hub.knowledge_base.categories]
    urls += [(f"{base}/topics/{card.slug}", None) for card in hub.knowledge_base.cards]
    urls += [(f"{base}/challenges/{quote(slug)}/{number}", updated) for slug, number, updated in await hub.sitemap()]
    entries = []
    for url, updated in urls:
        modified = f"<lastmod>{updated.astimezone(UTC).date().isoformat()}</lastmod>" if updated else ""
        entries.append(f"<url><loc>{escape(url)}</loc>{modified}</url>")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' + "\n".join(entries) + "\n</urlset>\n"
    )
    return web.Response(text=body, content_type="application/xml")


async def stylesheet(request: web.Request) -> web.Response:
    response = web.Response(body=request.app[STYLESHEET], content_type="text/css", charset="utf-8")
    response.headers["Cache-Control"] = STATIC_CACHE
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get("/topics", topics)
    app.router.add_get("/topics/{name}", topic)
    app.router.add_get("/challenges/{server}/{number}", challenge)
    app.router.add_get("/challenges/{server}", server_listing)
    app.router.add_get("/search", search)
    app.router.add_get("/api/v1/topics", api_topics)
    app.router.add_get("/api/v1/topics/{slug}", api_topic)
    app.router.add_get("/api/v1/challenges", api_challenges)
    app.router.add_get("/api/v1/openapi.json", api_openapi)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/sitemap.xml", sitemap)
    app.router.add_get("/static/hub.css", stylesheet)
