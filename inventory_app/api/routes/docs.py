"""Serves the hand-written contract (openapi/openapi.yaml) as JSON and renders it with local Swagger UI."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import fastapi_offline
import yaml
from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from inventory_app.api.errors import ProblemError

router = APIRouter(prefix="/api", tags=["docs"])
CONTRACT = Path(__file__).resolve().parents[3] / "openapi" / "openapi.yaml"
SWAGGER_STATIC = Path(fastapi_offline.__file__).parent / "static"
SWAGGER_FILES = {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}


@lru_cache(maxsize=1)
def load_contract() -> dict[str, Any]:
    with CONTRACT.open() as handle:
        return yaml.safe_load(handle)


@router.get("/openapi.json")
async def openapi_json() -> JSONResponse:
    return JSONResponse(load_contract())


@router.get("/docs")
async def api_docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/api/openapi.json",
        title="Inventory API",
        swagger_js_url="/api/docs/static/swagger-ui-bundle.js",
        swagger_css_url="/api/docs/static/swagger-ui.css",
        swagger_favicon_url="/api/docs/static/favicon.png",
        # "Authorize" takes a bearer token (the contract declares bearerAuth); keep it across reloads of
        # the page (Swagger UI stores it in this origin's localStorage) so a pasted token is not retyped.
        swagger_ui_parameters={"persistAuthorization": True},
    )


@router.get("/docs/static/{name}", include_in_schema=False)
async def swagger_asset(name: str) -> FileResponse:
    if name not in SWAGGER_FILES:
        raise ProblemError(404, "not-found", "Not found", f"No documentation asset {name!r}.")
    return FileResponse(SWAGGER_STATIC / name)
