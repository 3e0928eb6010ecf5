"""The unit of work: one transaction per use case, recording each change with its outbox events.

Services see only the `UnitOfWork` protocol: lock what they change, check a SKU, replay or remember an
idempotency key, and `record` the domain's changes. `PostgresUnitOfWork` does it on a pooled psycopg
connection; the unit tests' fake (tests/unit/fakes.py) does it in memory, so the change rules and the
use cases are tested without a database. `bootstrap.py` picks the one a process uses.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from inventory_app.adapters import idempotency_store, location_store, product_store
from inventory_app.adapters.commit_notices import CommitNotices
from inventory_app.domain.changes import Change, Place, ProductState, StockLevel
from inventory_app.domain.identity import Actor
from inventory_app.domain.locations import Location
from inventory_app.services.idempotency import StoredResponse, check_key, replay_or_refuse
from inventory_app.services.read_cache import ReadCache
from schemas.registry import validate_event


class UnitOfWork(Protocol):
    actor: Actor

    async def lock(self, product_id: uuid.UUID) -> ProductState | None:
        """The product, locked until the unit ends: concurrent changes to it queue behind this one."""

    async def lock_by_skus(self, skus: list[str]) -> list[ProductState]:
        """The products with these SKUs, locked in a fixed order (two imports never deadlock)."""

    async def sku_taken(self, sku: str, except_id: uuid.UUID | None = None) -> bool: ...

    async def lock_stock(
        self, product_id: uuid.UUID, named: Iterable[uuid.UUID] = ()
    ) -> tuple[list[StockLevel], dict[uuid.UUID, Place]]:
        """The product's stock per place, and the places a change may touch (the default, those `named`,
        those holding it), kept from being deactivated or deleted until the unit ends."""

    async def locations(self) -> list[Location]:
        """Every location (the tree, for paths)."""

    async def lock_stock_levels(self, product_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[StockLevel]]:
        """The stock per place of products this unit has locked (a product holding nothing is absent), the
        places holding them kept as `lock_stock` keeps them: one call for many products (the CSV import)."""

    async def replay(self, scope: str, key: str, body_hash: str) -> StoredResponse | None:
        """The stored answer to this key (requests with one key queue here), None if it is new."""

    async def remember(self, scope: str, key: str, body_hash: str, status: int, body: dict[str, Any]) -> None: ...

    async def record(self, *changes: Change) -> None:
        """Stage the changes' rows, ledger rows and events; all are written when the unit commits, or none."""


UnitOfWorkFactory = Callable[[Actor], AbstractAsyncContextManager[UnitOfWork]]


def validate_events(changes: tuple[Change, ...]) -> None:
    """Every event against its contract before anything is written: an event outside its schema raises,
    the transaction rolls back, and a row never commits without its event (nor an event without its row)."""
    for change in changes:
        for event in change.events:
            validate_event(event)


def changed_products(changes: tuple[Change, ...]) -> set[str]:
    """The products whose row or stock the changes write (and their events name): what caches must forget."""
    ids = {event["subject"] for change in changes for event in change.events}
    for change in changes:
        product = change.after or change.before
        if product is not None and change.after != change.before:
            ids.add(str(product.id))
        ids.update(str(level.product_id) for level in change.levels)
    return ids


class PostgresUnitOfWork:
    """One transaction on a pooled psycopg connection, acting for `actor`."""

    def __init__(self, conn: AsyncConnection, actor: Actor, idempotency_ttl_s: int) -> None:
        self.conn = conn
        self.actor = actor
        self.changed: set[str] = set()
        self.wrote_events = False
        self._idempotency_ttl_s = idempotency_ttl_s

    async def lock(self, product_id: uuid.UUID) -> ProductState | None:
        return await product_store.lock_product(self.conn, product_id)

    async def lock_by_skus(self, skus: list[str]) -> list[ProductState]:
        return await product_store.lock_by_skus(self.conn, skus)

    async def sku_taken(self, sku: str, except_id: uuid.UUID | None = None) -> bool:
        return await product_store.sku_taken(self.conn, sku, except_id)

    async def lock_stock(
        self, product_id: uuid.UUID, named: Iterable[uuid.UUID] = ()
    ) -> tuple[list[StockLevel], dict[uuid.UUID, Place]]:
        return await location_store.lock_stock(self.conn, product_id, named)

    async def locations(self) -> list[Location]:
        return await location_store.fetch_all(self.conn)

    async def lock_stock_levels(self, product_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[StockLevel]]:
        return await location_store.lock_stock_levels(self.conn, product_ids)

    async def replay(self, scope: str, key: str, body_hash: str) -> StoredResponse | None:
        check_key(key)
        stored = await idempotency_store.lock_and_read(self.conn, scope, key)
        return None if stored is None else replay_or_refuse(stored, body_hash)

    async def remember(self, scope: str, key: str, body_hash: str, status: int, body: dict[str, Any]) -> None:
        await idempotency_store.insert(self.conn, scope, key, body_hash, status, body, self._idempotency_ttl_s)

    async def record(self, *changes: Change) -> None:
        validate_events(changes)
        await product_store.write_changes(self.conn, list(changes), self.actor.to_json())
        self.changed |= changed_products(changes)
        self.wrote_events = self.wrote_events or any(change.events for change in changes)


def postgres_unit_of_work(
    pool: Callable[[], Awaitable[AsyncConnectionPool]],
    read_cache: ReadCache,
    idempotency_ttl_s: int,
    notices: CommitNotices,
) -> UnitOfWorkFactory:
    """Units of work on the running loop's pool: begin; the use case locks, applies and records; commit;
    then this process's read cache forgets what changed, and the commit is announced to the others (and
    to the relay) before the use case returns."""

    @asynccontextmanager
    async def unit_of_work(actor: Actor) -> AsyncIterator[UnitOfWork]:
        unit: PostgresUnitOfWork | None = None
        notices.unit_began()
        try:
            try:
                async with (await pool()).connection() as conn, conn.transaction():
                    unit = PostgresUnitOfWork(conn, actor, idempotency_ttl_s)
                    yield unit
            finally:
                notices.unit_ended()
        except BaseException:
            # A failed or cancelled COMMIT may still have committed: forgetting and announcing too much is
            # harmless, missing a committed change is not. Staged changes of a rolled-back unit land here too.
            if unit is not None and unit.changed:
                read_cache.invalidate(unit.changed)
                notices.announce_soon(unit.changed, events=unit.wrote_events)
            raise
        assert unit is not None  # the transaction committed, so the unit was made
        if unit.changed:
            read_cache.invalidate(unit.changed)
        await notices.committed(unit.changed, events=unit.wrote_events)

    return unit_of_work
