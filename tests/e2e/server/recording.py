"""Recording every REST call, forced failures (401, 429, 5xx), and Discord's 400 for invalid payloads."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from aiohttp import web

from tests.e2e import validation
from tests.e2e.server.state import (
    CALL_KEY,
    Call,
    Handler,
    Violation,
    json_response,
)


class RecordingMixin:
    # ----- recording, rate limits, forced failures -------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/gateway":
            return await handler(request)
        body: Any = None
        files: list[tuple[str, bytes]] = []
        if request.content_type.startswith("multipart/"):
            # Uploads: a JSON part (payload_json) and the files, as discord.py sends them. Without payload_json,
            # Discord reads the other plain form fields as the body.
            form = await request.post()
            fields: dict[str, str] = {}
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    files.append((value.filename, value.file.read()))
                elif name == "payload_json":
                    body = json.loads(str(value))
                else:
                    fields[name] = str(value)
            if body is None and fields:
                body = fields
        elif request.can_read_body:
            raw = await request.read()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
        call = Call(
            request.method,
            request.path,
            request.path,
            body,
            dict(request.query),
            files=files,
            token=request.headers.get("Authorization", ""),
        )
        request[CALL_KEY] = call
        self.calls.append(call)
        too_large = [name for name, data in files if len(data) > self.attachment_size_limit]
        if too_large:
            # Discord refuses the whole request; the bot should have checked the limit before uploading.
            call.status = 413
            self.violations.append(Violation(call.route, [(name, "file over the upload limit") for name in too_large]))
            return json_response({"message": "Request entity too large", "code": 40005}, status=413)
        response = await handler(request)
        call.status = response.status
        return response

    def force_429(self, route_pattern: str, *, times: int = 1, retry_after: float = 0.3) -> None:
        """The next `times` requests whose "METHOD /path" matches `route_pattern` get a 429."""
        self.forced_429.setdefault(route_pattern, []).extend([retry_after] * times)

    def force_5xx(self, route_pattern: str, *, times: int = 1) -> None:
        self.forced_5xx[route_pattern] = self.forced_5xx.get(route_pattern, 0) + times

    def force_401(self, route_pattern: str, *, times: int = 1) -> None:
        """The next `times` matching requests answer 401 Unauthorized, as Discord does for a bad token."""
        self.forced_401[route_pattern] = self.forced_401.get(route_pattern, 0) + times

    def _forced_failure(self, route: str) -> web.Response | None:
        for pattern, count in self.forced_401.items():
            if count and re.search(pattern, route):
                self.forced_401[pattern] = count - 1
                return json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        for pattern, pending in self.forced_429.items():
            if pending and re.search(pattern, route):
                retry_after = pending.pop(0)
                return json_response(
                    {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
                    status=429,
                    headers={
                        "Via": "1.1 google",
                        "X-RateLimit-Limit": "5",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset-After": str(retry_after),
                        "X-RateLimit-Bucket": f"bucket-{abs(hash(pattern))}",
                        "X-RateLimit-Scope": "user",
                        "Retry-After": str(max(1, round(retry_after))),
                    },
                )
        for pattern, count in self.forced_5xx.items():
            if count and re.search(pattern, route):
                self.forced_5xx[pattern] = count - 1
                return json_response({"message": "Service Unavailable", "code": 0}, status=503)
        return None

    @staticmethod
    def _rate_limit_headers(route: str) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": "49",
            "X-RateLimit-Reset-After": "1.0",
            "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
            "X-RateLimit-Bucket": f"bucket-{abs(hash(route.split('/')[1] if '/' in route else route))}",
        }

    def _invalid(self, route: str, problems: validation.Problems) -> web.Response:
        self.violations.append(Violation(route, list(problems)))
        return json_response(validation.form_error(problems), status=400)
