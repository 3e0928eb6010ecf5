"""Who is calling: a bearer token or the session cookie turned into a `Principal`, with a small cache.

Every API request, websocket event and SSE stream asks this; asking PostgreSQL each time would add a
round trip to every cached product read. So each process keeps the answers for a short while
(`credential_cache_ttl_s`), and drops them all the moment any process revokes a session or token,
disables a user or changes a role (LISTEN `credential_changes`, migration 0004). While that listener
is down the cache is off, so a revocation is never missed.
"""

from __future__ import annotations

import asyncio

from inventory_app.bootstrap import wiring
from inventory_app.domain.errors import NotAuthenticated
from inventory_app.domain.identity import Principal
from inventory_app.services import identity

SESSION_COOKIE = "inventory_session"


def bearer_token(authorization: str | None) -> str | None:
    """The token of `Authorization: Bearer <token>`; '' when the header is there but not a bearer token."""
    if authorization is None:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def session_from_cookie_header(cookie_header: str | None) -> str | None:
    if not cookie_header:
        return None
    for part in cookie_header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return value.strip('"')
    return None


async def authenticate(*, bearer: str | None, session: str | None) -> Principal | None:
    """The caller, or None when no credentials were sent. Sent but invalid ones raise NotAuthenticated.

    A bearer token wins over the cookie (the contract's rule), so a script's token is never
    overridden by a browser session it happens to carry.
    """
    if bearer is not None:
        principal = await _cached(f"t:{bearer}", identity.check_api_token, bearer)
        if principal is None:
            raise NotAuthenticated("The API token is not valid (unknown, expired or revoked).")
        return principal
    if session is not None:
        principal = await _cached(f"s:{session}", identity.check_session, session)
        if principal is None:
            raise NotAuthenticated("Your session has ended (signed out, expired or revoked); sign in again.")
        return principal
    return None


# Lookups in flight, by key: when a credential's cache entry lapses, the thousand requests (or SSE
# reconnects) that carry it in the next instant share one database lookup instead of queueing a thousand
# for the connection pool (`make bench` saw 2,000 stream opens with one token get 503 that way).
_in_flight: dict[str, tuple[int, asyncio.Future[identity.Checked | None]]] = {}


def _forget_lookup(key: str, done: asyncio.Future) -> None:
    if _in_flight.get(key, (0, None))[1] is done:
        del _in_flight[key]


async def _cached(key_secret: str, check, secret: str) -> Principal | None:
    # Keyed by a hash, so the cache never holds a usable secret.
    key = identity.hash_secret(key_secret)
    cache = wiring().credential_cache
    hit = cache.get(key)
    if hit is not None:
        return hit
    generation = cache.generation
    shared = _in_flight.get(key)
    # A lookup from before a change is not shared, nor one of another event loop (tests run several).
    if shared is not None and shared[0] == generation and shared[1].get_loop() is asyncio.get_running_loop():
        pending = shared[1]
    else:
        pending = asyncio.ensure_future(check(secret))
        _in_flight[key] = (generation, pending)
        pending.add_done_callback(lambda done, key=key: _forget_lookup(key, done))
    # Shielded: one waiter giving up (a client that went away) must not cancel the lookup for the others.
    checked = await asyncio.shield(pending)
    if checked is None:
        return None
    cache.put(key, checked, generation)
    return checked.principal
