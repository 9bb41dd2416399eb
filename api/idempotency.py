"""``Idempotency-Key`` on the POSTs that create (portfolios, solve and rebalance jobs, keys).

A client that retries a POST (a timeout, a dropped connection) sends the same
``Idempotency-Key`` header; the service then creates nothing twice:

- the same key with the same request (method, path and JSON body) gets the answer first given,
  with ``Idempotent-Replayed: true``;
- the same key with another request: 422 ``idempotency_key_reused``;
- while the first request is still being answered: 409 ``idempotency_key_in_progress`` with
  ``Retry-After``;
- an API key's secret is never stored: a retry of ``POST /v1/keys`` gets 409
  ``idempotency_secret_withheld`` naming the key that was made (nothing is made twice).

Keys are per tenant; a request that failed (any error answer) forgets its key, so a retry runs
it again. The claim is committed first (a concurrent retry sees it: 409); the created resource
and the answer are then committed together (the route writes with ``commit=idem.commits``,
:meth:`Idempotent.answer` commits both), so a process that dies in between has created nothing
and left an unanswered claim, which a retry takes over after :data:`STALE_CLAIM_SECONDS`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from allocator_api.deps import SessionDep, current_principal
from allocator_api.errors import ApiError, error_response
from allocator_api.repository import IdempotencyConflict, IdempotencyKeys, StoredAnswer
from allocator_api.security import Principal

#: an unanswered claim older than this is taken as abandoned (its process died)
STALE_CLAIM_SECONDS = 60.0
HEADER = "Idempotency-Key"
M = TypeVar("M", bound=BaseModel)


class Replay(Exception):
    """Raised by the dependency when the request was answered before: the stored answer."""

    def __init__(self, answer: StoredAnswer) -> None:
        super().__init__("replay")
        self.answer = answer


async def replay_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Replay)
    response = exc.answer.response
    if response.get("secret_withheld"):
        made = response.get("body") or {}
        return error_response(
            409,
            "idempotency_secret_withheld",
            f"the first request with this Idempotency-Key made {made.get('id', 'it')}; its "
            "secret is shown only once (revoke it and make another if it was lost)",
        )
    headers = {"Idempotent-Replayed": "true"}
    if response.get("location"):
        headers["Location"] = str(response["location"])
    return JSONResponse(response.get("body"), status_code=exc.answer.status_code, headers=headers)


async def request_fingerprint(request: Request) -> str:
    """SHA-256 of the method, the path and the body (as canonical JSON when it parses)."""
    raw = await request.body()
    try:
        body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        body = raw
    h = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), body):
        h.update(len(part).to_bytes(8, "big") + part)
    return h.hexdigest()


class Idempotent:
    """What a creating route calls to keep its answer under the request's key (if any)."""

    def __init__(self, keys: IdempotencyKeys | None, key: str | None) -> None:
        self._keys = keys
        self._key = key
        self.finished = False
        self._after: list[Callable[[], None]] = []

    @property
    def commits(self) -> bool:
        """Whether the route's repository commits its write itself (no key); with a key, the
        write is committed by :meth:`answer`, with the answer."""
        return self._keys is None or self._key is None

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the created resource is committed: now without a key, after
        :meth:`answer` with one (e.g. wake a job worker only when the job can be claimed)."""
        if self.commits:
            action()
        else:
            self._after.append(action)

    def answer(
        self, model: M, status_code: int, location: str | None = None, secret: str | None = None
    ) -> M:
        """Keep ``model`` as the answer to this key, and return it. A ``secret`` field (an API
        key's token) is never stored: a retry then gets 409 naming what was made."""
        if self._keys is not None and self._key is not None:
            body = model.model_dump(mode="json")
            response: dict[str, Any] = {"body": body, "location": location}
            if secret is not None:
                body.pop(secret, None)
                response["secret_withheld"] = secret
            self._keys.finish(self._key, status_code, response)
        self.finished = True
        for action in self._after:
            action()
        return model


def idempotency(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(current_principal)],
    fingerprint: Annotated[str, Depends(request_fingerprint)],
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            min_length=1,
            max_length=200,
            description="a client-chosen unique key: a retry with the same key and request "
            "gets the first answer and creates nothing twice",
        ),
    ] = None,
) -> Iterator[Idempotent]:
    if key is None:
        yield Idempotent(None, None)
        return
    keys = IdempotencyKeys(session, principal.tenant)
    try:
        stored = keys.claim(key, request.method, request.url.path, fingerprint, STALE_CLAIM_SECONDS)
    except IdempotencyConflict as exc:
        if exc.in_progress:
            raise ApiError(
                409,
                "idempotency_key_in_progress",
                "a request with this Idempotency-Key is still being answered",
                headers={"Retry-After": "1"},
            ) from None
        raise ApiError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used for another request",
        ) from None
    if stored is not None:
        raise Replay(stored)
    idem = Idempotent(keys, key)
    try:
        yield idem
    finally:
        if not idem.finished:
            keys.release(key)


IdempotencyDep = Annotated[Idempotent, Depends(idempotency)]
