"""Who is calling: a bearer token or the session cookie turned into a `Principal`, with a small cache.

Every API request, websocket event and SSE stream asks this; asking PostgreSQL each time would add a
round trip to every cached product read. So each process keeps the answers for a short while
(`credential_cache_ttl_s`), and drops them all the moment any process revokes a session or token,
disables a user or changes a role (LISTEN `credential_changes`, migration 0004). While that listener
is down the cache is off, so a revocation is never missed.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from inventory_app.domain.errors import NotAuthenticated
from inventory_app.domain.identity import Principal
from inventory_app.services import identity
from inventory_app.settings import get_settings

MAX_ENTRIES = 10_000
SESSION_COOKIE = "inventory_session"


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    valid_until: datetime  # the credential's own expiry (absolute, or idle for a session)
    cached_until: float  # time.monotonic()


class CredentialCache:
    def __init__(self) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.active = False
        self.generation = 0

    def activate(self) -> None:
        self.clear()
        self.active = True

    def deactivate(self) -> None:
        self.active = False
        self.clear()

    def clear(self) -> None:
        self._entries.clear()
        self.generation += 1  # a lookup that started before the change must not store its answer

    def get(self, key: str) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if time.monotonic() >= entry.cached_until or datetime.now(UTC) >= entry.valid_until:
            self._entries.pop(key, None)
            return None
        return entry.principal

    def put(self, key: str, checked: identity.Checked, generation: int) -> None:
        ttl = get_settings().credential_cache_ttl_s
        if not self.active or ttl <= 0 or generation != self.generation:
            return
        self._entries[key] = _Entry(checked.principal, checked.valid_until, time.monotonic() + ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)


_cache = CredentialCache()
# The process that ends a credential forgets its cached answers at once (others hear NOTIFY within a second).
identity.on_credentials_changed(_cache.clear)


def get_credential_cache() -> CredentialCache:
    return _cache


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
    hit = _cache.get(key)
    if hit is not None:
        return hit
    generation = _cache.generation
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
    _cache.put(key, checked, generation)
    return checked.principal
