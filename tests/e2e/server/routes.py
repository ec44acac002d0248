"""The REST route table, the spec check every request passes, and the application and command routes."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from tests.e2e import validation
from tests.e2e.server.state import (
    CALL_KEY,
    JSON,
    Call,
    json_response,
)


class RoutesMixin:
    # ----- REST routing ----------------------------------------------------------------------

    def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Awaitable[web.Response]]]]:
        snowflake = r"(\d+)"
        table: list[tuple[str, str, Callable[..., Awaitable[web.Response]]]] = [
            ("GET", r"/gateway/bot", self._get_gateway_bot),
            ("GET", r"/gateway", self._get_gateway_bot),
            ("GET", r"/users/@me", self._get_me),
            ("GET", r"/oauth2/applications/@me", self._get_application),
            ("GET", r"/applications/@me", self._get_application),
            ("PUT", rf"/applications/{snowflake}/commands", self._put_global_commands),
            ("GET", rf"/applications/{snowflake}/commands", self._get_global_commands),
            ("PUT", rf"/applications/{snowflake}/guilds/{snowflake}/commands", self._put_guild_commands),
            ("GET", rf"/applications/{snowflake}/guilds/{snowflake}/commands", self._get_guild_commands),
            ("POST", rf"/interactions/{snowflake}/([^/]+)/callback", self._interaction_callback),
            ("POST", rf"/webhooks/{snowflake}/([^/]+)", self._webhook_followup),
            ("GET", rf"/webhooks/{snowflake}/([^/]+)/messages/(@original|\d+)", self._webhook_get),
            ("PATCH", rf"/webhooks/{snowflake}/([^/]+)/messages/(@original|\d+)", self._webhook_edit),
            ("DELETE", rf"/webhooks/{snowflake}/([^/]+)/messages/(@original|\d+)", self._webhook_delete),
            ("POST", rf"/channels/{snowflake}/messages", self._create_message),
            ("GET", rf"/channels/{snowflake}/messages", self._history),
            ("GET", rf"/channels/{snowflake}/messages/{snowflake}", self._get_message),
            ("PATCH", rf"/channels/{snowflake}/messages/{snowflake}", self._edit_message),
            ("DELETE", rf"/channels/{snowflake}/messages/{snowflake}", self._delete_message),
            ("PUT", rf"/channels/{snowflake}/messages/{snowflake}/reactions/([^/]+)/@me", self._add_reaction),
            (
                "DELETE",
                rf"/channels/{snowflake}/messages/{snowflake}/reactions/([^/]+)/@me",
                self._remove_reaction,
            ),
            ("POST", rf"/channels/{snowflake}/messages/{snowflake}/threads", self._thread_from_message),
            ("POST", rf"/channels/{snowflake}/threads", self._thread),
            ("POST", r"/users/@me/channels", self._dm_channel),
            ("PUT", rf"/channels/{snowflake}/thread-members/{snowflake}", self._add_thread_member),
            ("GET", rf"/guilds/{snowflake}/members/{snowflake}", self._get_member),
            ("GET", rf"/channels/{snowflake}", self._get_channel),
            ("PATCH", rf"/channels/{snowflake}", self._edit_channel),
            ("GET", rf"/guilds/{snowflake}/threads/active", self._active_threads),
            ("GET", rf"/channels/{snowflake}/threads/archived/public", self._archived_public),
        ]
        return [(method, re.compile(f"^{pattern}$"), handler) for method, pattern, handler in table]

    async def _dispatch_rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        route = f"{request.method} {path}"
        forced = self._forced_failure(route)
        if forced is not None:
            return forced
        call = request[CALL_KEY]
        refused = self._against_spec(call, path)
        if refused is not None:
            return refused
        for method, pattern, handler in self._routes():
            match = pattern.match(path)
            if match and method == request.method:
                response = await handler(call, *match.groups())
                for key, value in self._rate_limit_headers(path).items():
                    response.headers.setdefault(key, value)
                return response
        self.unknown_routes.append(call)
        return json_response({"message": "404: Not Found", "code": 0}, status=404)

    def _against_spec(self, call: Call, path: str) -> web.Response | None:
        """Discord's 400 if the body breaks the spec's request schema for this route and method; a route the
        spec does not describe is noted (in `undescribed_routes`, listed at the end of the test run)."""
        operation = self.spec.operation(call.method, path)
        if operation is None:
            self.undescribed_routes.add(f"{call.method} {re.sub(r'/[0-9]+(?=/|$)', '/{id}', path)}")
            return None
        problems = self.spec.check(operation, call.body)
        return self._invalid(call.route, problems) if problems else None

    async def _get_gateway_bot(self, call: Call) -> web.Response:
        return json_response(
            {
                "url": self.gateway_url,
                "shards": self.shard_count,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    async def _get_me(self, call: Call) -> web.Response:
        return json_response({**self.bot_user, "verified": True, "mfa_enabled": False, "flags": 0})

    async def _get_application(self, call: Call) -> web.Response:
        return json_response(
            {
                "id": str(self.application_id),
                "name": "Nexus",
                "icon": None,
                "description": "The ProDev Project Nexus bot",
                "rpc_origins": [],
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": self._user(self.owner_id, "owner"),
                "summary": "",
                "verify_key": "0" * 64,
                "team": None,
                "flags": 0,
                "interactions_endpoint_url": None,
                "redirect_uris": [],
                "approximate_guild_count": 1,
            }
        )

    def _stamp_commands(self, commands: list[JSON], guild_id: int | None) -> list[JSON]:
        stamped = []
        for command in commands:
            stamped.append(
                {
                    **command,
                    "id": str(self.snowflake()),
                    "application_id": str(self.application_id),
                    "version": str(self.snowflake()),
                    "type": command.get("type", 1),
                    "description": command.get("description", ""),
                    **({"guild_id": str(guild_id)} if guild_id else {}),
                }
            )
        return stamped

    async def _put_global_commands(self, call: Call, application_id: str) -> web.Response:
        problems = validation.validate_commands(call.body or [])
        if problems:
            return self._invalid(call.route, problems)
        self.global_commands = self._stamp_commands(call.body, None)
        self.command_puts.append(("global", call.body))
        return json_response(self.global_commands)

    async def _get_global_commands(self, call: Call, application_id: str) -> web.Response:
        return json_response(self.global_commands)

    async def _put_guild_commands(self, call: Call, application_id: str, guild_id: str) -> web.Response:
        problems = validation.validate_commands(call.body or [])
        if problems:
            return self._invalid(call.route, problems)
        self.guild_commands[int(guild_id)] = self._stamp_commands(call.body, int(guild_id))
        self.command_puts.append((f"guild:{guild_id}", call.body))
        return json_response(self.guild_commands[int(guild_id)])

    async def _get_guild_commands(self, call: Call, application_id: str, guild_id: str) -> web.Response:
        return json_response(self.guild_commands.get(int(guild_id), []))
