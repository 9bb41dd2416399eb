"""What one request costs the server process, counted rather than timed (issue 16, load): the
hand-overs to the thread pool (each wakes a thread and goes through the event loop; a portfolio
read made seven) and no dependency override (with any set, FastAPI rebuilds every dependency's
signature on every request). The latencies themselves are measured by ``benchmarks/load.py``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import key_headers, new_tenant


@pytest.fixture
def hand_overs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the functions the app hands to the thread pool, in order."""
    seen: list[str] = []
    real = anyio.to_thread.run_sync

    async def counting(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(func, "__name__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return seen


def test_a_portfolio_read_and_write_use_few_thread_hand_overs(
    client: TestClient, ok_small: dict[str, Any], hand_overs: list[str]
) -> None:
    """A read: the key's lookup, the route, the session's close; a replacement and a list: the
    same and the check of the answer against its model (a read made 8 before). The
    dependencies that do no I/O (settings, role check, repositories, paging) run on the event
    loop, and a portfolio read's stored body is answered as is (no response model to check)."""
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    pid = client.post("/v1/portfolios", json=ok_small, headers=h).json()["id"]

    hand_overs.clear()
    r = client.get(f"/v1/portfolios/{pid}", headers=h)
    assert r.status_code == 200 and r.json()["people"] == ok_small["people"]
    assert r.headers["X-Portfolio-Revision"] == "1"
    assert len(hand_overs) == 3, hand_overs

    hand_overs.clear()
    r = client.put(f"/v1/portfolios/{pid}", json=ok_small, headers=h)
    assert r.status_code == 200 and r.json()["revision"] == 2
    assert len(hand_overs) == 4, hand_overs  # and the answer's model check

    hand_overs.clear()
    r = client.get("/v1/portfolios?limit=1", headers=h)
    assert r.status_code == 200 and r.json()["limit"] == 1
    assert len(hand_overs) == 4, hand_overs  # and the answer's model check


def test_the_app_takes_its_settings_without_dependency_overrides(
    make_client: Any, ok_small: dict[str, Any]
) -> None:
    """``create_app(settings)``'s routes read that app's settings (here a page size of 1), and
    the app sets no dependency override."""
    client = make_client(page_size_default=1)
    assert client.app.dependency_overrides == {}
    h = key_headers(client.app, new_tenant(), "planner")
    for _ in range(2):
        assert client.post("/v1/portfolios", json=ok_small, headers=h).status_code == 201
    page = client.get("/v1/portfolios", headers=h).json()
    assert page["limit"] == 1 and len(page["items"]) == 1 and page["total"] == 2
