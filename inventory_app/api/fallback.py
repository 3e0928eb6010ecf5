"""Unknown `/api/...` paths and wrong methods get problem+json, not the UI's HTML 404 page.

Reflex mounts its frontend at "" inside the API app, so without this a request the API does not
route falls through to the UI. The check runs before routing and leaves every known route alone.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from inventory_app.api.errors import problem

API_PREFIX = "/api"


class ApiFallbackMiddleware:
    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        allowed: set[str] = set()
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                await self.app(scope, receive, send)
                return
            if match == Match.PARTIAL:
                allowed |= set(getattr(route, "methods", None) or ())
        if allowed:
            response = problem(
                405,
                "http-error",
                "Method not allowed",
                f"{scope['method']} is not allowed on {path}.",
                instance=path,
                headers={"Allow": ", ".join(sorted(allowed))},
            )
        else:
            response = problem(404, "http-error", "Not found", f"No API route {path}.", instance=path)
        await response(scope, receive, send)
