"""The ASGI application granian serves: Reflex's, with most REST API requests handed straight to the API app.

Reflex wraps the app it builds in one more Starlette app: error and CORS middleware, Reflex's context
middleware and a router with a single mount; our FastAPI app (with Reflex's own routes mounted inside it,
see `mount_ui`) sits under that. For an `/api` request that outer layer does nothing the API app does not
do itself (its own error handlers, its own routing) except CORS, and CORS only acts on a request that
carries an `Origin` header. Yet the layer was a large share of an uncached read's CPU on two cores
(bench/NOTES.md, issue #14). So an `/api` HTTP request without `Origin` (scripts, `curl`, same-origin
reads) goes to the API app directly, with the `Vary: Origin` CORS would have added; every other request
(pages, the websocket, uploads, any request with `Origin`) and the lifespan go through Reflex's whole app,
unchanged.

`python -m inventory_app.serve` points granian here (see serve.py); `reflex run` in dev mode does not.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inventory_app.api.fallback import API_PREFIX

TARGET = f"{__name__}:application"
VARY_ORIGIN = (b"vary", b"Origin")


def mount_ui(api: ASGIApp, reflex_asgi: ASGIApp) -> ASGIApp:
    """Reflex's `api_transformer`: its routes and pages mounted under the API app, taken after the API's own.

    A callable rather than the FastAPI app itself, so Reflex does not add a second CORS middleware to the
    API app (its outer app has one already)."""
    api.mount("", reflex_asgi)  # type: ignore[attr-defined]
    return api


def is_api_request(scope: Scope) -> bool:
    path = scope.get("path", "")
    return scope["type"] == "http" and (path == API_PREFIX or path.startswith(API_PREFIX + "/"))


def has_origin(scope: Scope) -> bool:
    return any(name == b"origin" for name, _ in scope["headers"])


def application() -> ASGIApp:
    """granian's factory (called once per worker)."""
    from inventory_app.inventory_app import api, app

    reflex_asgi = app()  # compiles and builds Reflex's whole app, as granian would have

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api_request(scope) or has_origin(scope):
            await reflex_asgi(scope, receive, send)
            return

        async def send_with_vary(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), VARY_ORIGIN]
            await send(message)

        app._set_contexts_internal()  # what Reflex's context middleware does for every request
        await api(scope, receive, send_with_vary)

    return serve
