"""``/v1/plans``: one plan version with its metadata."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from allocator_api.deps import PlansDep, PortfoliosDep, Viewer
from allocator_api.errors import error_responses, not_found
from allocator_api.repository import plan_body_of
from allocator_api.schemas import PlanOut
from allocator_api.service import read_plan_body, stored_portfolio

router = APIRouter(prefix="/v1/plans", tags=["plans"])


@router.get(
    "/{plan_id}",
    operation_id="get_plan",
    response_model=PlanOut,
    responses=error_responses(401, 404),
    summary="A plan version: its metadata and the plan in contract JSON",
)
def get_plan(plan_id: str, _: Viewer, plans: PlansDep) -> PlanOut:
    row = plans.get(plan_id)
    if row is None:
        raise not_found("plan")
    return PlanOut.of(row)


#: the report is a self-contained page: inline styles and SVG, no script (shown as it is when
#: opened directly; the dashboard shows it in a sandboxed frame)
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
ERROR_OUT_REF = "#/components/schemas/ErrorOut"


def _json_errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """:func:`error_responses` for a route that answers HTML: its errors are still JSON (the
    error model), which FastAPI would otherwise document under the route's media type."""
    out = error_responses(*codes)
    for entry in out.values():
        entry.pop("model")
        entry["content"] = {"application/json": {"schema": {"$ref": ERROR_OUT_REF}}}
    return out


@router.get(
    "/{plan_id}/report",
    operation_id="get_plan_report",
    response_class=HTMLResponse,
    responses={
        200: {
            "content": {"text/html": {"schema": {"type": "string"}}},
            "description": "the report, one self-contained HTML page",
        },
        **_json_errors(401, 404, 409),
    },
    summary="The plan's one-page report for leadership (self-contained HTML; "
    "allocator.report), figured against the portfolio as stored now",
)
def get_plan_report(
    plan_id: str, _: Viewer, plans: PlansDep, portfolios: PortfoliosDep
) -> HTMLResponse:
    from allocator.report import report_html  # pandas and the analytics: loaded when used

    row = plans.get(plan_id)
    if row is None:
        raise not_found("plan")
    stored = portfolios.get(row.portfolio_id)
    if stored is None:
        raise not_found("portfolio")
    portfolio = stored_portfolio(stored.body)
    html = report_html(portfolio, read_plan_body(plan_body_of(row)))
    return HTMLResponse(html, headers={"Content-Security-Policy": REPORT_CSP})
