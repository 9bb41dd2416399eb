"""Structured logs: one JSON object a line, with the request id (and job id) of the work."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "allocator_request_id", default=None
)

#: the standard attributes of a LogRecord; everything else given with ``extra=`` is logged
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's terminal variant of the message
}


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> contextvars.Token[str | None]:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token[str | None]) -> None:
    _request_id.reset(token)


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "request_id", ...extra}``, exceptions as text."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = current_request_id()
        if rid is not None:
            out["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class _JsonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marker class, so that configuring twice does not add a second handler."""


def configure_logging(level: str = "INFO") -> None:
    """Send every log record (the service's, the library's, uvicorn's) to stderr as JSON lines.

    Installs one handler on the root logger (idempotent). Tests leave it off
    (``Settings.json_logs``) so that pytest's capture keeps working as usual.
    """
    root = logging.getLogger()
    if not any(isinstance(h, _JsonHandler) for h in root.handlers):
        handler = _JsonHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level.upper())


class KeyValueFormatter(logging.Formatter):
    """``HH:MM:SS level message key=value ...`` (the extras of the record): the structured
    fields of :class:`JsonFormatter`, for a person reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        parts = [ts, record.levelname.lower(), record.getMessage()]
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                text = str(value)
                parts.append(f"{key}={json.dumps(text) if ' ' in text else text}")
        out = " ".join(parts)
        if record.exc_info:
            out += "\n" + self.formatException(record.exc_info)
        return out


#: loggers that are chatter for an operator (migrations, the Dask cluster): errors only unless -v
CHATTY = ("alembic", "distributed", "tornado", "bokeh", "asyncio")


def configure_cli_logging(verbose: int, fmt: str, own: tuple[str, ...] = ()) -> None:
    """Logging of a long-running command (``allocator nightly``): one handler on stderr, JSON
    lines (``fmt`` ``json``) or ``key=value`` lines (``text``); the loggers named in ``own`` at
    INFO, everything else at WARNING and :data:`CHATTY` at ERROR; ``-v`` shows INFO of every
    logger and DEBUG of those in ``own``, ``-vv`` DEBUG of every logger. Replaces the
    handlers set before (the library's plain one)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = _JsonHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    for name in own:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.ERROR)
