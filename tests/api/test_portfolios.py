"""Portfolios through the real app, on SQLite and PostgreSQL: CRUD, paging, validation (every
error listed, as the library reports it), size limits, body limits."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from allocator.contract import read_portfolio
from allocator.validation import validate
from tests.api.conftest import AppFactory, key_headers, new_tenant
from tests.conftest import portfolio_dict


def broken_portfolio() -> dict[str, Any]:
    """Eight errors of both kinds (structural and of meaning) and one warning."""
    return portfolio_dict(
        [{"id": "ann", "skills": {"py": 4}}, {"id": "ann", "skills": {"py": 9}}],
        [
            {
                "id": "crm-schema",
                "skill": "py",
                "min_level": 7,
                "effort_hours": 16,
                "predecessors": ["nope"],
            },
            {"id": "b", "skill": "py", "effort_hours": "lots", "exclude": ["zed"]},
        ],
        end="2027-13-01",
        extra_key=1,
    )


def test_create_read_list_replace_delete(client: TestClient, ok_small: dict[str, Any]) -> None:
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    r = client.post("/v1/portfolios", json=ok_small, headers=h)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert r.json() == {"id": pid, "revision": 1, "warnings": []}
    assert r.headers["Location"] == f"/v1/portfolios/{pid}"
    assert len(pid) == 36  # a UUID, not a counter

    got = client.get(f"/v1/portfolios/{pid}", headers=h)
    assert got.status_code == 200
    assert got.json()["name"] == "tiny" and len(got.json()["people"]) == 3
    assert got.headers["X-Portfolio-Revision"] == "1"
    # what is stored reads back as the same portfolio
    assert read_portfolio(got.json())[0] == read_portfolio(ok_small)[0]

    page = client.get("/v1/portfolios", headers=h).json()
    assert page["total"] == 1 and page["items"][0]["id"] == pid
    assert page["items"][0]["tasks"] == 4 and page["items"][0]["people"] == 3

    changed = dict(ok_small, name="renamed")
    r = client.put(f"/v1/portfolios/{pid}", json=changed, headers=h)
    assert r.status_code == 200 and r.json()["revision"] == 2
    assert client.get(f"/v1/portfolios/{pid}", headers=h).json()["name"] == "renamed"

    assert client.delete(f"/v1/portfolios/{pid}", headers=h).status_code == 204
    assert client.get(f"/v1/portfolios/{pid}", headers=h).status_code == 404
    assert client.delete(f"/v1/portfolios/{pid}", headers=h).status_code == 404
    assert client.put(f"/v1/portfolios/{pid}", json=ok_small, headers=h).status_code == 404


def test_paging(client: TestClient, ok_small: dict[str, Any]) -> None:
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    ids = [
        client.post("/v1/portfolios", json=dict(ok_small, name=f"p{i}"), headers=h).json()["id"]
        for i in range(5)
    ]
    seen: list[str] = []
    offset = 0
    while True:
        page = client.get(f"/v1/portfolios?limit=2&offset={offset}", headers=h).json()
        assert page["total"] == 5 and page["limit"] == 2
        if not page["items"]:
            break
        assert len(page["items"]) <= 2
        seen += [p["id"] for p in page["items"]]
        offset += 2
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    assert seen[0] == ids[-1]  # newest first
    for bad in ("limit=0", "offset=-1", "limit=abc"):
        r = client.get(f"/v1/portfolios?{bad}", headers=h)
        assert r.status_code == 422, bad
        assert r.json()["error"]["code"] == "invalid_request"
        assert r.json()["error"]["details"][0]["path"].startswith("query.")


def test_invalid_portfolio_lists_every_error_with_path_and_id(client: TestClient) -> None:
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    body = broken_portfolio()
    portfolio, issues = read_portfolio(body)
    expected = [(i.path, i.message) for i in validate(portfolio, structural=issues).errors]
    assert len(expected) == 8

    for r in (
        client.post("/v1/portfolios", json=body, headers=h),
        client.post("/v1/solve", json={"portfolio": body}, headers=h),
    ):
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "invalid_portfolio"
        assert error["message"] == "the portfolio has 8 errors"
        assert [(d["path"], d["message"]) for d in error["details"]] == expected
        by_path = {d["path"]: d["message"] for d in error["details"]}
        assert "crm-schema" in by_path["projects[0].tasks[0].min_level"]
        assert "'zed'" in by_path["projects[0].tasks[1].exclude[0]"]
        assert "'ann'" in by_path["people[1].id"]
    # nothing was stored
    assert client.get("/v1/portfolios", headers=h).json()["total"] == 0

    pid = client.post("/v1/portfolios", json=portfolio_dict([], []), headers=h).json()["id"]
    r = client.put(f"/v1/portfolios/{pid}", json=body, headers=h)
    assert r.status_code == 422 and len(r.json()["error"]["details"]) == 8


def test_unknown_keys_are_warnings(client: TestClient, ok_small: dict[str, Any]) -> None:
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    r = client.post("/v1/portfolios", json=dict(ok_small, colour="blue"), headers=h)
    assert r.status_code == 201
    assert r.json()["warnings"] == [
        {"path": "colour", "message": "unknown key 'colour' in portfolio (ignored)"}
    ]


def test_bodies_that_are_not_portfolios(client: TestClient) -> None:
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    cases: list[tuple[bytes, str]] = [
        (b"[1, 2]", "invalid_request"),  # not an object
        (b'{"format": ', "invalid_request"),  # not JSON
        (b"{}", "invalid_portfolio"),  # an object, but nothing of a portfolio
    ]
    for raw, code in cases:
        r = client.post(
            "/v1/portfolios", content=raw, headers=h | {"Content-Type": "application/json"}
        )
        assert r.status_code == 422, (raw, r.text)
        assert r.json()["error"]["code"] == code
        assert r.json()["error"]["details"], raw
    r = client.post(
        "/v1/portfolios", content=b"{}", headers=h | {"Content-Type": "application/json"}
    )
    paths = {d["path"] for d in r.json()["error"]["details"]}
    assert {"format", "name", "calendar", "people", "projects"} <= paths


def test_size_limits_name_the_limit(make_client: AppFactory, ok_small: dict[str, Any]) -> None:
    client = make_client(max_tasks=3, max_people=2)
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    r = client.post("/v1/portfolios", json=ok_small, headers=h)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "limit_exceeded"
    assert error["details"] == [
        {"path": "people", "message": "3 persons given; at most 2 are accepted (limit max_people)"},
        {"path": "projects", "message": "4 tasks given; at most 3 are accepted (limit max_tasks)"},
    ]


def test_body_size_limit(make_client: AppFactory, ok_small: dict[str, Any]) -> None:
    client = make_client(max_body_bytes=2_000)
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    big = dict(ok_small, name="x" * 5_000)
    r = client.post("/v1/portfolios", json=big, headers=h)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert "max_body_bytes" in r.json()["error"]["message"]

    def chunks() -> Any:  # no Content-Length: the limit applies while the body streams
        data = json.dumps(big).encode()
        for i in range(0, len(data), 500):
            yield data[i : i + 500]

    r = client.post(
        "/v1/portfolios", content=chunks(), headers=h | {"Content-Type": "application/json"}
    )
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "payload_too_large"
    assert client.post("/v1/portfolios", json=ok_small, headers=h).status_code == 201
