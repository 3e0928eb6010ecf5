"""The one place a process's parts are made and joined (cosmicpython's `bootstrap.py` is the model).

`bootstrap()` builds the settings, the read and credential caches and the unit-of-work factory on the
running loop's connection pool, and returns them as one `Wiring`; services, routes, middleware and UI
handlers take their parts from it instead of making their own. Tests build their own wiring: the unit
tests pass a fake unit of work (tests/unit/fakes.py), so the use cases run without PostgreSQL.

A process has one current wiring, made on first use (the app, the relay, the CLI each start one);
`install` replaces it for a test.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from inventory_app.adapters.commit_notices import CommitNotices
from inventory_app.adapters.notification_hub import NotificationHub
from inventory_app.adapters.pg_pool import get_pool, notice_connection
from inventory_app.services import identity
from inventory_app.services.credential_cache import CredentialCache
from inventory_app.services.read_cache import ReadCache
from inventory_app.services.unit_of_work import UnitOfWorkFactory, postgres_unit_of_work
from inventory_app.settings import Settings, get_settings


@dataclass
class Wiring:
    settings: Settings
    # The running event loop's connection pool (one per loop, so one per server worker process).
    pool: Callable[[], Awaitable[AsyncConnectionPool]]
    read_cache: ReadCache
    credential_cache: CredentialCache
    unit_of_work: UnitOfWorkFactory
    # Announces this process's commits to the others and to the relay (its sender runs in the app's lifespan).
    commit_notices: CommitNotices
    # The process's notifications consumer, set while the app's lifespan runs it (None elsewhere).
    hub: NotificationHub | None = None


def bootstrap(
    settings: Settings | None = None,
    *,
    unit_of_work: UnitOfWorkFactory | None = None,
    read_cache: ReadCache | None = None,
    credential_cache: CredentialCache | None = None,
    commit_notices: CommitNotices | None = None,
) -> Wiring:
    settings = settings or get_settings()
    read_cache = read_cache or ReadCache(max_bytes=settings.read_cache_max_bytes, enabled=settings.read_cache_enabled)
    credential_cache = credential_cache or CredentialCache(ttl_s=settings.credential_cache_ttl_s)
    # The process that ends a credential forgets its cached answers at once (others hear NOTIFY within a second).
    identity.on_credentials_changed(credential_cache.clear)
    commit_notices = commit_notices or CommitNotices(
        get_pool, functools.partial(notice_connection, settings), settings.commit_notice_interval_s
    )
    return Wiring(
        settings=settings,
        pool=get_pool,
        read_cache=read_cache,
        credential_cache=credential_cache,
        unit_of_work=unit_of_work
        or postgres_unit_of_work(get_pool, read_cache, settings.idempotency_ttl_s, commit_notices),
        commit_notices=commit_notices,
    )


_current: Wiring | None = None


def wiring() -> Wiring:
    """The process's wiring, made on first use."""
    global _current
    if _current is None:
        _current = bootstrap()
    return _current


def install(new: Wiring | None) -> Wiring | None:
    """Make `new` the process's wiring (None: the next use bootstraps afresh); returns the one it replaced."""
    global _current
    previous, _current = _current, new
    return previous
