"""Cached product reads answered before routing, like a reverse-proxy cache in front of the API.

A hit on `GET /api/products/{id}` or `GET /api/products?...` is a dictionary lookup; going through
FastAPI's routing and query-parameter validation first cost about a third of such a request (py-spy,
bench/profiles). Only responses the routes produced and stored are ever served from here, under the
exact request target they answered, so validation and errors stay the routes' business; misses and
every other request pass straight through.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from inventory_app.bootstrap import wiring
from inventory_app.services.read_cache import CachedResponse

PRODUCTS = "/api/products"
PRODUCT_PREFIX = PRODUCTS + "/"


class CachedReadsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            hit = _lookup(scope["path"], scope["query_string"])
            if hit is not None:
                await _send(hit, send)
                return
        await self.app(scope, receive, send)


def _lookup(path: str, query: bytes) -> CachedResponse | None:
    cache = wiring().read_cache
    if path == PRODUCTS:
        return cache.get_list(query)
    if path.startswith(PRODUCT_PREFIX) and not query and "/" not in path[len(PRODUCT_PREFIX) :]:
        return cache.get_product(path[len(PRODUCT_PREFIX) :])
    return None


async def _send(hit: CachedResponse, send: Send) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(hit.body)).encode()),
        (b"x-cache", b"hit"),  # so clients, tests and operators can tell a cached answer
    ]
    if hit.etag:
        headers.append((b"etag", hit.etag.encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": hit.body})
