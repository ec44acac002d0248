"""The web hub's pages on both engines, through aiohttp's test client: every route, what each shows and leaves out,
the consent rule seen from outside (guessing a non-opted-in server's URLs finds nothing), bad input, and the
headers (security, cache, compression, no cookies)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from bot.db import web_repository
from bot.web.markdown import LINK_REL
from tests.integration.webhub import (
    ADA,
    BASE_URL,
    GRACE,
    GUILD,
    OTHER_GUILD,
    SECRET_TITLE,
    SLUG,
    Hub,
    client,
    knowledge_base,
    populated,
)

__all__ = ["client", "knowledge_base", "populated"]  # fixtures, used by name

PAGES = [
    "/",
    "/topics",
    "/topics/databases",
    "/topics/docker",
    "/topics/django",
    f"/challenges/{SLUG}",
    f"/challenges/{SLUG}?status=open",
    f"/challenges/{SLUG}?status=solved",
    "/search",
    "/search?q=IntegrityError",
    "/search?q=%2B%2B%2B",
]


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_answers_html(client: TestClient, path: str) -> None:  # type: ignore[type-arg]
    response = await client.get(path)
    assert response.status == 200, path
    assert response.content_type == "text/html"
    body = await response.text()
    assert '<main id="main"' in body
    assert 'class="skip-link" href="#main"' in body
    assert "<script" not in body


async def test_home_shows_categories_and_recent_solved(client: TestClient, populated: Hub) -> None:  # type: ignore[type-arg]
    body = await (await client.get("/")).text()
    assert 'href="/topics/databases"' in body
    assert f'href="/challenges/{SLUG}/{populated.solved}"' in body
    assert "CORS error" not in body  # open: not "recently solved"
    assert SECRET_TITLE not in body


async def test_topic_card_page(client: TestClient, populated: Hub) -> None:  # type: ignore[type-arg]
    body = await (await client.get("/topics/keys-and-constraints")).text()
    assert 'class="card"' in body
    assert "Key points" in body
    assert "Common pitfalls" in body
    assert f'href="/challenges/{SLUG}/{populated.solved}"' in body
    assert "Linus&#39;s IntegrityError" not in body
    assert "Linus's IntegrityError" not in body
    assert SECRET_TITLE not in body
    docker = await (await client.get("/topics/docker")).text()
    assert "<pre><code" in docker  # the example's code block
    assert 'class="related"' in docker


async def test_category_page_and_a_card_named_like_its_category(client: TestClient) -> None:  # type: ignore[type-arg]
    body = await (await client.get("/topics/databases")).text()
    assert "<h1>Databases</h1>" in body
    django = await (await client.get("/topics/django")).text()
    assert 'class="card"' in django
    assert 'class="category-cards"' in django


async def test_challenge_page_accepted_first_names_only_the_credited(client: TestClient, populated: Hub) -> None:  # type: ignore[type-arg]
    response = await client.get(f"/challenges/{SLUG}/{populated.solved}")
    assert response.status == 200
    body = await response.text()
    assert "IntegrityError on signup" in body
    assert "Ada Lovelace" in body  # credited
    assert "a learner" in body  # Grace, not credited
    assert "Grace" not in body
    assert "Linus" not in body  # his solution: no consent
    assert body.index('class="solution accepted"') < body.index("Solutions</h2>") + 400
    assert "transaction.atomic()" in body
    assert "What was tried" in body
    assert "<strong>save</strong>" in body
    assert str(ADA.id) not in body


async def test_user_text_cannot_run_script(client: TestClient, populated: Hub) -> None:  # type: ignore[type-arg]
    body = await (await client.get(f"/challenges/{SLUG}/{populated.solved}")).text()
    assert "<script" not in body
    assert "&lt;script&gt;" in body
    assert 'href="javascript:' not in body
    assert f'<a href="https://docs.djangoproject.com/" rel="{LINK_REL}">the docs</a>' in body


async def test_open_listing_and_pages(client: TestClient, populated: Hub) -> None:  # type: ignore[type-arg]
    body = await (await client.get(f"/challenges/{SLUG}?status=open")).text()
    assert "CORS error from the React dev server" in body
    assert "IntegrityError on signup" not in body
    assert "mistaken post" not in body
    assert (await client.get(f"/challenges/{SLUG}?status=open&page=2")).status == 404


async def test_deleted_is_gone_and_unpublished_is_not_found(client: TestClient, populated: Hub) -> None:  # type: ignore[type-arg]
    gone = await client.get(f"/challenges/{SLUG}/{populated.deleted}")
    assert gone.status == 410
    assert "410" in await gone.text()
    assert (await client.get(f"/challenges/{SLUG}/{populated.linus}")).status == 404
    assert (await client.get(f"/challenges/{SLUG}/999999")).status == 404


async def test_search_finds_error_text_with_highlights(client: TestClient, populated: Hub) -> None:  # type: ignore[type-arg]
    body = await (await client.get("/search?q=IntegrityError")).text()
    assert f'href="/challenges/{SLUG}/{populated.solved}"' in body
    assert re.search(r'class="snippet">.*<strong>IntegrityError</strong>', body)
    assert "keeps to himself" not in body
    assert SECRET_TITLE not in body
    cards = await (await client.get("/search?q=docker")).text()
    assert 'href="/topics/docker"' in cards


async def test_guessing_a_servers_urls_finds_nothing_until_it_opts_in(
    client: TestClient,  # type: ignore[type-arg]
    populated: Hub,
) -> None:
    """The server that did not opt in: every slug one could guess, every number, every API query."""
    numbers = range(1, populated.secret + 3)
    guesses = ["secret-server", "secret", "server", "nexus-hub-2", str(OTHER_GUILD), "2002"]
    for slug in guesses:
        assert (await client.get(f"/challenges/{slug}")).status == 404
        assert (await client.get(f"/challenges/{slug}?status=open")).status == 404
        for number in numbers:
            assert (await client.get(f"/challenges/{slug}/{number}")).status == 404, (slug, number)
    # Under the publishing server's slug, its number is not found either (it is another server's).
    assert (await client.get(f"/challenges/{SLUG}/{populated.secret}")).status == 404
    for query in (
        "/api/v1/challenges",
        "/api/v1/challenges?status=solved",
        "/api/v1/challenges?status=open",
        "/api/v1/challenges?topic=keys-and-constraints",
        "/api/v1/challenges?q=IntegrityError",
        "/api/v1/challenges?q=Secret%20server",
        "/api/v1/challenges?q=deploy&status=solved",
        "/api/v1/topics/keys-and-constraints",
        "/search?q=Secret+server+deploy",
        "/sitemap.xml",
        "/",
    ):
        text = await (await client.get(query)).text()
        for leak in ("IntegrityError on deploy", "Secret fix", f"/{populated.secret}<", f'/{populated.secret}"'):
            assert leak not in text, query
    # Turning the hub off hides everything of the server at once.
    await populated.services.web.set_web(GUILD, "Nexus Hub", False)
    assert (await client.get(f"/challenges/{SLUG}/{populated.solved}")).status == 404
    assert (await client.get(f"/challenges/{SLUG}")).status == 404
    assert (await (await client.get("/api/v1/challenges?q=IntegrityError")).json())["items"] == []
    assert "IntegrityError on signup" not in await (await client.get("/sitemap.xml")).text()
    # Opting in exposes only what its members consented to.
    setting = await populated.services.web.set_web(OTHER_GUILD, "Secret Server", True)
    assert (await client.get(f"/challenges/{setting.slug}/{populated.secret}")).status == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/topics/no-such-card", 404),
        ("/topics/NoSuch", 404),
        ("/topics/%FF%FE", 404),
        ("/challenges/%FF/1", 404),
        ("/challenges/nexus-hub/%FF", 404),
        ("/search?q=%FF%FE", 200),
        ("/challenges/nexus-hub/-1", 404),
        ("/challenges/nexus-hub/100000000000000000000", 404),
        ("/challenges/nexus-hub?page=-1", 400),
        ("/challenges/nexus-hub?page=100000000000000000000", 400),
        ("/challenges/nexus-hub?page=abc", 400),
        ("/challenges/nexus-hub?status=closed", 400),
        ("/search?q=" + "a" * 5000, 400),
        ("/search?q=IntegrityError&page=0", 400),
        ("/search?q=IntegrityError&page=99", 404),
        ("/no/such/page", 404),
        ("/api/v1/challenges?page=-1", 400),
        ("/api/v1/challenges?page=100000000000000000000", 400),
        ("/api/v1/challenges?q=" + "x" * 5000, 400),
        ("/api/v1/challenges?status=maybe", 400),
        ("/api/v1/challenges?topic=not-a-topic", 400),
        ("/api/v1/topics/not-a-topic", 404),
        ("/api/v1/nothing", 404),
    ],
)
async def test_bad_input_gets_a_clean_4xx(client: TestClient, path: str, status: int) -> None:  # type: ignore[type-arg]
    response = await client.get(path)
    assert response.status == status, path
    body = await response.text()
    if path.startswith("/api/"):
        assert (await response.json())["status"] == status
    else:
        assert "<main" in body
        assert "Traceback" not in body


async def test_only_get_and_head(client: TestClient) -> None:  # type: ignore[type-arg]
    assert (await client.post("/", data=b"x")).status == 405
    assert (await client.head("/topics")).status == 200


async def test_security_headers_everywhere_and_no_cookies(client: TestClient, populated: Hub) -> None:  # type: ignore[type-arg]
    for path in ("/", f"/challenges/{SLUG}/{populated.solved}", "/no/such", "/api/v1/topics", "/healthz"):
        response = await client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp
        assert "script-src" not in csp
        assert "default-src 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "Set-Cookie" not in response.headers
        assert not response.cookies


async def test_etag_last_modified_and_304(client: TestClient, populated: Hub) -> None:  # type: ignore[type-arg]
    path = f"/challenges/{SLUG}/{populated.solved}"
    first = await client.get(path)
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"].startswith("public")
    assert "Last-Modified" in first.headers
    again = await client.get(path, headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.headers["ETag"] == etag
    assert await again.read() == b""
    # Dates alone never give a 304: withdrawing consent changes the page without changing any date on it.
    since = await client.get(path, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status == 200
    stale = await client.get(path, headers={"If-None-Match": 'W/"not-this"'})
    assert stale.status == 200
    css = await client.get("/static/hub.css")
    assert "immutable" in css.headers["Cache-Control"]
    assert "prefers-color-scheme: dark" in await css.text()


async def test_compression(client: TestClient) -> None:  # type: ignore[type-arg]
    response = await client.get("/topics", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert response.headers["Content-Encoding"] == "gzip"
    assert b"<h1>Topics</h1>" in gzip.decompress(await response.read())
    plain = await client.get("/topics", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers


async def test_healthz_robots_sitemap(client: TestClient, populated: Hub) -> None:  # type: ignore[type-arg]
    health = await client.get("/healthz")
    assert health.status == 200
    assert (await health.json())["status"] == "ok"
    robots = await (await client.get("/robots.txt")).text()
    assert f"Sitemap: {BASE_URL}/sitemap.xml" in robots
    sitemap = await client.get("/sitemap.xml")
    assert sitemap.content_type == "application/xml"
    text = await sitemap.text()
    assert f"<loc>{BASE_URL}/challenges/{SLUG}/{populated.solved}</loc>" in text
    assert f"<loc>{BASE_URL}/topics/docker</loc>" in text
    assert f"/{populated.linus}<" not in text
    assert f"/{populated.deleted}<" not in text


async def test_healthz_says_when_the_database_is_unreachable(populated: Hub, tmp_path: Path) -> None:
    from bot.db.engine import create_engine
    from bot.web.app import create_app
    from bot.web.server import build_hub

    # A database that was never migrated: no table to read.
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        app = create_app(build_hub(engine, populated.hub.knowledge_base))
        from aiohttp.test_utils import TestServer

        async with TestClient(TestServer(app)) as broken:
            response = await broken.get("/healthz")
            assert response.status == 503
            assert (await broken.get("/topics")).status == 200  # the cards need no database
    finally:
        await engine.dispose()


async def test_a_withdrawal_shows_on_the_next_request_even_for_a_cached_page(
    client: TestClient,  # type: ignore[type-arg]
    populated: Hub,
) -> None:
    path = f"/challenges/{SLUG}/{populated.solved}"
    first = await client.get(path)
    assert "transaction.atomic()" in await first.text()
    await populated.services.readme.set_choices(GUILD, GRACE.id, "Grace", web=False)
    again = await client.get(
        path,
        headers={"If-None-Match": first.headers["ETag"], "If-Modified-Since": first.headers["Last-Modified"]},
    )
    assert again.status == 200
    assert "transaction.atomic()" not in await again.text()
    await populated.services.readme.set_choices(GUILD, ADA.id, "Ada Lovelace", web=False)
    assert (await client.get(path)).status == 404


@pytest.mark.parametrize("batch", [1, 2, 100])
async def test_a_topics_challenges_are_walked_from_its_index_batch_by_batch(
    populated: Hub, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    # keys-and-constraints tags, newest first: the secret server's (not published), Linus's (web:off), Ada's solved
    # one. Batches of one and two cross the unpublished ones before the published one.
    monkeypatch.setattr(web_repository, "TAG_BATCH", batch)
    solved = await populated.hub.solved_for_topic("keys-and-constraints")
    assert [item.number for item in solved] == [populated.solved]
    listing = await populated.hub.listing(topic="keys-and-constraints")
    assert ([item.number for item in listing.items], listing.total) == ([populated.solved], 1)
    assert (await populated.hub.listing(topic="keys-and-constraints", status="open")).total == 0
    assert [item.number for item in (await populated.hub.listing(topic="cors", status="open")).items] == [
        populated.open
    ]
