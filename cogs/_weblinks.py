"""Addresses on the web hub (`NEXUS_WEB_BASE_URL`) and the "View on the web" link button the cards carry."""

from __future__ import annotations

from urllib.parse import quote

import discord

VIEW_ON_THE_WEB = "View on the web"


def base_of(base_url: str | None) -> str | None:
    """`NEXUS_WEB_BASE_URL` without its trailing slash; None when unset or blank."""
    return (base_url.strip().rstrip("/") or None) if base_url else None


def server_page(base_url: str | None, slug: str | None) -> str | None:
    """A server's list of challenges on the hub."""
    base = base_of(base_url)
    return f"{base}/challenges/{quote(slug)}" if base and slug else None


def link_button(url: str) -> discord.ui.Button[discord.ui.View]:
    """A link button: Discord opens the address itself, the bot receives nothing when it is pressed."""
    return discord.ui.Button(label=VIEW_ON_THE_WEB, style=discord.ButtonStyle.link, url=url)


def link_view(url: str) -> discord.ui.View:
    """A message's components holding only the link button."""
    view = discord.ui.View(timeout=None)
    view.add_item(link_button(url))
    return view
