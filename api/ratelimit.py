"""Rate limits: per API key, and per client address for wrong keys (429 + ``Retry-After``).

Two token buckets, in this process's memory (with ``allocator serve --workers N`` each worker
process keeps its own, so the service-wide limit is N times the setting):

- every request with ``Authorization: Bearer <key>`` takes a token of that key's bucket
  (``Settings.rate_limit_per_second`` sustained, ``rate_limit_burst`` at once); the bucket is
  keyed by a hash of the key, so a key never sits in memory or in a log;
- every 401 (a wrong, unknown or revoked key) takes a token of the client address's bucket
  (``Settings.auth_failures_per_minute``); while it is empty, that address gets 429 before its
  key is even looked up, whatever key it presents (guessing keys costs a minute per batch).

``/healthz`` and ``/readyz`` are never limited (probes). The buckets are bounded: past
:data:`MAX_BUCKETS` entries the full (idle) ones are dropped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from allocator_api.errors import ErrorBody, ErrorOut
from allocator_api.logs import current_request_id

log = logging.getLogger(__name__)

MAX_BUCKETS = 100_000
UNLIMITED_PATHS = ("/healthz", "/readyz")


class TokenBuckets:
    """Token buckets by name: ``rate`` tokens per second, at most ``burst``."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, at)

    def _level(self, name: str, now: float) -> float:
        tokens, at = self._buckets.get(name, (self.burst, now))
        return min(self.burst, tokens + (now - at) * self.rate)

    def wait(self, name: str) -> float:
        """Seconds until ``name`` has a token (0: it has one now); takes nothing."""
        with self._lock:
            level = self._level(name, time.monotonic())
        return 0.0 if level >= 1 else (1 - level) / self.rate

    def take(self, name: str) -> float:
        """Take a token of ``name``: 0 when there was one, else the seconds until there is."""
        now = time.monotonic()
        with self._lock:
            level = self._level(name, now)
            if level < 1:
                return (1 - level) / self.rate
            self._buckets[name] = (level - 1, now)
            if len(self._buckets) > MAX_BUCKETS:
                self._prune(now)
        return 0.0

    def _prune(self, now: float) -> None:
        full = [n for n in self._buckets if self._level(n, now) >= self.burst]
        for n in full:
            del self._buckets[n]


def _too_many(message: str, retry_after: float) -> tuple[list[tuple[bytes, bytes]], bytes]:
    body = ErrorOut(
        error=ErrorBody(code="rate_limited", message=message, request_id=current_request_id())
    )
    payload = json.dumps(body.model_dump(mode="json")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"retry-after", str(max(1, math.ceil(retry_after))).encode()),
    ]
    return headers, payload


def _bearer(scope: Scope) -> str | None:
    raw = next((v for k, v in scope["headers"] if k == b"authorization"), None)
    if raw is None:
        return None
    scheme, _, token = raw.decode("latin-1").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class RateLimitMiddleware:
    """429 + ``Retry-After`` past the per-key rate, or after too many wrong keys from one
    address (see the module's docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        per_second: float,
        burst: int,
        auth_failures_per_minute: int,
    ) -> None:
        self.app = app
        self.keys = TokenBuckets(per_second, burst) if per_second > 0 else None
        self.failures = TokenBuckets(auth_failures_per_minute / 60, auth_failures_per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "") in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "?"
        wait = self.failures.wait(address)
        if wait > 0:
            await self._refuse(send, "too many wrong API keys from this address", wait)
            return
        token = _bearer(scope)
        if token is not None and self.keys is not None:
            name = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
            wait = self.keys.take(name)
            if wait > 0:
                await self._refuse(send, "too many requests with this API key", wait)
                return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if status == 401 and token is not None:
            self.failures.take(address)

    @staticmethod
    async def _refuse(send: Send, message: str, wait: float) -> None:
        headers, payload = _too_many(f"{message}: retry after the Retry-After seconds", wait)
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
