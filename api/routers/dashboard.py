"""The dashboard (``/ui/``) and the interactive API docs (``/docs``), both served with their
assets by the service: nothing is loaded from a CDN.

The dashboard is one static page and one script (``api/static/``): it holds no data and needs
no key to load; everything it shows comes from the JSON API (``/v1``) with the key the user
signs in with, kept in the tab's ``sessionStorage`` (never in a URL, a cookie or a log). So the
routes here serve files only, and the business stays in the library and the ``/v1`` routes.

``/docs`` is Swagger UI from the ``swagger-ui-bundle-v2`` wheel; it and ``/openapi.json`` are
public unless ``Settings.public_docs`` is off (then both answer 404 / need a key).
"""

from __future__ import annotations

import importlib
import logging
from importlib import resources
from importlib.resources.abc import Traversable

from fastapi import APIRouter, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse

from allocator_api.deps import SettingsDep
from allocator_api.errors import not_found

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

#: what the dashboard page may load and run: its own script and style sheet, calls to this
#: service, and the report shown in a frame from a ``srcdoc`` (which inherits this policy: the
#: report's inline styles and data: images need ``'unsafe-inline'`` styles and ``data:``)
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

#: the dashboard's files (name -> media type); nothing else under /ui/static is served
STATIC_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
#: Swagger UI's files served under /docs/assets
DOCS_FILES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
#: assets change with the installed package only: let browsers keep them for an hour
ASSET_CACHE = "public, max-age=3600"


def _static_dir() -> Traversable:
    return resources.files("allocator_api") / "static"


def _swagger_dir() -> Traversable:
    # swagger-ui-bundle-v2 installs the module ``swagger_ui_bundle`` (Swagger UI 5, which reads
    # OpenAPI 3.1); it ships no type information, hence the import by name
    path: Traversable = importlib.import_module("swagger_ui_bundle").swagger_ui_path
    return path


def _file(directory: Traversable, name: str, media_type: str) -> Response:
    data = (directory / name).read_bytes()
    return Response(data, media_type=media_type, headers={"Cache-Control": ASSET_CACHE})


@router.get("/ui", include_in_schema=False)
def dashboard_root() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/ui/", include_in_schema=False)
def dashboard() -> HTMLResponse:
    """The dashboard page (no data in it: the script fetches everything with the user's key)."""
    html = (_static_dir() / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(
        html,
        headers={"Content-Security-Policy": DASHBOARD_CSP, "Cache-Control": "no-cache"},
    )


@router.get("/ui/static/{name}", include_in_schema=False)
def dashboard_asset(name: str) -> Response:
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise not_found("file")
    return _file(_static_dir(), name, media_type)


@router.get("/docs", include_in_schema=False)
def docs(settings: SettingsDep) -> HTMLResponse:
    """Swagger UI over ``/openapi.json``, its script and style sheet served from here."""
    if not settings.public_docs:
        raise not_found("page")
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="allocator API",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon-32x32.png",
        # no call to the public validator service (nothing leaves the service's origin)
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/docs/assets/{name}", include_in_schema=False)
def docs_asset(name: str, settings: SettingsDep) -> Response:
    media_type = DOCS_FILES.get(name)
    if media_type is None or not settings.public_docs:
        raise not_found("file")
    return _file(_swagger_dir(), name, media_type)
