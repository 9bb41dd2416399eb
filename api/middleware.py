"""ASGI middleware: request ids, access logs, latency metrics, the last-resort 500 (with an error
id that is also in its log line), body limits, and the input guard (unstorable strings, NaN,
overlong numbers and non-JSON bodies answered before any route runs)."""

from __future__ import annotations

import json
import logging
import math
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from allocator_api.errors import ErrorBody, ErrorDetail, ErrorOut
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
            log.exception(
                "unhandled error (error id %s)",
                request_id,
                extra={"path": scope.get("path"), "error_id": request_id},
            )
            status = 500
            if not response_started:
                # the answer's request_id is the error id, also on the log line above
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
        # the body is read within the limit, so the input guard runs inside it
        self.app: ASGIApp = StorableInputMiddleware(app)
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


# -- the input guard --------------------------------------------------------------------------
#: a JSON body's problems listed in one answer (the rest are counted)
MAX_INPUT_PROBLEMS = 20
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class _NonFinite:
    """A ``NaN`` / ``Infinity`` / ``-Infinity`` token of a JSON body (Python's json reads them;
    JSON has none)."""

    token: str


@dataclass(frozen=True)
class _LongInt:
    """An integer literal too long to convert (Python refuses over 4,300 digits)."""

    digits: int


def _shown(text: str, limit: int = 40) -> str:
    """``text`` safe to print and encode: control characters and surrogates escaped."""
    out = text[:limit].encode("unicode_escape", "backslashreplace").decode("ascii")
    return out + ("..." if len(text) > limit else "")


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored (a NUL character, a lone surrogate), or None."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which cannot be stored"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a lone surrogate (\\ud800-\\udfff), which is not valid Unicode text"
    return None


def _parse_int(literal: str) -> int | _LongInt:
    digits = len(literal.lstrip("-"))
    if digits > 4_300:
        return _LongInt(digits)
    return int(literal)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    shown = _shown(key)
    return f"{path}.{shown}" if path else shown


def json_problems(value: Any) -> list[tuple[str, str]]:
    """``(path, message)`` for each unstorable string (keys included), non-finite number and
    overlong integer of a parsed JSON value, in document order (iterative: no recursion)."""
    problems: list[tuple[str, str]] = []
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            why = unstorable(item)
            if why:
                problems.append((path, f"the text {why}"))
        elif isinstance(item, _NonFinite):
            problems.append(
                (path, f"{item.token} is not a number: JSON has no NaN or Infinity; send a number")
            )
        elif isinstance(item, _LongInt):
            problems.append((path, f"number too large ({item.digits:,} digits)"))
        elif isinstance(item, float) and not math.isfinite(item):
            problems.append((path, "not a finite number"))
        elif isinstance(item, dict):
            children: list[tuple[str, Any]] = []
            for key, child in item.items():
                why = unstorable(key)
                if why:
                    problems.append((_join(path, key), f"the key {why}"))
                children.append((_join(path, key), child))
            stack.extend(reversed(children))
        elif isinstance(item, list):
            stack.extend((_join(path, i), child) for i, child in reversed(list(enumerate(item))))
    return problems


def _is_json(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def _templates(app: Any) -> list[re.Pattern[str]]:
    """The app's route templates as patterns (``/v1/portfolios/{portfolio_id}`` ->
    ``^/v1/portfolios/(?P<portfolio_id>[^/]+)$``), from its OpenAPI paths, built once."""
    cached = getattr(app.state, "route_patterns", None) if app is not None else None
    if cached is not None:
        return list(cached)
    patterns: list[re.Pattern[str]] = []
    try:
        for template in app.openapi().get("paths", {}):
            parts = re.split(r"\{(\w+)\}", template)
            regex = "".join(
                re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)"
                for i, part in enumerate(parts)
            )
            patterns.append(re.compile(f"^{regex}$"))
        app.state.route_patterns = patterns
    except Exception:  # no app, or no schema: the path is named as a whole
        log.debug("no route templates to name path parameters", exc_info=True)
    return patterns


def _path_param_problems(scope: Scope) -> list[tuple[str, str]]:
    """Unstorable path parameters (named when a route template matches) and query parameters."""
    problems: list[tuple[str, str]] = []
    path = scope.get("path", "")
    why = unstorable(path)
    if why:
        for pattern in _templates(scope.get("app")):
            found = pattern.match(path)
            if found:
                problems.extend(
                    (f"path.{name}", f"the value {reason}")
                    for name, value in found.groupdict().items()
                    if (reason := unstorable(value))
                )
                break
        if not problems:
            problems.append(("path", f"the URL path {why}"))
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        reason = unstorable(name) or unstorable(value)
        if reason:
            problems.append((f"query.{_shown(name)}", f"the parameter {reason}"))
    return problems


async def _send_invalid(send: Send, problems: list[tuple[str, str]], message: str) -> None:
    shown = problems[:MAX_INPUT_PROBLEMS]
    more = len(problems) - len(shown)
    body = ErrorOut(
        error=ErrorBody(
            code="invalid_request",
            message=message + (f" ({len(problems)} problems, {more} not listed)" if more else ""),
            details=[ErrorDetail(path=p, message=m) for p, m in shown],
            request_id=current_request_id(),
        )
    )
    payload = json.dumps(body.model_dump(mode="json")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": 422, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class StorableInputMiddleware:
    """Answers, before any route runs (so nothing is written):

    * 422 naming each place when the URL path, a query parameter, or any string or key of a
      JSON body holds a NUL character or a lone surrogate (no database stores them: PostgreSQL
      refuses NUL, UTF-8 has no surrogates), when a JSON body has ``NaN`` / ``Infinity`` (which
      Python's json reads but JSON does not have), or an integer over 4,300 digits;
    * 415 for a non-empty body whose ``Content-Type`` is not JSON or missing (every body of the
      API is JSON: ``application/json``, a charset allowed, or ``application/*+json``).

    It reads the body (bounded by :class:`BodyLimitMiddleware`, which wraps it), parses it once
    more to look, and hands the same bytes on.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problems = _path_param_problems(scope)
        if problems:
            await _send_invalid(send, problems, "the request's URL is not valid")
            return
        if scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            try:
                message = await receive()
            except HTTPException as exc:  # the body limit
                await _send_error(
                    send, exc.status_code, "payload_too_large", exc.detail, current_request_id()
                )
                return
            if message["type"] != "http.request":
                await self.app(scope, receive, send)  # a disconnect: let the app see it
                return
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        if body:
            content_type = next(
                (v.decode("latin-1") for k, v in scope["headers"] if k == b"content-type"), None
            )
            if content_type is None or not _is_json(content_type):
                got = "none" if content_type is None else repr(_shown(content_type))
                await _send_error(
                    send,
                    415,
                    "unsupported_media_type",
                    f"the body must be JSON (Content-Type: application/json); got {got}",
                    current_request_id(),
                )
                return
            problems = _body_problems(body)
            if problems:
                await _send_invalid(send, problems, "the request body is not valid")
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


#: what may hide an unstorable string in JSON bytes: a \u0000 or surrogate escape, or the UTF-8
#: form of a surrogate (Python's json reads bytes with "surrogatepass")
_SUSPECT = re.compile(rb"\\u0000|\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def _body_problems(body: bytes) -> list[tuple[str, str]]:
    """The guard's problems of a JSON body (none when it does not parse: the route says so).

    The body is parsed at C speed; the Python walk over it runs only when the bytes may hide a
    problem (a suspect escape, NaN / Infinity, a number too long, an encoding other than UTF-8).
    """
    constants: list[str] = []

    def constant(token: str) -> _NonFinite:
        constants.append(token)
        return _NonFinite(token)

    try:
        value = json.loads(body, parse_constant=constant)
    except RecursionError:
        return [("", "the JSON nests too deeply")]
    except ValueError as exc:
        if "integer string conversion" not in str(exc):
            return []  # not JSON: the route answers that
        try:
            value = json.loads(body, parse_constant=constant, parse_int=_parse_int)
        except (ValueError, RecursionError):
            return []
        return json_problems(value)
    if constants or _SUSPECT.search(body) or json.detect_encoding(body) != "utf-8":
        return json_problems(value)
    return []
