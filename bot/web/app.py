"""The hub's aiohttp application: the routes, and the middlewares every answer passes through (error pages, security
and cache headers, conditional requests, compression)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Middleware
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.core.errors import GoneError, InvalidInputError, NotFoundError
from bot.services.web import WebHubService
from bot.web import handlers
from bot.web.cache import PageCache, cache_middleware
from bot.web.keys import BASE_URL, HUB, STYLESHEET, TEMPLATES
from bot.web.markdown import Markdown

log = logging.getLogger(__name__)

HERE = Path(__file__).parent

SECURITY_HEADERS = {
    # No script at all: the hub works without JavaScript, so none may run, inline or not.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
# Pages may change when someone posts or withdraws consent: caches revalidate after a minute (cheap with ETags).
PAGE_CACHE = "public, max-age=60"
COMPRESS_FROM = 512
# The longest a request may take before it is answered 503 and its work cancelled: aiohttp keeps running a handler
# whose client left, so without a limit a slow page piles up work nobody waits for.
REQUEST_SECONDS = 10.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def error_response(request: web.Request, status: int, message: str) -> web.Response:
    if _wants_json(request):
        return web.json_response({"error": message, "status": status}, status=status)
    titles = {
        400: "Bad request",
        404: "Not found",
        405: "Method not allowed",
        410: "Gone",
        500: "Server error",
        503: "Busy",
    }
    body = (
        request.app[TEMPLATES]
        .get_template("error.html")
        .render(status=status, title=titles.get(status, "Error"), message=message, query="")
    )
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure as a clean page (or JSON under /api/): the right 4xx, and a 500 without details."""
    try:
        async with asyncio.timeout(REQUEST_SECONDS):
            return await handler(request)
    except TimeoutError:
        log.warning("web: %s took over %.0f s; answered 503", request.path[:200], REQUEST_SECONDS)
        response = error_response(request, 503, "The hub is busy. Try again in a moment.")
        response.headers["Retry-After"] = "5"
        return response
    except GoneError as error:
        return error_response(request, 410, error.user_message)
    except NotFoundError as error:
        return error_response(request, 404, error.user_message)
    except InvalidInputError as error:
        return error_response(request, 400, error.user_message)
    except web.HTTPNotModified:
        raise
    except web.HTTPException as error:
        if error.status < 400:
            raise
        messages = {404: "There is no page at this address.", 405: "This address only answers GET and HEAD."}
        return error_response(request, error.status, messages.get(error.status, error.reason))
    except UnicodeDecodeError:
        return error_response(request, 400, "The address is not valid UTF-8.")
    except Exception:
        log.exception("web: unexpected error on %s", request.path[:200])
        return error_response(request, 500, "Something went wrong on our side. Try again in a moment.")


def _etag(body: bytes) -> str:
    # Weak: the same page may be sent compressed or not.
    return 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _not_modified(request: web.Request, etag: str) -> bool:
    """By the ETag only. If-Modified-Since is not honoured on purpose: a page changes when an author withdraws
    consent or a server turns the hub off, and no date on the page moves then; a 304 must never keep it alive."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


@web.middleware
async def headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every answer; ETag, 304 and compression on successful GETs; never a cookie."""
    response = await handler(request)
    response.headers.update(SECURITY_HEADERS)
    response.headers.setdefault("Cache-Control", PAGE_CACHE if response.status < 400 else "no-store")
    if response.status == 200 and isinstance(response, web.Response) and response.body is not None:
        body = response.body if isinstance(response.body, bytes) else bytes(response.body)  # type: ignore[arg-type]
        etag = _etag(body)
        response.headers["ETag"] = etag
        if request.method in ("GET", "HEAD") and _not_modified(request, etag):
            not_modified = web.Response(status=304)
            for name in ("ETag", "Cache-Control", "Last-Modified", *SECURITY_HEADERS):
                if name in response.headers:
                    not_modified.headers[name] = response.headers[name]
            return not_modified
        if len(body) >= COMPRESS_FROM and "gzip" in request.headers.get("Accept-Encoding", ""):
            response.enable_compression()
    response.headers.add("Vary", "Accept-Encoding")
    return response


def _templates() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html", "xml"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    markdown = Markdown()
    environment.filters["markdown"] = markdown.block
    environment.filters["markdown_inline"] = markdown.inline
    environment.filters["date"] = lambda value: value.strftime("%-d %B %Y") if value else ""
    environment.filters["isodate"] = lambda value: value.isoformat() if value else ""
    return environment


def create_app(
    hub: WebHubService, *, base_url: str | None = None, page_cache: PageCache | None = None
) -> web.Application:
    """The hub. `base_url` is its public address (for the sitemap and canonical links); relative links otherwise.
    `page_cache` keeps rendered pages a few seconds (`nexus-bot web` passes one; without, every page is rendered)."""
    middlewares: list[Middleware] = (
        [headers, errors] if page_cache is None else [headers, cache_middleware(page_cache), errors]
    )
    app = web.Application(middlewares=middlewares, client_max_size=16 * 1024)
    app[HUB] = hub
    app[TEMPLATES] = _templates()
    app[BASE_URL] = (base_url or "").rstrip("/")
    stylesheet = (HERE / "static" / "hub.css").read_bytes()
    app[STYLESHEET] = stylesheet
    app[TEMPLATES].globals["stylesheet"] = "/static/hub.css?v=" + hashlib.sha256(stylesheet).hexdigest()[:12]
    handlers.add_routes(app)
    return app
