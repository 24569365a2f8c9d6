"""What every request goes through: a body size cap, the Origin check, security headers, one log line.

A pure ASGI middleware (no per-request task, no streaming surprises): the body of a request is read up front,
at most ``limits.max_body`` bytes (a bigger one is answered 413 before the app sees it), then handed to the app.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request

from execintel.web.config import WebConfig

Scope = dict[str, Any]
Message = dict[str, Any]
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NO_ORIGIN_CHECK = ("/api/webhooks/",)  # server-to-server: SNS sends no Origin, and is checked by signature
APP_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
           "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")  # fmt: skip
log = logging.getLogger("execintel.web")


def log_event(logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """One structured (JSON) log line; callers pass no secrets, tokens or message bodies."""
    logger.log(level, json.dumps({"event": event, **fields}, default=str, sort_keys=True))


def client_ip(request: Request) -> str:
    """The client's address as the server saw it (proxies' headers are not trusted)."""
    return request.client.host if request.client else "unknown"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class Guard:
    """The middleware; see the module docstring."""

    def __init__(self, app: Any, config: WebConfig) -> None:
        self.app, self.config = app, config
        self.origins = {_origin(config.base_url), *config.cors_origins}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """Guard one request (see the module docstring)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        method, path = scope["method"], scope["path"]
        status = {"code": 500}
        secure = self.config.secure_cookies

        async def answer(code: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
            body = json.dumps({"detail": detail}).encode()
            await send_headers({"type": "http.response.start", "status": code,
                                "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(body)).encode()), *(extra or [])]})  # fmt: skip
            await send({"type": "http.response.body", "body": body})

        async def send_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                present = {k.lower() for k, _ in message.get("headers", [])}
                # same-origin, not no-referrer: under no-referrer browsers send "Origin: null" on the page's own
                # POSTs (the sign-in form, the dashboard's fetches), which the Origin check below must refuse
                added = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
                         (b"x-frame-options", b"DENY")]  # fmt: skip
                if b"content-security-policy" not in present:
                    added.append((b"content-security-policy", APP_CSP.encode()))
                if b"cache-control" not in present and path != "/" and not path.startswith("/static/"):
                    added.append((b"cache-control", b"no-store"))
                if secure:
                    added.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        try:
            body = b""
            if method in UNSAFE or headers.get("content-length") or headers.get("transfer-encoding"):
                limit = self.config.limits.max_body
                declared = headers.get("content-length", "")
                if declared and (not declared.isdigit() or int(declared) > limit):
                    await answer(413, f"The request body is larger than {limit // 1024} KiB.")
                    return
                chunks, size = [], 0
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        await answer(413, f"The request body is larger than {limit // 1024} KiB.")
                        return
                    chunks.append(chunk)
                    if not message.get("more_body"):
                        break
                body = b"".join(chunks)
            origin = headers.get("origin")
            if method in UNSAFE and origin and not path.startswith(NO_ORIGIN_CHECK):
                own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}".lower()
                if origin.lower() not in self.origins and origin.lower() != own:
                    await answer(403, "Cross-origin request refused.")
                    return
            sent = {"done": False}

            async def replay() -> Message:
                if not sent["done"]:
                    sent["done"] = True
                    return {"type": "http.request", "body": body, "more_body": False}
                following: Message = await receive()
                return following

            await self.app(scope, replay, send_headers)
        finally:
            state = scope.get("state") or {}
            log_event(log, "http", method=method, path=path[:200], status=status["code"],
                      ms=round((time.perf_counter() - started) * 1000, 1),
                      client=(scope.get("client") or ("unknown",))[0], subject=state.get("subject"))  # fmt: skip
