"""Property-based tests against the OpenAPI document (schemathesis strategies, run by
hypothesis): for generated requests to every operation, valid and invalid, with random and
with real ids, no 500, and every answer's status, content type and body are the ones the
document declares. Bounded: a few examples per case (many more where the input is rich), in
process (no network)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from allocator_api.app import create_app
from allocator_api.settings import Settings
from tests.api.conftest import key_headers, settings_for, wait_job
from tests.api.test_ops import OPERATION_IDS
from tests.conftest import portfolio_dict

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 8
#: Where the input is rich (a portfolio, a plan, solve and rebalance options) a few examples
#: reach little of it: these operations get many more (the file stays well under a minute).
RICH = {
    "create_portfolio": 100,
    "replace_portfolio": 60,
    "solve_portfolio": 60,
    "solve_now": 60,
    "check_plan": 60,
    "rebalance_portfolio": 40,
    "diff_plans": 30,
    "report_progress": 30,
}


class Served:
    def __init__(self, app: Any, headers: dict[str, str], ids: dict[str, str]) -> None:
        self.app, self.headers, self.ids = app, headers, ids
        self.schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=headers)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    url = f"sqlite:///{tmp_path_factory.mktemp('schema')}/schema.sqlite"
    app = create_app(settings_for(url, sync_max_time_limit=0.2, max_time_limit=0.2))
    with TestClient(app) as client:
        headers = key_headers(app, "fuzz", "admin")
        tiny = portfolio_dict(
            [{"id": "ann", "skills": {"py": 4}}], [{"id": "a", "skill": "py", "effort_hours": 8}]
        )
        pid = client.post("/v1/portfolios", json=tiny, headers=headers).json()["id"]
        job = client.post(f"/v1/portfolios/{pid}/solve", headers=headers).json()["job_id"]
        plan = wait_job(client, job, headers)["plan_id"]
        key = client.post("/v1/keys", json={"role": "viewer"}, headers=headers).json()["id"]
        ids = {"portfolio_id": pid, "job_id": job, "plan_id": plan, "key_id": key}
        yield Served(app, headers, ids)
    from schemathesis.python import asgi

    asgi.shutdown_lifespans()


def cases() -> list[tuple[str, str]]:
    """(operation id, variant): ``valid`` for every operation, ``invalid`` where it takes
    input, ``real-ids`` where it names a resource (the document alone: no database needed)."""
    settings_ = Settings(database_url="sqlite://", json_logs=False, run_workers=False)
    out = []
    for path, item in create_app(settings_).openapi()["paths"].items():
        for op in item.values():
            out.append((op["operationId"], "valid"))
            if op.get("parameters") or "requestBody" in op:
                out.append((op["operationId"], "invalid"))
            if "{" in path:
                out.append((op["operationId"], "real-ids"))
    return out


def test_cases_cover_every_operation() -> None:
    assert {op for op, _ in cases()} == OPERATION_IDS


@pytest.mark.parametrize(("operation_id", "variant"), cases())
def test_operation_answers_as_documented(served: Served, operation_id: str, variant: str) -> None:
    operation = served.schema.find_operation_by_id(operation_id)
    mode = GenerationMode.NEGATIVE if variant == "invalid" else GenerationMode.POSITIVE
    names = {p.name for p in operation.path_parameters}
    known = {k: v for k, v in served.ids.items() if k in names}
    strategy = operation.as_strategy(mode, path_parameters=known if variant == "real-ids" else None)

    @given(case=strategy)
    @settings(
        max_examples=RICH.get(operation_id, EXAMPLES),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=served.headers, checks=CHECKS)

    run()
