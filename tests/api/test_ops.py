"""Operations: health, readiness, metrics, request ids, JSON logs, the generic 500, CORS, the
OpenAPI document (operation ids, the error model on every route)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from allocator_api.app import create_app
from allocator_api.logs import JsonFormatter, reset_request_id, set_request_id
from allocator_api.repository import Portfolios
from tests.api.conftest import AppFactory, key_headers, new_tenant, settings_for, wait_job

OPERATION_IDS = {
    "create_portfolio",
    "list_portfolios",
    "get_portfolio",
    "replace_portfolio",
    "delete_portfolio",
    "solve_portfolio",
    "list_plans",
    "check_plan",
    "get_job",
    "get_job_plan",
    "cancel_job",
    "get_plan",
    "solve_now",
    "create_key",
    "list_keys",
    "revoke_key",
    "healthz",
    "readyz",
    "metrics",
    "report_progress",
    "rebalance_portfolio",
    "diff_plans",
    "get_plan_report",
    "queue_risk",
    "queue_scenarios",
    "queue_recommendations",
    "get_job_result",
}


def test_health_and_readiness(client: TestClient, tmp_path: Any) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    # a database that cannot be reached: alive, not ready
    missing = f"sqlite:///{tmp_path}/no/such/dir/x.sqlite"
    app = create_app(settings_for(missing, migrate_on_startup=False, run_workers=False))
    with TestClient(app) as broken:
        assert broken.get("/healthz").status_code == 200
        r = broken.get("/readyz")
        assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"


def test_metrics(client: TestClient, ok_small: dict[str, Any]) -> None:
    h = key_headers(client.app, new_tenant(), "admin")  # type: ignore[arg-type]
    pid = client.post("/v1/portfolios", json=ok_small, headers=h).json()["id"]
    client.get(f"/v1/portfolios/{pid}", headers=h)
    job_id = client.post(f"/v1/portfolios/{pid}/solve", headers=h).json()["job_id"]
    wait_job(client, job_id, h)
    r = client.get("/metrics", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    # latency by route template, not by concrete path
    assert 'route="/v1/portfolios/{portfolio_id}"' in text
    assert pid not in text
    assert "allocator_http_request_duration_seconds_bucket" in text
    assert 'allocator_jobs{state="done"} 1.0' in text
    assert 'allocator_jobs{state="running"} 0.0' in text
    assert 'allocator_solve_duration_seconds_count{outcome="done"} 1.0' in text


def test_request_ids(client: TestClient) -> None:
    r = client.get("/healthz")
    generated = r.headers["X-Request-ID"]
    assert len(generated) == 32
    r = client.get("/healthz", headers={"X-Request-ID": "trace-123"})
    assert r.headers["X-Request-ID"] == "trace-123"
    r = client.get("/v1/portfolios", headers={"X-Request-ID": "bad id with spaces"})
    assert r.headers["X-Request-ID"] != "bad id with spaces"
    # the error body carries the same id as the header
    assert r.json()["error"]["request_id"] == r.headers["X-Request-ID"]


def test_json_log_lines_carry_the_request_id() -> None:
    record = logging.LogRecord(
        "allocator_api.access", logging.INFO, __file__, 1, "GET %s", ("/x",), None
    )
    record.status = 200
    token = set_request_id("req-42")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        reset_request_id(token)
    assert line["message"] == "GET /x" and line["request_id"] == "req-42"
    assert (
        line["status"] == 200
        and line["level"] == "info"
        and line["logger"] == "allocator_api.access"
    )


def test_access_log_has_route_and_status(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="allocator_api.access"):
        client.get("/healthz", headers={"X-Request-ID": "abc"})
    rec = next(r for r in caplog.records if r.name == "allocator_api.access")
    assert rec.route == "/healthz" and rec.status == 200  # type: ignore[attr-defined]


def test_unexpected_errors_are_500_without_internals(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = key_headers(client.app, new_tenant(), "viewer")  # type: ignore[arg-type]

    def broken(*_a: Any, **_k: Any) -> Any:
        raise OperationalError("SELECT secret_column FROM portfolios", {}, Exception("boom"))

    monkeypatch.setattr(Portfolios, "page", broken)
    with TestClient(client.app, raise_server_exceptions=False) as c:
        r = c.get("/v1/portfolios", headers=h | {"X-Request-ID": "req-500"})
    assert r.status_code == 500
    assert r.json() == {
        "error": {
            "code": "internal_error",
            "message": "an unexpected error occurred",
            "details": [],
            "request_id": "req-500",
        }
    }
    assert "secret_column" not in r.text and "Traceback" not in r.text


def test_unknown_routes_and_methods_use_the_error_model(client: TestClient) -> None:
    r = client.get("/v2/nothing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.patch("/healthz")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_cors_is_off_unless_configured(make_client: AppFactory) -> None:
    preflight = {
        "Origin": "https://planner.example",
        "Access-Control-Request-Method": "GET",
    }
    off = make_client()
    r = off.options("/v1/portfolios", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    on = make_client(cors_origins="https://planner.example")
    r = on.options("/v1/portfolios", headers=preflight)
    assert r.headers["access-control-allow-origin"] == "https://planner.example"


def test_openapi_document(make_client: AppFactory) -> None:
    client = make_client(public_docs=False)  # on by default: the schema holds no data
    assert client.get("/openapi.json").status_code == 401
    assert client.get("/docs").status_code == 404
    h = key_headers(client.app, new_tenant(), "viewer")  # type: ignore[arg-type]
    doc = client.get("/openapi.json", headers=h).json()
    ops = {
        (path, method): op
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "delete")
    }
    assert {op["operationId"] for op in ops.values()} == OPERATION_IDS
    assert all(
        path.startswith("/v1/")
        for path, _ in ops
        if path not in ("/healthz", "/readyz", "/metrics")
    )
    for (path, method), op in ops.items():
        responses = op["responses"]
        assert responses["500"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorOut"
        }, (path, method)
        if path not in ("/healthz", "/readyz"):
            assert "401" in responses, (path, method)
            assert op["security"] == [{"ApiKey": []}], (path, method)
        if "requestBody" in op:
            assert "422" in responses and "413" in responses, (path, method)
    assert "429" in ops[("/v1/portfolios/{portfolio_id}/solve", "post")]["responses"]
    public = make_client(public_docs=True)
    assert public.get("/openapi.json").status_code == 200
    assert public.get("/docs").status_code == 200
