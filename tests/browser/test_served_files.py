"""What the service serves for the dashboard and the docs, without a browser: the pages and
their assets come from the service itself (no CDN), the dashboard's script may only run from
its own origin, ``/openapi.json`` and ``/docs`` are public unless turned off, and the plan
report route answers HTML behind the key."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
from fastapi.testclient import TestClient

from allocator_api.app import create_app
from tests.api.conftest import key_headers, settings_for, wait_job
from tests.browser.conftest import example_portfolio

URL = re.compile(r"""(?:https?:)?//[\w.-]+""")


@pytest.fixture
def client(tmp_path: Any) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(f"sqlite:///{tmp_path}/files.sqlite"))) as c:
        yield c


def csp(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def test_dashboard_files_are_served_from_here(client: TestClient) -> None:
    r = client.get("/ui", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/ui/"
    page = client.get("/ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = csp(page.headers["content-security-policy"])
    assert policy["script-src"] == ["'self'"]  # no inline or foreign script
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    for name, media in (("app.js", "text/javascript"), ("app.css", "text/css")):
        r = client.get(f"/ui/static/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(media)
    # nothing from another origin: no absolute URL in the page, the script or the style sheet
    for name in ("index.html", "app.js", "app.css"):
        text = (resources.files("allocator_api") / "static" / name).read_text("utf-8")
        assert URL.findall(text) == [], name
    for bad in ("/ui/static/index.html", "/ui/static/..%2Fapp.py", "/ui/static/nope.js"):
        assert client.get(bad).status_code == 404, bad


def test_the_key_stays_out_of_urls_and_storage_that_outlives_the_tab() -> None:
    script = (resources.files("allocator_api") / "static" / "app.js").read_text("utf-8")
    assert "localStorage" not in script and "document.cookie" not in script
    assert script.count("sessionStorage.setItem(") == 1


def test_docs_and_schema_are_public_and_bundled(client: TestClient) -> None:
    assert client.get("/openapi.json").status_code == 200
    docs = client.get("/docs")
    assert docs.status_code == 200
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", docs.text)
    assert sorted(assets) == [
        "/docs/assets/favicon-32x32.png",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
    ]
    assert "cdn" not in docs.text.lower()
    for asset in assets:
        r = client.get(asset)
        assert r.status_code == 200 and len(r.content) > 500, asset
    assert client.get("/docs/assets/index.html").status_code == 404


def test_docs_can_be_turned_off(tmp_path: Any) -> None:
    settings = settings_for(f"sqlite:///{tmp_path}/off.sqlite", public_docs=False)
    with TestClient(create_app(settings)) as c:
        assert c.get("/docs").status_code == 404
        assert c.get("/docs/assets/swagger-ui-bundle.js").status_code == 404
        assert c.get("/openapi.json").status_code == 401
        assert c.get("/ui/").status_code == 200  # the dashboard holds no data


def test_plan_report_route(client: TestClient) -> None:
    app: Any = client.app
    mine, theirs = key_headers(app, "rep-a", "planner"), key_headers(app, "rep-b", "admin")
    pid = client.post("/v1/portfolios", json=example_portfolio(), headers=mine).json()["id"]
    job = client.post(f"/v1/portfolios/{pid}/solve", json={"time_limit": 2}, headers=mine)
    plan_id = wait_job(client, job.json()["job_id"], mine)["plan_id"]
    r = client.get(f"/v1/plans/{plan_id}/report", headers=mine)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "example-q1" in r.text and "<script" not in r.text.lower()
    assert csp(r.headers["content-security-policy"])["default-src"] == ["'none'"]
    assert client.get(f"/v1/plans/{plan_id}/report").status_code == 401
    assert client.get(f"/v1/plans/{plan_id}/report", headers=theirs).status_code == 404
    assert client.get("/v1/plans/nope/report", headers=mine).status_code == 404

    # the portfolio changed since: a task and a person of the plan are gone. The report is
    # made against the portfolio as stored now and still answers (no 500)
    body = example_portfolio()
    body["projects"][2]["tasks"] = body["projects"][2]["tasks"][:1]
    body["people"] = [p for p in body["people"] if p["id"] != "dara"]
    assert client.put(f"/v1/portfolios/{pid}", json=body, headers=mine).status_code == 200
    r = client.get(f"/v1/plans/{plan_id}/report", headers=mine)
    assert r.status_code == 200, r.text
