"""The gate every request passes first: who is calling, may they come in, and from which origin.

It runs before routing and before the read cache (a cached product is still only for signed-in
callers), and in front of Reflex's own endpoints too: the websocket (`/_event`), uploads
(`/_upload`) and the frontend's files. It decides only what can be decided from the request line
and headers — authentication, cross-origin writes, uploads before their body is read; each use case
checks the caller's role itself (`Principal.require`), whichever entry point it was called from.
"""

from __future__ import annotations

import logging

import psycopg
import psycopg_pool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from inventory_app.api.errors import WWW_AUTHENTICATE, problem, uri_path
from inventory_app.domain.errors import NotAuthenticated
from inventory_app.domain.identity import Principal, Role
from inventory_app.services.credentials import authenticate, bearer_token, session_from_cookie_header
from inventory_app.settings import allowed_origins, get_settings

log = logging.getLogger("inventory_app.auth")
PRINCIPAL = "inventory.principal"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Open to everyone: liveness, the contract and its docs (Swagger UI's files included), signing in.
OPEN_PATHS = frozenset({"/api/health", "/api/openapi.json", "/api/docs", "/ping", "/_health"})
OPEN_PREFIXES = ("/api/docs/",)
SIGN_IN = "/api/auth/session"
READINESS = "/api/ready"
# The benchmarks' baseline, mounted only with BENCH_ROUTES_ENABLED: open like the readiness probe
# (anonymous callers pass, credentials sent are still checked), so `make bench` can time reads against
# an open constant route and see what the gate adds to the same route with a token.
BENCH_CONSTANT = "/bench/constant"
PROTECTED_PREFIXES = ("/api/", "/bench/")
UPLOAD = "/_upload"


def principal_of(scope: Scope) -> Principal | None:
    return scope.get(PRINCIPAL)


def anonymous_allowed(path: str) -> bool:
    """Paths that authenticate credentials when sent but also let anonymous callers through."""
    return path == READINESS or (path == BENCH_CONSTANT and get_settings().bench_routes_enabled)


def refused_origin(headers: Headers) -> str | None:
    """The foreign origin of a browser request from another site, or None when it may proceed.

    Browsers send `Origin` on every cross-origin write and on websocket handshakes; a request without
    it is not a cross-site browser request, unless Fetch metadata says it is.
    """
    origin = headers.get("origin")
    if origin is not None:
        return None if origin.rstrip("/") in allowed_origins(get_settings()) else origin
    if headers.get("sec-fetch-site") == "cross-site":
        return "another site"
    return None


class AuthGate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            # Reflex's event socket: a page from another site must not drive a signed-in user's UI.
            if refused_origin(Headers(scope=scope)) is not None:
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        headers = Headers(scope=scope)
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        if path == SIGN_IN and method == "POST":
            # Login CSRF: another site must not sign a browser in (to an account of its choosing).
            if (origin := refused_origin(headers)) is not None:
                await _cross_origin(origin, scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        is_upload = path == UPLOAD or path.startswith(UPLOAD + "/")
        if is_upload and method != "POST":
            # Reflex would serve the upload folder here; nothing of ours is ever meant to be read back.
            await problem(404, "http-error", "Not found", f"No route {path}.", instance=uri_path(path))(
                scope, receive, send
            )
            return
        protected = path.startswith(PROTECTED_PREFIXES) or path == "/metrics" or is_upload
        if not protected and path != READINESS:
            await self.app(scope, receive, send)  # the frontend's pages and files
            return
        try:
            principal = await authenticate(
                bearer=bearer_token(headers.get("authorization")),
                session=session_from_cookie_header(headers.get("cookie")),
            )
        except NotAuthenticated as error:
            await _unauthorized(error.detail, scope, receive, send)
            return
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as error:
            log.warning("cannot check credentials, database unavailable: %s", str(error).splitlines()[0])
            response = problem(
                503,
                "service-unavailable",
                "Service unavailable",
                "The database is unavailable; retry shortly.",
                instance=uri_path(path),
                headers={"Retry-After": "2"},
            )
            await response(scope, receive, send)
            return
        if principal is None:
            if anonymous_allowed(path):
                await self.app(scope, receive, send)
                return
            await _unauthorized(
                "Sign in, or send an API token as 'Authorization: Bearer <token>'.", scope, receive, send
            )
            return
        if principal.via == "session" and method in UNSAFE_METHODS and (origin := refused_origin(headers)):
            await _cross_origin(origin, scope, receive, send)
            return
        if path == "/metrics" and principal.via == "session" and not principal.can(Role.ADMIN):
            await _forbidden("Metrics need an admin's session or an API token.", scope, receive, send)
            return
        if is_upload:
            # Checked before Reflex reads the body: a viewer's (or a stranger's) upload is never spooled.
            if principal.via != "session":
                await _forbidden("Uploads come from the app's pages, signed in.", scope, receive, send)
                return
            if not principal.can(Role.EDITOR):
                await _forbidden(
                    f"Your role ({principal.role}) may not do this; it needs editor.", scope, receive, send
                )
                return
        scope[PRINCIPAL] = principal
        await self.app(scope, receive, send)


async def _unauthorized(detail: str, scope: Scope, receive: Receive, send: Send) -> None:
    response = problem(
        401,
        "unauthorized",
        "Authentication required",
        detail,
        instance=uri_path(scope["path"]),
        headers=WWW_AUTHENTICATE,
    )
    await response(scope, receive, send)


async def _forbidden(detail: str, scope: Scope, receive: Receive, send: Send) -> None:
    await problem(403, "forbidden", "Forbidden", detail, instance=uri_path(scope["path"]))(scope, receive, send)


async def _cross_origin(origin: str, scope: Scope, receive: Receive, send: Send) -> None:
    response = problem(
        403,
        "cross-origin-refused",
        "Cross-origin request refused",
        f"Requests authenticated by the session cookie must come from an allowed origin, not {origin}.",
        instance=uri_path(scope["path"]),
    )
    await response(scope, receive, send)
