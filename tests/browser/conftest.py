"""Fixtures of the browser tests: the service on loopback (uvicorn in a thread, a temporary
SQLite database) and Debian's Chromium driven by Playwright (``executable_path``; Playwright's
own browser downloads are never used).

When Chromium or Playwright is missing the tests FAIL with the reason: ``.ci/run`` installs
Chromium and ``make`` installs Playwright (the ``dev`` extra), so a silent skip would hide them.
On a machine without them set ``ALLOCATOR_ALLOW_NO_BROWSER=1`` to skip instead. Screenshots go
to ``out/screenshots/`` (``ALLOCATOR_SCREENSHOTS`` to change it): the run's artifacts.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest

from allocator_api.app import create_app
from allocator_api.repository import Keys
from tests.api.conftest import settings_for

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("ALLOCATOR_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("ALLOCATOR_SCREENSHOTS", ROOT / "out" / "screenshots"))
#: every wait on a page is bounded by this (milliseconds)
WAIT_MS = 20_000


def browser_problem() -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"playwright is not installed ({exc}): pip install -e '.[dev]'"
    path = shutil.which(CHROMIUM) or (CHROMIUM if os.access(CHROMIUM, os.X_OK) else None)
    if path is None:
        return f"no Chromium at {CHROMIUM}: apt-get install -y chromium (.ci/run does)"
    return None


def example_portfolio() -> dict[str, Any]:
    text = (resources.files("allocator") / "data" / "example-portfolio.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


class LogTap(logging.Handler):
    """Every log record of the process while the server runs, formatted (to look for keys)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self._lock_lines = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # pragma: no cover - a bad record is not ours to fix
            text = str(record.msg)
        extra = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _PLAIN)
        with self._lock_lines:
            self.lines.append(f"{record.name} {text} {extra}")


_PLAIN = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


@dataclass
class Tenant:
    name: str
    token: str
    portfolio: str = ""
    plan: str = ""
    job: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Served:
    """The running service: its base URL, the app, two tenants, the log tap."""

    url: str
    app: Any
    log: LogTap
    tenants: dict[str, Tenant] = field(default_factory=dict)

    def new_key(self, tenant: str, role: Any = "planner") -> tuple[str, str]:
        """(key id, token) of a new key of ``tenant``."""
        with self.app.state.db.sessions() as session:
            row, token = Keys(session).create(tenant, role)
        return row.id, token

    def revoke(self, tenant: str, key_id: str) -> None:
        with self.app.state.db.sessions() as session:
            Keys(session).revoke(tenant, key_id)

    def wait_job(self, tenant: Tenant, job_id: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        job: dict[str, Any] = {}
        with httpx.Client(base_url=self.url, headers=tenant.headers, timeout=10) as client:
            while time.monotonic() < deadline:
                job = client.get(f"/v1/jobs/{job_id}").json()
                if job["status"] in ("done", "failed", "cancelled"):
                    return job
                time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not finish in {timeout}s: {job}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The service on 127.0.0.1 (a free port), with tenants ``a`` (a stored example portfolio,
    no plan yet) and ``b`` (a portfolio with a solved plan, to be refused to ``a``)."""
    import uvicorn

    url = f"sqlite:///{tmp_path_factory.mktemp('browser')}/dashboard.sqlite"
    settings = settings_for(url, default_time_limit=2.0, max_time_limit=5.0)
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="info", lifespan="on")
    # every record, the access lines included, goes to the tap (uvicorn's do not propagate)
    tap = LogTap()
    tapped = [logging.getLogger(n) for n in ("", "uvicorn", "uvicorn.access", "allocator_api")]
    service_log = logging.getLogger("allocator_api")
    level = service_log.level
    service_log.setLevel(logging.DEBUG)
    for logger in tapped:
        logger.addHandler(tap)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        assert server.started, "the server did not start in 30 s"
        port = server.servers[0].sockets[0].getsockname()[1]
        out = Served(url=f"http://127.0.0.1:{port}", app=app, log=tap)
        for name in ("a", "b"):
            tenant = f"browser-{name}"
            out.tenants[name] = Tenant(tenant, out.new_key(tenant)[1])
        a, b = out.tenants["a"], out.tenants["b"]
        with httpx.Client(base_url=out.url, timeout=30) as client:
            r = client.post("/v1/portfolios", json=example_portfolio(), headers=a.headers)
            assert r.status_code == 201, r.text
            a.portfolio = r.json()["id"]
            secret = {**example_portfolio(), "name": "tenant-b-secret-portfolio"}
            r = client.post("/v1/portfolios", json=secret, headers=b.headers)
            assert r.status_code == 201, r.text
            b.portfolio = r.json()["id"]
            r = client.post(
                f"/v1/portfolios/{b.portfolio}/solve", json={"time_limit": 2}, headers=b.headers
            )
            assert r.status_code == 202, r.text
            b.job = r.json()["job_id"]
        b.plan = out.wait_job(b, b.job)["plan_id"]
        yield out
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        for logger in tapped:
            logger.removeHandler(tap)
        service_log.setLevel(level)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright."""
    problem = browser_problem()
    if problem is not None:
        if os.environ.get("ALLOCATOR_ALLOW_NO_BROWSER") == "1":
            pytest.skip(f"{problem} (ALLOCATOR_ALLOW_NO_BROWSER=1)")
        pytest.fail(f"{problem}; set ALLOCATOR_ALLOW_NO_BROWSER=1 to skip the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
