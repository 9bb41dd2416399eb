"""A bounded slice of the schemathesis run of ``benchmarks/fuzz_api.py``: every operation of the
OpenAPI schema, a few generated requests each, on SQLite and PostgreSQL; no 5xx, no answer
outside the error model, no traceback, no request slower than 10 s."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from benchmarks.fuzz_api import NO_RATE_LIMIT, fuzz, seed_tenant

#: examples per operation: the whole slice stays well under a minute per database
EXAMPLES = 8


def test_generated_requests_never_get_a_5xx(make_client: Callable[..., TestClient]) -> None:
    client = make_client(
        public_docs=True,
        default_time_limit=0.5,
        max_time_limit=1.0,
        sync_max_time_limit=1.0,
        **NO_RATE_LIMIT,
    )
    app = client.app
    headers, ids = seed_tenant(client, app)  # type: ignore[arg-type]
    assert ids["portfolio"] and ids["job"], ids
    report = fuzz(app, client, headers, ids, examples=EXAMPLES, seed=0)  # type: ignore[arg-type]
    assert report.operations >= 20
    assert report.examples >= report.operations
    assert report.failures == [], "\n".join(report.failures[:10])
    assert report.server_errors == 0
    assert report.statuses[429] < report.examples // 10  # the requests got into the routes
