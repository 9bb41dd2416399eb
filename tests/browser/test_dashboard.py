"""The dashboard (``/ui/``), the API docs (``/docs``) and the plan report, in real Chromium.

The walk: sign in, open a portfolio, start a solve, watch its progress reach ``done``, open the
plan and its report, solve again after a change, compare the two versions; no console error and
no request leaves the service's origin (nothing from a CDN). Refused: a wrong key, a revoked
key, another tenant's pages. Also: the report file opened from disk, offline. Screenshots are
saved under ``out/screenshots/`` (see conftest).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from allocator.contract import portfolio_to_dict, read_portfolio
from allocator.engine import SolveParams, solve
from allocator.generator import generate
from tests.browser.conftest import WAIT_MS, Served, example_portfolio

#: Chromium's line for an answer >= 400 to a call (expected where a refusal is the point)
FAILED_LOAD = re.compile(r"^Failed to load resource: the server responded with a status of (\d+)")


#: Chromium's message when a script is refused in the report's frame (``sandbox=""``: no
#: scripts). The report holds none (``test_walk`` checks the frame's ``srcdoc`` has no
#: ``<script``), so the only scripts it refuses are Playwright's own, injected to read the
#: frame's text; seen once under heavy load. Any other console error still fails the walk.
DRIVER_BLOCKED = (
    "Blocked script execution in 'about:srcdoc' because the document's frame is sandboxed"
)


class Watch:
    """What a page did that it should not: console errors, uncaught exceptions, requests to
    another origin than ``origin`` (a CDN, a font service...)."""

    def __init__(self, page: Any, origin: str | None) -> None:
        self.console: list[str] = []
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.origin = origin
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("request", self._request)

    def _console(self, msg: Any) -> None:
        if msg.type == "error" and not msg.text.startswith(DRIVER_BLOCKED):
            self.console.append(msg.text)

    def _request(self, request: Any) -> None:
        url = request.url
        if url.startswith(("data:", "blob:", "about:")):
            return
        parts = urlsplit(url)
        here = f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}:"
        if here != self.origin:
            self.foreign.append(url)

    def assert_clean(self) -> None:
        assert self.console == [], self.console
        assert self.errors == [], self.errors
        assert self.foreign == [], self.foreign

    def refusals(self) -> list[int]:
        """Status codes of the failed loads logged (anything else logged fails the test)."""
        codes = []
        for text in self.console:
            m = FAILED_LOAD.match(text)
            assert m, f"a console error that is not a refused call: {text}"
            codes.append(int(m.group(1)))
        assert self.errors == [], self.errors
        assert self.foreign == [], self.foreign
        return codes


#: records the job statuses the page shows, in order (installed before the page's own script)
STATUS_RECORDER = """
window.__statuses = [];
document.addEventListener("DOMContentLoaded", () => {
  const view = document.getElementById("view");
  if (!view) return;  // not the dashboard
  new MutationObserver(() => {
    const el = document.getElementById("job-status");
    const seen = window.__statuses;
    if (el && seen[seen.length - 1] !== el.dataset.status) seen.push(el.dataset.status);
    if (el && el.dataset.status === "running" && document.querySelector("#job-terms tbody tr")) {
      window.__runningWithTerms = true;  // objective terms shown while the solve runs
    }
  }).observe(view, { childList: true, subtree: true });
});
"""


@pytest.fixture
def page(chromium: Any, served: Served) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    context.add_init_script(STATUS_RECORDER)
    page = context.new_page()
    page.watch = Watch(page, served.url)
    try:
        yield page
    finally:
        context.close()


def sign_in(page: Any, served: Served, token: str) -> None:
    page.goto(f"{served.url}/ui/")
    page.fill("#key", token)
    page.click("#signin-form button[type=submit]")


def number(text: str) -> float:
    return float(text.replace(",", "").strip())


def js_number(value: float) -> str:
    """A number as the page prints it (en-US grouping, at most 2 decimals)."""
    return f"{round(value, 2):,.2f}".rstrip("0").rstrip(".")


def shown_terms(page: Any, table: str) -> dict[str, tuple[str, str]]:
    """term -> (value, bound) as the page shows them in ``table``."""
    out = {}
    for row in page.locator(f"{table} tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        out[row.get_attribute("data-term")] = (cells[1], cells[2])
    return out


def assert_terms_match(shown: dict[str, tuple[str, str]], objective: dict[str, float]) -> None:
    """The page shows each term the API answers, to the 2 decimals it prints."""
    assert list(shown) == list(objective)
    for name, value in objective.items():
        assert number(shown[name][0]) == pytest.approx(round(value, 2), abs=1e-9), name


def test_walk(page: Any, served: Served, shots: Path) -> None:
    a = served.tenants["a"]
    api = httpx.Client(base_url=served.url, headers=a.headers, timeout=30)

    # sign in: the key goes to sessionStorage only
    page.goto(f"{served.url}/ui/")
    page.locator("#signin").wait_for(state="visible")
    page.screenshot(path=str(shots / "01-sign-in.png"))
    sign_in(page, served, a.token)
    page.locator("#portfolios").wait_for()
    assert page.evaluate("sessionStorage.getItem('allocator.key')") == a.token
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("document.cookie") == ""
    assert page.input_value("#key") == ""
    names = page.locator("#portfolios tbody tr td:first-child").all_inner_texts()
    assert names == ["example-q1"]  # tenant b's portfolio is not listed (nor c's)
    page.screenshot(path=str(shots / "02-portfolios.png"))

    # open the portfolio: no plan yet
    page.click("#portfolios a")
    page.locator("#portfolio-name").wait_for()
    assert page.inner_text("#portfolio-name") == "example-q1"
    assert page.locator("#plans").count() == 0

    # start a solve and watch it reach done
    page.fill("#time-limit", "3")
    page.click("#solve")
    page.wait_for_url(re.compile(r"#/job/"))
    page.wait_for_selector("#job-status[data-status=done]")
    statuses = page.evaluate("window.__statuses")
    assert statuses[-1] == "done"
    order = ["queued", "running", "done"]
    assert [order.index(s) for s in statuses] == sorted(order.index(s) for s in statuses)
    job_id = page.url.rsplit("/", 1)[1]
    job = api.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "done" and job["plan_id"]
    assert_terms_match(shown_terms(page, "#job-terms"), job["progress"]["objective"])
    bounds = shown_terms(page, "#job-terms")
    for name, value in job["progress"]["lower_bound"].items():
        assert number(bounds[name][1]) == pytest.approx(round(value, 2), abs=1e-9), name
    assert page.inner_text("#job-gap") == f"{js_number(job['progress']['gap'] * 100)} %"
    page.screenshot(path=str(shots / "03-job-done.png"), full_page=True)

    # the plan: its assignments as stored
    page.click("#open-plan")
    page.locator("#assignments").wait_for()
    plan = api.get(f"/v1/plans/{job['plan_id']}").json()
    tasks = page.locator("#assignments tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.task)"
    )
    assert tasks == [x["task"] for x in plan["plan"]["assignments"]]
    assert page.inner_text("#plan-check") == "passed"
    assert_terms_match(shown_terms(page, "#plan-terms"), plan["objective"])
    page.screenshot(path=str(shots / "04-plan.png"), full_page=True)

    # the report, in a sandboxed frame
    page.click("#open-report")
    frame = page.frame_locator("#report-frame")
    frame.locator("h1").first.wait_for()
    assert "example-q1" in frame.locator("body").inner_text()
    assert page.get_attribute("#report-frame", "sandbox") == ""
    report = api.get(f"/v1/plans/{job['plan_id']}/report").text
    assert page.evaluate("document.getElementById('report-frame').srcdoc") == report
    assert "<script" not in report.lower()  # what makes DRIVER_BLOCKED the driver's, not ours
    page.screenshot(path=str(shots / "05-report.png"), full_page=True)

    # a second version: the first plan's first assignee is away all quarter now
    first = plan["plan"]["assignments"][0]
    away = first["people"][0]
    body = example_portfolio()
    for person in body["people"]:
        if person["id"] == away:
            person["time_off"] = [{"start": "2027-01-04", "end": "2027-03-26"}]
    r = api.put(f"/v1/portfolios/{a.portfolio}", json=body)
    assert r.status_code == 200, r.text
    page.goto(f"{served.url}/ui/#/p/{a.portfolio}")
    page.locator("#plans").wait_for()
    page.click("#solve")
    page.wait_for_url(re.compile(r"#/job/"))
    page.wait_for_selector("#job-status[data-status=done]")
    page.goto(f"{served.url}/ui/#/p/{a.portfolio}")
    page.locator("#compare").wait_for()
    versions = page.locator("#plans tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.version)"
    )
    assert versions == ["2", "1"]
    page.screenshot(path=str(shots / "06-plan-versions.png"), full_page=True)

    # compare v1 -> v2: the task of the person away changed, for that reason
    page.click("#compare")
    page.locator("#diff-title").wait_for()
    assert page.inner_text("#diff-title") == "Plan v1 → v2"
    row = page.locator(f"#diff tbody tr[data-task='{first['task']}']")
    assert row.get_attribute("data-kind") in ("moved", "unassigned")
    assert "person unavailable" in row.inner_text()
    plans = api.get(f"/v1/portfolios/{a.portfolio}/plans").json()["items"]
    diff = api.get(f"/v1/plans/{plans[1]['id']}/diff/{plans[0]['id']}").json()
    shown = page.locator("#diff tbody tr").evaluate_all("rows => rows.map(r => r.dataset.task)")
    assert shown == [c["task"] for c in diff["changes"]]
    page.screenshot(path=str(shots / "07-diff.png"), full_page=True)

    # sign out: the key is gone from the tab
    page.click("#sign-out")
    page.locator("#signin").wait_for(state="visible")
    assert page.evaluate("sessionStorage.getItem('allocator.key')") is None

    page.watch.assert_clean()
    # the key never showed in a URL or a log line of the service
    assert a.token not in page.url
    assert not [line for line in served.log.lines if a.token in line]
    assert any("/v1/jobs/" in line for line in served.log.lines)  # the tap saw the calls
    api.close()


def test_progress_is_live(page: Any, served: Served, shots: Path) -> None:
    """A solve that runs its whole time limit: the job page shows the objective terms while it
    runs, then done."""
    tenant = "browser-c"
    _, token = served.new_key(tenant)
    body = portfolio_to_dict(generate(20, 12, seed=3, name="generated-live"))
    r = httpx.post(
        f"{served.url}/v1/portfolios",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    sign_in(page, served, token)
    page.locator("#portfolios").wait_for()
    page.goto(f"{served.url}/ui/#/p/{r.json()['id']}")
    page.fill("#time-limit", "3")
    page.click("#solve")
    page.wait_for_selector("#job-status[data-status=running]")
    page.wait_for_selector("#job-terms tbody tr")
    page.screenshot(path=str(shots / "03b-job-running.png"), full_page=True)
    page.wait_for_selector("#job-status[data-status=done]")
    assert page.evaluate("window.__runningWithTerms") is True
    assert page.evaluate("window.__statuses")[-2:] == ["running", "done"]
    page.watch.assert_clean()


def test_wrong_and_revoked_keys_are_refused(page: Any, served: Served, shots: Path) -> None:
    sign_in(page, served, "alk_" + "x" * 43)
    page.locator("#signin-error").wait_for(state="visible")
    assert "refused" in page.inner_text("#signin-error")
    assert page.evaluate("sessionStorage.getItem('allocator.key')") is None
    assert page.locator("#portfolios").count() == 0
    assert "example-q1" not in page.content()
    page.screenshot(path=str(shots / "08-wrong-key.png"))

    # a key revoked while signed in: the next call signs the tab out
    key_id, token = served.new_key(served.tenants["a"].name, "viewer")
    sign_in(page, served, token)
    page.locator("#portfolios").wait_for()
    served.revoke(served.tenants["a"].name, key_id)
    page.click("#portfolios a")
    page.locator("#signin-error").wait_for(state="visible")
    assert "refused" in page.inner_text("#signin-error")
    assert page.evaluate("sessionStorage.getItem('allocator.key')") is None
    refused = page.watch.refusals()
    assert set(refused) == {401} and len(refused) >= 2, refused


def test_other_tenants_pages_are_refused(page: Any, served: Served, shots: Path) -> None:
    a, b = served.tenants["a"], served.tenants["b"]
    sign_in(page, served, a.token)
    page.locator("#portfolios").wait_for()
    assert "tenant-b-secret-portfolio" not in page.content()
    for n, fragment in enumerate(
        (
            f"#/p/{b.portfolio}",
            f"#/job/{b.job}",
            f"#/plan/{b.plan}",
            f"#/report/{b.plan}",
            f"#/diff/{b.plan}/{b.plan}",
        )
    ):
        page.goto(f"{served.url}/ui/{fragment}")
        page.locator("#message").wait_for(state="visible")
        text = page.inner_text("#message")
        assert "not found" in text and "another tenant" in text, (fragment, text)
        assert "tenant-b-secret-portfolio" not in page.content()
        assert page.locator("#view > *").count() == 0
        if n == 0:
            page.screenshot(path=str(shots / "09-other-tenant.png"))
    assert set(page.watch.refusals()) == {404}


def test_docs_are_served_from_the_service(page: Any, served: Served, shots: Path) -> None:
    page.goto(f"{served.url}/docs")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() >= 20
    assert page.get_by_text("/v1/plans/{plan_id}/report", exact=True).count() == 1
    page.screenshot(path=str(shots / "10-docs.png"))
    page.watch.assert_clean()


def test_report_file_opens_offline(chromium: Any, tmp_path: Path, shots: Path) -> None:
    from allocator.report import report_html

    portfolio = read_portfolio(example_portfolio())[0]
    plan = solve(portfolio, SolveParams(time_limit=2, workers=1, seed=0)).plan
    path = tmp_path / "report.html"
    path.write_text(report_html(portfolio, plan), encoding="utf-8")
    context = chromium.new_context(offline=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        watch = Watch(page, "file:")
        page.goto(path.as_uri())
        page.locator("h1").first.wait_for()
        assert "example-q1" in page.inner_text("body")
        # the heat map is drawn: inline SVG, not an image from elsewhere
        assert page.locator("svg").count() >= 1
        page.screenshot(path=str(shots / "11-report-file.png"), full_page=True)
        watch.assert_clean()
    finally:
        context.close()
