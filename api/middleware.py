"""ASGI middleware: request ids, access logs, latency metrics, the last-resort 500, body limits."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from allocator_api.errors import ErrorBody, ErrorOut
from allocator_api.logs import current_request_id, reset_request_id, set_request_id
from allocator_api.metrics import Metrics

log = logging.getLogger("allocator_api.access")
_GOOD_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _error_bytes(status: int, code: str, message: str, request_id: str | None) -> bytes:
    body = ErrorOut(error=ErrorBody(code=code, message=message, request_id=request_id))
    return json.dumps(body.model_dump(mode="json")).encode()


async def _send_error(
    send: Send, status: int, code: str, message: str, request_id: str | None
) -> None:
    payload = _error_bytes(status, code, message, request_id)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if request_id:
        headers.append((b"x-request-id", request_id.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


#: headers on every answer: no MIME sniffing, no framing, no referrer
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
#: the API's answers are JSON for one tenant: nothing may run or be embedded from them (the
#: interactive docs pages load their own scripts, so they do not get this one)
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
#: answers under /v1 are one tenant's data (and key secrets): never stored by a cache
NO_STORE = (b"cache-control", b"no-store")


def security_headers(path: str, present: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The hygiene headers an answer to ``path`` gets, less those it already has."""
    have = {k.lower() for k, _ in present}
    out = list(SECURITY_HEADERS)
    if not path.startswith(("/docs", "/redoc")):
        out.append(API_CSP)
    if path.startswith("/v1"):
        out.append(NO_STORE)
    return [(k, v) for k, v in out if k not in have]


class RequestContextMiddleware:
    """Gives each request an id (the caller's ``X-Request-ID`` when sane, else a new one), echoes
    it, logs one JSON access line, records latency by route template, and turns any exception
    that got this far into a 500 of the error model (the traceback goes to the log only)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode(
            "latin-1"
        )
        request_id = given if _GOOD_ID.match(given) else uuid.uuid4().hex
        token = set_request_id(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(security_headers(scope.get("path", ""), headers))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error", extra={"path": scope.get("path")})
            status = 500
            if not response_started:
                await _send_error(
                    send, 500, "internal_error", "an unexpected error occurred", request_id
                )
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            method = scope.get("method", "")
            self.metrics.request_seconds.labels(method, template, str(status)).observe(elapsed)
            state: Any = scope.get("state") or {}
            log.info(
                "%s %s %s",
                method,
                scope.get("path"),
                status,
                extra={
                    "method": method,
                    "path": scope.get("path"),
                    "route": template,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "tenant": state.get("tenant") if isinstance(state, dict) else None,
                },
            )
            reset_request_id(token)


class BodyLimitMiddleware:
    """413 for a body over ``max_bytes``: at once when ``Content-Length`` says so, else as soon
    as the streamed body passes the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"request body larger than {self.max_bytes} bytes (limit max_body_bytes)"
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None:
            try:
                too_big = int(length) > self.max_bytes
            except ValueError:
                too_big = False
            if too_big:
                await _send_error(send, 413, "payload_too_large", message, current_request_id())
                return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413, message)
            return msg

        await self.app(scope, counting_receive, send)
