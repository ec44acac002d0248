"""What the application holds, by typed key (shared by the factory and the handlers)."""

from __future__ import annotations

from aiohttp import web
from jinja2 import Environment

from bot.services.web import WebHubService

HUB = web.AppKey("hub", WebHubService)
TEMPLATES = web.AppKey("templates", Environment)
# The hub's public address without a trailing slash; "" when unknown (links are then relative).
BASE_URL = web.AppKey("base_url", str)
STYLESHEET = web.AppKey("stylesheet", bytes)
