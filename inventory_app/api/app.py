"""The FastAPI application mounted in the Reflex app: routers, error mapping, metrics."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from inventory_app.api.auth_gate import UPLOAD, AuthGate
from inventory_app.api.body_limit import BodyLimitMiddleware
from inventory_app.api.cached_reads import CachedReadsMiddleware
from inventory_app.api.errors import install_error_handlers
from inventory_app.api.fallback import catch_all_routes
from inventory_app.api.routes import (
    analytics,
    auth,
    bench,
    docs,
    events,
    health,
    locations,
    metrics,
    notifications,
    products,
    stock,
    tokens,
    users,
)
from inventory_app.settings import get_settings

NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_api() -> FastAPI:
    # The served contract is openapi/openapi.yaml (hand-written), so FastAPI's generated one is off.
    api = FastAPI(
        title="Inventory API",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # FastAPI's native OpenTelemetry asks the global tracer, meter and logger providers on every request
        # whether anyone configured them (~17 µs a request, with none configured); the app's figures are on
        # /metrics (Prometheus), so it is off rather than asked each time (bench/NOTES.md, fifth pass).
        telemetry=NO_TELEMETRY,
    )
    install_error_handlers(api)
    routers = [health, docs, products, stock, locations, events, analytics, notifications, metrics, auth, tokens, users]
    if get_settings().bench_routes_enabled:
        routers.append(bench)
    for module in routers:
        # The routers' routes go straight into the app's route list (their paths already carry the prefix),
        # not through include_router(): FastAPI's included-router nodes are matched lazily, route by route,
        # which cost a noticeable share of every request's CPU (bench/NOTES.md, #14). Nothing here relies
        # on what include_router() adds (include-time prefixes, dependencies or callbacks).
        api.router.routes.extend(module.router.routes)
    # Last of the API's own routes, before Reflex mounts its frontend at "": 404/405 problems for /api.
    api.router.routes.extend(catch_all_routes(list(api.router.routes)))
    api.add_middleware(CachedReadsMiddleware)
    # Both import entry points, counted before any multipart parser spools the body (after the gate:
    # an anonymous upload is refused before a byte of it is read).
    api.add_middleware(
        BodyLimitMiddleware,
        paths=frozenset({products.IMPORT_PATH, UPLOAD}),
        max_file_bytes=get_settings().import_max_bytes,
    )
    # Added last, so it runs first: before the read cache, the API's routes and Reflex's endpoints.
    api.add_middleware(AuthGate)
    return api
