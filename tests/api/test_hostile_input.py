"""Hostile input (issue #16 item 4): unstorable strings are refused with 422 naming the place
before anything is written, on SQLite and PostgreSQL; unclear cases get clear messages; a 5xx
carries an error id that is also in its log line."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from allocator_api.models import ApiKeyRow
from allocator_api.repository import Portfolios
from tests.api.conftest import key_headers, new_tenant

PORTFOLIO: dict[str, Any] = {
    "format": "allocator.portfolio/v1",
    "name": "tiny",
    "calendar": {"start": "2027-01-04", "end": "2027-01-29"},
    "people": [{"id": "ann", "skills": {"py": 4}}],
    "projects": [{"id": "P", "tasks": [{"id": "a", "skill": "py", "effort_hours": 16}]}],
}
JSON = {"content-type": "application/json"}


def raw(text_with_escapes: str) -> bytes:
    """JSON text as sent on the wire (``\\ud800`` stays an escape: json.dumps cannot make a
    lone surrogate otherwise)."""
    return text_with_escapes.encode()


def details(r: Any) -> dict[str, str]:
    return {d["path"]: d["message"] for d in r.json()["error"]["details"]}


def stored(client: TestClient, h: dict[str, str]) -> int:
    total: int = client.get("/v1/portfolios", headers=h).json()["total"]
    return total


def key_rows(client: TestClient) -> int:
    with client.app.state.db.sessions() as session:  # type: ignore[attr-defined]
        return int(session.scalar(select(func.count()).select_from(ApiKeyRow)) or 0)


BODIES = [
    pytest.param(
        json.dumps(PORTFOLIO).replace('"tiny"', '"p\\ud800"'), "name", "surrogate", id="surrogate"
    ),
    pytest.param(
        json.dumps(PORTFOLIO).replace('"P"', '"P\\u0000"'), "projects[0].id", "NUL", id="nul-id"
    ),
    pytest.param(
        json.dumps(PORTFOLIO).replace('"ann"', '"a\\udfffnn"', 1),
        "people[0].id",
        "surrogate",
        id="low-surrogate",
    ),
    pytest.param(
        json.dumps(PORTFOLIO).replace('"name": "tiny"', '"name": "tiny", "x\\ud800": 1'),
        "x\\ud800",
        "surrogate",
        id="unknown-key-with-surrogate",
    ),
    pytest.param(
        json.dumps(PORTFOLIO).replace('"py": 4', '"p\\u0000y": 4'),
        "people[0].skills.p\\x00y",
        "NUL",
        id="nul-in-a-key",
    ),
]


@pytest.mark.parametrize(("body", "path", "what"), BODIES)
def test_unstorable_strings_in_a_body_are_422_before_any_write(
    client: TestClient, body: str, path: str, what: str
) -> None:
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    r = client.post("/v1/portfolios", content=raw(body), headers=h | JSON)
    assert r.status_code == 422, r.text
    assert what in details(r)[path]
    assert stored(client, h) == 0
    # a replacement is refused the same way, and the stored revision is unchanged
    created = client.post("/v1/portfolios", json=PORTFOLIO, headers=h)
    pid = created.json()["id"]
    r = client.put(f"/v1/portfolios/{pid}", content=raw(body), headers=h | JSON)
    assert r.status_code == 422, r.text
    got = client.get(f"/v1/portfolios/{pid}", headers=h)
    assert got.status_code == 200 and got.headers["X-Portfolio-Revision"] == "1"


def test_a_surrogate_as_raw_utf8_bytes_is_refused_too(client: TestClient) -> None:
    # Python's json reads bytes with "surrogatepass": these bytes become a lone surrogate
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    body = json.dumps(PORTFOLIO).encode().replace(b'"tiny"', b'"p\xed\xa0\x80"')
    r = client.post("/v1/portfolios", content=body, headers=h | JSON)
    assert r.status_code == 422 and "name" in details(r)
    assert stored(client, h) == 0


def test_a_nul_in_a_path_parameter_is_422_naming_it(client: TestClient) -> None:
    h = key_headers(client.app, new_tenant(), "viewer")  # type: ignore[arg-type]
    r = client.get("/v1/portfolios/%00", headers=h)
    assert r.status_code == 422, r.text
    assert "NUL" in details(r)["path.portfolio_id"]
    r = client.get("/v1/jobs/x%00y", headers=h)
    assert r.status_code == 422 and "path.job_id" in details(r)


def test_a_nul_in_a_query_parameter_is_422_naming_it(client: TestClient) -> None:
    h = key_headers(client.app, new_tenant(), "viewer")  # type: ignore[arg-type]
    r = client.get("/v1/portfolios?limit=5&x%00=1", headers=h)
    assert r.status_code == 422 and "query.x\\x00" in details(r)
    r = client.get("/v1/portfolios?offset=%00", headers=h)
    assert r.status_code == 422 and "query.offset" in details(r)


def test_a_key_header_with_a_surrogate_commits_nothing(client: TestClient) -> None:
    tenant = new_tenant()
    h = key_headers(client.app, tenant, "admin")  # type: ignore[arg-type]
    before = key_rows(client)
    r = client.get("/v1/portfolios", headers={"Authorization": b"Bearer k\xed\xa0\x80"})  # type: ignore[dict-item]
    assert r.status_code == 401
    # a key created with a surrogate in its name is refused, and no key row is written
    r = client.post(
        "/v1/keys", content=raw('{"role": "viewer", "name": "n\\ud800"}'), headers=h | JSON
    )
    assert r.status_code == 422 and "surrogate" in details(r)["name"]
    assert key_rows(client) == before


def test_nan_is_said_to_be_not_a_number(client: TestClient) -> None:
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    pid = client.post("/v1/portfolios", json=PORTFOLIO, headers=h).json()["id"]
    for token in ("NaN", "Infinity", "-Infinity"):
        r = client.post(
            f"/v1/portfolios/{pid}/solve",
            content=raw(f'{{"time_limit": {token}}}'),
            headers=h | JSON,
        )
        assert r.status_code == 422, r.text
        assert "not a number" in details(r)["time_limit"], r.text


def test_a_five_thousand_digit_integer_is_said_to_be_too_large(client: TestClient) -> None:
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    body = json.dumps(PORTFOLIO).replace('"effort_hours": 16', '"effort_hours": ' + "9" * 5000)
    r = client.post("/v1/portfolios", content=raw(body), headers=h | JSON)
    assert r.status_code == 422, r.text
    message = details(r)["projects[0].tasks[0].effort_hours"]
    assert "too large" in message and "5,000 digits" in message
    assert "JSON" not in r.json()["error"]["message"]


def test_a_body_that_is_not_json_is_415(client: TestClient) -> None:
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None):
        extra = {} if kind is None else {"content-type": kind}
        r = client.post("/v1/portfolios", content=json.dumps(PORTFOLIO), headers=h | extra)
        assert r.status_code == 415, (kind, r.text)
        assert r.json()["error"]["code"] == "unsupported_media_type"
    assert stored(client, h) == 0
    # JSON with a charset, or a +json type, are JSON
    for kind in ("application/json; charset=utf-8", "application/merge-patch+json"):
        r = client.post(
            "/v1/portfolios", content=json.dumps(PORTFOLIO), headers=h | {"content-type": kind}
        )
        assert r.status_code == 201, r.text
    # a POST without a body needs no type
    pid = r.json()["id"]
    assert client.post(f"/v1/portfolios/{pid}/solve", headers=h).status_code == 202


def test_deep_nesting_is_a_clear_422(client: TestClient) -> None:
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    r = client.post("/v1/portfolios", content=b"[" * 100_000 + b"]" * 100_000, headers=h | JSON)
    assert r.status_code == 422 and "nests too deeply" in details(r)[""]


def test_every_5xx_carries_an_error_id_that_is_in_its_log_line(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    h = key_headers(client.app, new_tenant(), "viewer")  # type: ignore[arg-type]

    def broken(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(Portfolios, "page", broken)
    with (
        caplog.at_level(logging.ERROR),
        TestClient(client.app, raise_server_exceptions=False) as c,
    ):
        r = c.get("/v1/portfolios", headers=h)
    assert r.status_code == 500 and "Traceback" not in r.text and "boom" not in r.text
    error_id = r.json()["error"]["request_id"]
    assert error_id and r.headers["x-request-id"] == error_id
    logged = [rec for rec in caplog.records if getattr(rec, "error_id", None) == error_id]
    assert logged and error_id in logged[0].getMessage()
