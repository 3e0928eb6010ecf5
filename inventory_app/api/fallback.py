"""Unknown `/api/...` paths and wrong methods get problem+json, not the UI's HTML 404 page.

Reflex mounts its frontend at "" inside the API app, after the API's own routes, so without this a request
the API does not route would fall through to the UI. These catch-all routes come last among the API's own
(before that mount): a request reaches them only when no API route fully matched it, so the known routes are
matched once per request, by the router, instead of once more in a middleware in front of it (that second
pass showed in the #14 profiles). Then they tell a wrong method (405 with `Allow`) from an unknown path (404).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route

from inventory_app.api.errors import problem

API_PREFIX = "/api"
CATCH_ALL_PATHS = (API_PREFIX, API_PREFIX + "/{rest:path}")
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def catch_all_routes(routes: list[BaseRoute]) -> list[Route]:
    """Routes for every `/api` path and method, answering for what `routes` (the API's own) do not take."""

    async def not_routed(request: Request) -> Response:
        path = request.scope["path"]
        allowed: set[str] = set()
        for route in routes:
            match, _ = route.matches(request.scope)
            if match == Match.PARTIAL:  # the path is known, the method is not
                allowed |= set(getattr(route, "methods", None) or ())
        if allowed:
            return problem(
                405,
                "http-error",
                "Method not allowed",
                f"{request.method} is not allowed on {path}.",
                instance=path,
                headers={"Allow": ", ".join(sorted(allowed))},
            )
        return problem(404, "http-error", "Not found", f"No API route {path}.", instance=path)

    return [Route(path, not_routed, methods=METHODS, include_in_schema=False) for path in CATCH_ALL_PATHS]
