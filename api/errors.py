"""The one error model of the service, and the handlers that produce it.

Every error answer is ``{"error": {"code", "message", "details": [{"path", "message"}],
"request_id"}}``: ``code`` is a stable machine-readable word, ``details`` lists every problem
of the input with its JSON path (for a portfolio: the library's paths, ``projects[0].tasks[1]
.min_level``, and messages naming the id). Stack traces and SQL never reach a client; an
unexpected failure is logged with the request id and answered 500 ``internal_error``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from allocator.errors import Issue
from allocator_api.logs import current_request_id

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    path: str = Field(description="JSON path of the problem in the request ('' for the whole)")
    message: str


class ErrorBody(BaseModel):
    code: str = Field(description="stable machine-readable error code", examples=["not_found"])
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)
    request_id: str | None = Field(default=None, description="also in the X-Request-ID header")


class ErrorOut(BaseModel):
    """The service's error model (every 4xx and 5xx answer)."""

    error: ErrorBody


class ApiError(Exception):
    """Raised by routes and services; rendered as :class:`ErrorOut` with ``status``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Iterable[ErrorDetail] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details)
        self.headers = dict(headers or {})


def not_found(what: str) -> ApiError:
    """404 for a missing resource, or one of another tenant (the same answer: no leak)."""
    return ApiError(404, "not_found", f"{what} not found")


def issues_as_details(issues: Iterable[Issue]) -> list[ErrorDetail]:
    return [ErrorDetail(path=i.path, message=i.message) for i in issues]


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing or unknown API key (`Authorization: Bearer <key>`)",
    403: "The key's role does not allow this",
    404: "No such resource for this key's tenant",
    409: "Conflict with the resource's state",
    413: "Request body too large",
    415: "The body is not JSON (`Content-Type: application/json`)",
    422: "Invalid input: every problem is listed in `details` with its JSON path",
    429: "Too many jobs or solves: try again after `Retry-After` seconds",
    500: "Unexpected failure (logged with the request id)",
    503: "Not ready (database unreachable)",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the error model under each status code, and always 422 (a
    NUL or a lone surrogate in the URL is refused on every route) and 500; 415 with 413 (a
    route that takes a body takes JSON only)."""
    out: dict[int | str, dict[str, Any]] = {}
    extra = (415,) if 413 in codes else ()
    for code in sorted({*codes, *extra, 422, 500}):
        entry: dict[str, Any] = {"model": ErrorOut, "description": _DESCRIPTIONS[code]}
        if code == 429:
            entry["headers"] = {
                "Retry-After": {
                    "description": "seconds to wait before trying again",
                    "schema": {"type": "integer"},
                }
            }
        out[code] = entry
    return out


def error_response(
    status: int,
    code: str,
    message: str,
    details: Sequence[ErrorDetail] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorOut(
        error=ErrorBody(
            code=code, message=message, details=list(details), request_id=current_request_id()
        )
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


# -- handlers ---------------------------------------------------------------------------------
def _log_5xx(status: int, code: str, message: str) -> None:
    """A 5xx answer is logged with its error id (the answer's ``request_id``), so an operator
    finds the line a client quotes."""
    if status >= 500:
        error_id = current_request_id()
        log.error(
            "answered %d %s (error id %s): %s",
            status,
            code,
            error_id,
            message,
            extra={"error_id": error_id, "status": status, "code": code},
        )


async def api_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    _log_5xx(exc.status, exc.code, exc.message)
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def _loc_path(loc: Sequence[str | int]) -> str:
    """FastAPI's ``("body", "portfolio", "people", 0)`` as ``portfolio.people[0]``; query and
    path parameters keep their place: ``query.limit``."""
    parts = list(loc)
    prefix = ""
    if parts and parts[0] == "body":
        parts = parts[1:]
    elif parts and parts[0] in ("query", "path", "header", "cookie"):
        prefix = f"{parts[0]}."
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return prefix + out if out else prefix.rstrip(".")


async def validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        ErrorDetail(path=_loc_path(e.get("loc", ())), message=str(e.get("msg", "invalid")))
        for e in exc.errors()
    ]
    return error_response(422, "invalid_request", "the request is not valid", details)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


async def http_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 400:  # FastAPI could not parse the body (not UTF-8, not JSON): a bad body
        return error_response(
            422,
            "invalid_request",
            "the request body is not valid JSON",
            [ErrorDetail(path="", message="the body could not be parsed as UTF-8 JSON")],
        )
    code = _HTTP_CODES.get(status, HTTPStatus(status).phrase.lower().replace(" ", "_"))
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    if status == 404:
        message = "no such route"
    _log_5xx(status, code, message)
    return error_response(status, code, message, headers=exc.headers)
